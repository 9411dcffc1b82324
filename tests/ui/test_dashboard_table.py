"""The dashboard's trial table in real JupyterLab 4 (headless Chromium) for a job with more trials than it shows.

The table shows at most 200 rows. Sorting must order every trial and then show the first 200, so a user who sorts
by the objective sees the best trials of the whole job, not the best of the latest 200.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from playwright.sync_api import Page, expect

from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import Store
from tests.ui.conftest import ARTIFACTS, Lab, notebook_url, run_all_cells, wait_kernel_idle
from tests.ui.test_dashboard_browser import new_notebook

SPACE = {"x": {"type": "float", "low": 0, "high": 1}}


def finished_job(lab: Lab, name: str, values: list[float], direction: str = "minimize",
                 extra: dict[str, Any] | None = None, attrs: dict[str, Any] | None = None) -> None:
    """A completed job ``name`` in the lab's store with a complete trial of each value (x = its value / 10,000),
    written straight into its study: hundreds of trials in a second, none of them run."""
    store = Store(home=lab.home)
    spec = TuningSpec.from_dict({"name": name, "trial": {"function": "tests.objectives:quadratic"}, "space": SPACE,
                                 "objective": {"metric": "loss", "direction": direction},
                                 "budget": {"max_trials": len(values)}, **(extra or {})})
    store.create_job(name, spec.to_dict(), direction)
    study = optuna.load_study(study_name=name, storage=store.storage)
    study.add_trials([create_trial(state=TrialState.COMPLETE, value=v, params={"x": v / 10_000},
                                   distributions={"x": FloatDistribution(0, 1)}) for v in values])
    store.set_job_attrs(name, status="completed", backend="local", ended=time.time(), **(attrs or {}))


def attach(lab: Lab, page: Page, name: str) -> Any:
    """Open a notebook that runs `%hpo attach name`; the dashboard, once it shows all the job's trials."""
    new_notebook(lab, f"{name}.ipynb", "%load_ext jupyter_hpo", f"%hpo attach {name}")
    # a workspace of its own: the default one, which other tests open, keeps no notebook of this test
    page.goto(notebook_url(lab, "lab", f"{name}.ipynb",
                           f"/lab/workspaces/hpo-{uuid.uuid4().hex[:8]}/tree/{name}.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    dash = page.locator(".jp-hpo-dashboard")
    expect(dash).to_be_visible(timeout=90_000)
    return dash


def test_sorting_by_the_objective_shows_the_best_trials_of_all_not_of_the_latest_200(lab: Lab, page: Page) -> None:
    # 300 trials, minimize: the best is trial 5, far from the latest 200; the rest get worse with their number
    values = [0.01 if n == 5 else 1 + n / 1000 for n in range(300)]
    finished_job(lab, "ui-table-sort", values)
    dash = attach(lab, page, "ui-table-sort")
    expect(dash.locator('[data-testid="hpo-trial-count"]')).to_contain_text("300/300", timeout=90_000)
    table = dash.locator('[data-testid="hpo-trial-table"]')
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(200)
    expect(rows.first).to_have_attribute("data-number", "299")  # the latest first
    expect(dash).to_contain_text("Showing the latest 200 of 300 trials.")

    table.locator("thead button.hpo-sort", has_text="loss").click()  # minimize: the best first
    expect(rows.first).to_have_attribute("data-number", "5")
    expect(rows.nth(1)).to_have_attribute("data-number", "0")
    expect(rows).to_have_count(200)
    expect(rows.last).to_have_attribute("data-number", "199")  # trial 5, then 0-4 and 6-199
    expect(dash).to_contain_text("Showing the first 200 of 300 trials in this order.")
    table.locator("thead button.hpo-sort", has_text="loss").click()  # reversed: the worst first, trial 5 left out
    expect(rows.first).to_have_attribute("data-number", "299")
    expect(table.locator('tr[data-number="5"]')).to_have_count(0)
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-table-sort.png"))
    assert not page.console_errors, page.console_errors
