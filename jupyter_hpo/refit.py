"""Refit: run a job's best parameters once more, on the job's backend, with ``trial.is_refit()`` True.

The trial's own code decides what a refit means; the credit example trains on the whole data set instead of
k folds and saves that model. The refit is a job of its own, ``<name>-refit``, of one trial:

* its attribute ``refit_of`` is ``{"job", "trial", "params", "seed"}``: the parent and the trial it repeats,
  whose seed it runs with; the parent's attribute ``refit`` names it;
* its trial's artifact is the refit model, which :func:`jupyter_hpo.artifacts.load_model` of the parent
  returns first;
* it runs with the parent's spec: no pruning (``early_stopping: off``), a budget of one trial, the parent's
  launch folder; a script (on any backend) also sees ``JUPYTER_HPO_REFIT=1`` in its environment;
* it is not judged on the parent's constraints, and of several objectives it needs only the first: the trial
  it repeats met them, and a refit on all the data may not be able to measure them again.

Example:
    >>> refit_job = jupyter_hpo.attach("credit-xgb").refit(wait=True)  # doctest: +SKIP
    >>> refit_job.name, refit_job.attrs["refit_of"]["trial"]  # doctest: +SKIP
    ('credit-xgb-refit', 17)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import JobNotFoundError, JobStateError
from jupyter_hpo.records import REFIT, REFIT_OF, SEED
from jupyter_hpo.trial import REFIT_ENV

if TYPE_CHECKING:
    from jupyter_hpo.api import Job

__all__ = ["refit", "refit_line", "refit_name"]

_SUFFIX = "-refit"


def refit_name(name: str, attempt: int = 1) -> str:
    """The refit job's name: ``<name>-refit`` (``<name>-refit-2`` for a second attempt...), the parent's name
    shortened to keep within 63 characters."""
    suffix = _SUFFIX if attempt == 1 else f"{_SUFFIX}-{attempt}"
    return name[: 63 - len(suffix)].rstrip("-") + suffix


def _child_spec(job: Job, name: str) -> dict[str, Any]:
    spec = copy.deepcopy(job.store.spec_here(job.name))
    spec["name"] = name
    spec["strategy"] = "random"  # the one trial is enqueued with the best parameters
    spec["early_stopping"] = "off"  # a refit is never pruned
    spec["budget"] = {**(spec.get("budget") or {}), "max_trials": 1, "max_parallel": 1}
    spec["completion"] = {}
    spec.pop("warm_start", None)
    spec.pop("artifacts", None)  # the default keeps the refit's one artifact (keep_best 0 on the parent too)
    # the trial it repeats was feasible and on the front; a refit trains on all the data, so it may not measure
    # what needs held-out data (a calibration error, a second objective): judged on them it failed, and lost its
    # model. It needs the first objective only; the other metrics it returns are kept as metrics.
    spec.pop("constraints", None)
    spec.pop("objectives", None)
    # not tracked live: with the parent's MLflow settings it logged a second parent run of the job's run name and a
    # "<run name>-0" run of another trial than the job's; `register` logs the refit's run under the job's parent run
    spec.pop("tracking", None)
    backend = spec.get("backend") or {}
    if backend.get("name") == "amt":
        raise JobStateError(f"job {job.name!r} ran on the amt backend, which follows a SageMaker tuning job and "
                            "cannot run one given trial: launch its best parameters with backend sagemaker instead.")
    if backend.get("name") != "local":  # a SageMaker container reads the flag from its environment
        options = backend.setdefault("options", {})
        options["environment"] = {**(options.get("environment") or {}), REFIT_ENV: "1"}
    return spec


def _current_refit(job: Job, best: int) -> Job | None:
    """The job's latest refit when it refits trial ``best`` and has not failed or been stopped."""
    from jupyter_hpo.api import Job as JobClass
    from jupyter_hpo.store import JobStatus

    name = job.attrs.get(REFIT)
    if not isinstance(name, str):
        return None
    try:
        latest = JobClass(name, job.store)
        origin = latest.attrs.get(REFIT_OF) or {}
    except JobNotFoundError:
        return None
    if origin.get("job") != job.name or origin.get("trial") != best:
        return None
    return None if latest.status in (JobStatus.FAILED, JobStatus.STOPPED) else latest


def refit(job: Job, *, wait: bool = False, timeout: float | None = None,
          by: Mapping[str, Any] | None = None) -> Job:
    """Launch the refit of ``job``'s best trial (see the module docstring) and return its job.

    Calling it again returns the same refit job while it refits the same best trial, unless that refit failed
    or was stopped: then a new attempt runs as ``<name>-refit-2`` (``-3``...), as it does when the best trial
    has changed (the job was resumed). The parent's ``refit`` names the latest.

    Args:
        job: a finished job with at least one complete trial.
        wait: block until the refit has finished.
        timeout: with ``wait``, the most seconds to wait.
        by: whose job the refit job is (its ``owner``; default: this process's user). The REST API passes the
            requester, so that a refit of another user's job shows who ran it.

    Raises:
        JobStateError: the job has no complete trial, is still running, or ran on the amt backend.
    """
    from jupyter_hpo.api import _start
    from jupyter_hpo.spec import TrialDef, TuningSpec

    status = job.status
    if status.is_active():
        raise JobStateError(f"job {job.name!r} is {status.value}; refit it once it has finished (its best "
                            "trial may still change).")
    best = job.best
    if best is None:
        from jupyter_hpo.records import no_best

        why = no_best(job.trial_records())  # no complete trial, or none feasible (all broke a constraint)
        raise JobStateError(f"job {job.name!r} has no complete trial to refit." if why == "no complete trial" else
                            f"job {job.name!r} has {why}, so there is nothing to refit.")
    existing = _current_refit(job, best["number"])
    if existing is not None:
        if wait:
            existing.wait(timeout)
        return existing
    taken, attempt = set(job.store.job_names()), 1
    # a name whose folder in this home is another store's job's (a refit of the job this one was copied from) is
    # taken too: refused there, it read as another user's refit and failed after 5 s, saying "choose another name"
    while refit_name(job.name, attempt) in taken or job.store.job_folder_taken(refit_name(job.name, attempt)):
        attempt += 1
    raw = next(t for t in job.raw_trials(after=best["number"] - 1) if t.number == best["number"])
    spec = TuningSpec.from_stored(_child_spec(job, refit_name(job.name, attempt)),
                                  job.store.job_dir(job.name))  # a function: the parent's pickle
    if spec.trial.function is not None:
        job.store.restore_objective(job.name)
        spec = spec.replace(trial=TrialDef(function=spec.trial.function.load(), timeout=spec.trial.timeout,
                                           hyperparameters=spec.trial.hyperparameters))
    origin = {"job": job.name, "trial": best["number"], "params": best["params"], "seed": raw.user_attrs.get(SEED)}
    attrs = job.attrs
    try:
        child = _start(spec, job.store, attrs={REFIT_OF: origin, "cwd": attrs.get("cwd")}, owner=by)
    except JobStateError:
        # another refit of this job took the name first (two users at once): the same refit, answered as such
        from jupyter_hpo.api import Job as JobClass

        origin_of: dict[str, Any] = {}
        for _ in range(50):  # the other refit writes its job's attributes just after creating it
            try:
                child = JobClass(spec.name, job.store)
                origin_of = child.attrs.get(REFIT_OF) or {}
            except JobNotFoundError:  # created, its attributes not written yet
                origin_of = {}
            if origin_of:
                break
            time.sleep(0.1)
        if {k: origin_of.get(k) for k in ("job", "trial")} != {"job": job.name, "trial": best["number"]}:
            raise
        if wait:
            child.wait(timeout)
        return child
    job.store.set_job_attrs(job.name, **{REFIT: child.name})
    if wait:
        child.wait(timeout)
    return child


@dataclass(frozen=True)
class StaleRefit:
    """A refit that is no longer the job's model: ``refit`` repeats trial ``trial`` of job ``job``, and trial
    ``best`` is the best now (the job was resumed and did better since). ``str()`` says so, with the way on."""

    job: str
    refit: str
    trial: Any
    best: int

    @property
    def why(self) -> str:
        return f"repeats trial {self.trial}, no longer the best (trial {self.best} is, from the trials run since)"

    def __str__(self) -> str:
        return (f"job {self.job!r} was refit as {self.refit!r}, which {self.why}: refit it again (`jupyter hpo refit "
                f"{self.job}`, job.refit())")


def outdated(job: Job) -> StaleRefit | None:
    """Whether ``job``'s latest refit repeats a trial that is not the best any more; None when there is no refit or
    it repeats the best. Loading, showing and registering "the job's model" gave that old refit, while
    ``job.best`` named another trial."""
    from jupyter_hpo.api import Job as JobClass

    name = job.attrs.get(REFIT)
    if not isinstance(name, str):
        return None
    try:
        origin = JobClass(name, job.store).attrs.get(REFIT_OF) or {}
    except JobNotFoundError:
        return None
    best = job.best
    if best is None or origin.get("trial") == best["number"]:
        return None
    return StaleRefit(job.name, name, origin.get("trial"), int(best["number"]))


def refit_line(job: Job) -> str | None:
    """What ``jupyter hpo show`` says of a job's refit (``refit: JOB``) or of a refit job (``refit of ...``)."""
    attrs = job.attrs
    origin = attrs.get(REFIT_OF)
    if isinstance(origin, dict):
        return f"refit of trial {origin.get('trial')} of job {origin.get('job')} (its best parameters, trial.refit)"
    if isinstance(attrs.get(REFIT), str):
        stale = outdated(job)
        if stale is not None:
            return f"refit: job {attrs[REFIT]}, not the job's model: {stale.why}"
        return f"refit: job {attrs[REFIT]} (its model: jupyter_hpo.artifacts.load_model, %hpo best --load)"
    return None
