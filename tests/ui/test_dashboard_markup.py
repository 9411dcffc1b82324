"""The dashboard in JupyterLab 4 and Notebook 7 (Chromium): markup in values is text, a dead runner shows as stale.

Parameter values and error messages come from user code, so they may hold HTML or JavaScript. The
dashboard must show them as text: no element is created from them and no script runs (a script
would set ``window.__hpo_xss`` or open a dialog).
"""

from __future__ import annotations

import socket

import nbformat
from playwright.sync_api import expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, notebook_url, run_all_cells, wait_kernel_idle

IMG = "<img src=x onerror=\"window.__hpo_xss=1;alert(1)\">"
SCRIPT = "<script>window.__hpo_xss=2;alert(2)</script>"
SETUP = f"""%load_ext jupyter_hpo

def objective(p):
    if p["label"].startswith("<script"):
        raise ValueError({IMG!r} + " in the error")
    return 1.0

space = {{"label": [{IMG!r}, {SCRIPT!r}, "<b>bold</b>"]}}"""
LAUNCH = "job = %hpo launch objective --space space --strategy grid --max-trials 3 --parallel 1 --name {name}"


def _notebook(lab, name, cells):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, lab.root / name)


def test_markup_in_parameter_values_and_errors_is_shown_as_text(lab, page, front_end):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    name = f"ui-markup-{front_end}"
    _notebook(lab, f"{name}.ipynb", [SETUP, LAUNCH.format(name=name)])
    page.goto(notebook_url(lab, front_end, f"{name}.ipynb", f"/lab/tree/{name}.ipynb?reset"))  # only this notebook
    wait_kernel_idle(page)
    run_all_cells(page)
    dash = page.locator(".jp-hpo-dashboard")
    expect(dash).to_be_visible(timeout=90_000)
    expect(page.locator('[data-testid="hpo-trial-count"]').first).to_contain_text("3/3", timeout=90_000)
    table = page.locator('[data-testid="hpo-trial-table"]').first
    expect(table).to_contain_text(IMG[:20])  # long values are clipped in cells (with an ellipsis)
    expect(table).to_contain_text(SCRIPT[:20])
    expect(table).to_contain_text("<b>bold</b>")
    expect(table).to_contain_text(f"{IMG} in the error")
    assert dash.locator("img").count() == 0 and dash.locator("script").count() == 0
    assert dash.locator("b").count() == 0
    assert page.evaluate("() => window.__hpo_xss === undefined")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-markup-as-text-{front_end}.png"))
    assert dialogs == []
    assert not page.console_errors, page.console_errors


def test_a_job_whose_runner_died_shows_as_stale_not_running(lab, page, front_end):
    store = Store(home=lab.home)
    spec = {"name": f"ui-dead-runner-{front_end}", "trial": {"function": "tests.objectives:quadratic"},
            "space": {"x": {"type": "float", "low": 0, "high": 1}}}
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_dict(spec)
    store.create_job(spec.name, spec.to_dict(), "maximize")
    store.set_job_attrs(spec.name, status="running", heartbeat=0, backend="local",
                        runner={"pid": 2**22 + 4321, "host": socket.gethostname(), "started": 0})
    assert api.attach(spec.name, store).status == JobStatus.STALE
    _notebook(lab, f"{spec.name}.ipynb", ["%load_ext jupyter_hpo", f"%hpo attach {spec.name}"])
    page.goto(notebook_url(lab, front_end, f"{spec.name}.ipynb", f"/lab/tree/{spec.name}.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    status = page.locator('[data-testid="hpo-status"]').first
    expect(status).to_contain_text("stale", timeout=90_000)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-stale-{front_end}.png"))
    assert not page.console_errors, page.console_errors


def test_the_sidebar_shows_a_job_whose_runner_died_as_stale(lab, page):
    from tests.ui.test_sidebar import SIDEBAR, _open_sidebar

    store = Store(home=lab.home)
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_dict({"name": "ui-dead-sidebar", "trial": {"function": "tests.objectives:quadratic"},
                                 "space": {"x": {"type": "float", "low": 0, "high": 1}}})
    store.create_job(spec.name, spec.to_dict(), "maximize")
    store.set_job_attrs(spec.name, status="running", heartbeat=0, backend="local",
                        runner={"pid": 2**22 + 4322, "host": socket.gethostname(), "started": 0})
    _open_sidebar(page, lab)
    row = page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="{spec.name}"]')
    expect(row.locator("[data-testid=hpo-job-status]")).to_have_text("stale", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "sidebar-stale.png"))
    assert not page.console_errors, page.console_errors
