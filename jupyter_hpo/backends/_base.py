"""What every backend implements: where and how a trial runs. Sampling and pruning are not here."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["Backend", "TrialRequest", "Assignment", "TrialOutcome", "TrialEvents"]


@dataclass(frozen=True)
class TrialRequest:
    """One trial to run: ``key`` identifies it to the runner; ``params`` use the space's names."""

    key: int
    params: dict[str, Any]
    seed: int | None = None


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
    """What a backend tells the runner while it polls."""

    def on_report(self, key: int, step: int, value: float) -> bool:
        """An intermediate value; returns True when the trial should be pruned."""

    def on_finish(self, outcome: TrialOutcome) -> None:
        """A trial ended (including crashes, time-outs and cancellations)."""

    def on_note(self, text: str) -> None:
        """Something the user should know about the job (kept in the job's ``notes``)."""


class Backend(abc.ABC):
    """Runs trials. The runner calls ``submit`` while ``free_slots() > 0`` and ``poll`` in a loop.

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
        """Job-level facts the runner stores as the job's ``backend`` attribute (e.g. warm-pool cost)."""
        return {}

    def recover(self, trials: list[Any]) -> None:
        """Called before :meth:`start` on a resumed job with its stored trials (Optuna ``FrozenTrial``s),
        so a backend can take over what a dead runner left behind (e.g. warm pools)."""

    @classmethod
    def release_orphans(cls, spec: TuningSpec, trials: list[Any]) -> list[str]:
        """Free what a dead runner left behind, for a job stopped without a runner; returns notes."""
        return []

    def start(self) -> None:
        """Prepare workers before the first trial (a warm pool starts its processes here)."""

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials can be submitted right now."""

    @abc.abstractmethod
    def submit(self, request: TrialRequest) -> Assignment:
        """Start a trial; never blocks for the trial itself."""

    @abc.abstractmethod
    def poll(self, events: TrialEvents, timeout: float) -> None:
        """Wait up to ``timeout`` seconds and deliver what happened to ``events``."""

    @abc.abstractmethod
    def cancel_all(self, reason: str) -> list[TrialOutcome]:
        """Stop every running trial; return their outcomes (failed, ``interrupted=True``)."""

    @abc.abstractmethod
    def running(self) -> int:
        """How many trials are running."""

    def close(self) -> None:
        """Release every worker (processes, warm pools)."""
