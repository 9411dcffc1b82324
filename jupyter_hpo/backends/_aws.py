"""What the SageMaker backends share: options, clients, request building, packaging, prices.

Everything here talks to AWS through plain boto3 clients, and every request is checked against
botocore's service model before it is sent (:func:`validate_request`), so a request that the API
would reject never leaves the machine. Nothing imports boto3 until a SageMaker backend is used.

The options live under ``backend.options`` in a spec (the README documents each one)::

    backend:
      name: sagemaker
      options:
        region: us-east-1
        role: arn:aws:iam::123456789012:role/SageMakerRole
        framework: xgboost            # or image: <ECR URI>
        framework_version: "1.7-1"
        instance_type: ml.m5.xlarge
        s3_prefix: s3://my-bucket/jupyter-hpo
        inputs: {train: s3://my-bucket/credit/}
        keep_alive_s: 600
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import BackendError, SpecError

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = [
    "SageMakerOptions",
    "Clients",
    "make_clients",
    "validate_request",
    "training_job_request",
    "metric_definitions",
    "package_source",
    "price_per_hour",
    "phase_seconds",
    "explain_client_error",
    "MAX_KEEP_ALIVE_S",
    "INTERMEDIATE_METRIC",
]

#: The documented maximum of ``ResourceConfig.KeepAlivePeriodInSeconds`` (botocore's model allows more).
MAX_KEEP_ALIVE_S = 3600
#: The metric name and line format of intermediate values (``jupyter_hpo.trial.report`` in a container).
INTERMEDIATE_METRIC = "intermediate"
INTERMEDIATE_REGEX = r"intermediate step=[0-9]+ value=([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
_INTERMEDIATE_LINE = re.compile(r"intermediate step=([0-9]+) value=([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|nan|inf))")
_INSTALL = "the SageMaker backends need boto3: pip install 'jupyter-hpo[sagemaker]'"
_ROLE = re.compile(r"arn:aws[a-z\-]*:iam::[0-9]{12}:role/\S+")
_S3 = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?")
_CHANNEL = re.compile(r"[A-Za-z0-9\.\-_]{1,64}")

#: Approximate on-demand prices of SageMaker training instances, USD per instance-hour (us-east-1,
#: list prices as published in 2025; not verified against a live account). Override with
#: ``backend.options.prices``; an unknown type costs 0 and the job says so.
PRICES_USD_PER_HOUR = {
    "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461, "ml.m5.4xlarge": 0.922,
    "ml.m5.12xlarge": 2.765, "ml.m5.24xlarge": 5.53,
    "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408, "ml.c5.4xlarge": 0.816, "ml.c5.9xlarge": 1.836,
    "ml.c5.18xlarge": 3.672,
    "ml.g4dn.xlarge": 0.736, "ml.g4dn.2xlarge": 0.94, "ml.g5.xlarge": 1.408, "ml.g5.2xlarge": 1.515,
    "ml.p3.2xlarge": 3.825,
}

#: Phases of ``SecondaryStatusTransitions`` that happen before the training code runs.
STARTUP_PHASES = ("Starting", "Pending", "LaunchingMLInstances", "PreparingTrainingStack",
                  "DownloadingTrainingImage", "Downloading")


def _fail(name: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"`backend.options.{name}` {rule}, but got {value!r}.")


def _str_map(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(name, "must be a mapping of names to values", value)
    return {k: str(v) for k, v in value.items()}


@dataclass(frozen=True)
class SageMakerOptions:
    """The ``backend.options`` of the ``sagemaker`` and ``amt`` backends, validated on construction.

    Every trial of a job uses the same role, instance type/count, volume, KMS key, VPC and network
    flags: those are the warm-pool matching criteria, so a trial can land on the previous one's
    instance. Nothing that takes part in matching can be tuned.
    """

    role: str | None = None
    region: str | None = None
    profile: str | None = None
    image: str | None = None
    framework: str | None = None
    framework_version: str | None = None
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_size_gb: int = 30
    volume_kms_key_id: str | None = None
    keep_alive_s: int = 600
    max_run_s: int = 3600
    s3_prefix: str | None = None
    output_path: str | None = None
    source_dir: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    enable_network_isolation: bool = False
    encrypt_inter_container_traffic: bool = False
    spot: bool = False
    instance_groups: tuple[Any, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    poll_s: float = 15.0
    warm_wait_s: float = 120.0
    # amt only
    warm_start: Mapping[str, Any] = field(default_factory=dict)
    attach: str | None = None
    # the simulated SageMaker (``jupyter_hpo.backends._sim``) instead of AWS: a dry run
    simulate: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        def opt_str(name: str) -> None:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _fail(name, "must be a non-empty string", value)

        for name in ("role", "region", "profile", "image", "framework", "framework_version", "volume_kms_key_id",
                     "s3_prefix", "output_path", "source_dir", "attach"):
            opt_str(name)
        if self.role is not None and not _ROLE.fullmatch(self.role):
            raise _fail("role", "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)", self.role)
        if not isinstance(self.instance_type, str) or not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", self.instance_type):
            raise _fail("instance_type", "must be a SageMaker instance type such as ml.m5.xlarge", self.instance_type)
        for name, low, high in (("instance_count", 1, 100), ("volume_size_gb", 1, 16384),
                                ("keep_alive_s", 0, MAX_KEEP_ALIVE_S), ("max_run_s", 1, 28 * 86400)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                extra = (" (the documented maximum of a warm pool's keep-alive period)"
                         if name == "keep_alive_s" else "")
                raise _fail(name, f"must be an integer from {low} to {high}{extra}", value)
        for name in ("poll_s", "warm_wait_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                raise _fail(name, "must be a positive number of seconds", value)
        for name in ("s3_prefix", "output_path"):
            value = getattr(self, name)
            if value is not None and not _S3.fullmatch(value):
                raise _fail(name, "must be an s3://bucket/prefix URI", value)
        object.__setattr__(self, "inputs", _str_map("inputs", self.inputs))
        for channel, uri in self.inputs.items():
            if not _CHANNEL.fullmatch(channel):
                raise _fail("inputs", f"channel names must be 1-64 letters, digits, '.', '-', '_' ({channel!r})",
                            dict(self.inputs))
            if not _S3.fullmatch(uri):
                raise _fail(f"inputs.{channel}", "must be an s3:// URI", uri)
        for name in ("subnets", "security_group_ids", "instance_groups"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise _fail(name, "must be a list", value)
            object.__setattr__(self, name, tuple(value))
        if bool(self.subnets) != bool(self.security_group_ids):
            raise SpecError("`backend.options.subnets` and `backend.options.security_group_ids` go together "
                            f"(a VPC needs both), but got subnets={list(self.subnets)}, "
                            f"security_group_ids={list(self.security_group_ids)}.")
        for name in ("enable_network_isolation", "encrypt_inter_container_traffic", "spot"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(name, "must be true or false", getattr(self, name))
        object.__setattr__(self, "environment", _str_map("environment", self.environment))
        object.__setattr__(self, "tags", _str_map("tags", self.tags))
        if not isinstance(self.prices, Mapping) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in self.prices.values()):
            raise _fail("prices", "must map instance types to USD per hour (numbers >= 0)", self.prices)
        object.__setattr__(self, "prices", {str(k): float(v) for k, v in self.prices.items()})
        if self.keep_alive_s and self.spot:
            raise SpecError("warm pools do not work with managed spot training: set `backend.options.spot: false` "
                            "or `backend.options.keep_alive_s: 0`.")
        if self.keep_alive_s and self.instance_groups:
            raise SpecError("warm pools do not work with heterogeneous clusters (`instance_groups`): remove "
                            "`backend.options.instance_groups` or set `backend.options.keep_alive_s: 0`.")
        if self.instance_groups:
            raise SpecError("`backend.options.instance_groups` (heterogeneous clusters) is not supported yet; "
                            "use instance_type and instance_count.")
        if not isinstance(self.warm_start, Mapping):
            raise _fail("warm_start", "must be a mapping {parents: [...], type: identical|transfer}", self.warm_start)
        object.__setattr__(self, "warm_start", dict(self.warm_start))
        if self.simulate is not None and not isinstance(self.simulate, Mapping):
            raise _fail("simulate", "must be a mapping of simulation settings (or absent)", self.simulate)

    @classmethod
    def from_spec(cls, spec: TuningSpec) -> SageMakerOptions:
        """The options of ``spec`` (a :class:`SpecError` names an unknown or bad option)."""
        data = dict(spec.backend_options)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown field(s) {', '.join(f'`backend.options.{u}`' for u in unknown)}; "
                            f"allowed: {', '.join(sorted(known))}.")
        return cls(**data)

    # -- derived ------------------------------------------------------------------------------
    def code_uri(self, job: str) -> str:
        if not self.s3_prefix:
            raise SpecError("`backend.options.s3_prefix` is required: an s3://bucket/prefix for the job's code "
                            "and output.")
        return f"{self.s3_prefix.rstrip('/')}/{job}/source/sourcedir.tar.gz"

    def output_uri(self, job: str) -> str:
        if self.output_path:
            return self.output_path
        if not self.s3_prefix:
            raise SpecError("`backend.options.s3_prefix` (or `output_path`) is required: where SageMaker writes "
                            "each trial's model.")
        return f"{self.s3_prefix.rstrip('/')}/{job}/output"

    def price(self) -> float | None:
        """USD per instance-hour of ``instance_type`` (the user's table first), or None if unknown."""
        return price_per_hour(self.instance_type, self.prices)

    def training_image(self) -> str:
        """The image to train in: ``image``, or the framework's image via the SageMaker SDK."""
        if self.image:
            return self.image
        if not self.framework:
            raise SpecError("`backend.options.image` (a training image URI) or `backend.options.framework` "
                            "(e.g. xgboost, sklearn) is required.")
        try:
            from sagemaker.core import image_uris  # the SDK is optional and heavy: only here
        except ImportError:
            raise SpecError(
                f"`backend.options.framework: {self.framework}` needs the SageMaker Python SDK to find the image "
                "URI: pip install 'jupyter-hpo[sagemaker-sdk]', or give `backend.options.image` instead."
            ) from None
        try:
            return image_uris.retrieve(self.framework, region=self.region, version=self.framework_version,
                                       instance_type=self.instance_type)
        except Exception as e:  # noqa: BLE001 - the SDK's own message says which framework/version exist
            raise SpecError(f"no SageMaker image for framework={self.framework!r} "
                            f"version={self.framework_version!r}: {e}") from None


def options_from_model_trainer(trainer: Any, **overrides: Any) -> dict[str, Any]:
    """``backend.options`` from a SageMaker SDK v3 ``ModelTrainer`` (read by attribute; no SDK import).

    The trainer's image, role, compute (type, count, volume, keep-alive), stopping condition,
    output path, environment, networking, input channels and source directory become the options
    every trial shares; ``overrides`` win.
    """
    def get(obj: Any, *names: str) -> Any:
        for name in names:
            obj = getattr(obj, name, None) if obj is not None else None
        return obj

    opts: dict[str, Any] = {
        "image": get(trainer, "training_image"),
        "role": get(trainer, "role"),
        "instance_type": get(trainer, "compute", "instance_type"),
        "instance_count": get(trainer, "compute", "instance_count"),
        "volume_size_gb": get(trainer, "compute", "volume_size_in_gb"),
        "volume_kms_key_id": get(trainer, "compute", "volume_kms_key_id"),
        "keep_alive_s": get(trainer, "compute", "keep_alive_period_in_seconds"),
        "spot": get(trainer, "compute", "enable_managed_spot_training"),
        "max_run_s": get(trainer, "stopping_condition", "max_runtime_in_seconds"),
        "output_path": get(trainer, "output_data_config", "s3_output_path"),
        "environment": get(trainer, "environment"),
        "subnets": get(trainer, "networking", "subnets"),
        "security_group_ids": get(trainer, "networking", "security_group_ids"),
        "enable_network_isolation": get(trainer, "networking", "enable_network_isolation"),
        "encrypt_inter_container_traffic": get(trainer, "networking", "enable_inter_container_traffic_encryption"),
        "source_dir": get(trainer, "source_code", "source_dir"),
    }
    inputs = {}
    for channel in get(trainer, "input_data_config") or []:
        uri = get(channel, "data_source")
        uri = uri if isinstance(uri, str) else get(uri, "s3_data_source", "s3_uri")
        if get(channel, "channel_name") and isinstance(uri, str):
            inputs[get(channel, "channel_name")] = uri
    if inputs:
        opts["inputs"] = inputs
    entry = get(trainer, "source_code", "entry_script")
    if entry:
        opts["_entry_script"] = entry
    opts = {k: v for k, v in opts.items() if v is not None}
    opts.update(overrides)
    return opts


def spec_fields_from_model_trainer(trainer: Any) -> dict[str, Any]:
    """``{"trial": {...}, "options": {...}}`` for a spec from a SageMaker SDK v3 ``ModelTrainer``.

    The trainer's ``source_code.entry_script`` in ``source_code.source_dir`` becomes ``trial.script``
    and its ``hyperparameters`` the static hyperparameters.
    """
    options = options_from_model_trainer(trainer)
    entry = options.pop("_entry_script", None)
    source = options.get("source_dir")
    if not entry or not source:
        raise SpecError("the ModelTrainer needs `source_code=SourceCode(source_dir=..., entry_script=...)`: "
                        "jupyter-hpo runs that script for each trial.")
    trial: dict[str, Any] = {"script": str(Path(source, entry))}
    hyper = getattr(trainer, "hyperparameters", None)
    if isinstance(hyper, Mapping) and hyper:
        trial["hyperparameters"] = dict(hyper)
    return {"trial": trial, "options": options}


def price_per_hour(instance_type: str, overrides: Mapping[str, float] | None = None) -> float | None:
    if overrides and instance_type in overrides:
        return float(overrides[instance_type])
    return PRICES_USD_PER_HOUR.get(instance_type)


def cost_usd(seconds: float | None, instance_count: int, price: float | None) -> float | None:
    """What ``seconds`` of ``instance_count`` instances cost at ``price`` USD/hour (None if unknown)."""
    if seconds is None or price is None:
        return None
    return round(seconds * instance_count * price / 3600.0, 6)


def simulation_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """Fill what a dry run against the simulated SageMaker does not need from the user."""
    out = dict(options)
    out.setdefault("role", "arn:aws:iam::123456789012:role/SimulatedSageMakerRole")
    out.setdefault("s3_prefix", "s3://jupyter-hpo-simulated/jobs")
    if not out.get("framework"):
        out.setdefault("image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/simulated-training:latest")
    return out


# -- clients ------------------------------------------------------------------------------------
@dataclass
class Clients:
    """The boto3 clients a backend uses (real ones, or real ones wired to the simulated SageMaker)."""

    sagemaker: Any
    logs: Any
    s3: Any
    clock: Any
    sim: Any = None


class _RealClock:
    def now(self) -> float:
        import time

        return time.time()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(max(0.0, seconds))


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise BackendError(_INSTALL) from None
    return boto3


def make_clients(opts: SageMakerOptions) -> Clients:
    """Clients for ``opts``: AWS itself, or the simulated SageMaker when ``opts.simulate`` is set.

    Retries use botocore's ``standard`` mode (backoff on throttling and 5xx); the attempt count
    comes from ``AWS_MAX_ATTEMPTS`` or the AWS config file.
    """
    boto3 = _boto3()
    if opts.simulate is not None:
        from jupyter_hpo.sagemaker.sim import ScaledClock, SimulatedSageMaker

        settings = dict(opts.simulate)
        clock = ScaledClock(float(settings.pop("speed", 1.0)))
        sim = SimulatedSageMaker(clock=clock, region=opts.region or "us-east-1", **settings)
        return Clients(sim.client("sagemaker"), sim.client("logs"), sim.client("s3"), clock, sim)
    from botocore.config import Config

    session = boto3.Session(profile_name=opts.profile, region_name=opts.region)
    config = Config(retries={"mode": "standard"}, user_agent_extra="jupyter-hpo")
    return Clients(session.client("sagemaker", config=config), session.client("logs", config=config),
                   session.client("s3", config=config), _RealClock())


def check_credentials(opts: SageMakerOptions) -> None:
    """Raise :class:`BackendError` when no region or no credentials can be found (no network call)."""
    if opts.simulate is not None:
        return
    boto3 = _boto3()
    try:
        session = boto3.Session(profile_name=opts.profile, region_name=opts.region)
    except Exception as e:  # noqa: BLE001 - botocore's ProfileNotFound and friends
        raise BackendError(f"the AWS profile could not be loaded: {e}") from None
    if not session.region_name:
        raise BackendError("no AWS region: set `backend.options.region`, AWS_DEFAULT_REGION or a region in "
                           "~/.aws/config.")
    if session.get_credentials() is None:
        raise BackendError("no AWS credentials found: configure them (aws configure, AWS_PROFILE, "
                           "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role) and launch again.")


_MODEL: dict[str, Any] = {}


def _service_model(service: str) -> Any:
    if service not in _MODEL:
        import botocore.session

        _MODEL[service] = botocore.session.get_session().get_service_model(service)
    return _MODEL[service]


def validate_request(operation: str, params: Mapping[str, Any], service: str = "sagemaker") -> None:
    """Check ``params`` against botocore's model of ``operation``; raise :class:`BackendError` if invalid."""
    from botocore.validate import ParamValidator

    shape = _service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(dict(params), shape)
    if report.has_errors():
        raise BackendError(f"jupyter-hpo built an invalid {operation} request:\n{report.generate_report()}")


def explain_client_error(error: Any, opts: SageMakerOptions | None = None) -> str:
    """A user-facing message for a botocore ``ClientError``, with what to do about the common ones."""
    err = getattr(error, "response", {}).get("Error", {})
    code, message = err.get("Code", type(error).__name__), err.get("Message", str(error))
    if code == "ResourceLimitExceeded":
        itype = opts.instance_type if opts else "the instance type"
        hint = (f" With warm pools (keep_alive_s > 0) each trial also needs warm-pool quota, and the default "
                f"quota is 0: in Service Quotas (Amazon SageMaker), request '{itype} for training warm pool "
                f"usage' of at least max_parallel, and enough '{itype} for training job usage'; or lower "
                "budget.max_parallel.")
        return f"ResourceLimitExceeded: {message}.{hint}"
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException",
                "InvalidClientTokenId", "InvalidSignatureException"):
        return f"{code}: {message}. The AWS credentials expired or are not valid: refresh them and resume the job."
    if code in ("AccessDeniedException", "AccessDenied"):
        return f"{code}: {message}. The credentials (or the job's role) lack a SageMaker/S3 permission."
    return f"{code}: {message}"


THROTTLING = frozenset({"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                        "RequestLimitExceeded", "SlowDown", "InternalFailure", "InternalServerError",
                        "ServiceUnavailable", "InternalError"})
EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException",
                     "InvalidClientTokenId"})


def error_code(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


# -- requests -------------------------------------------------------------------------------------
def metric_definitions(spec: TuningSpec) -> list[dict[str, str]]:
    """The regexes SageMaker applies to the trial's log: the objective and intermediate values."""
    defs = [{"Name": spec.objective.metric, "Regex": spec.objective.pattern}]
    if spec.objective.metric != INTERMEDIATE_METRIC:
        defs.append({"Name": INTERMEDIATE_METRIC, "Regex": INTERMEDIATE_REGEX})
    return defs


def hyperparameter_strings(values: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as SageMaker wants them: strings (JSON for lists, dicts, booleans and None)."""
    out = {}
    for k, v in values.items():
        out[str(k)] = v if isinstance(v, str) else json.dumps(v) if isinstance(v, (bool, list, dict, type(None))) else repr(v) if isinstance(v, float) else str(v)
    return out


def training_job_request(spec: TuningSpec, opts: SageMakerOptions, *, job_name: str, params: Mapping[str, Any],
                         code_uri: str, entry: str, keep_alive_s: int | None = None,
                         extra_tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of one trial; the shared parts are identical for every trial."""
    hyper = hyperparameter_strings({**spec.trial.hyperparameters, **params})
    hyper.update(sagemaker_program=entry, sagemaker_submit_directory=code_uri,
                 sagemaker_region=opts.region or "")
    if not hyper["sagemaker_region"]:
        del hyper["sagemaker_region"]
    resource: dict[str, Any] = {"InstanceType": opts.instance_type, "InstanceCount": opts.instance_count,
                                "VolumeSizeInGB": opts.volume_size_gb}
    if opts.volume_kms_key_id:
        resource["VolumeKmsKeyId"] = opts.volume_kms_key_id
    keep = opts.keep_alive_s if keep_alive_s is None else keep_alive_s
    if keep:
        resource["KeepAlivePeriodInSeconds"] = keep
    max_run = opts.max_run_s
    if spec.trial.timeout:
        max_run = max(1, min(max_run, int(math.ceil(spec.trial.timeout))))
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "RoleArn": opts.role,
        "AlgorithmSpecification": {"TrainingImage": opts.training_image(), "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions(spec)},
        "HyperParameters": hyper,
        "OutputDataConfig": {"S3OutputPath": opts.output_uri(spec.name)},
        "ResourceConfig": resource,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_run},
        "EnableNetworkIsolation": opts.enable_network_isolation,
        "EnableInterContainerTrafficEncryption": opts.encrypt_inter_container_traffic,
        "Tags": [{"Key": k, "Value": v} for k, v in {**opts.tags, "jupyter-hpo:job": spec.name,
                                                       **(extra_tags or {})}.items()],
    }
    if not opts.role:
        raise SpecError("`backend.options.role` is required: the IAM role ARN SageMaker runs training jobs as.")
    request.update(data_network_environment(opts))
    return request


def data_network_environment(opts: SageMakerOptions) -> dict[str, Any]:
    """``InputDataConfig``, ``VpcConfig`` and ``Environment`` of a training job (or a tuning job's
    definition), each only when set."""
    fields: dict[str, Any] = {}
    if opts.inputs:
        fields["InputDataConfig"] = [
            {"ChannelName": name, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for name, uri in opts.inputs.items()]
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


# -- packaging ----------------------------------------------------------------------------------------
_VENDORED = ("exceptions.py", "trial.py", "space.py", "_yaml.py")
_SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "node_modules", ".mypy_cache", ".pytest_cache"}
SPACE_FILE = "jupyter_hpo_space.json"


def package_source(source_dir: str | os.PathLike[str], spec: TuningSpec, *, max_mb: float = 200.0) -> bytes:
    """``sourcedir.tar.gz`` for SageMaker: the source folder, ``jupyter_hpo.trial`` and the space.

    The trial helper travels with the code (a few pure-Python files), so the training script can
    ``from jupyter_hpo import trial`` in a stock framework image; ``jupyter_hpo_space.json`` lets it
    type the string hyperparameters back.
    """
    root = Path(source_dir)
    if not root.is_dir():
        raise SpecError(f"`backend.options.source_dir` must be a folder, but got {str(source_dir)!r}.")
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part in _SKIP_DIRS for part in rel.parts) or not path.is_file():
                continue
            if rel.parts[0] == "jupyter_hpo":
                continue  # the vendored copy below is the one that matches the store's protocol
            total += path.stat().st_size
            if total > max_mb * 2**20:
                raise SpecError(f"the source folder {str(root)!r} is over {max_mb:g} MB; put data in S3 and pass it "
                                "as `backend.options.inputs`.")
            tar.add(path, arcname=str(rel), recursive=False)
        package = Path(__file__).resolve().parents[1]

        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))

        add_bytes("jupyter_hpo/__init__.py",
                  b'"""jupyter_hpo.trial for a SageMaker container (packaged by jupyter-hpo)."""\n')
        for name in _VENDORED:
            add_bytes(f"jupyter_hpo/{name}", (package / name).read_bytes())
        add_bytes(SPACE_FILE, json.dumps(spec.space.to_dict()).encode())
    return buffer.getvalue()


def source_and_entry(spec: TuningSpec, opts: SageMakerOptions) -> tuple[Path, str]:
    """The folder uploaded as ``sourcedir.tar.gz`` (``source_dir``, or the script's folder) and the
    script's path inside it (``sagemaker_program``)."""
    script = Path(spec.trial.script or "")
    source = Path(opts.source_dir).expanduser().resolve() if opts.source_dir else script.resolve().parent
    if not source.is_dir():
        raise SpecError(f"`backend.options.source_dir` must be an existing folder, but got {str(source)!r}.")
    try:
        entry = script.resolve().relative_to(source)
    except ValueError:
        raise SpecError(f"`trial.script` ({script}) must be inside `backend.options.source_dir` ({source}), "
                        "which is what is uploaded to SageMaker.") from None
    return source, entry.as_posix()


def split_s3(uri: str) -> tuple[str, str]:
    m = _S3.fullmatch(uri)
    if not m:
        raise SpecError(f"not an s3:// URI: {uri!r}")
    return m.group(1), (m.group(2) or "/").lstrip("/")


# -- reading training jobs ---------------------------------------------------------------------------
def phase_seconds(description: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per phase of ``SecondaryStatusTransitions`` (an open phase counts to ``LastModifiedTime``)."""
    out: dict[str, float] = {}
    for t in description.get("SecondaryStatusTransitions") or []:
        start, end = t.get("StartTime"), t.get("EndTime") or description.get("LastModifiedTime")
        if start is None or end is None:
            continue
        out[t["Status"]] = out.get(t["Status"], 0.0) + max(0.0, (end - start).total_seconds())
    return out


def parse_log_line(line: str, objective_regex: re.Pattern[str]) -> tuple[str, Any] | None:
    """``("intermediate", (step, value))`` or ``("objective", value)`` for a log line, else None."""
    m = _INTERMEDIATE_LINE.search(line)
    if m:
        return "intermediate", (int(m.group(1)), float(m.group(2)))
    m = objective_regex.search(line)
    if m:
        try:
            return "objective", float(m.group(1))
        except ValueError:
            return None
    return None


class LogTail:
    """Follows a training job's CloudWatch Logs streams (``/aws/sagemaker/TrainingJobs``, prefix = job).

    :meth:`read` returns the lines that appeared since the last call. A job's streams appear once
    its instances start training; until then (and on ``ResourceNotFoundException``) there is nothing.
    """

    GROUP = "/aws/sagemaker/TrainingJobs"

    def __init__(self, logs: Any, job_name: str, instances: int = 1) -> None:
        self.logs, self.job_name, self.instances = logs, job_name, instances
        self._tokens: dict[str, str | None] = {}

    def read(self, max_pages: int = 20) -> list[str]:
        from botocore.exceptions import ClientError

        lines: list[str] = []
        try:
            if len(self._tokens) < self.instances:  # one stream per instance; list until all are there
                found = self.logs.describe_log_streams(logGroupName=self.GROUP,
                                                       logStreamNamePrefix=f"{self.job_name}/").get("logStreams", [])
                for s in found:
                    self._tokens.setdefault(s["logStreamName"], None)
            for stream in sorted(self._tokens):
                token = self._tokens.get(stream)
                for _ in range(max_pages):
                    kwargs: dict[str, Any] = {"logGroupName": self.GROUP, "logStreamName": stream,
                                              "startFromHead": True}
                    if token:
                        kwargs["nextToken"] = token
                    page = self.logs.get_log_events(**kwargs)
                    lines.extend(e.get("message", "") for e in page.get("events", []))
                    new_token = page.get("nextForwardToken")
                    if not page.get("events") or new_token == token:
                        token = new_token or token
                        break
                    token = new_token
                self._tokens[stream] = token
        except ClientError as e:
            if error_code(e) != "ResourceNotFoundException":
                raise
        return lines


def describe_outcome_attrs(desc: Mapping[str, Any], opts: SageMakerOptions) -> dict[str, Any]:
    """The ``sagemaker`` trial attribute (documented in the README) from a DescribeTrainingJob response."""
    phases = phase_seconds(desc)
    pool = desc.get("WarmPoolStatus") or {}
    count = int((desc.get("ResourceConfig") or {}).get("InstanceCount") or opts.instance_count)
    itype = (desc.get("ResourceConfig") or {}).get("InstanceType") or opts.instance_type
    price = price_per_hour(itype, opts.prices)
    billable = desc.get("BillableTimeInSeconds")
    return {
        "training_job": desc.get("TrainingJobName"),
        "arn": desc.get("TrainingJobArn"),
        "status": desc.get("TrainingJobStatus"),
        "secondary_status": desc.get("SecondaryStatus"),
        "failure_reason": desc.get("FailureReason"),
        "warm_pool_status": pool.get("Status"),
        "reused_by": pool.get("ReusedByJob"),
        "retained_billable_s": pool.get("ResourceRetainedBillableTimeInSeconds"),
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
        "billable_s": billable,
        "instance_type": itype,
        "instance_count": count,
        "price_per_hour": price,
        "cost_usd": cost_usd(billable, count, price),
    }


def final_metric(desc: Mapping[str, Any], name: str) -> float | None:
    """The last value SageMaker's regex found for metric ``name`` (``FinalMetricDataList``)."""
    for m in desc.get("FinalMetricDataList") or []:
        if m.get("MetricName") == name:
            return float(m["Value"])
    return None
