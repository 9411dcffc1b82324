"""Training jobs, simulated: Create/Describe/List/Stop/UpdateTrainingJob and each job's life.

A job goes ``Starting`` (cold or warm start-up) -> ``Downloading`` (``TrainingStartTime``: billing and the
``MaxRuntimeInSeconds`` clock start) -> ``Training`` "Downloading the training image" (new instances only, when
the simulation has an ``image_pull_s``) -> ``Training`` (its log stream appears) -> ``Uploading`` ->
``Completed``; or ``Stopping`` -> ``Stopped``, ``MaxRuntimeExceeded`` or ``Failed``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.sagemaker.sim.base import ApiError, dt, in_window, invalid, regex, service_model, sort_and_page
from jupyter_hpo.sagemaker.sim.clock import EventQueue
from jupyter_hpo.sagemaker.sim.executor import terminate

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.sim.clock import Clock
    from jupyter_hpo.sagemaker.sim.executor import ScriptRun
    from jupyter_hpo.sagemaker.sim.logs import LogStore, Stream
    from jupyter_hpo.sagemaker.sim.pools import Pool, Warm
    from jupyter_hpo.sagemaker.sim.tuning import TuningJob

__all__ = [
    "MAX_KEEP_ALIVE_S",
    "RUNNING",
    "Phase",
    "TrainingJob",
    "TrainingJobs",
    "check_keep_alive",
    "check_metric_definitions",
]

#: The documented maximum of KeepAlivePeriodInSeconds.
MAX_KEEP_ALIVE_S = 3600
_STOP_S = 3.0  # virtual seconds between Stopping and Stopped

#: The statuses of a training job that holds instances.
RUNNING = ("InProgress", "Stopping")
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
    "Interrupted": "Spot capacity was reclaimed; waiting for spot instances",
    "MaxWaitTimeExceeded": "Training job stopped because it reached MaxWaitTimeInSeconds",
}

@dataclass
class Phase:
    """One SecondaryStatusTransitions entry."""

    status: str
    start: float
    message: str
    end: float | None = None

    def describe(self) -> dict[str, Any]:
        out = {"Status": self.status, "StartTime": dt(self.start), "StatusMessage": self.message}
        if self.end is not None:
            out["EndTime"] = dt(self.end)
        return out


@dataclass
class TrainingJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    tuning: str | None = None
    tuned: dict[str, str] = field(default_factory=dict)
    status: str = "InProgress"
    phases: list[Phase] = field(default_factory=list)
    modified: float = 0.0
    training_start: float | None = None
    training_end: float | None = None
    failure: str | None = None
    gen: int = 0  # bumped when the job stops or ends, so its pending events do nothing
    pool: Pool | None = None
    warm: Warm | None = None
    cache_dir: Path | None = None
    stream: Stream | None = None
    run: ScriptRun | None = None
    image_cached: bool = False  # its instances already hold its training image (a pool that last ran it)

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
        self.phases.append(Phase(status, t, message or _MESSAGES[status]))
        self.modified = t


def check_keep_alive(seconds: int) -> None:
    if seconds > MAX_KEEP_ALIVE_S:
        raise invalid(f"KeepAlivePeriodInSeconds must be at most {MAX_KEEP_ALIVE_S}, but got {seconds}.")


def check_metric_definitions(definitions: list[dict[str, str]]) -> None:
    for definition in definitions:
        try:
            regex(definition["Regex"])
        except re.error as exc:
            raise invalid(f"The Regex of metric {definition['Name']!r} is invalid: {exc}.") from None


class TrainingJobs(EventQueue):
    """The training-job operations and each job's life (mixed into :class:`SimulatedSageMaker`).

    A job's phases are scheduled events; stopping or ending a job bumps its ``gen`` so the events
    still queued for it do nothing. The warm-pool, executor and tuning mixins supply ``_take_pool``,
    ``_settle_pool``, ``_run_model``/``_run_script`` and ``_step_tuners``.
    """

    clock: Clock
    region: str
    account: str
    _jobs: dict[str, TrainingJob]
    _tuning: dict[str, TuningJob]
    _logs: LogStore
    _startup: dict[str, float]
    _download_s: float
    _image_pull_s: float
    _amt_reuse: bool
    _upload_s: float
    _executor: str
    _spot_interruptions: int
    _spot_savings: float

    def _at(self, t: float, job: TrainingJob, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(t, job, *args)`` at ``t`` unless the job has stopped or ended by then."""
        gen = job.gen
        self._schedule(t, lambda now: fn(now, job, *args) if job.gen == gen else None)

    # -- training jobs: API --------------------------------------------------------------------------------

    def _job(self, name: str) -> TrainingJob:
        job = self._jobs.get(name.lower())
        if job is None:
            raise invalid("Requested resource not found.")
        return job

    def _create_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        if p["TrainingJobName"].lower() in self._jobs:
            raise ApiError("ResourceInUse", f"Training job names must be unique within an AWS account and region, "
                                             f"and a training job with the name {p['TrainingJobName']} already exists.")
        if "AlgorithmSpecification" not in p or "ResourceConfig" not in p:
            raise invalid("AlgorithmSpecification and ResourceConfig are required.")
        rc = p["ResourceConfig"]
        if not rc.get("InstanceType") and not rc.get("InstanceGroups"):
            raise invalid("ResourceConfig needs InstanceType or InstanceGroups.")
        keep_alive = rc.get("KeepAlivePeriodInSeconds", 0)
        check_keep_alive(keep_alive)
        if keep_alive and (p.get("EnableManagedSpotTraining") or rc.get("InstanceGroups")):
            raise invalid("KeepAlivePeriodInSeconds is not supported with managed spot training or InstanceGroups.")
        check_metric_definitions(p["AlgorithmSpecification"].get("MetricDefinitions", []))
        p.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86_400})
        pool = self._matching_pool(p)
        error = self._capacity_error(rc, pool)
        if error:
            raise ApiError("ResourceLimitExceeded", error)
        return {"TrainingJobArn": self._launch(t, p, pool).arn}

    def _describe_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        members = service_model("sagemaker").operation_model("DescribeTrainingJob").output_shape.members
        out = {k: copy.deepcopy(v) for k, v in job.request.items() if k in members}
        output_path = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        out.update(TrainingJobName=job.name, TrainingJobArn=job.arn, TrainingJobStatus=job.status,
                   SecondaryStatus=job.phases[-1].status, CreationTime=dt(job.created),
                   LastModifiedTime=dt(job.modified), SecondaryStatusTransitions=[ph.describe() for ph in job.phases],
                   ModelArtifacts={"S3ModelArtifacts": f"{output_path}/{job.name}/output/model.tar.gz"
                                   if job.status == "Completed" else ""})
        if job.tuning:
            out["TuningJobArn"] = self._tuning[job.tuning.lower()].arn
        if job.failure:
            out["FailureReason"] = job.failure
        if job.training_start is not None:
            out["TrainingStartTime"] = dt(job.training_start)
        if job.training_start is not None and job.training_end is not None:
            seconds = max(1, round(job.training_end - job.training_start))
            billable = max(1, round(seconds * (1 - self._spot_savings))) if self._spot(job) else seconds
            out.update(TrainingEndTime=dt(job.training_end), TrainingTimeInSeconds=seconds,
                       BillableTimeInSeconds=billable)
        if job.warm:
            out["WarmPoolStatus"] = job.warm.describe(t)
        metrics = self._final_metrics(job, t)
        if metrics:
            out["FinalMetricDataList"] = [{"MetricName": name, "Value": value, "Timestamp": dt(ts / 1000)}
                                          for name, (value, ts) in metrics.items()]
        return out

    def _summary(self, job: TrainingJob, t: float) -> dict[str, Any]:
        out = {"TrainingJobName": job.name, "TrainingJobArn": job.arn, "CreationTime": dt(job.created),
               "LastModifiedTime": dt(job.modified), "TrainingJobStatus": job.status,
               "SecondaryStatus": job.phases[-1].status}
        if job.training_end is not None:
            out["TrainingEndTime"] = dt(job.training_end)
        if job.warm:
            out["WarmPoolStatus"] = job.warm.describe(t)
        return out

    def _list_training_jobs(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        jobs = [j for j in self._jobs.values()
                if p.get("NameContains", "").lower() in j.name.lower()
                and p.get("StatusEquals", j.status) == j.status
                and ("WarmPoolStatusEquals" not in p or (j.warm and j.warm.status == p["WarmPoolStatusEquals"]))
                and "TrainingPlanArnEquals" not in p and in_window(j.created, j.modified, p)]
        page, token = sort_and_page(jobs, p, {"Name": lambda j: j.name, "CreationTime": lambda j: j.created,
                                               "Status": lambda j: j.status}, "CreationTime")
        return {"TrainingJobSummaries": [self._summary(j, t) for j in page], **({"NextToken": token} if token else {})}

    def _stop_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        if job.status != "InProgress":
            raise invalid(f"The request was rejected because the training job is in status {job.status}.")
        self._stop_job(t, job)
        return {}

    def _update_training_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["TrainingJobName"])
        other = sorted(set(p) - {"TrainingJobName", "ResourceConfig"})
        if other:
            raise NotImplementedError(f"the simulated UpdateTrainingJob supports only ResourceConfig, not {other}")
        if "ResourceConfig" not in p:
            raise invalid("Specify at least one of ProfilerConfig, ResourceConfig and RemoteDebugConfig.")
        keep_alive = p["ResourceConfig"]["KeepAlivePeriodInSeconds"]
        check_keep_alive(keep_alive)
        if job.pool is None or job.warm is None or job.warm.status != "Available":
            raise invalid(f"KeepAlivePeriodInSeconds can be updated only while the warm pool of {job.name} is "
                           f"Available, but it is {job.warm.status if job.warm else 'absent'}.")
        job.request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = keep_alive
        job.modified = t
        if keep_alive == 0:
            self._terminate_pool(t, job.pool)
        else:
            self._arm_expiry(t, job.pool, keep_alive)
        return {"TrainingJobArn": job.arn}

    # -- training jobs: lifecycle ---------------------------------------------------------------------------

    def _launch(self, t: float, req: dict[str, Any], pool: Pool | None, tuning: TuningJob | None = None,
                tuned: dict[str, str] | None = None, reuse: bool = False) -> TrainingJob:
        """Create a job at ``t`` (on ``pool`` if given, or on instances its tuning job kept: ``reuse``) and
        schedule its first phase change."""
        name = req["TrainingJobName"]
        job = TrainingJob(name, f"arn:aws:sagemaker:{self.region}:{self.account}:training-job/{name.lower()}",
                           req, t, tuning=tuning.name if tuning else None, tuned=tuned or {}, modified=t)
        self._jobs[name.lower()] = job
        if pool is not None:
            last = self._jobs.get(pool.job.lower())
            image = req["AlgorithmSpecification"].get("TrainingImage")
            job.image_cached = last is not None and last.request["AlgorithmSpecification"].get("TrainingImage") == image
            self._take_pool(t, pool, job)
        elif job.keep_alive > 0:
            job.cache_dir = self._cache_dir(name)
        job.image_cached = job.image_cached or reuse  # a tuning job's trials all run its one image
        job.enter(t, "Starting", "Reusing the instances of a warm pool" if pool else None)
        self._at(t + self._startup["warm" if pool or reuse else "cold"], job, self._download)
        return job

    def _download(self, t: float, job: TrainingJob) -> None:
        job.enter(t, "Downloading")
        job.training_start = t
        self._at(t + self._download_s, job, self._pull_image)
        max_runtime = job.request["StoppingCondition"].get("MaxRuntimeInSeconds")
        if max_runtime:
            self._at(t + max_runtime, job, self._finish, "Stopped", "MaxRuntimeExceeded")

    def _pull_image(self, t: float, job: TrainingJob) -> None:
        """New instances (or a pool that ran another image) download the training image, billed, then train."""
        if self._image_pull_s > 0 and not job.image_cached:
            job.enter(t, "Training", "Downloading the training image")
            self._at(t + self._image_pull_s, job, self._train)
        else:
            self._train(t, job)

    def _train(self, t: float, job: TrainingJob) -> None:
        submit = job.hyperparameters.get("sagemaker_submit_directory", "")
        if job.request.get("EnableNetworkIsolation") and submit.startswith("s3://"):  # any executor
            self._finish(t, job, "Failed", failure=f"AlgorithmError: cannot fetch {submit}: the training "
                                                   "container runs with network isolation and cannot reach S3")
            return
        job.enter(t, "Training")
        if self._spot(job) and self._spot_interruptions > 0:
            self._spot_interruptions -= 1
            self._at(t + 1.0, job, self._interrupt)
        job.stream = stream = self._logs.create_stream(f"{job.name}/algo-1-{int(t)}", t)
        if self._executor == "script":
            self._run_script(t, job, stream)
        else:
            self._run_model(t, job, stream)

    @staticmethod
    def _spot(job: TrainingJob) -> bool:
        return bool(job.request.get("EnableManagedSpotTraining"))

    def _interrupt(self, t: float, job: TrainingJob) -> None:
        """A spot job loses its instances; no capacity comes back before its MaxWaitTimeInSeconds."""
        if job.status != "InProgress" or job.phases[-1].status != "Training":
            return
        job.gen += 1  # cancels its training and MaxRuntime events
        job.enter(t, "Interrupted")
        job.training_end = t
        if job.stream:
            job.stream.truncate(t)
        if job.run:
            terminate(job.run.proc)
        wait = job.request["StoppingCondition"].get("MaxWaitTimeInSeconds", 0)
        self._at(max(t, job.created + wait), job, self._finish, "Stopped", "MaxWaitTimeExceeded")

    def _training_done(self, t: float, job: TrainingJob, failure: str | None) -> None:
        if job.status != "InProgress" or job.phases[-1].status != "Training":
            return
        if failure:
            self._finish(t, job, "Failed", failure=failure)
            return
        if job.run is not None:
            self._upload_model(job)
        job.enter(t, "Uploading")
        self._at(t + self._upload_s, job, self._finish, "Completed")

    def _stop_job(self, t: float, job: TrainingJob) -> None:
        job.gen += 1
        job.status = "Stopping"
        job.enter(t, "Stopping")
        if job.stream:
            job.stream.truncate(t)
        if job.run:
            terminate(job.run.proc)
        self._at(t + _STOP_S, job, self._finish, "Stopped")

    def _finish(self, t: float, job: TrainingJob, status: str, secondary: str | None = None,
                failure: str | None = None) -> None:
        """End the job at ``t``: final phase, warm pool, log cut-off, and the tuning job told."""
        job.gen += 1
        job.enter(t, secondary or status)
        job.phases[-1].end = t
        job.status, job.failure = status, failure[:1024] if failure else None
        if job.training_start is not None and job.training_end is None:
            job.training_end = t  # an interrupted spot job stopped training (and billing) earlier
        if job.stream:
            job.stream.truncate(t)
        if job.run:
            terminate(job.run.proc)
        self._settle_pool(t, job)
        if job.tuning:
            tj = self._tuning[job.tuning.lower()]
            tj.retained += self._amt_reuse and job.training_start is not None  # its instances stay with the tuning job
            self._check_target(t, tj, job)
        self._step_tuners(t)

    def _final_metrics(self, job: TrainingJob, t: float) -> dict[str, tuple[float, int]]:
        """Last value (and its time in ms) of each MetricDefinitions regex over the log lines seen by ``t``."""
        definitions = job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        out: dict[str, tuple[float, int]] = {}
        for event in job.stream.visible(t) if job.stream and definitions else []:
            for definition in definitions:
                match = regex(definition["Regex"]).search(event.message)
                if match:
                    try:
                        out[definition["Name"]] = (float(match.group(1) if match.groups() else match.group(0)),
                                                   event.timestamp)
                    except ValueError:
                        continue
        return out
