"""The REST API against its OpenAPI document, property-based (schemathesis), on a real server.

A real ``jupyter server`` process with a token and the extension enabled listens on 127.0.0.1. Its
store holds a finished job (with HTML in its values) and a job that is still running, so generated
requests hit real data as well as missing jobs. Every generated request must get a response that
is not a 5xx and that matches the document (status code, content type, body schema); requests
without the token must all be rejected.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import REPO

OPENAPI = REPO / "jupyter_hpo" / "server" / "openapi.yaml"
TOKEN = "fuzz-secret-token"
schema = schemathesis.openapi.from_path(OPENAPI)
# schema-valid requests only: a negative case that drops the Authorization header is made valid again by the
# token the test adds, and Jupyter itself takes extra query parameters (`token`); bad bodies and the token are
# checked request by request in test_server*.py and below
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz-server")
    home = base / "hpo-home"
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    _seed_jobs(home, env)
    port = _free_port()
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={base}", "--allow-root",
         "--ServerApp.jpserver_extensions={'jupyter_hpo': True}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server did not start; see {base / 'server.log'}") from None
            time.sleep(0.25)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _seed_jobs(home: Path, env: dict[str, str]) -> None:
    """A finished job with markup in its values, and one left running (stopped at the end)."""
    code = f"""
import json
from jupyter_hpo import api
def f(params):
    if params["label"].startswith("<script"):
        raise ValueError("<img src=x onerror=alert(1)> in the error")
    return 1.0
job = api.launch(objective=f, space={{"label": ["<b>bold</b>", "<script>alert(1)</script>"]}},
                 strategy="grid", max_trials=2, name="markup")
assert job.wait(timeout=120).value == "completed"
import time
def slow(params):
    time.sleep(3600)
    return 0.0
api.launch(objective=slow, space={{"x": {{"type": "float", "low": 0, "high": 1}}}}, max_trials=1,
           max_parallel=1, name="busy")
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True, timeout=180)


@pytest.fixture(scope="module", autouse=True)
def _stop_busy_job(server):
    yield
    req = urllib.request.Request(f"{server}/jupyter-hpo/api/jobs/busy/stop", method="POST", data=b"",
                                 headers={"Authorization": f"token {TOKEN}"})
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError:
        pass


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_a_documented_response(case, server):
    # Jupyter answers a missing token with 403 (documented), not 401, because the token can also come
    # as a cookie or a query parameter; the test below checks that every route rejects it
    case.call_and_validate(base_url=f"{server}/jupyter-hpo/api", headers={"Authorization": f"token {TOKEN}"},
                           excluded_checks=[schemathesis.checks.missing_required_header])


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_in_without_the_token(case, server):
    # refused: 403 without a valid token; 405 for a method the route lacks and 400 for a malformed request
    # (both before authentication, revealing nothing); test_server checks 403 on every route and method
    for headers in (None, {"Authorization": "token not-the-token"}):
        response = case.call(base_url=f"{server}/jupyter-hpo/api", headers=headers)
        if case.method == "OPTIONS":  # Jupyter's CORS preflight answers without auth, and with no data
            assert response.status_code in (200, 204) and not response.content
            continue
        assert response.status_code in (400, 403, 405), (case.method, case.formatted_path, response.status_code)
        assert b"jobs" not in response.content and b"trials" not in response.content


def test_markup_comes_back_as_json_text(server):
    req = urllib.request.Request(f"{server}/jupyter-hpo/api/jobs/markup/trials",
                                 headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("application/json")
        body = json.loads(r.read())
    labels = sorted(t["params"]["label"] for t in body["trials"])
    assert labels == ["<b>bold</b>", "<script>alert(1)</script>"]


@pytest.mark.parametrize("path", ["jobs/..%2F..%2Fetc%2Fpasswd", "jobs/markup%27%20OR%201%3D1--",
                                  "jobs/%2Fetc%2Fpasswd/trials", "jobs/a%00b", "jobs/" + "a" * 64])
def test_names_that_are_not_job_names_never_reach_the_store(server, path):
    req = urllib.request.Request(f"{server}/jupyter-hpo/api/{path}", headers={"Authorization": f"token {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 404
