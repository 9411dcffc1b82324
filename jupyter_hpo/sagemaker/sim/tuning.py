"""SageMaker Automatic Model Tuning, simulated: Create/Describe/List/StopHyperParameterTuningJob.

Tuning jobs drop ``KeepAlivePeriodInSeconds`` from their trials, so trials neither keep nor reuse the
user's warm pools. A tuning job does reuse its own instances (AMT has done so by default since August 2022):
a trial that ran keeps its instances for the tuning job, and the next trial it launches takes them, with a
warm start-up and no image pull (``amt_reuse=False`` on the simulation turns this off). The user neither
sees nor pays for these instances between trials here: AWS documents neither. Trials are launched only
while ``instance_limit`` allows (a reused instance needs no new capacity); the target objective value stops
new launches and the job completes when its running trials end. ``Auto`` early stopping stops a trial whose
objective so far is worse than the median of the completed trials' (see ``_early_stop``). The ``Hyperband``
strategy stops trials by successive halving over the number of objective values they emitted (its rule, and
what of AWS's Hyperband it models, is in :mod:`.hyperband`). ``BestObjectiveNotImproving`` and convergence are
not simulated. Every strategy other than Grid samples at random.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_hpo.sagemaker.sim.base import ApiError, dt, in_window, invalid, regex, sort_and_page
from jupyter_hpo.sagemaker.sim.hyperband import HYPERBAND_EVERY_S, Hyperband
from jupyter_hpo.sagemaker.sim.training import RUNNING, check_metric_definitions

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.sim.training import TrainingJob

__all__ = ["EARLY_STOP_EVERY_S", "EARLY_STOP_MIN_DONE", "TuningJob", "TuningJobs"]

#: How often (simulated seconds) ``Auto`` early stopping looks at a tuning job's running trials.
EARLY_STOP_EVERY_S = 30.0
#: Completed trials needed before ``Auto`` early stopping compares a running trial with them.
EARLY_STOP_MIN_DONE = 3

#: The fields of a tuning job's TrainingJobDefinition that each of its training jobs takes as they are.
_TRIAL_KEYS = ("RoleArn", "InputDataConfig", "VpcConfig", "OutputDataConfig", "StoppingCondition",
               "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining",
               "CheckpointConfig", "RetryStrategy", "Environment")


@dataclass
class TuningJob:
    """A hyperparameter tuning job and the training jobs it launched."""

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
    jobs: list[TrainingJob] = field(default_factory=list)
    target_hit: bool = False
    retained: int = 0  # instances its finished trials left for its next trials (AMT's own reuse)
    hyperband: Hyperband | None = None  # the Hyperband strategy's stopping

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


def _check_ranges(ranges: dict[str, Any], strategy: str) -> None:
    """Server-side checks of ParameterRanges: numeric bounds, scaling and Grid's categorical-only rule."""
    if ranges.get("AutoParameters"):
        raise NotImplementedError("the simulation does not support AutoParameters")
    for kind, cast in (("IntegerParameterRanges", int), ("ContinuousParameterRanges", float)):
        for r in ranges.get(kind, []):
            try:
                lo, hi = cast(r["MinValue"]), cast(r["MaxValue"])
            except ValueError:
                raise invalid(f"The bounds of {r['Name']} must be {cast.__name__}s.") from None
            scaling = r.get("ScalingType", "Auto")
            if lo > hi:
                raise invalid(f"MinValue must be <= MaxValue for {r['Name']}, but got {lo} > {hi}.")
            if scaling == "Logarithmic" and lo <= 0:
                raise invalid(f"Logarithmic scaling needs MinValue > 0 for {r['Name']}, but got {lo}.")
            if scaling == "ReverseLogarithmic" and not (kind.startswith("Continuous") and 0 <= lo and hi < 1):
                raise invalid(f"ReverseLogarithmic scaling needs a continuous range in [0, 1) for {r['Name']}.")
            if strategy == "Grid":
                raise invalid(f"The Grid strategy takes only categorical ranges, but {r['Name']} is not one.")


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

class TuningJobs:
    """The tuning-job operations and AMT's launch loop (mixed into :class:`SimulatedSageMaker`)."""

    region: str
    account: str
    _seed: int
    _tuning: dict[str, TuningJob]

    def _tuning_job(self, name: str) -> TuningJob:
        tj = self._tuning.get(name.lower())
        if tj is None:
            raise ApiError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")
        return tj

    def _create_tuning_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        name, config = p["HyperParameterTuningJobName"], p["HyperParameterTuningJobConfig"]
        if name.lower() in self._tuning:
            raise ApiError("ResourceInUse", f"A hyperparameter tuning job with the name {name} already exists.")
        self._check_tuning_request(p)
        hyperband = Hyperband.from_request(config, p["TrainingJobDefinition"].get("StaticHyperParameters", {}))
        grid = _grid(config.get("ParameterRanges", {})) if config["Strategy"] == "Grid" else None
        limit = config["ResourceLimits"].get("MaxNumberOfTrainingJobs")
        seed = config.get("RandomSeed")
        tj = TuningJob(name, f"arn:aws:sagemaker:{self.region}:{self.account}:hyper-parameter-tuning-job/"
                              f"{name.lower()}", p, t, random.Random(f"{self._seed}:{name}" if seed is None else seed),
                        limit if grid is None else min(limit or len(grid), len(grid)), grid, modified=t,
                        hyperband=hyperband)
        self._tuning[name.lower()] = tj
        if config.get("TrainingJobEarlyStoppingType") == "Auto":
            self._schedule(t + EARLY_STOP_EVERY_S, lambda now: self._early_stop(now, tj))
        if hyperband is not None:
            self._schedule(t + HYPERBAND_EVERY_S, lambda now: self._hyperband_stop(now, tj))
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
            raise invalid("TrainingJobDefinition and HyperParameterTuningJobObjective are required.")
        if config["Strategy"] == "Hyperband" and config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise invalid("TrainingJobEarlyStoppingType must be Off when the strategy is Hyperband.")
        if config["Strategy"] != "Grid" and "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]:
            raise invalid(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {config['Strategy']} strategy.")
        _check_ranges(config.get("ParameterRanges", {}), config["Strategy"])
        definition = p["TrainingJobDefinition"]
        if not definition.get("ResourceConfig", {}).get("InstanceType") and \
                not definition.get("HyperParameterTuningResourceConfig", {}).get("InstanceType"):
            raise invalid("The TrainingJobDefinition needs ResourceConfig.InstanceType.")
        check_metric_definitions(definition["AlgorithmSpecification"].get("MetricDefinitions", []))
        for parent in p.get("WarmStartConfig", {}).get("ParentHyperParameterTuningJobs", []):
            if parent.get("HyperParameterTuningJobName", "").lower() not in self._tuning:
                raise invalid(f"The parent tuning job {parent.get('HyperParameterTuningJobName')} does not exist.")

    def _trial_request(self, tj: TuningJob, rc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
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

    def _step_tuner(self, t: float, tj: TuningJob) -> None:
        """Launch trials while parallelism, budget and capacity allow; end the tuning job once nothing runs."""
        running = sum(1 for job in tj.jobs if job.status in RUNNING)
        definition = tj.request["TrainingJobDefinition"]
        rc = {k: v for k, v in (definition.get("ResourceConfig") or definition["HyperParameterTuningResourceConfig"])
              .items() if k in ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")}
        while (tj.status == "InProgress" and not tj.target_hit and len(tj.jobs) < tj.max_jobs
               and running < tj.config["ResourceLimits"]["MaxParallelTrainingJobs"]
               and (tj.retained > 0 or self._capacity_error(rc, None) is None)):
            req, tuned = self._trial_request(tj, copy.deepcopy(rc))
            reuse = tj.retained > 0
            tj.retained -= reuse
            tj.jobs.append(self._launch(t, req, None, tj, tuned, reuse=reuse))
            running += 1
        if running == 0 and tj.status == "Stopping":
            tj.set_status(t, "Stopped")
        elif running == 0 and tj.status == "InProgress" and (tj.target_hit or len(tj.jobs) >= tj.max_jobs):
            tj.set_status(t, "Completed")

    def _objective_series(self, tj: TuningJob, job: TrainingJob, t: float) -> list[float]:
        """The objective metric's values in ``job``'s log up to ``t``, in order (its regex, as AMT reads it)."""
        return [value for _, value in self._objective_events(tj, job, t)]

    def _objective_events(self, tj: TuningJob, job: TrainingJob, t: float) -> list[tuple[int, float]]:
        """``(timestamp in ms, value)`` of each objective metric value in ``job``'s log up to ``t``, in order."""
        definition = next((d for d in job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
                           if d["Name"] == tj.objective["MetricName"]), None)
        if definition is None or job.stream is None:
            return []
        pattern, out = regex(definition["Regex"]), []
        for event in job.stream.visible(t):
            found = pattern.search(event.message)
            if found:
                try:
                    out.append((event.timestamp, float(found.group(1) if found.groups() else found.group(0))))
                except ValueError:
                    continue
        return out

    def _early_stop(self, t: float, tj: TuningJob) -> None:
        """AMT's ``Auto`` early stopping, as its guide describes it: a training trial whose objective, averaged
        over its first k values, is worse than the median of the same average over the tuning job's completed
        trials (at least ``EARLY_STOP_MIN_DONE`` of them with k values) is stopped. Checked every
        ``EARLY_STOP_EVERY_S`` while the tuning job runs."""
        if tj.status != "InProgress":
            return
        done = [self._objective_series(tj, j, t) for j in tj.jobs if j.status == "Completed"]
        sign = 1.0 if tj.objective["Type"] == "Maximize" else -1.0
        for job in tj.jobs:
            if job.status != "InProgress" or job.phases[-1].status != "Training":
                continue
            series = self._objective_series(tj, job, t)
            k = len(series)
            reference = [sum(s[:k]) / k for s in done if len(s) >= k] if k else []
            if len(reference) >= EARLY_STOP_MIN_DONE and sign * sum(series) / k < sign * statistics.median(reference):
                self._stop_job(t, job)
        self._schedule(t + EARLY_STOP_EVERY_S, lambda now: self._early_stop(now, tj))

    def _hyperband_stop(self, t: float, tj: TuningJob) -> None:
        """The Hyperband strategy's stopping (:mod:`.hyperband`): judge the rungs the trials reached, stop the
        trials that fall out as ``Auto`` early stopping stops them. Checked every ``HYPERBAND_EVERY_S``."""
        if tj.status != "InProgress" or tj.hyperband is None:
            return
        training = {job.name for job in tj.jobs if job.status == "InProgress" and job.phases[-1].status == "Training"}
        hb = tj.hyperband
        series = [(job.name, self._objective_events(tj, job, t) if hb.pending(i, job.name) else [])
                  for i, job in enumerate(tj.jobs)]
        for name in hb.check(series, training):
            self._stop_job(t, next(job for job in tj.jobs if job.name == name))
        self._schedule(t + HYPERBAND_EVERY_S, lambda now: self._hyperband_stop(now, tj))

    def _step_tuners(self, t: float) -> None:
        for tj in self._tuning.values():
            self._step_tuner(t, tj)

    def _stop_tuning(self, t: float, tj: TuningJob) -> None:
        tj.set_status(t, "Stopping")
        for job in tj.jobs:
            if job.status == "InProgress":
                self._stop_job(t, job)
        self._step_tuner(t, tj)

    def _check_target(self, t: float, tj: TuningJob, job: TrainingJob) -> None:
        target = tj.config.get("TuningJobCompletionCriteria", {}).get("TargetObjectiveMetricValue")
        value = self._objective(tj, job, t)
        if target is not None and value is not None:
            tj.target_hit |= value >= target if tj.objective["Type"] == "Maximize" else value <= target

    def _objective(self, tj: TuningJob, job: TrainingJob, t: float) -> float | None:
        if job.status not in ("Completed", "Stopped"):
            return None
        found = self._final_metrics(job, t).get(tj.objective["MetricName"])
        return found[0] if found else None

    def _trial_summary(self, tj: TuningJob, job: TrainingJob, t: float) -> dict[str, Any]:
        """A HyperParameterTrainingJobSummary."""
        value = self._objective(tj, job, t)
        out: dict[str, Any] = {
            "TrainingJobName": job.name, "TrainingJobArn": job.arn, "TuningJobName": tj.name,
            "CreationTime": dt(job.created), "TrainingJobStatus": job.status, "TunedHyperParameters": dict(job.tuned),
            "ObjectiveStatus": "Pending" if job.status in RUNNING else "Succeeded" if value is not None else "Failed"}
        if job.training_start is not None:
            out["TrainingStartTime"] = dt(job.training_start)
        if job.training_end is not None:
            out["TrainingEndTime"] = dt(job.training_end)
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

    def _counters(self, tj: TuningJob, summaries: list[dict[str, Any]]) -> dict[str, Any]:
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
               "CreationTime": dt(tj.created), "LastModifiedTime": dt(tj.modified),
               "ConsumedResources": {"RuntimeInSeconds": int((tj.end or t) - tj.created)},
               **self._counters(tj, summaries)}
        for key in ("TrainingJobDefinition", "WarmStartConfig"):
            if key in tj.request:
                out[key] = copy.deepcopy(tj.request[key])
        if tj.end is not None:
            out["HyperParameterTuningEndTime"] = dt(tj.end)
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
        page, token = sort_and_page(summaries, p, {
            "Name": lambda s: s["TrainingJobName"], "CreationTime": lambda s: s["CreationTime"],
            "Status": lambda s: s["TrainingJobStatus"],
            "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]}, "Name")
        return {"TrainingJobSummaries": page, **({"NextToken": token} if token else {})}

    def _stop_tuning_job(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        tj = self._tuning_job(p["HyperParameterTuningJobName"])
        if tj.status != "InProgress":
            raise invalid(f"The hyperparameter tuning job {tj.name} is {tj.status}; only an InProgress job can be "
                           f"stopped.")
        self._stop_tuning(t, tj)
        return {}

    def _list_tuning_jobs(self, t: float, p: dict[str, Any]) -> dict[str, Any]:
        jobs = [tj for tj in self._tuning.values()
                if p.get("NameContains", "").lower() in tj.name.lower()
                and p.get("StatusEquals", tj.status) == tj.status and in_window(tj.created, tj.modified, p)]
        page, token = sort_and_page(jobs, p, {"Name": lambda tj: tj.name, "CreationTime": lambda tj: tj.created,
                                               "Status": lambda tj: tj.status}, "Name")
        summaries = []
        for tj in page:
            counters = self._counters(tj, [self._trial_summary(tj, job, t) for job in tj.jobs])
            summary = {"HyperParameterTuningJobName": tj.name, "HyperParameterTuningJobArn": tj.arn,
                       "HyperParameterTuningJobStatus": tj.status, "Strategy": tj.config["Strategy"],
                       "CreationTime": dt(tj.created), "LastModifiedTime": dt(tj.modified),
                       "ResourceLimits": copy.deepcopy(tj.config["ResourceLimits"]), **counters}
            if tj.end is not None:
                summary["HyperParameterTuningEndTime"] = dt(tj.end)
            summaries.append(summary)
        return {"HyperParameterTuningJobSummaries": summaries, **({"NextToken": token} if token else {})}
