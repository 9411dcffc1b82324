"""Mirroring a tuning job made elsewhere (``backend.options.attach``): a spec from its description."""

from __future__ import annotations

import math
from typing import Any

from jupyter_hpo.exceptions import BackendError, SearchSpaceError, SpecError
from jupyter_hpo.sagemaker import clients as _clients
from jupyter_hpo.sagemaker.clients import Clients
from jupyter_hpo.sagemaker.errors import explain_client_error
from jupyter_hpo.sagemaker.options import SageMakerOptions
from jupyter_hpo.sagemaker.ranges import from_ranges
from jupyter_hpo.spec import Budget, Completion, Hyperband, Objective, TrialDef, TuningSpec

__all__ = ["attach_spec", "remote_trial"]


def remote_trial(params: dict[str, Any]) -> float:
    """The trial of a mirrored tuning job (:func:`attach_spec`): it runs in SageMaker, never here."""
    raise BackendError("this trial runs in SageMaker (a mirrored AMT tuning job); it cannot be called here.")


def attach_spec(tuning_job_name: str, *, region: str | None = None, profile: str | None = None,
                name: str | None = None, simulate: dict[str, Any] | None = None,
                clients: Clients | None = None) -> TuningSpec:
    """A spec that mirrors the existing tuning job ``tuning_job_name`` (``backend.options.attach``).

    The space comes from its ``ParameterRanges``; objective, strategy, early stopping, completion,
    seed and budget from its config; image, role, instances, data and network from its training
    job definition. The trial is :func:`remote_trial` (the training runs in SageMaker).

    Args:
        tuning_job_name: the tuning job to mirror.
        region, profile: where it is (default: the AWS configuration's).
        name: the jupyter-hpo job's name (default: the tuning job's).
        simulate: settings of the simulated SageMaker instead of AWS.
        clients: clients to use (tests).

    Raises:
        BackendError: the tuning job does not exist or cannot be mirrored (e.g. several definitions).
    """
    opts = SageMakerOptions(region=region, profile=profile, attach=tuning_job_name, simulate=simulate)
    clients = clients or _clients.make_clients(opts)
    try:
        desc = clients.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_name)
    except Exception as e:  # a name AWS does not know is bad input; an outage or a refusal is not
        code = getattr(e, "response", {}).get("Error", {}).get("Code") if hasattr(e, "response") else None
        error = SpecError if code in ("ResourceNotFound", "ResourceNotFoundException") else BackendError
        raise error(f"cannot read tuning job {tuning_job_name!r}: {explain_client_error(e, opts)}") from None
    definition = desc.get("TrainingJobDefinition")
    if definition is None:
        raise BackendError(f"tuning job {tuning_job_name!r} has several training job definitions; jupyter-hpo can "
                           "mirror only a tuning job with one TrainingJobDefinition.")
    config = desc["HyperParameterTuningJobConfig"]
    try:
        return _mirror_spec(desc, config, definition, name or tuning_job_name,
                            {"attach": tuning_job_name, "region": region, "profile": profile, "simulate": simulate})
    except (SpecError, SearchSpaceError) as e:
        raise BackendError(f"tuning job {tuning_job_name!r} cannot be mirrored: {e}") from None


def _mirror_spec(desc: dict[str, Any], config: dict[str, Any], definition: dict[str, Any], name: str,
                 base: dict[str, Any]) -> TuningSpec:
    space = from_ranges(config.get("ParameterRanges") or {})
    objective = config["HyperParameterTuningJobObjective"]
    algo = definition.get("AlgorithmSpecification") or {}
    regex = next((m["Regex"] for m in algo.get("MetricDefinitions") or [] if m["Name"] == objective["MetricName"]),
                 None)
    try:
        Objective(objective["MetricName"], regex=regex)
    except SpecError:
        regex = None  # a Java-style or multi-group regex: SageMaker applies it, not us
    strategy = config["Strategy"].lower()
    hb = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    limits = config.get("ResourceLimits") or {}
    criteria = config.get("TuningJobCompletionCriteria") or {}
    max_trials = limits.get("MaxNumberOfTrainingJobs")
    if max_trials is None:  # Grid: every combination
        max_trials = math.prod(len(p.values()) for p in space.values()) if strategy == "grid" else 1
    resource = definition.get("ResourceConfig") or definition.get("HyperParameterTuningResourceConfig") or {}
    if not resource.get("InstanceType") and resource.get("InstanceConfigs"):
        resource = resource["InstanceConfigs"][0]  # instance-type flexibility: the first choice
    vpc = definition.get("VpcConfig") or {}
    options = {
        **base,
        "role": definition.get("RoleArn"),
        "image": algo.get("TrainingImage"),
        "instance_type": resource.get("InstanceType"),
        "instance_count": resource.get("InstanceCount"),
        "volume_size_gb": resource.get("VolumeSizeInGB"),
        "volume_kms_key_id": resource.get("VolumeKmsKeyId") or None,
        "keep_alive_s": 0,
        "max_run_s": (definition.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds"),
        "output_path": (definition.get("OutputDataConfig") or {}).get("S3OutputPath"),
        "kms_key_id": (definition.get("OutputDataConfig") or {}).get("KmsKeyId") or None,
        "inputs": {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                   for c in definition.get("InputDataConfig") or [] if "S3DataSource" in c.get("DataSource", {})},
        "subnets": vpc.get("Subnets"),
        "security_group_ids": vpc.get("SecurityGroupIds"),
        "enable_network_isolation": definition.get("EnableNetworkIsolation"),
        "encrypt_inter_container_traffic": definition.get("EnableInterContainerTrafficEncryption"),
        "spot": definition.get("EnableManagedSpotTraining"),
        "max_wait_s": (definition.get("StoppingCondition") or {}).get("MaxWaitTimeInSeconds"),
        "environment": definition.get("Environment"),
    }
    static = {k: v for k, v in (definition.get("StaticHyperParameters") or {}).items()
              if not k.startswith("sagemaker_")}
    return TuningSpec(
        name=name,
        trial=TrialDef(function=remote_trial, hyperparameters=static),
        space=space,
        objective=Objective(objective["MetricName"], objective["Type"].lower(), regex),
        strategy=strategy,
        seed=config.get("RandomSeed"),
        budget=Budget(max_trials=max_trials, max_parallel=limits.get("MaxParallelTrainingJobs", 1)),
        completion=Completion(target=criteria.get("TargetObjectiveMetricValue"),
                              patience=(criteria.get("BestObjectiveNotImproving") or {}).get(
                                  "MaxNumberOfTrainingJobsNotImproving")),
        early_stopping="median" if config.get("TrainingJobEarlyStoppingType") == "Auto" and strategy != "hyperband"
        else "off",
        hyperband=Hyperband(min_resource=hb.get("MinResource", 1), max_resource=hb.get("MaxResource")),
        backend="amt",
        backend_options={k: v for k, v in options.items() if v is not None},
        max_consecutive_failures=1_000_000,  # AMT decides when a mirrored job gives up, not jupyter-hpo
    )
