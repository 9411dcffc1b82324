"""The ``backend.options`` of the ``sagemaker`` and ``amt`` backends, validated on construction.

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
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_hpo._limits import check_simulate
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker.pricing import price_per_hour

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["MAX_KEEP_ALIVE_S", "MAX_RUN_S", "SageMakerOptions", "check_backend_only_options",
           "check_no_local_pool_settings", "check_spot_and_keep_alive", "check_timeout_fits", "simulation_defaults",
           "split_s3"]

#: ``warm_pool`` fields that only the local backend's worker processes have: a SageMaker trial is a training job
LOCAL_POOL_FIELDS = ("max_trials_per_worker", "max_memory_mb", "keep_alive_s")
#: ``backend.options`` only one of the two SageMaker backends uses -> (that backend, what the option does)
BACKEND_ONLY_OPTIONS = {
    "warm_start": ("amt", "AMT's WarmStartConfig; on sagemaker the spec's `warm_start: {from: [...]}` seeds the "
                          "sampler"),
    "attach": ("amt", "mirrors an existing AMT tuning job"),
    "spot_retries": ("sagemaker", "relaunches of an interrupted spot trial; AMT retries its own"),
    "warm_wait_s": ("sagemaker", "the wait for a finished trial's warm pool; AMT keeps none"),
    "keep_alive_s": ("sagemaker", "the warm-pool keep-alive; AMT keeps no warm pools you can set"),
}

#: ``backend.options`` that only a spot job sends (``MaxWaitTimeInSeconds``, relaunches after an interruption)
SPOT_ONLY_OPTIONS = ("max_wait_s", "spot_retries")
#: the tags jupyter-hpo puts on its requests (:func:`~jupyter_hpo.sagemaker.requests.training_job_request`)
OWN_TAGS = ("jupyter-hpo:job", "jupyter-hpo:trial")

#: The documented maximum of ``ResourceConfig.KeepAlivePeriodInSeconds`` (botocore's model allows more).
MAX_KEEP_ALIVE_S = 3600
#: The largest ``StoppingCondition.MaxRuntimeInSeconds`` of a training job (28 days, API reference).
MAX_RUN_S = 28 * 86400
_ROLE = re.compile(r"arn:aws[a-z\-]*:iam::[0-9]{12}:role/\S+")
_S3 = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?")
_CHANNEL = re.compile(r"[A-Za-z0-9\.\-_]{1,64}")


def _fail(name: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"`backend.options.{name}` {rule}, but got {value!r}.")


def _str_map(name: str, value: Any) -> dict[str, str]:
    """Names to text values. A value YAML read as no text is refused, not sent as ``str()`` made it: an empty
    ``owner:`` was sent as the tag value "None", ``approved: yes`` and ``STRICT_MODE: true`` as "True"."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(name, "must be a mapping of names to values", value)
    for k, v in value.items():
        if v is None or isinstance(v, bool) or not isinstance(v, (str, int, float)):
            hint = f'; quote it in YAML ({k}: "{str(v).lower() if isinstance(v, bool) else ""}")' \
                if v is None or isinstance(v, bool) else ""
            raise SpecError(f"`backend.options.{name}.{k}` must be a text value (or a number), but got {v!r}: YAML "
                            f"reads an empty value as null and yes/no/true/false as booleans{hint}.")
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
    kms_key_id: str | None = None
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
    max_wait_s: int | None = None
    spot_retries: int = 2
    instance_groups: tuple[Any, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    poll_s: float = 15.0
    warm_wait_s: float = 120.0
    # amt only
    warm_start: Mapping[str, Any] = field(default_factory=dict)
    attach: str | None = None
    # the simulated SageMaker (``jupyter_hpo.sagemaker.sim``) instead of AWS: a dry run
    simulate: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        def opt_str(name: str) -> None:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _fail(name, "must be a non-empty string", value)

        for name in ("role", "region", "profile", "image", "framework", "framework_version", "volume_kms_key_id", "kms_key_id",
                     "s3_prefix", "output_path", "source_dir", "attach"):
            opt_str(name)
        if self.role is not None and not _ROLE.fullmatch(self.role):
            raise _fail("role", "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)", self.role)
        if not isinstance(self.instance_type, str) or not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", self.instance_type):
            raise _fail("instance_type", "must be a SageMaker instance type such as ml.m5.xlarge", self.instance_type)
        for name, low, high in (("instance_count", 1, 100), ("volume_size_gb", 1, 16384),
                                ("keep_alive_s", 0, MAX_KEEP_ALIVE_S), ("max_run_s", 1, MAX_RUN_S),
                                ("max_wait_s", 1, 2 * MAX_RUN_S), ("spot_retries", 0, 10)):
            value = getattr(self, name)
            if name == "max_wait_s" and value is None:
                continue
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
        if self.enable_network_isolation and "code" in self.inputs:
            raise _fail("inputs", "must not name a channel 'code' with enable_network_isolation: true (the code "
                        "archive travels in that channel, as the container cannot reach S3)", dict(self.inputs))
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
        for key in OWN_TAGS:  # set on every request after the spec's tags, so a spec's value was overwritten
            if key in self.tags:
                raise _fail("tags", f"must not set `{key}`, which jupyter-hpo sets itself (to find its jobs and "
                            "trials): remove it or use another key", dict(self.tags))
        if not isinstance(self.prices, Mapping) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in self.prices.values()):
            raise _fail("prices", "must map instance types to USD per hour (numbers >= 0)", self.prices)
        object.__setattr__(self, "prices", {str(k): float(v) for k, v in self.prices.items()})
        if self.max_wait_s is not None and self.max_wait_s < self.max_run_s:
            raise _fail("max_wait_s", f"must be >= max_run_s ({self.max_run_s}): StoppingCondition."
                        "MaxWaitTimeInSeconds covers the wait for spot capacity plus the run", self.max_wait_s)
        if self.keep_alive_s and self.instance_groups:
            raise SpecError("warm pools do not work with heterogeneous clusters (`instance_groups`): remove "
                            "`backend.options.instance_groups` or set `backend.options.keep_alive_s: 0`.")
        if self.instance_groups:
            raise SpecError("`backend.options.instance_groups` (heterogeneous clusters) is not supported yet; "
                            "use instance_type and instance_count.")
        if not isinstance(self.warm_start, Mapping):
            raise _fail("warm_start", "must be a mapping {parents: [...], type: identical|transfer}", self.warm_start)
        object.__setattr__(self, "warm_start", dict(self.warm_start))
        check_simulate(self.simulate)  # the one rule for simulation settings (the spec checks them too)

    @classmethod
    def from_spec(cls, spec: TuningSpec) -> SageMakerOptions:
        """The options of ``spec`` (a :class:`SpecError` names an unknown or bad option)."""
        data = dict(spec.backend_options)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown field(s) {', '.join(f'`backend.options.{u}`' for u in unknown)}; "
                            f"allowed: {', '.join(sorted(known))}.")
        opts = cls(**data)
        _check_sent(spec, data)
        if spec.backend != "amt" and spec.warm_pool.enabled:  # amt never sends a keep-alive
            check_spot_and_keep_alive(opts)
        unsent = [f"`backend.options.{k}`" for k in SPOT_ONLY_OPTIONS if data.get(k) is not None]
        if unsent and not opts.spot:  # on demand neither is sent; accepting them let a user think they were
            many = len(unsent) > 1
            raise SpecError(f"{' and '.join(unsent)} {'apply' if many else 'applies'} to spot training only, and "
                            f"this job runs on demand, so {'they' if many else 'it'} would not be sent: set "
                            f"`backend.options.spot: true` or remove {'them' if many else 'it'}.")
        return opts

    # -- derived ------------------------------------------------------------------------------
    def max_wait(self, max_run: int) -> int:
        """``MaxWaitTimeInSeconds`` of a spot trial that may run ``max_run`` seconds (default twice that)."""
        return max(max_run, self.max_wait_s if self.max_wait_s is not None else 2 * max_run)

    def checkpoint_uri(self, job: str, trial: int | str) -> str:
        """Where a spot trial keeps its checkpoints: one folder per trial, kept across its retries."""
        root = self.s3_prefix or self.output_path
        if not root:
            raise SpecError("`backend.options.s3_prefix` is required with `spot: true`: each trial keeps its "
                            "checkpoints under it, so an interrupted trial resumes.")
        return f"{root.rstrip('/')}/{job}/checkpoints/trial-{trial}"

    def code_uri(self, job: str) -> str:
        if not self.s3_prefix:
            raise SpecError("`backend.options.s3_prefix` is required: an s3://bucket/prefix for the job's code "
                            "and output.")
        return f"{self.s3_prefix.rstrip('/')}/{job}/source/sourcedir.tar.gz"

    def output_config(self, job: str) -> dict[str, str]:
        """``OutputDataConfig``: where each trial's model goes, encrypted with ``kms_key_id`` when set."""
        out = {"S3OutputPath": self.output_uri(job)}
        if self.kms_key_id:
            out["KmsKeyId"] = self.kms_key_id
        return out

    def upload_encryption(self) -> dict[str, str]:
        """``PutObject`` arguments that encrypt the code upload with ``kms_key_id`` (SSE-KMS), or none."""
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}

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


def check_spot_and_keep_alive(opts: SageMakerOptions) -> None:
    """Managed warm pools cannot be used with spot instances (the developer guide's warm-pool
    "Considerations"): refuse the combination rather than drop one of them."""
    if opts.spot and opts.keep_alive_s:
        raise SpecError(
            f"`backend.options.spot: true` cannot be combined with `backend.options.keep_alive_s: "
            f"{opts.keep_alive_s}`: warm pools do not work with managed spot training (SageMaker managed warm "
            "pools cannot be used with spot instances). Choose one: "
            "`keep_alive_s: 0` (spot prices, every trial starts cold; interrupted trials are retried) or "
            "`spot: false` (on-demand, trials start warm on the kept instances).")


def check_no_local_pool_settings(spec: TuningSpec) -> None:
    """Refuse the ``warm_pool`` fields of local worker processes on a SageMaker backend, where nothing could
    honour them (a trial is a training job on its own instance), rather than accept and ignore them."""
    given = [f for f in LOCAL_POOL_FIELDS if getattr(spec.warm_pool, f) not in (None, 0)]
    if given:
        names = ", ".join(f"`warm_pool.{f}`" for f in given)
        raise SpecError(
            f"{names} {'apply' if len(given) > 1 else 'applies'} to the local backend's worker processes, but this "
            f"job runs on `{spec.backend}`, where "
            "each trial is a SageMaker training job on its own instance: remove it. "
            + ("SageMaker AMT keeps no warm pools." if spec.backend == "amt" else
               "Its warm pool is set with `backend.options.keep_alive_s` (`warm_pool: {enabled: false}` sends 0)."))
    if spec.backend == "amt" and not spec.warm_pool.enabled:
        raise SpecError(
            "`warm_pool.enabled: false` turns off the warm pools of the local backend's workers and of the "
            "sagemaker backend's training jobs, but this job runs on `amt`, where SageMaker AMT keeps no warm pools "
            "and reuses its own instances between trials whatever is set: remove it (or use `backend: sagemaker`).")


def check_backend_only_options(spec: TuningSpec, given: Any) -> None:
    """Refuse the ``backend.options`` in ``given`` (the keys the user's spec set, before any defaults) that only
    the other SageMaker backend uses, rather than accept and ignore them."""
    wrong = [k for k in BACKEND_ONLY_OPTIONS if k in given and BACKEND_ONLY_OPTIONS[k][0] != spec.backend]
    if wrong:
        other = BACKEND_ONLY_OPTIONS[wrong[0]][0]
        what = "; ".join(f"`backend.options.{k}`: {BACKEND_ONLY_OPTIONS[k][1]}" for k in wrong)
        values = ", ".join(f"{k}={spec.backend_options.get(k)!r}" for k in wrong)
        raise SpecError(f"{what}. {'They apply' if len(wrong) > 1 else 'It applies'} to the {other} backend, and "
                        f"this job runs on `{spec.backend}`, which would ignore "
                        f"{'them' if len(wrong) > 1 else 'it'}: remove {'them' if len(wrong) > 1 else 'it'} (or "
                        f"use `backend: {other}`), but got {values}.")


def check_timeout_fits(spec: TuningSpec, opts: SageMakerOptions) -> None:
    """``trial.timeout`` longer than ``max_run_s`` would be cut to it (every training job stops at ``max_run_s``):
    refuse it rather than shorten it silently."""
    timeout = spec.trial.timeout
    if timeout and math.ceil(timeout) > opts.max_run_s:
        raise SpecError(f"`trial.timeout` ({timeout:g} s) is longer than `backend.options.max_run_s` "
                        f"({opts.max_run_s} s), the MaxRuntimeInSeconds that stops every training job, so trials "
                        f"would be cut at {opts.max_run_s} s; set backend.options.max_run_s to at least "
                        f"{math.ceil(timeout)} (at most {MAX_RUN_S}) or lower trial.timeout.")


def _check_sent(spec: TuningSpec, data: Mapping[str, Any]) -> None:
    """Refuse options of the spec that no request would carry: accepted, they let a user think they took effect.

    * ``framework`` or ``framework_version`` beside ``image``: the image is used, and the framework unread;
    * ``framework_version`` without ``framework``: no image is looked up with it.

    (``keep_alive_s`` with ``warm_pool.enabled: false`` is said in a note instead: :func:`warm_pool_off_note`.)
    """
    given = {k for k, v in data.items() if v is not None}
    if "framework_version" in given and "framework" not in given:
        raise SpecError("`backend.options.framework_version` needs `backend.options.framework` (e.g. xgboost), "
                        "whose image it picks.")
    if "image" in given and given & {"framework", "framework_version"}:
        both = " and ".join(f"`backend.options.{k}`" for k in ("framework", "framework_version") if k in given)
        raise SpecError(f"{both} and `backend.options.image` both name the training image, and `image` would be used: "
                        "give one of them.")


def warm_pool_off_note(spec: TuningSpec) -> str | None:
    """What a ``sagemaker`` job with ``warm_pool.enabled: false`` says of its warm-pool options (its plan and its
    runner): they stay in the spec, so the switch gives the cold baseline of the same job, but none is sent."""
    given = [f"`backend.options.{k}`" for k in ("keep_alive_s", "warm_wait_s")
             if spec.backend_options.get(k) is not None]
    if spec.backend != "sagemaker" or spec.warm_pool.enabled or not given:
        return None
    return (f"`warm_pool.enabled` is false: {' and '.join(given)} {'are' if len(given) > 1 else 'is'} not used; "
            "no KeepAlivePeriodInSeconds is sent, and every trial starts cold.")


def simulation_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """Fill what a dry run against the simulated SageMaker does not need from the user."""
    out = dict(options)
    out.setdefault("role", "arn:aws:iam::123456789012:role/SimulatedSageMakerRole")
    out.setdefault("s3_prefix", "s3://jupyter-hpo-simulated/jobs")
    if not out.get("framework"):
        out.setdefault("image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/simulated-training:latest")
    return out


def split_s3(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` URI."""
    m = _S3.fullmatch(uri)
    if not m:
        raise SpecError(f"not an s3:// URI: {uri!r}")
    return m.group(1), (m.group(2) or "/").lstrip("/")
