"""Backend ``amt``: SageMaker Automatic Model Tuning, mirrored into the store.

AMT proposes the trials itself (``CreateHyperParameterTuningJob``); this backend creates the
tuning job, then mirrors each training job AMT launches as a trial of the job: its typed
parameters when it appears, its ``intermediate step=k value=v`` log lines while it runs, and its
value, start-up phases and cost when it ends. The runner only records (``proposes_trials``).

AMT does not honour ``ResourceConfig.KeepAlivePeriodInSeconds`` (warm pools), so nothing here
promises warm starts; the ``sagemaker`` backend is the one that does.

Example (``backend.options`` are those of the ``sagemaker`` backend, plus ``warm_start``/``attach``)::

    backend:
      name: amt
      options:
        role: arn:aws:iam::123456789012:role/SageMakerRole
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/train:latest
        s3_prefix: s3://my-bucket/jupyter-hpo
        warm_start: {parents: [credit-xgb-1], type: transfer}
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_hpo.backends import _aws
from jupyter_hpo.backends._aws import (
    INTERMEDIATE_METRIC,
    STARTUP_PHASES,
    THROTTLING,
    LogTail,
    SageMakerOptions,
    describe_outcome_attrs,
    error_code,
    explain_client_error,
    final_metric,
    hyperparameter_strings,
    metric_definitions,
    parse_log_line,
    phase_seconds,
    split_s3,
    validate_request,
)
from jupyter_hpo.backends._base import Assignment, Backend, TrialEvents, TrialOutcome, TrialRequest
from jupyter_hpo.exceptions import BackendError, SearchSpaceError, SpecError
from jupyter_hpo.space import SAGEMAKER_MAX_PER_KIND, SearchSpace
from jupyter_hpo.spec import Budget, Completion, Hyperband, Objective, TrialDef, TuningSpec

__all__ = ["AmtBackend", "tuning_job_request", "tuning_job_name", "attach_spec", "remote_trial"]

log = logging.getLogger("jupyter_hpo.backends.amt")

_STRATEGIES = {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}
#: static hyperparameters AMT reads Hyperband's MaxResource from when it is not given
_EPOCH_NAMES = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
_MAX_HYPERBAND_RESOURCE = 20_000
_MAX_RUNTIME = (120, 15_768_000)
_MAX_BACKOFF_S = 300.0
_TRAINING_DONE = ("Completed", "Failed", "Stopped")
_TUNING_DONE = ("Completed", "Failed", "Stopped", "DeleteFailed", "Deleting")
_MARKER = "amt.json"


def remote_trial(params: dict[str, Any]) -> float:
    """The trial of a mirrored tuning job (:func:`attach_spec`): it runs in SageMaker, never here."""
    raise BackendError("this trial runs in SageMaker (a mirrored AMT tuning job); it cannot be called here.")


def tuning_job_name(job: str) -> str:
    """The tuning job of jupyter-hpo job ``job``: its name if it fits AMT's 32 characters, else
    ``job[:23]-<8 hex of sha1(job)>``. Deterministic, so a resumed runner finds its tuning job."""
    if len(job) <= 32 and job[-1] != "-":
        return job
    return f"{job[:23]}-{hashlib.sha1(job.encode()).hexdigest()[:8]}"


# -- the request ---------------------------------------------------------------------------------
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
    static.update(sagemaker_program=entry, sagemaker_submit_directory=code_uri)
    if opts.region:
        static["sagemaker_region"] = opts.region
    if len(static) + len(spec.space) > 100:
        raise SpecError(f"SageMaker allows at most 100 static and tuned hyperparameters together, but "
                        f"`trial.hyperparameters` and `space` make {len(static) + len(spec.space)}.")
    resource: dict[str, Any] = {"InstanceType": opts.instance_type, "InstanceCount": opts.instance_count,
                                "VolumeSizeInGB": opts.volume_size_gb}
    if opts.volume_kms_key_id:
        resource["VolumeKmsKeyId"] = opts.volume_kms_key_id
    max_run = opts.max_run_s
    if spec.trial.timeout:
        max_run = max(1, min(max_run, int(math.ceil(spec.trial.timeout))))
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": max_run}
    definition: dict[str, Any] = {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": {"TrainingImage": opts.training_image(), "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions(spec)},
        "RoleArn": opts.role,
        "OutputDataConfig": {"S3OutputPath": opts.output_uri(spec.name)},
        "ResourceConfig": resource,
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": opts.enable_network_isolation,
        "EnableInterContainerTrafficEncryption": opts.encrypt_inter_container_traffic,
    }
    if opts.spot:  # a spot trial may wait for capacity as long as it may run
        definition["EnableManagedSpotTraining"] = True
        stopping["MaxWaitTimeInSeconds"] = 2 * max_run
    definition.update(_aws.data_network_environment(opts))
    return definition


def _parameter_ranges(spec: TuningSpec) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges``; for Grid every parameter travels as its categorical grid values."""
    try:
        if spec.strategy != "grid":
            ranges = spec.space.to_sagemaker()
        else:
            encoded = spec.space.to_sagemaker().get("CategoricalParameterRanges", [])
            values = {r["Name"]: r["Values"] for r in encoded}
            ranges = {"CategoricalParameterRanges": [
                {"Name": name, "Values": values.get(name) or [repr(v) if isinstance(v, float) else str(v)
                                                              for v in p.values()]}
                for name, p in spec.space.items()]}
    except SearchSpaceError as e:
        raise SpecError(f"`space`: {e}") from None
    for kind, items in ranges.items():
        if len(items) > SAGEMAKER_MAX_PER_KIND:
            raise SpecError(f"`space`: SageMaker AMT allows at most {SAGEMAKER_MAX_PER_KIND} {kind}, but the "
                            f"{spec.strategy} strategy makes {len(items)}.")
        for r in items:
            if len(r.get("Values", ())) > SAGEMAKER_MAX_PER_KIND:
                raise SpecError(f"`space`: SageMaker AMT allows at most {SAGEMAKER_MAX_PER_KIND} values for "
                                f"{r['Name']!r}, but the {spec.strategy} grid has {len(r['Values'])}.")
    return ranges


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
    if kind == "kfold":
        raise SpecError("`early_stopping: kfold` is not available on the amt backend (AMT cannot compare fold "
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


# -- the backend ---------------------------------------------------------------------------------
@dataclass
class _Mirror:
    """One training job of the tuning job, mirrored as trial ``key``."""

    key: int
    name: str
    tail: LogTail | None = None
    objective: float | None = None
    finished: bool = False
    billable_s: float = 0.0
    cost_usd: float | None = None


class AmtBackend(Backend):
    """A SageMaker AMT tuning job, mirrored trial by trial (see the module docstring).

    Args:
        spec: the job's spec; ``backend.options`` are :class:`SageMakerOptions`.
        job_dir: the job's folder (``amt.json`` there marks the tuning job as this job's own).
        clients: boto3 clients and a clock to use (tests); default ``make_clients(options)``.

    Example:
        >>> spec = AmtBackend.prepare(spec)  # doctest: +SKIP
        >>> backend = AmtBackend(spec, job_dir); backend.start()  # doctest: +SKIP
    """

    name = "amt"
    proposes_trials = True

    def __init__(self, spec: TuningSpec, job_dir: Path, clients: _aws.Clients | None = None) -> None:
        super().__init__(spec, job_dir)
        self.opts = SageMakerOptions.from_spec(spec)
        self.clients = clients
        self._owns_clients = False
        self.tuning_job = self.opts.attach or tuning_job_name(spec.name)
        self.mirrors: dict[str, _Mirror] = {}
        self.adopted: set[str] = set()
        self.last: dict[str, Any] | None = None  # the last DescribeHyperParameterTuningJob
        self._interval = self.opts.poll_s
        self._next_poll = 0.0
        self._stopping = False
        self._stop_sent = False
        self._stop_retry_at = 0.0
        self._detached = False
        self._tail_logs = True
        self._noted: set[str] = set()
        self._pending_notes: list[tuple[str, str]] = []
        self._events: TrialEvents | None = None
        if spec.backend_options.get("keep_alive_s"):
            self._pending_notes.append(("keep-alive", "`backend.options.keep_alive_s` is ignored by the amt backend: "
                                        "SageMaker AMT does not keep warm pools for its training jobs; use the "
                                        "sagemaker backend for warm starts."))

    # -- before the job exists ----------------------------------------------------------------
    @classmethod
    def prepare(cls, spec: TuningSpec) -> TuningSpec:
        """Check everything AMT needs before a job is created; the request is built and validated once.

        Raises:
            SpecError: a field AMT cannot take (named in the message, with the rule).
            BackendError: no credentials or region, or the request does not fit botocore's model.
        """
        if spec.backend_options.get("simulate") is not None:
            spec = spec.replace(backend_options=_aws.simulation_defaults(spec.backend_options))
        opts = SageMakerOptions.from_spec(spec)
        _aws.check_credentials(opts)  # nothing to check when simulated
        try:
            spec.space.validate_for_sagemaker()
        except SearchSpaceError as e:
            raise SpecError(f"`space`: {e}") from None
        if opts.attach:
            return spec  # the tuning job exists; its request is not ours to build
        if spec.trial.script is None:
            raise SpecError("the amt backend needs `trial.script`: SageMaker AMT runs a training script in a "
                            "container, so a function objective (`trial.function`) cannot run there (use the "
                            "local backend for functions).")
        _, entry = _aws.source_and_entry(spec, opts)
        request = tuning_job_request(spec, opts, tuning_job_name=tuning_job_name(spec.name),
                                     code_uri=opts.code_uri(spec.name), entry=entry)
        validate_request("CreateHyperParameterTuningJob", request)
        return spec

    def adopt(self, records: dict[str, int]) -> None:
        """Training jobs (name -> trial number) a previous runner already mirrored to the end:
        they are not mirrored again when this runner resumes the job."""
        self.adopted.update(records)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Create the tuning job (uploading the code first), or adopt it if this job already made it."""
        if self.clients is None:
            self.clients = _aws.make_clients(self.opts)
            self._owns_clients = True
        if self.opts.attach:
            if self._describe_or_none() is None:
                raise BackendError(f"no SageMaker tuning job named {self.tuning_job!r} to attach to "
                                   f"(region {self.opts.region or 'default'}).")
            return
        marker = self.job_dir / _MARKER
        if marker.is_file() and json.loads(marker.read_text()).get("tuning_job") == self.tuning_job:
            if self._describe_or_none() is not None:  # a resumed runner: the tuning job is ours
                return
        source, entry = _aws.source_and_entry(self.spec, self.opts)
        code_uri = self.opts.code_uri(self.spec.name)
        request = tuning_job_request(self.spec, self.opts, tuning_job_name=self.tuning_job,
                                     code_uri=code_uri, entry=entry)
        validate_request("CreateHyperParameterTuningJob", request)
        bucket, key = split_s3(code_uri)
        try:
            self.clients.s3.put_object(Bucket=bucket, Key=key, Body=_aws.package_source(source, self.spec))
        except Exception as e:
            raise BackendError(f"could not upload the training code to {code_uri}: "
                               f"{explain_client_error(e, self.opts)}") from None
        self.job_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"tuning_job": self.tuning_job}))  # before: a crash after create resumes
        try:
            self.clients.sagemaker.create_hyper_parameter_tuning_job(**request)
        except Exception as e:
            marker.unlink(missing_ok=True)
            if error_code(e) == "ResourceInUse":
                raise BackendError(
                    f"a SageMaker tuning job named {self.tuning_job!r} already exists (an earlier job named "
                    f"{self.spec.name!r}?); tuning-job names cannot be reused: launch under another name, or "
                    f"mirror it with `backend.options.attach: {self.tuning_job}`.") from None
            raise BackendError(f"CreateHyperParameterTuningJob failed: {explain_client_error(e, self.opts)}") from None

    def _describe_or_none(self) -> dict[str, Any] | None:
        try:
            return self.clients.sagemaker.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.tuning_job)
        except Exception as e:
            if error_code(e) in ("ResourceNotFound", "ValidationException"):
                return None
            raise BackendError(explain_client_error(e, self.opts)) from None

    def free_slots(self) -> int:
        return 0

    def submit(self, request: TrialRequest) -> Assignment:
        raise BackendError("the amt backend runs the trials SageMaker AMT proposes; it takes no submissions.")

    def running(self) -> int:
        return sum(1 for m in self.mirrors.values() if not m.finished)

    # -- polling ---------------------------------------------------------------------------------
    def poll(self, events: TrialEvents, timeout: float) -> None:
        """At most every ``poll_s``: describe the tuning job, list its training jobs, mirror them."""
        self._events = events
        for key, text in self._pending_notes:
            self._note(key, text)
        self._pending_notes.clear()
        now = self._now()
        if now < self._next_poll:  # ``timeout`` is real seconds; a simulated clock may run faster
            speed = float(getattr(self.clients.clock, "speed", 1.0))
            self.clients.clock.sleep(min(timeout * speed, self._next_poll - now))
            return
        self._next_poll = now + self._interval
        try:
            self._poll_once(events)
        except BackendError:
            raise
        except Exception as e:
            if not _transient(e):
                if error_code(e):
                    raise BackendError(explain_client_error(e, self.opts)) from None
                raise
            self._interval = min(_MAX_BACKOFF_S, self._interval * 2)
            self._next_poll = now + self._interval
            self._note("throttled", f"SageMaker throttled or failed a status check ({error_code(e) or e}); "
                                    f"checking every {self._interval:g} s for a while.")
            return
        self._interval = self.opts.poll_s

    def _poll_once(self, events: TrialEvents) -> None:
        desc = self.clients.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=self.tuning_job)
        summaries = self._list_training_jobs()
        self.last = desc  # only with a listing at least as fresh: done() relies on both
        for s in summaries:
            name = s["TrainingJobName"]
            if name in self.mirrors or name in self.adopted:
                continue
            params = self._params(s)
            if params is None:
                continue
            key = events.on_external_trial(params, {"worker": name, "warm": False, "sagemaker": {
                "training_job": name, "tuning_job": self.tuning_job}})
            self.mirrors[name] = _Mirror(key, name, LogTail(self.clients.logs, name))
        for s in summaries:
            mirror = self.mirrors.get(s["TrainingJobName"])
            if mirror is None or mirror.finished:
                continue
            self._tail(mirror, events)
            if s["TrainingJobStatus"] in _TRAINING_DONE:
                self._finish(mirror, s, events)

    def _list_training_jobs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"HyperParameterTuningJobName": self.tuning_job, "MaxResults": 100,
                                  "SortBy": "CreationTime", "SortOrder": "Ascending"}
        while True:
            page = self.clients.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
            out.extend(page.get("TrainingJobSummaries", []))
            token = page.get("NextToken")
            if not token:
                return sorted(out, key=lambda s: (s["CreationTime"], s["TrainingJobName"]))
            kwargs["NextToken"] = token

    def _params(self, summary: dict[str, Any]) -> dict[str, Any] | None:
        tuned = summary.get("TunedHyperParameters") or {}
        missing = [n for n in self.spec.space if n not in tuned]
        try:
            if missing:
                raise SearchSpaceError(f"it has no value for {', '.join(missing)}")
            return self.spec.space.parse({k: v for k, v in tuned.items() if k in self.spec.space})
        except SearchSpaceError as e:
            name = summary["TrainingJobName"]
            self._note(f"params-{name}", f"training job {name} is not mirrored: its hyperparameters do not fit the "
                                         f"space ({e}).")
            return None

    def _tail(self, mirror: _Mirror, events: TrialEvents) -> None:
        if mirror.tail is None or not self._tail_logs:
            return
        try:
            lines = mirror.tail.read()
        except Exception as e:
            if not _transient(e):
                self._tail_logs = False
                self._note("logs", f"intermediate values are not shown live: the job's CloudWatch logs cannot be "
                                   f"read ({explain_client_error(e, self.opts)}).")
            return
        regex = re.compile(self.spec.objective.pattern)
        for line in lines:
            parsed = parse_log_line(line, regex)
            if parsed is None:
                continue
            kind, value = parsed
            if kind == "objective":
                mirror.objective = value
            else:  # AMT decides early stopping itself: the pruner's answer does not matter
                events.on_report(mirror.key, *value)

    def _finish(self, mirror: _Mirror, summary: dict[str, Any], events: TrialEvents) -> None:
        try:
            desc = self.clients.sagemaker.describe_training_job(TrainingJobName=mirror.name)
        except Exception as e:
            if error_code(e) not in ("ValidationException", "ResourceNotFound"):
                raise
            desc = {k: summary.get(k) for k in ("TrainingJobName", "TrainingJobArn", "TrainingJobStatus",
                                                 "FailureReason")}  # gone already: what the listing says
        attrs = describe_outcome_attrs(desc, self.opts)
        attrs.update(tuning_job=self.tuning_job, objective_status=summary.get("ObjectiveStatus"))
        phases = phase_seconds(desc)
        startup = sum(v for k, v in phases.items() if k in STARTUP_PHASES) if phases else None
        metric = self.spec.objective.metric
        metrics = {m["MetricName"]: float(m["Value"]) for m in desc.get("FinalMetricDataList") or []
                   if m.get("MetricName") not in (metric, INTERMEDIATE_METRIC)}
        final = (summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
        value = final if final is not None else final_metric(desc, metric)
        value = value if value is not None else mirror.objective
        outcome = TrialOutcome(mirror.key, "failed", value=value, startup_s=startup, run_s=phases.get("Training"),
                               metrics=metrics, attrs={"sagemaker": attrs, "cost_usd": attrs["cost_usd"]})
        status = desc["TrainingJobStatus"]
        if status == "Completed" and value is not None:
            outcome.state = "complete"
        elif status == "Completed":
            outcome.error = (f"the objective metric {metric!r} was not found in the training job's log "
                             f"(regex {self.spec.objective.pattern!r})")
        elif status == "Stopped" and (self._stopping or self._tuning_status() in ("Stopping", "Stopped")):
            outcome.interrupted, outcome.error = True, "interrupted: the tuning job was stopped"
        elif status == "Stopped":
            outcome.state = "pruned"  # AMT's early stopping
        else:
            outcome.error = f"the training job failed: {desc.get('FailureReason') or desc.get('SecondaryStatus')}"
        mirror.finished, mirror.tail = True, None
        mirror.billable_s, mirror.cost_usd = float(attrs.get("billable_s") or 0), attrs["cost_usd"]
        events.on_finish(outcome)

    def _tuning_status(self) -> str | None:
        return None if self.last is None else self.last.get("HyperParameterTuningJobStatus")

    def done(self) -> tuple[str, str] | None:
        """None while the tuning job runs or a mirrored trial is open; else ``(status, reason)``."""
        if self._detached:
            return ("stopped", f"stopped mirroring; the tuning job {self.tuning_job} goes on in SageMaker")
        status = self._tuning_status()
        if status not in _TUNING_DONE or self.running():
            return None
        n = len(self.mirrors) + len(self.adopted)
        if status == "Completed":
            best = (self.last or {}).get("BestTrainingJob") or {}
            value = (best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
            text = f"; best: {best['TrainingJobName']}" if best.get("TrainingJobName") else ""
            text += f" ({self.spec.objective.metric}={value:.6g})" if value is not None else ""
            return ("completed", f"the SageMaker tuning job {self.tuning_job} completed after {n} training jobs{text}")
        if status == "Stopped":
            return ("stopped", f"the SageMaker tuning job {self.tuning_job} was stopped after {n} training jobs")
        reason = (self.last or {}).get("FailureReason") or f"its status is {status}"
        return ("failed", f"the SageMaker tuning job {self.tuning_job} failed: {reason}")

    # -- stopping --------------------------------------------------------------------------------
    def cancel_all(self, reason: str) -> list[TrialOutcome]:
        """Stop the tuning job (once; its stopped trials arrive through :meth:`poll`). A mirrored
        job (``attach``) is not stopped: mirroring ends and its open trials are returned interrupted."""
        self._stopping = True
        if self.opts.attach:
            self._detached = True
            open_ = [m for m in self.mirrors.values() if not m.finished]
            for m in open_:
                m.finished = True
            return [TrialOutcome(m.key, "failed", error=f"{reason} (mirroring ended; {m.name} runs on)",
                                 interrupted=True) for m in open_]
        if self._stop_sent or self.clients is None or self._tuning_status() in _TUNING_DONE:
            return []
        if self._now() < self._stop_retry_at:
            return []
        try:
            self.clients.sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=self.tuning_job)
            self._stop_sent = True
            self._next_poll = 0.0  # see the Stopping status soon
        except Exception as e:  # noqa: BLE001 - never raise from a stop; poll reports what is wrong
            if _transient(e):
                self._stop_retry_at = self._now() + self.opts.poll_s
                return []
            self._stop_sent = True
            if error_code(e) not in ("ValidationException", "ResourceNotFound"):  # already finished
                self._pending_notes.append(("stop", f"could not stop the tuning job {self.tuning_job}: "
                                                    f"{explain_client_error(e, self.opts)}"))
        return []

    def close(self) -> None:
        """Nothing to release: AMT owns its instances (a still-running tuning job goes on)."""
        for m in self.mirrors.values():
            m.tail = None
        if self._owns_clients and self.clients is not None and self.clients.sim is not None:
            self.clients.sim.close()  # a dry run: stop the simulated containers, remove their files

    def summary(self) -> dict[str, Any]:
        best = (self.last or {}).get("BestTrainingJob") or {}
        finished = [m for m in self.mirrors.values() if m.finished]
        costs = [m.cost_usd for m in finished if m.cost_usd is not None]
        return {
            "kind": "amt",
            "tuning_job": self.tuning_job,
            "arn": (self.last or {}).get("HyperParameterTuningJobArn"),
            "status": self._tuning_status(),
            "best_training_job": best.get("TrainingJobName"),
            "training_jobs": len(self.mirrors) + len(self.adopted),
            "billable_s": sum(m.billable_s for m in finished),
            "cost_usd": round(sum(costs), 6) if costs else None,
        }

    # -- helpers ------------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.clients.clock.now() if self.clients is not None else 0.0

    def _note(self, key: str, text: str) -> None:
        if key in self._noted:
            return
        self._noted.add(key)
        note = getattr(self._events, "on_note", None)
        if note is not None:
            note(text)
        else:
            log.warning("%s", text)


def _transient(error: Exception) -> bool:
    """Throttling, a 5xx or a dropped connection: worth trying again later."""
    if error_code(error) in THROTTLING:
        return True
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import ReadTimeoutError
    except ImportError:
        return False
    return isinstance(error, (BotoConnectionError, ReadTimeoutError))


# -- mirroring a tuning job made elsewhere -----------------------------------------------------------
def attach_spec(tuning_job_name: str, *, region: str | None = None, profile: str | None = None,
                name: str | None = None, simulate: dict[str, Any] | None = None,
                clients: _aws.Clients | None = None) -> TuningSpec:
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
    clients = clients or _aws.make_clients(opts)
    try:
        desc = clients.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_name)
    except Exception as e:
        raise BackendError(f"cannot read tuning job {tuning_job_name!r}: {explain_client_error(e, opts)}") from None
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
    space = SearchSpace.from_sagemaker(config.get("ParameterRanges") or {})
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
        "inputs": {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                   for c in definition.get("InputDataConfig") or [] if "S3DataSource" in c.get("DataSource", {})},
        "subnets": vpc.get("Subnets"),
        "security_group_ids": vpc.get("SecurityGroupIds"),
        "enable_network_isolation": definition.get("EnableNetworkIsolation"),
        "encrypt_inter_container_traffic": definition.get("EnableInterContainerTrafficEncryption"),
        "spot": definition.get("EnableManagedSpotTraining"),
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
