"""The ``sagemaker`` scheduler's pools (slots), and what holds them after a trial: releasing every warm
pool when the job ends, and adopting or stopping what a runner that died left behind."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.backends import EventLog, TrialEvents
from jupyter_hpo.exceptions import BackendError
from jupyter_hpo.sagemaker import clients as _clients
from jupyter_hpo.sagemaker import handover as _handover
from jupyter_hpo.sagemaker.errors import EXPIRED, error_code, explain_client_error
from jupyter_hpo.sagemaker.outcome import TRAINING_DONE, describe_outcome_attrs, startup_seconds

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.clients import Clients
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

__all__ = ["Pool", "PoolRelease"]


@dataclass
class Pool:
    """One slot of the scheduler: the warm pool (or none yet) its trials run on."""

    id: str
    state: str = "empty"  # empty | running | draining | available | disabled | orphan
    job: str | None = None  # the training job on it now, or the last one
    since: float = 0.0
    expires: float = 0.0


class PoolRelease:
    """Releasing the job's warm pools, handing them to a campaign's next job, telling which pool a trial landed
    on, and adopting a dead runner's (mixed into the ``sagemaker`` backend)."""

    spec: TuningSpec
    opts: SageMakerOptions
    clients: Clients | None
    pools: list[Pool]
    keep_alive: int
    released: list[str]
    unreleased: list[str]
    handed_on: list[str]
    _stopping_all: bool
    inherited: list[str]
    #: the cold start-up measured by the job whose pools this one took (:meth:`inherit`); None without
    inherited_cold_s: float | None = None
    retained: dict[str, float]
    expired: list[str]
    finished: list[dict[str, Any]]
    cancelled: set[str]
    _next_poll: float
    _reuse_round: float
    _reuse_by: dict[str, str]
    _recovered: dict[str, str]
    _owns_clients: bool
    _events: TrialEvents | None

    def recover(self, trials: list[Any]) -> None:
        """Remember the last training job of each pool, to stop it if it still runs and adopt its pool."""
        self._recovered = _last_job_per_pool(trials)

    def _adopt_recovered(self) -> None:
        for pool_id, job in self._recovered.items():
            try:
                desc = self.clients.sagemaker.describe_training_job(TrainingJobName=job)
                if desc["TrainingJobStatus"] == "InProgress":  # its trial is re-run; don't pay for both
                    self._stop(job)
                    self._note(f"orphan-{job}", f"stopped training job {job}, left running by the previous runner; "
                                                "its trial is run again.")
            except Exception as e:  # noqa: BLE001 - a pool we cannot see is one we cannot reuse
                if error_code(e) in EXPIRED:
                    raise BackendError(explain_client_error(e, self.opts)) from None
                continue
            pool = next((p for p in self.pools if p.id == pool_id and p.state == "empty"), None)
            pool = pool or next((p for p in self.pools if p.state == "empty"), None)
            if pool is not None:  # reused like any pool whose job just ended
                pool.job = job
                self._set(pool, "draining")
            else:  # more pools than max_parallel now: never used, only released
                self.pools.append(Pool(f"orphan-{len(self.pools) + 1}", state="orphan", job=job))

    @classmethod
    def release_orphans(cls, spec: TuningSpec, trials: list[Any]) -> list[str]:
        """Stop training jobs and release warm pools that a dead runner left behind (``Job.stop``)."""
        backend = cls(spec, Path("."))
        backend.recover(trials)
        if not backend._recovered:
            return []
        backend.clients = _clients.make_clients(backend.opts)
        backend._owns_clients = True
        backend._events = events = EventLog()
        notes = events.notes
        try:
            backend._adopt_recovered()
            backend.close()
        except BackendError as e:
            notes.append(str(e))
        released = backend.released
        if released:
            notes.append(f"released the warm pools of {', '.join(released)} left by the runner that died.")
        return notes


    def close(self, release: bool | None = None) -> None:
        """Release every warm pool the job holds (keep-alive 0), waiting briefly for stopping jobs.

        ``release=False`` hands them on instead (a campaign's next job on the same instances): they stay
        Available for their keep-alive, and the next job's matching training jobs start warm on them. The
        default: hand them on when the process runs a campaign (:mod:`jupyter_hpo.sagemaker.handover`) and
        the job ended by itself, else release them.
        """
        if self.clients is None:
            return
        handover = _handover.current() if self.keep_alive else None
        if release is None:
            release = handover is None or self._stopping_all
        passed_on = False
        try:
            if release:
                self._release_all()
            else:
                self._settle(self.expired)
                kept = self._available_pools() + self._leftover_inherited()  # handed-over ones no trial took, too
                self.handed_on = kept
                if kept:  # whether a next job follows is the campaign's to know
                    self._note("handed-on", f"kept the warm pools of {', '.join(kept)} for the campaign's next job on "
                                            f"the same instances (they end after {self.keep_alive} s unused, or when "
                                            "the campaign ends).")
                if handover is not None:
                    handover.leave(_handover.pool_key(self.opts), kept, self.clients, self._owns_clients,
                                   self.spec.name, self.cold_startup_s())
                    passed_on = True
        finally:
            if self._owns_clients and self.clients.sim is not None and not passed_on:
                self.clients.sim.close()  # a dry run: stop the simulated containers, remove their files

    def inherit(self, training_jobs: list[str], cold_s: float | None = None) -> None:
        """Take over the warm pools an earlier job handed on (its ``handed_on``): SageMaker puts this job's
        matching trials on them, and each such trial counts as warm, its pool's idle time billed here. ``cold_s``:
        the cold start-up that earlier job measured, what this job's start-up saved counts when none of its trials
        starts cold.

        A pool that ended unused before this job started (its keep-alive ran out) is not taken: the note says so,
        and its idle time, which SageMaker bills, counts here (it counted nowhere, and the note claimed the pool)."""
        jobs, ended = [j for j in training_jobs if j], []
        self.inherited_cold_s = cold_s
        for job in list(jobs) if self.clients is not None else []:
            try:
                status = (self.clients.sagemaker.describe_training_job(TrainingJobName=job).get("WarmPoolStatus")
                          or {}).get("Status")
            except Exception as e:  # noqa: BLE001 - not known: taken, as before (a trial finds out)
                if error_code(e) in EXPIRED:
                    raise BackendError(explain_client_error(e, self.opts)) from None
                continue
            if status == "Terminated":
                jobs.remove(job)
                ended.append(job)
        self.inherited = jobs
        if jobs:
            self._note("inherited", f"took over the warm pools of {', '.join(jobs)} from the campaign's earlier job")
        if ended:
            self._settle(ended)
            self._note("inherited-ended", f"the warm pools of {', '.join(ended)}, left by the campaign's earlier job, "
                                          "had ended unused before this job started (their keep-alive ran out): "
                                          "their idle time counts in this job's cost")

    def cold_startup_s(self) -> float | None:
        """The mean start-up of this job's trials that started cold; with none, the one its pools' job measured."""
        cold = [startup_seconds(a.get("phases_s") or {}) for a in self.finished if not a.get("reused_pool_of")]
        cold = [c for c in cold if c is not None]
        return sum(cold) / len(cold) if cold else self.inherited_cold_s

    def reused_cold(self) -> dict[str, float]:
        """``reused_cold_s`` for the job's summary when every trial started warm on pools handed over from an
        earlier job (a campaign), as the local backend says it of workers handed over: the job's start-up saved
        (:func:`jupyter_hpo.records.summarize`) counts against that cold start."""
        own = [a for a in self.finished if not a.get("reused_pool_of")]
        return {} if own or self.inherited_cold_s is None else {"reused_cold_s": self.inherited_cold_s}

    def _reused(self, run: Any) -> str | None:
        """The job whose warm pool ``run`` really landed on (some job's ``ReusedByJob`` names it), or None.

        SageMaker picks any matching ``Available`` pool, not necessarily the one the scheduler had
        in mind, and it puts a trial the scheduler started cold on one as well: every pool this job's trials
        reused is listed (one paged call per poll round) whatever the scheduler intended.
        """
        if self.keep_alive <= 0:  # this job keeps no pools: only a handed-on one can have been reused
            return self._reused_inherited(run)
        if self._reuse_round != self._next_poll:
            self._reuse_round = self._next_poll
            self._reuse_by = {}
            kwargs: dict[str, Any] = {"NameContains": self.spec.name[:44].rstrip("-"),
                                      "WarmPoolStatusEquals": "Reused", "MaxResults": 100}
            try:
                for _ in range(100):
                    page = self.clients.sagemaker.list_training_jobs(**kwargs)
                    for summary in page.get("TrainingJobSummaries", []):
                        pool = summary.get("WarmPoolStatus") or {}
                        if pool.get("ReusedByJob"):  # any job's pool may take this job's trial
                            self._reuse_by[pool["ReusedByJob"]] = summary["TrainingJobName"]
                        if (pool.get("ResourceRetainedBillableTimeInSeconds") is not None
                                and self._own(summary["TrainingJobName"])):  # idle time: the keeper's cost
                            self.retained[summary["TrainingJobName"]] = float(
                                pool["ResourceRetainedBillableTimeInSeconds"])
                    if not page.get("NextToken"):
                        break
                    kwargs["NextToken"] = page["NextToken"]
            except Exception as e:
                if error_code(e) in EXPIRED:
                    raise
                return run.previous_job
        return self._reuse_by.get(run.job) or self._reused_inherited(run)

    def _reused_inherited(self, run: Any) -> str | None:
        """The handed-on pool (:meth:`inherit`) ``run`` landed on, from its training job's ``ReusedByJob``."""
        for job in list(self.inherited):
            try:
                pool = self.clients.sagemaker.describe_training_job(TrainingJobName=job).get("WarmPoolStatus") or {}
            except Exception as e:
                if error_code(e) in EXPIRED:
                    raise
                continue
            if pool.get("Status") == "Terminated" and not pool.get("ReusedByJob"):
                self.inherited.remove(job)  # ended unused: its idle time, billed, counts here
                if pool.get("ResourceRetainedBillableTimeInSeconds") is not None:
                    self.retained[job] = float(pool["ResourceRetainedBillableTimeInSeconds"])
                continue
            if pool.get("ReusedByJob") == run.job:
                self.inherited.remove(job)
                if pool.get("ResourceRetainedBillableTimeInSeconds") is not None:
                    self.retained[job] = float(pool["ResourceRetainedBillableTimeInSeconds"])
                return job
        return None

    def _available_pools(self) -> list[str]:
        """This job's training jobs whose warm pool is Available now, as SageMaker lists them (it puts a trial on
        any matching pool, so the slots' own record can be stale); the slots' record if the listing fails."""
        kwargs: dict[str, Any] = {"NameContains": self.spec.name[:44].rstrip("-"), "WarmPoolStatusEquals": "Available",
                                  "MaxResults": 100}
        found: list[str] = []
        try:
            for _ in range(100):
                page = self.clients.sagemaker.list_training_jobs(**kwargs)
                found += [j["TrainingJobName"] for j in page.get("TrainingJobSummaries", [])
                          if self._own(j["TrainingJobName"])]
                if not page.get("NextToken"):
                    return found
                kwargs["NextToken"] = page["NextToken"]
        except Exception as e:  # noqa: BLE001 - fall back on what the slots recorded
            if error_code(e) in EXPIRED:
                raise BackendError(explain_client_error(e, self.opts)) from None
        return [p.job for p in self.pools if p.job and p.state in ("draining", "available")]

    def _own(self, training_job: str) -> bool:
        """Whether ``training_job`` is one of this job's (``<name>-<trial>-<hex>``, as ``training_job_name``
        makes them), not another job's whose name contains this one's (``credit-xgb`` for ``xgb``)."""
        prefix = re.escape(self.spec.name[:44].rstrip("-"))
        return re.fullmatch(rf"{prefix}-\d{{5,}}-[0-9a-f]{{6}}", training_job) is not None

    def _release_all(self) -> None:
        """Release the pools the slots hold, then any other of this job's pools SageMaker lists as Available:
        it puts a trial on any matching pool, so a slot's record can miss one that is still kept (and billed)."""
        self._release_slots()
        missed = [job for job in self._available_pools() if job not in self.released and job not in self.unreleased]
        missed += self._leftover_inherited()  # handed over from an earlier job, and no trial of this one took them
        self._settle(self.expired)
        for job in missed:
            try:
                self.clients.sagemaker.update_training_job(TrainingJobName=job,
                                                           ResourceConfig={"KeepAlivePeriodInSeconds": 0})
                self.released.append(job)
                if job in self.inherited:  # its idle time: no slot of this job read it
                    self._settle([job])
            except Exception as e:  # noqa: BLE001 - report what could not be released, keep going
                self.unreleased.append(job)
                self._note(f"release-{job}", f"could not release the warm pool of {job}: "
                                             f"{explain_client_error(e, self.opts)} It terminates by itself after "
                                             f"its keep-alive of {self.keep_alive} s.")

    def _leftover_inherited(self) -> list[str]:
        """The pools handed over from an earlier job (:meth:`inherit`) that no trial of this job landed on: those
        still Available, to release or hand on with this job's own; the idle time of those that ended unused is
        read (it counts here). They were neither: they idled to the end of their keep-alive, billed to no job."""
        live = []
        for job in self.inherited:
            try:
                pool = self.clients.sagemaker.describe_training_job(TrainingJobName=job).get("WarmPoolStatus") or {}
            except Exception as e:  # noqa: BLE001 - not known: left to its keep-alive
                if error_code(e) in EXPIRED:
                    raise BackendError(explain_client_error(e, self.opts)) from None
                continue
            if pool.get("Status") == "Available":
                live.append(job)
            elif not pool.get("ReusedByJob"):
                self._settle([job])
        return live

    def _expire(self, pool: Pool) -> None:
        """The slot's pool ended (or is about to) without another trial: the slot is free, and the pool's idle time,
        which SageMaker bills, is read at the job's end (:meth:`_settle`); the slot forgets the pool when it takes
        the next trial."""
        if pool.job and pool.job not in self.expired:
            self.expired.append(pool.job)
        self._set(pool, "empty")

    def _settle(self, jobs: list[str]) -> None:
        """Read the idle time SageMaker billed for the pools of ``jobs`` (pools that ended unused, which no slot
        holds any more): it counts in ``retained_billable_s`` and the job's cost."""
        for job in jobs:
            if job in self.retained:
                continue
            try:
                warm = self.clients.sagemaker.describe_training_job(TrainingJobName=job).get("WarmPoolStatus") or {}
            except Exception as e:  # noqa: BLE001 - a figure left out; the release goes on
                if error_code(e) in EXPIRED:
                    raise BackendError(explain_client_error(e, self.opts)) from None
                continue
            if warm.get("ResourceRetainedBillableTimeInSeconds") is not None:
                self.retained[job] = float(warm["ResourceRetainedBillableTimeInSeconds"])

    def _release_slots(self) -> None:
        deadline = self._now() + self.opts.warm_wait_s
        todo = [p for p in self.pools if p.job and p.state in ("draining", "available", "running", "orphan")]
        while todo:
            left = []
            for pool in todo:
                try:
                    if not self._release(pool):
                        left.append(pool)
                except Exception as e:  # noqa: BLE001 - report what could not be released, keep going
                    self.unreleased.append(pool.job)
                    self._note(f"release-{pool.job}", f"could not release the warm pool of {pool.job}: "
                                                      f"{explain_client_error(e, self.opts)} It terminates by "
                                                      f"itself after its keep-alive of {self.keep_alive} s.")
            todo = left
            if not todo:
                break
            if self._now() >= deadline:
                self.unreleased.extend(p.job for p in todo)
                self._note("release-timeout", f"warm pools of {', '.join(p.job for p in todo)} were not "
                                              f"released within {self.opts.warm_wait_s:g} s; they terminate "
                                              f"after their keep-alive of {self.keep_alive} s.")
                break
            self.clients.clock.sleep(min(self.opts.poll_s, 5.0))

    def _release(self, pool: Pool) -> bool:
        """True once ``pool`` holds nothing that bills (released, terminated, or never kept)."""
        desc = self.clients.sagemaker.describe_training_job(TrainingJobName=pool.job)
        warm = desc.get("WarmPoolStatus") or {}
        if pool.job in self.cancelled and desc["TrainingJobStatus"] in TRAINING_DONE:  # stopped with the job
            self.cancelled.discard(pool.job)
            self.finished.append(describe_outcome_attrs(desc, self.opts))
        if warm.get("ResourceRetainedBillableTimeInSeconds") is not None:
            self.retained[pool.job] = float(warm["ResourceRetainedBillableTimeInSeconds"])
        if warm.get("Status") == "Available":
            self.clients.sagemaker.update_training_job(TrainingJobName=pool.job,
                                                       ResourceConfig={"KeepAlivePeriodInSeconds": 0})
            self.released.append(pool.job)
            self._set(pool, "empty")
            return True
        if desc["TrainingJobStatus"] not in TRAINING_DONE:
            return False
        if warm.get("Status") in ("Terminated", "Reused") or self.keep_alive == 0:
            self._set(pool, "empty")
            return True
        return False  # finished, but its pool is not Available yet


def _last_job_per_pool(trials: list[Any]) -> dict[str, str]:
    """``{pool id: training job}`` of the latest trial on each pool (trials in number order)."""
    last: dict[str, str] = {}
    for t in sorted(trials, key=lambda t: t.number):
        attrs = getattr(t, "user_attrs", {}) or {}
        job = (attrs.get("sagemaker") or {}).get("training_job")
        if attrs.get("worker") and job:
            last[attrs["worker"]] = job
    return last
