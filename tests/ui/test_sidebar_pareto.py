"""The Pareto front in the sidebar's job detail (real JupyterLab 4, headless Chromium): for a job with two
objectives, a scatter of every complete trial with the front's trials marked and joined, and the front's trials
listed with their objective values, as ``job.pareto()`` and the trial records give them; a job with one
objective shows none of it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, Lab
from tests.ui.test_sidebar import SIDEBAR, _launch, _open_sidebar, _spec, browser, store  # noqa: F401

OBJECTIVE = '''
def f(params):
    """The larger x, the better the AUC and the longer the training; y only costs time (y=1 is dominated)."""
    return {"auc": params["x"], "train_s": params["x"] ** 2 + params["y"], "size_mb": 3.0}
'''
SPACE = {"x": {"type": "float", "low": 0, "high": 1, "step": 0.5}, "y": [0, 1]}
TWO = [{"metric": "auc", "direction": "maximize"}, {"metric": "train_s", "direction": "minimize"}]


def _value(v: float) -> str:
    """A value as the sidebar shows it (4 significant digits)."""
    return f"{v:.4g}"


def test_the_job_detail_shows_the_pareto_front_of_a_job_with_two_objectives(lab: Lab, page: Page,
                                                                            store: Store) -> None:
    _launch(lab, _spec("pareto-ui", "pareto_objective.py:f", SPACE, objective=TWO, strategy="grid",
                       budget={"max_trials": 6}), {"pareto_objective.py": OBJECTIVE})
    _launch(lab, _spec("single-ui", "pareto_objective.py:one", SPACE, budget={"max_trials": 2}),
            {"pareto_objective.py": OBJECTIVE + "\n\ndef one(params):\n    return params['x']\n"})
    job, single = api.attach("pareto-ui", store), api.attach("single-ui", store)
    assert job.wait(timeout=120) == JobStatus.COMPLETED and single.wait(timeout=120) == JobStatus.COMPLETED
    front = [int(n) for n in job.pareto().index]
    records = {r["number"]: r for r in job.trial_records()}
    assert len(records) == 6 and sorted(front) == sorted(n for n, r in records.items() if r["params"]["y"] == 0)

    _open_sidebar(page, lab)
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="pareto-ui"]').click()
    section = page.locator(f"{SIDEBAR} [data-testid=hpo-pareto]")
    chart = section.locator("[data-testid=hpo-pareto-chart]")
    expect(chart.locator("circle")).to_have_count(6, timeout=30_000)
    marked = chart.locator('circle[data-front="true"]')
    expect(marked).to_have_count(len(front))
    assert sorted(int(n) for n in marked.evaluate_all("els => els.map(e => e.dataset.number)")) == sorted(front)
    expect(chart.locator("path.jp-hpo-front-line")).to_have_count(1)
    expect(chart.locator("[data-testid=hpo-pareto-x]")).to_have_text("→ auc (maximize)")
    expect(chart.locator("[data-testid=hpo-pareto-y]")).to_have_text("↑ train_s (minimize)")
    # the larger auc, the further right
    cx = dict(marked.evaluate_all("els => els.map(e => [Number(e.dataset.number), Number(e.getAttribute('cx'))])"))
    assert sorted(front, key=cx.get) == sorted(front, key=lambda n: records[n]["value"])

    # the front's trials, from the best auc down, with both objectives' values as the records hold them
    by_auc = sorted(front, key=lambda n: -records[n]["value"])
    expect(section.locator("[data-testid=hpo-pareto-list] li")).to_have_text(
        [f"trial {n}: auc {_value(records[n]['value'])}, train_s {_value(records[n]['metrics']['train_s'])}"
         for n in by_auc])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sidebar-pareto.png"))

    # one objective: no Pareto section, the best-so-far chart as before
    page.locator(f"{SIDEBAR} .jp-hpo-back").click()
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="single-ui"]').click()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-best-chart]")).to_be_visible(timeout=30_000)
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-pareto]")).to_have_count(0)
    assert not page.console_errors, page.console_errors
