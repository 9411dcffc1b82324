"""Warm pools handed from one job of a campaign to the next (jupyter_hpo/backends/_local.py's PoolShelf), with
real worker processes: the handover itself (warm, ``reused_from``, the same processes and their trial.cached
values), and every case that must start cold and stay correct: a changed script or data file, another Python,
a worker killed with kill -9 between the jobs, an expired keep-alive."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_hpo.backends import TrialRequest, _local
from jupyter_hpo.backends._local import LocalBackend, PoolShelf
from jupyter_hpo.campaign import campaign
from jupyter_hpo.records import REUSED_FROM
from jupyter_hpo.spec import TuningSpec
from tests.conftest import wait_for
from tests.test_local_backend import Events

SCRIPT = """
import argparse
from jupyter_hpo import trial
VERSION = {version}
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
a = p.parse_args()
data = trial.cached("data", lambda: (VERSION, open(__file__.rsplit("/", 1)[0] + "/data.txt").read().strip()))
print(f"version={{data[0]}} data={{data[1]}}")
print(f"loss={{float(data[0]) * 10 + float(data[1])}}")
"""

FUNCTION = """
import os, time
from jupyter_hpo import trial
def f(p):
    loaded = trial.cached("data", lambda: time.time())
    return {"value": -(p["x"] - 0.3) ** 2, "pid": float(os.getpid()), "loaded": loaded}
"""


@pytest.fixture
def shelf():
    made = PoolShelf(keep_alive_s=60)
    _local.set_shelf(made)
    yield made
    _local.set_shelf(None)
    made.release_all()


def script_backend(folder: Path, job: str, parallel: int = 1, per_worker: int | None = None) -> LocalBackend:
    spec = TuningSpec.from_dict({"name": job, "trial": {"script": str(folder / "train.py")},
                                 "objective": {"metric": "loss", "direction": "minimize"},
                                 "space": {"x": {"type": "float", "low": 0, "high": 1}},
                                 "budget": {"max_trials": 10, "max_parallel": parallel},
                                 "warm_pool": {"max_trials_per_worker": per_worker}})
    job_dir = folder / "jobs" / job
    job_dir.mkdir(parents=True)
    backend = LocalBackend(spec, job_dir)
    backend.start()
    return backend


def run_together(backend: LocalBackend, n: int, timeout: float = 60) -> list[tuple[Any, Any]]:
    """Submit ``n`` trials at once; return (assignment, outcome) pairs by key."""
    events = Events()
    assignments = [backend.submit(TrialRequest(key=k, params={"x": 0.5}, seed=k)) for k in range(n)]
    deadline = time.monotonic() + timeout
    while len(events.outcomes) < n:
        assert time.monotonic() < deadline, "the trials did not finish"
        backend.poll(events, timeout=0.1)
    return [(assignments[k], events.outcomes[k]) for k in range(n)]


def worker_pids(backend: LocalBackend) -> set[int]:
    return {p.process.pid for p in backend._procs}


def write_script(folder: Path, version: int, data: str = "1") -> None:
    (folder / "train.py").write_text(SCRIPT.format(version=version))
    (folder / "data.txt").write_text(data)


def test_the_next_job_of_a_campaign_takes_the_workers_warm_with_their_cache(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "envobj.py").write_text(FUNCTION)
    for name in ("first", "second"):
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(f"""
            name: {name}
            trial: {{function: "envobj.py:f"}}
            objective: {{metric: value}}
            space: {{x: {{type: float, low: 0, high: 1}}}}
            budget: {{max_trials: 4, max_parallel: 2}}
        """))
    c = campaign([tmp_path / "first.yaml", tmp_path / "second.yaml"], name="hand")
    assert c.wait(timeout=120) == "completed"
    first, second = c.jobs
    raw = {job.name: [t for t in job.raw_trials()] for job in (first, second)}
    recs = {job.name: job.trial_records() for job in (first, second)}
    assert all(t.user_attrs.get(REUSED_FROM) is None for t in raw["first"])
    assert [t.user_attrs.get(REUSED_FROM) for t in raw["second"]] == ["first"] * 4
    assert all(r["warm"] for r in recs["second"]), "every trial of the second job started warm"
    pids = {name: {r["metrics"]["pid"] for r in recs[name]} for name in recs}
    assert pids["second"] <= pids["first"], "the same processes ran the second job"
    loaded = {name: {r["metrics"]["loaded"] for r in recs[name]} for name in recs}
    assert loaded["second"] <= loaded["first"], "trial.cached values were kept, not loaded again"
    summary = c.summary()
    assert summary["warm_starts"] == sum(1 for n in recs for r in recs[n] if r["warm"])
    assert summary["startup_saved_s"] is not None and summary["startup_saved_s"] > 0
    # the campaign has ended: its pool is released
    wait_for(lambda: not any(psutil.pid_exists(int(p)) and psutil.Process(int(p)).status() != "zombie"
                             for p in pids["first"]), timeout=30)


SEGMENT = """
import os
from jupyter_hpo import trial
def f(p):
    rate = trial.cached("default-rate", lambda: {"retail": 0.02, "sme": 0.07}[p["segment"]])
    return {"value": rate, "pid": float(os.getpid())}
"""


def test_a_campaign_job_with_other_static_hyperparameters_keeps_the_workers_not_their_cache(home, tmp_path,
                                                                                              monkeypatch):
    """One model per portfolio segment: the same objective, the segment a static hyperparameter. The second job
    takes the first one's workers, but not the value ``trial.cached`` loaded for the first segment."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segobj.py").write_text(SEGMENT)
    for segment in ("retail", "sme"):
        (tmp_path / f"{segment}.yaml").write_text(textwrap.dedent(f"""
            name: {segment}
            trial: {{function: "segobj.py:f", hyperparameters: {{segment: {segment}}}}}
            objective: {{metric: value}}
            space: {{x: {{type: float, low: 0, high: 1}}}}
            budget: {{max_trials: 2, max_parallel: 2}}
        """))
    c = campaign([tmp_path / "retail.yaml", tmp_path / "sme.yaml"], name="segments")
    assert c.wait(timeout=120) == "completed"
    retail, sme = c.jobs
    records = {job.name: job.trial_records() for job in (retail, sme)}
    assert [r["reused_from"] for r in records["sme"]] == ["retail"] * 2
    assert {r["metrics"]["pid"] for r in records["sme"]} <= {r["metrics"]["pid"] for r in records["retail"]}
    assert [r["value"] for r in records["retail"]] == [0.02, 0.02]
    assert [r["value"] for r in records["sme"]] == [0.07, 0.07], "the sme job got the retail segment's value"


@pytest.mark.parametrize("change", ["script", "data"])
def test_a_changed_script_or_data_file_starts_cold_and_correct(tmp_path, shelf, change):
    write_script(tmp_path, version=1)
    a = script_backend(tmp_path, "a")
    [(_, outcome)] = run_together(a, 1)
    assert outcome.value == 11.0
    old = worker_pids(a)
    a.close()
    assert len(shelf) == 1
    if change == "script":
        write_script(tmp_path, version=2)
    else:
        (tmp_path / "data.txt").write_text("5")
    b = script_backend(tmp_path, "b")
    [(assignment, outcome)] = run_together(b, 1)
    assert outcome.value == (21.0 if change == "script" else 15.0), "never the stale cached value"
    assert assignment.warm is False and REUSED_FROM not in assignment.attrs
    assert not worker_pids(b) & old
    b.close()


def test_the_same_script_is_handed_over(tmp_path, shelf):
    write_script(tmp_path, version=3)
    a = script_backend(tmp_path, "a")
    run_together(a, 1)
    old = worker_pids(a)
    a.close()
    b = script_backend(tmp_path, "b")
    [(assignment, outcome)] = run_together(b, 1)
    assert outcome.value == 31.0 and assignment.warm is True and assignment.attrs[REUSED_FROM] == "a"
    assert worker_pids(b) == old
    b.close()


def test_another_python_starts_cold(tmp_path, shelf, monkeypatch):
    write_script(tmp_path, version=1)
    a = script_backend(tmp_path, "a")
    run_together(a, 1)
    old = worker_pids(a)
    a.close()
    monkeypatch.setattr(sys, "executable", "/opt/other/bin/python3")  # the next job's fingerprint names it
    b = script_backend(tmp_path, "b")
    monkeypatch.undo()
    [(assignment, outcome)] = run_together(b, 1)
    assert outcome.value == 11.0 and assignment.warm is False and not worker_pids(b) & old
    b.close()


def test_a_worker_killed_between_jobs_is_replaced_by_a_cold_one(tmp_path, shelf):
    write_script(tmp_path, version=4)
    a = script_backend(tmp_path, "a", parallel=2)
    run_together(a, 2)
    old = sorted(worker_pids(a))
    a.close()
    assert len(shelf) == 2
    os.kill(old[0], signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(old[0]) or psutil.Process(old[0]).status() == "zombie", timeout=10)
    b = script_backend(tmp_path, "b", parallel=2)
    pairs = run_together(b, 2)
    assert [o.value for _, o in pairs] == [41.0, 41.0] and all(o.state == "complete" for _, o in pairs)
    reused = [a_.attrs.get(REUSED_FROM) for a_, _ in pairs]
    assert sorted(reused, key=str) == [None, "a"], "one worker handed over, one started cold"
    assert old[1] in worker_pids(b) and old[0] not in worker_pids(b)
    b.close()


def test_workers_kept_past_the_keep_alive_are_ended(tmp_path):
    write_script(tmp_path, version=1)
    short = PoolShelf(keep_alive_s=0.5)
    _local.set_shelf(short)
    try:
        a = script_backend(tmp_path, "a")
        run_together(a, 1)
        [pid] = worker_pids(a)
        a.close()
        assert len(short) == 1

        def ended() -> bool:
            short.expire()
            return len(short) == 0 and (not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie")

        wait_for(ended, timeout=10)
        b = script_backend(tmp_path, "b")
        [(assignment, outcome)] = run_together(b, 1)
        assert outcome.value == 11.0 and assignment.warm is False
        b.close()
        off = PoolShelf(keep_alive_s=0)  # keep-alive 0: nothing is kept
        _local.set_shelf(off)
        c = script_backend(tmp_path, "c")
        run_together(c, 1)
        c.close()
        assert len(off) == 0
    finally:
        _local.set_shelf(None)
        short.release_all()


BIG_SCRIPT = """
import argparse
import os
from jupyter_hpo import trial
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--big_mb", type=int)
p.add_argument("--big_if", type=str)
a = p.parse_args()
if os.path.exists(a.big_if):  # only while the flag file exists: the static hyperparameters stay the same
    trial.cached("ballast", lambda: bytearray(a.big_mb * 2**20))  # kept by the worker after the trial
print(f"loss={a.x}")
"""


def test_a_worker_that_ran_the_next_jobs_max_trials_per_worker_is_not_taken(tmp_path, shelf):
    """A job with max_trials_per_worker: 1 (a fresh process for every trial) ran its first trials on the earlier
    job's workers: the option was checked only after a trial."""
    write_script(tmp_path, version=3)
    a = script_backend(tmp_path, "a", per_worker=5)
    run_together(a, 1)
    old = worker_pids(a)
    a.close()
    assert len(shelf) == 1
    b = script_backend(tmp_path, "b", per_worker=1)
    [(assignment, outcome)] = run_together(b, 1)
    assert outcome.value == 31.0 and assignment.warm is False and REUSED_FROM not in assignment.attrs
    assert not worker_pids(b) & old and len(shelf) == 0
    b.close()
    c = script_backend(tmp_path, "c", per_worker=5)  # a limit the worker is within: handed over as before
    run_together(c, 1)
    c.close()
    d = script_backend(tmp_path, "d", per_worker=2)
    [(assignment, _)] = run_together(d, 1)
    assert assignment.warm is True and assignment.attrs[REUSED_FROM] == "c"
    d.close()


def test_a_handed_over_worker_that_ran_no_trial_starts_warm_from_when_it_was_sent_its_trial(tmp_path, shelf):
    """Job a's second worker never ran a trial; job b's first trial on it read as cold, its start-up timed from
    the worker's spawn in job a (24.7 s in the audit), and the start-up saved 20 times too large."""
    write_script(tmp_path, version=3)
    a = script_backend(tmp_path, "a", parallel=2)
    deadline = time.monotonic() + 60
    while sum(p.ready_at is not None for p in a._procs) < 2:  # both prestarted workers are ready
        assert time.monotonic() < deadline, "the workers did not start"
        a.poll(Events(), timeout=0.1)
    run_together(a, 1)
    a.close()
    assert len(shelf) == 2
    time.sleep(1.0)  # between the two launches
    b = script_backend(tmp_path, "b", parallel=2)
    opened = time.time()
    pairs = run_together(b, 2)
    assert [assignment.warm for assignment, _ in pairs] == [True, True]
    assert all(assignment.attrs[REUSED_FROM] == "a" for assignment, _ in pairs)
    assert all(outcome.startup_s < time.time() - opened for _, outcome in pairs), [o.startup_s for _, o in pairs]
    b.close()


def test_a_worker_past_the_next_jobs_memory_bound_is_not_taken(tmp_path, shelf):
    (tmp_path / "train.py").write_text(BIG_SCRIPT)

    flag = tmp_path.parent / f"{tmp_path.name}-flags" / "big"  # outside the script's folder (and below it),
    flag.parent.mkdir()                                         # whose files are the objective's environment
    flag.write_text("")

    def backend(job: str, big_mb: int, bound: int | None) -> LocalBackend:
        spec = TuningSpec.from_dict({"name": job, "trial": {"script": str(tmp_path / "train.py"),
                                                            "hyperparameters": {"big_mb": big_mb,
                                                                                "big_if": str(flag)}},
                                     "objective": {"metric": "loss", "direction": "minimize"},
                                     "space": {"x": {"type": "float", "low": 0, "high": 1}},
                                     "budget": {"max_trials": 10, "max_parallel": 1},
                                     "warm_pool": {"max_memory_mb": bound}})
        (tmp_path / "jobs" / job).mkdir(parents=True)
        made = LocalBackend(spec, tmp_path / "jobs" / job)
        made.start()
        return made

    a = backend("a", big_mb=300, bound=None)
    run_together(a, 1)
    [big] = worker_pids(a)
    assert psutil.Process(big).memory_info().rss > 300 * 2**20
    a.close()
    assert len(shelf) == 1
    flag.unlink()  # job b's own workers load no ballast; the same static hyperparameters keep job a's
    b = backend("b", big_mb=300, bound=250)
    [(assignment, outcome)] = run_together(b, 1)
    assert outcome.state == "complete" and outcome.value == 0.5
    assert assignment.warm is False and REUSED_FROM not in assignment.attrs and big not in worker_pids(b)
    assert len(shelf) == 0
    b.close()


def test_a_home_inside_the_scripts_folder_does_not_stop_the_handover(home, tmp_path, monkeypatch):
    """The test's home (tmp_path/hpo-home) lies in the script's folder: its store changes with every trial, which
    must not make the next job's objective environment look new."""
    from jupyter_hpo.campaign import campaign

    assert home.parent == tmp_path
    monkeypatch.chdir(tmp_path)
    write_script(tmp_path, version=5)
    for name in ("in-home-a", "in-home-b"):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: {name}\ntrial: {{script: train.py}}\nspace: {{x: {{type: float, low: 0, high: 1}}}}\n"
            "objective: {metric: loss, direction: minimize}\nbudget: {max_trials: 3, max_parallel: 1}\n")
    c = campaign([tmp_path / "in-home-a.yaml", tmp_path / "in-home-b.yaml"], name="in-home")
    assert c.wait(timeout=180) == "completed"
    second = c.jobs[1]
    assert [t.user_attrs.get(REUSED_FROM) for t in second.raw_trials()] == ["in-home-a"] * 3
