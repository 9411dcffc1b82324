"""What every backend implements: where and how a trial runs. Sampling and pruning are not here.

There are two kinds of backend, each with its own ABC and events protocol:

* an **executor** (:class:`ExecutorBackend`: ``local``, ``sagemaker``) runs the trials the runner's
  optimizer proposes: the runner calls :meth:`~ExecutorBackend.submit` while
  :meth:`~ExecutorBackend.free_slots` is positive, and the backend tells :class:`TrialEvents` what happens;
* a **mirror** (:class:`MirrorBackend`: ``amt``) follows trials a service proposes by itself: it announces
  each one with :meth:`MirrorEvents.on_external_trial` and says when the job is over with
  :meth:`~MirrorBackend.done`.

Both report only through the events they are given: every trial a backend started ends exactly once
in ``on_finish``, from ``poll`` or :meth:`~Backend.cancel_all` alike.
(``tests/test_backend_conformance.py`` holds the contract every implementation passes.)
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["Backend", "ExecutorBackend", "MirrorBackend", "TrialRequest", "Assignment", "TrialOutcome",
           "TrialEvents", "MirrorEvents", "EventLog"]


@dataclass(frozen=True)
class TrialRequest:
    """One trial to run: ``key`` identifies it to the runner; ``params`` use the space's names; ``refit``: the
    trial is a refit of a job's best parameters (``trial.is_refit()`` is True in it)."""

    key: int
    params: dict[str, Any]
    seed: int | None = None
    refit: bool = False


@dataclass(frozen=True)
class Assignment:
    """Where a submitted trial went: the worker (process or instance) and whether it was warm."""

    worker: str
    warm: bool
    #: backend-specific attributes stored with the trial when it starts (e.g. the training job's name)
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrialOutcome:
    """How a trial ended. ``state`` is ``complete``, ``pruned`` or ``failed``."""

    key: int
    state: str
    value: float | None = None
    error: str | None = None
    traceback: str | None = None
    startup_s: float | None = None
    run_s: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    #: backend-specific trial attributes stored with the trial (e.g. ``sagemaker``, ``cost_usd``, ``warm``)
    attrs: dict[str, Any] = field(default_factory=dict)


class TrialEvents(Protocol):
    """What a backend tells the runner (from ``poll`` and ``cancel_all``)."""

    def on_report(self, key: int, step: int, value: float) -> bool:
        """An intermediate value of trial ``key``; returns True when the trial should be pruned (an
        executor then stops it and finishes it as ``pruned``)."""

    def on_finish(self, outcome: TrialOutcome) -> None:
        """A trial ended (including crashes, time-outs and cancellations): once per trial, never again."""

    def on_note(self, text: str) -> None:
        """Something the user should know about the job (kept in the job's ``notes``)."""


class MirrorEvents(TrialEvents, Protocol):
    """What a mirror backend tells the runner: the trial events, and the trials the service started."""

    def on_external_trial(self, params: dict[str, Any], attrs: dict[str, Any]) -> int:
        """A trial the service started by itself: record it as running; returns its key for later events."""


class EventLog:
    """Events that keep what a backend delivers, for code that drives a backend without a runner
    (the estimator, ``release_orphans``, tests).

    Args:
        prune: the answer to every ``on_report``, or a function of ``(key, step, value)`` giving it.
    """

    def __init__(self, prune: bool | Callable[[int, int, float], bool] = False) -> None:
        self.prune = prune
        self.reports: list[tuple[int, int, float]] = []
        self.outcomes: list[TrialOutcome] = []
        self.notes: list[str] = []

    def on_report(self, key: int, step: int, value: float) -> bool:
        self.reports.append((key, step, value))
        return bool(self.prune(key, step, value) if callable(self.prune) else self.prune)

    def on_finish(self, outcome: TrialOutcome) -> None:
        self.outcomes.append(outcome)

    def on_note(self, text: str) -> None:
        self.notes.append(text)


class Backend(abc.ABC):
    """What both kinds of backend share: construction, checks, recovery, stopping and closing.

    A backend is one of :class:`ExecutorBackend` or :class:`MirrorBackend`; the runner tells them
    apart with ``isinstance``.

    Args:
        spec: the validated job spec.
        job_dir: a directory for the job's files (the pickled objective is ``objective.pkl``).
    """

    name: str = "base"

    def __init__(self, spec: TuningSpec, job_dir: Path) -> None:
        self.spec = spec
        self.job_dir = job_dir

    @classmethod
    def prepare(cls, spec: TuningSpec) -> TuningSpec:
        """Check ``spec`` for this backend before a job is created (raise :class:`SpecError` or
        :class:`BackendError` with what to fix); may return a normalised spec."""
        return spec

    def summary(self) -> dict[str, Any]:
        """Job-level facts the runner stores as the job's ``backend`` attribute (e.g. warm-pool cost);
        JSON-able."""
        return {}

    def with_earlier_runners(self, summary: dict[str, Any], earlier: dict[str, Any] | None) -> dict[str, Any]:
        """This runner's :meth:`summary` with what the job's earlier runners recorded (``earlier``, the stored one
        of a resumed job) added, where the figures add up; as it is by default."""
        return summary

    def recover(self, trials: list[Any]) -> None:
        """Called before :meth:`start` on a resumed job with its stored trials (Optuna ``FrozenTrial``s),
        so a backend can take over what a dead runner left behind (e.g. warm pools). A finished trial
        is never run again: only the runner decides what to run."""

    @classmethod
    def release_orphans(cls, spec: TuningSpec, trials: list[Any]) -> list[str]:
        """Free what a dead runner left behind, for a job stopped without a runner; returns notes."""
        return []

    def start(self) -> None:
        """Prepare before the first poll (a warm pool starts its processes here)."""

    @abc.abstractmethod
    def running(self) -> int:
        """How many trials are running (started and not yet finished through the events)."""

    @abc.abstractmethod
    def cancel_all(self, events: TrialEvents, reason: str) -> None:
        """Stop every running trial; each is finished through ``events.on_finish`` as failed with
        ``interrupted=True`` and ``error`` giving ``reason`` (a mirror may instead stop the service,
        whose trials then finish through ``poll``). Calling it again does no harm."""

    def close(self) -> None:
        """Release every worker (processes, warm pools). Calling it again does no harm."""


class ExecutorBackend(Backend):
    """Runs the trials the runner proposes. The runner calls :meth:`submit` while ``free_slots() > 0``
    and :meth:`poll` in a loop."""

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials can be submitted right now."""

    @abc.abstractmethod
    def submit(self, request: TrialRequest) -> Assignment:
        """Start a trial; never blocks for the trial itself. Its end reaches ``on_finish`` later."""

    @abc.abstractmethod
    def poll(self, events: TrialEvents, timeout: float) -> None:
        """Wait up to ``timeout`` seconds and deliver what happened to ``events``."""


class MirrorBackend(Backend):
    """Follows the trials a service proposes by itself (SageMaker AMT); the runner only records them.

    The runner calls :meth:`adopt` (on a resumed job) and :meth:`start`, then :meth:`poll` until
    :meth:`done` gives the job's end and no mirrored trial is open.
    """

    @abc.abstractmethod
    def poll(self, events: MirrorEvents, timeout: float) -> None:
        """Wait up to ``timeout`` seconds; announce new trials with ``events.on_external_trial`` and
        deliver what happened to them."""

    @abc.abstractmethod
    def done(self) -> tuple[str, str] | None:
        """None while the service goes on; else the job's ``(status, reason)``."""

    @abc.abstractmethod
    def adopt(self, records: dict[str, int]) -> None:
        """Trials (worker name -> trial number) a previous runner already recorded to the end: they are
        not announced again when this runner resumes the job."""
