"""The live dashboard in real JupyterLab and headless Chromium: it streams, survives a reload, stops a job."""

from __future__ import annotations

import os

import nbformat
from playwright.sync_api import expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, run_all_cells, wait_kernel_idle

SETUP = """%load_ext jupyter_hpo
import time

def objective(p):
    time.sleep(0.6)
    return p["x"]

space = {"x": {"type": "float", "low": 0, "high": 1}}"""
LAUNCH = "job = %hpo launch objective --space space --max-trials 200 --parallel 2 --name ui-live"


def trial_count(page) -> int:
    text = page.locator('[data-testid="hpo-trial-count"]').first.inner_text()
    return int(text.split("/")[0])


def wait_count_above(page, n: int, timeout_ms: int = 60_000) -> int:
    page.wait_for_function(
        """(n) => { const el = document.querySelector('[data-testid="hpo-trial-count"]');
                    return el && parseInt(el.textContent.split('/')[0]) > n; }""",
        arg=n, timeout=timeout_ms,
    )
    return trial_count(page)


def test_the_dashboard_streams_comes_back_after_a_reload_and_stops_the_job(lab, page):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(LAUNCH)]
    nbformat.write(nb, lab.root / "live.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{lab.url}/lab/tree/live.ipynb")
    wait_kernel_idle(page)
    run_all_cells(page)
    expect(page.locator(".jp-hpo-dashboard")).to_be_visible(timeout=90_000)
    first = wait_count_above(page, 1)
    dots_before = page.locator('[data-testid="hpo-objective-chart"] circle.hpo-dot').count()
    second = wait_count_above(page, first)
    page.wait_for_function(
        """(n) => document.querySelectorAll('[data-testid="hpo-objective-chart"] circle.hpo-dot').length > n""",
        arg=dots_before, timeout=30_000,
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-streaming.png"))

    page.keyboard.press("Control+s")  # as autosave would: the reloaded page reads the saved outputs
    expect(page.locator(".jp-mod-current.jp-mod-dirty")).to_have_count(0, timeout=30_000)
    page.reload()  # the kernel lives on: the dashboard must come back live by itself
    expect(page.locator(".jp-hpo-dashboard")).to_be_visible(timeout=90_000)
    after_reload = wait_count_above(page, second)
    wait_count_above(page, after_reload)
    page.screenshot(path=str(ARTIFACTS / "dashboard-after-reload.png"))

    page.locator('[data-testid="hpo-stop"]').first.click()
    expect(page.locator('[data-testid="hpo-status"]').first).to_contain_text("stopped", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "dashboard-stopped.png"))
    store = Store(home=lab.home)
    job = api.attach("ui-live", store)
    assert job.status == JobStatus.STOPPED
    assert job.summary()["complete"] >= after_reload
    assert not page.console_errors, page.console_errors
    assert os.path.exists(ARTIFACTS / "dashboard-stopped.png")
