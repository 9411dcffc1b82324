"""What a trial starts ends with it; the trial timeout covers a worker's start; no needless workers.

Whole jobs with real processes: a detached runner, its local pool, and the processes trials start.
"""

from __future__ import annotations

import os
import re
import signal
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}
BOOT_TIMEOUT = "timed out after 3 s (trial.timeout) waiting for its worker to start"


def start_a_child_and_hang(p: dict[str, Any]) -> float:
    """Starts ``sleep 1000`` (in a session of its own if asked), writes its pid, then hangs."""
    import subprocess
    import time
    from pathlib import Path

    child = subprocess.Popen(["sleep", "1000"], start_new_session=p["own_session"])
    Path(p["pidfile"]).write_text(str(child.pid))
    time.sleep(600)
    return 0.0


def start_a_child_and_return(p: dict[str, Any]) -> float:
    """Starts ``sleep 1000`` (in a session of its own if asked), writes its pid and returns at once."""
    import subprocess
    from pathlib import Path

    child = subprocess.Popen(["sleep", "1000"], start_new_session=p["own_session"])
    Path(p["pidfile"]).write_text(str(child.pid))
    return 1.0


def fork_a_child_and_die(p: dict[str, Any]) -> float:
    """Forks a child (it inherits the worker's pipes, as a forked data loader does), writes its pid, and
    ends the worker."""
    import os
    import time
    from pathlib import Path

    child = os.fork()
    if child == 0:
        time.sleep(1000)
        os._exit(0)
    Path(p["pidfile"]).write_text(str(child))
    os._exit(3)


def start_a_child_that_holds_memory(p: dict[str, Any]) -> float:
    """Starts a Python child that fills 250 MB and sleeps, writes its pid, and waits for it (a trial whose
    training runs in a subprocess)."""
    import subprocess
    import sys
    from pathlib import Path

    child = subprocess.Popen([sys.executable, "-c", "import time; b = b'x' * (250 * 2**20); time.sleep(1000)"])
    Path(p["pidfile"]).write_text(str(child.pid))
    child.wait()
    return 1.0


def fork_two_children_of_a_large_worker(p: dict[str, Any]) -> float:
    """Fills 150 MB in the worker, then forks two children that sleep 3 s (as forked data loader workers do)."""
    import os
    import time

    held = b"x" * (150 * 2**20)
    children = []
    for _ in range(2):
        child = os.fork()
        if child == 0:
            time.sleep(3)
            os._exit(0)
        children.append(child)
    for child in children:
        os.waitpid(child, 0)
    return float(len(held) > 0)


class _LoadsForever:
    """Unpickling it never ends, like data a worker loads with the objective from a hung mount."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (time.sleep, (1000,))


DATA = _LoadsForever()


def needs_data_that_never_loads(p: dict[str, Any]) -> float:
    return 1.0 if DATA is not None else 0.0


def the_child(pidfile: Path) -> psutil.Process:
    """The process a trial started, once it has written its pid (psutil tells it from a reused pid)."""
    pid = wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=60)
    return psutil.Process(int(pid))


def gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def end(proc: psutil.Process) -> None:
    """Clean up after a failing test: the child is ours (psutil refuses a reused pid)."""
    try:
        proc.kill()
    except psutil.Error:
        pass


def hanging_job(tmp_path: Path, name: str, own_session: bool, **options: Any) -> tuple[api.Job, Path]:
    pidfile = tmp_path / f"{name}.pid"
    job = api.launch(objective=start_a_child_and_hang, space=X, name=name, max_trials=1, max_parallel=1,
                     hyperparameters={"pidfile": str(pidfile), "own_session": own_session}, **options)
    return job, pidfile


@pytest.mark.parametrize("own_session", [False, True], ids=["same-group", "own-session"])
def test_a_timeout_ends_the_processes_the_trial_started(home, tmp_path, own_session):
    job, pidfile = hanging_job(tmp_path, "timeout-tree", own_session, timeout=2)
    child = the_child(pidfile)
    try:
        assert job.wait(timeout=60).is_finished()
        (record,) = job.trial_records()
        assert record["state"] == "fail" and record["error"] == "timed out after 2 s (trial.timeout)"
        assert wait_for(lambda: gone(child), timeout=30), "the trial's child outlived its time-out"
    finally:
        end(child)


@pytest.mark.parametrize("own_session", [False, True], ids=["same-group", "own-session"])
def test_stop_ends_the_processes_the_trial_started(home, tmp_path, own_session):
    job, pidfile = hanging_job(tmp_path, "stop-tree", own_session)
    child = the_child(pidfile)
    try:
        assert job.stop(timeout=60) == JobStatus.STOPPED
        (record,) = job.trial_records()
        assert record["state"] == "fail" and record["interrupted"]
        assert wait_for(lambda: gone(child), timeout=30), "the trial's child outlived the stop"
    finally:
        end(child)


@pytest.mark.parametrize("own_session", [False, True], ids=["same-group", "own-session"])
def test_what_a_finished_trial_left_running_ends_with_the_job(home, tmp_path, own_session):
    pidfile = tmp_path / "left.pid"
    job = api.launch(objective=start_a_child_and_return, space=X, name="left-behind", max_trials=1,
                     hyperparameters={"pidfile": str(pidfile), "own_session": own_session})
    child = the_child(pidfile)
    try:
        assert job.wait(timeout=60) == JobStatus.COMPLETED
        assert [r["state"] for r in job.trial_records()] == ["complete"]
        assert wait_for(lambda: gone(child), timeout=30), "the trial's child outlived the job"
    finally:
        end(child)


def test_a_worker_that_dies_while_a_child_it_forked_lives_on_fails_its_trial_and_the_child_ends(home, tmp_path):
    pidfile = tmp_path / "forked.pid"
    job = api.launch(objective=fork_a_child_and_die, space=X, name="forked", max_trials=1,
                     hyperparameters={"pidfile": str(pidfile)})
    child = the_child(pidfile)
    try:
        assert job.wait(timeout=60).is_finished()  # the worker's death was noticed
        (record,) = job.trial_records()
        assert record["state"] == "fail" and record["error"] == "worker process died (exit code 3)"
        assert wait_for(lambda: gone(child), timeout=30), "the forked child outlived the worker"
    finally:
        end(child)


def test_memory_a_trials_child_process_holds_counts_toward_the_workers_bound_and_the_child_ends(home, tmp_path):
    """``warm_pool.max_memory_mb`` bounds the worker and what it started: 250 MB held by the trial's subprocess
    fails the trial at a 100 MB bound, as 250 MB in the worker itself does (it completed: only the worker was
    counted), and the subprocess is ended with the worker."""
    pidfile = tmp_path / "memory.pid"
    job = api.launch(objective=start_a_child_that_holds_memory, space=X, name="child-memory", max_trials=1,
                     hyperparameters={"pidfile": str(pidfile)}, warm_pool={"max_memory_mb": 100}, timeout=30)
    child = the_child(pidfile)
    try:
        assert job.wait(timeout=90).is_finished()
        (record,) = job.trial_records()
        assert record["state"] == "fail", record
        used = re.fullmatch(r"the worker and the processes it started used (\d+) MB, above its bound of 100 MB "
                            r"\(warm_pool\.max_memory_mb\)", record["error"])
        assert used and int(used[1]) > 100, record["error"]
        assert wait_for(lambda: gone(child), timeout=30), "the trial's child outlived its worker"
    finally:
        end(child)


def test_memory_forked_children_do_not_count_the_workers_pages_again(home):
    """A forked child maps the worker's memory until it writes it: two children of a worker holding 150 MB use
    no 450 MB, and the trial completes within a 250 MB bound."""
    job = api.launch(objective=fork_two_children_of_a_large_worker, space=X, name="forked-memory", max_trials=1,
                     warm_pool={"max_memory_mb": 250}, timeout=30)
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    assert [(r["state"], r["error"]) for r in job.trial_records()] == [("complete", None)]


def test_a_worker_that_never_finishes_loading_the_objective_fails_its_trial_by_the_timeout(home):
    job = api.launch(objective=needs_data_that_never_loads, space=X, name="boot-hang", max_trials=1, timeout=3)
    assert job.wait(timeout=60).is_finished()
    (record,) = job.trial_records()
    assert record["state"] == "fail"
    assert record["error"].startswith(BOOT_TIMEOUT) and "boot phase" in record["error"]


def test_a_script_whose_import_hangs_fails_by_the_timeout(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # launched from the script's folder, as from a terminal: its modules import
    (tmp_path / "slowmod.py").write_text("import time\ntime.sleep(1000)\n")
    (tmp_path / "train.py").write_text("import slowmod\nprint('loss=1.0')\n")
    spec = tmp_path / "tuning.yaml"
    spec.write_text(textwrap.dedent("""
        name: import-hang
        objective: {metric: loss, direction: minimize}
        trial: {script: train.py, timeout: 3}
        space: {x: {type: float, low: 0, high: 1}}
        budget: {max_trials: 1}
    """))
    job = api.launch(spec)
    assert job.wait(timeout=60).is_finished()
    (record,) = job.trial_records()
    # a script's own modules are imported by each trial, installed ones while its worker starts: in either
    # phase the trial ends at its timeout
    assert record["state"] == "fail" and record["error"].startswith("timed out after 3 s (trial.timeout)")


def workers_of(runner_pid: int) -> set[int]:
    """The runner's worker processes (spawned ``multiprocessing`` children; not its resource tracker)."""
    try:
        children = psutil.Process(runner_pid).children()
    except psutil.Error:
        return set()
    pids = set()
    for child in children:
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                pids.add(child.pid)
        except psutil.Error:
            pass
    return pids


def workers_seen(job: api.Job, runner_pid: int) -> set[int]:
    """Every worker pid the job's runner had while the job ran."""
    seen: set[int] = set()

    def finished() -> bool:
        seen.update(workers_of(runner_pid))
        return job.status.is_finished()

    wait_for(finished, timeout=60, interval=0.02)
    return seen


def runner_pid(job: api.Job, other_than: int | None = None) -> int:
    return int(wait_for(lambda: (pid := (job.attrs.get("runner") or {}).get("pid")) != other_than and pid,
                        timeout=30))


def test_the_pool_starts_no_more_workers_than_the_budget_can_use(home):
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 1.0}, max_trials=2,
                     max_parallel=8, name="small-budget")
    first = runner_pid(job)
    seen = workers_seen(job, first)
    assert job.status == JobStatus.COMPLETED and len(job.trial_records()) == 2
    assert 1 <= len(seen) <= 2, f"{len(seen)} workers for a budget of 2 trials"
    job.resume(max_trials=3)  # one trial left: one worker
    seen = workers_seen(job, runner_pid(job, other_than=first))
    assert job.status == JobStatus.COMPLETED and len(job.trial_records()) == 3
    assert len(seen) == 1, f"{len(seen)} workers for the 1 trial left of a resumed job"


@pytest.mark.parametrize("own_session", [False, True], ids=["same-group", "own-session"])
def test_a_runner_killed_9_takes_what_its_trials_started(home, tmp_path, own_session):
    """Its workers watch it and end with what their trials started: a trial's child does not outlive a kill -9,
    one in a session of its own included (it was left running, re-parented to init)."""
    job, pidfile = hanging_job(tmp_path, "k9", own_session)
    child = the_child(pidfile)
    try:
        os.kill(job.attrs["runner"]["pid"], signal.SIGKILL)
        assert wait_for(lambda: gone(child), timeout=30)
    finally:
        end(child)
