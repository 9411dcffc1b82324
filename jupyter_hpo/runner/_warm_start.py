"""Warm start: an earlier job's complete trials seed the runner's in-memory study (never the store)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_hpo.store import error_text

if TYPE_CHECKING:
    import optuna

    from jupyter_hpo.spec import TuningSpec
    from jupyter_hpo.store import Store

__all__ = ["SEEDED_TRIALS_MAX", "seed_from_jobs"]

#: above this many seeded trials their list (``records.SEEDED_TRIALS``) is not kept: the job listing reads every
#: job attribute
SEEDED_TRIALS_MAX = 2000


def seed_from_jobs(store: Store, spec: TuningSpec, brain: optuna.Study, distributions: Mapping[str, Any],
                   note: Callable[[str], None]) -> tuple[dict[str, list[int]], int]:
    """Add the complete trials of ``spec.warm_start``'s jobs to ``brain``; return (taken, skipped): the numbers of
    the trials taken, per job in ``warm_start`` order, and how many were skipped.

    A trial is taken when each of its parameters that the new space still has fits the new range (removed
    parameters are dropped, added ones left out, as Optuna's samplers allow); else it is skipped and
    counted. A job with another metric or direction, or that cannot be read, gives nothing (``note`` says so).
    """
    taken: dict[str, list[int]] = {}
    skipped = 0
    for source in spec.warm_start:
        numbers, left = _seed_from(store, spec, brain, distributions, note, source)
        taken.setdefault(source, []).extend(numbers)
        skipped += left
    return taken, skipped


def _seed_from(store: Store, spec: TuningSpec, brain: optuna.Study, distributions: Mapping[str, Any],
               note: Callable[[str], None], source: str) -> tuple[list[int], int]:
    import optuna
    from optuna.trial import TrialState

    try:
        objective = (store.job_attrs(source).get("spec") or {}).get("objective") or {}
        trials = store.trials(source)
    except Exception as e:  # noqa: BLE001 - a missing or unreadable source job is said, not fatal
        note(f"warm start: job {source!r} could not be read ({error_text(e)}); nothing taken from it")
        return [], 0
    mine = spec.objective
    if (objective.get("metric"), objective.get("direction")) != (mine.metric, mine.direction):
        note(f"warm start: job {source!r} optimises {objective.get('metric')!r} "
             f"({objective.get('direction')}), not {mine.metric!r} ({mine.direction}); nothing taken")
        return [], 0
    taken: list[int] = []
    skipped = 0
    for t in trials:
        if t.state != TrialState.COMPLETE or t.value is None or not math.isfinite(t.value):
            continue
        shared = {k: v for k, v in t.params.items() if k in distributions}
        try:
            if not shared:
                raise ValueError("no parameter in the new space")
            brain.add_trial(optuna.trial.create_trial(
                value=t.value, params=shared, distributions={k: distributions[k] for k in shared},
                user_attrs={"seeded_from": source, "seeded_trial": t.number}))
        except ValueError:  # a value outside the new range or choices
            skipped += 1
            continue
        taken.append(t.number)
    return taken, skipped
