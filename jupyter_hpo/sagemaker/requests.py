"""The requests the backends send: ``CreateTrainingJob`` (one trial), and botocore's validation of any request.

Every request is checked against botocore's service model before it is sent
(:func:`validate_request`), so a request that the API would reject for its types or minimums never
leaves the machine. The tuning job's request is in :mod:`jupyter_hpo.sagemaker.tuning`.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import secrets
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import BackendError, SpecError
from jupyter_hpo.sagemaker.outcome import INTERMEDIATE_METRIC, INTERMEDIATE_REGEX

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

__all__ = [
    "CODE_CHANNEL",
    "CODE_DIR",
    "check_space_for_pools",
    "data_network_environment",
    "hyperparameter_strings",
    "max_run_s",
    "metric_definitions",
    "resource_config",
    "sample_point",
    "script_mode_hyperparameters",
    "seeded_names",
    "spot_fields",
    "training_job_name",
    "training_job_request",
    "validate_request",
]

_MODEL: dict[str, Any] = {}
#: The input channel that carries the code archive under network isolation, and its folder in the container.
CODE_CHANNEL = "code"
CODE_DIR = f"/opt/ml/input/data/{CODE_CHANNEL}"


def _service_model(service: str) -> Any:
    if service not in _MODEL:
        import botocore.session

        _MODEL[service] = botocore.session.get_session().get_service_model(service)
    return _MODEL[service]


def validate_request(operation: str, params: Mapping[str, Any], service: str = "sagemaker") -> None:
    """Check ``params`` against botocore's model of ``operation`` (:class:`BackendError` if invalid), then,
    for the requests that create jobs, against the API reference's limits that botocore does not check
    (:func:`jupyter_hpo.sagemaker.limits.check_request`: :class:`SpecError`, one line)."""
    from botocore.validate import ParamValidator

    shape = _service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(dict(params), shape)
    if report.has_errors():
        raise BackendError(f"jupyter-hpo built an invalid {operation} request:\n{report.generate_report()}")
    if service == "sagemaker" and operation in ("CreateTrainingJob", "CreateHyperParameterTuningJob"):
        from jupyter_hpo.sagemaker.limits import check_request

        check_request(operation, params)


def metric_definitions(spec: TuningSpec) -> list[dict[str, str]]:
    """The regexes SageMaker applies to the trial's log: the objective (each of several) and intermediate values."""
    defs = [{"Name": o.metric, "Regex": o.pattern} for o in spec.all_objectives]
    if all(o.metric != INTERMEDIATE_METRIC for o in spec.all_objectives):
        defs.append({"Name": INTERMEDIATE_METRIC, "Regex": INTERMEDIATE_REGEX})
    return defs


def hyperparameter_strings(values: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as SageMaker wants them: strings (JSON for lists, dicts, booleans and None; a negative float
    written out rather than in scientific notation, which the training script's argparse would take for an option:
    :func:`~jupyter_hpo.space.argument_text`)."""
    from jupyter_hpo.space import argument_text

    def text(v: Any) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, (bool, list, dict, type(None))):
            return json.dumps(v)
        return argument_text(v)

    return {str(k): text(v) for k, v in values.items()}


def training_job_request(spec: TuningSpec, opts: SageMakerOptions, *, job_name: str, params: Mapping[str, Any],
                         code_uri: str, entry: str, keep_alive_s: int | None = None,
                         extra_tags: Mapping[str, str] | None = None, trial: int = 0) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of one trial (number ``trial``); the shared parts are identical for
    every trial. With ``spot`` it asks for managed spot training, waits at most ``max_wait_s`` and keeps
    the trial's checkpoints in its own S3 folder (no keep-alive: warm pools do not work with spot)."""
    hyper = hyperparameter_strings({**spec.trial.hyperparameters, **params})
    hyper.update(script_mode_hyperparameters(opts, entry=entry, code_uri=code_uri))
    resource = resource_config(opts)
    keep = opts.keep_alive_s if keep_alive_s is None else keep_alive_s
    if keep:
        resource["KeepAlivePeriodInSeconds"] = keep
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "RoleArn": opts.role,
        "AlgorithmSpecification": {"TrainingImage": opts.training_image(), "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions(spec)},
        "HyperParameters": hyper,
        "OutputDataConfig": opts.output_config(spec.name),
        "ResourceConfig": resource,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_run_s(spec, opts)},
        "EnableNetworkIsolation": opts.enable_network_isolation,
        "EnableInterContainerTrafficEncryption": opts.encrypt_inter_container_traffic,
        "Tags": [{"Key": k, "Value": v} for k, v in {**opts.tags, "jupyter-hpo:job": spec.name,
                                                       **(extra_tags or {})}.items()],
    }
    if not opts.role:
        raise SpecError("`backend.options.role` is required: the IAM role ARN SageMaker runs training jobs as.")
    request.update(data_network_environment(opts, code_uri))
    request.update(spot_fields(opts, spec.name, request["StoppingCondition"], trial))
    return request


def spot_fields(opts: SageMakerOptions, job: str, stopping: dict[str, Any], trial: int | None) -> dict[str, Any]:
    """With ``spot``: ``EnableManagedSpotTraining``, ``MaxWaitTimeInSeconds`` (set in ``stopping``, at least
    the run time) and, for one trial, its ``CheckpointConfig``; nothing otherwise."""
    if not opts.spot:
        return {}
    stopping["MaxWaitTimeInSeconds"] = opts.max_wait(stopping["MaxRuntimeInSeconds"])
    out: dict[str, Any] = {"EnableManagedSpotTraining": True}
    if trial is not None:
        out["CheckpointConfig"] = {"S3Uri": opts.checkpoint_uri(job, trial)}
    return out


def script_mode_hyperparameters(opts: SageMakerOptions, *, entry: str, code_uri: str) -> dict[str, str]:
    """What the SageMaker training toolkit reads to run ``entry`` from the code archive at ``code_uri``.

    Under network isolation the container cannot fetch ``code_uri`` from S3: the archive travels as
    the input channel :data:`CODE_CHANNEL` (fetched by SageMaker before the container starts, see
    :func:`data_network_environment`) and the toolkit is pointed at its path inside the container,
    as the SageMaker SDK does."""
    submit = f"{CODE_DIR}/{code_uri.rsplit('/', 1)[-1]}" if opts.enable_network_isolation else code_uri
    out = {"sagemaker_program": entry, "sagemaker_submit_directory": submit}
    if opts.region:
        out["sagemaker_region"] = opts.region
    return out


def resource_config(opts: SageMakerOptions) -> dict[str, Any]:
    """``ResourceConfig`` without keep-alive: instance type and count, volume and its KMS key."""
    resource: dict[str, Any] = {"InstanceType": opts.instance_type, "InstanceCount": opts.instance_count,
                                "VolumeSizeInGB": opts.volume_size_gb}
    if opts.volume_kms_key_id:
        resource["VolumeKmsKeyId"] = opts.volume_kms_key_id
    return resource


def max_run_s(spec: TuningSpec, opts: SageMakerOptions) -> int:
    """``MaxRuntimeInSeconds`` of a trial: ``max_run_s``, shortened to ``trial.timeout`` if that is set."""
    if spec.trial.timeout:
        return max(1, min(opts.max_run_s, int(math.ceil(spec.trial.timeout))))
    return opts.max_run_s


def data_network_environment(opts: SageMakerOptions, code_uri: str | None = None) -> dict[str, Any]:
    """``InputDataConfig``, ``VpcConfig`` and ``Environment`` of a training job (or a tuning job's
    definition), each only when set; under network isolation the code archive at ``code_uri`` is the
    input channel :data:`CODE_CHANNEL`."""
    fields: dict[str, Any] = {}
    channels = dict(opts.inputs)
    if opts.enable_network_isolation and code_uri:
        channels[CODE_CHANNEL] = code_uri
    if channels:
        fields["InputDataConfig"] = [
            {"ChannelName": name, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for name, uri in channels.items()]
    if opts.subnets:
        fields["VpcConfig"] = {"Subnets": list(opts.subnets), "SecurityGroupIds": list(opts.security_group_ids)}
    if opts.environment:
        fields["Environment"] = dict(opts.environment)
    return fields


def check_space_for_pools(spec: TuningSpec) -> None:
    """Tuning a setting that takes part in warm-pool matching would make every trial cold."""
    breaking = {"instance_type", "instance_count", "volume_size", "volume_size_gb", "volume_size_in_gb",
                "role", "subnets", "security_group_ids"}
    tuned = sorted(breaking & set(spec.space))
    if tuned:
        raise SpecError(f"{', '.join(map(repr, tuned))} cannot be tuned on SageMaker: every trial must use the same "
                        "role, instance type/count, volume and VPC so it can land on a warm pool. Set them in "
                        "backend.options.")


def sample_point(spec: TuningSpec, *, longest: bool = False) -> dict[str, Any]:
    """One valid point of the space (each parameter's low end or first choice, and only the parameters active
    there), for a sample request; ``longest``: each categorical parameter's longest choice as a hyperparameter
    string instead, and every parameter (conditional ones too), a bound on the hyperparameter-value limit."""
    point = {}
    for name in spec.space:
        body = spec.space[name].to_dict()
        if "low" in body:
            point[name] = body["low"]
        elif longest:
            point[name] = max(body["choices"], key=lambda c: len(hyperparameter_strings({"c": c})["c"]))
        else:
            point[name] = body["choices"][0]
    return point if longest else spec.space.active(point)


_NAME_SUFFIXES: ContextVar[random.Random | None] = ContextVar("jupyter_hpo_name_suffixes", default=None)


@contextlib.contextmanager
def seeded_names(seed: int) -> Iterator[None]:
    """Within it (in this thread), training-job names take their suffix from ``seed`` rather than ``secrets``.

    The estimator runs its simulations in it: the simulator derives each job's random draws from its name, so
    with random suffixes the same seed gave other figures on every run. Real launches never enter it.
    """
    token = _NAME_SUFFIXES.set(random.Random(f"training-job names:{seed}"))
    try:
        yield
    finally:
        _NAME_SUFFIXES.reset(token)


def training_job_name(job: str, key: int) -> str:
    """A training-job name (<= 63 characters, unique even if a job name is reused; see :func:`seeded_names`)."""
    suffixes = _NAME_SUFFIXES.get()
    suffix = secrets.token_hex(3) if suffixes is None else f"{suffixes.getrandbits(24):06x}"
    return f"{job[:44].rstrip('-')}-{key:05d}-{suffix}"
