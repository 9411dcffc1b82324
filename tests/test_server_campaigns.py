"""Stopping and resuming a campaign through the REST API (jp_fetch, a real Jupyter server in this process, real
campaign runner processes): ``POST campaigns/{name}/stop`` and ``.../resume``, their answers against openapi.yaml,
the owner rules of a job's stop and resume applied to every job of the campaign, and the refusals."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient

from jupyter_hpo import api
from jupyter_hpo.campaign import attach_campaign, campaign
from tests.conftest import wait_for
from tests.test_campaign import write_specs

ALICE = {"user": "alice", "host": "alices-laptop", "jupyter": None, "studio": None}


@pytest.fixture
def jp_server_config(home, request):
    """The extension, with ``allow_acting_on_others_jobs`` from the test's parameter (default True)."""
    allow = getattr(request, "param", True)
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}},
            "HpoExtension": {"allow_acting_on_others_jobs": allow}}


async def act(jp_fetch, name, action, body=""):
    response = await jp_fetch("jupyter-hpo", "api", "campaigns", name, action, method="POST", body=body)
    assert response.code == 200
    return json.loads(response.body)


async def fail(jp_fetch, name, action, body=""):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", "campaigns", name, action, method="POST", body=body)
    return info.value.code, json.loads(info.value.response.body)["reason"]


def _check_schema(body: dict, action: str) -> None:
    import jsonschema
    import yaml

    from tests.conftest import REPO

    doc = yaml.safe_load((REPO / "jupyter_hpo" / "server" / "openapi.yaml").read_text())
    ref = doc["paths"][f"/campaigns/{{name}}/{action}"]["post"]["responses"]["200"]["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["responses"][ref]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": doc["components"]})


def _running(tmp_path, name: str, jobs: list[str]):
    """A campaign whose first job has completed a trial and runs on (12 trials of 1 s each)."""
    c = campaign(write_specs(tmp_path, jobs, trials=12, sleep=1.0), name=name)
    first = api.attach(jobs[0])
    wait_for(lambda: any(r["state"] == "complete" for r in first.trial_records()), timeout=60)
    return c


async def test_stop_and_resume_a_campaign_through_rest(jp_fetch, home, tmp_path):
    c = _running(tmp_path, "rest.halt_1", ["rh1", "rh2"])
    body = await act(jp_fetch, "rest.halt_1", "stop")
    _check_schema(body, "stop")
    assert body["campaign"]["name"] == "rest.halt_1"
    assert [j["name"] for j in body["campaign"]["jobs"]] == ["rh1", "rh2"]
    assert c.wait(timeout=60) == "stopped"
    first, second = api.attach("rh1"), api.attach("rh2")
    assert first.status.value == "stopped" and first.summary()["complete"] < 12
    assert second.status.value == "stopped" and "stopped with its campaign before it started" in second.attrs["reason"]
    # who stopped it: the request's user, through Jupyter, as a job stopped through REST records it
    assert first.attrs["stopped_by"]["via"] == second.attrs["stopped_by"]["via"] == "rest"

    assert await fail(jp_fetch, "rest.halt_1", "stop") == (409, "campaign 'rest.halt_1' is already stopped.")

    body = await act(jp_fetch, "rest.halt_1", "resume")
    _check_schema(body, "resume")
    assert body["campaign"]["status"] == "running"
    assert api.attach("rh1").attrs["resumed_by"]["via"] == api.attach("rh2").attrs["resumed_by"]["via"] == "rest"
    code, reason = await fail(jp_fetch, "rest.halt_1", "resume")
    assert code == 409 and "is running; it cannot be resumed while its runner runs" in reason
    await act(jp_fetch, "rest.halt_1", "stop")  # not to wait for 20 more seconds of trials
    assert c.wait(timeout=60) == "stopped"


async def test_resuming_a_completed_campaign_or_an_unknown_one_is_refused(jp_fetch, home, tmp_path):
    c = campaign(write_specs(tmp_path, ["done1"], trials=1), name="all-done")
    assert c.wait(timeout=60) == "completed"
    code, reason = await fail(jp_fetch, "all-done", "resume")
    assert (code, reason) == (409, "campaign 'all-done' has completed every job; there is nothing to resume.")
    assert await fail(jp_fetch, "all-done", "stop") == (409, "campaign 'all-done' is already completed.")
    code, reason = await fail(jp_fetch, "ghost", "stop")
    assert code == 404 and reason.startswith("no campaign named 'ghost'")
    code, reason = await fail(jp_fetch, "all-done", "stop", body='{"force": 1}')
    assert (code, reason) == (400, "`force` must be true or false, but got 1.")
    assert attach_campaign("all-done").status == "completed", "nothing happened"


@pytest.mark.parametrize(("body", "reason"), [
    ("null", 'the body must be a JSON object such as {"force": true}, but got null.'),
    ("[" * 1024, 'the body must be a JSON object such as {"force": true}, but it is nested too deeply to read.'),
])
@pytest.mark.parametrize("action", ["stop", "resume"])
async def test_a_null_or_too_deeply_nested_body_is_a_400(jp_fetch, home, tmp_path, body, reason, action):
    c = campaign(write_specs(tmp_path, ["deep1"], trials=1), name="deep")
    assert c.wait(timeout=60) == "completed"
    assert await fail(jp_fetch, "deep", action, body=body) == (400, reason)
    assert attach_campaign("deep").status == "completed", "nothing happened"


async def test_a_campaign_with_another_users_job_needs_force(jp_fetch, home, tmp_path):
    c = _running(tmp_path, "mixed", ["mx1", "mx2"])
    home_store = api.attach("mx2").store
    home_store.set_job_attrs("mx2", owner=ALICE)
    code, reason = await fail(jp_fetch, "mixed", "stop")
    assert code == 409 and "job 'mx2' belongs to alice (launched on alices-laptop)" in reason, reason
    assert api.attach("mx1").status.value == "running", "nothing was stopped"
    body = await act(jp_fetch, "mixed", "stop", body='{"force": true}')
    assert body["campaign"]["name"] == "mixed"
    assert c.wait(timeout=60) == "stopped"
    assert api.attach("mx2").attrs["owner"] == ALICE, "the owner stays alice"


@pytest.mark.parametrize("jp_server_config", [False], indirect=True)
async def test_the_server_setting_refuses_a_campaign_with_another_users_job(jp_fetch, home, tmp_path):
    c = _running(tmp_path, "guarded", ["gd1", "gd2"])
    api.attach("gd1").store.set_job_attrs("gd2", owner=ALICE)
    code, reason = await fail(jp_fetch, "guarded", "stop", body='{"force": true}')
    assert code == 403 and reason == (
        "this server does not let anyone stop another user's job (HpoExtension.allow_acting_on_others_jobs is "
        "False): job 'gd2' belongs to alice (launched on alices-laptop).")
    assert api.attach("gd1").status.value == "running", "nothing was stopped"
    c.stop(wait=True)


def _check_jobs_schema(body: dict) -> None:
    import jsonschema
    import yaml

    from tests.conftest import REPO

    doc = yaml.safe_load((REPO / "jupyter_hpo" / "server" / "openapi.yaml").read_text())
    schema = doc["paths"]["/jobs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": doc["components"]})


async def test_get_jobs_carries_each_campaigns_summary_and_mine_keeps_whole_campaigns(jp_fetch, home, tmp_path):
    duo = campaign(write_specs(tmp_path, ["duo1", "duo2"], trials=2), name="duo")
    assert duo.wait(timeout=120) == "completed"
    assert campaign(write_specs(tmp_path, ["her1"], trials=1), name="hers").wait(timeout=120) == "completed"
    store = api.attach("duo2").store
    for job in ("duo2", "her1"):
        store.set_job_attrs(job, owner=ALICE)

    body = json.loads((await jp_fetch("jupyter-hpo", "api", "jobs")).body)
    _check_jobs_schema(body)
    # what `jupyter hpo campaign show` says of each, so the sidebar shows the same
    assert body["campaigns"] == {"duo": attach_campaign("duo").summary(), "hers": attach_campaign("hers").summary()}
    assert body["campaigns"]["duo"]["status"] == "completed" and body["campaigns"]["duo"]["trials"] == 4

    # mine: only the requester's job is listed, but its campaign is summarized whole (alice's job too); the
    # campaign with none of the requester's jobs is left out
    body = json.loads((await jp_fetch("jupyter-hpo", "api", "jobs", params={"mine": "1"})).body)
    _check_jobs_schema(body)
    assert [j["name"] for j in body["jobs"]] == ["duo1"]
    assert body["campaigns"] == {"duo": attach_campaign("duo").summary()}
    assert [j["name"] for j in body["campaigns"]["duo"]["jobs"]] == ["duo1", "duo2"]
