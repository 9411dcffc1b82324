"""Owners through the REST API (jp_fetch, a real Jupyter server in this process): who launched each job, the
``mine`` filter, ``force`` for another user's job, the server setting that refuses it, and who stopped or
resumed a job, recorded with ``"via": "rest"``."""

from __future__ import annotations

import json
import socket

import pytest
import tornado.httpclient
from jupyter_server.auth.identity import IdentityProvider, User

from jupyter_hpo import api
from jupyter_hpo.owners import identity, owner_name
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}
LONG = '{"force": true, "pad": "' + "x" * 2000 + '"}'
#: 1,024 bytes (the most a body may have) of '[': deeper than Python's json parser goes
DEEP = "[" * 1024
DEEP_FORCE = '{"force": ' + "[" * 500 + "]" * 500 + "}"
ALICE = {"user": "alice", "host": "alices-laptop", "jupyter": None, "studio": None}


class HubUser(IdentityProvider):
    """A token-authenticated request comes from the Hub user ``bob`` (as JupyterHub's identity provider says who
    sent a request to a user's server), instead of Jupyter's random anonymous name."""

    def generate_anonymous_user(self, handler):  # noqa: ARG002 - the handler does not matter here
        return User("bob")


@pytest.fixture
def jp_server_config(home, request):
    """The extension; ``allow_acting_on_others_jobs`` and the identity provider from the test's parameter."""
    allow, hub = getattr(request, "param", (True, False))
    config = {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}},
              "HpoExtension": {"allow_acting_on_others_jobs": allow}}
    if hub:
        config["ServerApp"]["identity_provider_class"] = HubUser
    return config


async def get(jp_fetch, *path, **params):
    response = await jp_fetch("jupyter-hpo", "api", *path, params=params or None)
    assert response.code == 200
    return json.loads(response.body)


async def post(jp_fetch, name, action, body=""):
    response = await jp_fetch("jupyter-hpo", "api", "jobs", name, action, method="POST", body=body)
    assert response.code == 200
    return json.loads(response.body)["job"]


async def fail(jp_fetch, *path, method="GET", **kw):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", *path, method=method, **kw)
    return info.value.code, json.loads(info.value.response.body)["reason"]


def _alices(name: str, **options) -> api.Job:
    """A job whose recorded owner is alice, on her laptop (written into the store, as another home would)."""
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, name=name, **options)
    job.store.set_job_attrs(name, owner=ALICE)
    return job


def _schema(name: str) -> dict:
    import yaml

    from tests.conftest import REPO

    return yaml.safe_load((REPO / "jupyter_hpo" / "server" / "openapi.yaml").read_text())["components"]["schemas"][name]


async def test_jobs_carry_their_owner_and_mine_keeps_the_requesters(jp_fetch, home):
    mine = api.launch(objective=objectives.quadratic, space=X, max_trials=1, name="own-mine")
    theirs = _alices("own-theirs", max_trials=1)
    mine.wait(timeout=60), theirs.wait(timeout=60)

    body = await get(jp_fetch, "jobs")
    me = identity()
    assert body["me"] == {**me, "name": owner_name(me)} and body["me"]["host"] == socket.gethostname()
    owners = {j["name"]: j["owner"] for j in body["jobs"]}
    assert owners == {"own-mine": {**me, "name": owner_name(me)}, "own-theirs": {**ALICE, "name": "alice"}}
    assert sorted(owners["own-theirs"]) == sorted(_schema("Owner")["properties"])
    assert [j["stopped_by"] for j in body["jobs"]] == [None, None]

    assert [j["name"] for j in (await get(jp_fetch, "jobs", mine="1"))["jobs"]] == ["own-mine"]
    assert [j["name"] for j in (await get(jp_fetch, "jobs", mine="true"))["jobs"]] == ["own-mine"]
    assert sorted(j["name"] for j in (await get(jp_fetch, "jobs", mine="0"))["jobs"]) == ["own-mine", "own-theirs"]
    detail = await get(jp_fetch, "jobs", "own-theirs")
    assert detail["job"]["owner"]["name"] == "alice" and detail["job"]["owner"]["host"] == "alices-laptop"

    # a job from before owners were recorded has no owner, and counts as the requester's
    theirs.store.set_job_attrs("own-theirs", owner=None)
    assert (await get(jp_fetch, "jobs", "own-theirs"))["job"]["owner"] is None
    assert sorted(j["name"] for j in (await get(jp_fetch, "jobs", mine="1"))["jobs"]) == ["own-mine", "own-theirs"]

    code, reason = await fail(jp_fetch, "jobs", params={"mine": "yes"})
    assert (code, reason) == (400, "`mine` must be 1, 0, true or false, but got 'yes'.")
    code, reason = await fail(jp_fetch, "jobs", params={"mien": "1"})  # a misspelt option is not ignored
    assert (code, reason) == (400, "`GET jobs` takes only `mine`, but got 'mien'.")
    code, reason = await fail(jp_fetch, "jobs", params={"17964": "1"})  # a number with a value is no cache-buster
    assert (code, reason) == (400, "`GET jobs` takes only `mine`, but got '17964'.")
    # what the sidebar sends: JupyterLab's ServerConnection appends a cache-busting number to every GET
    assert sorted(j["name"] for j in (await get(jp_fetch, "jobs", **{"1796438641599": ""}, mine="1"))["jobs"]) == [
        "own-mine", "own-theirs"]


async def test_another_users_job_needs_force_and_who_acted_is_recorded(jp_fetch, home):
    job = _alices("alices-run", max_trials=60)
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)

    code, reason = await fail(jp_fetch, "jobs", "alices-run", "stop", method="POST", body="")
    assert code == 409
    assert reason == ("only a job's owner may stop it without {\"force\": true}, but job 'alices-run' belongs to "
                      "alice (launched on alices-laptop); pass {\"force\": true} to stop it anyway (who did is "
                      "recorded).")
    code, _ = await fail(jp_fetch, "jobs", "alices-run", "stop", method="POST", body=json.dumps({"force": False}))
    assert code == 409
    assert job.status == JobStatus.RUNNING and not job.attrs["stop_requested"]

    stopped = await post(jp_fetch, "alices-run", "stop", json.dumps({"force": True}))
    assert job.wait(timeout=30) == JobStatus.STOPPED
    me = identity()
    assert stopped["stopped_by"]["via"] == "rest" and stopped["stopped_by"]["user"] == me["user"]
    assert stopped["stopped_by"]["host"] == socket.gethostname() and stopped["stopped_by"]["time"] > 0
    assert sorted(stopped["stopped_by"]) == sorted(_schema("Actor")["properties"])
    assert job.attrs["stopped_by"]["via"] == "rest" and job.attrs["owner"] == ALICE, "the owner stays alice"

    code, reason = await fail(jp_fetch, "jobs", "alices-run", "resume", method="POST", body="")
    assert code == 409 and "only a job's owner may resume it" in reason and "alice" in reason
    assert job.status == JobStatus.STOPPED
    resumed = await post(jp_fetch, "alices-run", "resume", json.dumps({"force": True}))
    assert resumed["resumed_by"]["via"] == "rest" and resumed["resumed_by"]["user"] == me["user"]
    detail = (await get(jp_fetch, "jobs", "alices-run"))["job"]
    assert detail["resumed_by"]["time"] >= detail["stopped_by"]["time"]
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    job.stop(timeout=30)


async def test_own_jobs_need_no_force_and_record_the_requester(jp_fetch, home):
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=60,
                     name="my-run")
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    await post(jp_fetch, "my-run", "stop")
    assert job.wait(timeout=30) == JobStatus.STOPPED
    assert job.attrs["stopped_by"]["via"] == "rest" and job.attrs["stopped_by"]["user"] == identity()["user"]


@pytest.mark.parametrize("jp_server_config", [(False, False)], indirect=True)
async def test_the_server_setting_refuses_another_users_job_even_with_force(jp_fetch, home):
    job = _alices("alices-guarded", max_trials=60)
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    for body in ("", json.dumps({"force": True})):
        code, reason = await fail(jp_fetch, "jobs", "alices-guarded", "stop", method="POST", body=body)
        assert code == 403
        assert reason == ("this server does not let anyone stop another user's job "
                          "(HpoExtension.allow_acting_on_others_jobs is False): job 'alices-guarded' belongs to "
                          "alice (launched on alices-laptop).")
    assert job.status == JobStatus.RUNNING and not job.attrs["stop_requested"]
    job.stop(timeout=30)  # through the Python API (which does not read the server's setting)
    code, reason = await fail(jp_fetch, "jobs", "alices-guarded", "resume", method="POST",
                              body=json.dumps({"force": True}))
    assert code == 403 and "resume another user's job" in reason
    assert job.status == JobStatus.STOPPED

    own = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=60,
                     name="still-mine")
    wait_for(lambda: own.status == JobStatus.RUNNING, timeout=30)
    await post(jp_fetch, "still-mine", "stop")  # one's own jobs stay one's own to stop
    assert own.wait(timeout=30) == JobStatus.STOPPED


async def test_a_hub_users_server_on_a_token_is_its_hub_users_not_a_random_anonymous_name(jp_fetch, home,
                                                                                           monkeypatch):
    """$JUPYTERHUB_USER set (a server started from a Hub terminal, say) but Jupyter's own token login: the token
    names nobody, so the requester is the server's Hub user. It was Jupyter's random anonymous name, new for each
    client: Mine was empty and the user's own jobs needed force."""
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=60,
                     name="alices-own")
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    for _ in range(2):
        body = await get(jp_fetch, "jobs", mine="1")
        assert body["me"]["jupyter"] == "alice" and [j["name"] for j in body["jobs"]] == ["alices-own"], body["me"]
    stopped = await post(jp_fetch, "alices-own", "stop")  # her own job: no force
    assert stopped["stopped_by"]["jupyter"] == "alice"
    assert job.wait(timeout=30) == JobStatus.STOPPED


@pytest.mark.parametrize("jp_server_config", [(True, True)], indirect=True)
async def test_on_a_hub_the_requester_is_the_hub_user_who_sent_the_request(jp_fetch, home, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")  # alice's server; bob sends the requests
    alices = api.launch(objective=objectives.quadratic, space=X, max_trials=1, name="hub-alice")
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    bobs = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=60,
                      name="hub-bob")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    alices.wait(timeout=60)
    wait_for(lambda: bobs.status == JobStatus.RUNNING, timeout=30)

    body = await get(jp_fetch, "jobs", mine="1")
    assert body["me"]["jupyter"] == "bob" and body["me"]["name"] == "bob"
    assert [j["name"] for j in body["jobs"]] == ["hub-bob"]
    stopped = await post(jp_fetch, "hub-bob", "stop")  # bob's own job: no force needed
    assert stopped["stopped_by"]["jupyter"] == "bob" and stopped["stopped_by"]["via"] == "rest"
    assert bobs.wait(timeout=30) == JobStatus.STOPPED
    code, reason = await fail(jp_fetch, "jobs", "hub-alice", "resume", method="POST", body="")
    assert code == 409 and "belongs to alice" in reason


@pytest.mark.parametrize("jp_server_config", [(True, True)], indirect=True)
async def test_on_a_hub_a_refit_is_the_requesters_job_and_a_register_promises_no_record(jp_fetch, home, monkeypatch):
    """A refit through REST was owned by the server's user (alice), whoever asked: bob's refit of alice's job, with
    force, recorded bob nowhere, though the refusal said "who did is recorded"; and bob's refit of his own job was
    not his (``mine`` left it out, and he needed force to stop it). A register records nothing, so its refusal no
    longer says it does."""
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")  # alice's server; bob sends the requests
    alices = api.launch(objective=objectives.quadratic, space=X, max_trials=2, name="hub-fit")
    assert alices.wait(timeout=60) == JobStatus.COMPLETED
    code, reason = await fail(jp_fetch, "jobs", "hub-fit", "refit", method="POST", body="")
    assert code == 409 and reason.endswith('pass {"force": true} to refit it anyway (who did is recorded).')
    code, reason = await fail(jp_fetch, "jobs", "hub-fit", "register", method="POST",
                              body='{"to": "mlflow", "model_name": "m"}')
    assert code == 409 and reason.endswith('pass {"force": true} to register it anyway.'), reason
    refit = await post(jp_fetch, "hub-fit", "refit", '{"force": true}')
    assert refit["name"] == "hub-fit-refit" and owner_name(refit["owner"]) == "bob", refit["owner"]
    assert owner_name(api.attach("hub-fit-refit").attrs["owner"]) == "bob"
    body = await get(jp_fetch, "jobs", mine="1")
    assert [j["name"] for j in body["jobs"]] == ["hub-fit-refit"]  # bob's own
    assert api.attach("hub-fit-refit").wait(timeout=60) == JobStatus.COMPLETED


@pytest.mark.parametrize(("body", "reason"), [
    ("force", 'the body must be a JSON object such as {"force": true}.'),
    ("[true]", 'the body must be a JSON object such as {"force": true}, but got list.'),
    ('{"force": "yes"}', "`force` must be true or false, but got 'yes'."),
    ('{"force": 1}', "`force` must be true or false, but got 1."),
    ('{"force": true, "max_trials": 9}', "the body may hold only `force`, but got 'max_trials'."),
    (LONG, f"the body must be at most 1024 bytes, but got {len(LONG)}."),
    # `null` is a body, not an empty one
    ("null", 'the body must be a JSON object such as {"force": true}, but got null.'),
    # within the size limit, but deeper than Python's json parser goes (a RecursionError, which was a 500)
    (DEEP, 'the body must be a JSON object such as {"force": true}, but it is nested too deeply to read.'),
    (DEEP_FORCE, f"`force` must be true or false, but got {'[' * 500}{']' * 500}."),
])
@pytest.mark.parametrize("action", ["stop", "resume"])
async def test_a_body_that_is_not_force_is_refused_before_anything_happens(jp_fetch, home, body, reason, action):
    job = _alices("alices-body", max_trials=1)
    job.wait(timeout=60)
    status = job.status
    code, text = await fail(jp_fetch, "jobs", "alices-body", action, method="POST", body=body)
    assert (code, text) == (400, reason)
    assert job.status == status and "stopped_by" not in job.attrs and "resumed_by" not in job.attrs
