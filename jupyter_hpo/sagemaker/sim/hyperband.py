"""AMT's ``Hyperband`` strategy, simulated: which training jobs it stops, and when.

What AWS documents (the API reference of ``HyperbandStrategyConfig`` and ``TrainingJobEarlyStoppingType``):
Hyperband stops under-performing training jobs itself, from every value of the objective metric a job emits
(one per epoch), so ``TrainingJobEarlyStoppingType`` must be ``Off``; a job is not stopped before it has used
``MinResource``; ``MaxResource`` (at most 20,000) is the most a job may use, and without it AMT reads it from a
static hyperparameter ``epochs``, ``numepochs``, ``n-epochs``, ``n_epochs`` or ``num_epochs`` or refuses the
request. AWS does not document its bracket schedule, its reduction factor or how it promotes a job.

The model here is the standard Hyperband rule (Li et al., 2018), run asynchronously as in ASHA (Li et al.,
2020), because AMT's jobs run on without pausing:

- The resource is the number of objective values a job has emitted (``trial.report`` prints one a step).
- Reduction factor ``ETA = 3``; ``s_max`` is the largest ``s`` with ``MinResource * 3**s <= MaxResource``.
  Rungs are ``round(MaxResource / 3**j)`` for ``j = s_max .. 1`` (for 1 and 9: 1 and 3). Bracket ``s`` (from
  ``s_max`` down to 0) judges a job at its ``s`` highest rungs and holds ``ceil((s_max + 1) / (s + 1) * 3**s)``
  jobs of a Hyperband iteration; jobs fill the brackets in launch order, ``s_max`` first (for 1 and 9: 9 jobs
  judged at 1 and 3, then 5 at 3, then 3 never judged), and the iteration repeats.
- When a job reaches a rung, its value there (its rung-th value) joins the values the bracket's jobs had
  there; it goes on if it is among the best ``max(1, n // 3)`` of those ``n`` values, else it is stopped, as
  AMT's ``Auto`` early stopping stops a job (``Stopped``). Jobs are judged in the order they reached the rung;
  a finished job's values still count for the jobs after it.

Not modelled: the stop AWS documents at ``MaxResource`` (a job that reports more steps runs on, since AWS
does not say how it then reports the job), Hyperband's own choice of hyperparameters (trials are sampled at
random, as for every strategy but Grid), and any minimum number of jobs before a rung judges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_hpo.sagemaker.sim.base import invalid

__all__ = ["ETA", "HYPERBAND_EVERY_S", "MAX_RESOURCE", "Bracket", "Hyperband", "brackets"]

#: The reduction factor of the simulated Hyperband (AWS documents none; 3 is Hyperband's usual one).
ETA = 3
#: How often (simulated seconds) the simulated Hyperband looks at a tuning job's training jobs.
HYPERBAND_EVERY_S = 10.0
#: The documented maximum of MaxResource.
MAX_RESOURCE = 20_000
#: The static hyperparameters AMT reads MaxResource from when it is not given (the API reference's list).
_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


@dataclass(frozen=True)
class Bracket:
    """One bracket of a Hyperband iteration: how many jobs it takes, and the resources it judges them at."""

    size: int
    rungs: tuple[int, ...]


def brackets(min_resource: int, max_resource: int) -> list[Bracket]:
    """The brackets of one Hyperband iteration, most aggressive first (see the module docstring).

    Example:
        >>> brackets(1, 9)
        [Bracket(size=9, rungs=(1, 3)), Bracket(size=5, rungs=(3,)), Bracket(size=3, rungs=())]
    """
    if not 1 <= min_resource <= max_resource:
        raise ValueError(f"1 <= MinResource <= MaxResource must hold, but got {min_resource} and {max_resource}.")
    s_max = 0
    while min_resource * ETA ** (s_max + 1) <= max_resource:
        s_max += 1
    ladder = [max(min_resource, round(max_resource / ETA**j)) for j in range(s_max, 0, -1)]
    return [Bracket(math.ceil((s_max + 1) * ETA**s / (s + 1)), tuple(ladder[s_max - s:]))
            for s in range(s_max, -1, -1)]


@dataclass
class Hyperband:
    """The simulated Hyperband of one tuning job: each job's bracket and the values seen at each rung."""

    min_resource: int
    max_resource: int
    maximize: bool
    plan: list[Bracket] = field(default_factory=list)
    judged: dict[str, int] = field(default_factory=dict)  # job -> how many of its rungs were judged
    stopped: set[str] = field(default_factory=set)
    seen: dict[tuple[int, int], list[float]] = field(default_factory=dict)  # (bracket, rung) -> values there

    def __post_init__(self) -> None:
        self.plan = brackets(self.min_resource, self.max_resource)

    @classmethod
    def from_request(cls, config: Mapping[str, Any], static: Mapping[str, str]) -> Hyperband | None:
        """The Hyperband of a CreateHyperParameterTuningJob request (None for another strategy).

        Raises:
            ApiError: ValidationException, as AMT: a HyperbandStrategyConfig without the Hyperband strategy,
                no MaxResource given or inferable, or resources out of range.
        """
        given = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
        if config["Strategy"] != "Hyperband":
            if given is not None:
                raise invalid("StrategyConfig.HyperbandStrategyConfig is only for the Hyperband strategy.")
            return None
        given = given or {}
        max_resource = given.get("MaxResource")
        if max_resource is None:
            key = next((k for k in _EPOCH_KEYS if k in static), None)
            try:
                max_resource = int(static[key]) if key else None
            except ValueError:
                max_resource = None
        if max_resource is None:
            raise invalid("HyperbandStrategyConfig.MaxResource is required unless a static hyperparameter "
                          f"({', '.join(_EPOCH_KEYS)}) gives the number of epochs.")
        min_resource = given.get("MinResource", 1)  # the default when left out is an assumption of this model
        if not 1 <= min_resource <= max_resource <= MAX_RESOURCE:
            raise invalid(f"1 <= MinResource <= MaxResource <= {MAX_RESOURCE} must hold, but got MinResource="
                          f"{min_resource} and MaxResource={max_resource}.")
        maximize = config["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
        return cls(min_resource, max_resource, maximize)

    def bracket(self, index: int) -> int:
        """The bracket (an index into :attr:`plan`) of the tuning job's ``index``-th training job."""
        place = index % sum(b.size for b in self.plan)
        for i, b in enumerate(self.plan):
            if place < b.size:
                return i
            place -= b.size
        raise AssertionError("unreachable")

    def pending(self, index: int, name: str) -> bool:
        """Whether the ``index``-th training job, ``name``, still has a rung to be judged at."""
        return name not in self.stopped and self.judged.get(name, 0) < len(self.plan[self.bracket(index)].rungs)

    def check(self, jobs: Sequence[tuple[str, Sequence[tuple[int, float]]]], running: set[str]) -> list[str]:
        """Judge every rung the jobs reached since the last check, in the order they reached them.

        Args:
            jobs: every training job of the tuning job in launch order, each with its objective values so far
                as ``(timestamp, value)`` (those of a job that is not :meth:`pending` are not read).
            running: the jobs that can be stopped now (training).

        Returns:
            The jobs to stop now.
        """
        out: list[str] = []
        while True:
            due = []
            for index, (name, series) in enumerate(jobs):
                rungs, done = self.plan[self.bracket(index)].rungs, self.judged.get(name, 0)
                if self.pending(index, name) and len(series) >= rungs[done]:
                    due.append((series[rungs[done] - 1][0], index, name, rungs[done]))
            if not due:
                return out
            _, index, name, rung = min(due)
            value = jobs[index][1][rung - 1][1]
            peers = self.seen.setdefault((self.bracket(index), rung), [])
            peers.append(value)
            self.judged[name] = self.judged.get(name, 0) + 1
            better = sum(1 for v in peers if (v > value if self.maximize else v < value))
            if name in running and better >= max(1, len(peers) // ETA):
                self.stopped.add(name)
                out.append(name)
