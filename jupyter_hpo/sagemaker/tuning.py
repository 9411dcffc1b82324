"""The ``CreateHyperParameterTuningJob`` request of a spec (the ``amt`` backend), and its tuning job's name."""

from __future__ import annotations

import hashlib
import math
import re
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import SearchSpaceError, SpecError
from jupyter_hpo.sagemaker.requests import (
    data_network_environment,
    hyperparameter_strings,
    max_run_s,
    metric_definitions,
    resource_config,
    script_mode_hyperparameters,
    spot_fields,
)
from jupyter_hpo.sagemaker.ranges import MAX_PER_KIND, grid_values, to_ranges
from jupyter_hpo.spec import Hyperband
from jupyter_hpo.trial import STEP_OBJECTIVE_ENV

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

__all__ = ["check_grid_budget", "tuning_job_name", "tuning_job_request"]

_STRATEGIES = {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}
#: static hyperparameters AMT reads Hyperband's MaxResource from when it is not given
_EPOCH_NAMES = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
_MAX_HYPERBAND_RESOURCE = 20_000
_MAX_RUNTIME = (120, 15_768_000)


def tuning_job_name(job: str) -> str:
    """The tuning job of jupyter-hpo job ``job``: its name if it fits AMT's 32 characters, else
    ``job[:23]-<8 hex of sha1(job)>``. Deterministic, so a resumed runner finds its tuning job."""
    if len(job) <= 32 and job[-1] != "-":
        return job
    return f"{job[:23]}-{hashlib.sha1(job.encode()).hexdigest()[:8]}"


def tuning_job_request(spec: TuningSpec, opts: SageMakerOptions, *, tuning_job_name: str, code_uri: str,
                       entry: str) -> dict[str, Any]:
    """The full ``CreateHyperParameterTuningJob`` request of ``spec``.

    Every trial uses ``entry`` (the script's path inside the code archive at ``code_uri``), the
    spec's static hyperparameters (as strings) and the options' image, role, data, instances, VPC,
    network flags and environment. ``KeepAlivePeriodInSeconds`` is never sent: AMT ignores it.
    With ``strategy: grid`` every parameter travels as its categorical grid values (AMT's Grid
    takes only categorical ranges) and AMT runs every combination: ``budget.max_trials`` does not apply.

    Args:
        spec: the job's spec; strategy, early stopping, completion, seed and budget map to AMT's.
        opts: the job's :class:`SageMakerOptions` (``warm_start`` becomes ``WarmStartConfig``).
        tuning_job_name: 1-32 letters, digits and '-' (see :func:`tuning_job_name`).
        code_uri: the s3:// URI of ``sourcedir.tar.gz``.
        entry: the training script, relative to the archive's root.

    Returns:
        The request, ready for ``sagemaker.create_hyper_parameter_tuning_job(**request)``.

    Raises:
        SpecError: a spec field or option AMT cannot take; the message names it and the rule.
    """
    if not opts.role:
        raise SpecError("`backend.options.role` is required: the IAM role ARN SageMaker runs training jobs as.")
    config: dict[str, Any] = {
        "Strategy": _STRATEGIES[spec.strategy],
        "HyperParameterTuningJobObjective": {"Type": spec.objective.direction.capitalize(),
                                             "MetricName": spec.objective.metric},
        "ResourceLimits": _resource_limits(spec),
        "ParameterRanges": _parameter_ranges(spec),
        "TrainingJobEarlyStoppingType": _early_stopping(spec),
    }
    if spec.strategy == "hyperband":
        config["StrategyConfig"] = {"HyperbandStrategyConfig": _hyperband(spec)}
    completion = _completion(spec)
    if completion:
        config["TuningJobCompletionCriteria"] = completion
    if spec.seed is not None:  # 0 included (the SageMaker SDK drops it)
        config["RandomSeed"] = spec.seed
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": tuning_job_name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": _training_definition(spec, opts, code_uri, entry),
        "Tags": [{"Key": k, "Value": v} for k, v in {**opts.tags, "jupyter-hpo:job": spec.name}.items()],
    }
    warm = _warm_start(opts)
    if warm:
        request["WarmStartConfig"] = warm
    return request


def _training_definition(spec: TuningSpec, opts: SageMakerOptions, code_uri: str, entry: str) -> dict[str, Any]:
    static = hyperparameter_strings({k: v for k, v in spec.trial.hyperparameters.items() if k not in spec.space})
    static.update(script_mode_hyperparameters(opts, entry=entry, code_uri=code_uri))
    if len(static) + len(spec.space) > 100:
        raise SpecError(f"SageMaker allows at most 100 static and tuned hyperparameters together, but "
                        f"`trial.hyperparameters` and `space` make {len(static) + len(spec.space)}.")
    max_run = max_run_s(spec, opts)
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": max_run}
    definition: dict[str, Any] = {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": {"TrainingImage": opts.training_image(), "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions(spec)},
        "RoleArn": opts.role,
        "OutputDataConfig": opts.output_config(spec.name),
        "ResourceConfig": resource_config(opts),
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": opts.enable_network_isolation,
        "EnableInterContainerTrafficEncryption": opts.encrypt_inter_container_traffic,
    }
    definition.update(spot_fields(opts, spec.name, stopping, None))  # AMT names the trials: no per-trial folder
    definition.update(data_network_environment(opts, code_uri))
    if _early_stopping(spec) == "Auto" or spec.strategy == "hyperband":
        _check_step_objective(spec)
        definition["Environment"] = {**definition.get("Environment", {}), STEP_OBJECTIVE_ENV: spec.objective.metric}
    return definition


def _check_step_objective(spec: TuningSpec) -> None:
    """AMT stops trials by the objective metric's values over time: ``trial.report`` prints ``<metric>=<value>``
    at each step for it, which the objective's regex must find."""
    line = f"{spec.objective.metric}=0.5"
    found = re.search(spec.objective.pattern, line)
    if found is None or found.group(1) != "0.5":
        why = "strategy: hyperband" if spec.strategy == "hyperband" else "early_stopping: median"
        raise SpecError(f"`{why}` on the amt backend needs the objective metric at each step: trial.report prints "
                        f"{line!r}-style lines, which `objective.regex` {spec.objective.regex!r} does not find; "
                        "change the regex to match them (or leave it out), or turn early stopping off.")

def _parameter_ranges(spec: TuningSpec) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges``; for Grid every parameter travels as its categorical grid values."""
    try:
        if spec.strategy != "grid":
            ranges = to_ranges(spec.space)
        else:
            ranges = {"CategoricalParameterRanges": [{"Name": name, "Values": grid_values(p)}
                                                     for name, p in spec.space.items()]}
    except SearchSpaceError as e:
        raise SpecError(f"`space`: {e}") from None
    for kind, items in ranges.items():
        if len(items) > MAX_PER_KIND:
            raise SpecError(f"`space`: SageMaker AMT allows at most {MAX_PER_KIND} {kind}, but the "
                            f"{spec.strategy} strategy makes {len(items)}.")
        for r in items:
            if len(r.get("Values", ())) > MAX_PER_KIND:
                raise SpecError(f"`space`: SageMaker AMT allows at most {MAX_PER_KIND} values for "
                                f"{r['Name']!r}, but the {spec.strategy} grid has {len(r['Values'])}.")
    return ranges


def check_grid_budget(spec: TuningSpec) -> None:
    """AMT's Grid runs every point of the grid (it takes no ``MaxNumberOfTrainingJobs``): refuse a
    ``budget.max_trials`` below the grid's size rather than run more trials than it says."""
    if spec.strategy != "grid":
        return
    try:
        points = math.prod(len(grid_values(p)) for p in spec.space.values())
    except SearchSpaceError as e:
        raise SpecError(f"`space`: {e}") from None
    if spec.budget.max_trials < points:
        raise SpecError(f"`strategy: grid` on the amt backend runs every one of the grid's {points} points (AMT's "
                        f"Grid takes no MaxNumberOfTrainingJobs), so `budget.max_trials` cannot stop it earlier; set "
                        f"budget.max_trials to {points}, use fewer values in space, or use strategy random or "
                        f"bayesian, but got budget.max_trials {spec.budget.max_trials}.")


def _resource_limits(spec: TuningSpec) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": spec.budget.max_parallel}
    if spec.strategy != "grid":  # Grid: the service counts the combinations itself
        limits["MaxNumberOfTrainingJobs"] = spec.budget.max_trials
    if spec.budget.max_runtime is not None:
        seconds = int(math.ceil(spec.budget.max_runtime))
        if not _MAX_RUNTIME[0] <= seconds <= _MAX_RUNTIME[1]:
            raise SpecError(f"`budget.max_runtime` must be from {_MAX_RUNTIME[0]} to {_MAX_RUNTIME[1]} seconds on "
                            f"the amt backend (AMT's MaxRuntimeInSeconds), but got {spec.budget.max_runtime:g}.")
        limits["MaxRuntimeInSeconds"] = seconds
    return limits


def _early_stopping(spec: TuningSpec) -> str:
    if spec.strategy == "hyperband":
        return "Off"  # Hyperband stops trials itself; AMT rejects Auto with it
    kind = spec.early_stopping
    if kind.startswith("kfold"):
        raise SpecError(f"`early_stopping: {kind}` is not available on the amt backend (AMT cannot compare fold "
                        "scores); use `early_stopping: median` (AMT's Auto early stopping) or off.")
    if kind == "hyperband":
        raise SpecError("`early_stopping: hyperband` needs `strategy: hyperband` on the amt backend (AMT's "
                        "Hyperband strategy stops trials itself); or use `early_stopping: median`.")
    return "Auto" if kind == "median" else "Off"


def _hyperband(spec: TuningSpec) -> dict[str, int]:
    hb = spec.hyperband
    if hb.reduction_factor != Hyperband().reduction_factor:
        raise SpecError("`hyperband.reduction_factor` cannot be set on the amt backend (AMT's Hyperband has no "
                        f"such setting), but got {hb.reduction_factor}; remove it.")
    max_resource = hb.max_resource
    if max_resource is None:
        static = {k: v for k, v in spec.trial.hyperparameters.items() if k not in spec.space}
        found = [k for k in _EPOCH_NAMES if k in static]
        try:
            max_resource = int(str(static[found[0]])) if found else None
        except ValueError:
            max_resource = None
        if max_resource is None:
            raise SpecError("`hyperband.max_resource` is required on the amt backend, unless a static "
                            f"hyperparameter ({', '.join(_EPOCH_NAMES)}) in `trial.hyperparameters` gives the "
                            "number of epochs; got neither.")
    if not hb.min_resource <= max_resource <= _MAX_HYPERBAND_RESOURCE:
        raise SpecError(f"`hyperband.max_resource` must be from hyperband.min_resource ({hb.min_resource}) to "
                        f"{_MAX_HYPERBAND_RESOURCE} on the amt backend, but got {max_resource}.")
    return {"MinResource": hb.min_resource, "MaxResource": max_resource}


def _completion(spec: TuningSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.completion.target is not None:
        out["TargetObjectiveMetricValue"] = float(spec.completion.target)
    patience = spec.completion.patience
    if patience is not None:
        if patience < 3:
            raise SpecError("`completion.patience` must be >= 3 on the amt backend (AMT's BestObjectiveNotImproving"
                            f".MaxNumberOfTrainingJobsNotImproving), but got {patience}.")
        out["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": patience}
    return out


def _warm_start(opts: SageMakerOptions) -> dict[str, Any] | None:
    ws = dict(opts.warm_start)
    if not ws:
        return None
    unknown = sorted(set(ws) - {"parents", "type"})
    if unknown:
        raise SpecError(f"unknown field(s) {', '.join(f'`backend.options.warm_start.{u}`' for u in unknown)}; "
                        "allowed: parents, type.")
    parents = ws.get("parents")
    if isinstance(parents, str):
        parents = [parents]
    name = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
    if (not isinstance(parents, (list, tuple)) or not 1 <= len(parents) <= 5
            or not all(isinstance(p, str) and name.fullmatch(p) for p in parents)):
        raise SpecError("`backend.options.warm_start.parents` must list 1 to 5 tuning-job names (1-32 letters, "
                        f"digits or '-'), but got {parents!r}.")
    kinds = {"identical": "IdenticalDataAndAlgorithm", "transfer": "TransferLearning"}
    kind = ws.get("type", "transfer")
    if kind not in kinds:
        raise SpecError(f"`backend.options.warm_start.type` must be identical or transfer, but got {kind!r}.")
    return {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
            "WarmStartType": kinds[kind]}
