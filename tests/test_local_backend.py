"""The local warm pool, driven directly with real worker processes (no runner, no store)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo.api import _pickle_objective
from jupyter_hpo.backends import TrialOutcome, TrialRequest
from jupyter_hpo.backends._local import LocalBackend
from jupyter_hpo.spec import TuningSpec
from tests import objectives

SPACE_X = {"x": {"type": "float", "low": 0, "high": 1}}


class Events:
    def __init__(self, prune: bool = False) -> None:
        self.outcomes: dict[int, TrialOutcome] = {}
        self.reports: list[tuple[int, int, float]] = []
        self.prune = prune

    def on_report(self, key: int, step: int, value: float) -> bool:
        self.reports.append((key, step, value))
        return self.prune

    def on_finish(self, outcome: TrialOutcome) -> None:
        self.outcomes[outcome.key] = outcome


def make_backend(tmp_path: Path, fn: Any, *, parallel: int = 1, timeout: float | None = None,
                 warm_pool: dict[str, Any] | None = None, space: dict[str, Any] | None = None) -> LocalBackend:
    spec = TuningSpec.from_dict({
        "name": "pool-test", "trial": {"function": fn, "timeout": timeout}, "space": space or SPACE_X,
        "budget": {"max_trials": 100, "max_parallel": parallel}, "warm_pool": warm_pool or {},
    })
    (tmp_path / "objective.pkl").write_bytes(_pickle_objective(fn))
    backend = LocalBackend(spec, tmp_path)
    backend.start()
    return backend


def run(backend: LocalBackend, params: list[dict[str, Any]], events: Events | None = None,
        timeout: float = 60) -> tuple[list[TrialOutcome], list[str], list[bool]]:
    """Run trials one after another through the pool; return outcomes, workers and warm flags."""
    events = events or Events()
    workers, warm = [], []
    for key, p in enumerate(params):
        assignment = backend.submit(TrialRequest(key=key, params=p, seed=key))
        workers.append(assignment.worker)
        warm.append(assignment.warm)
        deadline = time.monotonic() + timeout
        while key not in events.outcomes:
            assert time.monotonic() < deadline, f"trial {key} did not finish in {timeout} s"
            backend.poll(events, timeout=0.1)
    return [events.outcomes[k] for k in range(len(params))], workers, warm


@pytest.fixture
def backends():
    made: list[LocalBackend] = []
    yield made
    for b in made:
        b.close()


def test_second_trial_on_a_worker_is_warm_and_starts_far_faster(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.worker_identity)
    backends.append(backend)
    outcomes, workers, warm = run(backend, [{"x": 0.1}, {"x": 0.2}, {"x": 0.3}])
    assert [o.state for o in outcomes] == ["complete"] * 3
    assert workers == ["local-1"] * 3
    assert warm == [False, True, True]
    assert len({o.value for o in outcomes}) == 1, "all three trials ran in the same process"
    assert [o.metrics["calls"] for o in outcomes] == [1.0, 2.0, 3.0], "cached() kept its value across trials"
    cold, warm_startups = outcomes[0].startup_s, [o.startup_s for o in outcomes[1:]]
    assert all(w < cold / 10 for w in warm_startups), (cold, warm_startups)


def test_a_cold_start_up_is_the_workers_start_not_the_time_it_then_waited_for_its_first_trial(tmp_path, backends):
    """A worker ready before the runner sent its first trial counted that idle wait as start-up: a light
    objective's cold start-up, and the start-up saved, read 2-3 times too large."""
    backend = make_backend(tmp_path, objectives.worker_identity)
    backends.append(backend)
    events = Events()
    deadline = time.monotonic() + 60
    while not backend._procs or backend._procs[0].ready_at is None:  # the prestarted worker is ready
        assert time.monotonic() < deadline, "the worker did not start"
        backend.poll(events, timeout=0.1)
    [proc] = backend._procs
    time.sleep(2.0)  # the runner is busy elsewhere: the worker waits, started
    sent = time.time()
    [outcome], _, [warm] = run(backend, [{"x": 0.1}], events)
    boot, since_sent = proc.ready_at - proc.spawned_at, time.time() - sent
    assert warm is False and outcome.startup_s < boot + since_sent, (outcome.startup_s, boot, since_sent)


def test_a_worker_that_died_before_its_first_trial_is_replaced_and_the_trial_runs(tmp_path, backends):
    """A worker killed as it booted (the OOM killer, a `kill`) broke the runner's pipe at its first trial: the
    runner failed with BrokenPipeError and the whole job with it, no trial recorded."""
    import os
    import signal

    backend = make_backend(tmp_path, objectives.worker_identity)
    backends.append(backend)
    deadline = time.monotonic() + 60
    while not backend._procs:  # the worker started with the pool
        assert time.monotonic() < deadline, "the worker did not start"
        backend.poll(Events(), timeout=0.1)
    [dead] = backend._procs
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.join(timeout=10)
    outcomes, workers, _ = run(backend, [{"x": 0.1}, {"x": 0.2}])
    assert [o.state for o in outcomes] == ["complete"] * 2
    assert workers[0] == workers[1] != dead.id and outcomes[0].value != dead.process.pid


def test_without_warm_pool_every_trial_gets_a_fresh_process(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.worker_identity, warm_pool={"enabled": False})
    backends.append(backend)
    outcomes, workers, warm = run(backend, [{"x": 0.1}, {"x": 0.2}, {"x": 0.3}])
    assert warm == [False, False, False]
    assert len(set(workers)) == 3
    assert len({o.value for o in outcomes}) == 3, "three different pids"
    assert [o.metrics["calls"] for o in outcomes] == [1.0, 1.0, 1.0]


def test_workers_are_recycled_after_max_trials_per_worker(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.worker_identity, warm_pool={"max_trials_per_worker": 2})
    backends.append(backend)
    outcomes, workers, warm = run(backend, [{"x": 0.1}] * 4)
    assert workers[0] == workers[1] != workers[2] == workers[3]
    assert warm == [False, True, False, True]
    assert [o.metrics["calls"] for o in outcomes] == [1.0, 2.0, 1.0, 2.0]


def test_a_resource_limit_a_trial_set_is_not_the_next_trials(tmp_path, backends):
    """A trial that capped its own memory with resource.setrlimit left the cap on its warm worker: the next trials
    failed with MemoryError. A lowered soft limit is put back; a lowered hard limit retires the worker."""
    backend = make_backend(tmp_path, objectives.capped, space={"mode": ["read", "soft", "hard"]})
    backends.append(backend)
    outcomes, workers, _ = run(backend, [{"mode": "read"}, {"mode": "soft"}, {"mode": "read"}, {"mode": "hard"},
                                         {"mode": "read"}])
    assert all(o.state == "complete" for o in outcomes)
    start = outcomes[0].metrics["soft_at_start"]
    assert start > 64 and [o.metrics["soft_at_start"] for o in outcomes] == [start] * 5
    assert workers[0] == workers[1] == workers[2] == workers[3]
    # a hard limit a process cannot raise again (no CAP_SYS_RESOURCE) retired its worker; else it was put back
    probe = ("import resource; s, h = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
             "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
             "try:\n    resource.setrlimit(resource.RLIMIT_NOFILE, (s, h)); print('raised')\n"
             "except (OSError, ValueError):\n    print('kept')\n")
    kept = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "kept\n"
    assert (workers[3] != workers[4]) is kept


def test_each_trial_is_reset_and_reseeded(tmp_path, backends):
    def draws(p):
        import random

        import numpy as np

        from jupyter_hpo import trial

        assert trial.params()["x"] == p["x"]
        return {"objective": random.random(), "np": float(np.random.random())}

    backend = make_backend(tmp_path, draws)
    backends.append(backend)
    events = Events()
    for key, seed in enumerate([7, 8, 7]):
        backend.submit(TrialRequest(key=key, params={"x": 0.5}, seed=seed))
        while key not in events.outcomes:
            backend.poll(events, 0.1)
    a, b, c = (events.outcomes[k] for k in range(3))
    assert a.state == b.state == c.state == "complete"
    assert a.value == c.value and a.metrics["np"] == c.metrics["np"], "same seed, same draws"
    assert a.value != b.value


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("raise", "ValueError: bad things happened in the trial"),
        ("exit", "worker process died (exit code 3)"),
        ("segfault", "worker process died (killed by signal SIGSEGV)"),
        ("string", "the objective returned 'high', not a number"),
        ("none", "the objective returned None, not a number"),
    ],
)
def test_a_failing_trial_is_recorded_and_the_pool_goes_on(tmp_path, backends, mode, reason):
    space = {"mode": ["ok", "raise", "exit", "segfault", "string", "none"]}
    backend = make_backend(tmp_path, objectives.faulty, space=space)
    backends.append(backend)
    outcomes, workers, _ = run(backend, [{"mode": mode}, {"mode": "ok"}])
    assert outcomes[0].state == "failed"
    assert reason in outcomes[0].error
    assert outcomes[1].state == "complete" and outcomes[1].value == 1.0
    crashed = mode in ("exit", "segfault")
    assert (workers[0] != workers[1]) is crashed, "a crashed worker is replaced, a raising one reused"
    if mode == "raise":
        assert "Traceback" in outcomes[0].traceback and "faulty" in outcomes[0].traceback


def test_a_trial_past_its_timeout_is_killed_and_its_worker_replaced(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.faulty, timeout=1.0, space={"mode": ["ok", "hang"]})
    backends.append(backend)
    outcomes, workers, _ = run(backend, [{"mode": "hang"}, {"mode": "ok"}])
    assert outcomes[0].state == "failed"
    assert outcomes[0].error == "timed out after 1 s (trial.timeout)"
    assert 1.0 <= outcomes[0].run_s < 10
    assert workers[0] != workers[1] and outcomes[1].state == "complete"


def test_a_worker_past_its_memory_bound_is_killed_and_replaced(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.faulty, warm_pool={"max_memory_mb": 250},
                           space={"mode": ["ok", "memory"]})
    backends.append(backend)
    outcomes, workers, _ = run(backend, [{"mode": "memory"}, {"mode": "ok"}])
    assert outcomes[0].state == "failed"
    assert "above its bound of 250 MB (warm_pool.max_memory_mb)" in outcomes[0].error
    assert workers[0] != workers[1] and outcomes[1].state == "complete"


def test_reports_reach_the_runner_and_a_prune_answer_stops_the_trial(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.stepwise)
    backends.append(backend)
    events = Events(prune=False)
    outcomes, _, _ = run(backend, [{"x": 0.9}], events)
    assert outcomes[0].state == "complete"
    assert [(s, round(v, 2)) for _, s, v in events.reports] == [(0, 0.9), (1, 0.91), (2, 0.92), (3, 0.93), (4, 0.94)]
    pruning = Events(prune=True)
    pruning.outcomes = {}
    outcomes, _, _ = run(backend, [{"x": 0.1}], pruning)
    assert outcomes[0].state == "pruned"
    assert len(pruning.reports) == 1, "the trial stopped at its first report"


def test_boot_failure_fails_the_trial_with_the_reason(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.quadratic)
    (tmp_path / "objective.pkl").write_bytes(b"not a pickle")
    backends.append(backend)
    backend.close()
    backend = LocalBackend(backend.spec, tmp_path)
    backends.append(backend)
    outcomes, _, _ = run(backend, [{"x": 0.5}])
    assert outcomes[0].state == "failed"
    assert outcomes[0].error.startswith("the worker could not load the objective: ")


def test_cancel_all_interrupts_running_trials(tmp_path, backends):
    backend = make_backend(tmp_path, objectives.sleepy, parallel=2)
    backends.append(backend)
    for key in range(2):
        backend.submit(TrialRequest(key=key, params={"x": 0.5, "sleep": 30}))
    assert backend.running() == 2 and backend.free_slots() == 0
    events = Events()
    backend.cancel_all(events, "interrupted: test")
    outcomes = list(events.outcomes.values())
    assert sorted(o.key for o in outcomes) == [0, 1]
    assert all(o.interrupted and o.state == "failed" and o.error == "interrupted: test" for o in outcomes)
    assert backend.running() == 0


def test_backend_options_on_the_local_backend_are_refused_and_nothing_is_created(home):
    """The local backend has no options: one given is refused, naming it, instead of being ignored."""
    from jupyter_hpo import api
    from jupyter_hpo.exceptions import SpecError

    with pytest.raises(SpecError, match=r"the local backend takes no `backend.options`, but got `instance_type`, "
                                        r"`spot`; its workers are set with `warm_pool"):
        api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": -1, "high": 1}},
                   backend={"name": "local", "options": {"spot": True, "instance_type": "ml.m5.xlarge"}},
                   name="local-opts")
    assert "local-opts" not in {j["name"] for j in api.list_jobs()}
