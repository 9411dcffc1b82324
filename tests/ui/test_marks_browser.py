"""Seeded and infeasible trials, marked where a user looks, and the extra metrics trials return, as columns (real
JupyterLab 4, headless Chromium).

A job warm-started from an earlier one (``warm_start``) with a constraint that some of its trials break: the
sidebar's job detail says how many earlier trials seeded it and from which job, and marks each infeasible trial
(with what it broke) under a legend; the dashboard lists the seeded trials in its table and draws them left of
trial 0 (the best 20 when there are more), marks the infeasible trials in the table and the chart, and its legend
names both marks. Both tables have a column for each metric the trials returned beside the objective (``latency``,
``size_mb``).
"""

from __future__ import annotations

import nbformat
from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, Lab, notebook_url, run_all_cells, wait_kernel_idle
from tests.ui.test_sidebar import SIDEBAR, _launch, _open_sidebar, _spec

OBJECTIVE = '''
def f(params):
    return {"score": params["x"], "latency": params["x"], "size_mb": round(10 * params["x"], 3)}
'''
SPACE = {"x": {"type": "float", "low": 0, "high": 1}}


def _jobs(lab: Lab) -> tuple[list[dict], list[dict], api.Job]:
    """The earlier job (4 trials, no constraint), then the seeded one whose trials with latency > 0.5 are
    infeasible; returns the earlier job's trials, the seeded job's trials and the seeded job."""
    store = Store(home=lab.home)
    _launch(lab, _spec("marks-first", "marks_objective.py:f", SPACE, strategy="random", seed=1,
                       budget={"max_trials": 4}), {"marks_objective.py": OBJECTIVE})
    first = api.attach("marks-first", store)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    _launch(lab, _spec("marks-seeded", "marks_objective.py:f", SPACE, strategy="bayesian", seed=5,  # random: refused
                       budget={"max_trials": 6}, warm_start={"from": ["marks-first"]},
                       constraints={"latency": {"max": 0.5}}), {})
    job = api.attach("marks-seeded", store)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    return first.trial_records(), job.trial_records(), job


def _shown(v: float, digits: int) -> str:
    """A number as the tables print it (for values from 0.001 up): ``digits`` significant digits, no trailing zeros
    (the sidebar prints 4, the dashboard 5)."""
    return f"{float(f'{v:.{digits}g}'):g}"


def test_the_sidebar_and_the_dashboard_mark_seeded_and_infeasible_trials(lab: Lab, page: Page) -> None:
    earlier, records, job = _jobs(lab)
    infeasible = [r for r in records if r["feasible"] is False]
    assert all(r["metrics"]["latency"] >= 0.001 for r in records), "values the tables print without an exponent"
    assert job.summary()["seeded"] == len(earlier) == 4
    assert 0 < len(infeasible) < len(records), [(r["params"], r["feasible"]) for r in records]

    # the sidebar's job detail
    _open_sidebar(page, lab)
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="marks-seeded"]').click()
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-detail-seeded]")).to_contain_text(
        "4 trials from marks-first", timeout=30_000)
    table = page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table]")
    expect(table.locator("tbody tr.jp-hpo-trial")).to_have_count(len(records), timeout=30_000)
    marks = table.locator("[data-mark=infeasible]")
    expect(marks).to_have_count(len(infeasible))
    for r in infeasible:
        mark = table.locator(f'tr[data-trial="{r["number"]}"] [data-mark=infeasible]')
        expect(mark).to_have_text("infeasible")
        expect(mark).to_have_attribute("title", f"complete, but broke a constraint: never the best "
                                                f"(broke {r['violations'][0]})")
    expect(page.locator(f"{SIDEBAR} [data-testid=hpo-trial-legend]")).to_contain_text(
        "infeasible complete, but broke a constraint: never the best")
    expect(table.locator("thead th.jp-hpo-metric")).to_have_text(["latency", "size_mb"])
    for r in records:
        for m in ("latency", "size_mb"):
            cell = table.locator(f'tr[data-trial="{r["number"]}"] [data-metric={m}]')
            expect(cell).to_have_text(_shown(r["metrics"][m], 4))
    page.screenshot(path=str(ARTIFACTS / "sidebar-marks.png"))

    # the dashboard, attached in a notebook
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_hpo"), nbformat.v4.new_code_cell("%hpo attach marks-seeded")]
    nbformat.write(nb, lab.root / "marks.ipynb")
    page.goto(notebook_url(lab, "lab", "marks.ipynb", "/lab/tree/marks.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    dash = page.locator(".jp-hpo-dashboard")
    expect(dash).to_be_visible(timeout=90_000)
    table = dash.locator('[data-testid="hpo-trial-table"]')
    expect(table.locator("tbody tr.hpo-row-seeded")).to_have_count(4, timeout=60_000)
    for r in earlier:
        row = table.locator(f'tr[data-seeded="marks-first#{r["number"]}"]')
        expect(row).to_contain_text(f"marks-first #{r['number']}")
        expect(row.locator(".hpo-badge-seeded")).to_have_text("seeded")
    expect(dash).to_contain_text("The last 4 rows are earlier jobs' trials that seeded the sampler (warm_start), "
                                 "not this job's.")
    expect(table.locator(".hpo-badge-infeasible")).to_have_count(len(infeasible))
    for r in infeasible:
        badge = table.locator(f'tr[data-number="{r["number"]}"] .hpo-badge-infeasible')
        expect(badge).to_have_attribute("title", f"broke a constraint, so never the best: {r['violations'][0]}")
    chart = dash.locator('[data-testid="hpo-objective-chart"]')
    expect(chart.locator("path.hpo-seeded-mark")).to_have_count(4)
    expect(chart.locator("circle.hpo-dot-infeasible")).to_have_count(len(infeasible))
    expect(chart.locator("text.hpo-seeded-label")).to_have_text("seeded")
    legend = dash.locator('[data-testid="hpo-legend"]')
    expect(legend).to_contain_text("infeasible")
    expect(legend).to_contain_text("seeded (4 from earlier jobs)")
    # importance (issue 15): from the 5th trial, with what it rests on
    expect(dash.locator('[data-testid="hpo-importance-note"]')).to_have_text(
        f"From {sum(r['state'] == 'complete' for r in records)} complete trials.")
    headers = table.locator("thead th")
    for m in ("latency", "size_mb"):
        expect(headers.filter(has_text=m)).to_have_count(1)
    for r in records:  # the dashboard's row cells follow the header's order
        cells = table.locator(f'tr[data-number="{r["number"]}"] td')
        names = [h.strip() for h in headers.all_inner_texts()]
        for m in ("latency", "size_mb"):
            expect(cells.nth(names.index(m))).to_have_text(_shown(r["metrics"][m], 5))
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-marks.png"))
    assert not page.console_errors, page.console_errors


def test_the_dashboard_lists_and_draws_only_the_best_20_of_many_seeded_trials(lab: Lab, page: Page) -> None:
    """A warm start seeded by up to 2,000 earlier trials: the table and chart keep to the best 20, and say so."""
    from tests.ui.test_dashboard_table import attach, finished_job

    values = [float(n * 7 % 120) for n in range(120)]  # each of 0..119 once, in a jumbled order
    finished_job(lab, "marks-many-earlier", values)
    finished_job(lab, "marks-many-seeded", [50.5, 60.5, 70.5], extra={"warm_start": {"from": ["marks-many-earlier"]}},
                 attrs={"seeded": 120, "seeded_trials": {"marks-many-earlier": list(range(120))}})
    best = sorted(range(120), key=lambda n: values[n])[:20]  # minimize: values 0..19
    dash = attach(lab, page, "marks-many-seeded")
    table = dash.locator('[data-testid="hpo-trial-table"]')
    seeded = table.locator("tbody tr.hpo-row-seeded")
    expect(seeded).to_have_count(20, timeout=60_000)
    shown = seeded.evaluate_all("els => els.map(e => e.dataset.seeded)")
    assert shown == [f"marks-many-earlier#{n}" for n in best], shown  # best first
    expect(table.locator("tbody tr:not(.hpo-row-seeded)")).to_have_count(3)
    expect(dash).to_contain_text("The last 20 rows are the best 20 of the 120 earlier jobs' trials that seeded the "
                                 "sampler (warm_start), not this job's.")
    chart = dash.locator('[data-testid="hpo-objective-chart"]')
    expect(chart.locator("path.hpo-seeded-mark")).to_have_count(20)
    legend = dash.locator('[data-testid="hpo-legend"]')
    expect(legend).to_contain_text("seeded (120 from earlier jobs; the best 20 drawn)")
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-many-seeded.png"))
    assert not page.console_errors, page.console_errors
