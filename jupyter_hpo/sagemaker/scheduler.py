"""Backend ``sagemaker``: one SageMaker training job per trial, scheduled onto warm pools.

Our optimizer proposes the trials, as on the local backend. Each trial is a ``CreateTrainingJob``
with ``ResourceConfig.KeepAlivePeriodInSeconds`` and the same role, instance type/count, volume,
KMS key, VPC and network flags as every other trial of the job, so SageMaker can hand it the
instance the previous trial kept warm.

The scheduler keeps at most ``budget.max_parallel`` *pools* (slots). A pool is::

    empty ──launch (cold)──▶ running ──job ends──▶ draining ──WarmPoolStatus Available──▶ available
      ▲                                              │  (no pool kept / wait exceeded)        │
      └──────────────────────────────────────────────┴──── keep-alive about to expire ◀───────┘
                                                            available ──launch (warm)──▶ running

A new trial goes to an ``available`` pool first (it lands on the warm instance), else to an
``empty`` one (a cold start). A ``draining`` pool is not free: launching before the finished
job's pool is ``Available`` would start a new instance instead of reusing it. When the job ends
or is stopped, every pool is released (``UpdateTrainingJob`` keep-alive 0), so nothing is left
billing. Each trial records its training job, warm-pool status, start-up phases, billable
seconds and cost (see the README's "Trial attributes").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_hpo.backends import Assignment, ExecutorBackend, TrialEvents, TrialOutcome, TrialRequest
from jupyter_hpo.exceptions import BackendError, SpecError
from jupyter_hpo.sagemaker import clients as _clients
from jupyter_hpo.sagemaker import handover as _handover
from jupyter_hpo.sagemaker.clients import Clients, check_credentials
from jupyter_hpo.sagemaker.defaults import with_defaults
from jupyter_hpo.sagemaker.errors import EXPIRED, THROTTLING, error_code, explain_client_error
from jupyter_hpo.sagemaker.options import (
    SageMakerOptions,
    check_backend_only_options,
    check_no_local_pool_settings,
    check_timeout_fits,
    simulation_defaults,
    warm_pool_off_note,
)
from jupyter_hpo.sagemaker.outcome import (
    STARTUP_PHASES,
    TRAINING_DONE,
    LogTail,
    describe_outcome_attrs,
    final_metric,
    job_outcome,
    scan_log,
)
from jupyter_hpo.sagemaker.packaging import source_and_entry, upload_source
from jupyter_hpo.sagemaker.pools import Pool, PoolRelease
from jupyter_hpo.sagemaker.pricing import cost_usd
from jupyter_hpo.sagemaker.requests import (
    check_space_for_pools,
    sample_point,
    training_job_name,
    training_job_request,
    validate_request,
)
from jupyter_hpo.sagemaker.spot import merge_attempts, savings_pct, spot_interrupted
from jupyter_hpo.spec import TuningSpec

__all__ = ["SageMakerBackend"]

_MAX_LAUNCH_ATTEMPTS = 8
#: the figures of the summary that add up over a job's runners (a stopped job resumed)
_ADDED = ("training_jobs", "warm_starts", "billable_s", "training_s", "retained_billable_s", "cost_usd",
          "warm_pool_cost_usd")
#: launch onto an Available pool only if at least this much of its keep-alive is left
_EXPIRY_MARGIN_S = 30.0


@dataclass
class _Run:
    request: TrialRequest
    body: dict[str, Any]
    pool: Pool
    warm: bool
    previous_job: str | None
    tail: LogTail | None = None
    launched: bool = False
    attempts: int = 0
    retry_at: float = 0.0
    objective: float | None = None
    pruning: bool = False
    last: dict[str, Any] = field(default_factory=dict)
    spot_attempts: list[dict[str, Any]] = field(default_factory=list)  # interrupted spot jobs' attributes
    folds: dict[int, float] = field(default_factory=dict)  # the fold scores its log said (index -> score)

    @property
    def job(self) -> str:
        return self.body["TrainingJobName"]


def _terminated_note(job: str, instance_type: str) -> str:
    return (f"SageMaker kept no warm pool after {job}: its WarmPoolStatus was Terminated as soon as it ended, so the "
            f"next trials start cold. Usually the warm-pool quota for {instance_type} is 0 (the default) or below "
            f"budget.max_parallel; else the pool failed to provision. Request '{instance_type} for training warm "
            "pool usage' in Service Quotas (Amazon SageMaker); `jupyter hpo doctor SPEC` shows the quota.")


class SageMakerBackend(PoolRelease, ExecutorBackend):
    """Trials as SageMaker training jobs on warm pools (see the module docstring).

    Args:
        spec: the job's spec; ``backend.options`` are :class:`SageMakerOptions`.
        job_dir: the job's folder.
        clients: boto3 clients and a clock to use (tests, the estimator); default from the options.
    """

    name = "sagemaker"

    def __init__(self, spec: TuningSpec, job_dir: Path, clients: Clients | None = None) -> None:
        super().__init__(spec, job_dir)
        self.opts = SageMakerOptions.from_spec(spec)
        self.clients = clients
        self.keep_alive = self.opts.keep_alive_s if spec.warm_pool.enabled else 0
        self.pools = [Pool(f"pool-{i + 1}") for i in range(spec.budget.max_parallel)]
        self.runs: dict[int, _Run] = {}
        self.waiting: list[_Run] = []
        self.code_uri = ""
        self.entry = ""
        self._next_poll = 0.0
        self._backoff = 0.0
        self._noted: set[str] = set()
        self._events: TrialEvents | None = None
        self._pending_outcomes: list[TrialOutcome] = []
        self._pending_notes: list[str] = []
        self.finished: list[dict[str, Any]] = []
        #: training jobs stopped with the job, whose billed time the summary adds once SageMaker reports it
        self.cancelled: set[str] = set()
        self._owns_clients = False
        self._recovered: dict[str, str] = {}
        self._reuse_round = -1.0
        self._reuse_by: dict[str, str] = {}
        self.retained: dict[str, float] = {}
        self.expired: list[str] = []  # training jobs whose pool ended unused: idle time read at the end
        self.released: list[str] = []
        self.unreleased: list[str] = []
        #: training jobs of an earlier job whose warm pools were handed to this one (:meth:`inherit`)
        self.inherited: list[str] = []
        #: this job's training jobs whose pools :meth:`close` handed on (``release=False``)
        self.handed_on: list[str] = []
        self._stopping_all = False
        off = warm_pool_off_note(spec)
        if off is not None:
            self._note("warm-pool-off", off)

    # -- before the job exists ----------------------------------------------------------------
    @classmethod
    def prepare(cls, spec: TuningSpec) -> TuningSpec:
        """Check the spec and options (and that credentials exist) before a job is created."""
        check_backend_only_options(spec, spec.backend_options)  # what the spec gave, before any defaults
        options = dict(spec.backend_options)
        if options.get("simulate") is not None:
            options = simulation_defaults(options)
            spec = spec.replace(backend_options=options)
        spec = with_defaults(spec)[0]  # the SageMaker SDK's defaults files; the spec's values win
        check_no_local_pool_settings(spec)
        opts = SageMakerOptions.from_spec(spec)
        check_timeout_fits(spec, opts)
        if spec.trial.script is None:
            raise SpecError("the sagemaker backend runs a training script in a SageMaker container: give "
                            "`trial.script` (a function objective only runs on the local backend).")
        check_space_for_pools(spec)
        _, entry = source_and_entry(spec, opts)
        for point in (sample_point(spec), sample_point(spec, longest=True)):  # our trial tag counts too
            body = training_job_request(spec, opts, job_name=training_job_name(spec.name, 0), params=point,
                                        code_uri=opts.code_uri(spec.name), entry=entry, trial=0,
                                        keep_alive_s=opts.keep_alive_s if spec.warm_pool.enabled else 0,
                                        extra_tags={"jupyter-hpo:trial": "0"})
            validate_request("CreateTrainingJob", body)
        check_credentials(opts)  # after the request checks: bad input is named first
        return spec

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        handover = _handover.current() if self.keep_alive else None
        if handover is not None and self.clients is None:  # a campaign: take what its earlier jobs left
            jobs, clients, owns, cold_s = handover.take(_handover.pool_key(self.opts))
            if clients is not None:
                self.clients, self._owns_clients = clients, owns
                self.inherit(jobs, cold_s)  # notes what it took, and what had ended meanwhile
        if self.clients is None:
            self.clients = _clients.make_clients(self.opts)
            self._owns_clients = True
        self.code_uri = self.opts.code_uri(self.spec.name)
        self.entry = upload_source(self.clients.s3, self.spec, self.opts, self.code_uri)
        self._adopt_recovered()

    def free_slots(self) -> int:
        free = sum(1 for p in self.pools if p.state in ("empty", "available"))
        return max(0, free - len(self.waiting))

    def running(self) -> int:
        return len(self.runs)

    def submit(self, request: TrialRequest) -> Assignment:
        pool = self._free_pool()
        if pool is None:
            raise BackendError("no free pool: the runner submitted more trials than free_slots()")
        run = self._bind(request, pool)
        self._launch(run)
        return Assignment(pool.id, run.warm, attrs={"sagemaker": {"training_job": run.job}})

    def _free_pool(self) -> Pool | None:
        now = self._now()
        for p in self.pools:  # a warm pool first, the one that expires soonest
            if p.state == "available" and p.expires - now < _EXPIRY_MARGIN_S:
                self._expire(p)
        available = sorted((p for p in self.pools if p.state == "available"), key=lambda p: p.expires)
        empty = [p for p in self.pools if p.state == "empty"]
        return (available + empty)[0] if available or empty else None

    def _bind(self, request: TrialRequest, pool: Pool) -> _Run:
        warm = pool.state == "available" and self.keep_alive > 0
        run = _Run(request, self._request_body(request), pool, warm, pool.job if warm else None)
        self.runs[request.key] = run
        pool.job = run.job
        self._set(pool, "running")
        return run

    def _request_body(self, request: TrialRequest) -> dict[str, Any]:
        body = training_job_request(self.spec, self.opts, job_name=training_job_name(self.spec.name, request.key),
                                    params=request.params, code_uri=self.code_uri, entry=self.entry,
                                    keep_alive_s=self.keep_alive, extra_tags={"jupyter-hpo:trial": str(request.key)},
                                    trial=request.key)
        validate_request("CreateTrainingJob", body)
        return body

    def _launch(self, run: _Run) -> None:
        """CreateTrainingJob; throttling is retried with backoff, a quota error shrinks the pool count."""
        from botocore.exceptions import ClientError

        run.attempts += 1
        try:
            self.clients.sagemaker.create_training_job(**run.body)
        except ClientError as e:
            code = error_code(e)
            if code in THROTTLING and run.attempts < _MAX_LAUNCH_ATTEMPTS:
                run.retry_at = self._now() + min(60.0, 2.0 ** run.attempts)
                return
            if code in EXPIRED:
                raise BackendError(explain_client_error(e, self.opts)) from None
            if code == "ResourceLimitExceeded" and any(
                    p.state in ("running", "draining", "available") for p in self.pools if p is not run.pool):
                self._set(run.pool, "disabled")
                self.waiting.append(run)
                self._note("limit", f"{explain_client_error(e, self.opts)} Running with "
                                    f"{sum(p.state != 'disabled' for p in self.pools)} pool(s) instead of "
                                    f"{len(self.pools)}.")
                return
            self._fail_unlaunched(run, explain_client_error(e, self.opts))
            return
        run.launched = True
        run.tail = LogTail(self.clients.logs, run.job, self.opts.instance_count)

    def _fail_unlaunched(self, run: _Run, message: str) -> None:
        self.runs.pop(run.request.key, None)
        self._set(run.pool, "empty")
        self._deliver(TrialOutcome(run.request.key, "failed", error=message,
                                   attrs={"sagemaker": {"training_job": run.job, "status": "NotCreated"}}))

    # -- polling ---------------------------------------------------------------------------------
    def poll(self, events: TrialEvents, timeout: float) -> None:
        self._events = events
        while self._pending_outcomes:
            events.on_finish(self._pending_outcomes.pop(0))
        for text in self._pending_notes:
            events.on_note(text)
        self._pending_notes.clear()
        now = self._now()
        if now < self._next_poll:  # ``timeout`` is real seconds; a sped-up clock counts faster
            clock = self.clients.clock
            clock.sleep(min(timeout * getattr(clock, "speed", 1.0), self._next_poll - now))
            return
        self._next_poll = now + self.opts.poll_s + self._backoff
        try:
            self._poll_once(events)
            self._backoff = 0.0
        except BackendError:
            raise
        except Exception as e:
            if error_code(e) in THROTTLING:  # skip this round; poll less often for a while
                self._backoff = min(300.0, max(self.opts.poll_s, self._backoff * 2))
                self._next_poll = now + self.opts.poll_s + self._backoff
                self._note("throttled", f"SageMaker throttled the status checks ({error_code(e)}); polling "
                                        f"every {self.opts.poll_s + self._backoff:g} s for a while.")
                return
            if error_code(e):
                raise BackendError(explain_client_error(e, self.opts)) from None
            raise

    def _poll_once(self, events: TrialEvents) -> None:
        now = self._now()
        for run in list(self.runs.values()):
            if not run.launched and run not in self.waiting and now >= run.retry_at:
                self._launch(run)
        for run in [r for r in self.runs.values() if r.launched]:
            desc = self.clients.sagemaker.describe_training_job(TrainingJobName=run.job)
            run.last = desc
            if desc["TrainingJobStatus"] != "InProgress" or desc.get("SecondaryStatus") not in STARTUP_PHASES:
                self._read_log(run, events)  # no log before the training code starts
            if desc["TrainingJobStatus"] in TRAINING_DONE:
                self._finish(run, desc)
        for pool in self.pools:
            if pool.state == "draining":
                self._drain(pool)
            elif pool.state == "available" and pool.expires <= self._now():
                self._expire(pool)
        while self.waiting:  # trials put back by a quota error take the next free pool
            pool = self._free_pool()
            if pool is None:
                break
            run = self.waiting.pop(0)
            self.runs.pop(run.request.key, None)
            rebound = self._bind(run.request, pool)
            self._launch(rebound)

    def _read_log(self, run: _Run, events: TrialEvents) -> None:
        if run.tail is None:
            return
        found = scan_log(run.tail.read(), self._objective_regex)
        if found.objective is not None:
            run.objective = found.objective
        run.folds.update(found.folds)
        for step, value in found.intermediate:
            if not run.pruning and events.on_report(run.request.key, step, value):
                run.pruning = True
                self._stop(run.job)

    @property
    def _objective_regex(self) -> re.Pattern[str]:
        return re.compile(self.spec.objective.pattern)

    def _retry_spot(self, run: _Run, desc: dict[str, Any]) -> bool:
        """Launch an interrupted spot trial again (same checkpoint folder), at most ``spot_retries`` times."""
        if (not self.opts.spot or run.pruning or not spot_interrupted(desc)
                or len(run.spot_attempts) >= self.opts.spot_retries):
            return False
        run.spot_attempts.append(describe_outcome_attrs(desc, self.opts))
        old = run.job
        run.body = self._request_body(run.request)
        run.launched, run.tail, run.objective, run.attempts, run.retry_at = False, None, None, 0, 0.0
        self._note(f"spot-{old}", f"trial {run.request.key}: spot training job {old} lost its instances "
                                  f"({desc.get('SecondaryStatus')}); retrying as {run.job} (retry "
                                  f"{len(run.spot_attempts)} of {self.opts.spot_retries}), resuming from "
                                  f"{run.body['CheckpointConfig']['S3Uri']}.")
        self._launch(run)
        return True

    def _finish(self, run: _Run, desc: dict[str, Any]) -> None:
        if self._retry_spot(run, desc):
            return
        self.runs.pop(run.request.key, None)
        reused = self._reused(run)
        value = None
        if desc["TrainingJobStatus"] == "Completed":
            value = run.objective if run.objective is not None else final_metric(desc, self.spec.objective.metric)
        outcome = job_outcome(run.request.key, desc, self.opts, self.spec.objective, value, log=run.tail,
                              stopped="pruned" if run.pruning else "failed", attrs={"reused_pool_of": reused})
        outcome.fold_scores = [run.folds[i] for i in sorted(run.folds)]  # recorded as the local pool's are
        for o in self.spec.objectives[1:]:  # several objectives: the others, as SageMaker's regexes found them
            if (other := final_metric(desc, o.metric)) is not None:
                outcome.metrics[o.metric] = other
        outcome.attrs["warm"] = reused is not None
        attrs = outcome.attrs["sagemaker"]
        if run.spot_attempts:
            merge_attempts(attrs, run.spot_attempts)
            outcome.attrs["cost_usd"] = attrs["cost_usd"]
        phases = attrs["phases_s"]
        self.finished.append(attrs)
        started = desc.get("TrainingStartTime") is not None or any(
            k != "Starting" for k in phases)
        if self.keep_alive > 0 and started:
            self._set(run.pool, "draining")
        else:
            self._set(run.pool, "empty")
        self._deliver(outcome)

    def _drain(self, pool: Pool) -> None:
        desc = self.clients.sagemaker.describe_training_job(TrainingJobName=pool.job)
        status = (desc.get("WarmPoolStatus") or {}).get("Status")
        if status == "Available":
            self._set(pool, "available")
            pool.expires = self._now() + self.keep_alive - _EXPIRY_MARGIN_S
        elif status in ("Terminated", "Reused") or self._now() - pool.since > self.opts.warm_wait_s:
            if status is None:
                self._note("no-pool", f"SageMaker kept no warm pool after {pool.job} (no WarmPoolStatus after "
                                      f"{self.opts.warm_wait_s:g} s): the next trials start cold. The default "
                                      "warm-pool quota is 0; request one in Service Quotas.")
            elif status == "Terminated":
                self._note("pool-terminated", _terminated_note(pool.job, self.opts.instance_type))
            self._expire(pool)

    def _deliver(self, outcome: TrialOutcome) -> None:
        if self._events is not None:
            self._events.on_finish(outcome)
        else:  # before the first poll (a launch failing in submit): delivered at the next poll
            self._pending_outcomes.append(outcome)

    # -- stopping and releasing -------------------------------------------------------------------
    def cancel_all(self, events: TrialEvents, reason: str) -> None:
        self._events = events
        self._stopping_all = True  # a stopped or failed job releases its pools, campaign or not
        while self._pending_outcomes:  # a launch that failed in submit, not yet polled
            events.on_finish(self._pending_outcomes.pop(0))
        for run in list(self.runs.values()):
            if run.launched:
                self._stop(run.job, cancelling=True)
                self._set(run.pool, "draining")
                self.cancelled.add(run.job)  # billed until it stops: counted once it has (pools' _release)
            else:
                self._set(run.pool, "empty")
            del self.runs[run.request.key]
            events.on_finish(TrialOutcome(run.request.key, "failed", error=reason, interrupted=True,
                                          attrs={"sagemaker": {"training_job": run.job, "status": "Stopping"}}))
        self.waiting.clear()

    def _stop(self, job: str, *, cancelling: bool = False) -> None:
        try:
            self.clients.sagemaker.stop_training_job(TrainingJobName=job)
        except Exception as e:  # noqa: BLE001 - it may have just finished; the next describe tells
            if error_code(e) not in EXPIRED and error_code(e) not in ("AccessDeniedException", "AccessDenied"):
                return
            if not cancelling:
                raise BackendError(explain_client_error(e, self.opts)) from None
            self._note(f"stop-{job}", f"could not stop training job {job}: {explain_client_error(e, self.opts)} "
                                      f"It ends by itself within max_run_s ({self.opts.max_run_s} s); stop it in "
                                      "the SageMaker console to end it sooner.")

    def with_earlier_runners(self, summary: dict[str, Any], earlier: dict[str, Any] | None) -> dict[str, Any]:
        """The training jobs, billable seconds, costs and pools of the job's earlier runners added: each runner
        counts only its own training jobs."""
        if not earlier or earlier.get("kind") != "sagemaker":
            return summary
        out = dict(summary)
        for key in _ADDED:
            mine, theirs = summary.get(key), earlier.get(key)
            if isinstance(mine, (int, float)) and isinstance(theirs, (int, float)):
                total = mine + theirs
                out[key] = round(total, 6) if isinstance(total, float) else total
            elif mine is None and theirs is not None:
                out[key] = theirs
        for key in ("pools_released", "pools_not_released"):
            out[key] = [*(earlier.get(key) or []), *(summary.get(key) or [])]
        if summary.get("spot_savings_pct") is not None or earlier.get("spot_savings_pct") is not None:
            out["spot_savings_pct"] = savings_pct(out.get("billable_s"), out.get("training_s"))
        return out

    def summary(self) -> dict[str, Any]:
        price = self.opts.price()
        billable = sum(a.get("billable_s") or 0 for a in self.finished)
        training = sum(a.get("training_s") or 0 for a in self.finished)
        retained = sum(self.retained.values())
        count = self.opts.instance_count
        training_cost, retained_cost = cost_usd(billable, count, price), cost_usd(retained, count, price)
        return {
            "kind": "sagemaker",
            "instance_type": self.opts.instance_type,
            "instance_count": count,
            "price_per_hour": price,
            "keep_alive_s": self.keep_alive,
            "training_jobs": sum(len(a.get("attempts") or [a]) for a in self.finished),  # spot retries too
            "warm_starts": sum(1 for a in self.finished if a.get("reused_pool_of")),
            "billable_s": billable,
            "spot": self.opts.spot,
            "training_s": training,
            "spot_savings_pct": savings_pct(billable, training) if self.opts.spot else None,
            "retained_billable_s": retained,
            "cost_usd": None if price is None else round((training_cost or 0) + (retained_cost or 0), 6),
            "warm_pool_cost_usd": retained_cost,
            "pools_released": list(self.released),
            "pools_not_released": list(self.unreleased),
            **self.reused_cold(),
        }

    # -- helpers ------------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.clients.clock.now() if self.clients is not None else 0.0

    def _set(self, pool: Pool, state: str) -> None:
        pool.state, pool.since = state, self._now()

    def _note(self, key: str, text: str) -> None:
        if key in self._noted:
            return
        self._noted.add(key)
        if self._events is None:  # before the first poll: delivered then
            self._pending_notes.append(text)
            return
        self._events.on_note(text)
