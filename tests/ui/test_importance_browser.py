"""Parameter importance in the sidebar's job detail (real JupyterLab 4, headless Chromium): each parameter's share,
largest first, and the note on what it rests on, as ``GET jobs/{name}`` and ``jupyter hpo show`` give them; "not
yet", with how many of the 5 trials it needs the job has, for a job with fewer."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.test_importance_show import expected
from tests.ui.conftest import ARTIFACTS, Lab
from tests.ui.test_sidebar import SIDEBAR, _launch, _open_sidebar, _spec

OBJECTIVE = '''
def f(params):
    return params["x"] + 0.01 * params["noise"]
'''
LONG = "learning_rate_for_the_primary_gradient_boosting_stage"  # longer than the sidebar's column
SPACE = {"x": {"type": "float", "low": 0, "high": 1}, "noise": {"type": "int", "low": 0, "high": 12},
         LONG: {"type": "float", "low": 0, "high": 1}}


def test_the_sidebar_s_job_detail_shows_the_importance_and_its_note(lab: Lab, page: Page) -> None:
    store = Store(home=lab.home)
    _launch(lab, _spec("importance-ui", "importance_objective.py:f", SPACE, strategy="random", seed=2,
                       budget={"max_trials": 8}), {"importance_objective.py": OBJECTIVE})
    _launch(lab, _spec("importance-few", "importance_objective.py:f", SPACE, strategy="random", seed=2,
                       budget={"max_trials": 3}), {})
    job, few = api.attach("importance-ui", store), api.attach("importance-few", store)
    assert job.wait(timeout=120) == JobStatus.COMPLETED and few.wait(timeout=120) == JobStatus.COMPLETED
    found = expected(job, steps_are_folds=False)
    assert found.shares and found.note == "From 8 complete trials.", found

    _open_sidebar(page, lab)
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="importance-ui"]').click()
    shown = page.locator(f"{SIDEBAR} [data-testid=hpo-detail-importance]")
    expect(shown.locator("li")).to_have_text([f"{name} {share * 100:.1f}%" for name, share in found.shares.items()],
                                             timeout=30_000)
    expect(shown.locator(".jp-hpo-importance-note")).to_have_text(found.note)
    # one parameter a line, its share beside it: a long name is cut with an ellipsis (whole in the tooltip), where
    # a bulleted list broke it mid-word over three lines with the share after the pieces
    lines = shown.locator("li").evaluate_all("""items => items.map(li => {
        const name = li.querySelector('.jp-hpo-imp-name'), share = li.querySelector('.jp-hpo-imp-share');
        const a = name.getBoundingClientRect(), b = share.getBoundingClientRect();
        const line = parseFloat(getComputedStyle(name).lineHeight) || 16;
        const panel = document.querySelector('#jupyter-hpo-sidebar').getBoundingClientRect();
        return {param: li.dataset.param, title: li.title, oneLine: a.height < 1.6 * line,
                cut: name.scrollWidth > name.clientWidth,
                beside: Math.abs(a.top - b.top) < 2 && b.left >= a.right - 1,
                seen: b.right <= panel.right + 0.5 && b.width > 0}; })""")
    assert all(line["oneLine"] and line["beside"] and line["seen"] and line["title"] == line["param"]
               for line in lines), lines  # the share inside the panel: it was pushed past its edge
    assert [line["cut"] for line in lines if line["param"] == LONG] == [True], lines
    page.screenshot(path=str(ARTIFACTS / "sidebar-importance.png"))

    page.locator(f"{SIDEBAR} .jp-hpo-back").click()
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="importance-few"]').click()
    so_far = expected(few, steps_are_folds=False)
    assert not so_far.shares and so_far.complete + so_far.pruned == 3, so_far
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-detail-importance]")).to_have_text(
        f"not yet: {so_far.complete + so_far.pruned} of the 5 trials with a value or fold scores it needs",
        timeout=30_000)
    assert not page.console_errors, page.console_errors


GATED = '''
import os, time
from pathlib import Path

def f(params):
    """The first 3 trials run at once; the later ones wait until the test creates the file ``gate``."""
    here = Path(__file__).parent
    with open(here / "gated_calls", "a") as calls:
        calls.write("x\\n")
    if len((here / "gated_calls").read_text().split()) > 3:
        while not (here / "gate").exists():
            time.sleep(0.05)
    return params["x"] + 0.01 * params["noise"]
'''


def test_the_importance_appears_in_an_open_job_detail_as_trials_finish(lab: Lab, page: Page) -> None:
    _launch(lab, _spec("importance-live", "gated_objective.py:f", SPACE, strategy="random", seed=4,
                       budget={"max_trials": 6, "max_parallel": 1}), {"gated_objective.py": GATED})
    job = api.attach("importance-live", Store(home=lab.home))
    _open_sidebar(page, lab)
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="importance-live"]').click()
    shown = page.locator(f"{SIDEBAR} [data-testid=hpo-detail-importance]")
    expect(page.locator(f"{SIDEBAR} .jp-hpo-detail")).to_contain_text("3/6", timeout=60_000)
    expect(shown).to_have_text("not yet: 3 of the 5 trials with a value or fold scores it needs")
    (lab.root / "gate").write_text("")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    found = expected(job, steps_are_folds=False)
    expect(shown.locator("li")).to_have_text([f"{name} {share * 100:.1f}%" for name, share in found.shares.items()],
                                             timeout=30_000)
    expect(shown.locator(".jp-hpo-importance-note")).to_have_text("From 6 complete trials.")
    assert not page.console_errors, page.console_errors
