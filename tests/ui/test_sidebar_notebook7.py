"""The "Tuning jobs" sidebar in Notebook 7 (same server as the JupyterLab tests, real Chromium).

The extension adds its panel to the shell's ``left`` area. Notebook 7 has that area on its tree (file
browser) and notebook pages: a collapsible side panel, opened from View > Left Sidebar > Show Tuning jobs.
There the panel lists jobs, shows a job's trials, and "Open in notebook" adds the attach cell to the
notebook of the page and runs it, so the live dashboard appears under it.
"""

from __future__ import annotations

import re

import nbformat
from playwright.sync_api import Page, expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui import test_sidebar
from tests.ui.conftest import ARTIFACTS, Lab, show_toggled_panel, wait_kernel_idle
from tests.ui.test_sidebar import SIDEBAR, _launch, _spec

# that module's fixtures: its own Chromium (see its docstring) and the lab's store, whose running jobs end
browser = test_sidebar.browser
store = test_sidebar.store

QUICK = '''
def f(params):
    return params["x"]
'''
JOB = "nb7-sweep"


def _show_sidebar(page: Page) -> None:
    """Open the panel from Notebook 7's menu (it is a toggle: only while it is not shown, and again if a restored
    layout toggled it back)."""
    panel = page.locator(f"#jp-left-stack {SIDEBAR}")
    page.locator(".lm-MenuBar-item", has_text="View").first.wait_for(timeout=60_000)

    def toggle() -> None:
        page.locator(".lm-MenuBar-item", has_text="View").first.click()
        page.locator(".lm-Menu-item", has_text="Left Sidebar").click()
        page.locator('.lm-Menu-item[data-command="application:toggle-panel"]', has_text="Tuning jobs").click()

    show_toggled_panel(panel, panel.is_visible, toggle)
    expect(page.locator(f"{SIDEBAR} .jp-hpo-title")).to_have_text("Tuning jobs")


def test_in_notebook_7_the_sidebar_is_a_left_panel_of_the_tree_and_the_notebook_page(
        lab: Lab, page: Page, store: Store) -> None:
    _launch(lab, _spec(JOB, "nb7_quick.py:f", {"x": {"type": "float", "low": 0, "high": 1}},
                       budget={"max_trials": 3}), {"nb7_quick.py": QUICK})
    assert api.attach(JOB, store).wait(timeout=90) == JobStatus.COMPLETED

    # the tree page (Notebook 7's file browser)
    page.goto(f"{lab.url}/tree")
    _show_sidebar(page)
    row = page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="{JOB}"]')
    expect(row.locator("[data-testid=hpo-job-status]")).to_have_text("completed", timeout=30_000)
    expect(row.locator("[data-testid=hpo-job-trials]")).to_have_text("3/3")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sidebar-notebook7-tree.png"))

    # the notebook page: the panel beside the notebook, and Open in notebook uses that notebook
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "nb7.ipynb")
    page.goto(f"{lab.url}/notebooks/nb7.ipynb")
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(1, timeout=60_000)
    wait_kernel_idle(page)
    _show_sidebar(page)
    row.click()
    table = page.locator(f"{SIDEBAR} [data-testid=hpo-trial-table]")
    expect(table.locator("tbody tr.jp-hpo-trial")).to_have_count(3, timeout=30_000)
    page.locator(f"{SIDEBAR} [data-testid=hpo-open-notebook]").click()
    expect(cells).to_have_count(2, timeout=60_000)
    expect(cells.nth(0).locator(".jp-InputArea-editor")).to_have_text("x = 1")
    expect(cells.nth(1).locator(".jp-InputArea-editor")).to_contain_text(f"%hpo attach {JOB}")
    expect(cells.nth(1).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
    dashboard = cells.nth(1).locator(".jp-OutputArea .jp-hpo-dashboard")
    expect(dashboard).to_be_visible(timeout=60_000)
    expect(dashboard.locator('[data-testid="hpo-trial-count"]')).to_have_text("3/3", timeout=30_000)
    expect(dashboard.locator('[data-testid="hpo-status"]')).to_have_text("completed")
    page.screenshot(path=str(ARTIFACTS / "sidebar-notebook7-notebook.png"))
    assert page.console_errors == []
