"""Several objectives in the live dashboard (JupyterLab 4 and Notebook 7, Chromium): a scatter of the first two
objectives, each complete trial a dot, the Pareto front's trials marked and joined."""

from __future__ import annotations

import nbformat
from playwright.sync_api import expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, notebook_url, run_all_cells, wait_kernel_idle

SETUP = """%load_ext jupyter_hpo
import jupyter_hpo as hpo

def objective(p):
    return {"auc": p["x"], "train_s": p["x"] ** 2 + p["y"]}  # y only costs time: y=1 trials are dominated"""
LAUNCH = """job = hpo.launch(objective=objective, space={{"x": {{"type": "float", "low": 0, "high": 1, "step": 0.5}},
                 "y": [0, 1]}}, objectives=[{{"metric": "auc", "direction": "maximize"}},
                 {{"metric": "train_s", "direction": "minimize"}}], strategy="grid", max_trials=6, name="{name}")
job.wait(timeout=120)"""


def test_the_dashboard_draws_the_pareto_front_of_a_multi_objective_job(lab, page, front_end):
    name = f"ui-pareto-{front_end}"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, LAUNCH.format(name=name), f"%hpo attach {name}")]
    nbformat.write(nb, lab.root / f"{name}.ipynb")
    page.goto(notebook_url(lab, front_end, f"{name}.ipynb", f"/lab/tree/{name}.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    expect(page.locator('[data-testid="hpo-trial-count"]').first).to_contain_text("6/6", timeout=120_000)
    job = api.attach(name, Store(home=lab.home))
    assert job.status == JobStatus.COMPLETED
    front = job.summary()["pareto"]
    x_of = {r["number"]: r["params"]["x"] for r in job.trial_records() if r["params"]["y"] == 0}
    assert sorted(front) == sorted(x_of) and len(front) == 3  # the y=0 trials, whatever order the grid ran them in
    chart = page.locator('[data-testid="hpo-pareto-chart"]').first
    expect(chart).to_be_visible()
    expect(chart.locator("circle.hpo-dot")).to_have_count(6, timeout=30_000)
    marked = chart.locator('circle[data-front="true"]')
    expect(marked).to_have_count(3)
    assert sorted(int(n) for n in marked.evaluate_all("els => els.map(e => e.dataset.number)")) == sorted(front)
    expect(chart.locator("path.hpo-front-line")).to_have_count(1)
    # the front's dots are further right (auc) the larger x is, as the trials' values say
    cx = {int(n): float(v) for n, v in marked.evaluate_all("els => els.map(e => [e.dataset.number, e.getAttribute('cx')])")}
    assert sorted(front, key=cx.get) == sorted(front, key=x_of.get)
    expect(chart).to_contain_text("auc (maximize)")
    expect(chart).to_contain_text("train_s (minimize)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-pareto-{front_end}.png"))
    assert not page.console_errors, page.console_errors
