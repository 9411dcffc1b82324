"""The backend contract, run against every implementation (Optuna's ``StorageTestCase`` pattern).

``ExecutorContract`` holds what every executor backend must do; ``TestLocal`` (real worker
processes), ``TestSageMaker`` (the training-job scheduler on the simulated SageMaker, virtual clock)
and ``TestFakeExecutor`` (``tests/fake_backends.py``) each build their backend for it.
``MirrorContract`` does the same for mirror backends: ``TestAmt`` (on the simulator) and ``TestFakeMirror``.

Every contract trial has parameters ``x`` (its value) and ``mode``: ``ok`` reports three
intermediate values and completes with ``x``; ``fail`` fails; ``slow`` runs until it is cancelled.
The fake backends also run under the real runner, end to end, at the bottom of this file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo.backends import (
    Backend,
    EventLog,
    ExecutorBackend,
    MirrorBackend,
    TrialOutcome,
    TrialRequest,
)
from jupyter_hpo.spec import TuningSpec
from tests.fake_backends import FakeExecutor, FakeMirror, FakeService, contract_objective

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "mode": ["ok", "fail", "slow"]}
SLOW_S = 3000.0  # a slow trial's training time on the simulator (it is cancelled long before)


def contract_spec(parallel: int, trial: dict[str, Any], backend: dict[str, Any] | None = None,
                  space: dict[str, Any] | None = None, trials: int = 20) -> TuningSpec:
    return TuningSpec.from_dict({
        "name": "contract", "trial": trial, "space": space or SPACE, "strategy": "random", "seed": 1,
        "objective": {"metric": "score", "direction": "maximize"},
        "budget": {"max_trials": trials, "max_parallel": parallel},
        **({"backend": backend} if backend else {}),
    })


def script(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "train.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("print('score=0.5')\n")
    return path


class Events(EventLog):
    """An event log that also records the trials a mirror announces."""

    def __init__(self, prune: bool | Callable[[int, int, float], bool] = False) -> None:
        super().__init__(prune)
        self.announced: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    def on_external_trial(self, params: dict[str, Any], attrs: dict[str, Any]) -> int:
        self.announced.append((len(self.announced), params, attrs))
        return len(self.announced) - 1

    def finished(self) -> Counter[int]:
        return Counter(o.key for o in self.outcomes)

    def outcome(self, key: int) -> TrialOutcome:
        (outcome,) = [o for o in self.outcomes if o.key == key]
        return outcome


class Contract:
    """What both suites share: backends made by the subclass, closed after each test."""

    #: how long one poll may wait (real seconds, or virtual ones on the simulator)
    poll_timeout = 0.1
    #: most polls before a test gives up waiting
    max_polls = 3000

    @pytest.fixture(autouse=True)
    def _made(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self.made: list[Backend] = []
        yield
        for backend in self.made:
            backend.close()
        self.tear_down()

    def tear_down(self) -> None:
        """Free what the subclass's backends shared (a simulator)."""

    def drive(self, backend: Any, events: Events, until: Callable[[], bool], what: str) -> None:
        for _ in range(self.max_polls):
            if until():
                return
            backend.poll(events, timeout=self.poll_timeout)
        raise AssertionError(f"{type(backend).__name__}: {what} after {self.max_polls} polls")

    def test_close_is_idempotent_and_summary_is_json(self) -> None:
        backend = self.make()
        backend.start()
        backend.close()
        backend.close()
        summary = backend.summary()
        assert isinstance(summary, dict)
        assert json.loads(json.dumps(summary)) == summary


class ExecutorContract(Contract):
    """Subclass and implement :meth:`build`; the tests below are the executor contract."""

    def build(self, parallel: int) -> ExecutorBackend:
        raise NotImplementedError

    def make(self, parallel: int = 2) -> ExecutorBackend:
        backend = self.build(parallel)
        self.made.append(backend)
        return backend

    def started(self, parallel: int = 2) -> ExecutorBackend:
        backend = self.make(parallel)
        backend.start()
        return backend

    def run_all(self, backend: ExecutorBackend, events: Events, params: list[dict[str, Any]]) -> None:
        """Submit the trials (keys 0..n-1) whenever slots are free; poll until each has finished."""
        todo = list(enumerate(params))

        def submit_and_check() -> bool:
            while todo and backend.free_slots() > 0:
                key, p = todo.pop(0)
                assignment = backend.submit(TrialRequest(key=key, params=p, seed=key))
                assert isinstance(assignment.worker, str) and isinstance(assignment.warm, bool)
            return not todo and set(events.finished()) >= set(range(len(params)))

        self.drive(backend, events, submit_and_check, f"not all of {len(params)} trials finished")

    def test_is_an_executor(self) -> None:
        backend = self.make()
        assert isinstance(backend, ExecutorBackend) and not isinstance(backend, MirrorBackend)

    def test_submits_up_to_free_slots(self) -> None:
        backend = self.started(parallel=2)
        assert backend.free_slots() == 2 and backend.running() == 0
        for key in range(2):
            backend.submit(TrialRequest(key=key, params={"x": 0.5, "mode": "slow"}, seed=key))
        assert backend.free_slots() == 0 and backend.running() == 2
        backend.cancel_all(Events(), "interrupted: test")

    def test_every_trial_finishes_exactly_once_with_its_value_or_error(self) -> None:
        backend = self.started(parallel=2)
        events = Events()
        params = [{"x": 0.25, "mode": "ok"}, {"x": 0.5, "mode": "fail"}, {"x": 0.75, "mode": "ok"},
                  {"x": 0.125, "mode": "ok"}]
        self.run_all(backend, events, params)
        for _ in range(5):  # nothing arrives twice
            backend.poll(events, timeout=self.poll_timeout)
        assert events.finished() == Counter({0: 1, 1: 1, 2: 1, 3: 1})
        for key, p in enumerate(params):
            outcome = events.outcome(key)
            if p["mode"] == "ok":
                assert (outcome.state, outcome.error) == ("complete", None)
                assert outcome.value == pytest.approx(p["x"])
            else:
                assert outcome.state == "failed" and outcome.value is None and outcome.error
            assert not outcome.interrupted
        assert backend.running() == 0

    def test_reports_reach_on_report_and_a_true_answer_prunes(self) -> None:
        backend = self.started(parallel=1)
        events = Events(prune=lambda key, step, value: key == 1)
        self.run_all(backend, events, [{"x": 0.6, "mode": "ok"}, {"x": 0.3, "mode": "ok"}])
        kept = [(step, value) for key, step, value in events.reports if key == 0]
        assert [step for step, _ in kept] == [0, 1, 2]
        assert kept[-1][1] == pytest.approx(0.6)
        assert events.outcome(0).state == "complete"
        assert [step for key, step, _ in events.reports if key == 1][:1] == [0]
        assert events.outcome(1).state == "pruned"

    def test_cancel_all_finishes_every_running_trial_as_interrupted_through_events(self) -> None:
        backend = self.started(parallel=2)
        events = Events()
        for key in range(2):
            backend.submit(TrialRequest(key=key, params={"x": 0.5, "mode": "slow"}, seed=key))
        for _ in range(3):
            backend.poll(events, timeout=self.poll_timeout)
        assert events.outcomes == []
        backend.cancel_all(events, "interrupted: the job was stopped")
        assert events.finished() == Counter({0: 1, 1: 1})
        for outcome in events.outcomes:
            assert outcome.state == "failed" and outcome.interrupted
            assert "interrupted: the job was stopped" in outcome.error
        assert backend.running() == 0
        backend.cancel_all(events, "interrupted: again")
        for _ in range(3):
            backend.poll(events, timeout=self.poll_timeout)
        assert events.finished() == Counter({0: 1, 1: 1})

    def test_recover_after_a_restart_does_not_rerun_finished_trials(self) -> None:
        from optuna.trial import TrialState, create_trial

        first = self.started(parallel=1)
        events = Events()
        assignment = first.submit(TrialRequest(key=0, params={"x": 0.4, "mode": "ok"}, seed=0))
        self.drive(first, events, lambda: 0 in events.finished(), "trial 0 did not finish")
        first.close()
        done = events.outcome(0)
        stored = create_trial(state=TrialState.COMPLETE, value=done.value, params={"x": 0.4, "mode": "ok"},
                              distributions=first.spec.space.to_optuna(),
                              user_attrs={"worker": assignment.worker, **assignment.attrs, **done.attrs})
        stored.number = 0
        second = self.make(parallel=1)
        second.recover([stored])
        second.start()
        after = Events()
        for _ in range(5):
            second.poll(after, timeout=self.poll_timeout)
        assert after.outcomes == [] and after.reports == [] and second.running() == 0
        second.submit(TrialRequest(key=1, params={"x": 0.9, "mode": "ok"}, seed=1))
        self.drive(second, after, lambda: 1 in after.finished(), "trial 1 did not finish after recover")
        assert after.finished() == Counter({1: 1}) and after.outcome(1).value == pytest.approx(0.9)


class TestLocal(ExecutorContract):
    poll_timeout = 0.2

    def build(self, parallel: int) -> ExecutorBackend:
        from jupyter_hpo.api import _pickle_objective
        from jupyter_hpo.backends._local import LocalBackend

        (self.tmp_path / "objective.pkl").write_bytes(_pickle_objective(contract_objective))
        return LocalBackend(contract_spec(parallel, {"function": contract_objective}), self.tmp_path)


class TestSageMaker(ExecutorContract):
    """The training-job scheduler against the simulated SageMaker with a virtual clock."""

    poll_timeout = 5.0  # virtual seconds

    def build(self, parallel: int) -> ExecutorBackend:
        from jupyter_hpo.sagemaker.options import simulation_defaults
        from jupyter_hpo.sagemaker.scheduler import SageMakerBackend

        spec = contract_spec(parallel, {"script": str(script(self.tmp_path))}, {
            "name": "sagemaker", "options": simulation_defaults({"simulate": {}, "poll_s": 5, "keep_alive_s": 600})})
        return SageMakerBackend(spec, self.tmp_path / "job", clients=self.clients())

    def clients(self) -> Any:
        if getattr(self, "_clients", None) is None:
            from jupyter_hpo.sagemaker.clients import simulated_clients

            self._clients = simulated_clients({
                "cold_startup_s": 20, "warm_startup_s": 2, "download_s": 1, "upload_s": 1,
                "training_s": lambda _rng, hps: SLOW_S if hps.get("mode") == "slow" else 60.0,
                "metric_fn": metric, "s3_root": str(self.tmp_path / "s3")}, virtual=True)
        return self._clients

    def tear_down(self) -> None:
        if getattr(self, "_clients", None) is not None:
            self._clients.sim.close()


def metric(_rng: Any, hyperparameters: dict[str, str]) -> float:
    """The simulated job's metric: ``x``; ``mode=fail`` fails the job (an AlgorithmError)."""
    if hyperparameters.get("mode") == "fail":
        raise RuntimeError("the contract's failing trial failed")
    return float(hyperparameters["x"])


class TestFakeExecutor(ExecutorContract):
    max_polls = 100

    def build(self, parallel: int) -> ExecutorBackend:
        return FakeExecutor(contract_spec(parallel, {"script": str(script(self.tmp_path))}), self.tmp_path)


# -- mirrors ---------------------------------------------------------------------------------------------
class MirrorContract(Contract):
    """Subclass and implement :meth:`build` (backends of one test share the service they mirror)."""

    def build(self, slow: bool) -> MirrorBackend:
        raise NotImplementedError

    def make(self, slow: bool = False) -> MirrorBackend:
        backend = self.build(slow)
        self.made.append(backend)
        return backend

    def run_to_end(self, backend: MirrorBackend, events: Events) -> tuple[str, str]:
        self.drive(backend, events, lambda: backend.done() is not None, "the mirrored service did not end")
        status = backend.done()
        assert status is not None
        return status

    def test_is_a_mirror(self) -> None:
        backend = self.make()
        assert isinstance(backend, MirrorBackend) and not isinstance(backend, ExecutorBackend)

    def test_mirrors_each_trial_once_to_the_end(self) -> None:
        backend = self.make()
        backend.start()
        events = Events()
        assert backend.done() is None
        status, reason = self.run_to_end(backend, events)
        assert status == "completed" and reason
        keys = [key for key, _, _ in events.announced]
        assert keys and events.finished() == Counter(dict.fromkeys(keys, 1))
        for key, params, attrs in events.announced:
            outcome = events.outcome(key)
            assert outcome.state == "complete" and outcome.value == pytest.approx(params["x"])
            assert isinstance(attrs["worker"], str)
        assert {key for key, _, _ in events.reports} <= set(keys)
        assert backend.running() == 0

    def test_adopted_trials_are_not_announced_again(self) -> None:
        first = self.make()
        first.start()
        events = Events()
        self.run_to_end(first, events)
        first.close()
        second = self.make()
        second.adopt({attrs["worker"]: key for key, _, attrs in events.announced})
        second.start()
        again = Events()
        for _ in range(3):
            second.poll(again, timeout=self.poll_timeout)
        assert self.run_to_end(second, again)[0] == "completed"
        assert again.announced == [] and again.outcomes == [] and second.running() == 0

    def test_cancel_all_ends_every_open_trial_as_interrupted(self) -> None:
        backend = self.make(slow=True)
        backend.start()
        events = Events()
        self.drive(backend, events, lambda: len(events.announced) > 0, "no trial was announced")
        backend.cancel_all(events, "interrupted: the job was stopped")
        backend.cancel_all(events, "interrupted: the job was stopped")
        status, _ = self.run_to_end(backend, events)
        assert status == "stopped" and backend.running() == 0
        keys = [key for key, _, _ in events.announced]
        assert events.finished() == Counter(dict.fromkeys(keys, 1))
        assert all(o.state == "failed" and o.interrupted for o in events.outcomes)


class TestAmt(MirrorContract):
    """SageMaker AMT on the simulator (virtual clock)."""

    poll_timeout = 5.0

    def build(self, slow: bool) -> MirrorBackend:
        from jupyter_hpo.sagemaker.amt import AmtBackend
        from jupyter_hpo.sagemaker.clients import simulated_clients
        from jupyter_hpo.sagemaker.options import simulation_defaults

        if getattr(self, "_clients", None) is None:
            self._clients = simulated_clients({
                "cold_startup_s": 20, "download_s": 1, "upload_s": 1, "training_s": SLOW_S if slow else 60.0,
                "metric_fn": metric, "s3_root": str(self.tmp_path / "s3")}, virtual=True)
        spec = contract_spec(2, {"script": str(script(self.tmp_path))}, {
            "name": "amt", "options": simulation_defaults({"simulate": {}, "poll_s": 5})},
            space={"x": SPACE["x"]}, trials=3)
        return AmtBackend(spec, self.tmp_path / "job", clients=self._clients)

    def tear_down(self) -> None:
        if getattr(self, "_clients", None) is not None:
            self._clients.sim.close()


class TestFakeMirror(MirrorContract):
    max_polls = 100

    def build(self, slow: bool) -> MirrorBackend:
        if getattr(self, "_service", None) is None:
            self._service = FakeService(total=3, parallel=2, slow=slow)
        spec = contract_spec(2, {"script": str(script(self.tmp_path))}, space={"x": SPACE["x"]}, trials=3)
        return FakeMirror(spec, self.tmp_path, service=self._service)


# -- the fake backends under the real runner -------------------------------------------------------------
@pytest.fixture
def in_process(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Launch a job whose ``local`` backend is a fake one and run its runner here; returns the job."""
    from jupyter_hpo import api, backends
    from jupyter_hpo.runner._runner import Runner

    monkeypatch.setattr("jupyter_hpo.runner.spawn_runner", lambda *a, **k: None)

    def run(target: str, **options: Any) -> api.Job:
        monkeypatch.setitem(backends.REGISTRY, "local", target)
        job = api.launch(objective=contract_objective, **options)
        assert Runner(job.store, job.name).run() == 0
        return job

    return run


def test_the_fake_executor_runs_a_job_under_the_real_runner(in_process: Callable[..., Any]) -> None:
    job = in_process("tests.fake_backends:FakeExecutor", space={"x": SPACE["x"], "mode": ["ok", "fail"]},
                     strategy="random", seed=3, max_trials=6, max_parallel=2, name="fake-run",
                     max_consecutive_failures=10)
    # seeded so that both kinds of trial occur (a job whose every trial failed ends ``failed``)
    assert job.status.value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    assert len(records) == 6 and {r["worker"] for r in records} <= {"fake-0", "fake-1"}
    assert {r["params"]["mode"] for r in records} == {"ok", "fail"}
    for r in records:
        if r["params"]["mode"] == "ok":
            assert r["state"] == "complete" and r["value"] == pytest.approx(r["params"]["x"])
            assert sorted(r["intermediate"]) == ["0", "1", "2"]
        else:
            assert r["state"] == "fail" and r["error"] == "the fake trial failed"
    assert job.attrs["backend_summary"] == {"kind": "fake", "submitted": 6, "recovered": []}


def test_the_runner_cancels_through_events_when_time_is_up(in_process: Callable[..., Any]) -> None:
    job = in_process("tests.fake_backends:FakeExecutor", space={"x": SPACE["x"], "mode": ["slow"]},
                     max_trials=4, max_parallel=2, max_runtime=0.5, name="fake-slow")
    assert job.attrs["reason"] == "max_runtime of 0.5 s reached"
    records = job.trial_records()
    assert len(records) == 2 and all(r["state"] == "fail" and r["interrupted"] for r in records), records
    assert all("max_runtime of 0.5 s reached" in r["error"] for r in records)


def test_the_fake_mirror_runs_a_job_under_the_real_runner(in_process: Callable[..., Any]) -> None:
    job = in_process("tests.fake_backends:FakeMirror", space={"x": SPACE["x"]}, max_trials=3, max_parallel=2,
                     name="fake-mirror")
    assert job.status.value == "completed" and job.attrs["reason"] == "the fake service completed"
    records = job.trial_records()
    assert sorted(r["worker"] for r in records) == ["fake-job-000", "fake-job-001", "fake-job-002"]
    assert all(r["state"] == "complete" and r["value"] == pytest.approx(r["params"]["x"]) for r in records)
