"""The REST handlers read the store off the server's event loop: a slow read holds one request, not the server.

A real Jupyter server (pytest-jupyter's ``jp_fetch``, in this process and on this event loop). The store read of
``GET jobs`` is held on a ``threading.Event`` until the test releases it. While it is held, the server answers
other requests. Had the handler read the store on the event loop, the loop (the test's too) would stand still
in the held read until its wait gave up, so the read would record that nobody released it, and the test fails.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from jupyter_hpo import api
from tests import objectives

X = {"x": {"type": "float", "low": 0, "high": 1}}
#: how long the held read waits for its release before it gives up (only reached when the loop is blocked)
HOLD_S = 30


@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


class HeldRead:
    """Wraps a core function: each call says it started, then waits until ``release`` is set."""

    def __init__(self, fn):
        self.fn = fn
        self.started = threading.Event()
        self.release = threading.Event()
        self.released: list[bool] = []  # per call: True when released while it waited, False when it gave up

    def __call__(self, *args, **kwargs):
        self.started.set()
        self.released.append(self.release.wait(HOLD_S))
        return self.fn(*args, **kwargs)


async def body(response) -> dict:
    assert response.code == 200
    return json.loads(response.body)


async def test_while_a_store_read_is_held_the_server_answers_other_requests(jp_fetch, home, monkeypatch):
    api.launch(objective=objectives.quadratic, space=X, max_trials=2, name="held").wait(timeout=60)
    held = HeldRead(api.list_jobs)
    monkeypatch.setattr(api, "list_jobs", held)

    first = asyncio.ensure_future(jp_fetch("jupyter-hpo", "api", "jobs"))
    assert await asyncio.to_thread(held.started.wait, HOLD_S), "GET jobs never read the store"
    # the read of GET jobs is in progress; the server's own status and other jupyter-hpo routes answer
    status = await body(await jp_fetch("api", "status"))
    job = await body(await jp_fetch("jupyter-hpo", "api", "jobs", "held"))
    trials = await body(await jp_fetch("jupyter-hpo", "api", "jobs", "held", "trials"))
    assert "started" in status
    assert job["job"]["name"] == "held" and job["job"]["complete"] == 2
    assert [t["number"] for t in trials["trials"]] == [0, 1]
    assert not first.done(), "GET jobs answered although its store read was still held"

    held.release.set()
    jobs = await body(await first)
    assert held.released == [True], "the held read gave up waiting: the event loop was blocked while it ran"
    assert [j["name"] for j in jobs["jobs"]] == ["held"]


async def test_errors_raised_in_the_executor_keep_their_status_and_reason(jp_fetch, home, monkeypatch):
    import tornado.httpclient

    from jupyter_hpo.exceptions import StoreError

    def broken(store):
        raise StoreError("the store is locked")

    monkeypatch.setattr(api, "list_jobs", broken)
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("jupyter-hpo", "api", "jobs")
    assert info.value.code == 503
    assert json.loads(info.value.response.body) == {"reason": "the store is locked"}
