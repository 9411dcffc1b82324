"""A campaign in the "Tuning jobs" sidebar (real JupyterLab 4, headless Chromium): its jobs listed together under
one group named after it, in campaign order, with the status and summary ``attach_campaign(name).summary()`` gives;
stopping and resuming it from the group's header.

The campaign is launched with the CLI (``jupyter hpo campaign SPEC SPEC --detach``) into the lab's own store; its
trials wait for a gate file, so the test sees it running first, then opens the gate and sees it completed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.campaign import attach_campaign
from jupyter_hpo.store import Store
from tests.conftest import wait_for
from tests.ui.conftest import ARTIFACTS, Lab
from tests.ui.test_sidebar import SIDEBAR, _launch, _open_sidebar, _spec, browser, store  # noqa: F401

GATED = '''
import time
from pathlib import Path

def f(params):
    """Waits until the test creates ``campaign-gate`` next to this file, then scores x (best at 0.3)."""
    while not (Path(__file__).parent / "campaign-gate").exists():
        time.sleep(0.05)
    return 1 - (params["x"] - 0.3) ** 2
'''
SPACE = {"x": {"type": "float", "low": 0, "high": 1}}


def _launch_campaign(lab: Lab, name: str, specs: list[dict]) -> None:
    paths = []
    for spec in specs:
        path = lab.root / f"{spec['name']}.yaml"
        path.write_text(json.dumps(spec))  # JSON is YAML
        paths.append(str(path))
    env = {**os.environ, "JUPYTER_HPO_HOME": str(lab.home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run([str(jupyter), "hpo", "campaign", *paths, "--name", name, "--detach"], cwd=lab.root,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _value(v: float) -> str:
    """A value as the sidebar shows it (4 significant digits)."""
    return f"{v:.4g}"


def _seconds(s: float) -> str:
    """Seconds as the sidebar shows them (2 decimals below 10 s)."""
    return f"{s:.2f}" if s < 10 else f"{s:.1f}"


def test_a_campaign_is_one_group_with_its_jobs_in_order_and_its_summary(lab: Lab, page: Page, store: Store) -> None:
    (lab.root / "campaign_objective.py").write_text(GATED)
    _launch(lab, _spec("plain-beside", "campaign_objective.py:f", SPACE, budget={"max_trials": 1}), {})
    budget = {"max_trials": 3, "max_parallel": 1}
    _launch_campaign(lab, "nightly", [_spec("nightly-a", "campaign_objective.py:f", SPACE, budget=budget, seed=1),
                                      _spec("nightly-b", "campaign_objective.py:f", SPACE, budget=budget, seed=2)])
    group = page.locator(f'{SIDEBAR} [data-testid=hpo-campaign][data-campaign="nightly"]')
    rows = group.locator("li.jp-hpo-job")

    # running: one group, unfolded, its two jobs in campaign order; the plain job outside it
    _open_sidebar(page, lab)
    expect(group).to_have_count(1, timeout=30_000)  # one group (the shared lab may list other tests' campaigns)
    expect(group.locator("[data-testid=hpo-campaign-name]")).to_have_text("nightly")
    expect(group.locator("[data-testid=hpo-campaign-status]")).to_have_text("running")
    expect(group.locator("[data-testid=hpo-campaign-toggle]")).to_have_attribute("aria-expanded", "true")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("els => els.map(e => e.dataset.job)") == ["nightly-a", "nightly-b"]
    expect(group.locator("[data-testid=hpo-campaign-summary]")).to_contain_text("jobs 0/2")
    expect(page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="plain-beside"]')).to_have_count(1)
    expect(page.locator(f'{SIDEBAR} [data-testid=hpo-campaign] li.jp-hpo-job[data-job="plain-beside"]')).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sidebar-campaign-running.png"))

    # the gate opens: the campaign completes, and the group says what the Python API says
    (lab.root / "campaign-gate").write_text("")
    campaign = attach_campaign("nightly", store)
    assert campaign.wait(timeout=180) == "completed"
    summary = campaign.summary()
    assert [j["name"] for j in summary["jobs"]] == ["nightly-a", "nightly-b"] and summary["trials"] == 6
    warm, cold = summary["warm_starts"], summary["cold_starts"]
    share = int(summary["warm_share"] * 100 + 0.5)  # Math.round
    best = summary["best"]
    expect(group.locator("[data-testid=hpo-campaign-status]")).to_have_text("completed", timeout=30_000)
    facts = group.locator("[data-testid=hpo-campaign-summary]")
    expect(facts).to_contain_text("jobs 2/2", timeout=30_000)
    expect(facts).to_contain_text(f"trials {summary['trials']}")
    expect(facts).to_contain_text(f"warm {share}% ({warm}/{warm + cold})")
    assert warm and cold, summary  # the second job ran on the first one's workers
    expect(facts).to_contain_text(f"saved {_seconds(summary['startup_saved_s'])} s")
    expect(group.locator("[data-testid=hpo-campaign-best]")).to_have_text(
        f"best score ↑ {_value(best['value'])}: {best['job']}, trial {best['number']}")
    expect(group.locator("[data-testid=hpo-campaign-toggle]")).to_have_attribute("aria-expanded", "true")
    page.screenshot(path=str(ARTIFACTS / "sidebar-campaign-completed.png"))

    # folding hides its jobs, unfolding shows them again; a job opens from the group
    group.locator("[data-testid=hpo-campaign-toggle]").click()
    expect(rows).to_have_count(0)
    group.locator("[data-testid=hpo-campaign-toggle]").click()
    expect(rows).to_have_count(2)
    rows.nth(1).click()
    expect(page.locator(f"{SIDEBAR} .jp-hpo-detail-name")).to_have_text("nightly-b")
    page.locator(f"{SIDEBAR} .jp-hpo-back").click()
    expect(rows).to_have_count(2)  # still unfolded after the detail

    # a completed campaign is folded when the sidebar first lists it
    _open_sidebar(page, lab)
    expect(group.locator("[data-testid=hpo-campaign-toggle]")).to_have_attribute("aria-expanded", "false",
                                                                                 timeout=30_000)
    expect(rows).to_have_count(0)
    expect(group.locator("[data-testid=hpo-campaign-summary]")).to_contain_text("jobs 2/2")
    group.locator("[data-testid=hpo-campaign-toggle]").click()
    assert rows.evaluate_all("els => els.map(e => e.dataset.job)") == ["nightly-a", "nightly-b"]
    assert not page.console_errors, page.console_errors


def test_the_mine_filter_applies_to_a_campaign_s_jobs(lab: Lab, page: Page, store: Store) -> None:
    """Another user's job of a campaign leaves the group with Mine on; the summary still covers the whole campaign
    (the server summarizes a campaign as one unit)."""
    (lab.root / "campaign-gate").write_text("")
    (lab.root / "campaign_objective.py").write_text(GATED)
    budget = {"max_trials": 2, "max_parallel": 1}
    _launch_campaign(lab, "shared", [_spec("shared-mine", "campaign_objective.py:f", SPACE, budget=budget),
                                     _spec("shared-alices", "campaign_objective.py:f", SPACE, budget=budget)])
    assert attach_campaign("shared", store).wait(timeout=180) == "completed"
    store.set_job_attrs("shared-alices", owner={"user": "alice", "host": "alices-laptop", "jupyter": None,
                                                "studio": None})
    group = page.locator(f'{SIDEBAR} [data-testid=hpo-campaign][data-campaign="shared"]')
    _open_sidebar(page, lab)
    group.locator("[data-testid=hpo-campaign-toggle]").click()
    expect(group.locator("li.jp-hpo-job")).to_have_count(2, timeout=30_000)
    expect(group.locator("[data-testid=hpo-campaign-summary]")).to_contain_text("jobs 2/2 · trials 4")
    page.locator(f"{SIDEBAR} [data-testid=hpo-show-mine]").click()
    expect(group.locator("li.jp-hpo-job")).to_have_count(1)
    expect(group.locator('li.jp-hpo-job[data-job="shared-mine"]')).to_have_count(1)
    expect(group.locator("[data-testid=hpo-campaign-summary]")).to_contain_text("jobs 2/2 · trials 4")
    page.locator(f"{SIDEBAR} [data-testid=hpo-show-all]").click()
    expect(group.locator("li.jp-hpo-job")).to_have_count(2)
    assert not page.console_errors, page.console_errors


def test_stop_and_resume_a_campaign_from_its_group(lab: Lab, page: Page, store: Store) -> None:
    (lab.root / "halt_objective.py").write_text(GATED.replace("campaign-gate", "halt-gate"))
    budget = {"max_trials": 2, "max_parallel": 1}
    _launch_campaign(lab, "halted", [_spec("halted-a", "halt_objective.py:f", SPACE, budget=budget),
                                     _spec("halted-b", "halt_objective.py:f", SPACE, budget=budget)])
    posted: list[tuple[str, str | None]] = []
    page.on("request", lambda r: posted.append((r.url, r.post_data)) if r.method == "POST" else None)
    group = page.locator(f'{SIDEBAR} [data-testid=hpo-campaign][data-campaign="halted"]')
    status = group.locator("[data-testid=hpo-campaign-status]")
    stop, resume = (group.locator(f"[data-testid=hpo-campaign-{a}]") for a in ("stop", "resume"))
    _open_sidebar(page, lab)
    expect(status).to_have_text("running", timeout=30_000)
    expect(stop).to_be_enabled()
    expect(resume).to_be_disabled()

    # Stop asks first; cancelling sends nothing
    stop.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Stop campaign")
    expect(dialog).to_contain_text('Stop the campaign "halted"?')
    dialog.locator("button.jp-mod-reject").click()
    expect(dialog).to_be_hidden()
    assert not [p for p in posted if "/campaigns/" in p[0]], "cancelled: nothing was sent"

    # confirmed: the whole campaign stops, the job not started yet too
    stop.click()
    dialog.locator("button.jp-mod-accept").click()
    expect(status).to_have_text("stopped", timeout=60_000)
    assert attach_campaign("halted", store).wait(timeout=60) == "stopped"
    assert "stopped with its campaign before it started" in api.attach("halted-b", store).attrs["reason"]
    assert [p for p in posted if re.search(r"/jupyter-hpo/api/campaigns/halted/stop(\?\d+)?$", p[0])] != []
    expect(group.locator('li.jp-hpo-job[data-job="halted-b"] [data-testid=hpo-job-status]')).to_have_text("stopped")
    expect(stop).to_be_disabled()
    expect(resume).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "sidebar-campaign-stopped.png"))

    # Resume: its jobs run again, to the end once the gate opens
    (lab.root / "halt-gate").write_text("")
    resume.click()
    expect(dialog).to_contain_text('Resume the campaign "halted"?')
    dialog.locator("button.jp-mod-accept").click()
    # the resume request is on its way: wait until it has taken effect before waiting for the end (else the
    # campaign, still stopped, would count as ended)
    wait_for(lambda: attach_campaign("halted", store).status != "stopped", timeout=60)
    assert attach_campaign("halted", store).wait(timeout=120) == "completed"
    expect(status).to_have_text("completed", timeout=30_000)
    expect(group.locator("[data-testid=hpo-campaign-summary]")).to_contain_text("jobs 2/2")
    assert [j["complete"] for j in attach_campaign("halted", store).summary()["jobs"]] == [2, 2]
    expect(group.locator(".jp-hpo-campaign-actions")).to_have_count(0)  # nothing left to stop or resume
    assert not page.console_errors, page.console_errors
