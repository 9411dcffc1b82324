"""Backend ``amt``: SageMaker Automatic Model Tuning, mirrored into the store.

AMT proposes the trials itself (``CreateHyperParameterTuningJob``); this backend creates the
tuning job, then mirrors each training job AMT launches as a trial of the job: its typed
parameters when it appears, its ``intermediate step=k value=v`` log lines while it runs, and its
value, start-up phases and cost when it ends. The runner only records: this is a mirror backend
(:class:`~jupyter_hpo.backends.MirrorBackend`).

AMT does not honour ``ResourceConfig.KeepAlivePeriodInSeconds`` (warm pools), so nothing here promises warm
starts; the ``sagemaker`` backend is the one that does. AMT does reuse a tuning job's instances between its
trials on its own: each trial's ``warm`` comes from its ``Starting`` phase (see ``AMT_WARM_STARTING_MAX_S``).

The request is built in :mod:`jupyter_hpo.sagemaker.tuning`; a tuning job made elsewhere is mirrored
with :func:`jupyter_hpo.sagemaker.attach.attach_spec`.

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

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_hpo.backends import MirrorBackend, MirrorEvents, TrialEvents, TrialOutcome
from jupyter_hpo.exceptions import BackendError, SearchSpaceError, SpecError
from jupyter_hpo.sagemaker import clients as _clients
from jupyter_hpo.sagemaker.clients import Clients, check_credentials
from jupyter_hpo.sagemaker.defaults import with_defaults
from jupyter_hpo.sagemaker.errors import error_code, explain_client_error, is_transient
from jupyter_hpo.sagemaker.attach import remote_trial
from jupyter_hpo.sagemaker.options import (
    SageMakerOptions,
    check_backend_only_options,
    check_no_local_pool_settings,
    check_timeout_fits,
    simulation_defaults,
)
from jupyter_hpo.sagemaker.outcome import (
    INTERMEDIATE_METRIC,
    TRAINING_DONE,
    LogTail,
    final_metric,
    job_outcome,
    scan_log,
)
from jupyter_hpo.sagemaker.packaging import source_and_entry, upload_source
from jupyter_hpo.sagemaker.ranges import check_ranges
from jupyter_hpo.sagemaker.requests import validate_request
from jupyter_hpo.sagemaker.tuning import check_grid_budget, tuning_job_name, tuning_job_request
from jupyter_hpo.spec import TuningSpec

__all__ = ["AmtBackend"]

log = logging.getLogger("jupyter_hpo.backends.amt")

_MAX_BACKOFF_S = 300.0
_TUNING_DONE = ("Completed", "Failed", "Stopped", "DeleteFailed", "Deleting")
_MARKER = "amt.json"
#: the ``backend.options`` a mirror of a tuning job made elsewhere (``attach``) uses: the tuning job has the rest
ATTACH_OPTIONS = ("attach", "region", "profile", "simulate", "poll_s", "prices")
#: A trial whose ``Starting`` phase took at most this long ran on instances its tuning job kept from an earlier
#: trial (AMT reuses them by default; AWS reports no flag for it): provisioning new instances takes minutes.
AMT_WARM_STARTING_MAX_S = 60.0


@dataclass
class _Mirror:
    """One training job of the tuning job, mirrored as trial ``key``."""

    key: int
    name: str
    tail: LogTail | None = None
    objective: float | None = None
    folds: dict[int, float] = field(default_factory=dict)  # the fold scores its log said (index -> score)
    finished: bool = False
    billable_s: float = 0.0
    cost_usd: float | None = None


def _check_attach_given(spec: TuningSpec) -> None:
    """``backend.options.attach`` mirrors a tuning job that exists: what would shape a new one is ignored, so a
    launched spec that sets it (a non-default field, an option other than :data:`ATTACH_OPTIONS`) is refused."""
    given = [f"strategy {spec.strategy!r}" if spec.strategy != "bayesian" else "",
             f"seed {spec.seed!r}" if spec.seed is not None else "",
             f"early_stopping {spec.early_stopping!r}" if spec.early_stopping != "off" else "",
             f"trial.timeout {spec.trial.timeout:g}" if spec.trial.timeout is not None else "",
             f"trial.hyperparameters {dict(spec.trial.hyperparameters)!r}" if spec.trial.hyperparameters else "",
             *(f"backend.options.{k} {v!r}" for k, v in spec.backend_options.items() if k not in ATTACH_OPTIONS)]
    given = [g for g in given if g]
    if given:
        raise SpecError(f"`backend.options.attach: {spec.backend_options['attach']}` mirrors a tuning job that "
                        f"exists, whose strategy, seed, early stopping, trial settings and instances were set when "
                        f"it was created, so these would be ignored: {', '.join(given)}; remove them (attach takes "
                        f"backend.options {', '.join(ATTACH_OPTIONS[1:])}), or mirror it with "
                        f"`jupyter hpo attach-amt {spec.backend_options['attach']}` (api.attach_amt).")


class AmtBackend(MirrorBackend):
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

    def __init__(self, spec: TuningSpec, job_dir: Path, clients: Clients | None = None) -> None:
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
        mirror = spec.trial.function is remote_trial  # attach_spec's: every field read from the tuning job
        if not mirror:
            check_backend_only_options(spec, spec.backend_options)  # what the spec gave, before any defaults
            if spec.backend_options.get("attach"):
                _check_attach_given(spec)
        if spec.backend_options.get("simulate") is not None:
            spec = spec.replace(backend_options=simulation_defaults(spec.backend_options))
        spec = with_defaults(spec)[0]  # the SageMaker SDK's defaults files; the spec's values win
        check_no_local_pool_settings(spec)
        opts = SageMakerOptions.from_spec(spec)
        check_credentials(opts)  # nothing to check when simulated
        try:
            check_ranges(spec.space)
        except SearchSpaceError as e:
            raise SpecError(f"`space`: {e}") from None
        if opts.attach:
            return spec  # the tuning job exists; its request is not ours to build
        check_grid_budget(spec)
        check_timeout_fits(spec, opts)
        if spec.trial.script is None:
            raise SpecError("the amt backend needs `trial.script`: SageMaker AMT runs a training script in a "
                            "container, so a function objective (`trial.function`) cannot run there (use the "
                            "local backend for functions).")
        _, entry = source_and_entry(spec, opts)
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
            self.clients = _clients.make_clients(self.opts)
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
        _, entry = source_and_entry(self.spec, self.opts)
        code_uri = self.opts.code_uri(self.spec.name)
        request = tuning_job_request(self.spec, self.opts, tuning_job_name=self.tuning_job,
                                     code_uri=code_uri, entry=entry)
        validate_request("CreateHyperParameterTuningJob", request)
        upload_source(self.clients.s3, self.spec, self.opts, code_uri)
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

    def running(self) -> int:
        return sum(1 for m in self.mirrors.values() if not m.finished)

    # -- polling ---------------------------------------------------------------------------------
    def poll(self, events: MirrorEvents, timeout: float) -> None:
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
            if not is_transient(e):
                if error_code(e):
                    raise BackendError(explain_client_error(e, self.opts)) from None
                raise
            self._interval = min(_MAX_BACKOFF_S, self._interval * 2)
            self._next_poll = now + self._interval
            self._note("throttled", f"SageMaker throttled or failed a status check ({error_code(e) or e}); "
                                    f"checking every {self._interval:g} s for a while.")
            return
        self._interval = self.opts.poll_s

    def _poll_once(self, events: MirrorEvents) -> None:
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
            # how it started is known once it has (its Starting phase, at its end): neither warm nor cold till then
            key = events.on_external_trial(params, {"worker": name, "warm": None, "sagemaker": {
                "training_job": name, "tuning_job": self.tuning_job}})
            self.mirrors[name] = _Mirror(key, name, LogTail(self.clients.logs, name))
        for s in summaries:
            mirror = self.mirrors.get(s["TrainingJobName"])
            if mirror is None or mirror.finished:
                continue
            self._tail(mirror, events)
            if s["TrainingJobStatus"] in TRAINING_DONE:
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
            if not is_transient(e):
                self._tail_logs = False
                self._note("logs", f"intermediate values are not shown live: the job's CloudWatch logs cannot be "
                                   f"read ({explain_client_error(e, self.opts)}).")
            return
        found = scan_log(lines, re.compile(self.spec.objective.pattern))
        if found.objective is not None:
            mirror.objective = found.objective
        mirror.folds.update(found.folds)
        for step, value in found.intermediate:  # AMT decides early stopping itself: the pruner's answer is unused
            events.on_report(mirror.key, step, value)

    def _finish(self, mirror: _Mirror, summary: dict[str, Any], events: TrialEvents) -> None:
        try:
            desc = self.clients.sagemaker.describe_training_job(TrainingJobName=mirror.name)
        except Exception as e:
            if error_code(e) not in ("ValidationException", "ResourceNotFound"):
                raise
            desc = {k: summary.get(k) for k in ("TrainingJobName", "TrainingJobArn", "TrainingJobStatus",
                                                 "FailureReason")}  # gone already: what the listing says
        metric = self.spec.objective.metric
        final = (summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
        value = final if final is not None else final_metric(desc, metric)
        value = value if value is not None else mirror.objective
        stopping = self._stopping or self._tuning_status() in ("Stopping", "Stopped")
        # AMT stops a training job early only when asked to (early stopping, Hyperband), and then its secondary
        # status is plain Stopped; one stopped by its MaxRuntime or spot MaxWait failed (said with that status)
        early = self.spec.strategy == "hyperband" or self.spec.early_stopping != "off"
        pruned = early and desc.get("SecondaryStatus") in (None, "Stopped")
        outcome = job_outcome(mirror.key, desc, self.opts, self.spec.objective, value,
                              stopped="interrupted" if stopping else "pruned" if pruned else "failed",
                              attrs={"tuning_job": self.tuning_job, "objective_status": summary.get("ObjectiveStatus")})
        outcome.fold_scores = [mirror.folds[i] for i in sorted(mirror.folds)]  # as the local pool's are recorded
        outcome.metrics = {m["MetricName"]: float(m["Value"]) for m in desc.get("FinalMetricDataList") or []
                           if m.get("MetricName") not in (metric, INTERMEDIATE_METRIC)}
        attrs = outcome.attrs["sagemaker"]
        starting = (attrs.get("phases_s") or {}).get("Starting")
        outcome.attrs["warm"] = starting is not None and starting <= AMT_WARM_STARTING_MAX_S
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
    def cancel_all(self, events: TrialEvents, reason: str) -> None:
        """Stop the tuning job (once; its stopped trials arrive through :meth:`poll`). A mirrored
        job (``attach``) is not stopped: mirroring ends and its open trials finish interrupted here."""
        self._stopping = True
        self._events = events
        if self.opts.attach:
            self._detached = True
            for m in [m for m in self.mirrors.values() if not m.finished]:
                m.finished = True
                events.on_finish(TrialOutcome(m.key, "failed", error=f"{reason} (mirroring ended; {m.name} runs on)",
                                              interrupted=True))
            return
        if self._stop_sent or self.clients is None or self._tuning_status() in _TUNING_DONE:
            return
        if self._now() < self._stop_retry_at:
            return
        try:
            self.clients.sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=self.tuning_job)
            self._stop_sent = True
            self._next_poll = 0.0  # see the Stopping status soon
        except Exception as e:  # noqa: BLE001 - never raise from a stop; poll reports what is wrong
            if is_transient(e):
                self._stop_retry_at = self._now() + self.opts.poll_s
                return
            self._stop_sent = True
            if error_code(e) not in ("ValidationException", "ResourceNotFound"):  # already finished
                self._note("stop", f"could not stop the tuning job {self.tuning_job}: "
                                   f"{explain_client_error(e, self.opts)}")

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
        if self._events is not None:
            self._events.on_note(text)
        else:
            log.warning("%s", text)
