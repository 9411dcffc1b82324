"""The tuning-job spec: what to tune, how, on what budget, where. Validated as a whole.

A spec is built from keyword arguments, a dict or a YAML file (the CLI's and ``%%hpo launch``'s
format, documented in the README). Every rule is checked before anything starts, and each message
names the field and the bad value.

Example:
    >>> spec = TuningSpec.from_dict({
    ...     "name": "demo",
    ...     "trial": {"function": lambda p: p["x"] ** 2},
    ...     "space": {"x": {"type": "float", "low": -1, "high": 1}},
    ...     "objective": {"metric": "loss", "direction": "minimize"},
    ...     "budget": {"max_trials": 5},
    ... })
    >>> spec.budget.max_parallel
    2
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_hpo._limits import MAX_GRID_POINTS, MAX_SPEC_BYTES, check_simulate
from jupyter_hpo._spec_sections import (  # the sections; re-exported: callers import them from here
    Artifacts,
    Budget,
    Completion,
    Constraint,
    Hyperband,
    MlflowTracking,
    Objective,
    TrialDef,
    WarmPool,
    _choice,
    _constraints,
    _fail,
    _mlflow_tracking,
    _objectives,
    _positive_int,
    _section,
)
from jupyter_hpo.exceptions import SearchSpaceError, SpecError
from jupyter_hpo.space import SearchSpace

__all__ = [
    "STRATEGIES",
    "EARLY_STOPPING",
    "BACKENDS",
    "Objective",
    "TrialDef",
    "Budget",
    "Completion",
    "WarmPool",
    "Hyperband",
    "MlflowTracking",
    "Artifacts",
    "Constraint",
    "TuningSpec",
    "check_job_name",
    "load_spec_file",
]

STRATEGIES = ("bayesian", "random", "grid", "hyperband")
#: ``kfold``: the paired k-fold pruner (``jupyter_hpo.pruners``); ``kfold_wilcoxon``: Optuna's Wilcoxon pruner.
EARLY_STOPPING = ("off", "median", "hyperband", "kfold", "kfold_fast", "kfold_wilcoxon")
#: Backend names known to the registry (``jupyter_hpo.backends``).
BACKENDS = ("local", "sagemaker", "amt")
#: The largest ``seed``: NumPy's generators, which Optuna's samplers seed, take 0 ... 2**32 - 1.
MAX_SEED = 2**32 - 1
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,62}")


def check_job_name(name: Any) -> str:
    """Return ``name`` if it is a valid job name, else raise :class:`SpecError`.

    A job name is 1-63 letters, digits and '-', starting with a letter or digit (the rule of
    SageMaker training-job names), so it is safe in paths, URLs and cloud resource names.
    """
    if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
        raise SpecError(
            "`name` must be 1-63 letters, digits or '-', starting with a letter or digit, "
            f"but got {name!r}."
        )
    return name


@dataclass(frozen=True)
class TuningSpec:
    """A whole tuning job, validated on construction.

    Example:
        >>> TuningSpec(name="quad", trial=TrialDef(function=lambda p: -p["x"] ** 2),
        ...            space=SearchSpace.from_dict({"x": {"type": "float", "low": -2, "high": 2}})).strategy
        'bayesian'
    """

    name: str
    trial: TrialDef
    space: SearchSpace
    objective: Objective = field(default_factory=Objective)
    strategy: str = "bayesian"
    seed: int | None = None
    budget: Budget = field(default_factory=Budget)
    completion: Completion = field(default_factory=Completion)
    early_stopping: str = "off"
    hyperband: Hyperband = field(default_factory=Hyperband)
    warm_pool: WarmPool = field(default_factory=WarmPool)
    backend: str = "local"
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    #: MLflow tracking (``tracking: {mlflow: {...}}``); None: off
    mlflow: MlflowTracking | None = None
    max_consecutive_failures: int = 5
    #: earlier jobs whose complete trials seed the sampler (``warm_start: {from: [JOB, ...]}``)
    warm_start: tuple[str, ...] = ()
    #: which trials keep their artifacts (``artifacts: {keep_best: N}``)
    artifacts: Artifacts = field(default_factory=Artifacts)
    #: bounds on metrics a trial returns (``constraints: {metric: {min, max}}``)
    constraints: tuple[Constraint, ...] = ()
    #: several objectives (``objective: [{metric, direction}, ...]``), the first also in ``objective``; () for one
    objectives: tuple[Objective, ...] = ()
    #: rebuilt from the store (:meth:`from_stored`): the rules that refuse an option a running job would ignore
    #: (:meth:`_check_ignored`) are checked at launch only, so the spec of a job launched before them still loads
    stored: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_job_name(self.name)
        if not isinstance(self.space, SearchSpace):
            raise _fail("space", "must be a SearchSpace", self.space)
        object.__setattr__(self, "strategy", _choice("strategy", self.strategy, STRATEGIES))
        object.__setattr__(self, "early_stopping", _choice("early_stopping", self.early_stopping, EARLY_STOPPING))
        object.__setattr__(self, "backend", _choice("backend", self.backend, BACKENDS))
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed <= MAX_SEED):
            raise _fail("seed", f"must be an integer from 0 to {MAX_SEED}", self.seed)
        if self.strategy == "hyperband" and self.early_stopping not in ("off", "hyperband"):
            raise SpecError(
                "the hyperband strategy does its own early stopping, so `early_stopping` must be off "
                f"or hyperband, but got {self.early_stopping!r}."
            )
        if self.strategy == "grid":
            self._check_grid()
        if not isinstance(self.backend_options, Mapping):
            raise _fail("backend_options", "must be a mapping", self.backend_options)
        object.__setattr__(self, "backend_options", dict(self.backend_options))
        if self.backend in ("sagemaker", "amt"):
            check_simulate(self.backend_options.get("simulate"))
        _positive_int("max_consecutive_failures", self.max_consecutive_failures)
        self._check_warm_start()
        self._check_objectives()
        if (self.backend == "local" and self.trial.script is None and not self.objectives
                and self.objective.regex is not None):
            raise SpecError("`objective.regex` finds the metric in a script's output, but the trial is a function, "
                            "whose return value is the metric; remove it (or use `trial.script`), but got "
                            f"{self.objective.regex!r}.")
        self._check_constraints()
        if not self.stored:
            self._check_ignored()
        if self.mlflow is not None and not isinstance(self.mlflow, MlflowTracking):
            raise _fail("tracking.mlflow", "must be an MlflowTracking", self.mlflow)
        if self.artifacts.keep_best is not None and self.backend != "local":
            raise SpecError(f"`artifacts.keep_best` applies to the local backend, whose runner removes the other "
                            f"trials' folders; on {self.backend} each training job's model.tar.gz stays in S3 (use "
                            f"the bucket's lifecycle rules), but got keep_best={self.artifacts.keep_best!r}.")

    def _check_warm_start(self) -> None:
        """``warm_start``: distinct job names other than this job's; not for grid search nor the amt backend."""
        value = self.warm_start
        names = (value,) if isinstance(value, str) else value
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise _fail("warm_start.from", "must be a list of job names", value)
        for n in names:
            if not _JOB_NAME.fullmatch(n):
                raise _fail("warm_start.from", "must be a list of job names (1-63 letters, digits or '-')", n)
        if self.name in names:
            raise _fail("warm_start.from", "must name earlier jobs, not this job", self.name)
        object.__setattr__(self, "warm_start", tuple(dict.fromkeys(names)))
        if self.warm_start and self.strategy == "grid":
            raise SpecError("`warm_start` seeds a sampler that learns from earlier trials, so it does not work "
                            "with `strategy: grid` (which visits every point anyway); use bayesian or "
                            "hyperband, but got strategy 'grid'.")
        if self.warm_start and self.strategy == "random" and not self.stored:
            raise SpecError("`warm_start` seeds a sampler that learns from earlier trials, so it does not work "
                            "with `strategy: random` (which draws every point at random, whatever came before); "
                            "use bayesian or hyperband, or remove warm_start, but got strategy 'random' with "
                            f"warm_start.from {list(self.warm_start)!r}.")
        if self.warm_start and self.backend == "amt":
            raise SpecError("`warm_start.from` seeds jupyter-hpo's sampler, which the amt backend does not use; "
                            "use `backend.options.warm_start: {parents: [...]}` (AMT's WarmStartConfig), but got "
                            f"warm_start.from {list(self.warm_start)!r}.")

    def _check_ignored(self) -> None:
        """Options the job would accept and ignore, refused at launch: a fixed hyperparameter that is also tuned,
        ``hyperband`` settings no Hyperband uses, and a worker's trial limit without a warm pool."""
        if self.warm_pool.max_trials_per_worker is not None and not self.warm_pool.enabled:
            raise SpecError("`warm_pool.max_trials_per_worker` needs `warm_pool.enabled: true` (without a warm pool "
                            "every trial gets a fresh process, so a worker runs one trial), but got "
                            f"{self.warm_pool.max_trials_per_worker!r}.")
        fixed = [n for n in self.trial.hyperparameters if n in self.space]
        if fixed:
            given = ", ".join(f"{n}={self.trial.hyperparameters[n]!r}" for n in fixed)
            raise SpecError(f"`trial.hyperparameters` must not fix a parameter that `space` tunes "
                            f"({', '.join(map(repr, fixed))}): the local and sagemaker backends would use the tuned "
                            f"value and amt would drop the fixed one; remove it from trial.hyperparameters (or from "
                            f"space), but got {given}.")
        default = Hyperband()
        changed = {f.name: getattr(self.hyperband, f.name) for f in dataclasses.fields(Hyperband)
                   if getattr(self.hyperband, f.name) != getattr(default, f.name)}
        if changed and self.multi_objective:  # no Hyperband to suggest: none prunes several objectives
            given = ", ".join(f"{k}={v!r}" for k, v in changed.items())
            raise SpecError(f"`hyperband` sets Hyperband's resources, but no Hyperband prunes a job with several "
                            f"objectives ({', '.join(o.metric for o in self.objectives)}); remove it, but got "
                            f"hyperband {given}.")
        if changed and self.pruner_kind != "hyperband":
            given = ", ".join(f"{k}={v!r}" for k, v in changed.items())
            raise SpecError(f"`hyperband` sets Hyperband's resources, but this job uses no Hyperband (strategy "
                            f"{self.strategy!r}, early_stopping {self.early_stopping!r}); use `strategy: hyperband` "
                            f"(or `early_stopping: hyperband` on the local and sagemaker backends), or remove it, "
                            f"but got hyperband {given}.")

    @property
    def multi_objective(self) -> bool:
        """Whether the job optimises several objectives (a Pareto front) rather than one value."""
        return bool(self.objectives)

    @property
    def all_objectives(self) -> tuple[Objective, ...]:
        """Every objective, first one first (just ``objective`` for a single-objective job)."""
        return self.objectives or (self.objective,)

    def _check_objectives(self) -> None:
        """Several objectives: a function or script trial on the local or sagemaker backend (a regex per objective
        only for a script, whose output it reads), without pruning, a completion criterion (both follow one value)
        or warm start (its trials hold one value)."""
        object.__setattr__(self, "objectives", _objectives(self.objectives))
        if not self.objectives:
            return
        object.__setattr__(self, "objective", self.objectives[0])
        names = ", ".join(o.metric for o in self.objectives)
        if self.backend == "amt":
            raise SpecError(f"SageMaker AMT tunes a single objective metric, so several objectives ({names}) cannot be "
                            "honoured; use `backend: sagemaker` or the local backend.")
        if self.trial.script is None:
            for i, o in enumerate(self.objectives):
                if o.regex is not None:
                    raise SpecError(f"`objective[{i}].regex` finds a metric in a script's output, but the trial is a "
                                    f"function, whose returned dict gives each objective ({names}); remove it, but "
                                    f"got {o.regex!r}.")
        if self.pruner_kind != "off":
            what = ("`strategy: hyperband`" if self.strategy == "hyperband"
                    else f"`early_stopping: {self.early_stopping}`")
            raise SpecError(f"{what} prunes trials, which Optuna cannot do with several objectives ({names}); use "
                            "`early_stopping: off` (and a bayesian, random or grid strategy).")
        c = self.completion
        if c.target is not None or c.patience is not None:
            field_name = "completion.target" if c.target is not None else "completion.patience"
            raise SpecError(f"`{field_name}` follows one value, but the job has several objectives ({names}); "
                            f"remove it (budget.max_trials and max_runtime still apply), but got "
                            f"{c.target if c.target is not None else c.patience!r}.")
        if self.warm_start:
            raise SpecError(f"`warm_start.from` seeds a sampler with earlier trials' single values, not several "
                            f"objectives ({names}); remove it, but got warm_start.from {list(self.warm_start)!r}.")

    def _check_constraints(self) -> None:
        """``constraints``: on metrics a function returns in its dict; not for scripts nor the amt backend."""
        object.__setattr__(self, "constraints", _constraints(self.constraints))
        if not self.constraints:
            return
        names = [c.metric for c in self.constraints]
        if self.backend == "amt":
            raise SpecError("SageMaker AMT has no constraints: it would pick its best training job without them, so "
                            f"`constraints` on {', '.join(map(repr, names))} cannot be honoured; they work on the "
                            "local backend with a function objective (a SageMaker trial is a script, whose output "
                            "gives only its objectives).")
        if self.pruner_kind == "hyperband" and not self.stored:
            what = "`strategy: hyperband`" if self.strategy == "hyperband" else "`early_stopping: hyperband`"
            raise SpecError(f"{what} ranks the trials at each rung by their reported steps, infeasible ones "
                            "included, so it would stop the very trials `constraints` ask for; use "
                            "`early_stopping: kfold`, `kfold_fast` or `median` (which judge against feasible "
                            f"trials only) with constraints on {', '.join(map(repr, names))}.")
        if self.trial.script is not None:
            raise SpecError("`constraints` are checked on the metrics a function objective returns in its dict "
                            "(a script's output gives only the objective metric), but the trial is script "
                            f"{self.trial.script!r}; constraints on {', '.join(map(repr, names))}.")

    def _check_grid(self) -> None:
        """A grid search lists every point: refuse a grid beyond :data:`MAX_GRID_POINTS` (counted, not listed)."""
        try:
            points = self.space.grid_size()
        except SearchSpaceError as e:
            raise SpecError(f"`space`: {e}") from None
        if points > MAX_GRID_POINTS:
            sizes = " x ".join(f"{name}: {self.space[name].n_values():,}" for name in self.space)
            raise SpecError(
                f"`space` must have at most {MAX_GRID_POINTS:,} grid points for `strategy: grid` (the product of "
                f"each parameter's number of values), but got {points:,} ({sizes}) with `budget.max_trials` "
                f"{self.budget.max_trials}; use `strategy: random`, or fewer values."
            )

    @property
    def trial_budget(self) -> int:
        """How many trials the job may run in all: ``budget.max_trials``, and for ``strategy: grid`` no more than
        the grid's points, which it runs once each (the budget caps a grid; it adds no points). The one rule for
        a spec; :func:`jupyter_hpo.records.trial_budget` applies it to a stored spec."""
        if self.strategy == "grid":
            return min(self.budget.max_trials, self.space.grid_size())
        return self.budget.max_trials

    @property
    def pruner_kind(self) -> str:
        """The pruner the job uses: ``off``, ``median``, ``hyperband``, ``kfold``, ``kfold_fast`` or
        ``kfold_wilcoxon``."""
        return "hyperband" if self.strategy == "hyperband" else self.early_stopping

    # -- dict / YAML ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None,
                  stored: bool = False) -> TuningSpec:
        """Build from the YAML schema (see the README); relative script paths resolve from ``base_dir``;
        ``stored``: a job's stored spec (see :attr:`stored`)."""
        if not isinstance(data, Mapping):
            raise SpecError(f"a spec must be a mapping of fields, but got {data!r}.")
        top = {"name", "objective", "trial", "space", "strategy", "seed", "budget", "completion",
               "early_stopping", "hyperband", "warm_pool", "backend", "max_consecutive_failures", "warm_start",
               "artifacts", "tracking", "constraints", "objectives"}
        unknown = sorted(set(data) - top)
        if unknown:
            raise SpecError(
                f"unknown field(s) {', '.join(f'`{u}`' for u in unknown)}; allowed: {', '.join(sorted(top))}."
            )
        if data.get("space") is None:
            raise SpecError("`space` is required: the parameters to tune.")
        try:
            space = SearchSpace.from_dict(data["space"])
        except SearchSpaceError as e:
            raise SpecError(f"`space`: {e}") from None
        if data.get("trial") is None:
            raise SpecError("`trial` is required: a `function` or a `script` to run for each trial.")
        trial = _resolve_trial_paths(_section(data, "trial", {"function", "script", "hyperparameters", "timeout"}),
                                     base_dir)
        backend = data.get("backend", "local")
        backend_options: dict[str, Any] = {}
        if isinstance(backend, Mapping):
            b = _section(data, "backend", {"name", "options"})
            backend, backend_options = b.get("name", "local"), b.get("options") or {}
        objective, objectives = _objective_fields(data)
        early = data.get("early_stopping", "off")
        if early is False or early is None:  # YAML reads a bare `off` as false
            early = "off"
        return cls(
            name=_default_name(trial) if data.get("name") is None else data["name"],
            trial=TrialDef(**trial),
            space=space,
            objective=objective,
            objectives=objectives,
            strategy=data.get("strategy", "bayesian"),
            seed=data.get("seed"),
            budget=Budget(**_section(data, "budget", {"max_trials", "max_parallel", "max_runtime"})),
            completion=Completion(**_section(data, "completion", {"target", "patience"})),
            early_stopping=early,
            hyperband=Hyperband(**_section(data, "hyperband", {"min_resource", "max_resource", "reduction_factor"})),
            warm_pool=WarmPool(**_section(data, "warm_pool", {"enabled", "max_trials_per_worker", "max_memory_mb",
                                                            "keep_alive_s"})),
            backend=backend,
            backend_options=backend_options,
            max_consecutive_failures=data.get("max_consecutive_failures", 5),
            warm_start=_warm_start_from(data.get("warm_start")),
            mlflow=_mlflow_tracking(data),
            artifacts=Artifacts(**_section(data, "artifacts", {"keep_best"})),
            constraints=_constraints(data.get("constraints")),
            stored=stored,
        )

    @classmethod
    def from_yaml(cls, text: str, *, base_dir: str | os.PathLike[str] | None = None) -> TuningSpec:
        return cls.from_dict(_load_spec_yaml(text), base_dir=base_dir)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TuningSpec:
        return cls.from_dict(load_spec_file(path))

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], job_dir: str | os.PathLike[str]) -> TuningSpec:
        """Rebuild a stored spec (``to_dict()``); a function trial points at its pickled copy."""
        data = dict(data)
        trial = dict(data.get("trial") or {})
        if "function" in trial:
            trial["function"] = PickledObjective(Path(job_dir) / "objective.pkl", str(trial["function"]))
        data["trial"] = trial
        return cls.from_dict(data, stored=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (a callable is named, not included; the store keeps it pickled)."""
        trial: dict[str, Any] = {
            "hyperparameters": dict(self.trial.hyperparameters),
            "timeout": self.trial.timeout,
        }
        if self.trial.script is not None:
            trial["script"] = self.trial.script
        else:
            fn = self.trial.function
            trial["function"] = (fn.ref if isinstance(fn, PickledObjective)
                                 else f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}")
        return {
            "name": self.name,
            "objective": dataclasses.asdict(self.objective),
            "trial": trial,
            "space": self.space.to_dict(),
            "strategy": self.strategy,
            "seed": self.seed,
            "budget": dataclasses.asdict(self.budget),
            "completion": dataclasses.asdict(self.completion),
            "early_stopping": self.early_stopping,
            "hyperband": dataclasses.asdict(self.hyperband),
            # keep_alive_s only when set, as every field added since: an older jupyter-hpo sharing the store refused
            # it as an unknown field when it resumed any job of this version (its runner died; the job hung pending)
            "warm_pool": {k: v for k, v in dataclasses.asdict(self.warm_pool).items()
                          if k != "keep_alive_s" or v},
            "backend": {"name": self.backend, "options": dict(self.backend_options)},
            "max_consecutive_failures": self.max_consecutive_failures,
            **({"warm_start": {"from": list(self.warm_start)}} if self.warm_start else {}),
            **({"tracking": {"mlflow": dataclasses.asdict(self.mlflow)}} if self.mlflow is not None else {}),
            **({"artifacts": dataclasses.asdict(self.artifacts)} if self.artifacts.keep_best is not None else {}),
            **({"constraints": {c.metric: c.to_dict() for c in self.constraints}} if self.constraints else {}),
            # several objectives: the first stays in `objective` too, so readers of one objective keep working
            **({"objectives": [{"metric": o.metric, "direction": o.direction, **({"regex": o.regex} if o.regex else {})}
                            for o in self.objectives]} if self.objectives else {}),
        }

    def replace(self, **changes: Any) -> TuningSpec:
        return dataclasses.replace(self, **changes)


class PickledObjective:
    """Stands for a function objective that the store keeps pickled in the job's directory."""

    def __init__(self, path: Path, ref: str) -> None:
        self.path, self.ref = path, ref

    def load(self) -> Callable[..., Any]:
        import cloudpickle

        with self.path.open("rb") as f:
            return cloudpickle.load(f)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<objective {self.ref}>"


def _objective_fields(data: Mapping[str, Any]) -> tuple[Objective, Any]:
    """``objective`` (a mapping) and several objectives: ``objective: [...]`` in YAML, or the stored form
    ``objective: FIRST`` plus ``objectives: [...]`` (what :meth:`TuningSpec.to_dict` writes)."""
    single, listed = data.get("objective"), data.get("objectives")
    if isinstance(single, (list, tuple)):
        if listed is not None:
            raise SpecError("give several objectives once, as `objective: [...]` or `objectives: [...]`, but got both.")
        single, listed = None, single
    objective = Objective(**_section({"objective": single}, "objective", {"metric", "direction", "regex"}))
    if listed is None:
        return objective, ()
    if single is not None:  # the stored form: `objective` is the first of `objectives`
        first = listed[0] if isinstance(listed, (list, tuple)) and listed and isinstance(listed[0], Mapping) else {}
        if (objective.metric, objective.direction) != (first.get("metric"), first.get("direction", "maximize")):
            raise SpecError(f"`objective` must be the first of `objectives` when both are given, but got "
                            f"objective {objective.metric!r} ({objective.direction}) and objectives {listed!r}.")
    return objective, listed if listed != () else []


def _warm_start_from(value: Any) -> Any:
    """The job names of ``warm_start``: ``{from: [JOB, ...]}`` in YAML; a list or one name from ``launch``."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return _section({"warm_start": value}, "warm_start", {"from"}).get("from") or ()
    return value


def load_spec_file(path: str | os.PathLike[str]) -> Any:
    """The fields of a YAML spec file, not yet validated, so that :func:`jupyter_hpo.api.launch` can apply its
    keyword options before the whole is checked (a file without ``space`` is complete with ``space=``).

    What depends on the file's location is settled here: ``trial.script`` and a ``trial.function`` file resolve
    from its folder (not from the working directory), and a spec without ``name`` gets a fresh one after that
    folder. Errors reading it name the file.
    """
    p = Path(path).expanduser()  # `~/specs/x.yaml` from Python or %hpo, where no shell expands it
    data = _load_spec_yaml(_read_spec_file(p), source=str(path))
    if isinstance(data, dict):
        if data.get("name") is None:  # a fresh name per run, after the folder
            data["name"] = _default_name({"script": p.resolve().parent.name})
        if isinstance(data.get("trial"), Mapping):
            data["trial"] = _resolve_trial_paths(dict(data["trial"]), p.parent.resolve())
    return data


def _resolve_trial_paths(trial: dict[str, Any], base_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """``trial`` with its function loaded and its relative script path joined to ``base_dir``."""
    if trial.get("function") is not None:
        trial["function"] = _resolve_function(trial["function"], base_dir)
    if isinstance(trial.get("script"), str) and base_dir is not None and not trial["script"].startswith("~"):
        trial["script"] = str(Path(base_dir, trial["script"]))
    return trial


def _read_spec_file(p: Path) -> str:
    """The text of a spec file: an existing UTF-8 file of at most :data:`MAX_SPEC_BYTES` bytes."""
    try:
        if p.is_dir():  # not "does not exist": it does, as a folder (a spec's folder given for its file, say)
            raise SpecError(f"{str(p)!r} is a directory, not a spec file; give the path of a job's YAML spec.")
        if not p.is_file():
            raise SpecError(f"spec file {str(p)!r} does not exist.")
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"a spec file must be at most {MAX_SPEC_BYTES:,} bytes, but {str(p)!r} has "
                            f"{p.stat().st_size:,}.")
        return p.read_text(encoding="utf-8")
    except SpecError:
        raise
    except UnicodeDecodeError as e:
        raise SpecError(f"a spec file must be UTF-8 text, but {str(p)!r} is not ({e.reason} at byte {e.start}).") from None
    except (OSError, ValueError) as e:  # unreadable, a NUL in the path...
        raise SpecError(f"spec file {str(p)!r} cannot be read: {e}") from None


def _load_spec_yaml(text: str, source: str | None = None) -> Any:
    from jupyter_hpo._yaml import YAMLError, YAMLLimitError, load_yaml

    try:
        return load_yaml(text, source=source)
    except YAMLLimitError as e:
        raise SpecError(str(e)) from None
    except YAMLError as e:
        raise SpecError(f"the spec is not valid YAML: {e}") from None


def _default_name(trial: Mapping[str, Any]) -> str:
    import secrets

    stem = "job"
    if trial.get("script"):
        stem = Path(str(trial["script"])).stem
    elif trial.get("function") is not None:
        stem = getattr(trial["function"], "__name__", "job")
    stem = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-")[:40] or "job"
    return f"{stem}-{secrets.token_hex(3)}"


def _resolve_function(ref: Any, base_dir: str | os.PathLike[str] | None) -> Any:
    """Turn ``"file.py:name"`` or ``"package.module:name"`` into the callable it names."""
    if ref is None or callable(ref):
        return ref
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise _fail("trial.function", "must be a callable or 'file.py:name' / 'module:name'", ref)
    where, attr = ref.split(":")
    try:
        if where.endswith(".py"):
            import runpy

            path = Path(base_dir or ".", Path(where).expanduser()).resolve()  # `~/x.py:f`, as trial.script
            if not path.is_file():
                raise _fail("trial.function", "must name an existing file", ref)
            namespace = runpy.run_path(str(path), run_name=f"jupyter_hpo_objective_{path.stem}")
            fn = namespace.get(attr)
        else:
            import importlib

            fn = getattr(importlib.import_module(where), attr, None)
    except SpecError:
        raise
    except Exception as e:  # the user's module failed to import: say so, with its error
        raise SpecError(f"`trial.function` {ref!r} could not be loaded: {type(e).__name__}: {e}") from None
    if not callable(fn):
        raise _fail("trial.function", "must name a callable", ref)
    return fn
