"""The live dashboard in real JupyterLab 4 and Notebook 7 and headless Chromium: it streams, survives a reload,
stops a job."""

from __future__ import annotations

import os

import nbformat
from playwright.sync_api import expect

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests.conftest import wait_for
from tests.ui.conftest import ARTIFACTS, busy_cell, notebook_url, run_all_cells, wait_kernel_idle

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


def expect_status(page, lab, status: str, timeout_ms: int = 60_000) -> None:
    """The dashboard's status badge shows ``status``; else fail with what the dashboard and server said."""
    try:
        expect(page.locator('[data-testid="hpo-status"]').first).to_contain_text(status, timeout=timeout_ms)
    except AssertionError as e:
        shown = page.locator(".jp-hpo-dashboard .hpo-error").first.inner_text()
        raise AssertionError(f"{e}\ndashboard error: {shown!r}\nserver log:\n{lab.log_tail()}") from None


def new_notebook(lab, name: str, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, lab.root / name)


def test_the_dashboard_streams_comes_back_after_a_reload_and_stops_the_job(lab, page, front_end):
    name = f"ui-live-{front_end}"
    new_notebook(lab, f"{name}.ipynb", SETUP, LAUNCH.replace("ui-live", name))
    ARTIFACTS.mkdir(exist_ok=True)

    # ?reset: only this notebook is open (Run All and the kernel-idle wait look at every open notebook)
    page.goto(notebook_url(lab, front_end, f"{name}.ipynb", f"/lab/tree/{name}.ipynb?reset"))
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
    page.screenshot(path=str(ARTIFACTS / f"dashboard-streaming-{front_end}.png"))

    page.keyboard.press("Control+s")  # as autosave would: the reloaded page reads the saved outputs
    saved = lab.root / f"{name}.ipynb"
    wait_for(lambda: "application/vnd.jupyter.widget-view+json" in saved.read_text(), timeout=30)
    expect(page.locator(".jp-mod-current.jp-mod-dirty")).to_have_count(0, timeout=30_000)
    page.reload()  # the kernel lives on: the dashboard must come back live by itself
    expect(page.locator(".jp-hpo-dashboard")).to_be_visible(timeout=90_000)
    after_reload = wait_count_above(page, second)
    wait_count_above(page, after_reload)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-after-reload-{front_end}.png"))

    page.locator('[data-testid="hpo-stop"]').first.click()
    expect_status(page, lab, "stopped")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-stopped-{front_end}.png"))
    store = Store(home=lab.home)
    job = api.attach(name, store)
    assert job.status == JobStatus.STOPPED
    assert job.summary()["complete"] >= after_reload
    assert not page.console_errors, page.console_errors
    assert os.path.exists(ARTIFACTS / f"dashboard-stopped-{front_end}.png")


def open_busy_notebook(lab, page, front_end: str, name: str):
    """A notebook whose launch cell is followed by one that keeps the kernel busy, as `job.wait()` or training
    would; Run All, and wait until its dashboard streams rows. Returns the gate that ends the busy cell."""
    gate = lab.root / f"{name}.gate"
    new_notebook(lab, f"{name}.ipynb", SETUP, LAUNCH.replace("ui-live", name), busy_cell(gate))
    # only this notebook: no other dashboard in the page
    page.goto(notebook_url(lab, front_end, f"{name}.ipynb", f"/lab/tree/{name}.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    expect(page.locator(".jp-hpo-dashboard")).to_be_visible(timeout=90_000)
    first = wait_count_above(page, 1)
    dots_before = page.locator('[data-testid="hpo-objective-chart"] circle.hpo-dot').count()
    wait_count_above(page, first)
    page.wait_for_function(
        """(n) => document.querySelectorAll('[data-testid="hpo-objective-chart"] circle.hpo-dot').length > n""",
        arg=dots_before, timeout=30_000,
    )
    assert "the busy cell ended" not in busy_outputs(page), "the kernel was not busy"
    return gate


def busy_outputs(page) -> str:
    return "".join(page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts())


def test_while_the_kernel_is_busy_the_dashboards_stop_stops_the_job_at_once(lab, page, front_end):
    # JupyterLab 4.4+ and Notebook 7 send comm messages to a kernel subshell: the busy cell does not hold them
    name = f"ui-busy-{front_end}"
    gate = open_busy_notebook(lab, page, front_end, name)
    try:
        page.locator('[data-testid="hpo-stop"]').first.click()
        expect_status(page, lab, "stopped")
        assert "the busy cell ended" not in busy_outputs(page), "the job stopped while the cell still ran"
        expect(page.locator(".jp-hpo-dashboard .hpo-error").first).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / f"dashboard-busy-kernel-stopped-{front_end}.png"))
    finally:
        gate.write_text("")
    expect(page.locator(".jp-Notebook .jp-OutputArea").last).to_contain_text("the busy cell ended", timeout=60_000)
    job = api.attach(name, Store(home=lab.home))
    assert job.status == JobStatus.STOPPED and job.summary()["complete"] < 200
    assert not page.console_errors, page.console_errors


def test_with_comms_on_the_main_shell_stop_waits_for_the_busy_cell_and_says_why(lab, page, comms_on_main_shell):
    # "Comms over subshells" disabled (or a kernel without subshells): the busy cell holds the dashboard's messages
    name = "ui-busy-main-shell"
    gate = open_busy_notebook(lab, page, "lab", name)
    page.locator('[data-testid="hpo-stop"]').first.click()
    error = page.locator(".jp-hpo-dashboard .hpo-error").first
    expect(error).to_contain_text("did not answer Stop", timeout=30_000)
    expect(error).to_contain_text(f"jupyter hpo stop {name}")
    assert "the busy cell ended" not in busy_outputs(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-busy-kernel.png"))

    # when the cell ends the kernel handles the queued request: the job stops, the message goes
    gate.write_text("")
    expect(page.locator(".jp-Notebook .jp-OutputArea").last).to_contain_text("the busy cell ended", timeout=60_000)
    expect_status(page, lab, "stopped")
    expect(error).to_be_hidden()
    job = api.attach(name, Store(home=lab.home))
    assert job.status == JobStatus.STOPPED and job.summary()["complete"] < 200
    assert not page.console_errors, page.console_errors
