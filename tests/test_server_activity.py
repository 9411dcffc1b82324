"""The server stays active while its user's job runs (idle shutdown reads its activity), and only then: a real
Jupyter server (pytest-jupyter) and real runner processes."""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest

from jupyter_hpo import api, owners
from jupyter_hpo.server._activity import KEY, running_here
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

SLOW = {"x": {"type": "float", "low": 0, "high": 1}, "sleep": [1.0]}


@pytest.fixture
def jp_server_config(home, request):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}},
            "HpoExtension": {"activity_interval_s": 0.2, **getattr(request, "param", {})}}


async def last_activity(jp_fetch) -> datetime.datetime:
    """What an idle checker reads: ``GET /api/status``'s ``last_activity`` (asked without counting as activity)."""
    response = await jp_fetch("api", "status", params={"no_track_activity": "1"})
    return datetime.datetime.fromisoformat(json.loads(response.body)["last_activity"].replace("Z", "+00:00"))


async def wait_async(predicate, timeout: float) -> None:
    """wait_for, yielding to the server's event loop (which runs the checks) between tries."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_running_job_keeps_the_server_active_and_a_stopped_one_does_not(jp_fetch, jp_serverapp, home):
    times = jp_serverapp.web_app.settings["last_activity_times"]
    await asyncio.sleep(1.0)
    assert KEY not in times  # no job yet: nothing marked
    job = api.launch(objective=objectives.sleepy, space=SLOW, max_trials=100, max_parallel=1, name="long")
    await wait_async(lambda: KEY in times, timeout=60)
    first = await last_activity(jp_fetch)
    await wait_async(lambda: times[KEY] > first, timeout=30)  # marked again and again while it runs
    assert await last_activity(jp_fetch) > first
    assert job.stop(wait=True) == JobStatus.STOPPED
    await asyncio.sleep(1.0)  # a check may have been under way
    ended = times[KEY]
    await asyncio.sleep(1.5)  # seven more checks: none marks the server active
    assert times[KEY] == ended and await last_activity(jp_fetch) == ended


@pytest.mark.parametrize("jp_server_config", [{"keep_active_while_jobs_run": False}], indirect=True)
async def test_the_setting_turns_it_off(jp_fetch, jp_serverapp, home):
    job = api.launch(objective=objectives.sleepy, space=SLOW, max_trials=100, max_parallel=1, name="off")
    wait_for(lambda: job.summary()["running"] >= 1, timeout=60)
    await asyncio.sleep(1.5)
    assert KEY not in jp_serverapp.web_app.settings["last_activity_times"]
    job.stop(wait=True)


def test_only_this_users_jobs_on_this_host_count(home):
    job = api.launch(objective=objectives.sleepy, space=SLOW, max_trials=100, max_parallel=1, name="mine")
    try:
        wait_for(lambda: job.summary()["running"] >= 1, timeout=60)  # its runner is recorded
        store = api.open_store()
        me = owners.identity()
        assert running_here(store) == ["mine"]
        assert running_here(store, {**me, "user": "someone-else", "studio": None, "jupyter": None}) == []
        store.set_job_attrs("mine", runner={**api.attach("mine").attrs["runner"], "host": "another-machine"})
        assert running_here(store) == []  # its runner is elsewhere: this server's machine does not matter to it
    finally:
        job.stop(wait=True)
    assert running_here(api.open_store()) == []
