"""Runners seen from another machine: clocks that differ, lock files written by another host, and a launch
folder that was deleted before a resume."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import JobStateError
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}

# Loaded by every process started with HPO_TEST_FAR_HOST (the runner and its workers): this machine is
# called "far-away-host" and its clock is 200 s behind the test's, as a runner on a badly synced host.
FAR_HOST = textwrap.dedent("""
    import os

    if os.environ.get("HPO_TEST_FAR_HOST"):
        import socket
        import time

        _real_time = time.time
        time.time = lambda: _real_time() - 200.0
        socket.gethostname = lambda: "far-away-host"
""")


def test_a_healthy_runner_whose_clock_lags_200_s_is_not_resumed_over_or_stopped_as_dead(home, tmp_path, monkeypatch):
    fault = tmp_path / "fault"
    fault.mkdir()
    (fault / "sitecustomize.py").write_text(FAR_HOST)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fault), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HPO_TEST_FAR_HOST", "1")
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=40,
                     max_parallel=1, name="far")
    monkeypatch.delenv("HPO_TEST_FAR_HOST")
    wait_for(lambda: (job.attrs.get("runner") or {}).get("host") == "far-away-host", timeout=60)
    pid = job.attrs["runner"]["pid"]
    wait_for(lambda: job.summary()["complete"] >= 1, timeout=60)

    with pytest.raises(JobStateError, match="cannot be resumed while its runner runs"):
        api.attach("far").resume()
    assert psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE, "resume ended it"
    assert api.attach("far").store.watch_status("far") == JobStatus.RUNNING

    assert job.stop(timeout=60) == JobStatus.STOPPED
    assert job.attrs["reason"] == "stopped on request", "the runner itself stopped, it was not declared dead"


def test_a_lock_held_by_a_pid_of_another_host_is_never_signalled(tmp_path):
    from jupyter_hpo.runner._lock import RunnerLock

    # a runner of another machine whose job folder is shared with this one (a home on a network file system,
    # or a second PID namespace on one machine): its pid means nothing here
    holder = subprocess.Popen([sys.executable, "-c", (
        "import socket, time; socket.gethostname = lambda: 'some-other-host'\n"
        "from jupyter_hpo.runner._lock import RunnerLock\n"
        f"lock = RunnerLock({str(tmp_path)!r}, 'j'); assert lock.acquire(stale_after=1e9)\n"
        "print('held', flush=True); time.sleep(600)")], stdout=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        os.utime(tmp_path / "runner.lock", (time.time() - 100, time.time() - 100))  # silent for 100 s
        lock = RunnerLock(tmp_path, "j")
        assert not lock.acquire(stale_after=30), "the lock is not ours to take"
        assert holder.poll() is None, "a process named by another host's lock file was killed"
    finally:
        holder.kill()
        holder.wait()


def test_a_job_whose_launch_folder_was_deleted_resumes_and_stops(home, tmp_path, monkeypatch):
    launch_dir = tmp_path / "launch"
    launch_dir.mkdir()
    monkeypatch.chdir(launch_dir)
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.2}, max_trials=50,
                     name="moved")
    wait_for(lambda: job.summary()["complete"] >= 1, timeout=60)
    assert job.stop(timeout=60) == JobStatus.STOPPED
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(launch_dir)

    job.resume()
    wait_for(lambda: job.status == JobStatus.RUNNING and job.summary()["complete"] >= 2, timeout=60)
    assert job.stop(timeout=60) == JobStatus.STOPPED
    log = (Path(home) / "jobs" / "moved" / "runner.log").read_text()
    assert f"the launch folder {launch_dir} no longer exists" in log


def test_a_pending_job_is_never_judged_by_another_jobs_heartbeat(monkeypatch):
    """Jobs without a runner yet all look alike to the heartbeat watch: it must not mix them up (a job just
    launched was shown stale, so `wait()` returned at once, because earlier pending jobs had been watched)."""
    from jupyter_hpo.store import STALE_ENV, Store

    monkeypatch.setenv(STALE_ENV, "1")
    now = time.time()
    resumed = {"status": "pending", "runner": {}, "created": now - 60, "heartbeat": now}
    launched = {"status": "pending", "runner": {}, "created": now}
    assert Store.status_of(resumed, now) == JobStatus.PENDING
    assert Store.status_of(launched, now) == JobStatus.PENDING
    time.sleep(1.2)
    another = {"status": "pending", "runner": {}, "created": time.time()}  # launched a moment ago
    assert Store.status_of(another) == JobStatus.PENDING
