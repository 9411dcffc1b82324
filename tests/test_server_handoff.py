"""``POST jobs/{name}/refit`` and ``POST jobs/{name}/register`` through pytest-jupyter's jp_fetch (a real Jupyter
server in this process), with real runner processes and a real MLflow tracking server (tests/test_mlflow.py's)."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
import tornado.httpclient
import yaml

from jupyter_hpo import api, artifacts, handoff
from jupyter_hpo.store import JobStatus
from tests import objectives, test_mlflow
from tests.conftest import REPO
from tests.test_records import _ts_fields

X = {"x": {"type": "float", "low": 0, "high": 1}}
ALICE = {"user": "alice", "host": "alices-laptop", "jupyter": None, "studio": None}
#: the real MLflow tracking server (session-wide) and MLflow's settings pointing at it, as tests/test_mlflow.py has them
mlflow_server, mlflow_env = test_mlflow.mlflow_server, test_mlflow.mlflow_env
OPENAPI = yaml.safe_load((REPO / "jupyter_hpo" / "server" / "openapi.yaml").read_text())


@pytest.fixture
def jp_server_config(home, request):
    allow = getattr(request, "param", True)
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}},
            "HpoExtension": {"allow_acting_on_others_jobs": allow}}


#: the client's wait for an answer: a registration logs and registers a model with MLflow before it answers, which
#: on a loaded machine took more than tornado's default 20 s (a client timeout, not a product limit)
ANSWER_S = 120.0


async def post(jp_fetch, name, action, body=""):
    response = await jp_fetch("jupyter-hpo", "api", "jobs", name, action, method="POST",
                              body=body if isinstance(body, str) else json.dumps(body), request_timeout=ANSWER_S)
    assert response.code == 200
    return json.loads(response.body)


async def fail(jp_fetch, name, action, body="", **kw):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", "jobs", name, action, method="POST",
                       body=body if isinstance(body, str) else json.dumps(body), **{"request_timeout": ANSWER_S, **kw})
    return info.value.code, json.loads(info.value.response.body)["reason"]


async def poll_status(jp_fetch, name, until, timeout=180.0):
    """``GET jobs/{name}`` (as the sidebar polls) until its status is in ``until``; the last summary."""
    deadline = time.monotonic() + timeout
    while True:
        response = await jp_fetch("jupyter-hpo", "api", "jobs", name)
        job = json.loads(response.body)["job"]
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job {name} is still {job['status']} after {timeout} s"
        await asyncio.sleep(0.2)


def check_schema(body, path):
    import jsonschema

    schema = OPENAPI["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": OPENAPI["components"]})


def finished(name, objective=objectives.saves_model, **options):
    job = api.launch(objective=objective, space=X, max_trials=3, seed=3, name=name, **options)
    assert job.wait(timeout=180) in (JobStatus.COMPLETED, JobStatus.FAILED)
    return job


# -- refit -----------------------------------------------------------------------------------------------
async def test_refit_starts_the_refit_job_which_completes_with_its_model(jp_fetch, home):
    job = finished("rest-refit")
    body = await post(jp_fetch, "rest-refit", "refit")
    check_schema(body, "/jobs/{name}/refit")
    assert body["job"]["name"] == "rest-refit-refit" and body["job"]["max_trials"] == 1
    done = await poll_status(jp_fetch, "rest-refit-refit", ("completed", "failed", "stopped"))
    assert done["status"] == "completed" and done["best"]["params"] == job.best["params"]
    # its model is the refit's: where artifacts.model_path says, and what job.best_model() loads
    (rec,) = api.attach("rest-refit-refit").trial_records()
    assert artifacts.model_path(job) == rec["artifact"] == str(home / "jobs" / "rest-refit-refit" / "artifacts" / "0")
    assert job.best_model() == {"x": job.best["params"]["x"], "refit": True}
    again = await post(jp_fetch, "rest-refit", "refit", {"force": False})  # asked again: the same refit
    assert again["job"]["name"] == "rest-refit-refit"
    assert sorted(j["name"] for j in api.list_jobs()) == ["rest-refit", "rest-refit-refit"]


async def test_refit_of_a_job_without_a_complete_trial_is_a_409_and_starts_nothing(jp_fetch, home):
    job = api.launch(objective=objectives.faulty, space={"mode": ["raise"]}, max_trials=2, name="all-fail")
    assert job.wait(timeout=120) == JobStatus.FAILED
    code, reason = await fail(jp_fetch, "all-fail", "refit")
    assert (code, reason) == (409, "job 'all-fail' has no complete trial to refit.")
    code, reason = await fail(jp_fetch, "all-fail", "register", {"to": "mlflow", "model_name": "m"})
    assert code == 400 and "has no complete trial" in reason
    code, _ = await fail(jp_fetch, "nope", "refit")
    assert code == 404
    assert [j["name"] for j in api.list_jobs()] == ["all-fail"]


# -- bodies ------------------------------------------------------------------------------------------------
BAD_BODIES = [
    ("", "the body must be a JSON object such as {\"to\": \"mlflow\", \"model_name\": \"credit-model\"}."),
    ("[1]", "the body must be a JSON object such as {\"to\": \"mlflow\", \"model_name\": \"credit-model\"}, "
            "but got list."),
    ("null", "the body must be a JSON object such as {\"to\": \"mlflow\", \"model_name\": \"credit-model\"}, "
             "but got null."),
    # within the size limit, but deeper than Python's json parser goes (a RecursionError, which was a 500)
    ("[" * 1024, "the body must be a JSON object such as {\"to\": \"mlflow\", \"model_name\": \"credit-model\"}, "
                 "but it is nested too deeply to read."),
    ("{to: mlflow}", "the body must be a JSON object such as {\"to\": \"mlflow\", \"model_name\": \"credit-model\"}."),
    ({"model_name": "m"}, "`to` must be one of 'mlflow', 'sagemaker', but got None."),
    ({"to": "s3", "model_name": "m"}, "`to` must be one of 'mlflow', 'sagemaker', but got 's3'."),
    ({"to": {}, "group": "g"}, "`to` must be one of 'mlflow', 'sagemaker', but got {}."),
    ({"to": "mlflow"}, "`to: mlflow` needs `model_name`."),
    ({"to": "mlflow", "model_name": 3}, "`model_name` must be a non-empty string of at most 256 characters, but got 3."),
    ({"to": "mlflow", "model_name": ""},
     "`model_name` must be a non-empty string of at most 256 characters, but got ''."),
    ({"to": "mlflow", "model_name": " "},
     "`model_name` must be a name of visible characters without '/' or ':', but got ' '."),
    # Python counts U+001E as white space and JavaScript does not: the server and openapi.yaml must agree
    ({"to": "mlflow", "model_name": "\x1e"},
     "`model_name` must be a name of visible characters without '/' or ':', but got '\\x1e'."),
    ({"to": "mlflow", "model_name": "team/model"},
     "`model_name` must be a name of visible characters without '/' or ':', but got 'team/model'."),
    ({"to": "sagemaker", "group": "\x1e"},
     ("`group` must be a model package group name: 1-63 letters, digits and '-', starting and ending with a letter "
      "or digit, but got '\\x1e'.")),
    ({"to": "sagemaker", "group": "credit_models"},
     ("`group` must be a model package group name: 1-63 letters, digits and '-', starting and ending with a letter "
      "or digit, but got 'credit_models'.")),
    ({"to": "mlflow", "model_name": "m", "group": "g"},
     "`group` applies to `to: sagemaker` only, not mlflow; `to: mlflow` takes `model_name`, `tracking_uri` and `force`."),
    ({"to": "sagemaker", "group": "g", "tracking_uri": "http://x"},
     "`tracking_uri` applies to `to: mlflow` only, not sagemaker; `to: sagemaker` takes `group`, `region` and `force`."),
    ({"to": "sagemaker", "group": "g", "trial": 2},
     "`trial` is not a key of the body; `to: sagemaker` takes `group`, `region` and `force`."),
    ({"to": "sagemaker", "group": "g", "region": "../etc"},
     "`region` must be an AWS region such as us-east-1, but got '../etc'."),
    ({"to": "mlflow", "model_name": "m", "tracking_uri": "file:///tmp/x"},
     ("`tracking_uri` must be an http:// or https:// URL of an MLflow tracking server, but got 'file:///tmp/x' (a "
      "file or database store is set on the server with MLFLOW_TRACKING_URI).")),
    ({"to": "mlflow", "model_name": "m", "force": "yes"}, "`force` must be true or false, but got 'yes'."),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES)
async def test_a_bad_register_body_is_a_400_naming_what_is_wrong(jp_fetch, home, body, reason):
    job = finished("bodies")
    assert await fail(jp_fetch, "bodies", "register", body) == (400, reason)
    assert [j["name"] for j in api.list_jobs()] == ["bodies"] and "refit" not in job.attrs


async def test_refit_takes_only_force(jp_fetch, home):
    finished("refit-body")
    code, reason = await fail(jp_fetch, "refit-body", "refit", {"wait": True})
    assert (code, reason) == (400, "the body may hold only `force`, but got 'wait'.")
    assert [j["name"] for j in api.list_jobs()] == ["refit-body"]
    for body, why in (("null", "but got null"), ("[" * 1024, "but it is nested too deeply to read")):
        code, reason = await fail(jp_fetch, "refit-body", "refit", body)
        assert (code, reason) == (400, f'the body must be a JSON object such as {{"force": true}}, {why}.')
    assert [j["name"] for j in api.list_jobs()] == ["refit-body"]


async def test_register_to_sagemaker_of_a_local_job_says_what_the_cli_says(jp_fetch, home, capsys):
    from jupyter_hpo import cli

    finished("local-sm")
    code, reason = await fail(jp_fetch, "local-sm", "register", {"to": "sagemaker", "group": "credit-models"})
    assert code == 409 and reason.startswith("job 'local-sm' ran on the local backend, so its model is not on S3")
    assert cli.main(["register", "local-sm", "--sagemaker", "credit-models"]) == 1
    assert capsys.readouterr().err == f"error: {reason}\n"


# -- owners, auth ------------------------------------------------------------------------------------------
async def test_another_users_job_needs_force_to_refit_or_register(jp_fetch, home):
    finished("alices")
    api.open_store().set_job_attrs("alices", owner=ALICE)
    code, reason = await fail(jp_fetch, "alices", "refit")
    assert code == 409 and "only a job's owner may refit it without {\"force\": true}" in reason
    assert "alice (launched on alices-laptop)" in reason
    code, reason = await fail(jp_fetch, "alices", "register", {"to": "mlflow", "model_name": "m"})
    assert code == 409 and "may register it without" in reason
    assert [j["name"] for j in api.list_jobs()] == ["alices"]
    body = await post(jp_fetch, "alices", "refit", {"force": True})
    assert body["job"]["name"] == "alices-refit"
    assert (await poll_status(jp_fetch, "alices-refit", ("completed", "failed")))["status"] == "completed"


@pytest.mark.parametrize("jp_server_config", [False], indirect=True)
async def test_a_server_that_refuses_others_jobs_refuses_refit_even_with_force(jp_fetch, home):
    finished("alices-2")
    api.open_store().set_job_attrs("alices-2", owner=ALICE)
    code, reason = await fail(jp_fetch, "alices-2", "refit", {"force": True})
    assert code == 403 and "does not let anyone refit another user's job" in reason
    code, reason = await fail(jp_fetch, "alices-2", "register", {"to": "mlflow", "model_name": "m", "force": True})
    assert code == 403 and "does not let anyone register another user's job" in reason
    assert [j["name"] for j in api.list_jobs()] == ["alices-2"]


@pytest.mark.parametrize("action", ["refit", "register"])
async def test_both_routes_need_the_token(jp_fetch, home, action):
    finished("auth")
    body = {"to": "mlflow", "model_name": "m"}
    code, _ = await fail(jp_fetch, "auth", action, body, headers={"Authorization": ""})
    assert code == 403
    code, _ = await fail(jp_fetch, "auth", action, body, headers={"Authorization": "", "Cookie": "_xsrf=abc"})
    assert code == 403
    assert [j["name"] for j in api.list_jobs()] == ["auth"]


# -- MLflow ---------------------------------------------------------------------------------------------------
def predicts(p):
    """Saves a scikit-learn model (predict works; MLflow's sklearn flavour); a refit's is fit on more data."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from jupyter_hpo import trial

    rng = np.random.default_rng(0)
    n = 200 if trial.is_refit() else 100
    X_ = rng.normal(size=(n, 2))
    y = (X_[:, 0] > 0).astype(int)
    trial.save_model(LogisticRegression(C=0.1 + p["x"]).fit(X_, y))
    return p["x"]


async def test_register_to_mlflow_after_a_refit_through_rest(jp_fetch, home, mlflow_env, mlflow_server):
    import mlflow.sklearn
    import numpy as np

    client = mlflow_env
    job = finished("to-mlflow", objective=predicts)
    body = await post(jp_fetch, "to-mlflow", "register", {"to": "mlflow", "model_name": "rest-model"})
    check_schema(body, "/jobs/{name}/register")
    assert body == {"registry": "mlflow", "job": "to-mlflow", "uri": "models:/rest-model/1", "notes": [],
                    "details": {"model": "rest-model"}}
    assert client.get_model_version("rest-model", "1").tags["jupyter_hpo.source"] == "best"
    await post(jp_fetch, "to-mlflow", "refit")
    assert (await poll_status(jp_fetch, "to-mlflow-refit", ("completed", "failed")))["status"] == "completed"
    body = await post(jp_fetch, "to-mlflow", "register", {"to": "mlflow", "model_name": "rest-model",
                                                          "tracking_uri": mlflow_server})
    assert body["uri"] == "models:/rest-model/2"
    version = client.get_model_version("rest-model", "2")
    assert version.tags["jupyter_hpo.source"] == "refit" and version.tags["jupyter_hpo.refit_job"] == "to-mlflow-refit"
    X_ = np.random.default_rng(1).normal(size=(20, 2))
    assert np.allclose(mlflow.sklearn.load_model("models:/rest-model/2").predict_proba(X_),
                       job.best_model().predict_proba(X_))
    # a tracking server that does not answer: a 400 with the CLI's line, nothing registered
    code, reason = await fail(jp_fetch, "to-mlflow", "register", {"to": "mlflow", "model_name": "rest-model",
                                                                   "tracking_uri": "http://127.0.0.1:9"})
    assert code == 400 and reason.startswith("cannot register job 'to-mlflow''s model: the tracking server at "
                                             "http://127.0.0.1:9 cannot be reached")
    assert [v.version for v in client.search_model_versions("name='rest-model'")] in (["2", "1"], ["1", "2"])


# -- the contract -------------------------------------------------------------------------------------------
def test_types_ts_mirrors_the_register_body_and_answer():
    assert sorted(_ts_fields("IRegisteredReply")) == sorted(OPENAPI["components"]["schemas"]["Registered"]["properties"])
    bodies = OPENAPI["components"]["requestBodies"]["Register"]["content"]["application/json"]["schema"]["oneOf"]
    for interface, schema in zip(("IMlflowRegisterRequest", "ISageMakerRegisterRequest"), bodies, strict=True):
        ts = _ts_fields(interface)
        assert sorted(ts) == sorted(schema["properties"])
        assert sorted(k for k, optional in ts.items() if not optional) == sorted(schema["required"])


def test_openapi_yaml_has_the_servers_patterns_spelled_the_same_in_every_regex_dialect():
    bodies = OPENAPI["components"]["requestBodies"]["Register"]["content"]["application/json"]["schema"]["oneOf"]
    patterns = {k: v["pattern"] for body in bodies for k, v in body["properties"].items() if "pattern" in v}
    assert patterns == {k: f"^{p}$" for k, p in handoff.PATTERNS.items()}
    # \s, \S, \w, \d and \b mean other sets of characters in Python and in JavaScript (which schema
    # validators and the fuzzer follow): a schema-valid body the server refuses was a CI failure
    assert not any(re.search(r"\\[sSwWdDbB]", p) for p in patterns.values())
