"""Fault injection on whole jobs: bad return values, a machine restart, a hung runner, a kernel restart.

What test_runner.py and test_local_backend.py already cover (exceptions, ``os._exit``, segfaults,
time-outs, the memory bound, failures in a row, kill -9 of the runner alone + resume) is not repeated.
Each test checks the job's outcome, that no trial was lost or run twice (see ``assert_nothing_lost``)
and the recorded reason.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_core.utils import run_sync
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus, Store
from tests import objectives
from tests.conftest import wait_for
from tests.test_notebook import client_for, printed, widget_views

X = {"x": {"type": "float", "low": 0, "high": 1}}
STALE_ENV = "JUPYTER_HPO_STALE_AFTER_S"


def launch(**kw: Any) -> api.Job:
    kw.setdefault("space", X)
    kw.setdefault("seed", 0)
    return api.launch(**kw)


def count(job: api.Job, state: str) -> int:
    return sum(r["state"] == state for r in job.trial_records())


def assert_nothing_lost(job: api.Job, budget: int) -> list[dict[str, Any]]:
    """The budget was spent with no hole in the trial numbers, nothing still running, and no parameters run
    twice except as the one recorded re-run (``rerun_of``) of an interrupted trial. Returns the records."""
    raw = job.raw_trials()
    assert [t.number for t in raw] == list(range(len(raw))), "trial numbers have no holes"
    assert all(t.state.is_finished() for t in raw), "no trial is left running"
    interrupted = [t for t in raw if t.user_attrs.get("interrupted")]
    reruns = [t for t in raw if "rerun_of" in t.user_attrs]
    assert sorted(t.user_attrs["rerun_of"] for t in reruns) == [t.number for t in interrupted], \
        "each interrupted trial is re-run exactly once"
    for t in reruns:
        assert raw[t.user_attrs["rerun_of"]].params == t.params, "a re-run repeats its trial's parameters"
        assert raw[t.user_attrs["rerun_of"]].user_attrs["seed"] == t.user_attrs["seed"], "and its seed"
    firsts = [json.dumps(t.params, sort_keys=True) for t in raw if "rerun_of" not in t.user_attrs]
    assert len(set(firsts)) == len(firsts), "no parameters ran twice other than as a recorded re-run"
    assert len(raw) - len(interrupted) == budget, "every trial of the budget is in the store"
    return job.trial_records()


def job_processes(home: Path) -> list[psutil.Process]:
    """Live processes started for this test's store: runners and workers inherit its JUPYTER_HPO_HOME."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get("JUPYTER_HPO_HOME") == str(home) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            pass
    return found


def gone(procs: list[psutil.Process]) -> bool:
    def dead(p: psutil.Process) -> bool:
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(dead(p) for p in procs)


@pytest.fixture(autouse=True)
def no_leftovers(home: Path):
    """Whatever a failing test leaves of its own jobs (a stopped runner, workers) is killed afterwards."""
    yield
    for proc in job_processes(home):
        try:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        except psutil.Error:
            pass


# -- 1. what an objective returns ----------------------------------------------------------------
def test_a_bad_return_value_fails_its_trial_saying_what_was_returned_and_the_job_goes_on(home):
    reasons = {  # NaN, +inf, a string and None are in test_runner's objective_failures test
        "-inf": "the objective returned -inf, not a finite number",
        "no-metric": "the returned dict has no key 'objective' (keys: ['loss', 'accuracy'])",
        "metric-nan": "the objective returned nan, not a finite number",
        "metric-text": "the objective returned 'high', not a number",
        "list": "the objective returned [0.5], not a number",
        "bool": "the objective returned True, not a number",
        "numpy-bool": "the objective returned np.False_, not a number",
    }
    job = launch(objective=objectives.bad_return, space={"mode": ["ok", *reasons]}, strategy="grid",
                 max_trials=50, max_consecutive_failures=10, name="bad-returns")
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "budget of 8 trials reached", "the grid's 8 points, each once"
    by_mode = {r["params"]["mode"]: r for r in assert_nothing_lost(job, budget=8)}
    assert by_mode["ok"]["state"] == "complete" and by_mode["ok"]["value"] == 1.0
    for mode, reason in reasons.items():
        assert (by_mode[mode]["state"], by_mode[mode]["error"]) == ("fail", reason), mode
    summary = job.summary()
    assert (summary["complete"], summary["failed"], summary["best"]["params"]) == (1, 7, {"mode": "ok"})


# -- 2. every process of a job killed at once ------------------------------------------------------
def test_a_machine_restart_kills_runner_and_workers_and_resume_loses_and_repeats_nothing(home):
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.4}, max_trials=10, max_parallel=2,
                 name="power-cut")
    wait_for(lambda: count(job, "complete") >= 3 and count(job, "running") == 2, timeout=60)
    runner = psutil.Process(job.attrs["runner"]["pid"])
    workers = runner.children(recursive=True)
    assert len(workers) >= 2 and os.getpgid(runner.pid) == runner.pid, "the runner leads its workers' group"
    os.killpg(runner.pid, signal.SIGKILL)  # runner, workers and multiprocessing's helpers, all at once
    wait_for(lambda: gone([runner, *workers]), timeout=15)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=15)
    before = {r["number"]: r for r in job.trial_records()}
    running = {n for n, r in before.items() if r["state"] == "running"}
    assert running, "trials were running when the machine went down"

    job.resume()
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "budget of 10 trials reached"
    records = assert_nothing_lost(job, budget=10)
    assert {r["number"] for r in records if r["interrupted"]} == running
    assert all(r["error"] == "interrupted: the runner stopped while it ran" for r in records if r["interrupted"])
    for number, rec in before.items():  # nothing that had finished changed
        if rec["state"] == "complete":
            assert records[number] == rec
    assert sum(r["state"] == "complete" for r in records) == 10
    assert wait_for(lambda: not job_processes(home), timeout=15), "no runner or worker outlives the job"


SLOW_START = """\
import os, sys, time
if sys.argv[:1] == ["-m"] and os.environ.get("HPO_TEST_SLOW_START") in sys.argv:  # the job's runner, as it loads
    time.sleep(60)
"""


def test_a_runner_killed_before_it_registers_shows_stale_at_once_and_stop_ends_the_job(home, tmp_path, monkeypatch):
    """A runner killed in its first second (the OOM killer, a machine's restart) left the job `pending` for 30 s:
    `resume` refused ("while its runner runs") and `stop` waited, then exited 0 leaving it `stale`."""
    fault = tmp_path / "fault"
    fault.mkdir()
    (fault / "sitecustomize.py").write_text(SLOW_START)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fault), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HPO_TEST_SLOW_START", "early")
    job = api.launch(objective=objectives.quadratic, space=X, max_trials=4, max_parallel=1, name="early")
    monkeypatch.delenv("HPO_TEST_SLOW_START")
    pid = job.attrs["spawned"]["pid"]
    assert job.status == JobStatus.PENDING and not job.attrs.get("runner")
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=5), job.attrs
    started = time.monotonic()
    assert job.stop(timeout=30) == JobStatus.STOPPED and time.monotonic() - started < 10
    assert job.attrs["reason"] == "stopped (its runner had died)"
    job.resume()  # its new runner (no longer slowed) runs the job
    assert job.wait(timeout=90) == JobStatus.COMPLETED and job.summary()["complete"] == 4


def test_workers_of_a_runner_killed_alone_end_with_it(home, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()  # the trials wait until the test lets them finish
    job = launch(objective=objectives.gated, hyperparameters={"hold": str(hold)}, max_trials=4, max_parallel=2,
                 name="orphans")
    wait_for(lambda: len(list(tmp_path.glob("hold.started.*"))) == 2, timeout=60)  # both objectives run
    runner = psutil.Process(job.attrs["runner"]["pid"])
    busy = {int(p.suffix[1:]) for p in tmp_path.glob("hold.started.*")}
    workers = [w for w in runner.children(recursive=True) if w.pid in busy]
    assert len(workers) == 2, "both trials run in the runner's workers"
    runner.kill()
    assert wait_for(lambda: gone(workers), timeout=15), "a worker does not run on for a runner that is gone"
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=15)

    hold.unlink()
    job.resume()
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = assert_nothing_lost(job, budget=4)
    assert [r["number"] for r in records if r["interrupted"]] == [0, 1]
    assert wait_for(lambda: not job_processes(home), timeout=15)


# -- 3. a runner that is alive but hung ------------------------------------------------------------
def test_status_of_a_live_runner_goes_stale_when_its_heartbeat_is_too_old(monkeypatch):
    now = time.time()
    alive = {"status": "running", "runner": {"pid": os.getpid(), "host": socket.gethostname()}}
    monkeypatch.delenv(STALE_ENV, raising=False)
    assert Store.status_of({**alive, "heartbeat": now - 100}, now) == JobStatus.RUNNING, "a loaded machine: 120 s"
    assert Store.status_of({**alive, "heartbeat": now - 121}, now) == JobStatus.STALE
    dead = {**alive, "runner": {**alive["runner"], "pid": 2**22 + 1}}
    assert Store.status_of({**dead, "heartbeat": now}, now) == JobStatus.STALE, "a dead runner at once"
    monkeypatch.setenv(STALE_ENV, "5")
    assert Store.status_of({**alive, "heartbeat": now - 4}, now) == JobStatus.RUNNING
    assert Store.status_of({**alive, "heartbeat": now - 6}, now) == JobStatus.STALE
    monkeypatch.setenv(STALE_ENV, "soon")  # not a number: the default holds
    assert Store.status_of({**alive, "heartbeat": now - 100}, now) == JobStatus.RUNNING


def listed(name: str) -> str:
    return next(j["status"] for j in api.list_jobs() if j["name"] == name)


def test_a_hung_runner_shows_stale_and_running_again_once_it_continues(home, monkeypatch):
    monkeypatch.setenv(STALE_ENV, "6")
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.3}, max_trials=20, name="frozen")
    wait_for(lambda: count(job, "complete") >= 2, timeout=60)
    pid = job.attrs["runner"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        assert listed("frozen") == "running", "a heartbeat a moment old is not stale"
        wait_for(lambda: listed("frozen") == "stale", timeout=30)
        assert job.summary()["status"] == "stale" and job.status == JobStatus.STALE
        assert psutil.Process(pid).status() == psutil.STATUS_STOPPED, "stale although its pid exists"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: listed("frozen") == "running" and job.summary()["status"] == "running", timeout=30)
    monkeypatch.delenv(STALE_ENV)  # the default from here on: a loaded machine must not end the wait early
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "budget of 20 trials reached"
    assert all(r["state"] == "complete" for r in assert_nothing_lost(job, budget=20))


def store_writable(home: Path) -> bool:
    con = sqlite3.connect(home / "store.db", timeout=0.2, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()


def freeze_outside_a_write(pid: int, home: Path) -> None:
    """SIGSTOP the runner at a moment it holds no write transaction. One frozen inside a write (often, while
    trials finish fast) keeps the SQLite store locked, and ``Job.resume`` writes to the store
    before its new runner can end the hung one: that case needs resume itself to end the runner first."""
    proc = psutil.Process(pid)
    for _ in range(50):
        proc.suspend()
        wait_for(lambda: proc.status() == psutil.STATUS_STOPPED, timeout=5, interval=0.001)
        if store_writable(home):
            return
        proc.resume()
        time.sleep(0.05)
    raise AssertionError("the runner was always inside a store write")


def test_resume_ends_a_hung_runner_before_its_own_runner_drives_the_job(home, monkeypatch):
    monkeypatch.setenv(STALE_ENV, "6")
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.3}, max_trials=12, name="hung")
    wait_for(lambda: count(job, "complete") >= 2 and count(job, "running") == 2, timeout=60)
    hung = psutil.Process(job.attrs["runner"]["pid"])
    hung_workers = hung.children(recursive=True)
    freeze_outside_a_write(hung.pid, home)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)
    before = {r["number"]: r for r in job.trial_records() if r["state"] == "complete"}

    job.resume()
    new_pid = wait_for(lambda: (job.attrs.get("runner") or {}).get("pid"), timeout=60)
    assert new_pid != hung.pid
    assert gone([hung, *hung_workers]), "the hung runner and its workers were ended before the new one started"
    monkeypatch.delenv(STALE_ENV)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = assert_nothing_lost(job, budget=12)
    assert sum(r["state"] == "complete" for r in records) == 12
    assert all(records[n] == rec for n, rec in before.items())


def test_a_new_runner_ends_a_hung_one_that_still_holds_the_job(tmp_path):
    """The last line of defence (``RunnerLock``): whoever starts a runner, two never drive one job."""
    import subprocess
    import sys

    from jupyter_hpo.runner._lock import RunnerLock

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from jupyter_hpo.runner._lock import RunnerLock\n"
        f"lock = RunnerLock({str(tmp_path)!r}, 'j'); assert lock.acquire(stale_after=1e9)\n"
        "print('held', flush=True); time.sleep(600)")], stdout=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = RunnerLock(tmp_path, "j")
        os.utime(tmp_path / "runner.lock", (time.time() - 100, time.time() - 100))  # no heartbeat for 100 s
        assert lock.acquire(stale_after=30)
        assert holder.wait(timeout=10) == -signal.SIGKILL
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def freeze_inside_a_write(pid: int, home: Path) -> None:
    """SIGSTOP the runner at a moment it holds the store's write lock (the worst moment to hang)."""
    proc = psutil.Process(pid)
    for _ in range(400):
        proc.suspend()
        wait_for(lambda: proc.status() == psutil.STATUS_STOPPED, timeout=5, interval=0.001)
        if not store_writable(home):
            return
        proc.resume()
        time.sleep(0.003)
    raise AssertionError("never caught the runner inside a store write")


@pytest.mark.parametrize("action", ["stop", "resume"])
def test_a_runner_frozen_inside_a_store_write_is_ended_by_stop_or_resume(home, monkeypatch, action):
    monkeypatch.setenv(STALE_ENV, "4")
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.01}, max_trials=300, max_parallel=2,
                 name=f"frozen-{action}")
    wait_for(lambda: count(job, "complete") >= 5, timeout=60)
    hung = psutil.Process(job.attrs["runner"]["pid"])
    workers = hung.children(recursive=True)
    freeze_inside_a_write(hung.pid, home)
    assert not store_writable(home), "the frozen runner holds the store's write lock"
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)  # reads still work
    if action == "stop":
        assert job.stop(timeout=30) == JobStatus.STOPPED
        assert job.attrs["reason"] == "stopped (its runner had died)"
    else:
        budget = len(job.trial_records()) + 10  # ten more than it had started
        job.resume(max_trials=budget)
        monkeypatch.delenv(STALE_ENV)
        assert job.wait(timeout=120) == JobStatus.COMPLETED
        assert_nothing_lost(job, budget=budget)
    assert gone([hung, *workers]), "the frozen runner and its workers were ended"
    assert store_writable(home)


# -- 4. a kernel restart while trials keep coming --------------------------------------------------
def test_attach_after_a_kernel_restart_shows_the_trials_that_finished_during_it(home, tmp_path):
    hold = tmp_path / "hold"
    nb = new_notebook(cells=[
        new_code_cell("%load_ext jupyter_hpo\nimport os, time\n\n\ndef slow(params):\n    time.sleep(0.25)\n"
                      f"    while os.path.exists({str(hold)!r}):\n        time.sleep(0.02)\n    return params['x']"),
        new_code_cell("%%hpo space space\nx: {type: float, low: 0, high: 1}"),
        new_code_cell("job = %hpo launch slow --max-trials 48 --parallel 2 --name restarted"),
        new_code_cell(  # what the dashboard holds once its view said hello, as a browser's does
            "%load_ext jupyter_hpo\nimport gc, json\nfrom jupyter_hpo.widgets import Dashboard\n\n"
            "job = %hpo attach restarted\n"
            "board = next(o for o in gc.get_objects() if isinstance(o, Dashboard))\n"
            "board._on_msg(board, {'type': 'hello'}, [])\n"
            "print(json.dumps({'status': job.status.value, 'done': [r['number'] for r in board.rows "
            "if r['state'] == 'complete']}))"),
        new_code_cell("job.wait(timeout=120)\nboard._thread.join(timeout=30)\n"
                      "print(json.dumps({'status': board.status, 'rows': [[r['number'], r['state']] "
                      "for r in board.rows]}))"),
    ])
    client = client_for(nb, tmp_path)
    with client.setup_kernel():
        for index in range(3):
            client.execute_cell(nb.cells[index], index)
        job = api.attach("restarted")
        wait_for(lambda: count(job, "complete") >= 2, timeout=60)

        restarted_at = time.time()
        run_sync(client.km.restart_kernel)(now=True)
        client.kc.stop_channels()
        client.start_new_kernel_client()
        hold.touch()  # the job runs on, but no further trial finishes until the dashboard is attached
        ready_at = time.time()
        during = [r["number"] for r in job.trial_records()
                  if r["state"] == "complete" and restarted_at < r["completed"] < ready_at]
        assert during, "trials finished while the kernel restarted"
        client.execute_cell(nb.cells[3], 3)
        hold.unlink()
        client.execute_cell(nb.cells[4], 4)

    at_attach = json.loads(printed(nb.cells[3]).strip().splitlines()[-1])
    assert at_attach["status"] == "running", "trials were still coming when the dashboard attached"
    assert set(during) <= set(at_attach["done"]), "the dashboard shows the trials finished during the restart"
    assert len(widget_views(nb.cells[3])) == 1
    final = json.loads(printed(nb.cells[4]).strip().splitlines()[-1])
    records = assert_nothing_lost(job, budget=48)
    assert final == {"status": "completed", "rows": [[r["number"], "complete"] for r in records]}
