"""The dashboard's Refit and Register buttons in a real notebook (JupyterLab 4, a real kernel, headless Chromium):
with comms on the kernel's main shell (JupyterLab's "Comms over subshells" disabled), Refit, clicked while the
kernel is busy with another cell, says the kernel did not answer, and once the cell ends the refit runs and the dashboard shows its status, then its model's path; Register asks where in a small form and
shows the result, here the one-line error for a local job sent to the SageMaker Model Registry."""

from __future__ import annotations

from playwright.sync_api import expect

from jupyter_hpo import api, artifacts
from jupyter_hpo.store import JobStatus, Store
from tests.ui.conftest import ARTIFACTS, busy_cell, notebook_url, run_all_cells, wait_kernel_idle
from tests.ui.test_dashboard_browser import expect_status, new_notebook

SETUP = """%load_ext jupyter_hpo
from jupyter_hpo import trial

def objective(p):
    trial.save_model({"x": p["x"], "refit": trial.is_refit()})
    return p["x"]

space = {"x": {"type": "float", "low": 0, "high": 1}}"""
LAUNCH = "job = %hpo launch objective --space space --max-trials 3 --parallel 1 --name ui-refit"


def test_the_dashboards_refit_shows_the_refit_model_and_register_asks_where(lab, page, comms_on_main_shell):
    gate = lab.root / "ui-refit.gate"
    new_notebook(lab, "ui-refit.ipynb", SETUP, LAUNCH, busy_cell(gate))
    page.goto(notebook_url(lab, "lab", "ui-refit.ipynb", "/lab/tree/ui-refit.ipynb?reset"))
    wait_kernel_idle(page)
    run_all_cells(page)
    expect(page.locator(".jp-hpo-dashboard")).to_be_visible(timeout=90_000)
    refit = page.locator('[data-testid="hpo-refit"]')
    expect_status(page, lab, "completed", timeout_ms=120_000)
    expect(refit).to_be_enabled()

    # the kernel runs the busy cell: it cannot answer yet, and the dashboard says so after three tries
    refit.click()
    error = page.locator('[data-testid="hpo-handoff-error"]')
    expect(error).to_contain_text("The kernel did not answer Refit (3 tries)", timeout=30_000)
    expect(error).to_contain_text("jupyter hpo refit ui-refit")
    outputs = page.locator(".jp-Notebook .jp-OutputArea")
    assert "the busy cell ended" not in "".join(outputs.all_inner_texts()), "the kernel was not busy"
    assert "ui-refit-refit" not in {j["name"] for j in api.list_jobs(Store(home=lab.home))}
    page.screenshot(path=str(ARTIFACTS / "dashboard-refit-busy-kernel.png"))

    # once the cell ends the kernel takes the request (once): the refit runs, the dashboard follows it
    gate.write_text("")
    expect(outputs.last).to_contain_text("the busy cell ended", timeout=60_000)
    status = page.locator('[data-testid="hpo-refit-status"]')
    expect(status).to_contain_text("Refit ui-refit-refit:", timeout=30_000)
    expect(error).to_be_hidden()
    path = str(lab.home / "jobs" / "ui-refit-refit" / "artifacts" / "0")
    expect(status).to_have_text(f"Refit ui-refit-refit: completed; model: {path}", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "dashboard-refit.png"))
    job = api.attach("ui-refit", Store(home=lab.home))
    assert api.attach("ui-refit-refit", job.store).status == JobStatus.COMPLETED
    names = sorted(j["name"] for j in api.list_jobs(job.store) if j["name"].startswith("ui-refit"))
    assert names == ["ui-refit", "ui-refit-refit"], "refit once"
    assert artifacts.model_path(job) == path and job.best_model() == {"x": job.best["params"]["x"], "refit": True}

    page.locator('[data-testid="hpo-register"]').click()
    form = page.locator('[data-testid="hpo-register-form"]')
    expect(form).to_be_visible()
    form.locator('[data-testid="hpo-register-to"]').select_option("sagemaker")
    expect(form.locator('[data-testid="hpo-register-name"]')).to_have_attribute("placeholder", "Model package group")
    form.locator('[data-testid="hpo-register-name"]').fill("credit-models")
    form.locator('[data-testid="hpo-register-submit"]').click()
    result = page.locator('[data-testid="hpo-register-result"]')
    expect(result).to_contain_text("Register failed: job 'ui-refit' ran on the local backend, so its model is not "
                                   "on S3", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "dashboard-register-error.png"))
    assert not page.console_errors, page.console_errors
