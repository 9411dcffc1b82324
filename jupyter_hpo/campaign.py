"""Campaigns: several tuning jobs run as one unit, by one runner process that hands its warm pool on.

``campaign([spec, ...])`` validates every job spec first (one invalid spec refuses the whole campaign, and
nothing is created), creates the jobs, each recording its campaign (the ``campaign`` job attribute), and
starts one campaign runner (``python -m jupyter_hpo.runner --campaign NAME JOB...``) that runs them in order,
``parallel_jobs`` at a time. Its local workers pass from a finished job to the next whose objective
environment matches (:mod:`jupyter_hpo.backends._local`), for ``keep_alive_s`` at most, and are all ended
when the campaign ends. A ``sagemaker`` job that ends by itself leaves its Available warm pools to the next
``sagemaker`` job on the same instances (:mod:`jupyter_hpo.sagemaker.handover`; for the pools' own keep-alive),
and the pools left when the campaign ends are released.

Example:
    >>> import jupyter_hpo as hpo
    >>> c = hpo.campaign(["a.yaml", "b.yaml"], name="credit")  # doctest: +SKIP
    >>> c.wait(); c.summary()["best"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_hpo.exceptions import (
    HpoError,
    JobNotFoundError,
    JobStateError,
    SpecError,
    StoreError,
    StoreReadOnlyError,
)
from jupyter_hpo.records import CAMPAIGN, better
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus, Store

__all__ = ["DEFAULT_KEEP_ALIVE_S", "Campaign", "attach_campaign", "campaign", "summarize_campaign",
           "summarize_campaigns"]

log = logging.getLogger("jupyter_hpo.campaign")

#: how long a finished job's idle workers wait for the campaign's next job before they are ended
DEFAULT_KEEP_ALIVE_S = 300.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _label(item: Any, i: int) -> str:
    return str(item) if isinstance(item, (str, os.PathLike)) else f"spec #{i + 1}"


def _load(item: Any) -> TuningSpec:
    if isinstance(item, TuningSpec):
        return item
    if isinstance(item, (str, os.PathLike)):
        return TuningSpec.from_file(item)
    if isinstance(item, Mapping):
        return TuningSpec.from_dict(dict(item))
    raise SpecError(f"a job spec must be a YAML path, a dict or a TuningSpec, but got a {type(item).__name__}.")


def _check_options(specs: Sequence[Any], parallel_jobs: Any, name: Any, keep_alive_s: Any) -> None:
    if isinstance(specs, (str, os.PathLike, Mapping)) or not isinstance(specs, Sequence) or not specs:
        raise SpecError(f"a campaign takes a non-empty list of job specs, but got {specs!r}.")
    if isinstance(parallel_jobs, bool) or not isinstance(parallel_jobs, int) or parallel_jobs < 1:
        raise SpecError(f"`parallel_jobs` must be an integer >= 1, but got {parallel_jobs!r}.")
    if isinstance(keep_alive_s, bool) or not isinstance(keep_alive_s, (int, float)) or not 0 <= keep_alive_s < 1e7:
        raise SpecError(f"`keep_alive_s` must be a number of seconds >= 0 (0: no pool is kept), but got {keep_alive_s!r}.")
    if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
        raise SpecError(f"a campaign name must be 1-100 letters, digits, '.', '_' or '-', but got {name!r}.")


def _validate(specs: Sequence[Any], store: Store, parallel_jobs: int = 1) -> list[TuningSpec]:
    """Every spec loaded, prepared and checked; the first problem refuses the campaign, naming the spec. A job may
    warm-start from an earlier job of the campaign when the jobs run one at a time (it has ended by then)."""
    from jupyter_hpo.backends import backend_class

    out: list[TuningSpec] = []
    existing = set(store.job_names())
    names: list[str | None] | None = None  # every spec's job name, read once when a warm start needs them
    for i, item in enumerate(specs):
        label = _label(item, i)
        try:
            spec = _load(item)
            if spec.backend not in ("local", "sagemaker"):
                raise SpecError(f"campaigns run on the local and sagemaker backends, but its backend is "
                                f"{spec.backend!r} (AMT keeps nothing across tuning jobs)")
            spec = backend_class(spec.backend).prepare(spec)
            if spec.warm_pool.keep_alive_s:
                raise SpecError("`warm_pool.keep_alive_s` keeps a job's runner for the next launch, and a campaign "
                                "runs its jobs in a runner of its own: its `keep_alive_s` keeps their workers")
            if spec.mlflow is not None:
                from jupyter_hpo.mlflow_tracking import prepare

                spec = prepare(spec)
            if spec.warm_start and names is None:
                names = [_name_of(x) for x in specs]
            for source in spec.warm_start:
                _check_source(source, existing, [s.name for s in out], (names or [])[i + 1:], parallel_jobs)
            if spec.name in existing:
                raise SpecError(f"a job named {spec.name!r} already exists in the store; give each job its own name")
            if any(s.name == spec.name for s in out):  # it read as if the job were in the store
                raise SpecError(f"an earlier spec of this campaign is also named {spec.name!r}; give each job its "
                                "own name")
        except HpoError as e:
            raise SpecError(f"campaign refused: {label}: {str(e).rstrip('.')}.") from None
        out.append(spec)
    return out


def _check_source(source: str, existing: set[str], earlier: list[str], later: list[str | None],
                  parallel_jobs: int) -> None:
    """A job's ``warm_start.from`` in a campaign: a job in the store, or an earlier job of the campaign when its
    jobs run one at a time."""
    if source in existing:
        return
    if source in earlier and parallel_jobs > 1:
        raise SpecError(f"`warm_start.from` names {source!r}, an earlier job of this campaign, which may still run "
                        f"when this one starts (parallel_jobs={parallel_jobs}): its sampler would take only the "
                        "trials finished by then; run the campaign with parallel_jobs 1, or warm-start from a job "
                        "that has ended")
    if source in later:
        raise SpecError(f"`warm_start.from` names {source!r}, a later job of this campaign, which has not run when "
                        "this one starts; put it before this job")
    if source not in earlier:
        raise SpecError(f"`warm_start.from` names {source!r}, which is not a job in the store nor an earlier job of "
                        "this campaign")


def _name_of(item: Any) -> str | None:
    """The job name a campaign's spec gives (None when it cannot be loaded)."""
    try:
        return _load(item).name
    except Exception:  # noqa: BLE001 - it is checked, and refused with its reason, in its own turn
        return None


def campaign(specs: Sequence[TuningSpec | Mapping[str, Any] | str | os.PathLike[str]], parallel_jobs: int = 1,
             name: str | None = None, keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
             store: Store | str | None = None) -> Campaign:
    """Run several local jobs as one campaign (see the module docstring); returns at once.

    Args:
        specs: the jobs, in order: YAML paths, dicts of the YAML schema or :class:`TuningSpec` objects.
        parallel_jobs: how many of them run at the same time.
        name: the campaign's name (default ``campaign-<6 hex>``).
        keep_alive_s: how long idle workers wait for the next job (0: every job starts its own pool, and a
            sagemaker job releases its warm pools at its end instead of handing them on).
        store: a :class:`Store` or URL; default :func:`jupyter_hpo.api.open_store`.

    Raises:
        SpecError: an option or a job spec is invalid (nothing is created); the message names the spec.
        JobStateError: a campaign of that name exists.
    """
    from jupyter_hpo.api import _start, open_store

    st = store if isinstance(store, Store) else open_store(store)
    _check_options(specs, parallel_jobs, name, keep_alive_s)
    name = name or f"campaign-{uuid.uuid4().hex[:6]}"
    loaded = _validate(specs, st, parallel_jobs)
    created: list[str] = []
    mine = uuid.uuid4().hex  # tells this campaign's jobs from those of another started under its name at once
    try:
        # the name is checked and its jobs made under a lock on the name that every process using the store
        # shares: two users starting one name at once both found it free and both went on, as one campaign
        with st.lock(f"campaign {name}"):
            if _members(st, name):
                raise JobStateError(f"a campaign named {name!r} already exists; choose another name.")
            for i, spec in enumerate(loaded):
                info = {"name": name, "index": i, "parallel_jobs": parallel_jobs,
                        "keep_alive_s": float(keep_alive_s), "id": mine}
                created.append(_start(spec, st, {CAMPAIGN: info}, run=False).name)
            _refuse_if_another_took(st, name, mine, created)  # a store no lock reaches (another file system)
        Campaign(name, st)._spawn(created)
    except BaseException:
        for job in created:  # nothing half-created
            st.delete_job(job)
            shutil.rmtree(st.job_dir(job), ignore_errors=True)
        raise
    return Campaign(name, st)


def _refuse_if_another_took(store: Store, name: str, mine: str, created: list[str]) -> None:
    """Raise JobStateError when another campaign of this name (started at the same moment, by another user, say:
    both found the name free) created a job before this one did. Each checks once its jobs exist, and the one whose
    first job the store created first (the lower study id, which the database assigns) keeps the name, so exactly
    one goes on; the other's jobs are deleted by the caller. Two such campaigns merged into one before."""
    others = [job for job, attrs in store.all_job_attrs().items()
              if isinstance(attrs.get(CAMPAIGN), dict) and attrs[CAMPAIGN].get("name") == name
              and attrs[CAMPAIGN].get("id") != mine]
    if others and min(map(store.study_id, others)) < min(map(store.study_id, created)):
        raise JobStateError(f"a campaign named {name!r} already exists; choose another name.")


def attach_campaign(name: str, store: Store | str | None = None) -> Campaign:
    """The campaign called ``name``.

    Raises:
        JobNotFoundError: no job belongs to such a campaign.
    """
    from jupyter_hpo.api import open_store

    st = store if isinstance(store, Store) else open_store(store)
    if not _members(st, name):
        raise JobNotFoundError(f"no campaign named {name!r}; `jupyter hpo list` shows each job's campaign.")
    return Campaign(name, st)


def _members(store: Store, name: str) -> list[str]:
    """The campaign's job names, in their order."""
    return _members_of(store.all_job_attrs(), name)


def _members_of(every: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    """The job names of campaign ``name`` among ``every`` (name -> attributes), in their order."""
    found = []
    for job, attrs in every.items():
        info = attrs.get(CAMPAIGN)
        if isinstance(info, dict) and info.get("name") == name:
            found.append((info.get("index", 0), job))
    return [job for _, job in sorted(found)]


class Campaign:
    """A campaign in the store: its jobs are the jobs whose ``campaign`` attribute names it.

    Example:
        >>> c = attach_campaign("credit")  # doctest: +SKIP
        >>> c.status, [j.name for j in c.jobs]  # doctest: +SKIP
    """

    def __init__(self, name: str, store: Store) -> None:
        self.name, self.store = name, store
        #: after :meth:`resume`: the jobs it resumed, and those it left as they were, with why
        self.resumed: list[str] = []
        self.skipped: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Campaign({self.name!r}, status={self.status!r}, jobs={len(self.job_names)})"

    @property
    def notes(self) -> list[str]:
        """What the last :meth:`resume` left as it was, one line per job, as the CLI and ``%hpo`` print it."""
        return [f"note: job {job} is not resumed: {why}" for job, why in self.skipped.items()]

    @property
    def job_names(self) -> list[str]:
        return _members(self.store, self.name)

    @property
    def jobs(self) -> list[Any]:
        from jupyter_hpo.api import Job

        return [Job(n, self.store) for n in self.job_names]

    @property
    def status(self) -> str:
        """running while a job is pending or running; else failed, stopped or completed (the worst of its jobs)."""
        return _worst([Store.status_of(self.store.job_attrs(n)).value for n in self.job_names])

    def summary(self) -> dict[str, Any]:
        """Jobs, trials, warm share, start-up saved, cost and the best job and trial: see
        :func:`summarize_campaign`."""
        # the status too comes from this one read of each job, so it never disagrees with the job rows; an ended
        # job is summarized as `jupyter hpo list` does, from a few figures per trial (784 statements for a
        # campaign of 60 ended jobs, each read whole)
        from jupyter_hpo.api import job_summaries

        every = self.store.all_job_attrs()
        mine = {n: every[n] for n in _members_of(every, self.name)}
        summaries = job_summaries(self.store, mine)
        return summarize_campaign(self.name, [summaries[n] for n in mine])

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> str:
        """Block until every job has finished; return the campaign's status."""
        from jupyter_hpo.exceptions import JobTimeoutError

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            statuses = [self.store.watch_status(n) for n in self.job_names]
            if all(s.is_finished() for s in statuses):
                return self.status
            if deadline is not None and time.monotonic() > deadline:
                raise JobTimeoutError(f"campaign {self.name!r} is still running after {timeout:g} s")
            time.sleep(poll)

    def check_may_act(self, action: str, force: bool, me: Mapping[str, Any] | None = None,
                      flag: str = "--force") -> None:
        """Raise JobStateError when a job of the campaign belongs to someone other than ``me`` (default: this
        process's user) and ``force`` is not given: acting on a campaign acts on each of its jobs, so each is
        checked as ``jupyter hpo stop JOB`` checks one (:func:`jupyter_hpo.owners.check_may_act`)."""
        from jupyter_hpo.owners import check_may_act

        for name in self.job_names:
            check_may_act(name, self.store.job_attrs(name), action, force, me=me, flag=flag)

    def stop(self, wait: bool = True, timeout: float = 60.0, by: Mapping[str, Any] | None = None) -> str:
        """Stop the campaign: its running jobs stop (their running trials re-run on resume), the jobs not yet
        started are marked stopped and its runner ends, ending its pool. ``by``: who stops it (default: this
        process's user, :func:`jupyter_hpo.owners.stamp`), recorded as each job's ``stopped_by``."""
        from jupyter_hpo.owners import stamp

        by = dict(by) if by is not None else stamp()
        try:
            for name in self.job_names:
                attrs = self.store.job_attrs(name)
                # not started yet: taken only if its runner has not just taken it, else it is stopped as a running
                # job below (a plain write here marked a running job stopped, and wait() returned while it ran)
                if Store.status_of(attrs) == JobStatus.PENDING:
                    self.store.claim_job(name, attrs.get("status"), stop_requested=True, stopped_by=by,
                                         status="stopped", reason="stopped with its campaign before it started",
                                         ended=time.time())
            for job in self.jobs:
                status = job.store.watch_status(job.name)
                if status.is_active() or status == JobStatus.STALE:
                    job.stop(wait=False, by=by)
        except StoreError as e:
            # the requests cannot be written: a signal to its runner on this machine stops the whole campaign,
            # which is what was asked (a store this user may only read refuses, as it would from anywhere)
            if isinstance(e, StoreReadOnlyError) or not self._signal_runner():
                raise
            log.warning("campaign %s: the stop could not be written to the store; its runner was signalled",
                        self.name)
        if wait:
            self.wait(timeout)
        return self.status

    def _signal_runner(self) -> bool:
        """SIGTERM to the campaign's runner when it lives on this machine (it stops the whole campaign); True if
        sent."""
        from jupyter_hpo.runner.handle import RunnerHandle

        for name in self.job_names:
            runner = self.store.job_attrs(name).get("runner") or {}
            if runner.get("shared") == "campaign" and RunnerHandle(self.store, name).signal(runner):
                return True
        return False

    def resume(self, by: Mapping[str, Any] | None = None) -> Campaign:
        """Run the jobs that have not completed (stopped, failed, or left by a dead runner) in one new runner.
        ``by``: who resumes it (default: this process's user), recorded as each job's ``resumed_by``.

        Raises:
            JobStateError: the campaign is still running, or every job has completed.
        """
        from jupyter_hpo.owners import stamp

        names = self.job_names
        statuses = {n: self.store.watch_status(n) for n in names}
        stored = {n: self.store.job_attrs(n).get("status") for n in names}  # as judged: what a claim expects
        if any(s.is_active() for s in statuses.values()):
            raise JobStateError(f"campaign {self.name!r} is running; it cannot be resumed while its runner runs.")
        todo = [n for n in names if statuses[n] != JobStatus.COMPLETED]
        if not todo:
            raise JobStateError(f"campaign {self.name!r} has completed every job; there is nothing to resume.")
        # a job whose resume would run nothing (a failed job whose budget is spent, say) is left as it is, with
        # the reason, as `jupyter hpo resume JOB` refuses it: it ran again, failed at once, and lost its last error
        from jupyter_hpo.api import Job

        self.skipped = {}
        for n in list(todo):
            try:
                Job(n, self.store).check_resumable(statuses[n], self.store.job_attrs(n), None)
            except JobStateError as e:
                self.skipped[n] = str(e)
                todo.remove(n)
        if not todo:
            raise JobStateError(f"campaign {self.name!r} has nothing to resume: "
                                + " ".join(self.skipped.values()))
        by = dict(by) if by is not None else stamp()
        taken = []
        for n in todo:
            if statuses[n] == JobStatus.STALE:
                from jupyter_hpo.runner.handle import RunnerHandle

                RunnerHandle(self.store, n).end_hung()
            # each job taken only if no one resumed or stopped it meanwhile (Job.resume takes it the same way): of
            # two users resuming the campaign at once, one runs it and the other is told; both started a runner
            if self.store.claim_job(n, stored[n], status="pending", reason="",
                                    stop_requested=False, resumed_by=by, heartbeat=time.time(), runner={},
                                    spawned={}):  # a dead pid of the job's own last runner read it stale at once
                taken.append(n)
            elif not taken:  # its first job: another resume of the campaign is under way
                raise JobStateError(f"campaign {self.name!r} changed while this resume was under way (job {n!r} "
                                    f"is {self.store.watch_status(n).value} now); nothing was done.")
            # else that job alone was resumed meanwhile: its own runner runs it
        self._spawn(taken)
        self.resumed = taken
        return self

    def _spawn(self, jobs: list[str]) -> int:
        """Start the campaign's runner for ``jobs`` detached from this process; return its pid."""
        from jupyter_hpo.runner import start_detached

        home = self.store.home
        log_dir = home / "campaigns"
        log_dir.mkdir(parents=True, exist_ok=True)
        cwd = self.store.job_attrs(jobs[0]).get("cwd") or os.getcwd()
        run_dir = cwd if os.path.isdir(cwd) else str(log_dir)
        return start_detached(["--campaign", self.name, *jobs], run_dir=run_dir, home=home,
                              store_url=self.store.url, log_path=log_dir / f"{self.name}.log", label=self.name)


def summarize_campaign(name: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """A campaign's summary from its jobs' summaries (:meth:`Job.summary`, as ``api.list_jobs`` gives them), in
    campaign order: its status (:func:`_worst` of theirs), jobs, how many of them ended (``done``: completed, stopped,
    failed or stale, as :meth:`JobStatus.is_finished`), trials, warm share, start-up saved, cost
    (SageMaker jobs; else None), and the best job and trial (strict-JSON-able). ``Campaign.summary()`` and the
    server's ``GET jobs`` both summarize here, so the sidebar shows what ``jupyter hpo campaign show`` prints.

    The best is taken among the jobs with the first job's metric and direction.
    """
    warm = sum(j["warm_starts"] for j in jobs)
    cold = sum(j["cold_starts"] for j in jobs)
    # the sum of what each job says it saved, so that the header adds up its rows (a campaign-wide mean cold
    # start-up gave 4.4 s over jobs that said 1.0 + 0.8 + 3.0 s, once their cold start-ups differed)
    each = [j["startup_saved_s"] for j in jobs if j.get("startup_saved_s") is not None]
    saved = sum(each) if each else None
    costs = [j["cost_usd"] for j in jobs if j.get("cost_usd") is not None]  # SageMaker jobs only
    best = None
    if jobs:
        metric, direction = jobs[0]["metric"], jobs[0]["direction"]
        for j in jobs:
            if j["best"] is None or j["metric"] != metric or j["direction"] != direction:
                continue
            if best is None or better(j["best"]["value"], best["value"], direction):
                best = {"job": j["name"], **j["best"]}
    return {
        "name": name,
        "status": _worst([j["status"] for j in jobs]),
        "metric": jobs[0]["metric"] if jobs else None,
        "direction": jobs[0]["direction"] if jobs else None,
        "jobs": [{k: j.get(k) for k in ("name", "status", "reason", "trials", "complete", "warm_starts",
                                        "cold_starts", "startup_saved_s", "cost_usd", "best")} for j in jobs],
        "done": sum(JobStatus(j["status"]).is_finished() for j in jobs),
        "trials": sum(j["trials"] for j in jobs),
        "complete": sum(j["complete"] for j in jobs),
        "warm_starts": warm,
        "cold_starts": cold,
        "warm_share": warm / (warm + cold) if warm + cold else None,
        "startup_saved_s": saved,
        "cost_usd": sum(costs) if costs else None,
        "best": best,
    }


def summarize_campaigns(jobs: list[dict[str, Any]], shown: list[dict[str, Any]] | None = None
                        ) -> dict[str, dict[str, Any]]:
    """The summary of every campaign that has a job in ``shown`` (default: in ``jobs``), by name, each from its
    jobs in ``jobs`` (job summaries, e.g. ``api.list_jobs()``) in campaign order. Pass every job of a campaign in
    ``jobs``: a summary covers only the jobs given; ``shown`` is what a filtered listing keeps of them."""
    members: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        if job.get(CAMPAIGN):
            members.setdefault(job[CAMPAIGN]["name"], []).append(job)
    wanted = {j[CAMPAIGN]["name"] for j in (jobs if shown is None else shown) if j.get(CAMPAIGN)}
    return {name: summarize_campaign(name, sorted(rows, key=lambda j: (j[CAMPAIGN]["index"], j["name"])))
            for name, rows in members.items() if name in wanted}


def _worst(statuses: list[str]) -> str:
    """A campaign's status from its jobs': running while one is pending or running; else the worst of them."""
    for status in ("running", "stopping", "pending", "stale", "failed", "stopped"):
        if status in statuses:
            return "running" if status in ("stopping", "pending") else status
    return "completed"
