"""The sidebar's job detail in a real JupyterLab and Chromium, for jobs a shared store may hold: one named by
another tool, one deleted while shown, one with hundreds of trials. Jobs are written straight into the lab's store.
"""

from __future__ import annotations

import json
import re
import time

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from playwright.sync_api import Page, expect

from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import Store
from tests.ui.conftest import ARTIFACTS, Lab, wait_kernel_idle
from tests.ui.test_sidebar import SIDEBAR, _open_sidebar


def _study(lab: Lab, name: str, values: list[float], status: str = "completed") -> None:
    """A job study called ``name``, whatever the name (as another tool sharing the store may make one), with a
    complete trial of each value."""
    store = Store(home=lab.home)
    spec = TuningSpec.from_dict({"name": "placeholder", "trial": {"function": "tests.objectives:quadratic"},
                                 "space": {"x": {"type": "float", "low": 0, "high": 1}},
                                 "objective": {"metric": "loss", "direction": "minimize"},
                                 "budget": {"max_trials": max(len(values), 1)}}).to_dict()
    study = optuna.create_study(study_name=name, storage=store.storage, direction="minimize")
    for key, value in {"spec": spec, "status": status, "backend": "local", "created": time.time(),
                       "ended": time.time()}.items():
        study.set_user_attr(key, value)
    study.add_trials([create_trial(state=TrialState.COMPLETE, value=v, params={"x": v / 10_000},
                                   distributions={"x": FloatDistribution(0, 1)}) for v in values])


def test_open_in_notebook_runs_no_code_from_a_study_name(lab: Lab, page: Page) -> None:
    pwned = lab.root / "pwned-by-a-study-name"
    name = f"x{{__import__('pathlib').Path({str(pwned)!r}).touch()}}"  # IPython would expand {...} after a magic
    _study(lab, name, [0.5, 0.25])
    _open_sidebar(page, lab)
    page.locator("li.jp-hpo-job").filter(has_text="__import__").click()
    expect(page.locator(f"{SIDEBAR} .jp-hpo-detail-name")).to_have_text(name, timeout=30_000)
    page.locator(f"{SIDEBAR} [data-testid=hpo-open-notebook]").click()
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
    expect(cell.locator(".jp-InputArea-editor")).to_contain_text("__import__", timeout=60_000)
    wait_kernel_idle(page)
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)  # it ran
    assert not pwned.exists(), "the study's name ran as code in the kernel"
    # no magic line to expand it in: the name is only inside a Python string literal
    expect(cell.locator(".jp-InputArea-editor .cm-line")).to_have_text([
        "# this job name has characters other than letters, digits and '-': %hpo attach cannot take it",
        "from IPython.display import display",
        "from jupyter_hpo.widgets import Dashboard",
        f"display(Dashboard({json.dumps(name)}))",
    ])
    dashboard = cell.locator(".jp-OutputArea .jp-hpo-dashboard")
    expect(dashboard).to_be_visible(timeout=60_000)  # the job's dashboard, attached by its name
    expect(dashboard.locator('[data-testid="hpo-trial-count"]')).to_contain_text("2/2", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "sidebar-open-in-notebook-odd-name.png"))
    assert not page.console_errors, page.console_errors


def test_a_job_deleted_while_shown_says_it_no_longer_exists(lab: Lab, page: Page) -> None:
    _study(lab, "ui-deleted", [0.5, 0.25], status="stopped")
    _open_sidebar(page, lab)
    page.locator('li.jp-hpo-job[data-job="ui-deleted"]').click()
    detail = page.locator(f'{SIDEBAR} .jp-hpo-detail[data-job="ui-deleted"]')
    expect(detail.locator("[data-testid=hpo-job-status]")).to_have_text("stopped", timeout=30_000)
    expect(detail.locator("[data-testid=hpo-resume]")).to_be_enabled()
    expect(detail.locator("[data-testid=hpo-detail-best]")).to_contain_text("trial 1")

    Store(home=lab.home).delete_job("ui-deleted")  # by another user, say, while this detail is open
    expect(detail.locator("[data-testid=hpo-detail-error]")).to_have_text(
        "Job ui-deleted no longer exists: it is gone from the job list.", timeout=30_000)
    # nothing of it shown as current, nothing to act on
    for testid in ("hpo-job-status", "hpo-detail-best", "hpo-stop", "hpo-resume", "hpo-open-notebook",
                   "hpo-trial-table"):
        expect(detail.locator(f"[data-testid={testid}]")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "sidebar-deleted-job.png"))
    assert not page.console_errors, page.console_errors


def test_the_trial_table_shows_the_latest_200_trials_and_the_best(lab: Lab, page: Page) -> None:
    # 300 trials, minimize: the best is trial 5, far from the latest 200
    _study(lab, "ui-many-trials", [0.01 if n == 5 else 1 + n / 1000 for n in range(300)])
    _open_sidebar(page, lab)
    page.locator('li.jp-hpo-job[data-job="ui-many-trials"]').click()
    rows = page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table] tbody tr.jp-hpo-trial")
    expect(rows).to_have_count(201, timeout=30_000)
    expect(rows.first).to_have_attribute("data-trial", "299")
    expect(rows.nth(199)).to_have_attribute("data-trial", "100")
    expect(rows.last).to_have_attribute("data-trial", "5")
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table-note]")).to_have_text(
        "Showing the latest 200 of 300 trials, and the best (trial 5).")
    page.screenshot(path=str(ARTIFACTS / "sidebar-many-trials.png"))
    assert not page.console_errors, page.console_errors
