"""Owners in the "Tuning jobs" sidebar, in a real JupyterLab and a real Chromium: each job's owner, the mine/all
toggle (remembered across a reload), and stopping another user's job through a confirmation naming its owner.

Two jobs are launched with the CLI into the lab's store, as in test_sidebar.py; the second one's owner is then
written into the store as alice on her laptop (what a launch from her home on the same store records).
"""

from __future__ import annotations

import json
import re
import socket

from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.owners import identity, owner_name
from jupyter_hpo.store import JobStatus, Store
from tests.conftest import wait_for
from tests.ui.conftest import ARTIFACTS, Lab
from tests.ui.test_sidebar import SIDEBAR, SLOW, _launch, _open_sidebar, _reveal_sidebar, _spec, browser, store  # noqa: F401

ALICE = {"user": "alice", "host": "alices-laptop", "jupyter": None, "studio": None}
SPACE = {"x": {"type": "float", "low": 0, "high": 1}, "kind": ["plain"]}


def _row(page: Page, name: str):
    return page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="{name}"]')


def test_owner_column_mine_toggle_and_stopping_another_users_job(lab: Lab, page: Page, store: Store) -> None:
    budget = {"max_trials": 200, "max_parallel": 1}
    _launch(lab, _spec("own-sweep", "slow.py:f", SPACE, budget=budget), {"slow.py": SLOW})
    _launch(lab, _spec("alices-sweep", "slow.py:f", SPACE, budget=budget), {"slow.py": SLOW})
    store.set_job_attrs("alices-sweep", owner=ALICE)
    me = identity()
    mine_label = f"{owner_name(me)}@{socket.gethostname()}"
    posted: list[tuple[str, str | None]] = []
    page.on("request", lambda r: posted.append((r.url, r.post_data)) if r.method == "POST" else None)

    # every job shows its owner; the toggle starts on "All"
    _open_sidebar(page, lab)
    expect(_row(page, "alices-sweep").locator("[data-testid=hpo-job-owner]")).to_have_text(
        "alice@alices-laptop", timeout=30_000)
    expect(_row(page, "own-sweep").locator("[data-testid=hpo-job-owner]")).to_have_text(mine_label)
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-me]")).to_have_text(f"you: {mine_label}")
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-show-all]")).to_have_attribute("aria-pressed", "true")

    # Mine: alice's job goes, mine stays; remembered when the page is loaded again
    page.locator(f"{SIDEBAR} [data-testid=hpo-show-mine]").click()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-show-mine]")).to_have_attribute("aria-pressed", "true")
    expect(_row(page, "alices-sweep")).to_have_count(0)
    expect(_row(page, "own-sweep")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sidebar-owners-mine.png"))
    page.reload()
    _reveal_sidebar(page)
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-show-mine]")).to_have_attribute("aria-pressed", "true",
                                                                                      timeout=30_000)
    expect(_row(page, "own-sweep")).to_be_visible(timeout=30_000)
    expect(_row(page, "alices-sweep")).to_have_count(0)

    # All again: both jobs
    page.locator(f"{SIDEBAR} [data-testid=hpo-show-all]").click()
    expect(_row(page, "alices-sweep")).to_be_visible()
    expect(_row(page, "own-sweep")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "sidebar-owners-all.png"))

    # Stop alice's job: the dialog names her; cancelling does nothing
    wait_for(lambda: api.attach("alices-sweep", store).status == JobStatus.RUNNING, timeout=60)
    _row(page, "alices-sweep").click()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-detail-owner]")).to_have_text("alice@alices-laptop")
    stop = page.locator(f"{SIDEBAR} [data-testid=hpo-stop]")
    expect(stop).to_be_enabled(timeout=30_000)
    stop.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Stop alice's job")
    expect(dialog).to_contain_text(
        'The tuning job "alices-sweep" belongs to alice (launched on alices-laptop), not to you.')
    page.screenshot(path=str(ARTIFACTS / "sidebar-owners-confirm.png"))
    dialog.locator("button.jp-mod-reject").click()
    expect(dialog).to_be_hidden()
    assert not [p for p in posted if "/stop" in p[0]], "cancelled: nothing was sent"

    # confirmed: sent with force, the job stops, and the store records who stopped it (through Jupyter)
    stop.click()
    dialog.locator("button.jp-mod-accept").click()
    status = page.locator(f"{SIDEBAR} .jp-hpo-detail [data-testid=hpo-job-status]")
    expect(status).to_have_text("stopped", timeout=60_000)
    stops = [p for p in posted if re.search(r"/jupyter-hpo/api/jobs/alices-sweep/stop(\?\d+)?$", p[0])]
    assert [json.loads(body) for _, body in stops] == [{"force": True}]
    attrs = api.attach("alices-sweep", store).attrs
    assert attrs["owner"] == ALICE, "the owner stays alice"
    assert attrs["stopped_by"]["via"] == "rest" and attrs["stopped_by"]["user"] == me["user"]
    assert attrs["stopped_by"]["host"] == socket.gethostname()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-detail-stopped-by]")).to_contain_text(
        re.compile(rf"^{re.escape(mine_label)}, .* \(through Jupyter\)$"))
    assert api.attach("own-sweep", store).status == JobStatus.RUNNING, "my own job was not touched"
    page.screenshot(path=str(ARTIFACTS / "sidebar-owners-stopped.png"))
    assert page.console_errors == []


def test_a_refusal_by_the_server_setting_is_shown(lab: Lab, page: Page, store: Store) -> None:
    """The lab's server allows acting on others' jobs, so the refusal a server with
    ``allow_acting_on_others_jobs = False`` answers (its text as test_server_owners.py checks it) is routed in."""
    _launch(lab, _spec("alices-done", "slow.py:f", SPACE, budget={"max_trials": 1}), {"slow.py": SLOW})
    assert api.attach("alices-done", store).wait(timeout=90) == JobStatus.COMPLETED
    bob = {"user": "bob", "host": "bobs-laptop", "jupyter": None, "studio": None, "time": 1.7e9, "via": "rest"}
    store.set_job_attrs("alices-done", owner=ALICE, status="stopped", reason="stopped", resumed_by=bob)
    refusal = ("this server does not let anyone resume another user's job (HpoExtension.allow_acting_on_others_jobs "
               "is False): job 'alices-done' belongs to alice (launched on alices-laptop).")
    bodies: list[str | None] = []

    def refuse(route) -> None:
        bodies.append(route.request.post_data)
        route.fulfill(status=403, content_type="application/json", body=json.dumps({"reason": refusal}))

    page.route(re.compile(r"/jupyter-hpo/api/jobs/alices-done/resume(\?\d+)?$"), refuse)  # ?N: a cache-buster
    _open_sidebar(page, lab)
    _row(page, "alices-done").click()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-detail-resumed-by]")).to_have_text(
        re.compile(r"^bob@bobs-laptop, .*2023.* \(through Jupyter\)$"), timeout=30_000)
    resume = page.locator(f"{SIDEBAR} [data-testid=hpo-resume]")
    expect(resume).to_be_enabled(timeout=30_000)
    resume.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Resume alice's job")
    dialog.locator("button.jp-mod-accept").click()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-action-error]")).to_have_text(refusal, timeout=30_000)
    assert [json.loads(b) for b in bodies] == [{"force": True}]
    assert api.attach("alices-done", store).status == JobStatus.STOPPED
    assert page.console_errors == []
