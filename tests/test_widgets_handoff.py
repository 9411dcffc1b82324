"""The dashboard's Refit and Register buttons, through the widget's custom messages (real jobs, real runner
processes, a real MLflow server; the browser side is tests/ui/test_dashboard_handoff.py)."""

from __future__ import annotations

import pytest

from jupyter_hpo import api, artifacts
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets import Dashboard
from tests import objectives, test_mlflow
from tests.conftest import wait_for
from tests.test_server_handoff import predicts
from tests.test_widgets import capture

X = {"x": {"type": "float", "low": 0, "high": 1}}
mlflow_server, mlflow_env = test_mlflow.mlflow_server, test_mlflow.mlflow_env



def finished(name, objective=objectives.saves_model):
    job = api.launch(objective=objective, space=X, max_trials=3, seed=1, name=name)
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    return job


def answer(sent, kind, id_, timeout=180):
    """The final answer to request ``id_`` (after its acknowledgement)."""
    return wait_for(lambda: next((m for m in sent if m["type"] == f"{kind}-reply" and m["id"] == id_
                                  and m["state"] == "done"), None), timeout=timeout)


def test_refit_is_acknowledged_runs_once_per_id_and_the_trait_shows_its_model(home, monkeypatch):
    job = finished("dash-refit")
    dash = Dashboard(job)
    assert dash.refit == {}, "never refit: nothing to show"
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "refit", "id": "v1-1"}, [])
    assert sent[0]["type"] == "refit-reply" and sent[0]["id"] == "v1-1" and sent[0]["state"] == "working"
    done = answer(sent, "refit", "v1-1")
    assert done["ok"] is True and done["error"] == "" and done["job"] == "dash-refit-refit"
    assert done["_thread"] == "hpo-dashboard-refit-dash-refit", "the work ran in a thread: the kernel stayed free"
    wait_for(lambda: dash.refit.get("status") == "completed", timeout=180)
    path = str(home / "jobs" / "dash-refit-refit" / "artifacts" / "0")
    assert dash.refit == {"job": "dash-refit-refit", "status": "completed", "model": path, "error": ""}
    assert artifacts.model_path(job) == path and job.best_model()["refit"] is True
    # the same id again (a resend): the same answer, nothing run again
    n = len(sent)
    dash._handle_custom_msg({"type": "refit", "id": "v1-1"}, [])
    assert sent[n:] == [{**done, "_at": sent[n]["_at"], "_thread": sent[n]["_thread"]}]
    assert sorted(j["name"] for j in api.list_jobs()) == ["dash-refit", "dash-refit-refit"]
    # a new dashboard of the job shows its refit at once
    assert Dashboard("dash-refit").refit == dash.refit


def test_refit_of_a_job_without_a_complete_trial_answers_the_core_error(home, monkeypatch):
    job = api.launch(objective=objectives.faulty, space={"mode": ["raise"]}, max_trials=1, name="dash-fail")
    assert job.wait(timeout=120) == JobStatus.FAILED
    dash = Dashboard(job)
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "refit", "id": 7}, [])
    done = answer(sent, "refit", 7)
    assert done["ok"] is False and done["error"] == "job 'dash-fail' has no complete trial to refit."
    assert dash.refit == {} and [j["name"] for j in api.list_jobs()] == ["dash-fail"]
    dash._handle_custom_msg({"type": "refit", "id": {"not": "an id"}}, [])
    assert sent[-1] == {**sent[-1], "type": "refit-reply", "id": None, "state": "done", "ok": False,
                        "error": "a refit request needs an id (a string or an integer), but got {'not': 'an id'}."}


@pytest.mark.parametrize(("request_", "error"), [
    ({"to": "s3", "model_name": "m"}, "`to` must be one of 'mlflow', 'sagemaker', but got 's3'."),
    ({"to": "mlflow"}, "`to: mlflow` needs `model_name`."),
    ({"to": "mlflow", "model_name": "m", "force": True},
     "`force` is not a key of the body; `to: mlflow` takes `model_name`, `tracking_uri`."),
    ({"to": "sagemaker", "group": "credit-models"},
     "job 'dash-reg' ran on the local backend, so its model is not on S3"),
])
def test_a_register_request_that_cannot_be_done_answers_why(home, monkeypatch, request_, error):
    dash = Dashboard(finished("dash-reg"))
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "register", "id": "r-1", **request_}, [])
    done = answer(sent, "register", "r-1")
    assert done["ok"] is False and done["error"].startswith(error)


def test_register_to_mlflow_answers_the_model_uri(mlflow_env, monkeypatch):
    import mlflow.sklearn

    client = mlflow_env
    dash = Dashboard(finished("dash-mlflow", objective=predicts))
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "register", "id": "r-1", "to": "mlflow", "model_name": "dash-model"}, [])
    done = answer(sent, "register", "r-1")
    assert (done["ok"], done["error"], done["uri"], done["registry"]) == (True, "", "models:/dash-model/1", "mlflow")
    assert done["_thread"] == "hpo-dashboard-register-dash-mlflow", "the work ran in a thread: the kernel stayed free"
    assert client.get_model_version("dash-model", "1").tags["jupyter_hpo.source"] == "best"
    assert mlflow.sklearn.load_model("models:/dash-model/1").predict([[1.0, 0.0]]).shape == (1,)
    dash._handle_custom_msg({"type": "register", "id": "r-1", "to": "mlflow", "model_name": "dash-model"}, [])
    assert sent[-1]["uri"] == "models:/dash-model/1"
    assert [v.version for v in client.search_model_versions("name='dash-model'")] == ["1"], "registered once"


def test_the_refit_line_follows_a_resume_that_outdates_the_refit_and_a_job_made_again(home):
    """The refit line was read when the dashboard was made and after its own Refit only: after a resume made
    another trial the best it kept the old refit's model path (which model_path now refuses), and a job deleted
    and made again under the name kept the old job's refit."""
    from jupyter_hpo.store import Store

    job = finished("dash-stale")
    dash = Dashboard(job)
    refit = job.refit(wait=True)
    dash.refresh()
    assert dash.refit == {"job": refit.name, "status": "completed", "model": artifacts.model_path(job), "error": ""}
    refit_of = refit.attrs["refit_of"]["trial"]
    for budget in (6, 12, 24, 48):  # until a later trial beats the refit one
        job.resume(max_trials=budget)
        assert job.wait(timeout=180) == JobStatus.COMPLETED
        if job.best["number"] != refit_of:
            break
    dash.refresh()
    assert dash.refit["job"] == refit.name and dash.refit["model"] is None
    assert dash.refit["error"].startswith(f"job 'dash-stale' was refit as '{refit.name}', which repeats trial "
                                          f"{refit_of}, no longer the best (trial {job.best['number']} is")
    Store(home=home).delete_job("dash-stale")
    finished("dash-stale")
    dash.refresh()
    assert dash.refit == {}, "the job made again was never refit"
