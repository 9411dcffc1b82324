"""Minimal backends of both kinds, for the conformance suites and for runs of the real runner.

``FakeExecutor`` runs each trial in three polls (reporting ``x/3``, ``2x/3``, ``x``), then completes
with ``x``; a ``mode`` parameter of ``"fail"`` fails it at the end and ``"slow"`` never ends it.
``FakeMirror`` follows a ``FakeService`` that proposes its own trials (as SageMaker AMT does).
``contract_objective`` is the same contract as a function objective, for the local backend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_hpo.backends import (
    Assignment,
    ExecutorBackend,
    MirrorBackend,
    MirrorEvents,
    TrialEvents,
    TrialOutcome,
    TrialRequest,
)
from jupyter_hpo.exceptions import BackendError
from jupyter_hpo.spec import TuningSpec

__all__ = ["STEPS", "FakeExecutor", "FakeMirror", "FakeService", "contract_objective"]

#: intermediate values every contract trial reports before it ends
STEPS = 3


def contract_objective(p: dict[str, Any]) -> float:
    """The contract trial as a function objective: reports ``STEPS`` values, then returns ``x``."""
    from jupyter_hpo import trial

    if p["mode"] == "slow":
        time.sleep(600)
    for step in range(STEPS):
        trial.report(p["x"] * (step + 1) / STEPS, step)
        if trial.should_prune():
            raise trial.TrialPruned()
    if p["mode"] == "fail":
        raise RuntimeError("the contract's failing trial failed")
    return p["x"]


@dataclass
class _Task:
    request: TrialRequest
    step: int = 0


class FakeExecutor(ExecutorBackend):
    """Runs trials in memory, one step per poll, ``budget.max_parallel`` at once (see the module docstring)."""

    name = "fake"

    def __init__(self, spec: TuningSpec, job_dir: Path) -> None:
        super().__init__(spec, job_dir)
        self.slots = spec.budget.max_parallel
        self.tasks: dict[int, _Task] = {}
        self.submitted = 0
        self.recovered: list[int] = []
        self.closed = 0

    def recover(self, trials: list[Any]) -> None:
        self.recovered = [t.number for t in trials if t.state.is_finished()]

    def free_slots(self) -> int:
        return self.slots - len(self.tasks)

    def running(self) -> int:
        return len(self.tasks)

    def submit(self, request: TrialRequest) -> Assignment:
        if self.free_slots() <= 0:
            raise BackendError("no free slot: the runner submitted more trials than free_slots()")
        self.tasks[request.key] = _Task(request)
        self.submitted += 1
        return Assignment(worker=f"fake-{request.key % self.slots}", warm=self.submitted > self.slots,
                          attrs={"fake": {"submitted": self.submitted}})

    def poll(self, events: TrialEvents, timeout: float) -> None:
        for key, task in list(self.tasks.items()):
            params = task.request.params
            mode, x = params.get("mode", "ok"), float(params.get("x", 0.0))
            if mode == "slow":
                continue
            if task.step < STEPS:
                pruned = events.on_report(key, task.step, x * (task.step + 1) / STEPS)
                task.step += 1
                if pruned:
                    self._end(events, TrialOutcome(key, "pruned", run_s=float(task.step)))
                continue
            if mode == "fail":
                self._end(events, TrialOutcome(key, "failed", error="the fake trial failed", run_s=float(STEPS)))
            else:
                self._end(events, TrialOutcome(key, "complete", value=x, startup_s=0.0, run_s=float(STEPS)))

    def _end(self, events: TrialEvents, outcome: TrialOutcome) -> None:
        del self.tasks[outcome.key]
        events.on_finish(outcome)

    def cancel_all(self, events: TrialEvents, reason: str) -> None:
        for key in list(self.tasks):
            self._end(events, TrialOutcome(key, "failed", error=reason, interrupted=True))

    def close(self) -> None:
        self.closed += 1

    def summary(self) -> dict[str, Any]:
        return {"kind": "fake", "submitted": self.submitted, "recovered": list(self.recovered)}


@dataclass
class _Job:
    name: str
    x: float
    step: int = 0
    status: str = "InProgress"  # InProgress | Completed | Stopped


class FakeService:
    """A service that proposes its own trials (as AMT does): ``total`` in all, ``parallel`` at once.

    Each job advances one step per :meth:`tick`; with ``slow`` a job never ends by itself.
    """

    def __init__(self, total: int, parallel: int, *, slow: bool = False) -> None:
        self.total, self.parallel, self.slow = total, parallel, slow
        self.jobs: list[_Job] = []
        self.stopped = False

    def tick(self) -> None:
        for job in self.active():
            if self.stopped:
                job.status = "Stopped"
            elif not self.slow:
                job.step += 1
                if job.step >= STEPS:
                    job.status = "Completed"
        while not self.stopped and len(self.jobs) < self.total and len(self.active()) < self.parallel:
            n = len(self.jobs)
            self.jobs.append(_Job(f"fake-job-{n:03d}", x=round((n + 1) / (self.total + 1), 6)))

    def active(self) -> list[_Job]:
        return [j for j in self.jobs if j.status == "InProgress"]

    @property
    def status(self) -> str:
        if self.active() or (not self.stopped and len(self.jobs) < self.total):
            return "Stopping" if self.stopped else "InProgress"
        return "Stopped" if self.stopped else "Completed"


class FakeMirror(MirrorBackend):
    """Mirrors a :class:`FakeService` (one per backend unless given, so two backends can share one)."""

    name = "fake-mirror"

    def __init__(self, spec: TuningSpec, job_dir: Path, service: FakeService | None = None) -> None:
        super().__init__(spec, job_dir)
        self.service = service or FakeService(spec.budget.max_trials, spec.budget.max_parallel)
        self.keys: dict[str, int] = {}
        self.reported: dict[str, int] = {}
        self.finished: set[str] = set()
        self.adopted: set[str] = set()
        self.status: str | None = None  # the service's, as of the last poll
        self.closed = 0

    def adopt(self, records: dict[str, int]) -> None:
        self.adopted.update(records)

    def running(self) -> int:
        return sum(1 for name in self.keys if name not in self.finished)

    def poll(self, events: MirrorEvents, timeout: float) -> None:
        self.service.tick()
        self.status = self.service.status
        for job in self.service.jobs:
            if job.name in self.adopted or job.name in self.finished:
                continue
            if job.name not in self.keys:
                self.keys[job.name] = events.on_external_trial({"x": job.x}, {"worker": job.name, "warm": False})
            key = self.keys[job.name]
            while self.reported.get(job.name, 0) < job.step:  # the service decides: the answer is unused
                step = self.reported[job.name] = self.reported.get(job.name, 0) + 1
                events.on_report(key, step - 1, job.x * step / STEPS)
            if job.status == "Completed":
                self._end(events, job.name, TrialOutcome(key, "complete", value=job.x, run_s=float(STEPS)))
            elif job.status == "Stopped":
                self._end(events, job.name, TrialOutcome(key, "failed", error="interrupted: the service was stopped",
                                                         interrupted=True))

    def _end(self, events: TrialEvents, name: str, outcome: TrialOutcome) -> None:
        self.finished.add(name)
        events.on_finish(outcome)

    def done(self) -> tuple[str, str] | None:
        if self.running() or self.status in (None, "InProgress", "Stopping"):
            return None
        return ("stopped" if self.status == "Stopped" else "completed", f"the fake service {self.status.lower()}")

    def cancel_all(self, events: TrialEvents, reason: str) -> None:
        """Stop the service; its open trials then end through :meth:`poll`, as AMT's do."""
        self.service.stopped = True

    def close(self) -> None:
        self.closed += 1

    def summary(self) -> dict[str, Any]:
        return {"kind": "fake-mirror", "jobs": len(self.service.jobs), "status": self.service.status}
