"""The dashboard in JupyterLab 4 and Notebook 7 (Chromium) draws axes for values one floating-point ulp apart.

``0.1 + 0.2`` and ``0.3`` (objective values) and ``1`` and ``1.0000000000000002`` (intermediate values)
differ by one ulp. An axis whose tick step is smaller than an ulp once looped forever (``v += step`` left
``v`` unchanged), which froze the tab: this test then times out waiting for the page to answer.
"""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from jupyter_hpo import api
from jupyter_hpo.store import Store
from tests.ui.conftest import ARTIFACTS, notebook_url, run_all_cells, wait_kernel_idle
from tests.ui.test_dashboard_browser import new_notebook

SETUP = """%load_ext jupyter_hpo
from jupyter_hpo import trial

def objective(p):
    trial.report(1.0, step=0)
    trial.report(1.0000000000000002, step=1)
    return 0.1 + 0.2 if p["k"] % 2 else 0.3

space = {"k": [0, 1, 2, 3]}"""
LAUNCH = "job = %hpo launch objective --space space --strategy grid --max-trials 4 --parallel 1 --name {name}"
CHART = '[data-testid="{}"]'
#: the page answers a script once the charts are drawn (a hung main thread never does)
ANSWERS = """() => { const el = document.querySelector('[data-testid="hpo-trial-count"]');
                     return el !== null && el.textContent.startsWith('4/'); }"""


def tick_labels(page, testid: str) -> list[str]:
    return page.locator(f"{CHART.format(testid)} text.hpo-tick:not(.hpo-band-label)").all_text_contents()


def test_values_one_ulp_apart_draw_finite_axes_and_the_page_stays_responsive(lab, page, front_end):
    name = f"ui-ulp-{front_end}"
    new_notebook(lab, f"{name}.ipynb", SETUP, LAUNCH.format(name=name))
    # in JupyterLab a workspace of its own: the default one, which other tests open, keeps no notebook of this test
    page.goto(notebook_url(lab, front_end, f"{name}.ipynb",
                           f"/lab/workspaces/hpo-ulp-{uuid.uuid4().hex[:8]}/tree/{name}.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    expect(page.locator(".jp-hpo-dashboard")).to_be_visible(timeout=90_000)
    expect(page.locator('[data-testid="hpo-trial-count"]').first).to_contain_text("4/4", timeout=90_000)
    page.wait_for_function(ANSWERS, timeout=30_000)

    job = api.attach(name, Store(home=lab.home))
    records = job.trial_records()
    assert {r["value"] for r in records} == {0.1 + 0.2, 0.3}, "the values are not one ulp apart"
    assert {tuple(r["intermediate"].values()) for r in records} == {(1.0, 1.0000000000000002)}

    dots = page.locator(f'{CHART.format("hpo-objective-chart")} circle.hpo-dot')
    try:
        expect(dots).to_have_count(4, timeout=30_000)
    except AssertionError as e:
        shown = page.locator(".jp-hpo-dashboard svg .hpo-empty").all_text_contents()
        raise AssertionError(f"{e}\ncharts say: {shown}") from None
    expect(page.locator(".jp-hpo-dashboard svg .hpo-empty")).to_have_count(0)
    for testid in ("hpo-objective-chart", "hpo-intermediate-chart"):
        labels = tick_labels(page, testid)
        assert 2 <= len(labels) <= 30, (testid, labels)
        assert [t for t in labels if "NaN" in t or "Infinity" in t] == [], (testid, labels)
    expect(page.locator(f'{CHART.format("hpo-intermediate-chart")} polyline.hpo-line')).to_have_count(4)
    coords = page.evaluate("""() => [...document.querySelectorAll('.jp-hpo-dashboard svg [cx], .jp-hpo-dashboard svg [y1]')]
                                   .flatMap(n => ['cx', 'cy', 'x1', 'x2', 'y1', 'y2'].map(a => n.getAttribute(a)))
                                   .filter(v => v !== null && !Number.isFinite(Number(v)))""")
    assert coords == [], coords
    page.screenshot(path=str(ARTIFACTS / f"dashboard-ulp-apart-{front_end}.png"))
    # still answering after the charts were drawn
    assert page.evaluate("() => 6 * 7") == 42
    assert not page.console_errors, page.console_errors


MANY = """%load_ext jupyter_hpo
def objective(p):
    return sum(float(v) for k, v in p.items() if k != "booster_kind_for_the_boosting_stage") + 5000

space = {f"learning_rate_for_the_stage_{i}": {"type": "float", "low": 1e-5, "high": 2, "scaling": "log"}
         for i in range(12)}
space["booster_kind_for_the_boosting_stage"] = ["lossguide", "depthwise_exact"]"""
MANY_LAUNCH = "job = %hpo launch objective --space space --strategy random --max-trials 6 --parallel 2 --name {name}"
#: every pair of texts in the chart whose boxes overlap (beyond half a pixel), as their texts
OVERLAPS = """svg => { const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    const out = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5)
        out.push([a, b]);
    }
    return out; }"""


def test_parallel_coordinates_of_13_axes_keep_their_labels_apart(lab, page):
    """With 12 parameters of long names and a choice, axis names printed over each other, and tick labels ran
    into the next axis's, fusing into other numbers ("1.000e-4" beside "2" read as "1.000e-42")."""
    name = "ui-many-axes"
    new_notebook(lab, f"{name}.ipynb", MANY, MANY_LAUNCH.format(name=name))
    page.goto(notebook_url(lab, "lab", f"{name}.ipynb",
                           f"/lab/workspaces/hpo-axes-{uuid.uuid4().hex[:8]}/tree/{name}.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    expect(page.locator('[data-testid="hpo-trial-count"]').first).to_contain_text("6/6", timeout=90_000)
    chart = page.locator(CHART.format("hpo-parallel-chart")).first
    expect(chart.locator("polyline.hpo-pc-line")).to_have_count(6, timeout=30_000)
    names = chart.locator("text.hpo-label")
    expect(names).to_have_count(14)
    assert chart.evaluate(OVERLAPS) == []
    # each name, cut to fit in its middle (they differ at their end), is whole in its tooltip
    assert names.first.locator("title").text_content() == "learning_rate_for_the_stage_0"
    shown = [t.rsplit("learning_rate_for_the_stage_", 1)[0] for t in names.all_text_contents()]
    assert len(set(shown)) == 14, shown  # every axis told apart
    page.screenshot(path=str(ARTIFACTS / "dashboard-many-axes.png"))
    assert not page.console_errors, page.console_errors


TWO_METRICS = """%load_ext jupyter_hpo
def big(p):
    return 5000 + p["x"]

def small(p):
    return p["x"]

space = {"x": {"type": "float", "low": 0, "high": 1}}
a = %hpo launch big --space space --max-trials 3 --metric score --name ui-cmp-big
b = %hpo launch small --space space --max-trials 3 --metric acc --name ui-cmp-small
a.wait(60), b.wait(60)"""


def test_compare_says_when_its_jobs_tune_different_metrics(lab, page):
    """`%hpo compare` of a job of scores near 5000 and one of accuracies drew both on one scale, the second flat at 0,
    with nothing to say why."""
    new_notebook(lab, "ui-cmp.ipynb", TWO_METRICS, "%hpo compare ui-cmp-big ui-cmp-small")
    page.goto(notebook_url(lab, "lab", "ui-cmp.ipynb",
                           f"/lab/workspaces/hpo-cmp-{uuid.uuid4().hex[:8]}/tree/ui-cmp.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    note = page.locator(".jp-hpo-compare [data-testid=hpo-compare-note]")
    expect(note).to_have_text("These jobs tune different metrics (score, acc), drawn on one scale: read each curve on "
                              "its own.", timeout=90_000)
    page.screenshot(path=str(ARTIFACTS / "compare-two-metrics.png"))
    assert not page.console_errors, page.console_errors
