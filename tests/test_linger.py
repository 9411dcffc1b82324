"""A local job's runner kept for the next launch (``warm_pool.keep_alive_s``, jupyter_hpo.runner._linger): real
runner and worker processes, launched as a notebook launches them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}


@pytest.fixture(autouse=True)
def _own_folder(tmp_path, monkeypatch):
    """Launch from a folder of the test's own: the files in the working directory are part of the objective's
    environment, and other tests running beside this one write to the repository's."""
    folder = tmp_path / "launched-from"
    folder.mkdir()
    monkeypatch.chdir(folder)


def _gone(pids, timeout=30.0) -> bool:
    """Whether all these processes have ended within ``timeout`` seconds."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(int(pid)))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def _launch(name, keep_alive_s, objective=objectives.worker_identity, **options):
    return api.launch(objective=objective, space=X, max_trials=2, max_parallel=2, name=name, seed=0,
                      keep_alive_s=keep_alive_s, **options)


def test_the_next_launch_runs_in_the_kept_runner_on_its_warm_workers_and_both_end_after_the_keep_alive(home):
    first = _launch("first", 60)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    runner = first.attrs["runner"]["pid"]
    workers = {int(r["value"]) for r in first.trial_records()}
    assert len(workers) == 2 and all(not r["warm"] for r in first.trial_records())
    assert psutil.pid_exists(runner), "the runner stays after its job"
    assert list((home / "runners").glob("*.offer")) == [(home / "runners" / f"{runner}.offer")]

    Path("tuning.ipynb").write_text('{"cells": []}')  # the notebook launching them, saved in between
    second = _launch("second", 2)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == runner, "no new runner"
    records = second.trial_records()
    assert {int(r["value"]) for r in records} == workers, "the first job's workers ran the second's trials"
    assert all(r["warm"] and r["reused_from"] == "first" for r in records)
    assert sorted(r["metrics"]["calls"] for r in records) == [2.0, 2.0]  # each worker's cached data, loaded once
    # no cold start of its own: what it saved is counted from its workers' cold start in the first job
    cold = [r["startup_s"] for r in first.trial_records() if r["warm"] is False]
    shown = second.summary()
    assert shown["cold_starts"] == 0 and shown["cold_startup_s"] == pytest.approx(sum(cold) / len(cold))
    assert shown["startup_saved_s"] == pytest.approx((shown["cold_startup_s"] - shown["warm_startup_s"]) * 2)
    assert shown["startup_saved_s"] > 0
    assert "this runner (kept after an earlier job) takes job second" in (
        home / "jobs" / "second" / "runner.log").read_text()
    assert "job first ended; this runner stays 60 s for the next launch, with 2 idle worker(s)" in (
        home / "jobs" / "first" / "runner.log").read_text()

    # the second job asked for 2 s: then the runner and its workers end, and the offer goes
    assert _gone([runner, *workers]), "the kept runner or its workers outlived the keep-alive"
    assert not list((home / "runners").iterdir())
    assert second.status == JobStatus.COMPLETED and first.status == JobStatus.COMPLETED


def test_each_job_run_by_a_kept_runner_has_its_own_output_in_its_own_log(home):
    first = _launch("out-a", 60, objective=objectives.says_its_job, hyperparameters={"tag": "out-a"})
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    second = _launch("out-b", 1, objective=objectives.says_its_job, hyperparameters={"tag": "out-b"})
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == first.attrs["runner"]["pid"]
    assert all(r["reused_from"] == "out-a" for r in second.trial_records())
    assert _gone([first.attrs["runner"]["pid"]])
    log_a = (home / "jobs" / "out-a" / "runner.log").read_text()
    log_b = (home / "jobs" / "out-b" / "runner.log").read_text()
    assert log_a.count("a trial of job out-a") == 2 and "out-b" not in log_a
    assert log_b.count("a trial of job out-b") == 2 and "a trial of job out-a" not in log_b
    assert "job out-b completed" in log_b and "job out-b" not in log_a


def test_a_launch_from_another_environment_starts_its_own_runner(home, monkeypatch):
    first = _launch("env-a", 60)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    monkeypatch.setenv("CREDIT_DATA", "/elsewhere/credit.csv")  # what the objective may read: not the kept one's
    second = _launch("env-b", 0)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] != kept
    assert all(r["reused_from"] is None for r in second.trial_records())
    assert psutil.pid_exists(kept) and (home / "runners" / f"{kept}.offer").exists(), "still offered"
    os.kill(kept, signal.SIGTERM)  # a kept runner that is asked to leave, leaves with its workers
    assert _gone([kept, *(int(r["value"]) for r in first.trial_records())], timeout=15)
    assert not list((home / "runners").iterdir())


def test_a_job_in_a_kept_runner_can_be_stopped_and_resumed_there(home):
    first = _launch("stop-a", 60, objective=objectives.sleepy, hyperparameters={"sleep": 0.05})
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    second = api.launch(objective=objectives.sleepy, space=X, max_trials=50, max_parallel=2, name="stop-b",
                        hyperparameters={"sleep": 2.0}, keep_alive_s=30)
    deadline = time.time() + 60
    while not second.trial_records() and time.time() < deadline:
        time.sleep(0.1)
    assert second.attrs["runner"]["pid"] == kept
    second.stop()
    assert second.wait(timeout=60) == JobStatus.STOPPED
    done = len([r for r in second.trial_records() if r["state"] == "complete"])
    assert done < 50 and psutil.pid_exists(kept), "the runner stays after the stopped job"
    second.resume(max_trials=done + 2)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == kept, "the resume ran in the kept runner too"
    assert len([r for r in second.trial_records() if r["state"] == "complete"]) == done + 2
    os.kill(kept, signal.SIGTERM)
    assert _gone([kept], timeout=15)


def test_a_job_with_another_objective_runs_in_the_kept_runner_on_fresh_workers(home):
    first = _launch("obj-a", 60)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    old_workers = {int(r["value"]) for r in first.trial_records()}
    second = _launch("obj-b", 0, objective=objectives.quadratic)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == kept
    assert not second.trial_records()[0]["warm"]
    assert {r["reused_from"] for r in second.trial_records()} == {None}
    assert [r["state"] for r in second.trial_records()] == ["complete", "complete"]
    assert _gone([kept, *old_workers]), "the first job's workers were not handed a job they could not serve"


def test_a_kept_runner_keeps_only_the_last_objectives_workers(home):
    """Each launch with an edited function (a notebook's way) parked one more pool in the kept runner: 2, 4, 6, ...
    idle workers, each with the objective's libraries loaded, until the keep-alive. A job that starts fresh
    workers now ends the parked ones of other objectives; the runner itself stays."""
    first = _launch("pile-a", 60)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = psutil.Process(first.attrs["runner"]["pid"])
    old_workers = {int(r["value"]) for r in first.trial_records()}
    assert all(psutil.pid_exists(pid) for pid in old_workers)  # parked for the next launch
    second = _launch("pile-b", 60, objective=objectives.quadratic)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == kept.pid and kept.is_running()
    assert _gone(old_workers), "the first objective's idle workers stayed parked"
    try:
        workers = [c for c in kept.children() if "jupyter_hpo" in " ".join(c.cmdline()) or
                   "multiprocessing" in " ".join(c.cmdline())]
    except psutil.Error:
        workers = []
    assert len([w for w in workers if "resource_tracker" not in " ".join(w.cmdline())]) <= 2, workers
    api.attach("pile-b").runner.signal(second.attrs["runner"])  # end the kept runner now, not in 60 s


def test_a_kept_runner_killed_while_it_waits_costs_the_next_launch_nothing(home):
    first = _launch("killed-a", 60)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    os.kill(kept, signal.SIGKILL)
    assert _gone([kept])
    second = _launch("killed-b", 0)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] != kept
    assert [r["state"] for r in second.trial_records()] == ["complete", "complete"]
    assert not list((home / "runners").glob("*.offer")), "the dead runner's offer is removed"


def test_without_a_keep_alive_the_runner_ends_with_its_job(home):
    job = _launch("plain", 0)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert _gone([job.attrs["runner"]["pid"]], timeout=15)
    assert not (home / "runners").exists() or not list((home / "runners").iterdir())


@pytest.mark.parametrize(("options", "message"), [
    ({"keep_alive_s": -1}, "`warm_pool.keep_alive_s` must be a number of seconds from 0 to 3600"),
    ({"keep_alive_s": 7200}, "`warm_pool.keep_alive_s` must be a number of seconds from 0 to 3600"),
    ({"keep_alive_s": "1m"}, "`warm_pool.keep_alive_s` must be a number of seconds from 0 to 3600"),
    ({"keep_alive_s": 60, "warm_pool": False}, "needs `warm_pool.enabled: true`"),
])
def test_a_bad_keep_alive_is_refused_in_one_line_and_nothing_is_written(home, options, message):
    with pytest.raises(SpecError) as e:
        api.launch(objective=objectives.quadratic, space=X, name="bad-keep", **options)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert "bad-keep" not in {j["name"] for j in api.list_jobs()}


def test_a_campaign_refuses_a_job_with_a_keep_alive_naming_its_own(home):
    from jupyter_hpo.campaign import campaign

    spec = {"name": "camp-keep", "trial": {"function": objectives.quadratic}, "space": X,
            "warm_pool": {"keep_alive_s": 60}}
    with pytest.raises(SpecError, match=r"a campaign runs its jobs in a runner of its own: its `keep_alive_s`"):
        campaign([spec])
    assert "camp-keep" not in {j["name"] for j in api.list_jobs()}


@pytest.mark.parametrize("bytecode", [False, True], ids=["from-source", "from-pyc"])
def test_a_kept_worker_whose_imported_code_changed_is_not_reused(home, tmp_path, monkeypatch, bytecode):
    """The objective calls the user's own helper module, which the workers import by name (the objective's module
    travels by value, as the notebook has it; the helper is not in the objective's fingerprint); the helper is
    edited between two launches: the second job runs the new code, as a fresh runner would, on fresh workers.
    ``from-pyc``: the helper was compiled before (as on a user's machine, where Python writes ``__pycache__``), so
    the workers read only its ``.pyc``, never the edited ``.py``: the module check sees it, the read watch cannot."""
    import compileall
    import importlib

    lib = tmp_path / "lib"
    (lib / "credit_feats").mkdir(parents=True)
    (lib / "credit_feats" / "__init__.py").write_text("")
    helper = lib / "credit_feats" / "features.py"
    helper.write_text("def weight():\n    return 1.0\n")
    (lib / "credit_feats" / "model.py").write_text(
        "from credit_feats import features\n\n\ndef score(p):\n    return features.weight()\n")
    if bytecode:
        monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        assert compileall.compile_dir(str(lib), quiet=1)
        assert list((lib / "credit_feats" / "__pycache__").glob("features.*.pyc"))
    monkeypatch.syspath_prepend(str(lib))
    mod = importlib.import_module("credit_feats.model")
    first = _launch("code-a", 60, objective=mod.score)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    assert [r["value"] for r in first.trial_records()] == [1.0, 1.0]
    kept = first.attrs["runner"]["pid"]

    helper.write_text("def weight():\n    return 2.0\n")  # edited after the workers imported it
    later = time.time() + 2  # the same size: a .pyc is stale only by the source's mtime, in whole seconds
    os.utime(helper, (later, later))
    second = _launch("code-b", 0, objective=mod.score)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == kept
    records = second.trial_records()
    assert [r["value"] for r in records] == [2.0, 2.0], "the kept workers ran the old code"
    assert {r["reused_from"] for r in records} == {None}
    log = (home / "jobs" / "code-b" / "runner.log").read_text()
    assert log.count("not taken over (a fresh one starts): it refused: ('RuntimeError: code it imported changed "
                     "since it started: credit_feats.features',)") == 2
    assert _gone([kept])


@pytest.mark.parametrize("layout", ["file", "dataset-folder"])
def test_a_kept_worker_whose_parquet_data_changed_is_not_reused(home, tmp_path, layout):
    """The data is Parquet, which pandas reads through pyarrow's C++ reader, unseen by Python's audit hook; its path
    is a hyperparameter, so it is watched all the same: a rewrite between two launches gives the second job the new
    data on fresh workers; unchanged data keeps the workers."""
    import pandas as pd

    folder = tmp_path / "data" / "credit"
    folder.mkdir(parents=True)
    path = folder / "part-0.parquet" if layout == "dataset-folder" else tmp_path / "data" / "credit.parquet"
    pd.DataFrame({"x": [1.0, 5.0]}).to_parquet(path)
    data = str(folder if layout == "dataset-folder" else path)
    same = {"objective": objectives.reads_its_parquet, "hyperparameters": {"data": data}}
    first = _launch(f"pq-{layout}-a", 60, **same)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    assert [r["value"] for r in first.trial_records()] == [1.0, 1.0]
    kept = first.attrs["runner"]["pid"]
    unchanged = _launch(f"pq-{layout}-b", 60, **same)  # the same data: the kept workers serve it
    assert unchanged.wait(timeout=120) == JobStatus.COMPLETED
    assert {r["reused_from"] for r in unchanged.trial_records()} == {f"pq-{layout}-a"}

    pd.DataFrame({"x": [2.0, 5.0]}).to_parquet(path)
    second = _launch(f"pq-{layout}-c", 0, **same)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == kept
    records = second.trial_records()
    assert [r["value"] for r in records] == [2.0, 2.0], "the kept workers answered from the old data"
    assert {r["reused_from"] for r in records} == {None}
    log = (home / "jobs" / f"pq-{layout}-c" / "runner.log").read_text()
    assert log.count(f"RuntimeError: files it read changed since it started: {path}") == 2
    assert _gone([kept])


def test_a_job_with_other_static_hyperparameters_gets_its_own_cached_values(home, tmp_path):
    """Two launches of one objective on two data files (``hyperparameters: {data: ...}``, as one model per portfolio
    segment): the kept workers serve the second job, but the ``trial.cached`` values the first job's data gave are
    dropped, so the second job answers from its own data; the same static hyperparameters keep them."""
    first_data, second_data = tmp_path / "segment-a.txt", tmp_path / "segment-b.txt"
    first_data.write_text("1.0")
    second_data.write_text("2.0")
    first = _launch("seg-a", 60, objective=objectives.reads_its_data, hyperparameters={"data": str(first_data)})
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    second = _launch("seg-b", 60, objective=objectives.reads_its_data, hyperparameters={"data": str(second_data)})
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    records = second.trial_records()
    assert {r["reused_from"] for r in records} == {"seg-a"}  # the kept workers, with their imports
    assert [r["value"] for r in records] == [2.0, 2.0], "the second job got the first job's cached data"
    log = (home / "jobs" / "seg-b" / "runner.log").read_text()
    assert log.count("trial.cached values of job seg-a dropped: its static hyperparameters differ (data)") == 2
    third = _launch("seg-b-again", 0, objective=objectives.reads_its_data,
                    hyperparameters={"data": str(second_data)})
    assert third.wait(timeout=120) == JobStatus.COMPLETED
    assert [r["value"] for r in third.trial_records()] == [2.0, 2.0]
    assert "trial.cached values" not in (home / "jobs" / "seg-b-again" / "runner.log").read_text()
    assert _gone([kept])


def test_a_kept_worker_whose_data_file_changed_is_not_reused(home, tmp_path):
    """The objective's data (kept in ``trial.cached``) lies outside the working directory and is rewritten between
    two launches: the second job reads the new data, on fresh workers; an unchanged file keeps the workers."""
    data = tmp_path / "data" / "credit.txt"
    data.parent.mkdir()
    data.write_text("1.0")
    same = {"objective": objectives.reads_its_data, "hyperparameters": {"data": str(data)}}
    first = _launch("data-a", 60, **same)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    unchanged = _launch("data-b", 60, **same)  # the same data: the kept workers serve it
    assert unchanged.wait(timeout=120) == JobStatus.COMPLETED
    assert {r["reused_from"] for r in unchanged.trial_records()} == {"data-a"}

    data.write_text("2.0")
    second = _launch("data-c", 0, **same)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.attrs["runner"]["pid"] == kept
    records = second.trial_records()
    assert [r["value"] for r in records] == [2.0, 2.0], "the kept workers answered from the old data"
    assert {r["reused_from"] for r in records} == {None}
    log = (home / "jobs" / "data-c" / "runner.log").read_text()
    assert log.count(f"RuntimeError: files it read changed since it started: {data}") == 2
    assert _gone([kept])


def test_a_kept_runner_that_cannot_run_the_next_job_fails_it_with_the_reason_and_stays(home):
    """A stored spec a runner cannot run (a seed an older version let through), handed to a kept runner: the
    kept runner died with a traceback, losing its warm workers, and the job failed only after the launcher had
    waited for it and started a fresh runner."""
    from jupyter_hpo.runner.handle import RunnerHandle
    from jupyter_hpo.spec import TuningSpec

    first = _launch("keeps", 60)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    runner = first.attrs["runner"]["pid"]
    spec = TuningSpec.from_dict({"name": "cannot-run", "trial": {"function": "tests.objectives:worker_identity"},
                                 "space": X, "budget": {"max_trials": 2, "max_parallel": 2}, "seed": 0,
                                 "warm_pool": {"keep_alive_s": 60}})
    bad = api._start(spec, api.open_store(), run=False)
    bad.store.set_job_attrs(bad.name, spec={**bad.spec, "seed": 2**40})
    RunnerHandle(bad.store, bad.name).start(cwd=os.getcwd())
    assert bad.wait(timeout=60) == JobStatus.FAILED
    assert bad.attrs["reason"] == ("the runner could not start: SpecError: `seed` must be an integer from 0 to "
                                   "4294967295, but got 1099511627776.")
    log = (home / "jobs" / "cannot-run" / "runner.log").read_text()
    assert "this runner (kept after an earlier job) takes job cannot-run" in log
    assert "job cannot-run: the runner could not start" in log
    assert psutil.pid_exists(runner), "the kept runner stayed"
    third = _launch("after", 1)
    assert third.wait(timeout=120) == JobStatus.COMPLETED
    assert third.attrs["runner"]["pid"] == runner
    assert all(r["warm"] for r in third.trial_records()), "on the first job's warm workers"


def test_a_stop_of_a_job_that_ended_meanwhile_never_reaches_the_next_job_in_its_kept_runner(home):
    """``stop(A)`` read A running; A completed and the next launch, B, went to A's kept runner; the stop's SIGTERM
    to A's runner process then stopped B after one trial. A's runner is shared: the stop is a request, not a
    signal."""
    first = _launch("ended-a", 60, objective=objectives.sleepy, hyperparameters={"sleep": 0.05})
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    second = api.launch(objective=objectives.sleepy, space=X, max_trials=6, max_parallel=2, name="next-b",
                        hyperparameters={"sleep": 0.3}, keep_alive_s=30)
    wait_for(lambda: second.trial_records(), timeout=60)
    assert second.attrs["runner"]["pid"] == kept
    store = first.store
    try:  # what stop(A) read before A completed: running (its runner record, the kept process's, is still A's)
        store.watch_status = lambda name, seconds=None: JobStatus.RUNNING
        first.stop(wait=False)
    finally:
        del store.watch_status
    assert second.wait(timeout=120) == JobStatus.COMPLETED, second.attrs.get("reason")
    assert second.attrs["runner"]["pid"] == kept and len(second.trial_records()) == 6
    os.kill(kept, signal.SIGTERM)
    assert _gone([kept], timeout=15)
