"""The trial and job records: their fields, their JSON form, the attribute keys and the "better" rule.

Every front door serves these forms: the REST API, every ``jupyter hpo ... --json`` output, the
dashboard widget and ``job.trial_records()`` / ``job.summary()``. The OpenAPI document
(``server/openapi.yaml``) and the sidebar's ``types.ts`` are checked against :data:`TRIAL_FIELDS` and
:data:`JOB_FIELDS` by ``tests/test_records.py``.

Non-finite numbers. JSON has no NaN or infinity, and strict parsers (browsers' ``JSON.parse``, ``jq``)
refuse Python's ``NaN``/``Infinity``. The one rule: a non-finite float (NaN, +inf, -inf) anywhere in a
record (its value, ``fold_mean``/``fold_std``, intermediate values, parameters, cloud facts, nested
dicts and lists) becomes ``null``, and the record's ``nonfinite`` field names what it was::

    {"fold_mean": null, ..., "nonfinite": {"fold_mean": "nan", "intermediate.3": "inf"}}

``nonfinite`` maps the dotted path of each replaced number (dict keys and list indices joined by
``.``, from the record's top level) to ``"nan"``, ``"inf"`` or ``"-inf"``; it is ``{}`` when every
number is finite. A job summary also flags its spec (``"spec.trial.hyperparameters.lr": "nan"``: a
static hyperparameter), which documents that show the spec print it as ``null``. :func:`dumps` applies
the rule to any document and then serialises with ``allow_nan=False``, so no front door can emit
non-standard JSON.

Example:
    >>> json_safe({"fold_mean": float("nan"), "intermediate": {"3": float("inf")}})
    ({'fold_mean': None, 'intermediate': {'3': None}}, {'fold_mean': 'nan', 'intermediate.3': 'inf'})
    >>> dumps({"value": float("-inf")})
    '{"value": null}'
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from jupyter_hpo.owners import owner_name

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from jupyter_hpo.space import SearchSpace

__all__ = [
    "JOB_FIELDS",
    "NONFINITE",
    "TRIAL_FIELDS",
    "JobSummary",
    "TrialRecord",
    "actor_json",
    "best_so_far",
    "better",
    "campaign_json",
    "competes",
    "dumps",
    "improvements",
    "json_safe",
    "no_best",
    "objectives_of",
    "pareto_front",
    "owner_json",
    "summarize",
    "trial_record",
]

# -- how a job's ``reason`` begins when it completed on a rule (the runner writes them, resume reads them) -----
#: ``completion.target`` and ``completion.patience``: a resume would end at once
COMPLETION_REASONS = ("target ", "no improvement in the last ")
#: ``budget.max_runtime`` (it bounds each run of the job's runner: a resume runs the trials left)
RUNTIME_REASON = "max_runtime of "

# -- trial (Optuna trial) user attribute keys -------------------------------------------------------
WORKER = "worker"
WARM = "warm"
STARTUP_S = "startup_s"
RUN_S = "run_s"
ERROR = "error"
TRACEBACK = "traceback"
FOLD_SCORES = "fold_scores"
FOLD_MEAN = "fold_mean"
FOLD_STD = "fold_std"
METRICS = "metrics"
INTERRUPTED = "interrupted"
RERUN_OF = "rerun_of"
SEED = "seed"
COST_USD = "cost_usd"
SAGEMAKER = "sagemaker"
#: where the trial's artifacts are: a local folder (absolute path) or a training job's S3 ``model.tar.gz``
ARTIFACT = "artifact"
#: a complete trial of a job with ``constraints``: whether it met them all, which it broke (``"m=0.08 > max 0.05"``
#: or ``"m missing"``), and its constraint values as Optuna's ``constraints_func`` takes them (<= 0: met)
FEASIBLE = "feasible"
VIOLATIONS = "violations"
CONSTRAINT_VALUES = "constraint_values"
#: a trial of a campaign's job run on a worker handed over from an earlier job: that job's name
REUSED_FROM = "reused_from"

# -- job (Optuna study) user attribute keys ---------------------------------------------------------
SPEC = "spec"
BACKEND = "backend"
STATUS = "status"
REASON = "reason"
RUNNER = "runner"
#: ``{"pid", "host", "time"}`` of the runner process a launch or resume started, before it registers as ``runner``
SPAWNED = "spawned"
HEARTBEAT = "heartbeat"
CREATED = "created"
ENDED = "ended"
STOP_REQUESTED = "stop_requested"
NOTES = "notes"
BACKEND_SUMMARY = "backend_summary"
CWD = "cwd"
#: what produced the job (:mod:`jupyter_hpo.provenance`): spec, code and input hashes, packages, git, owner
PROVENANCE = "provenance"
#: the trial numbers whose artifacts the runner keeps, mapped to their URI (``artifacts.keep_best``)
ARTIFACTS_KEPT = "artifacts_kept"
#: a job made by ``store copy``: ``{"store": the source's URL as shown, "trials": how many trials it took}``; the
#: folders those trials keep their models in are the source job's, which a resume of the copy never removes
COPIED_FROM = "copied_from"
#: on a job: the name of its refit job (``job.refit()``); on a refit job: ``{"job", "trial", "params", "seed"}``
REFIT = "refit"
REFIT_OF = "refit_of"
#: who launched the job (:mod:`jupyter_hpo.owners`); ``stopped_by``/``resumed_by``: who last stopped or resumed it
OWNER = "owner"
STOPPED_BY = "stopped_by"
RESUMED_BY = "resumed_by"
#: a job run as part of a campaign (:mod:`jupyter_hpo.campaign`): ``{"name", "index", "parallel_jobs", "keep_alive_s"}``
CAMPAIGN = "campaign"
#: a ``warm_start`` job: how many earlier trials seeded its sampler, how many did not fit its space, and which were
#: taken (``{job: [trial number, ...]}``; None when there were more than the runner keeps a list of)
SEEDED = "seeded"
SEEDED_SKIPPED = "seeded_skipped"
SEEDED_TRIALS = "seeded_trials"

#: The record field naming what was non-finite (see the module docstring).
NONFINITE = "nonfinite"
#: The cloud facts of a SageMaker trial a table shows (the full ``sagemaker`` attribute stays in the store).
CLOUD_FACTS = ("training_job", "status", "warm_pool_status", "billable_s", "phases_s", "failure_reason")


# -- the non-finite rule ---------------------------------------------------------------------------
def _kind(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


_PLAIN = frozenset((str, int, bool, type(None)))


def _safe(obj: Any, path: str, flags: dict[str, str]) -> Any:
    """``obj`` with non-finite floats as None; the same object when nothing needed replacing.

    ``x - x == 0.0`` is ``math.isfinite(x)`` for a float (NaN and infinities give NaN), without a call:
    this runs over every record a front door serves.
    """
    if isinstance(obj, float):
        if obj - obj == 0.0:
            return obj
        flags[path] = _kind(obj)
        return None
    if isinstance(obj, Mapping):
        items: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return obj
    out: Any = None
    for k, v in items:
        kind = type(v)
        if (kind is float and v - v == 0.0) or kind in _PLAIN:
            continue  # the common case, without building a path
        s = _safe(v, _join(path, k), flags)
        if s is not v:
            if out is None:
                out = dict(obj) if isinstance(obj, Mapping) else list(obj)
            out[k] = s
    return obj if out is None else out


def json_safe(obj: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """``obj`` with every non-finite float replaced by None, and what was replaced.

    Args:
        obj: JSON-like data (dicts, lists, tuples, scalars); it is never modified.
        path: the prefix of the reported paths (e.g. ``"spec"``).

    Returns:
        ``(safe, flags)``: ``safe`` is ``obj`` itself when every number is finite, else a copy of the
        containers on the way to each replaced number; ``flags`` maps each replaced number's dotted path
        to ``"nan"``, ``"inf"`` or ``"-inf"``.
    """
    flags: dict[str, str] = {}
    return _safe(obj, path, flags), flags


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON of ``obj``: non-finite numbers become ``null`` (:func:`json_safe`), unknown objects
    their ``str()``; never ``NaN`` or ``Infinity`` (``allow_nan=False``). ``kwargs`` go to ``json.dumps``."""
    kwargs.setdefault("default", str)
    try:  # records are safe already: walk the document only when it holds a non-finite number
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(json_safe(obj)[0], allow_nan=False, **kwargs)


# -- the "better" rule -----------------------------------------------------------------------------
def better(a: float | None, b: float | None, direction: str) -> bool:
    """Whether value ``a`` beats ``b`` (None: no value yet) for ``direction`` ``maximize``/``minimize``.

    A missing or non-finite ``a`` never beats anything; ties do not count as better (the first stays best).
    """
    if a is None or not math.isfinite(a):
        return False
    if b is None or math.isnan(b):
        return True
    return a > b if direction == "maximize" else a < b


def competes(state: str, feasible: Any) -> bool:
    """Whether a trial in ``state`` (``complete``, ...) with ``feasible`` (its attribute: False when it broke a
    constraint) may be the best: complete and not infeasible. Every "best" goes through here."""
    return state == "complete" and feasible is not False


def no_best(records: Sequence[Mapping[str, Any]], status: str | None = None) -> str:
    """Why a job of these trial records has no best trial, for the front doors' "job J has ...": its complete
    trials all broke a constraint (saying "no complete trial" of them sent users looking for failures), or none
    completed; ``status``: the job's, said in the message.

    Example:
        >>> no_best([{"state": "complete", "feasible": False}], "failed")
        'no feasible trial (failed): 1 complete trial(s) broke a constraint'
    """
    infeasible = sum(r["state"] == "complete" and r.get(FEASIBLE) is False for r in records)
    where = f" ({status})" if status else ""
    if infeasible:
        return f"no feasible trial{where}: {infeasible} complete trial(s) broke a constraint"
    return f"no complete trial yet{where}" if status else "no complete trial"


def _completed_value(r: Mapping[str, Any]) -> float | None:
    """The value a trial competes for "best" with (:func:`competes`), else None."""
    return r["value"] if competes(r["state"], r.get(FEASIBLE)) else None


def objectives_of(spec: Mapping[str, Any]) -> list[dict[str, str]]:
    """A stored spec's objectives, first one first: ``[{"metric", "direction"}, ...]`` (one for a single objective)."""
    listed = spec.get("objectives")
    if not isinstance(listed, list) or not listed:
        listed = [spec.get("objective") or {}]
    return [{"metric": o.get("metric") or "objective",
             "direction": "minimize" if o.get("direction") == "minimize" else "maximize"}
            for o in listed if isinstance(o, Mapping)]


def _objective_values(r: Mapping[str, Any], objectives: Sequence[Mapping[str, str]]) -> list[float] | None:
    """A competing trial's values, each signed so that larger is better; None when it lacks one (or may not compete)."""
    if _completed_value(r) is None:
        return None
    raw = [r["value"], *((r.get(METRICS) or {}).get(o["metric"]) for o in objectives[1:])]
    out = []
    for v, o in zip(raw, objectives):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        out.append(v if o["direction"] == "maximize" else -v)
    return out


def pareto_front(rows: Sequence[Mapping[str, Any]], objectives: Sequence[Mapping[str, str]]) -> list[int]:
    """The numbers of the Pareto-optimal trials: complete and feasible (:func:`competes`), with every objective's
    value (the first is ``value``, the others among ``metrics``), and no other such trial at least as good in
    every objective and better in one. Trials with equal values are all on the front. Sorted by number.

    Example:
        >>> rows = [{"number": n, "state": "complete", "value": a, "metrics": {"s": s}}
        ...         for n, a, s in [(0, 0.9, 5.0), (1, 0.8, 1.0), (2, 0.7, 2.0)]]
        >>> pareto_front(rows, [{"metric": "auc", "direction": "maximize"}, {"metric": "s", "direction": "minimize"}])
        [0, 1]
    """
    scored = [(r["number"], v) for r in rows if (v := _objective_values(r, objectives)) is not None]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    return sorted(n for n, v in scored if not any(dominates(w, v) for _, w in scored))


def improvements(rows: Sequence[Mapping[str, Any]], direction: str) -> list[Mapping[str, Any]]:
    """The complete rows that improved the best value, in the given order (the last one is the best)."""
    out: list[Mapping[str, Any]] = []
    best = None
    for r in rows:
        if better(_completed_value(r), best, direction):
            best = r["value"]
            out.append(r)
    return out


def best_so_far(records: Sequence[Mapping[str, Any]], direction: str) -> list[dict[str, Any]]:
    """For each finished trial in completion order: its number, wall-clock offset and the best value so far."""
    finished = sorted((r for r in records if r["completed"] is not None), key=lambda r: r["completed"])
    start = min((r["started"] for r in records if r["started"] is not None), default=None)
    best: float | None = None
    out = []
    for i, r in enumerate(finished):
        if better(_completed_value(r), best, direction):
            best = r["value"]
        out.append({"index": i + 1, "number": r["number"], "elapsed_s": r["completed"] - (start or r["completed"]),
                    "best": best})
    return out


# -- the trial record ------------------------------------------------------------------------------
def _cloud_record(sm: Any) -> dict[str, Any] | None:
    """The cloud facts of a SageMaker trial a table shows (the full ``sagemaker`` attribute is in the store)."""
    if not isinstance(sm, dict):
        return None
    return {k: sm.get(k) for k in CLOUD_FACTS}


def _artifact(ua: Mapping[str, Any]) -> str | None:
    """The trial's artifact URI; for a SageMaker trial recorded before ``artifact`` existed, its ``ModelArtifacts``."""
    if ua.get(ARTIFACT):
        return str(ua[ARTIFACT])
    sm = ua.get(SAGEMAKER)
    return sm.get("model_artifacts") if isinstance(sm, dict) and isinstance(sm.get("model_artifacts"), str) else None


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One trial as every front door shows it; :meth:`to_json` is its JSON form (``Trial`` in openapi.yaml).

    Example:
        >>> rec = TrialRecord.from_trial(frozen_trial, job.space)  # doctest: +SKIP
        >>> rec.to_json()["nonfinite"]  # doctest: +SKIP
        {'fold_mean': 'nan', 'fold_std': 'nan'}
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    worker: str | None
    warm: bool | None
    startup_s: float | None
    #: a trial of a campaign's job run on a worker handed over from an earlier job: that job's name; else null
    reused_from: str | None
    run_s: float | None
    error: str | None
    fold_mean: float | None
    fold_std: float | None
    interrupted: bool
    #: a re-run of an interrupted trial (on resume, with its parameters): that trial's number; else null
    rerun_of: int | None
    cost_usd: float | None
    cloud: dict[str, Any] | None
    intermediate: dict[str, float | None]
    started: float | None
    completed: float | None
    artifact: str | None
    #: a complete trial of a job with constraints: whether it met them (never the best when not); else null
    feasible: bool | None
    #: the constraints it broke, e.g. ``["calibration_error=0.08 > max 0.05"]`` or ``["calibration_error missing"]``
    violations: list[str]
    #: the other metrics the trial returned in its dict, by name (with several objectives: the others' values)
    metrics: dict[str, float | None]
    nonfinite: dict[str, str]

    @classmethod
    def from_trial(cls, t: FrozenTrial, space: SearchSpace) -> TrialRecord:
        """The record of an Optuna trial, with parameters under the space's own names."""
        try:
            params = space.from_optuna(t.params)
        except KeyError:
            params = dict(t.params)
        ua = t.user_attrs
        raw = {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": params,
            WORKER: ua.get(WORKER),
            WARM: ua.get(WARM),
            STARTUP_S: ua.get(STARTUP_S),
            REUSED_FROM: ua.get(REUSED_FROM) if isinstance(ua.get(REUSED_FROM), str) else None,
            RUN_S: ua.get(RUN_S),
            ERROR: ua.get(ERROR),
            FOLD_MEAN: ua.get(FOLD_MEAN),
            FOLD_STD: ua.get(FOLD_STD),
            INTERRUPTED: bool(ua.get(INTERRUPTED, False)),
            RERUN_OF: ua.get(RERUN_OF) if isinstance(ua.get(RERUN_OF), int) else None,
            COST_USD: ua.get(COST_USD),
            "cloud": _cloud_record(ua.get(SAGEMAKER)),
            "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
            "started": t.datetime_start.timestamp() if t.datetime_start else None,
            "completed": t.datetime_complete.timestamp() if t.datetime_complete else None,
            ARTIFACT: _artifact(ua),
            FEASIBLE: ua.get(FEASIBLE) if isinstance(ua.get(FEASIBLE), bool) else None,
            VIOLATIONS: [str(v) for v in ua.get(VIOLATIONS) or []],
            METRICS: {str(k): v for k, v in ua[METRICS].items()} if isinstance(ua.get(METRICS), dict) else {},
        }
        safe, flags = json_safe(raw)
        return cls(**safe, nonfinite=flags)

    def to_json(self) -> dict[str, Any]:
        """The record as a plain dict (strict-JSON-able: no NaN or infinity; a new dict each call)."""
        return {name: getattr(self, name) for name in TRIAL_FIELDS}


def trial_record(t: FrozenTrial, space: SearchSpace) -> dict[str, Any]:
    """One trial as a JSON-able dict (:meth:`TrialRecord.to_json`)."""
    return TrialRecord.from_trial(t, space).to_json()


# -- the job summary -------------------------------------------------------------------------------
def _seeded(attrs: Mapping[str, Any]) -> int:
    """How many earlier jobs' trials seeded the job's sampler (``warm_start``); 0 without."""
    value = attrs.get(SEEDED)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _job_cost(attrs: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> float | None:
    """Training cost of the trials so far, plus idle warm-pool time once the job has ended (None locally). While a
    resumed job runs, its earlier runners' recorded total stays until this runner writes its own: the trials'
    costs since then (with that idle time) are counted as they finish, never less than that total."""
    costs = [r[COST_USD] for r in records if r.get(COST_USD) is not None]
    summary = attrs.get(BACKEND_SUMMARY) or {}
    if summary.get(COST_USD) is not None:
        if attrs.get(STATUS) in ("pending", "running", "stopping"):
            live = sum(costs) + float(summary.get("warm_pool_cost_usd") or 0)
            return round(max(float(summary[COST_USD]), live), 6)
        return float(summary[COST_USD])
    return round(sum(costs), 6) if costs else None


_WHO = ("user", "host", "jupyter", "studio")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def owner_json(value: Any) -> dict[str, Any] | None:
    """An ``owner`` attribute's JSON form: ``{"user", "host", "jupyter", "studio", "name"}`` (``name``: what the job
    is shown and compared under, :func:`jupyter_hpo.owners.owner_name`); None for a job from before owners."""
    if not isinstance(value, Mapping):
        return None
    return {**{k: _text(value.get(k)) for k in _WHO}, "name": owner_name(value)}


def actor_json(value: Any) -> dict[str, Any] | None:
    """A ``stopped_by``/``resumed_by`` stamp's JSON form: the owner's fields, ``time`` (epoch seconds) and ``via``
    (``"rest"`` when done through the Jupyter server, else null); None when nobody did."""
    who = owner_json(value)
    if who is None:
        return None
    when = value.get("time")
    return {**who, "time": when if isinstance(when, (int, float)) and not isinstance(when, bool) else None,
            "via": _text(value.get("via"))}


def campaign_json(value: Any) -> dict[str, Any] | None:
    """A ``campaign`` attribute's JSON form in a job summary: ``{"name", "index"}`` (its place in the campaign,
    from 0); None for a job not run in a campaign."""
    if not isinstance(value, Mapping) or not _text(value.get("name")):
        return None
    index = value.get("index")
    return {"name": value["name"], "index": index if isinstance(index, int) and not isinstance(index, bool) else 0}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def trial_budget(spec: Mapping[str, Any]) -> int | None:
    """How many trials a job (its stored spec) may run in all: ``budget.max_trials``, and for ``strategy: grid``
    no more than the grid's points, which it runs once each (the budget caps a grid; it adds no points)."""
    budget = (spec.get("budget") or {}).get("max_trials")
    if spec.get("strategy") != "grid" or not isinstance(budget, int):
        return budget
    points = grid_points(json.dumps(spec.get("space"), sort_keys=True))
    return budget if points is None else min(budget, points)


@functools.lru_cache(maxsize=64)
def grid_points(space_json: str) -> int | None:
    from jupyter_hpo.space import SearchSpace

    try:
        return SearchSpace.from_dict(json.loads(space_json)).grid_size()
    except Exception:  # noqa: BLE001 - a stored space this version cannot read: its budget as written
        return None


@dataclass(frozen=True, slots=True)
class JobSummary:
    """The figures a list, a progress display or a sidebar row shows for one job (``JobSummary`` in
    openapi.yaml); ``nonfinite`` also names non-finite numbers of the job's spec (``spec.<path>``).

    Example:
        >>> JobSummary.from_attrs("credit-xgb", job.attrs, job.trial_records()).to_json()  # doctest: +SKIP
    """

    name: str
    status: str
    reason: str
    backend: str | None
    metric: str | None
    direction: str
    #: the trials the job may run in all (:func:`trial_budget`: a grid's points, when fewer than its budget)
    max_trials: int | None
    trials: int
    complete: int
    pruned: int
    failed: int
    interrupted: int
    #: the interrupted trials not re-run yet: a resume re-runs them (with room in its budget)
    reruns_left: int
    running: int
    #: the best complete, feasible trial; with several objectives, the one of the Pareto front with the best first
    #: objective (ties: the best second, and so on; then the first such trial)
    best: dict[str, Any] | None
    #: ``[{"metric", "direction"}, ...]``: the job's objectives, first one first (one for a single objective)
    objectives: list[dict[str, str]]
    #: several objectives: the numbers of the Pareto-optimal trials (:func:`pareto_front`); null for one objective
    pareto: list[int] | None
    seeded: int
    warm_starts: int
    cold_starts: int
    #: the mean cold start-up: of this job's cold trials, else (all its workers came warm from an earlier job)
    #: of those workers' cold trials there, what ``startup_saved_s`` counts from
    cold_startup_s: float | None
    warm_startup_s: float | None
    startup_saved_s: float | None
    cost_usd: float | None
    notes: list[str]
    created: float | None
    ended: float | None
    owner: dict[str, Any] | None
    stopped_by: dict[str, Any] | None
    resumed_by: dict[str, Any] | None
    #: a job run as part of a campaign: ``{"name", "index"}`` (its campaign, its place in it from 0); else null
    campaign: dict[str, Any] | None
    nonfinite: dict[str, str]

    @classmethod
    def from_attrs(cls, name: str, attrs: dict[str, Any], records: Sequence[Mapping[str, Any]]) -> JobSummary:
        """The summary of job ``name`` from its attributes and its trial records (their JSON form)."""
        from jupyter_hpo.store import Store

        spec = attrs.get(SPEC) or {}
        objective = spec.get("objective") or {}
        direction = "maximize" if objective.get("direction", "maximize") == "maximize" else "minimize"
        counts = {s: 0 for s in ("complete", "pruned", "fail", "running")}
        best: Mapping[str, Any] | None = None
        for r in records:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
            if better(_completed_value(r), None if best is None else best["value"], direction):
                best = r
        cold = [r[STARTUP_S] for r in records if r[WARM] is False and r[STARTUP_S] is not None]
        warm = [r[STARTUP_S] for r in records if r[WARM] is True and r[STARTUP_S] is not None]
        objectives = objectives_of(spec)
        pareto = pareto_front(records, objectives) if len(objectives) > 1 else None
        if pareto is not None:  # the best: the front's best first objective; of equals, the best second, and so on
            front = set(pareto)  # (the earliest of trials equal in all), the order artifacts.ArtifactKeeper keeps
            ranked = sorted((r for r in records if r["number"] in front),
                            key=lambda r: ([-v for v in _objective_values(r, objectives) or []], r["number"]))
            best = ranked[0] if ranked else None
        # what a cold start costs: this job's cold trials', else (every worker came warm from an earlier job: a kept
        # runner, a campaign) those workers' cold start there
        cold_s = _mean(cold) if cold else (attrs.get(BACKEND_SUMMARY) or {}).get("reused_cold_s")
        # every warm start saved a cold start-up, one interrupted before its start-up was measured too (the line
        # "warm starts 12 (start-up 0.002 s vs cold 1.35 s), start-up saved 13.5 s" did not multiply out)
        warm_starts = sum(1 for r in records if r[WARM] is True)
        saved = None
        if warm and isinstance(cold_s, (int, float)):
            saved = max(0.0, cold_s - sum(warm) / len(warm)) * warm_starts
        raw = {
            "name": name,
            "status": Store.status_of(attrs).value,
            "reason": attrs.get(REASON, ""),
            "backend": attrs.get(BACKEND),
            "metric": objective.get("metric"),
            "direction": direction,
            "max_trials": trial_budget(spec),  # a grid's: its points, when fewer than budget.max_trials
            "trials": len(records),
            "complete": counts["complete"],
            "pruned": counts["pruned"],
            "failed": sum(1 for r in records if r["state"] == "fail" and not r[INTERRUPTED]),
            "interrupted": sum(1 for r in records if r["state"] == "fail" and r[INTERRUPTED]),
            "reruns_left": reruns_left(records),
            "running": counts["running"],
            "best": None if best is None else {"number": best["number"], "value": best["value"],
                                               "params": best["params"]},
            "objectives": objectives,
            "pareto": pareto,
            "seeded": _seeded(attrs),
            # every trial that started, as its `warm` says (one interrupted has no start-up measured: not in the means)
            "warm_starts": warm_starts,
            "cold_starts": sum(1 for r in records if r[WARM] is False),
            "cold_startup_s": cold_s if isinstance(cold_s, (int, float)) else None,
            "warm_startup_s": _mean(warm),
            "startup_saved_s": saved,
            "cost_usd": _job_cost(attrs, records),
            "notes": [n.get("text", "") for n in attrs.get(NOTES) or [] if isinstance(n, dict)][-5:],
            "created": attrs.get(CREATED),
            "ended": attrs.get(ENDED),
            OWNER: owner_json(attrs.get(OWNER)),
            STOPPED_BY: actor_json(attrs.get(STOPPED_BY)),
            RESUMED_BY: actor_json(attrs.get(RESUMED_BY)),
            CAMPAIGN: campaign_json(attrs.get(CAMPAIGN)),
        }
        safe, flags = json_safe(raw)
        flags.update(json_safe(spec, SPEC)[1])
        return cls(**safe, nonfinite=flags)

    def to_json(self) -> dict[str, Any]:
        """The summary as a plain dict (strict-JSON-able: no NaN or infinity; a new dict each call)."""
        return {name: getattr(self, name) for name in JOB_FIELDS}


def reruns_left(records: Sequence[Mapping[str, Any]]) -> int:
    """The interrupted trials of ``records`` that no trial re-runs yet (``rerun_of``)."""
    rerun = {r.get(RERUN_OF) for r in records}
    return sum(1 for r in records if r["state"] == "fail" and r[INTERRUPTED] and r["number"] not in rerun)


def summarize(name: str, attrs: dict[str, Any], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures a list, a progress display or a sidebar row shows for one job (:meth:`JobSummary.to_json`)."""
    return JobSummary.from_attrs(name, attrs, records).to_json()


#: The fields of a trial record's JSON form, in order.
TRIAL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrialRecord))
#: The fields of a job summary's JSON form, in order.
JOB_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(JobSummary))
