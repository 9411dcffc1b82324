"""Reading a training job: its log (``LogTail``), its phases and its ``DescribeTrainingJob`` -> the trial's outcome.

One implementation for both backends: the ``sagemaker`` scheduler and the ``amt`` mirror read
logs with :class:`LogTail` and :func:`scan_log`, and turn a finished job into a
:class:`~jupyter_hpo.backends.TrialOutcome` with :func:`job_outcome`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_hpo.backends import TrialOutcome
from jupyter_hpo.sagemaker._entry import LINE as _REQUIREMENTS_LINE
from jupyter_hpo.sagemaker.errors import error_code
from jupyter_hpo.sagemaker.pricing import cost_usd, price_per_hour
from jupyter_hpo.sagemaker.spot import savings_pct

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import Objective

__all__ = [
    "INTERMEDIATE_METRIC",
    "INTERMEDIATE_REGEX",
    "STARTUP_PHASES",
    "TRAINING_DONE",
    "LogTail",
    "LogValues",
    "describe_outcome_attrs",
    "final_metric",
    "job_outcome",
    "parse_log_line",
    "phase_seconds",
    "requirements_attrs",
    "scan_log",
    "startup_seconds",
]

#: The metric name and line format of intermediate values (``jupyter_hpo.trial.report`` in a container).
INTERMEDIATE_METRIC = "intermediate"
INTERMEDIATE_REGEX = r"intermediate step=[0-9]+ value=([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
_INTERMEDIATE_LINE = re.compile(r"intermediate step=([0-9]+) value=([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
                                r"(?: fold=([0-9]+)/([0-9]+))?")

#: The statuses of a training job that has ended.
TRAINING_DONE = ("Completed", "Failed", "Stopped")
#: Phases of ``SecondaryStatusTransitions`` that happen before the training code runs.
STARTUP_PHASES = ("Starting", "Pending", "LaunchingMLInstances", "PreparingTrainingStack",
                  "DownloadingTrainingImage", "Downloading")


#: How a ``Training`` transition that downloads the training image (before the code runs, billed) begins its message.
IMAGE_PULL_MESSAGE = "Downloading the training image"


def phase_seconds(description: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per phase of ``SecondaryStatusTransitions`` (an open phase counts to ``LastModifiedTime``).

    A ``Training`` transition whose message says the training image is being downloaded counts as
    ``DownloadingTrainingImage``: the code has not started yet, so it is start-up (and billed).
    """
    out: dict[str, float] = {}
    for t in description.get("SecondaryStatusTransitions") or []:
        start, end = t.get("StartTime"), t.get("EndTime") or description.get("LastModifiedTime")
        if start is None or end is None:
            continue
        status = t["Status"]
        if status == "Training" and str(t.get("StatusMessage", "")).startswith(IMAGE_PULL_MESSAGE):
            status = "DownloadingTrainingImage"
        out[status] = out.get(status, 0.0) + max(0.0, (end - start).total_seconds())
    return out


def startup_seconds(phases: Mapping[str, float]) -> float | None:
    """Seconds before the training code ran (the start-up phases), or None when no phase is known."""
    return sum(v for k, v in phases.items() if k in STARTUP_PHASES) if phases else None


def parse_log_line(line: str, objective_regex: re.Pattern[str]) -> tuple[str, Any] | None:
    """``("intermediate", (step, value))``, ``("fold", (step, value))`` (an intermediate value that is a fold's
    score: ``Folds.report``'s line ends ``fold=1/5``) or ``("objective", value)`` for a log line, else None."""
    m = _INTERMEDIATE_LINE.search(line)
    if m:
        return "fold" if m.group(3) else "intermediate", (int(m.group(1)), float(m.group(2)))
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
    ``requirements`` keeps what the entry wrapper's line said (:func:`requirements_attrs`).
    """

    GROUP = "/aws/sagemaker/TrainingJobs"

    def __init__(self, logs: Any, job_name: str, instances: int = 1) -> None:
        self.logs, self.job_name, self.instances = logs, job_name, instances
        self._tokens: dict[str, str | None] = {}
        self.requirements = requirements_attrs(None)

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
        for line in lines:
            if "jupyter-hpo: requirements " in line:
                self.requirements = requirements_attrs(line)
        return lines


def describe_outcome_attrs(desc: Mapping[str, Any], opts: SageMakerOptions) -> dict[str, Any]:
    """The ``sagemaker`` trial attribute (documented in the README) from a DescribeTrainingJob response."""
    phases = phase_seconds(desc)
    pool = desc.get("WarmPoolStatus") or {}
    count = int((desc.get("ResourceConfig") or {}).get("InstanceCount") or opts.instance_count)
    itype = (desc.get("ResourceConfig") or {}).get("InstanceType") or opts.instance_type
    price = price_per_hour(itype, opts.prices)
    billable = desc.get("BillableTimeInSeconds")
    spot = bool(desc.get("EnableManagedSpotTraining"))
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
        "training_s": desc.get("TrainingTimeInSeconds"),
        "spot": spot,
        "spot_savings_pct": savings_pct(billable, desc.get("TrainingTimeInSeconds")) if spot else None,
        "model_artifacts": (desc.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or None,
        "training_image": (desc.get("AlgorithmSpecification") or {}).get("TrainingImage"),
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


@dataclass
class LogValues:
    """What log lines said: the last objective value, the intermediate values in order, and those of them that
    are fold scores (fold index -> score)."""

    objective: float | None = None
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    folds: dict[int, float] = field(default_factory=dict)


_REQUIREMENTS_STATES = {"installed": "installed", "already installed on this warm pool": "reused", "failed": "failed"}


def requirements_attrs(line: str | None) -> dict[str, Any]:
    """The ``requirements`` fields of a trial's ``sagemaker`` attribute from the entry wrapper's log line
    (:data:`jupyter_hpo.sagemaker._entry.LINE`): ``requirements`` is ``installed``, ``reused`` (already
    installed on this warm pool), ``failed`` or ``none`` (no such line: no requirements.txt),
    ``requirements_s`` the seconds it took, and ``requirements_error`` pip's error when it failed."""
    m = _REQUIREMENTS_LINE.search(line or "")
    if m is None:
        return {"requirements": "none", "requirements_s": None}
    out: dict[str, Any] = {"requirements": _REQUIREMENTS_STATES[m.group(1)], "requirements_s": float(m.group(3))}
    if m.group(1) == "failed":
        out["requirements_error"] = f"pip exited {m.group(2)}: {m.group(4) or 'no error line'}"
    return out


def scan_log(lines: Iterable[str], objective_regex: re.Pattern[str]) -> LogValues:
    """The objective and intermediate values in ``lines`` (see :func:`parse_log_line`)."""
    found = LogValues()
    for line in lines:
        parsed = parse_log_line(line, objective_regex)
        if parsed is None:
            continue
        kind, value = parsed
        if kind == "objective":
            found.objective = value
        else:
            found.intermediate.append(value)
            if kind == "fold":
                found.folds[value[0]] = value[1]
    return found


def job_outcome(key: int, desc: Mapping[str, Any], opts: SageMakerOptions, objective: Objective,
                value: float | None, *, stopped: str, attrs: Mapping[str, Any] | None = None,
                log: LogTail | None = None) -> TrialOutcome:
    """The outcome of trial ``key`` from its finished training job's ``DescribeTrainingJob``.

    Args:
        value: the objective value found (log or ``FinalMetricDataList``); a Completed job without
            one fails, saying which metric and regex found nothing.
        stopped: what a Stopped job means: ``pruned``, ``interrupted`` (the tuning job was stopped) or
            ``failed`` (stopped by someone else).
        attrs: more fields of the trial's ``sagemaker`` attribute.
        log: the job's log tail: its ``requirements`` fields join the attribute, and a failed install is the
            trial's error (one line).
    """
    info = {**describe_outcome_attrs(desc, opts), **(log.requirements if log else {}), **(attrs or {})}
    phases = phase_seconds(desc)
    outcome = TrialOutcome(key, "failed", startup_s=startup_seconds(phases), run_s=phases.get("Training"),
                           attrs={"sagemaker": info, "cost_usd": info["cost_usd"]})
    status, secondary = desc["TrainingJobStatus"], desc.get("SecondaryStatus")
    if status == "Completed" and value is not None:
        outcome.state, outcome.value = "complete", value
    elif status == "Completed":
        outcome.error = (f"the objective metric {objective.metric!r} was not found in the training job's log "
                         f"(regex {objective.pattern!r})")
    elif status == "Stopped" and stopped == "pruned":
        outcome.state = "pruned"
    elif status == "Stopped" and stopped == "interrupted":
        outcome.interrupted, outcome.error = True, "interrupted: the tuning job was stopped"
    elif status == "Stopped":
        outcome.error = f"the training job stopped ({secondary})"
    elif info.get("requirements") == "failed":
        outcome.error = f"requirements.txt could not be installed ({info.get('requirements_error')}); the script did " \
                        "not run (pip's output is in the training job's log)"
    else:
        outcome.error = f"the training job failed: {desc.get('FailureReason') or secondary}"
    return outcome
