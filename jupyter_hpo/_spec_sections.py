"""The sections of a tuning-job spec (objective or several objectives, trial, budget, completion, warm pool, hyperband, artifacts,
tracking, constraints), each a frozen dataclass validated on construction; :mod:`jupyter_hpo.spec`
assembles them into a :class:`~jupyter_hpo.spec.TuningSpec` and re-exports them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_hpo._limits import check_script_path
from jupyter_hpo.exceptions import SpecError

_DIRECTIONS = ("maximize", "minimize")
#: A number as scripts print it: Python's ``0.83``, ``1e-05``, ``nan``, ``inf``, and other languages' ``NaN``,
#: ``Inf``, ``Infinity`` (a NaN or infinite value then fails the trial as not finite, instead of as no match)
NUMBER_PATTERN = r"[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"


def _fail(field_name: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"`{field_name}` {rule}, but got {value!r}.")


def _positive_int(field_name: str, value: Any, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(field_name, "must be a positive integer", value)
    return value


def _positive_number(field_name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0) or math.isinf(value):
        raise _fail(field_name, "must be a positive number", value)
    return float(value)


def _choice(field_name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise _fail(field_name, f"must be one of {', '.join(choices)}", value)
    return value.lower()


def _section(data: Mapping[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
    body = data.get(key) or {}
    if not isinstance(body, Mapping):
        raise _fail(key, "must be a mapping", body)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SpecError(
            f"unknown field(s) {', '.join(f'`{key}.{u}`' for u in unknown)}; "
            f"allowed in `{key}`: {', '.join(sorted(allowed))}."
        )
    return dict(body)


@dataclass(frozen=True)
class Objective:
    """What to optimise: a metric name, a direction and, for scripts, the regex that finds it."""

    metric: str = "objective"
    direction: str = "maximize"
    regex: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}", self.metric):
            raise _fail("objective.metric", "must be a name of letters, digits, '_', '-', '.', ':'", self.metric)
        object.__setattr__(self, "direction", _choice("objective.direction", self.direction, _DIRECTIONS))
        if self.regex is not None:
            try:
                pattern = re.compile(self.regex)
            except (re.error, TypeError) as e:
                raise _fail("objective.regex", f"must be a valid regular expression ({e})", self.regex) from None
            if pattern.groups != 1:
                raise _fail("objective.regex", "must have exactly one capture group (the value)", self.regex)

    @property
    def pattern(self) -> str:
        """The regex that finds the metric in a script's output (``metric=value`` by default)."""
        return self.regex or rf"\b{re.escape(self.metric)}\s*[=:]\s*({NUMBER_PATTERN})"


def _objectives(value: Any) -> tuple[Objective, ...]:
    """Several objectives (``objective: [{metric, direction, regex}, ...]``) as Objectives: at least two, each
    metric once. A regex (optional) finds its metric in a script's output, as for one objective.

    ``()`` (the dataclass default) means one objective, the spec's ``objective``.
    """
    if isinstance(value, tuple) and not value:
        return ()
    if not isinstance(value, (list, tuple)):
        raise _fail("objective", "must be a mapping {metric, direction} or a list of them", value)
    if len(value) == 1:
        entry = value[0]
        single = (f"{{metric: {entry.get('metric')}, direction: {entry.get('direction', 'maximize')}}}"
                  if isinstance(entry, Mapping) else "{metric: ..., direction: ...}")
        raise SpecError(f"`objective` lists one objective; use the single form `objective: {single}`, "
                        f"but got {list(value)!r}.")
    if not value:
        raise SpecError("`objective` must list at least two objectives ({metric, direction} each), but got [].")
    out: list[Objective] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Objective):
            if not isinstance(entry, Mapping):
                raise _fail(f"objective[{i}]", "must be a mapping of metric and direction", entry)
            unknown = sorted(set(entry) - {"metric", "direction", "regex"})
            if unknown:
                raise SpecError(f"unknown field(s) {', '.join(f'`objective[{i}].{u}`' for u in unknown)}; allowed "
                                "in each of several objectives: direction, metric, regex.")
            if "metric" not in entry:
                raise SpecError(f"`objective[{i}].metric` is required: the name of a metric the trial returns, "
                                f"but got {dict(entry)!r}.")
            try:
                entry = Objective(metric=entry["metric"], direction=entry.get("direction", "maximize"),
                                  regex=entry.get("regex"))
            except SpecError as e:
                raise SpecError(str(e).replace("`objective.", f"`objective[{i}].", 1)) from None
        out.append(entry)
    seen: set[str] = set()
    for o in out:
        if o.metric in seen:
            raise SpecError(f"`objective` lists metric {o.metric!r} twice; each objective must be a different "
                            f"metric, but got {[x.metric for x in out]!r}.")
        seen.add(o.metric)
    return tuple(out)


@dataclass(frozen=True)
class TrialDef:
    """How one trial runs: a Python callable, or a script run with ``--name value`` arguments."""

    function: Callable[..., Any] | None = None
    script: str | None = None
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None

    def __post_init__(self) -> None:
        if (self.function is None) == (self.script is None):
            raise SpecError(
                "`trial` needs exactly one of `trial.function` (a Python callable) or `trial.script` "
                f"(a path), but got function={self.function!r}, script={self.script!r}."
            )
        if self.function is not None and not callable(self.function):
            raise _fail("trial.function", "must be callable", self.function)
        if self.script is not None:
            object.__setattr__(self, "script", check_script_path(self.script))
            if self.script.lower().endswith((".yaml", ".yml")):  # every trial failed with Python's SyntaxError
                raise SpecError(f"`trial.script` must be a Python script, but got {self.script!r}, a YAML file: a "
                                "spec is launched itself (`jupyter hpo launch SPEC`, `hpo.launch(\"SPEC\")`, "
                                "`%hpo launch SPEC`).")
        if not isinstance(self.hyperparameters, Mapping):
            raise _fail("trial.hyperparameters", "must be a mapping", self.hyperparameters)
        object.__setattr__(self, "hyperparameters", dict(self.hyperparameters))
        for key, value in self.hyperparameters.items():  # the spec is kept in the store as JSON: a YAML date
            try:  # failed there, as "cannot create job ... in the store", naming no field
                json.dumps(value)
            except (TypeError, ValueError):
                raise _fail(f"trial.hyperparameters.{key}", "must be text, a number, true/false, null, or a list or "
                            "mapping of them (the spec is kept as JSON; quote a date in YAML to pass it as text)",
                            value) from None
        object.__setattr__(self, "timeout", _positive_number("trial.timeout", self.timeout, optional=True))


@dataclass(frozen=True)
class Budget:
    """How much to spend: trials in total, trials at once, and wall-clock seconds."""

    max_trials: int = 20
    max_parallel: int = 2
    max_runtime: float | None = None

    def __post_init__(self) -> None:
        _positive_int("budget.max_trials", self.max_trials)
        _positive_int("budget.max_parallel", self.max_parallel)
        object.__setattr__(self, "max_runtime", _positive_number("budget.max_runtime", self.max_runtime, optional=True))


@dataclass(frozen=True)
class Completion:
    """When to stop early: a target value reached, or ``patience`` trials without improvement."""

    target: float | None = None
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.target is not None and (
            isinstance(self.target, bool) or not isinstance(self.target, (int, float)) or not math.isfinite(self.target)
        ):
            raise _fail("completion.target", "must be a finite number", self.target)
        _positive_int("completion.patience", self.patience, optional=True)


#: the longest a local runner stays for the next launch (``warm_pool.keep_alive_s``), as SageMaker's warm pools
MAX_KEEP_ALIVE_S = 3600


@dataclass(frozen=True)
class WarmPool:
    """Worker reuse: on by default; recycle a worker after N trials or above a memory bound; ``keep_alive_s``:
    keep the runner and its idle workers that long after the job, for the next launch from the same place
    (:mod:`jupyter_hpo.runner._linger`)."""

    enabled: bool = True
    max_trials_per_worker: int | None = None
    max_memory_mb: float | None = None
    keep_alive_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise _fail("warm_pool.enabled", "must be true or false", self.enabled)
        _positive_int("warm_pool.max_trials_per_worker", self.max_trials_per_worker, optional=True)
        object.__setattr__(
            self, "max_memory_mb", _positive_number("warm_pool.max_memory_mb", self.max_memory_mb, optional=True)
        )
        keep = self.keep_alive_s
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 <= keep <= MAX_KEEP_ALIVE_S:
            raise _fail("warm_pool.keep_alive_s", f"must be a number of seconds from 0 to {MAX_KEEP_ALIVE_S} "
                        "(0: the runner and its workers end with the job)", keep)
        if keep and not self.enabled:
            raise _fail("warm_pool.keep_alive_s", "needs `warm_pool.enabled: true` (without a warm pool every "
                        "trial gets a fresh process, and there are no workers to keep)", keep)
        object.__setattr__(self, "keep_alive_s", float(keep))


@dataclass(frozen=True)
class MlflowTracking:
    """Log the job to MLflow (``tracking: {mlflow: {...}}``): the job as a parent run, each trial a child run.

    Launching fills in what is left out from MLflow's own settings (``MLFLOW_TRACKING_URI``,
    ``MLFLOW_EXPERIMENT_NAME``), so the stored spec names where the runs went. See
    :mod:`jupyter_hpo.mlflow_tracking`.

    Example:
        >>> MlflowTracking(experiment="credit", tracking_uri="http://127.0.0.1:5000").run_name is None
        True
    """

    experiment: str | None = None
    tracking_uri: str | None = None
    run_name: str | None = None

    def __post_init__(self) -> None:
        for key in ("experiment", "tracking_uri", "run_name"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 500
                                      or any(ord(c) < 32 for c in value)):
                raise _fail(f"tracking.mlflow.{key}", "must be a non-empty line of at most 500 characters", value)


def _mlflow_tracking(data: Mapping[str, Any]) -> MlflowTracking | None:
    """``tracking: {mlflow: {...}}``: a mapping of its keys, ``true``/``{}`` for MLflow's defaults, ``false``/null off."""
    body = _section(data, "tracking", {"mlflow"}).get("mlflow")
    if body is None or body is False:
        return None
    if body is True or isinstance(body, MlflowTracking):
        return MlflowTracking() if body is True else body
    if not isinstance(body, Mapping):
        raise _fail("tracking.mlflow", "must be a mapping of experiment, tracking_uri, run_name (or true)", body)
    return MlflowTracking(**_section({"tracking.mlflow": body}, "tracking.mlflow",
                                     {"experiment", "tracking_uri", "run_name"}))


@dataclass(frozen=True)
class Hyperband:
    """Hyperband's resource range, in reported steps (epochs or folds)."""

    min_resource: int = 1
    max_resource: int | None = None
    reduction_factor: int = 3

    def __post_init__(self) -> None:
        _positive_int("hyperband.min_resource", self.min_resource)
        _positive_int("hyperband.max_resource", self.max_resource, optional=True)
        if self.max_resource is not None and self.max_resource < self.min_resource:
            raise SpecError(
                "`hyperband.min_resource <= hyperband.max_resource` must hold, but got "
                f"min_resource={self.min_resource}, max_resource={self.max_resource}."
            )
        if isinstance(self.reduction_factor, bool) or not isinstance(self.reduction_factor, int) or self.reduction_factor < 2:
            raise _fail("hyperband.reduction_factor", "must be an integer >= 2", self.reduction_factor)


#: how many trials' artifacts the local backend keeps when ``artifacts.keep_best`` is not given
DEFAULT_KEEP_BEST = 3


@dataclass(frozen=True)
class Artifacts:
    """Which trials' artifacts (``trial.save_model`` / ``log_artifact``) the runner keeps: the best
    ``keep_best`` complete trials (0: none); the others' folders are removed as trials finish. None: the
    default, :data:`DEFAULT_KEEP_BEST` on the local backend."""

    keep_best: int | None = None

    def __post_init__(self) -> None:
        k = self.keep_best
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise _fail("artifacts.keep_best", "must be an integer >= 0 (0 keeps no artifact)", k)

    @property
    def keep(self) -> int:
        """How many trials' artifacts are kept."""
        return DEFAULT_KEEP_BEST if self.keep_best is None else self.keep_best


@dataclass(frozen=True)
class Constraint:
    """A bound on a metric a trial returns (``constraints: {calibration_error: {max: 0.05}}``); a complete trial
    that breaks one, or lacks the metric, is infeasible: recorded as such and never the best.

    Example:
        >>> Constraint("calibration_error", max=0.05).violation(0.08)
        0.03
    """

    metric: str
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        field_name = f"constraints.{self.metric}"
        if not isinstance(self.metric, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}", self.metric):
            raise _fail("constraints", "must map metric names (letters, digits, '_', '-', '.', ':') to bounds",
                        self.metric)
        for key in ("min", "max"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise _fail(f"{field_name}.{key}", "must be a finite number", v)
        if self.min is None and self.max is None:
            raise SpecError(f"`{field_name}` needs `min`, `max` or both, but got neither.")
        if self.min is not None and self.max is not None and not self.min <= self.max:
            raise SpecError(f"`{field_name}` needs min <= max, but got min={self.min}, max={self.max}.")

    def violation(self, value: float | None) -> float:
        """How far ``value`` is outside the bounds (<= 0: within; Optuna's constraint value); 1.0 when missing."""
        if value is None or not math.isfinite(value):
            return 1.0
        over = [] if self.max is None else [value - self.max]
        under = [] if self.min is None else [self.min - value]
        return round(max(over + under), 12)

    def describe(self, value: float | None) -> str:
        """The broken rule in words: ``calibration_error=0.08 > max 0.05``, or that the trial lacks the metric."""
        if value is None:
            return f"{self.metric} missing"
        if not math.isfinite(value):  # returned, but NaN or infinite: say what it was, not that it was missing
            return f"{self.metric}={value} is not a finite number"
        if self.max is not None and value > self.max:
            return f"{self.metric}={value:.6g} > max {self.max:g}"
        return f"{self.metric}={value:.6g} < min {self.min:g}"

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("min", "max") if getattr(self, k) is not None}


def _constraints(value: Any) -> tuple[Constraint, ...]:
    """``{metric: {min, max}}`` (or Constraint objects) as Constraints; unknown keys refused."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)) and all(isinstance(c, Constraint) for c in value):
        return tuple(value)
    if not isinstance(value, Mapping):
        raise _fail("constraints", "must map metric names to {min, max} bounds", value)
    out = []
    for metric, bounds in value.items():
        if not isinstance(bounds, Mapping):
            raise _fail(f"constraints.{metric}", "must be a mapping with `min`, `max` or both", bounds)
        unknown = sorted(set(bounds) - {"min", "max"})
        if unknown:
            raise SpecError(f"unknown field(s) {', '.join(f'`constraints.{metric}.{u}`' for u in unknown)}; "
                            "allowed: max, min.")
        out.append(Constraint(metric, bounds.get("min"), bounds.get("max")))
    return tuple(out)


