"""A local job's first workers boot while its runner starts (jupyter_hpo.backends._prestart): real runner and
worker processes; and the pool's checks on the workers it is handed, driven directly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from jupyter_hpo import api
from jupyter_hpo.backends import _prestart as prestart
from jupyter_hpo.backends._local import worker_boot
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.test_local_backend import Events, backends, make_backend, run  # noqa: F401 - backends: a fixture

X = {"x": {"type": "float", "low": 0, "high": 1}}


@pytest.mark.parametrize(("max_trials", "parallel"), [(6, 2), (1, 3)])
def test_a_launched_job_runs_its_first_trials_on_the_workers_its_runner_started_first(home, max_trials, parallel):
    job = api.launch(objective=objectives.worker_identity, space=X, max_trials=max_trials, max_parallel=parallel,
                     name="head-start", seed=0)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    expected = min(max_trials, parallel)  # as many as the pool holds at once
    assert job.attrs["backend_summary"] == {"prestarted_workers": expected}
    records = job.trial_records()
    assert {r["worker"] for r in records} == {f"local-{i + 1}" for i in range(expected)}, "no other worker started"
    assert len({r["value"] for r in records}) == expected  # one process each
    assert sum(not r["warm"] for r in records) == expected
    log = (home / "jobs" / "head-start" / "runner.log").read_text()
    assert f"{expected} worker(s) started with the runner taken, 0 ended" in log
    assert not (home / "jobs" / "head-start" / prestart.PRESTART_FILE).exists(), "read once"
    # a cold trial's start-up is its worker's whole start, which the warm ones did not pay
    if max_trials > parallel:
        summary = job.summary()
        assert summary["cold_startup_s"] > summary["warm_startup_s"] and summary["startup_saved_s"] > 0


def test_a_resumed_job_gets_the_head_start_for_the_trials_it_has_left(home):
    """A resume writes the file again: as many workers as the trials left can use, taken by the pool."""
    job = api.launch(objective=objectives.worker_identity, space=X, max_trials=2, max_parallel=3, name="resumed",
                     seed=0)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["backend_summary"] == {"prestarted_workers": 2}
    log = home / "jobs" / "resumed" / "runner.log"
    job.resume(max_trials=3)  # 1 trial left: 1 worker, not 3
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["backend_summary"] == {"prestarted_workers": 1}
    assert "1 worker(s) started with the runner taken, 0 ended" in log.read_text()
    records = job.trial_records()
    assert len(records) == 3 and {r["state"] for r in records} == {"complete"}
    assert records[2]["worker"] == "local-1" and not records[2]["warm"]  # the worker its runner started first
    assert not (home / "jobs" / "resumed" / prestart.PRESTART_FILE).exists()


def test_a_resume_where_the_objective_is_not_on_this_machine_starts_its_workers_as_before(home):
    """As on another machine: the job folder has no pickled objective until the runner restores it from the store,
    so no worker is started before that; the resumed job still runs."""
    job = api.launch(objective=objectives.worker_identity, space=X, max_trials=1, max_parallel=2, name="elsewhere",
                     seed=0)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    (home / "jobs" / "elsewhere" / "objective.pkl").unlink()
    job.resume(max_trials=3)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["backend_summary"] == {"prestarted_workers": 0}
    assert [r["state"] for r in job.trial_records()] == ["complete"] * 3


def test_without_a_warm_pool_the_runner_starts_no_worker_first(home):
    job = api.launch(objective=objectives.worker_identity, space=X, max_trials=3, max_parallel=1, warm_pool=False,
                     name="cold-pool", seed=0)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["backend_summary"] == {"prestarted_workers": 0}
    assert len({r["value"] for r in job.trial_records()}) == 3  # a fresh process per trial, as asked


def _prestart(tmp_path: Path, boot: dict, count: int) -> list:
    """Start workers as the runner does, from the file; returns their (process, connection, spawned at)."""
    prestart.write(tmp_path, boot, count)
    assert prestart.spawn_from(str(tmp_path / prestart.PRESTART_FILE)) == count
    assert not (tmp_path / prestart.PRESTART_FILE).exists()
    assert prestart._started is not None
    return list(prestart._started[1])


def _ended(processes: list, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(p.is_alive() for p in processes):
            return True
        time.sleep(0.05)
    return False


def test_workers_started_with_another_objective_are_ended_and_the_pool_starts_its_own(tmp_path, backends):
    other = tmp_path / "other"
    other.mkdir()
    from jupyter_hpo.api import _pickle_objective

    (other / "objective.pkl").write_bytes(_pickle_objective(objectives.quadratic))
    boot = {"kind": "function", "path": str(other / "objective.pkl"), "metric": "objective", "pattern": "x",
            "hyperparameters": {}}
    started = _prestart(tmp_path, boot, 2)
    backend = make_backend(tmp_path, objectives.worker_identity, parallel=2)
    backends.append(backend)
    assert backend.prestarted == 0 and backend.summary() == {"prestarted_workers": 0}
    assert _ended([p for p, _, _ in started])
    outcomes, _, _ = run(backend, [{"x": 0.1}, {"x": 0.2}])
    assert [o.state for o in outcomes] == ["complete"] * 2
    assert {o.value for o in outcomes}.isdisjoint({p.pid for p, _, _ in started}), "its own workers ran the trials"


def test_the_pool_takes_no_more_workers_than_it_can_use(tmp_path, backends):
    from jupyter_hpo.api import _pickle_objective
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_dict({"name": "pool-test", "trial": {"function": objectives.worker_identity},
                                 "space": X, "budget": {"max_trials": 100, "max_parallel": 2}})
    (tmp_path / "objective.pkl").write_bytes(_pickle_objective(objectives.worker_identity))
    started = _prestart(tmp_path, json.loads(json.dumps(worker_boot(spec, tmp_path))), 3)
    backend = make_backend(tmp_path, objectives.worker_identity, parallel=2)
    backends.append(backend)
    assert backend.prestarted == 2
    assert _ended([started[2][0]]), "the one the pool cannot use is ended"
    events = Events()
    outcomes, workers, warm = run(backend, [{"x": 0.1}, {"x": 0.2}, {"x": 0.3}], events)
    assert [o.state for o in outcomes] == ["complete"] * 3
    assert {o.value for o in outcomes} <= {float(p.pid) for p, _, _ in started[:2]}, "the workers started first ran them"
    assert warm[0] is False and outcomes[0].startup_s > 0


@pytest.mark.parametrize("text", ["not json", "[]", '{"boot": {}, "count": 0}', '{"boot": 3, "count": 1}',
                                  '{"boot": {}, "count": true}', '{"boot": {}, "count": 100000}'])
def test_a_malformed_file_starts_no_worker_and_is_removed(tmp_path, text):
    path = tmp_path / prestart.PRESTART_FILE
    path.write_text(text)
    assert prestart.spawn_from(str(path)) == 0
    assert prestart._started is None and not path.exists()
    assert prestart.spawn_from(str(path)) == 0  # a missing file: none either


def test_a_boot_that_cannot_be_written_leaves_no_file_and_no_error(tmp_path):
    assert prestart.write(tmp_path, {"kind": "function", "hyperparameters": {"x": object()}}, 2) is False
    assert not (tmp_path / prestart.PRESTART_FILE).exists()
    assert prestart.write(tmp_path / "missing-folder", {"kind": "script"}, 2) is False

