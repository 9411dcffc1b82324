"""The REST API through pytest-jupyter's jp_fetch: every route, paging, errors and authentication."""

from __future__ import annotations

import json
import re

import pytest
import tornado.httpclient

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}


@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


async def get(jp_fetch, *path, **params):
    response = await jp_fetch("jupyter-hpo", "api", *path, params=params or None)
    assert response.code == 200
    return json.loads(response.body)


async def fail(jp_fetch, *path, method="GET", **kw):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", *path, method=method, **kw)
    return info.value.code, json.loads(info.value.response.body)["reason"]


async def test_jobs_job_and_trials_with_paging(jp_fetch, home):
    job = api.launch(objective=objectives.quadratic, space=X, max_trials=6, name="rest-a")
    job.wait(timeout=60)
    jobs = (await get(jp_fetch, "jobs"))["jobs"]
    assert [j["name"] for j in jobs] == ["rest-a"]
    assert jobs[0]["complete"] == 6 and jobs[0]["status"] == "completed" and jobs[0]["startup_saved_s"] > 0
    detail = await get(jp_fetch, "jobs", "rest-a")
    assert detail["job"]["best"] == jobs[0]["best"] and detail["spec"]["budget"]["max_trials"] == 6
    trials = (await get(jp_fetch, "jobs", "rest-a", "trials"))["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    newer = (await get(jp_fetch, "jobs", "rest-a", "trials", after="3"))["trials"]
    assert [t["number"] for t in newer] == [4, 5] and newer == trials[4:]
    assert (await get(jp_fetch, "jobs", "rest-a", "trials", after="5"))["trials"] == []


async def test_stop_and_resume(jp_fetch, home):
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.4}, max_trials=50,
                     name="rest-b")
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    response = await jp_fetch("jupyter-hpo", "api", "jobs", "rest-b", "stop", method="POST", body="")
    assert response.code == 200
    assert job.wait(timeout=30) == JobStatus.STOPPED
    code, reason = await fail(jp_fetch, "jobs", "rest-b", "stop", method="POST", body="")
    assert code == 409 and "already stopped" in reason
    response = await jp_fetch("jupyter-hpo", "api", "jobs", "rest-b", "resume", method="POST", body="")
    assert json.loads(response.body)["job"]["status"] in ("pending", "running")
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    code, reason = await fail(jp_fetch, "jobs", "rest-b", "resume", method="POST", body="")
    assert code == 409 and "cannot be resumed while its runner runs" in reason
    job.stop()


async def test_errors_are_mapped_with_a_reason(jp_fetch, home):
    code, reason = await fail(jp_fetch, "jobs", "nope")
    assert code == 404 and "no job named 'nope'" in reason
    code, reason = await fail(jp_fetch, "jobs", "nope", "trials")
    assert code == 404
    api.launch(objective=objectives.quadratic, space=X, max_trials=1, name="rest-c").wait(timeout=60)
    code, reason = await fail(jp_fetch, "jobs", "rest-c", "trials", params={"after": "x"})
    assert code == 400 and reason == "`after` must be an integer trial number, but got 'x'."
    code, reason = await fail(jp_fetch, "jobs", "rest-c", "trials", params={"after": "-5"})
    assert code == 400
    code, _ = await fail(jp_fetch, "jobs", "rest-c", "resume", method="POST", body="")
    assert code == 409


ROUTES = [("GET", ("jobs",)), ("GET", ("jobs", "rest-d")), ("GET", ("jobs", "rest-d", "trials")),
          ("POST", ("jobs", "rest-d", "stop")), ("POST", ("jobs", "rest-d", "resume"))]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_rejects_requests_without_the_token(jp_fetch, home, method, path):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", *path, method=method, body="" if method == "POST" else None,
                       headers={"Authorization": ""})
    assert info.value.code in (401, 403)


@pytest.mark.parametrize("path", [p for m, p in ROUTES if m == "POST"])
async def test_posts_with_a_cookie_but_without_xsrf_are_rejected(jp_fetch, jp_serverapp, home, path):
    api.launch(objective=objectives.quadratic, space=X, max_trials=1, name="rest-d").wait(timeout=60)
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", *path, method="POST", body="",
                       headers={"Authorization": "", "Cookie": "_xsrf=abc"})
    assert info.value.code == 403
    assert api.attach("rest-d").status == JobStatus.COMPLETED, "nothing happened to the job"


def _openapi() -> dict:
    import yaml

    from tests.conftest import REPO

    return yaml.safe_load((REPO / "jupyter_hpo" / "server" / "openapi.yaml").read_text())


def test_the_openapi_document_lists_exactly_the_handlers_routes():
    from jupyter_hpo.server._handlers import NotFoundHandler, handlers

    doc = _openapi()
    routed = set()
    for pattern, handler in handlers():
        if handler is NotFoundHandler:  # the JSON 404 for everything else under the root
            continue
        path = re.sub(r"\(\?P<name>[^)]*\)", "{name}", pattern.removeprefix("/jupyter-hpo/api"))  # job or campaign
        methods = {m for m in ("get", "post") if m.upper() in handler.__dict__ or m in handler.__dict__}
        routed |= {(path, m) for m in methods}
    documented = {(path, m) for path, item in doc["paths"].items() for m in item if m in ("get", "post")}
    assert routed == documented


async def test_responses_match_the_openapi_schemas(jp_fetch, home):
    import jsonschema

    doc = _openapi()

    def check(body: dict, path: str, method: str = "get") -> None:
        schema = doc["paths"][path][method]["responses"]["200"]
        schema = schema.get("content") or doc["components"]["responses"]["Job"]["content"]
        resolver_doc = {**schema["application/json"]["schema"], "components": doc["components"]}
        jsonschema.validate(body, resolver_doc)

    modes = ["ok", "raise", "nan"]
    api.launch(objective=objectives.faulty, space={"mode": modes}, strategy="grid", max_trials=3,
               name="schema").wait(timeout=60)
    check(await get(jp_fetch, "jobs"), "/jobs")
    check(await get(jp_fetch, "jobs", "schema"), "/jobs/{name}")
    body = await get(jp_fetch, "jobs", "schema", "trials")
    assert len(body["trials"]) == 3
    check(body, "/jobs/{name}/trials")


def test_the_warm_up_lists_jobs_without_optuna_then_opens_its_storage(home):
    """A server's warm-up lists the jobs by plain queries, then opens Optuna's storage (which a job's trials are
    read through), so the first job a user opens in the sidebar does not wait for Optuna's import and open."""
    import logging
    from types import SimpleNamespace

    from jupyter_hpo.server import HpoExtension

    api.launch(objective=objectives.quadratic, space=X, max_trials=2, name="warm-up").wait(timeout=60)
    api._stores.clear()  # as a server starting on an existing store
    listed = api.open_store()
    api.list_jobs(listed)
    assert listed._optuna is None, "listing alone opens no Optuna storage"
    api._stores.clear()
    HpoExtension._warm_up(SimpleNamespace(log=logging.getLogger("test")), None)
    assert api.open_store()._optuna is not None
    assert [j["name"] for j in api.list_jobs()] == ["warm-up"]
