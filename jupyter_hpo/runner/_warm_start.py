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
                   note: Callable[[str], None], only: Mapping[str, Any] | None = None
                   ) -> tuple[dict[str, list[int]], int]:
    """Add the complete trials of ``spec.warm_start``'s jobs to ``brain``; return (taken, skipped): the numbers of
    the trials taken, per job in ``warm_start`` order, and how many were skipped. ``only``: the trials to take
    again, by job (a resumed job's sampler is seeded with the trials its start took, not those its earlier
    jobs ran since).

    A trial is taken when each of its parameters that the new space still has fits the new range (removed
    parameters are dropped, added ones left out, as Optuna's samplers allow); else it is skipped and
    counted. Parameters are matched by name through each job's own space, so a changed scaling (``reverse_log``
    is sampled as ``1-x``) is the same parameter. With ``constraints``, each taken trial carries the new job's
    constraint values from the metrics it returned (one without a constrained metric is infeasible), so the
    sampler never takes an infeasible trial for a good one. A job with another metric or direction, or that
    cannot be read, gives nothing (``note`` says so).
    """
    taken: dict[str, list[int]] = {}
    skipped = 0
    for source in spec.warm_start:
        wanted = None if only is None else {n for n in (only.get(source) or []) if isinstance(n, int)}
        numbers, left = _seed_from(store, spec, brain, distributions, note, source, wanted)
        taken.setdefault(source, []).extend(numbers)
        skipped += left
    return taken, skipped


def _seed_from(store: Store, spec: TuningSpec, brain: optuna.Study, distributions: Mapping[str, Any],
               note: Callable[[str], None], source: str, wanted: set[int] | None = None) -> tuple[list[int], int]:
    import optuna
    from optuna.trial import TrialState

    from jupyter_hpo.records import CONSTRAINT_VALUES, METRICS
    from jupyter_hpo.space import SearchSpace

    try:
        source_spec = store.job_attrs(source).get("spec") or {}
        objective = source_spec.get("objective") or {}
        trials = store.trials(source)
    except Exception as e:  # noqa: BLE001 - a missing or unreadable source job is said, not fatal
        note(f"warm start: job {source!r} could not be read ({error_text(e)}); nothing taken from it")
        return [], 0
    mine = spec.objective
    if (objective.get("metric"), objective.get("direction")) != (mine.metric, mine.direction):
        note(f"warm start: job {source!r} optimises {objective.get('metric')!r} "
             f"({objective.get('direction')}), not {mine.metric!r} ({mine.direction}); nothing taken")
        return [], 0
    try:
        source_space: SearchSpace | None = SearchSpace.from_dict(source_spec["space"])
    except Exception:  # noqa: BLE001 - a spec stored in another form: its trials' names are taken as they are
        source_space = None
    taken: list[int] = []
    skipped = 0
    for t in trials:
        if t.state != TrialState.COMPLETE or t.value is None or not math.isfinite(t.value):
            continue
        if wanted is not None and t.number not in wanted:
            continue
        shared = _shared_params(t.params, source_space, spec)
        shared = {k: v for k, v in shared.items() if k in distributions}
        attrs: dict[str, Any] = {"seeded_from": source, "seeded_trial": t.number}
        system: dict[str, Any] = {}
        if spec.constraints:  # the new job's rules on what this trial returned
            metrics = {**(t.user_attrs.get(METRICS) or {}), mine.metric: t.value}
            values = [c.violation(metrics.get(c.metric)) for c in spec.constraints]
            attrs[CONSTRAINT_VALUES], system["constraints"] = values, tuple(values)
        try:
            if not shared:
                raise ValueError("no parameter in the new space")
            brain.add_trial(optuna.trial.create_trial(
                value=t.value, params=shared, distributions={k: distributions[k] for k in shared},
                user_attrs=attrs, system_attrs=system))
        except ValueError:  # a value outside the new range or choices
            skipped += 1
            continue
        taken.append(t.number)
    return taken, skipped


def _shared_params(params: Mapping[str, Any], source_space: Any, spec: TuningSpec) -> dict[str, Any]:
    """An earlier trial's parameters under the new job's optimizer names: read through the earlier job's space
    (its values by parameter name), then written through the new one's, for the parameters both have."""
    if source_space is None:
        return dict(params)
    try:
        values = source_space.from_optuna(params)
    except (KeyError, TypeError, ValueError):  # a trial the earlier space cannot read: its names as they are
        return dict(params)
    return spec.space.to_optuna_params({k: v for k, v in values.items() if k in spec.space}, partial=True)
