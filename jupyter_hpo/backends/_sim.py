"""An in-process simulation of SageMaker training and tuning jobs, CloudWatch Logs and a little of S3.

``SimulatedSageMaker`` answers calls made through real boto3 clients. It hooks botocore's ``before-call``
event the way ``botocore.stub.Stubber`` does, so botocore still validates every request against the service
model, and it checks every response it produces against the operation's output shape. Nothing is sent over
the network.

State advances lazily: every call (and :meth:`SimulatedSageMaker.warm_pools`) first processes the scheduled
events up to ``clock.now()`` in time order. With a :class:`VirtualClock` time moves only on ``clock.sleep()``,
so hours of training and warm-pool keep-alive pass at once.

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
- Botocore retries happen in the HTTP layer that the hook replaces, so injected errors are never retried.

Requests the simulation cannot answer faithfully (other operations, AutoParameters, several training-job
definitions, an S3 Delimiter...) raise ``NotImplementedError``; a response of its own that breaks the service
model raises :class:`SimulationError`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import heapq
import io
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.utils import parse_to_aware_datetime
from botocore.validate import ParamValidator

__all__ = ["SimulatedSageMaker", "VirtualClock", "ScaledClock", "SimulationError", "LOG_GROUP"]

#: The log group SageMaker writes training-job logs to.
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_MAX_KEEP_ALIVE_S = 3600
_POOL_LIFETIME_S = 7 * 24 * 3600
_STOP_S = 3.0  # virtual seconds between Stopping and Stopped
_KILL_GRACE_S = 2.0  # real seconds between SIGTERM and SIGKILL
_INTERMEDIATE_LINES = 3
_SIMPLE_NAME = re.compile(r"[A-Za-z_]\w*\Z")
_PARAMS_KEY = "jupyter_hpo.sim"
_SERVICES = ("sagemaker", "logs", "s3")
_NOWHERE = "http://127.0.0.1:9"  # the endpoint of clients made here, should anything ever get past the hook
_RUNNING = ("InProgress", "Stopping")
_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped because it reached MaxRuntimeInSeconds",
}
_TRIAL_KEYS = ("RoleArn", "InputDataConfig", "VpcConfig", "OutputDataConfig", "StoppingCondition",
               "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining",
               "CheckpointConfig", "RetryStrategy", "Environment")

#: ``metric_fn(rng, hyperparameters)``: the job's metric, or None for no metric lines.
MetricFn = Callable[[random.Random, dict[str, str]], float | None]


class SimulationError(AssertionError):
    """Raised when the simulation produced a response that breaks the service model: a bug in the simulation."""


class Clock(Protocol):
    """What the simulation needs of a clock."""

    def now(self) -> float:
        """The current time in epoch seconds."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of clock time pass."""


class VirtualClock:
    """A clock that moves only when ``sleep`` is called: hours of simulated work pass at once.

    Example::

        clock = VirtualClock()
        clock.sleep(3600)  # returns at once; clock.now() is one hour later
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current virtual time in epoch seconds (2026-01-01 00:00 UTC by default at the start)."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` at once.

        Raises:
            ValueError: if ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"`seconds` must be >= 0, but got {seconds}.")
        self._now += seconds


class ScaledClock:
    """Real time, sped up: ``speed`` virtual seconds pass per real second (``speed=1`` is real time).

    Example::

        clock = ScaledClock(speed=60)
        clock.sleep(60)  # takes one real second
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"`speed` must be > 0, but got {speed}.")
        self.speed = float(speed)
        self._epoch = time.time()
        self._start = time.monotonic()

    def now(self) -> float:
        """The current virtual time in epoch seconds; it starts at the real time of construction."""
        return self._epoch + (time.monotonic() - self._start) * self.speed

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds / speed`` real seconds."""
        time.sleep(seconds / self.speed)


class _ApiError(Exception):
    """An error response of the simulated service; botocore raises it as the modelled exception, if any."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class _JobFailure(Exception):
    """A training job fails before its code runs; the message is the FailureReason."""


def _invalid(message: str) -> _ApiError:
    return _ApiError("ValidationException", message)


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _ms(t: float) -> int:
    return int(t * 1000)


def _epoch(value: Any) -> float:
    return parse_to_aware_datetime(value).timestamp()


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


_session_lock = threading.Lock()  # boto3 sessions are not thread-safe


@functools.cache
def _dummy_session() -> boto3.session.Session:
    """One session with dummy credentials for every simulated client: it loads each service model only once."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def _page(items: list[Any], token: str | None, limit: int,
          code: str = "ValidationException") -> tuple[list[Any], str | None]:
    """One page of ``items`` after the offset in ``token``, and the token of the next page (None at the end)."""
    start = 0
    if token:
        match = re.fullmatch(r"sim-(\d+)", token)
        if match is None:
            raise _ApiError(code, f"The pagination token {token!r} is invalid.")
        start = int(match.group(1))
    end = start + limit
    return items[start:end], (f"sim-{end}" if end < len(items) else None)


def _sort_and_page(items: list[Any], p: dict[str, Any], keys: dict[str, Callable[[Any], Any]],
                   default_sort: str) -> tuple[list[Any], str | None]:
    """Sort by ``SortBy``/``SortOrder`` (default Ascending) and page by ``NextToken``/``MaxResults`` (10)."""
    items = sorted(items, key=keys[p.get("SortBy", default_sort)], reverse=p.get("SortOrder") == "Descending")
    return _page(items, p.get("NextToken"), p.get("MaxResults", 10))


def _in_window(created: float, modified: float, p: dict[str, Any]) -> bool:
    """Whether the times pass the ``CreationTime*`` and ``LastModifiedTime*`` filters of a List call."""
    checks = [("CreationTimeAfter", created, 1), ("CreationTimeBefore", created, -1),
              ("LastModifiedTimeAfter", modified, 1), ("LastModifiedTimeBefore", modified, -1)]
    return all((t - _epoch(p[name])) * sign > 0 for name, t, sign in checks if name in p)


def _default_metric(rng: random.Random, hyperparameters: dict[str, str]) -> float:
    """A smooth score in about (0.55, 0.95) of the numeric hyperparameters, plus a little noise."""
    xs = []
    for value in hyperparameters.values():
        try:
            x = float(value)
        except ValueError:
            continue
        if math.isfinite(x):
            xs.append(x)
    s = sum(math.sin(math.log1p(abs(x))) for x in xs) / max(1, len(xs))
    return 0.75 + 0.2 * math.tanh(s) + rng.gauss(0.0, 0.005)


# ---------------------------------------------------------------------------------------------- logs and S3


@dataclass
class _LogEvent:
    timestamp: int  # ms
    message: str


@dataclass
class _Stream:
    name: str
    created: int  # ms
    events: list[_LogEvent] = field(default_factory=list)

    def append(self, t: float, message: str) -> None:
        self.events.append(_LogEvent(_ms(t), message))

    def truncate(self, t: float) -> None:
        """Forget the lines that were due after ``t`` (the job stopped then)."""
        self.events = [e for e in self.events if e.timestamp <= _ms(t)]

    def visible(self, now: float) -> list[_LogEvent]:
        return [e for e in self.events if e.timestamp <= _ms(now)]


class _LogStore:
    """The CloudWatch Logs side: the training-job log group, which exists once it has a stream."""

    def __init__(self, region: str, account: str) -> None:
        self.streams: dict[str, _Stream] = {}
        self._arn = f"arn:aws:logs:{region}:{account}:log-group:{LOG_GROUP}"

    def create_stream(self, name: str, t: float) -> _Stream:
        stream = self.streams[name] = _Stream(name, _ms(t))
        return stream

    def _check_group(self, p: dict[str, Any]) -> None:
        if ("logGroupName" in p) == ("logGroupIdentifier" in p):
            raise _ApiError("InvalidParameterException", "Specify exactly one of logGroupName and logGroupIdentifier.")
        group = p.get("logGroupName") or p["logGroupIdentifier"].split(":log-group:")[-1].removesuffix(":*")
        if group != LOG_GROUP or not self.streams:
            raise _ApiError("ResourceNotFoundException", "The specified log group does not exist.")

    def _stream(self, p: dict[str, Any]) -> _Stream:
        self._check_group(p)
        if p["logStreamName"] not in self.streams:
            raise _ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
        return self.streams[p["logStreamName"]]

    def describe_log_streams(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeLogStreams: prefix filter, ordering by name or last event, ``nextToken`` paging (limit 50)."""
        self._check_group(p)
        prefix, order = p.get("logStreamNamePrefix", ""), p.get("orderBy", "LogStreamName")
        if prefix and order == "LastEventTime":
            raise _ApiError("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = [s for s in self.streams.values() if s.name.startswith(prefix)]
        if order == "LogStreamName":
            streams.sort(key=lambda s: s.name, reverse=p.get("descending", False))
        else:
            streams.sort(key=lambda s: max([s.created] + [e.timestamp for e in s.visible(now)]),
                         reverse=p.get("descending", False))
        page, token = _page(streams, p.get("nextToken"), p.get("limit", 50), "InvalidParameterException")
        out: dict[str, Any] = {"logStreams": [self._describe(s, now) for s in page]}
        if token:
            out["nextToken"] = token
        return out

    def _describe(self, stream: _Stream, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"logStreamName": stream.name, "creationTime": stream.created, "storedBytes": 0,
                               "arn": f"{self._arn}:log-stream:{stream.name}"}
        events = stream.visible(now)
        if events:
            out.update(firstEventTimestamp=events[0].timestamp, lastEventTimestamp=events[-1].timestamp,
                       lastIngestionTime=events[-1].timestamp)
        return out

    def get_log_events(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """GetLogEvents with the service's token semantics.

        ``f/<n>`` reads forward from event n; ``b/<n>`` reads the events before n. Without a token the read
        starts at the head (``startFromHead``) or ends at the tail. A forward read that finds nothing new
        returns the token it was given.
        """
        start, end = p.get("startTime", 0), p.get("endTime", math.inf)
        events = [e for e in self._stream(p).visible(now) if start <= e.timestamp < end]
        limit, token = p.get("limit", 10_000), p.get("nextToken")
        if token:
            match = re.fullmatch(r"([fb])/(\d{56})", token)
            if match is None:
                raise _ApiError("InvalidParameterException", "The specified nextToken is invalid.")
            forward, index = match.group(1) == "f", int(match.group(2))
        else:
            forward, index = bool(p.get("startFromHead")), 0 if p.get("startFromHead") else len(events)
        lo, hi = (index, max(index, min(index + limit, len(events)))) if forward else (max(0, index - limit), index)
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.timestamp}
                           for e in events[lo:hi]],
                "nextForwardToken": f"f/{hi:056d}", "nextBackwardToken": f"b/{lo:056d}"}

    def filter_log_events(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """FilterLogEvents across streams; ``filterPattern`` is a list of terms that must all occur."""
        self._check_group(p)
        names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix", "")
        if names and prefix:
            raise _ApiError("InvalidParameterException", "Specify logStreamNames or logStreamNamePrefix, not both.")
        terms = [term.strip('"') for term in p.get("filterPattern", "").split()]
        start, end = p.get("startTime", 0), p.get("endTime", math.inf)
        rows = [(e, s, i) for s in self.streams.values() if s.name.startswith(prefix) and (not names or s.name in names)
                for i, e in enumerate(s.visible(now))
                if start <= e.timestamp < end and all(term in e.message for term in terms)]
        rows.sort(key=lambda row: (row[0].timestamp, row[1].name, row[2]))
        page, token = _page(rows, p.get("nextToken"), p.get("limit", 10_000), "InvalidParameterException")
        out: dict[str, Any] = {"events": [{"logStreamName": s.name, "timestamp": e.timestamp, "message": e.message,
                                           "ingestionTime": e.timestamp, "eventId": f"{s.name}:{i}"}
                                          for e, s, i in page]}
        if token:
            out["nextToken"] = token
        return out


def _parse_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if match is None:
        raise ValueError(f"an S3 URI must look like s3://bucket/key, but got {uri!r}.")
    return match.group(1), match.group(2)


class _S3Store:
    """A little of S3 on files: object ``key`` of ``bucket`` is the file ``root/bucket/key``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise NotImplementedError(f"the simulated S3 stores objects as files, so it cannot hold the key {key!r}")
        return self.root / bucket / Path(*parts)

    def read(self, bucket: str, key: str) -> bytes:
        """The object's bytes; raises the service's NoSuchKey error when it does not exist."""
        path = self.path(bucket, key)
        if not path.is_file():
            raise _ApiError("NoSuchKey", "The specified key does not exist.", 404)
        return path.read_bytes()

    def write(self, bucket: str, key: str, data: bytes) -> None:
        path = self.path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def download_prefix(self, uri: str, dest: Path) -> None:
        """Copy every object under the S3 prefix ``uri`` into ``dest``, keeping the path below the prefix."""
        bucket, prefix = _parse_s3_uri(uri)
        base = self.root / bucket
        for path in sorted(base.rglob("*")) if base.is_dir() else []:
            key = path.relative_to(base).as_posix()
            if path.is_file() and key.startswith(prefix):
                target = dest / (key[len(prefix):].lstrip("/") or path.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    @staticmethod
    def _meta(path: Path, data: bytes) -> dict[str, Any]:
        return {"ContentLength": len(data), "ETag": f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
                "LastModified": _dt(path.stat().st_mtime)}

    def put_object(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """PutObject; a bucket exists as soon as it holds an object."""
        self.write(p["Bucket"], p["Key"], p.get("Body", b""))
        return {"ETag": self._meta(self.path(p["Bucket"], p["Key"]), p.get("Body", b""))["ETag"]}

    def get_object(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """GetObject; a missing key is NoSuchKey (404)."""
        data = self.read(p["Bucket"], p["Key"])
        return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "binary/octet-stream",
                **self._meta(self.path(p["Bucket"], p["Key"]), data)}

    def head_object(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """HeadObject; a missing key is a bare 404, as the service sends no body for HEAD."""
        try:
            data = self.read(p["Bucket"], p["Key"])
        except _ApiError:
            raise _ApiError("404", "Not Found", 404) from None
        return {"ContentType": "binary/octet-stream", **self._meta(self.path(p["Bucket"], p["Key"]), data)}

    def list_objects_v2(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """ListObjectsV2 with Prefix, StartAfter, MaxKeys and ContinuationToken (no Delimiter)."""
        if p.get("Delimiter"):
            raise NotImplementedError("the simulated S3 does not support ListObjectsV2 with a Delimiter")
        base, prefix = self.root / p["Bucket"], p.get("Prefix", "")
        if not base.is_dir():
            raise _ApiError("NoSuchBucket", "The specified bucket does not exist.", 404)
        after = p.get("ContinuationToken") or p.get("StartAfter", "")
        keys = sorted(key for key in (f.relative_to(base).as_posix() for f in base.rglob("*") if f.is_file())
                      if key.startswith(prefix) and key > after)
        max_keys = p.get("MaxKeys", 1000)
        page = keys[:max_keys]
        enc = (lambda s: quote(s, safe="/")) if p.get("EncodingType") == "url" else str
        out: dict[str, Any] = {"IsTruncated": len(keys) > max_keys, "Name": p["Bucket"], "Prefix": enc(prefix),
                               "MaxKeys": max_keys, "KeyCount": len(page)}
        if page:
            out["Contents"] = []
            for key in page:
                path = self.path(p["Bucket"], key)
                meta = self._meta(path, path.read_bytes())
                out["Contents"].append({"Key": enc(key), "Size": meta["ContentLength"], "ETag": meta["ETag"],
                                        "LastModified": meta["LastModified"], "StorageClass": "STANDARD"})
        if len(keys) > max_keys:
            out["NextContinuationToken"] = page[-1]
        for name in ("ContinuationToken", "StartAfter", "EncodingType"):
            if name in p:
                out[name] = enc(p[name]) if name == "StartAfter" else p[name]
        return out


# ------------------------------------------------------------------------------------------- job state


@dataclass
class _Phase:
    """One SecondaryStatusTransitions entry."""

    status: str
    start: float
    message: str
    end: float | None = None

    def describe(self) -> dict[str, Any]:
        out = {"Status": self.status, "StartTime": _dt(self.start), "StatusMessage": self.message}
        if self.end is not None:
            out["EndTime"] = _dt(self.end)
        return out


@dataclass
class _Warm:
    """A job's WarmPoolStatus; retained billable time runs from ``since`` to ``until`` (or now)."""

    status: str
    since: float
    until: float | None = None
    reused_by: str | None = None

    def describe(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"Status": self.status}
        if self.status != "InUse":
            out["ResourceRetainedBillableTimeInSeconds"] = int((now if self.until is None else self.until) - self.since)
        if self.reused_by:
            out["ReusedByJob"] = self.reused_by
        return out


@dataclass
class _Pool:
    """A warm pool: the instances a finished job kept, with a cache directory that lives as long as they do."""

    id: str
    instance_type: str
    instance_count: int
    key: tuple[Any, ...]
    cache_dir: Path
    born: float
    warm: _Warm  # the WarmPoolStatus of the job that holds or last held the pool
    status: str = "Available"
    job: str = ""
    expires_at: float | None = None
    version: int = 0  # bumped on every change, so a stale expiry event does nothing


@dataclass
class _ScriptRun:
    proc: subprocess.Popen[str]
    command: str
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=10))


@dataclass
class _TrainingJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    tuning: str | None = None
    tuned: dict[str, str] = field(default_factory=dict)
    status: str = "InProgress"
    phases: list[_Phase] = field(default_factory=list)
    modified: float = 0.0
    training_start: float | None = None
    training_end: float | None = None
    failure: str | None = None
    gen: int = 0  # bumped when the job stops or ends, so its pending events do nothing
    pool: _Pool | None = None
    warm: _Warm | None = None
    cache_dir: Path | None = None
    stream: _Stream | None = None
    run: _ScriptRun | None = None

    @property
    def keep_alive(self) -> int:
        return int(self.request["ResourceConfig"].get("KeepAlivePeriodInSeconds", 0))

    @property
    def hyperparameters(self) -> dict[str, str]:
        return self.request.get("HyperParameters", {})

    def enter(self, t: float, status: str, message: str | None = None) -> None:
        """Close the current phase at ``t`` and open ``status``."""
        if self.phases:
            self.phases[-1].end = t
        self.phases.append(_Phase(status, t, message or _MESSAGES[status]))
        self.modified = t


@dataclass
class _TuningJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    rng: random.Random
    max_jobs: int
    grid: list[dict[str, str]] | None
    status: str = "InProgress"
    modified: float = 0.0
    end: float | None = None
    jobs: list[_TrainingJob] = field(default_factory=list)
    target_hit: bool = False

    @property
    def config(self) -> dict[str, Any]:
        return self.request["HyperParameterTuningJobConfig"]

    @property
    def objective(self) -> dict[str, str]:
        return self.config["HyperParameterTuningJobObjective"]

    def set_status(self, t: float, status: str) -> None:
        self.status, self.modified = status, t
        if status in ("Completed", "Stopped"):
            self.end = t


def _demand(rc: dict[str, Any]) -> dict[str, int]:
    """Instances per instance type that a ResourceConfig asks for."""
    if rc.get("InstanceGroups"):
        demand: Counter[str] = Counter()
        for group in rc["InstanceGroups"]:
            demand[group["InstanceType"]] += group["InstanceCount"]
        return dict(demand)
    return {rc["InstanceType"]: rc.get("InstanceCount", 1)}


def _pool_key(req: dict[str, Any]) -> tuple[Any, ...]:
    """The documented warm-pool matching criteria of a training-job request."""
    rc, vpc = req["ResourceConfig"], req.get("VpcConfig") or {}
    return (req["RoleArn"], rc.get("InstanceType"), rc.get("InstanceCount", 1), rc.get("VolumeSizeInGB"),
            rc.get("VolumeKmsKeyId"), tuple(sorted(vpc.get("SecurityGroupIds", []))),
            tuple(sorted(vpc.get("Subnets", []))), bool(req.get("EnableNetworkIsolation")),
            bool(req.get("EnableInterContainerTrafficEncryption")))


def _check_keep_alive(seconds: int) -> None:
    if seconds > _MAX_KEEP_ALIVE_S:
        raise _invalid(f"KeepAlivePeriodInSeconds must be at most {_MAX_KEEP_ALIVE_S}, but got {seconds}.")


def _check_metric_definitions(definitions: list[dict[str, str]]) -> None:
    for definition in definitions:
        try:
            _regex(definition["Regex"])
        except re.error as exc:
            raise _invalid(f"The Regex of metric {definition['Name']!r} is invalid: {exc}.") from None


def _check_ranges(ranges: dict[str, Any], strategy: str) -> None:
    """Server-side checks of ParameterRanges: numeric bounds, scaling and Grid's categorical-only rule."""
    if ranges.get("AutoParameters"):
        raise NotImplementedError("the simulation does not support AutoParameters")
    for kind, cast in (("IntegerParameterRanges", int), ("ContinuousParameterRanges", float)):
        for r in ranges.get(kind, []):
            try:
                lo, hi = cast(r["MinValue"]), cast(r["MaxValue"])
            except ValueError:
                raise _invalid(f"The bounds of {r['Name']} must be {cast.__name__}s.") from None
            scaling = r.get("ScalingType", "Auto")
            if lo > hi:
                raise _invalid(f"MinValue must be <= MaxValue for {r['Name']}, but got {lo} > {hi}.")
            if scaling == "Logarithmic" and lo <= 0:
                raise _invalid(f"Logarithmic scaling needs MinValue > 0 for {r['Name']}, but got {lo}.")
            if scaling == "ReverseLogarithmic" and not (kind.startswith("Continuous") and 0 <= lo and hi < 1):
                raise _invalid(f"ReverseLogarithmic scaling needs a continuous range in [0, 1) for {r['Name']}.")
            if strategy == "Grid":
                raise _invalid(f"The Grid strategy takes only categorical ranges, but {r['Name']} is not one.")


def _draw(rng: random.Random, lo: float, hi: float, scaling: str) -> float:
    if scaling == "Logarithmic":
        return math.exp(rng.uniform(math.log(lo), math.log(hi)))
    if scaling == "ReverseLogarithmic":
        return 1.0 - math.exp(rng.uniform(math.log(1.0 - hi), math.log(1.0 - lo)))
    return rng.uniform(lo, hi)


def _sample(rng: random.Random, ranges: dict[str, Any]) -> dict[str, str]:
    """Random values (as strings) for every range, honouring bounds and scaling."""
    out = {}
    for r in ranges.get("IntegerParameterRanges", []):
        lo, hi = int(r["MinValue"]), int(r["MaxValue"])
        out[r["Name"]] = str(min(hi, max(lo, round(_draw(rng, lo, hi, r.get("ScalingType", "Auto"))))))
    for r in ranges.get("ContinuousParameterRanges", []):
        lo, hi = float(r["MinValue"]), float(r["MaxValue"])
        out[r["Name"]] = repr(min(hi, max(lo, _draw(rng, lo, hi, r.get("ScalingType", "Auto")))))
    for r in ranges.get("CategoricalParameterRanges", []):
        out[r["Name"]] = rng.choice(r["Values"])
    return out


def _grid(ranges: dict[str, Any]) -> list[dict[str, str]]:
    cats = ranges.get("CategoricalParameterRanges", [])
    return [dict(zip([r["Name"] for r in cats], values)) for values in itertools.product(*[r["Values"] for r in cats])]


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


# ------------------------------------------------------------------------------------------- the simulator


class SimulatedSageMaker:
    """SageMaker training and tuning jobs, warm pools, CloudWatch Logs and S3, simulated behind boto3 clients.

    Args:
        clock: the time source; a VirtualClock by default (a real-time ScaledClock with ``executor="script"``).
        region: region of the clients and ARNs.
        account: account id in ARNs.
        cold_startup_s: length of ``Starting`` when a job launches new instances.
        warm_startup_s: length of ``Starting`` when a job takes an Available warm pool.
        download_s: length of ``Downloading``.
        upload_s: length of ``Uploading``.
        training_s: length of ``Training`` for the "model" executor, or ``fn(rng, hyperparameters)``.
        metric_fn: ``fn(rng, hyperparameters) -> float | None``, the job's metric for the "model" executor;
            None writes no metric lines, an exception fails the job with an AlgorithmError.
        executor: "model" (synthesised log lines) or "script" (runs the job's entry script for real).
        warm_pool_quota: most warm pools (Available or InUse) per instance type; None for no limit.
        instance_limit: most instances per instance type at once, warm pools included; None for no limit.
        s3_root: directory backing the simulated S3; a temporary one by default.
        seed: seeds the per-job random generators (each job's is derived from the seed and its name).

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
                 upload_s: float = 5.0, training_s: float | Callable[[random.Random, dict[str, str]], float] = 60.0,
                 metric_fn: MetricFn | None = None, executor: str = "model", warm_pool_quota: int | None = None,
                 instance_limit: int | None = None, s3_root: str | os.PathLike[str] | None = None,
                 seed: int = 0) -> None:
        limits = {"cold_startup_s": cold_startup_s, "warm_startup_s": warm_startup_s, "download_s": download_s,
                  "upload_s": upload_s, "warm_pool_quota": warm_pool_quota, "instance_limit": instance_limit,
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
        self._metric_fn: MetricFn = metric_fn or _default_metric
        self._executor, self._quota, self._instance_limit, self._seed = executor, warm_pool_quota, instance_limit, seed
        self._tmp = Path(tempfile.mkdtemp(prefix="jupyter-hpo-sim-"))
        # removes the temporary files on close(), on garbage collection or at exit, whichever comes first
        self._remove_tmp = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        self._s3 = _S3Store(Path(s3_root) if s3_root is not None else self._tmp / "s3")
        self._logs = _LogStore(region, account)
        self._lock = threading.RLock()
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._jobs: dict[str, _TrainingJob] = {}
        self._tuning: dict[str, _TuningJob] = {}
        self._pools: list[_Pool] = []
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
        known = {op for service in _SERVICES for op in _service_model(service).operation_names}
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
            _terminate(run.proc, wait=True)
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
                    raise _ApiError(code, message, status)
                if handler is None:
                    raise NotImplementedError(f"the simulation does not implement {service} {model.name}")
                result = handler(now, copy.deepcopy(params))
            except _ApiError as err:
                return _response(err.status, {"Error": {"Code": err.code, "Message": err.message}})
        _check_response(model, result)
        return _response(200, result)

    def _schedule(self, t: float, fn: Callable[[float], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), fn))

    def _at(self, t: float, job: _TrainingJob, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(t, job, *args)`` at ``t`` unless the job has stopped or ended by then."""
        gen = job.gen
        self._schedule(t, lambda now: fn(now, job, *args) if job.gen == gen else None)

    def _advance(self, now: float) -> None:
        while self._events and self._events[0][0] <= now:
            t, _, fn = heapq.heappop(self._events)
            fn(t)

    # -- training jobs: API --------------------------------------------------------------------------------

    def _job(self, name: str) -> _TrainingJob:
        job = self._jobs.get(name.lower())
        if job is None:
            raise _invalid("Requested resource not found.")
        return job

    def _create_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        if p["TrainingJobName"].lower() in self._jobs:
            raise _ApiError("ResourceInUse", f"Training job names must be unique within an AWS account and region, "
                                             f"and a training job with the name {p['TrainingJobName']} already exists.")
        if "AlgorithmSpecification" not in p or "ResourceConfig" not in p:
            raise _invalid("AlgorithmSpecification and ResourceConfig are required.")
        rc = p["ResourceConfig"]
        if not rc.get("InstanceType") and not rc.get("InstanceGroups"):
            raise _invalid("ResourceConfig needs InstanceType or InstanceGroups.")
        keep_alive = rc.get("KeepAlivePeriodInSeconds", 0)
        _check_keep_alive(keep_alive)
        if keep_alive and (p.get("EnableManagedSpotTraining") or rc.get("InstanceGroups")):
            raise _invalid("KeepAlivePeriodInSeconds is not supported with managed spot training or InstanceGroups.")
        _check_metric_definitions(p["AlgorithmSpecification"].get("MetricDefinitions", []))
        p.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86_400})
        pool = self._matching_pool(p)
        error = self._capacity_error(rc, pool)
        if error:
            raise _ApiError("ResourceLimitExceeded", error)
        return {"TrainingJobArn": self._launch(t, p, pool).arn}

    def _describe_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        members = _service_model("sagemaker").operation_model("DescribeTrainingJob").output_shape.members
        out = {k: copy.deepcopy(v) for k, v in job.request.items() if k in members}
        output_path = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        out.update(TrainingJobName=job.name, TrainingJobArn=job.arn, TrainingJobStatus=job.status,
                   SecondaryStatus=job.phases[-1].status, CreationTime=_dt(job.created),
                   LastModifiedTime=_dt(job.modified), SecondaryStatusTransitions=[ph.describe() for ph in job.phases],
                   ModelArtifacts={"S3ModelArtifacts": f"{output_path}/{job.name}/output/model.tar.gz"
                                   if job.status == "Completed" else ""})
        if job.tuning:
            out["TuningJobArn"] = self._tuning[job.tuning.lower()].arn
        if job.failure:
            out["FailureReason"] = job.failure
        if job.training_start is not None:
            out["TrainingStartTime"] = _dt(job.training_start)
        if job.training_start is not None and job.training_end is not None:
            seconds = max(1, round(job.training_end - job.training_start))
            out.update(TrainingEndTime=_dt(job.training_end), TrainingTimeInSeconds=seconds,
                       BillableTimeInSeconds=seconds)
        if job.warm:
            out["WarmPoolStatus"] = job.warm.describe(t)
        metrics = self._final_metrics(job, t)
        if metrics:
            out["FinalMetricDataList"] = [{"MetricName": name, "Value": value, "Timestamp": _dt(ts / 1000)}
                                          for name, (value, ts) in metrics.items()]
        return out

    def _summary(self, job: _TrainingJob, t: float) -> dict[str, Any]:
        out = {"TrainingJobName": job.name, "TrainingJobArn": job.arn, "CreationTime": _dt(job.created),
               "LastModifiedTime": _dt(job.modified), "TrainingJobStatus": job.status,
               "SecondaryStatus": job.phases[-1].status}
        if job.training_end is not None:
            out["TrainingEndTime"] = _dt(job.training_end)
        if job.warm:
            out["WarmPoolStatus"] = job.warm.describe(t)
        return out

    def _list_training_jobs(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        jobs = [j for j in self._jobs.values()
                if p.get("NameContains", "").lower() in j.name.lower()
                and p.get("StatusEquals", j.status) == j.status
                and ("WarmPoolStatusEquals" not in p or (j.warm and j.warm.status == p["WarmPoolStatusEquals"]))
                and "TrainingPlanArnEquals" not in p and _in_window(j.created, j.modified, p)]
        page, token = _sort_and_page(jobs, p, {"Name": lambda j: j.name, "CreationTime": lambda j: j.created,
                                               "Status": lambda j: j.status}, "CreationTime")
        return {"TrainingJobSummaries": [self._summary(j, t) for j in page], **({"NextToken": token} if token else {})}

    def _stop_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        if job.status != "InProgress":
            raise _invalid(f"The request was rejected because the training job is in status {job.status}.")
        self._stop_job(t, job)
        return {}

    def _update_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        other = sorted(set(p) - {"TrainingJobName", "ResourceConfig"})
        if other:
            raise NotImplementedError(f"the simulated UpdateTrainingJob supports only ResourceConfig, not {other}")
        if "ResourceConfig" not in p:
            raise _invalid("Specify at least one of ProfilerConfig, ResourceConfig and RemoteDebugConfig.")
        keep_alive = p["ResourceConfig"]["KeepAlivePeriodInSeconds"]
        _check_keep_alive(keep_alive)
        if job.pool is None or job.warm is None or job.warm.status != "Available":
            raise _invalid(f"KeepAlivePeriodInSeconds can be updated only while the warm pool of {job.name} is "
                           f"Available, but it is {job.warm.status if job.warm else 'absent'}.")
        job.request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = keep_alive
        job.modified = t
        if keep_alive == 0:
            self._terminate_pool(t, job.pool)
        else:
            self._arm_expiry(t, job.pool, keep_alive)
        return {"TrainingJobArn": job.arn}

    # -- training jobs: lifecycle ---------------------------------------------------------------------------

    def _launch(self, t: float, req: dict[str, Any], pool: _Pool | None, tuning: _TuningJob | None = None,
                tuned: dict[str, str] | None = None) -> _TrainingJob:
        """Create a job at ``t`` (on ``pool`` if given) and schedule its first phase change."""
        name = req["TrainingJobName"]
        job = _TrainingJob(name, f"arn:aws:sagemaker:{self.region}:{self.account}:training-job/{name.lower()}",
                           req, t, tuning=tuning.name if tuning else None, tuned=tuned or {}, modified=t)
        self._jobs[name.lower()] = job
        if pool is not None:
            self._take_pool(t, pool, job)
        elif job.keep_alive > 0:
            job.cache_dir = self._cache_dir(name)
        job.enter(t, "Starting", "Reusing the instances of a warm pool" if pool else None)
        self._at(t + self._startup["warm" if pool else "cold"], job, self._download)
        return job

    def _download(self, t: float, job: _TrainingJob) -> None:
        job.enter(t, "Downloading")
        job.training_start = t
        self._at(t + self._download_s, job, self._train)
        max_runtime = job.request["StoppingCondition"].get("MaxRuntimeInSeconds")
        if max_runtime:
            self._at(t + max_runtime, job, self._finish, "Stopped", "MaxRuntimeExceeded")

    def _train(self, t: float, job: _TrainingJob) -> None:
        job.enter(t, "Training")
        job.stream = stream = self._logs.create_stream(f"{job.name}/algo-1-{int(t)}", t)
        if self._executor == "script":
            self._run_script(t, job, stream)
        else:
            self._run_model(t, job, stream)

    def _training_done(self, t: float, job: _TrainingJob, failure: str | None) -> None:
        if job.status != "InProgress" or job.phases[-1].status != "Training":
            return
        if failure:
            self._finish(t, job, "Failed", failure=failure)
            return
        if job.run is not None:
            self._upload_model(job)
        job.enter(t, "Uploading")
        self._at(t + self._upload_s, job, self._finish, "Completed")

    def _stop_job(self, t: float, job: _TrainingJob) -> None:
        job.gen += 1
        job.status = "Stopping"
        job.enter(t, "Stopping")
        if job.stream:
            job.stream.truncate(t)
        if job.run:
            _terminate(job.run.proc)
        self._at(t + _STOP_S, job, self._finish, "Stopped")

    def _finish(self, t: float, job: _TrainingJob, status: str, secondary: str | None = None,
                failure: str | None = None) -> None:
        """End the job at ``t``: final phase, warm pool, log cut-off, and the tuning job told."""
        job.gen += 1
        job.enter(t, secondary or status)
        job.phases[-1].end = t
        job.status, job.failure = status, failure[:1024] if failure else None
        if job.training_start is not None:
            job.training_end = t
        if job.stream:
            job.stream.truncate(t)
        if job.run:
            _terminate(job.run.proc)
        self._settle_pool(t, job)
        if job.tuning:
            self._check_target(t, self._tuning[job.tuning.lower()], job)
        self._step_tuners(t)

    def _final_metrics(self, job: _TrainingJob, t: float) -> dict[str, tuple[float, int]]:
        """Last value (and its time in ms) of each MetricDefinitions regex over the log lines seen by ``t``."""
        definitions = job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        out: dict[str, tuple[float, int]] = {}
        for event in job.stream.visible(t) if job.stream and definitions else []:
            for definition in definitions:
                match = _regex(definition["Regex"]).search(event.message)
                if match:
                    try:
                        out[definition["Name"]] = (float(match.group(1) if match.groups() else match.group(0)),
                                                   event.timestamp)
                    except ValueError:
                        continue
        return out

    # -- warm pools ------------------------------------------------------------------------------------------

    def _matching_pool(self, req: dict[str, Any]) -> _Pool | None:
        if req["ResourceConfig"].get("KeepAlivePeriodInSeconds", 0) <= 0:
            return None
        key = _pool_key(req)
        pools = [pool for pool in self._pools if pool.status == "Available" and pool.key == key]
        return min(pools, key=lambda pool: pool.expires_at or 0.0, default=None)

    def _take_pool(self, t: float, pool: _Pool, job: _TrainingJob) -> None:
        pool.warm.status, pool.warm.until, pool.warm.reused_by = "Reused", t, job.name
        pool.status, pool.job, pool.expires_at = "InUse", job.name, None
        pool.version += 1
        job.pool, job.cache_dir = pool, pool.cache_dir
        job.warm = pool.warm = _Warm("InUse", t)

    def _settle_pool(self, t: float, job: _TrainingJob) -> None:
        """After a job ends: its pool becomes Available, or a new one is kept if it launched and quota allows."""
        if job.keep_alive <= 0 and job.pool is None:
            return
        rc = job.request["ResourceConfig"]
        if job.pool is None:
            kept = sum(1 for p in self._pools if p.instance_type == rc["InstanceType"] and p.status != "Terminated")
            if job.training_start is None or (self._quota is not None and kept >= self._quota):
                job.warm = _Warm("Terminated", t, until=t)
                return
        job.warm = _Warm("Available", t)
        if job.pool is None:
            job.pool = _Pool(f"pool-{len(self._pools) + 1:04d}", rc["InstanceType"], rc.get("InstanceCount", 1),
                             _pool_key(job.request), self._cache_dir(job.name), born=job.created, warm=job.warm)
            self._pools.append(job.pool)
        job.pool.status, job.pool.job, job.pool.warm = "Available", job.name, job.warm
        self._arm_expiry(t, job.pool, job.keep_alive)

    def _cache_dir(self, name: str) -> Path:
        """The warm-pool cache directory of the cluster that job ``name`` launched."""
        return self._tmp / "warm-pool-caches" / name

    def _arm_expiry(self, t: float, pool: _Pool, keep_alive: int) -> None:
        pool.version += 1
        version = pool.version
        pool.expires_at = min(t + keep_alive, pool.born + _POOL_LIFETIME_S)
        self._schedule(pool.expires_at,
                       lambda now: self._terminate_pool(now, pool) if pool.version == version else None)

    def _terminate_pool(self, t: float, pool: _Pool) -> None:
        pool.status, pool.expires_at = "Terminated", t
        pool.version += 1
        pool.warm.status, pool.warm.until = "Terminated", t
        self._step_tuners(t)

    def _capacity_error(self, rc: dict[str, Any], pool: _Pool | None) -> str | None:
        """Why ``rc`` would exceed ``instance_limit`` (a job taking ``pool`` needs no new instances), or None."""
        if self._instance_limit is None or pool is not None:
            return None
        for itype, wanted in _demand(rc).items():
            used = sum(_demand(j.request["ResourceConfig"]).get(itype, 0)
                       for j in self._jobs.values() if j.status in _RUNNING)
            used += sum(p.instance_count for p in self._pools if p.status == "Available" and p.instance_type == itype)
            if used + wanted > self._instance_limit:
                return (f"The account-level service limit '{itype} for training job usage' is {self._instance_limit} "
                        f"Instances, with current utilization of {used} Instances and a request delta of {wanted} "
                        f"Instances. Please use AWS Service Quotas to request an increase for this quota.")
        return None

    # -- executors ------------------------------------------------------------------------------------------

    def _run_model(self, t: float, job: _TrainingJob, stream: _Stream) -> None:
        """Synthesise the job's log: intermediate lines over the training phase, then one line per metric."""
        rng = random.Random(f"{self._seed}:{job.name}")
        hyperparameters = dict(job.hyperparameters)
        duration = self._training_s(rng, hyperparameters) if callable(self._training_s) else self._training_s
        end, value, failure = t + duration, None, None
        try:
            value = self._metric_fn(rng, hyperparameters)
        except Exception as exc:  # the user's metric_fn says the algorithm failed
            failure = f"AlgorithmError: {type(exc).__name__}: {exc}"
        if value is not None:
            for i in range(_INTERMEDIATE_LINES):
                stream.append(t + duration * (i + 1) / (_INTERMEDIATE_LINES + 1),
                                  f"intermediate step={i} value={value * (i + 1) / _INTERMEDIATE_LINES!r}")
            for definition in job.request["AlgorithmSpecification"].get("MetricDefinitions", []):
                if _SIMPLE_NAME.match(definition["Name"]):
                    stream.append(end, f"{definition['Name']}={float(value)!r}")
        if failure:
            stream.append(end, failure)
        self._at(end, job, self._training_done, failure)

    def _run_script(self, t: float, job: _TrainingJob, stream: _Stream) -> None:
        """Start the job's entry script; reader threads log its output and report its exit."""
        try:
            command, cwd, env = self._prepare_work(job)
        except _JobFailure as exc:
            self._finish(t, job, "Failed", failure=str(exc))
            return
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, bufsize=1, errors="replace")
        job.run = run = _ScriptRun(proc, " ".join(command[1:]))
        readers = [threading.Thread(target=self._pump, args=(stream, pipe, tail), daemon=True)
                   for pipe, tail in ((proc.stdout, None), (proc.stderr, run.stderr_tail))]
        for reader in readers:
            reader.start()
        threading.Thread(target=self._reap, args=(job, run, readers), daemon=True).start()

    def _pump(self, stream: _Stream, pipe: Any, tail: deque[str] | None) -> None:
        """Log each line of ``pipe`` at the time it arrives; keep the last ones in ``tail`` too."""
        with pipe:
            for line in pipe:
                with self._lock:
                    stream.append(self.clock.now(), line.rstrip("\n"))
                    if tail is not None:
                        tail.append(line.rstrip("\n"))

    def _reap(self, job: _TrainingJob, run: _ScriptRun, readers: list[threading.Thread]) -> None:
        code = run.proc.wait()
        for reader in readers:
            reader.join()
        with self._lock:
            failure = None
            if code != 0:
                head = f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nErrorMessage \""
                foot = f"\"\nCommand \"{run.command}\", exit code: {code}"
                failure = head + "\n".join(run.stderr_tail)[-(1024 - len(head) - len(foot)):] + foot
            self._at(self.clock.now(), job, self._training_done, failure)

    def _prepare_work(self, job: _TrainingJob) -> tuple[list[str], Path, dict[str, str]]:
        """Lay out the job's directory as the SageMaker training toolkit does; return command, cwd and env."""
        hps = job.hyperparameters
        if "sagemaker_program" not in hps or "sagemaker_submit_directory" not in hps:
            raise _JobFailure("AlgorithmError: the 'script' executor needs the hyperparameters sagemaker_program "
                              "and sagemaker_submit_directory.")
        work = self._tmp / "jobs" / job.name
        (work / "code").mkdir(parents=True)
        try:
            tarball = self._s3.read(*_parse_s3_uri(hps["sagemaker_submit_directory"]))
            with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
                tar.extractall(work / "code", filter="data")
        except (_ApiError, ValueError, tarfile.TarError) as exc:
            raise _JobFailure(f"AlgorithmError: cannot fetch {hps['sagemaker_submit_directory']}: {exc}") from None
        (work / "input" / "config").mkdir(parents=True)
        (work / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
        env = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        env.update(job.request.get("Environment", {}))
        channels = []
        for channel in job.request.get("InputDataConfig", []):
            name, dest = channel["ChannelName"], work / "input" / "data" / channel["ChannelName"]
            dest.mkdir(parents=True)
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
            if uri:
                self._s3.download_prefix(uri, dest)
            channels.append(name)
            env[f"SM_CHANNEL_{name.upper()}"] = str(dest)
        for sub in ("model", "output/data"):
            (work / sub).mkdir(parents=True)
        user = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
        env.update(PYTHONUNBUFFERED="1", SM_CHANNELS=json.dumps(channels), SM_HPS=json.dumps(user),
                   SM_INPUT_CONFIG_DIR=str(work / "input" / "config"), SM_MODEL_DIR=str(work / "model"),
                   SM_OUTPUT_DATA_DIR=str(work / "output" / "data"), SM_CURRENT_HOST="algo-1",
                   SM_HOSTS='["algo-1"]', TRAINING_JOB_NAME=job.name)
        if job.cache_dir is not None:
            job.cache_dir.mkdir(parents=True, exist_ok=True)
            env["SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"] = str(job.cache_dir)
        args = [arg for name, value in user.items() for arg in (f"--{name}", value)]
        return [sys.executable, hps["sagemaker_program"], *args], work / "code", env

    def _upload_model(self, job: _TrainingJob) -> None:
        """Put the script's model directory into S3 as ``<S3OutputPath>/<job>/output/model.tar.gz``."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted((self._tmp / "jobs" / job.name / "model").iterdir()):
                tar.add(path, arcname=path.name)
        bucket, prefix = _parse_s3_uri(job.request["OutputDataConfig"]["S3OutputPath"])
        self._s3.write(bucket, "/".join(filter(None, [prefix.strip("/"), job.name, "output", "model.tar.gz"])),
                       buffer.getvalue())

    # -- tuning jobs -----------------------------------------------------------------------------------------

    def _tuning_job(self, name: str) -> _TuningJob:
        tj = self._tuning.get(name.lower())
        if tj is None:
            raise _ApiError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")
        return tj

    def _create_tuning_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        name, config = p["HyperParameterTuningJobName"], p["HyperParameterTuningJobConfig"]
        if name.lower() in self._tuning:
            raise _ApiError("ResourceInUse", f"A hyperparameter tuning job with the name {name} already exists.")
        self._check_tuning_request(p)
        grid = _grid(config.get("ParameterRanges", {})) if config["Strategy"] == "Grid" else None
        limit = config["ResourceLimits"].get("MaxNumberOfTrainingJobs")
        seed = config.get("RandomSeed")
        tj = _TuningJob(name, f"arn:aws:sagemaker:{self.region}:{self.account}:hyper-parameter-tuning-job/"
                              f"{name.lower()}", p, t, random.Random(f"{self._seed}:{name}" if seed is None else seed),
                        limit if grid is None else min(limit or len(grid), len(grid)), grid, modified=t)
        self._tuning[name.lower()] = tj
        max_runtime = config["ResourceLimits"].get("MaxRuntimeInSeconds")
        if max_runtime:
            self._schedule(t + max_runtime,
                           lambda now: self._stop_tuning(now, tj) if tj.status == "InProgress" else None)
        self._step_tuner(t, tj)
        return {"HyperParameterTuningJobArn": tj.arn}

    def _check_tuning_request(self, p: dict[str, Any]) -> None:
        """The server-side checks of CreateHyperParameterTuningJob that botocore's model cannot express."""
        config = p["HyperParameterTuningJobConfig"]
        if "TrainingJobDefinitions" in p or "Autotune" in p:
            raise NotImplementedError("the simulation supports one TrainingJobDefinition and no Autotune")
        if "TrainingJobDefinition" not in p or "HyperParameterTuningJobObjective" not in config:
            raise _invalid("TrainingJobDefinition and HyperParameterTuningJobObjective are required.")
        if config["Strategy"] == "Hyperband" and config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise _invalid("TrainingJobEarlyStoppingType must be Off when the strategy is Hyperband.")
        if config["Strategy"] != "Grid" and "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]:
            raise _invalid(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {config['Strategy']} strategy.")
        _check_ranges(config.get("ParameterRanges", {}), config["Strategy"])
        definition = p["TrainingJobDefinition"]
        if not definition.get("ResourceConfig", {}).get("InstanceType") and \
                not definition.get("HyperParameterTuningResourceConfig", {}).get("InstanceType"):
            raise _invalid("The TrainingJobDefinition needs ResourceConfig.InstanceType.")
        _check_metric_definitions(definition["AlgorithmSpecification"].get("MetricDefinitions", []))
        for parent in p.get("WarmStartConfig", {}).get("ParentHyperParameterTuningJobs", []):
            if parent.get("HyperParameterTuningJobName", "").lower() not in self._tuning:
                raise _invalid(f"The parent tuning job {parent.get('HyperParameterTuningJobName')} does not exist.")

    def _trial_request(self, tj: _TuningJob, rc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The CreateTrainingJob request of the tuning job's next trial, and its tuned hyperparameters."""
        definition, index = tj.request["TrainingJobDefinition"], len(tj.jobs)
        tuned = tj.grid[index] if tj.grid is not None else _sample(tj.rng, tj.config.get("ParameterRanges", {}))
        algorithm = {k: v for k, v in definition["AlgorithmSpecification"].items()
                     if k in ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")}
        req = {k: copy.deepcopy(definition[k]) for k in _TRIAL_KEYS if k in definition}
        req.update(TrainingJobName=f"{tj.name}-{index + 1:03d}-{tj.rng.getrandbits(32):08x}",
                   HyperParameters={**definition.get("StaticHyperParameters", {}), **tuned},
                   AlgorithmSpecification=copy.deepcopy(algorithm), ResourceConfig=rc)
        return req, tuned

    def _step_tuner(self, t: float, tj: _TuningJob) -> None:
        """Launch trials while parallelism, budget and capacity allow; end the tuning job once nothing runs."""
        running = sum(1 for job in tj.jobs if job.status in _RUNNING)
        definition = tj.request["TrainingJobDefinition"]
        rc = {k: v for k, v in (definition.get("ResourceConfig") or definition["HyperParameterTuningResourceConfig"])
              .items() if k in ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")}
        while (tj.status == "InProgress" and not tj.target_hit and len(tj.jobs) < tj.max_jobs
               and running < tj.config["ResourceLimits"]["MaxParallelTrainingJobs"]
               and self._capacity_error(rc, None) is None):
            req, tuned = self._trial_request(tj, copy.deepcopy(rc))
            tj.jobs.append(self._launch(t, req, None, tj, tuned))
            running += 1
        if running == 0 and tj.status == "Stopping":
            tj.set_status(t, "Stopped")
        elif running == 0 and tj.status == "InProgress" and (tj.target_hit or len(tj.jobs) >= tj.max_jobs):
            tj.set_status(t, "Completed")

    def _step_tuners(self, t: float) -> None:
        for tj in self._tuning.values():
            self._step_tuner(t, tj)

    def _stop_tuning(self, t: float, tj: _TuningJob) -> None:
        tj.set_status(t, "Stopping")
        for job in tj.jobs:
            if job.status == "InProgress":
                self._stop_job(t, job)
        self._step_tuner(t, tj)

    def _check_target(self, t: float, tj: _TuningJob, job: _TrainingJob) -> None:
        target = tj.config.get("TuningJobCompletionCriteria", {}).get("TargetObjectiveMetricValue")
        value = self._objective(tj, job, t)
        if target is not None and value is not None:
            tj.target_hit |= value >= target if tj.objective["Type"] == "Maximize" else value <= target

    def _objective(self, tj: _TuningJob, job: _TrainingJob, t: float) -> float | None:
        if job.status not in ("Completed", "Stopped"):
            return None
        found = self._final_metrics(job, t).get(tj.objective["MetricName"])
        return found[0] if found else None

    def _trial_summary(self, tj: _TuningJob, job: _TrainingJob, t: float) -> dict[str, Any]:
        """A HyperParameterTrainingJobSummary."""
        value = self._objective(tj, job, t)
        out: dict[str, Any] = {
            "TrainingJobName": job.name, "TrainingJobArn": job.arn, "TuningJobName": tj.name,
            "CreationTime": _dt(job.created), "TrainingJobStatus": job.status, "TunedHyperParameters": dict(job.tuned),
            "ObjectiveStatus": "Pending" if job.status in _RUNNING else "Succeeded" if value is not None else "Failed"}
        if job.training_start is not None:
            out["TrainingStartTime"] = _dt(job.training_start)
        if job.training_end is not None:
            out["TrainingEndTime"] = _dt(job.training_end)
        if job.failure:
            out["FailureReason"] = job.failure
        if value is not None:
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": tj.objective["Type"], "MetricName": tj.objective["MetricName"], "Value": value}
        return out

    def _best(self, summaries: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        pick = max if kind == "Maximize" else min
        return pick(scored, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], default=None)

    def _counters(self, tj: _TuningJob, summaries: list[dict[str, Any]]) -> dict[str, Any]:
        status = Counter(job.status for job in tj.jobs)
        objective = Counter(s["ObjectiveStatus"] for s in summaries)
        return {"TrainingJobStatusCounters": {"Completed": status["Completed"],
                                              "InProgress": status["InProgress"] + status["Stopping"],
                                              "RetryableError": 0, "NonRetryableError": status["Failed"],
                                              "Stopped": status["Stopped"]},
                "ObjectiveStatusCounters": {k: objective[k] for k in ("Succeeded", "Pending", "Failed")}}

    def _describe_tuning_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        tj = self._tuning_job(p["HyperParameterTuningJobName"])
        summaries = [self._trial_summary(tj, job, t) for job in tj.jobs]
        out = {"HyperParameterTuningJobName": tj.name, "HyperParameterTuningJobArn": tj.arn,
               "HyperParameterTuningJobConfig": copy.deepcopy(tj.config), "HyperParameterTuningJobStatus": tj.status,
               "CreationTime": _dt(tj.created), "LastModifiedTime": _dt(tj.modified),
               "ConsumedResources": {"RuntimeInSeconds": int((tj.end or t) - tj.created)},
               **self._counters(tj, summaries)}
        for key in ("TrainingJobDefinition", "WarmStartConfig"):
            if key in tj.request:
                out[key] = copy.deepcopy(tj.request[key])
        if tj.end is not None:
            out["HyperParameterTuningEndTime"] = _dt(tj.end)
        best = self._best(summaries, tj.objective["Type"])
        if best:
            out["BestTrainingJob"] = best
        if "WarmStartConfig" in tj.request:
            parents = [self._tuning[parent["HyperParameterTuningJobName"].lower()]
                       for parent in tj.request["WarmStartConfig"]["ParentHyperParameterTuningJobs"]]
            overall = self._best(summaries + [self._trial_summary(parent, job, t) for parent in parents
                                              for job in parent.jobs], tj.objective["Type"])
            if overall:
                out["OverallBestTrainingJob"] = overall
        return out

    def _list_trials(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        tj = self._tuning_job(p["HyperParameterTuningJobName"])
        summaries = [self._trial_summary(tj, job, t) for job in tj.jobs
                     if p.get("StatusEquals", job.status) == job.status]
        if p.get("SortBy") == "FinalObjectiveMetricValue":
            summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        page, token = _sort_and_page(summaries, p, {
            "Name": lambda s: s["TrainingJobName"], "CreationTime": lambda s: s["CreationTime"],
            "Status": lambda s: s["TrainingJobStatus"],
            "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]}, "Name")
        return {"TrainingJobSummaries": page, **({"NextToken": token} if token else {})}

    def _stop_tuning_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        tj = self._tuning_job(p["HyperParameterTuningJobName"])
        if tj.status != "InProgress":
            raise _invalid(f"The hyperparameter tuning job {tj.name} is {tj.status}; only an InProgress job can be "
                           f"stopped.")
        self._stop_tuning(t, tj)
        return {}

    def _list_tuning_jobs(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        jobs = [tj for tj in self._tuning.values()
                if p.get("NameContains", "").lower() in tj.name.lower()
                and p.get("StatusEquals", tj.status) == tj.status and _in_window(tj.created, tj.modified, p)]
        page, token = _sort_and_page(jobs, p, {"Name": lambda tj: tj.name, "CreationTime": lambda tj: tj.created,
                                               "Status": lambda tj: tj.status}, "Name")
        summaries = []
        for tj in page:
            counters = self._counters(tj, [self._trial_summary(tj, job, t) for job in tj.jobs])
            summary = {"HyperParameterTuningJobName": tj.name, "HyperParameterTuningJobArn": tj.arn,
                       "HyperParameterTuningJobStatus": tj.status, "Strategy": tj.config["Strategy"],
                       "CreationTime": _dt(tj.created), "LastModifiedTime": _dt(tj.modified),
                       "ResourceLimits": copy.deepcopy(tj.config["ResourceLimits"]), **counters}
            if tj.end is not None:
                summary["HyperParameterTuningEndTime"] = _dt(tj.end)
            summaries.append(summary)
        return {"HyperParameterTuningJobSummaries": summaries, **({"NextToken": token} if token else {})}


def _terminate(proc: subprocess.Popen[str], wait: bool = False) -> None:
    """SIGTERM ``proc``, then SIGKILL it if it is still alive after a grace period (in the background unless
    ``wait``)."""
    if proc.poll() is not None:
        return
    proc.terminate()

    def reap() -> None:
        try:
            proc.wait(_KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    if wait:
        reap()
    else:
        threading.Thread(target=reap, daemon=True).start()
