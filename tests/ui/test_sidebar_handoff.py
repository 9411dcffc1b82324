"""Refit and Register in the "Tuning jobs" sidebar's job detail, in a real JupyterLab and a real Chromium, through
the REST API: Refit asks first, then shows the refit job, polled to completion, and its model's path; Register asks
where in a form dialog and shows the registered model's URI (a real MLflow server, tests/test_mlflow.py's)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from jupyter_hpo import api, artifacts
from jupyter_hpo.store import JobStatus, Store
from tests import test_mlflow
from tests.ui import test_sidebar
from tests.ui.conftest import ARTIFACTS, Lab
from tests.ui.test_sidebar import SIDEBAR, _launch, _open_sidebar, _spec

#: test_sidebar.py's Chromium and lab store, and test_mlflow.py's real MLflow tracking server
browser, store, mlflow_server = test_sidebar.browser, test_sidebar.store, test_mlflow.mlflow_server
MODEL = '''
import numpy as np
from sklearn.linear_model import LogisticRegression
from jupyter_hpo import trial

def f(params):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200 if trial.is_refit() else 100, 2))
    trial.save_model(LogisticRegression(C=0.1 + params["x"]).fit(X, (X[:, 0] > 0).astype(int)))
    return params["x"]
'''


def _detail(page: Page, name: str):
    return page.locator(f'{SIDEBAR} .jp-hpo-detail[data-job="{name}"]')


def test_refit_and_register_from_the_job_detail(lab: Lab, page: Page, store: Store, mlflow_server) -> None:
    _launch(lab, _spec("fit-sweep", "model.py:f", {"x": {"type": "float", "low": 0, "high": 1}},
                       budget={"max_trials": 3, "max_parallel": 1}), {"model.py": MODEL})
    job = api.attach("fit-sweep", store)
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    _open_sidebar(page, lab)
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="fit-sweep"]').click()
    detail = _detail(page, "fit-sweep")
    expect(detail.locator("[data-testid=hpo-job-status]")).to_have_text("completed", timeout=30_000)
    best_path = str(lab.home / "jobs" / "fit-sweep" / "artifacts" / str(job.best["number"]))
    expect(detail.locator("[data-testid=hpo-detail-model]")).to_have_text(best_path, timeout=30_000)

    # Refit: a confirmation, then the refit job, polled like any job until it completed, with its model
    detail.locator("[data-testid=hpo-detail-refit]").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text('Run the best parameters of "fit-sweep" once more as the refit job "fit-sweep-refit"')
    dialog.locator("button.jp-mod-accept").click()
    refit = _detail(page, "fit-sweep-refit")
    expect(refit).to_be_visible(timeout=30_000)
    expect(refit.locator("[data-testid=hpo-job-status]")).to_have_text("completed", timeout=120_000)
    refit_path = str(lab.home / "jobs" / "fit-sweep-refit" / "artifacts" / "0")
    expect(refit.locator("[data-testid=hpo-detail-model]")).to_have_text(refit_path, timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "sidebar-refit.png"))
    assert artifacts.model_path(api.attach("fit-sweep", store)) == refit_path

    # Register: a form dialog (MLflow, a model name, the tracking server), then the model's URI
    refit.locator(".jp-hpo-back").click()
    page.locator(f'{SIDEBAR} li.jp-hpo-job[data-job="fit-sweep"]').click()
    _detail(page, "fit-sweep").locator("[data-testid=hpo-detail-register]").click()
    form = page.locator(".jp-Dialog .jp-hpo-register-form")
    expect(form.locator("[data-testid=hpo-register-name]")).to_have_attribute("placeholder", "Model name")
    form.locator("[data-testid=hpo-register-name]").fill("sidebar-model")
    form.locator("[data-testid=hpo-register-extra]").fill(mlflow_server)
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    uri = page.locator(".jp-Dialog [data-testid=hpo-registered-uri]")
    expect(uri).to_have_text("models:/sidebar-model/1", timeout=120_000)
    expect(page.locator(".jp-Dialog")).to_contain_text("Job fit-sweep's model is registered in the MLflow Model Registry")
    page.screenshot(path=str(ARTIFACTS / "sidebar-registered.png"))
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    from mlflow.tracking import MlflowClient

    version = MlflowClient(mlflow_server).get_model_version("sidebar-model", "1")
    assert version.tags["jupyter_hpo.source"] == "refit"

    # a register that cannot be done: the one-line error, in the detail
    _detail(page, "fit-sweep").locator("[data-testid=hpo-detail-register]").click()
    page.locator(".jp-Dialog [data-testid=hpo-register-to]").select_option("sagemaker")
    page.locator(".jp-Dialog [data-testid=hpo-register-name]").fill("credit-models")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    error = page.locator(f"{SIDEBAR} [data-testid=hpo-action-error]")
    expect(error).to_contain_text("Register failed: job 'fit-sweep' ran on the local backend, so its model is not on "
                                  "S3", timeout=60_000)
    assert sorted(j["name"] for j in api.list_jobs(store) if j["name"].startswith("fit-sweep")) == [
        "fit-sweep", "fit-sweep-refit"]
