"""The sidebar with a job whose trials produced non-finite numbers (issue 16 item 3), in a real JupyterLab.

A NaN fold score used to make ``GET .../trials`` answer 500, and the sidebar showed "No trials yet" for a
job with complete trials. Now the trials are listed, and each note says which number was non-finite.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, Lab
from tests.ui.test_sidebar import SIDEBAR, _launch, _open_sidebar, _spec

FOLDS = '''
from jupyter_hpo import trial

def f(params):
    cv = trial.folds(list(range(4)), k=2, stratified=False)
    for _ in cv:
        cv.report(float(params["fold"]))
    return 1.0
'''


def test_trials_with_non_finite_folds_are_listed_with_a_note(lab: Lab, page: Page) -> None:
    store = Store(home=lab.home)
    spec = _spec("nonfinite-folds", "nonfinite_objective.py:f", {"fold": ["nan", "inf"]}, strategy="grid",
                 budget={"max_trials": 2})
    _launch(lab, spec, {"nonfinite_objective.py": FOLDS})
    assert api.attach("nonfinite-folds", store).wait(timeout=90) == JobStatus.COMPLETED

    _open_sidebar(page, lab)
    page.locator('li.jp-hpo-job[data-job="nonfinite-folds"]').click()
    table = page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table]")
    expect(table.locator("tbody tr.jp-hpo-trial-complete")).to_have_count(2, timeout=30_000)
    expect(table).not_to_contain_text("No trials yet")
    for fold, note in (("nan", "fold_mean was NaN, fold_std was NaN"),
                       ("inf", "fold_mean was +inf, fold_std was NaN")):
        row = table.locator("tbody tr.jp-hpo-trial", has=page.locator(".jp-hpo-param", has_text=fold))
        expect(row.locator(".jp-hpo-note")).to_have_text(note)
    page.screenshot(path=str(ARTIFACTS / "sidebar-nonfinite.png"))
    assert page.console_errors == []
