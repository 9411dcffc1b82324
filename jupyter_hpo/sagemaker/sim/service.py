"""The simulated SageMaker: one object that answers real boto3 clients (the botocore hook).

An in-process simulation of SageMaker training and tuning jobs, CloudWatch Logs and a little of S3.

``SimulatedSageMaker`` answers calls made through real boto3 clients. It hooks botocore's ``before-call``
event the way ``botocore.stub.Stubber`` does, so botocore still validates every request against the service
model, and it checks every response it produces against the operation's output shape. Nothing is sent over
the network.

State advances lazily: every call (and :meth:`SimulatedSageMaker.warm_pools`) first processes the scheduled
events up to ``clock.now()`` in time order (:mod:`.clock`). Each service is a module of this package:
training jobs (:mod:`.training`), warm pools (:mod:`.pools`), what runs in a job (:mod:`.executor`),
tuning jobs (:mod:`.tuning`), CloudWatch Logs (:mod:`.logs`) and S3 (:mod:`.s3`).

Choices where the service's behaviour is not documented precisely:

- An unknown training job gives ``ValidationException: Requested resource not found.`` (Describe, Stop and
  Update); an unknown tuning job gives the modelled ``ResourceNotFound``.
- A job with keep-alive whose pool is not kept (no quota left, or stopped before its instances started)
  shows ``WarmPoolStatus.Status == "Terminated"`` with 0 retained seconds.
- ``MaxRuntimeInSeconds`` counts from ``TrainingStartTime`` (the start of ``Downloading``).
- ``UpdateTrainingJob`` with a new keep-alive restarts the pool's countdown from the update.
- Tuning jobs drop ``KeepAlivePeriodInSeconds`` from their trials, so trials neither keep nor reuse pools.
  Trials are launched only while ``instance_limit`` allows; the target objective value stops new launches
  and the job completes when its running trials end. ``BestObjectiveNotImproving`` and convergence are
  not simulated. Every strategy other than Grid samples at random.
- A pool lives at most 7 days; the quota counts pools (Available or InUse), ``instance_limit`` counts the
  instances of running jobs and Available pools.
- The log group exists once the first job reaches ``Training``; S3 buckets exist once they hold an object.
- A spot job bills ``(1 - spot_savings)`` of its training seconds; an interrupted one shows ``Interrupted``
  and ends ``Stopped`` with ``MaxWaitTimeExceeded`` (the documented statuses; which of Stopped/Failed AWS
  reports is not documented).
- A job with ``EnableNetworkIsolation`` cannot reach S3 from its container: a ``sagemaker_submit_directory``
  in S3 fails the job (AlgorithmError) when training would start; input channels still arrive (the service
  fetches them), so code shipped as a channel and pointed at under ``/opt/ml/input/data`` runs.
- Botocore retries happen in the HTTP layer that the hook replaces, so injected errors are never retried.

Requests the simulation cannot answer faithfully (other operations, AutoParameters, several training-job
definitions, an S3 Delimiter...) raise ``NotImplementedError``; a response of its own that breaks the service
model raises :class:`SimulationError`.
"""

from __future__ import annotations

import copy
import functools
import os
import random
import shutil
import tempfile
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from jupyter_hpo.sagemaker.sim.base import ApiError, SimulationError, service_model
from jupyter_hpo.sagemaker.sim.clock import Clock, ScaledClock, VirtualClock
from jupyter_hpo.sagemaker.sim.executor import Executors, MetricFn, default_metric, terminate
from jupyter_hpo.sagemaker.sim.logs import LogStore
from jupyter_hpo.sagemaker.sim.pools import Pool, WarmPools
from jupyter_hpo.sagemaker.sim.s3 import S3Store
from jupyter_hpo.sagemaker.sim.training import TrainingJob, TrainingJobs
from jupyter_hpo.sagemaker.sim.tuning import TuningJob, TuningJobs

__all__ = ["SimulatedSageMaker"]


_PARAMS_KEY = "jupyter_hpo.sim"
_SERVICES = ("sagemaker", "logs", "s3")
_NOWHERE = "http://127.0.0.1:9"  # the endpoint of clients made here, should anything ever get past the hook

_session_lock = threading.Lock()  # boto3 sessions are not thread-safe


@functools.cache
def _dummy_session() -> boto3.session.Session:
    """One session with dummy credentials for every simulated client: it loads each service model only once."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """``before-parameter-build`` hook: keep the call's parameters for the ``before-call`` hook."""
    context[_PARAMS_KEY] = params


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed["ResponseMetadata"] = {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": status, "HTTPHeaders": {},
                                  "RetryAttempts": 0}
    return AWSResponse(None, status, {}, None), parsed


def _check_response(model: Any, result: dict[str, Any]) -> None:
    """Raise SimulationError unless ``result`` fits the operation's output shape."""
    shape = model.output_shape
    if shape is None:
        if result:
            raise SimulationError(f"{model.name} has no output, but the simulation returned {sorted(result)}")
        return
    report = ParamValidator().validate(result, shape)
    if report.has_errors():
        raise SimulationError(f"the simulation produced an invalid {model.name} response:\n{report.generate_report()}")


class SimulatedSageMaker(TrainingJobs, WarmPools, Executors, TuningJobs):
    """SageMaker training and tuning jobs, warm pools, CloudWatch Logs and S3, simulated behind boto3 clients.

    Args:
        clock: the time source; a VirtualClock by default (a real-time ScaledClock with ``executor="script"``).
        region: region of the clients and ARNs.
        account: account id in ARNs.
        cold_startup_s: length of ``Starting`` when a job launches new instances.
        warm_startup_s: length of ``Starting`` when a job takes an Available warm pool.
        download_s: length of ``Downloading``.
        image_pull_s: the training image's download, after ``TrainingStartTime`` and so billed: a ``Training``
            transition "Downloading the training image" before the training runs, on new instances and on a
            warm pool whose last job ran another image (a pool that ran the same image has it on its disk: an
            assumption of this model, which AWS's documentation neither states nor denies).
        upload_s: length of ``Uploading``.
        training_s: length of ``Training`` for the "model" executor, or ``fn(rng, hyperparameters)``.
        metric_fn: ``fn(rng, hyperparameters) -> float | None``, the job's metric for the "model" executor;
            None writes no metric lines, an exception fails the job with an AlgorithmError.
        executor: "model" (synthesised log lines) or "script" (runs the job's entry script for real).
        warm_pool_quota: most warm pools (Available or InUse) per instance type; None for no limit.
        instance_limit: most instances per instance type at once, warm pools included; None for no limit.
        s3_root: directory backing the simulated S3; a temporary one by default.
        seed: seeds the per-job random generators (each job's is derived from the seed and its name).
        spot_interruptions: how many spot jobs (the first to reach ``Training``) lose their instances
            one second into training; capacity never comes back, so each ends at its
            ``MaxWaitTimeInSeconds`` as ``Stopped``/``MaxWaitTimeExceeded``.
        spot_savings: the fraction of a spot job's training time that is not billed.
        kms_required_buckets: buckets whose policy denies a PutObject without SSE-KMS (AccessDenied).
        amt_reuse: whether a tuning job's next trial takes the instances its finished trials leave (AMT's own
            reuse, on by default since August 2022): a warm start-up and no image pull.

    Raises:
        ValueError: for a negative duration or limit, an unknown executor, or "script" with a VirtualClock.

    Example::

        sim = SimulatedSageMaker(clock=VirtualClock())
        sm = sim.client("sagemaker")
        sm.create_training_job(TrainingJobName="a", RoleArn="arn:aws:iam::123456789012:role/r", ...)
        sim.clock.sleep(600)
        sm.describe_training_job(TrainingJobName="a")["TrainingJobStatus"]  # "Completed"
    """

    def __init__(self, *, clock: Clock | None = None, region: str = "us-east-1", account: str = "123456789012",
                 cold_startup_s: float = 240.0, warm_startup_s: float = 5.0, download_s: float = 10.0,
                 upload_s: float = 5.0, image_pull_s: float = 0.0, training_s: float | Callable[[random.Random, dict[str, str]], float] = 60.0,
                 metric_fn: MetricFn | None = None, executor: str = "model", warm_pool_quota: int | None = None,
                 instance_limit: int | None = None, s3_root: str | os.PathLike[str] | None = None,
                 seed: int = 0, spot_interruptions: int | None = 0, spot_savings: float = 0.7,
                 kms_required_buckets: tuple[str, ...] | list[str] = (), amt_reuse: bool = True) -> None:
        limits = {"cold_startup_s": cold_startup_s, "warm_startup_s": warm_startup_s, "download_s": download_s,
                  "upload_s": upload_s, "image_pull_s": image_pull_s, "warm_pool_quota": warm_pool_quota, "instance_limit": instance_limit,
                  "training_s": None if callable(training_s) else training_s}
        for name, value in limits.items():
            if value is not None and value < 0:
                raise ValueError(f"`{name}` must be >= 0, but got {value}.")
        if executor not in ("model", "script"):
            raise ValueError(f"`executor` must be 'model' or 'script', but got {executor!r}.")
        if executor == "script" and isinstance(clock, VirtualClock):
            raise ValueError("`executor='script'` runs real processes and needs a clock that follows real time "
                             "(ScaledClock), but got a VirtualClock.")
        self.clock: Clock = clock or (ScaledClock() if executor == "script" else VirtualClock())
        self.region, self.account = region, account
        self._startup = {"cold": cold_startup_s, "warm": warm_startup_s}
        self._download_s, self._upload_s, self._training_s = download_s, upload_s, training_s
        self._image_pull_s = image_pull_s
        self._amt_reuse = bool(amt_reuse)
        self._metric_fn: MetricFn = metric_fn or default_metric
        self._executor, self._quota, self._instance_limit, self._seed = executor, warm_pool_quota, instance_limit, seed
        self._spot_interruptions, self._spot_savings = int(spot_interruptions or 0), float(spot_savings)
        self._tmp = Path(tempfile.mkdtemp(prefix="jupyter-hpo-sim-"))
        # removes the temporary files on close(), on garbage collection or at exit, whichever comes first
        self._remove_tmp = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        self._s3 = S3Store(Path(s3_root) if s3_root is not None else self._tmp / "s3", tuple(kms_required_buckets))
        self._logs = LogStore(region, account)
        self._lock = threading.RLock()
        super().__init__()  # the event queue
        self._jobs: dict[str, TrainingJob] = {}
        self._tuning: dict[str, TuningJob] = {}
        self._pools: list[Pool] = []
        self._faults: dict[str, deque[tuple[str, str, int]]] = {}
        #: Every (OperationName, params) the simulation received, in order (a PutObject Body as bytes).
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._handlers: dict[str, dict[str, Callable[[float, dict[str, Any]], dict[str, Any]]]] = {
            "sagemaker": {
                "CreateTrainingJob": self._create_training_job, "DescribeTrainingJob": self._describe_training_job,
                "ListTrainingJobs": self._list_training_jobs, "StopTrainingJob": self._stop_training_job,
                "UpdateTrainingJob": self._update_training_job,
                "CreateHyperParameterTuningJob": self._create_tuning_job,
                "DescribeHyperParameterTuningJob": self._describe_tuning_job,
                "ListTrainingJobsForHyperParameterTuningJob": self._list_trials,
                "StopHyperParameterTuningJob": self._stop_tuning_job,
                "ListHyperParameterTuningJobs": self._list_tuning_jobs},
            "logs": {"DescribeLogStreams": self._logs.describe_log_streams, "GetLogEvents": self._logs.get_log_events,
                     "FilterLogEvents": self._logs.filter_log_events},
            "s3": {"PutObject": self._s3.put_object, "GetObject": self._s3.get_object,
                   "HeadObject": self._s3.head_object, "ListObjectsV2": self._s3.list_objects_v2},
        }

    # -- public surface ----------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A real boto3 client of ``service`` ("sagemaker", "logs" or "s3") answered by this simulation.

        It has dummy credentials, ``self.region`` and an unreachable local endpoint.

        Raises:
            ValueError: for any other service.
        """
        if service not in _SERVICES:
            raise ValueError(f"`service` must be one of {', '.join(_SERVICES)}, but got {service!r}.")
        with _session_lock:
            client = _dummy_session().client(service, region_name=self.region, endpoint_url=_NOWHERE)
        return self.attach(client)

    def attach(self, client: Any) -> Any:
        """Route every call of an existing sagemaker, logs or s3 boto3 ``client`` to this simulation.

        A client answers to the first simulation it was attached to; attaching it again does nothing.

        Returns:
            The same client.

        Raises:
            ValueError: for a client of any other service.
        """
        service_model = client.meta.service_model
        if service_model.service_name not in _SERVICES:
            raise ValueError(f"`client` must be a client of {', '.join(_SERVICES)}, but got a "
                             f"{service_model.service_name!r} client.")
        service_id = service_model.service_id.hyphenize()
        client.meta.events.register(f"before-parameter-build.{service_id}", _remember_params,
                                    unique_id=f"{_PARAMS_KEY}.params")
        client.meta.events.register(f"before-call.{service_id}", self._on_call, unique_id=f"{_PARAMS_KEY}.call")
        return client

    def inject(self, operation: str, code: str, message: str = "", *, status: int = 400, times: int = 1) -> None:
        """Make the next ``times`` calls of ``operation`` fail with error ``code`` and HTTP ``status``.

        Raises:
            ValueError: for an operation none of the three services has, ``times < 1`` or a status below 400.
        """
        known = {op for service in _SERVICES for op in service_model(service).operation_names}
        if operation not in known:
            raise ValueError(f"`operation` must be an operation of {', '.join(_SERVICES)}, but got {operation!r}.")
        if times < 1 or not 400 <= status <= 599:
            raise ValueError(f"`times` must be >= 1 and `status` in 400..599, but got times={times}, status={status}.")
        with self._lock:
            fault = (code, message or f"Simulated {code}.", status)
            self._faults.setdefault(operation, deque()).extend([fault] * times)

    def warm_pools(self) -> list[dict[str, Any]]:
        """The warm pools so far, oldest first, terminated ones included.

        Returns:
            One dict per pool: ``id``, ``instance_type``, ``status`` (InUse, Available or Terminated), ``job``
            (the job that holds or last held it) and ``expires_at`` (clock seconds; None while InUse).
        """
        with self._lock:
            self._advance(self.clock.now())
            return [{"id": p.id, "instance_type": p.instance_type, "status": p.status, "job": p.job,
                     "expires_at": p.expires_at} for p in self._pools]

    def close(self) -> None:
        """Kill the scripts still running and delete the simulation's temporary files (S3 included if default).

        Without a call the files go when the simulation is garbage-collected or the interpreter exits.
        """
        with self._lock:
            runs = [job.run for job in self._jobs.values() if job.run is not None]
        for run in runs:
            terminate(run.proc, wait=True)
        self._remove_tmp()

    def __enter__(self) -> SimulatedSageMaker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- dispatch ------------------------------------------------------------------------------------------

    def _on_call(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        """``before-call`` hook: answer the call, which botocore has already validated, without any HTTP."""
        service = model.service_model.service_name
        params = dict(context.get(_PARAMS_KEY, {}))
        if hasattr(params.get("Body"), "read"):
            params["Body"] = params["Body"].read()
        elif isinstance(params.get("Body"), str):
            params["Body"] = params["Body"].encode()
        with self._lock:
            self.calls.append((model.name, copy.deepcopy(params)))
            now = self.clock.now()
            self._advance(now)
            handler = self._handlers[service].get(model.name)
            try:
                if self._faults.get(model.name):
                    code, message, status = self._faults[model.name].popleft()
                    raise ApiError(code, message, status)
                if handler is None:
                    raise NotImplementedError(f"the simulation does not implement {service} {model.name}")
                result = handler(now, copy.deepcopy(params))
            except ApiError as err:
                return _response(err.status, {"Error": {"Code": err.code, "Message": err.message}})
        _check_response(model, result)
        return _response(200, result)
