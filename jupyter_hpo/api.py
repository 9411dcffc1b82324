"""The plain Python API every front door calls: launch, attach, list, stop, resume, results.

Example:
    >>> import jupyter_hpo as hpo
    >>> def objective(p):
    ...     return -(p["x"] - 1) ** 2
    >>> job = hpo.launch(objective=objective, space={"x": {"type": "float", "low": -3, "high": 3}},
    ...                  max_trials=10)  # doctest: +SKIP
    >>> job.wait().value, job.best["params"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import JobStateError, JobTimeoutError, SpecError, StoreError, StoreReadOnlyError
from jupyter_hpo.feed import TrialFeed, ended_summaries
from jupyter_hpo.owners import owner_name, stamp
from jupyter_hpo.records import (  # noqa: F401 - _cloud_record, _job_cost: moved there, importable from here
    COMPLETION_REASONS,
    NONFINITE,
    NOTES,
    RUNTIME_REASON,
    _cloud_record,
    grid_points,
    _job_cost,
    best_so_far,
    reruns_left,
    summarize,
    trial_record,
)
from jupyter_hpo.runner.handle import RunnerHandle
from jupyter_hpo.space import SearchSpace
from jupyter_hpo.spec import TuningSpec, load_spec_file
from jupyter_hpo.store import JobStatus, Store

if TYPE_CHECKING:
    import pandas as pd
    from optuna.trial import FrozenTrial

__all__ = ["launch", "attach", "attach_amt", "list_jobs", "compare", "estimate", "plan", "Job", "TrialFeed",
           "open_store"]

log = logging.getLogger(__name__)

# flat keyword -> (section, field) of the spec
_KWARGS = {
    "metric": ("objective", "metric"), "direction": ("objective", "direction"), "regex": ("objective", "regex"),
    "max_trials": ("budget", "max_trials"), "max_parallel": ("budget", "max_parallel"),
    "max_runtime": ("budget", "max_runtime"), "target": ("completion", "target"),
    "patience": ("completion", "patience"), "timeout": ("trial", "timeout"),
    "hyperparameters": ("trial", "hyperparameters"),
    "max_trials_per_worker": ("warm_pool", "max_trials_per_worker"),
    "max_memory_mb": ("warm_pool", "max_memory_mb"), "keep_alive_s": ("warm_pool", "keep_alive_s"),
}
_TOP = {"name", "strategy", "seed", "early_stopping", "backend", "hyperband", "max_consecutive_failures", "warm_start",
        "artifacts", "tracking", "constraints"}
_stores: dict[tuple[str | None, ...], Store] = {}


def open_store(url: str | None = None) -> Store:
    """The store at ``url`` (default: ``$JUPYTER_HPO_STORE_URL`` or SQLite in ``$JUPYTER_HPO_HOME``), opened once."""
    key = (url, os.environ.get("JUPYTER_HPO_STORE_URL"), os.environ.get("JUPYTER_HPO_HOME"))
    if key not in _stores:
        _stores[key] = Store(url)
    return _stores[key]


def _spec_from_kwargs(objective: Any, space: Any, options: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    single = [k for k in ("metric", "direction", "regex") if k in options]
    if "objectives" in options and single:  # in either order: one would silently replace the other
        given = ", ".join(f"{k}={options[k]!r}" for k in single)
        raise SpecError(f"`objectives=[...]` gives each objective's metric, direction and regex, so "
                        f"{', '.join(f'`{k}=`' for k in single)} cannot also be given; put them in the objectives' "
                        f"dicts (or drop `objectives=` for one objective), but got {given}.")
    if objective is not None:
        is_path = isinstance(objective, (str, os.PathLike)) and not callable(objective)
        data["trial"] = {"script": str(objective)} if is_path else {"function": objective}
    if space is not None:
        data["space"] = space.to_dict() if isinstance(space, SearchSpace) else space
    for key, value in options.items():
        if key in _KWARGS:
            section, field = _KWARGS[key]
            data.setdefault(section, {})[field] = value
        elif key == "warm_pool":
            if isinstance(value, Mapping):
                data.setdefault("warm_pool", {}).update(value)
            else:
                data.setdefault("warm_pool", {})["enabled"] = value
        elif key == "objectives":  # several objectives: [{metric, direction}, ...]
            data["objective"] = list(value) if isinstance(value, (list, tuple)) else value
        elif key == "backend" and isinstance(value, str):
            data.setdefault("backend", {})["name"] = value
        elif key == "backend_options":
            backend = data.setdefault("backend", {})
            backend["options"] = {**backend.get("options", {}), **dict(value or {})}
        elif key == "model_trainer":  # a SageMaker SDK v3 ModelTrainer defines the trial and its options
            from jupyter_hpo.sagemaker import spec_fields_from_model_trainer

            fields = spec_fields_from_model_trainer(value)
            data["trial"] = {**data.get("trial", {}), **fields["trial"]}
            backend = data.setdefault("backend", {})
            backend.setdefault("name", "sagemaker")
            backend["options"] = {**fields["options"], **backend.get("options", {})}
        elif key in _TOP:
            data[key] = value
        else:
            allowed = ", ".join(sorted({*_KWARGS, *_TOP, "warm_pool", "backend_options", "model_trainer", "objectives"}))
            raise SpecError(f"unknown option {key!r}; allowed: {allowed}.")
    return data


def _merge_tracking(old: Any, new: Any) -> Any:
    """``tracking.mlflow`` from an option over the spec's: ``{}``/True (``--mlflow``) keeps the spec's settings."""
    if new is True or new == {}:
        return old if isinstance(old, Mapping) else new
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return {**old, **new}
    return new


def launch(spec: TuningSpec | Mapping[str, Any] | str | os.PathLike[str] | None = None, *,
           objective: Callable[..., Any] | str | None = None, space: SearchSpace | Mapping[str, Any] | None = None,
           store: Store | str | None = None, **options: Any) -> Job:
    """Validate a tuning job, record it in the store and start its runner. Returns at once.

    Args:
        spec: a :class:`TuningSpec`, a dict of the YAML schema, or the path of a YAML file (whose fields, like a
            dict's, are checked once the keyword options are applied).
        objective: a function ``objective(params) -> float | dict`` or a script path (instead of a spec).
        space: the search space (a :class:`SearchSpace` or its dict form).
        store: a :class:`Store` or URL; default :func:`open_store`.
        **options: spec fields by name, e.g. ``max_trials=20, max_parallel=2, direction="minimize",
            metric="auc", strategy="random", timeout=600, warm_pool=False, name="my-job"``; a dict
            (``hyperparameters``, ``warm_pool``) merges key by key into the spec's, a key given winning;
            ``objectives=[{"metric": "auc", "direction": "maximize"}, {"metric": "train_s", "direction":
            "minimize"}]`` for several objectives (metrics the function returns in its dict; see :meth:`Job.pareto`);
            ``backend="sagemaker"`` and ``backend_options={...}`` (merged into the spec's); or
            ``model_trainer=trainer``, a SageMaker SDK v3 ``ModelTrainer`` whose script, image,
            instances and data define the trials (backend ``sagemaker`` unless given);
            ``tracking={"mlflow": {"experiment": ..., "tracking_uri": ..., "run_name": ...}}`` (``{}``: MLflow's
            own settings) logs the job and its trials to MLflow (:mod:`jupyter_hpo.mlflow_tracking`).

    Raises:
        SpecError: the spec is invalid (nothing is written to the store).
        JobStateError: a job of that name exists.
        MlflowError: MLflow tracking asked for, and MLflow is not installed (nothing is written either).
    """
    st = store if isinstance(store, Store) else open_store(store)
    if isinstance(spec, (str, os.PathLike)):  # its fields: checked once the keywords are applied, as a dict's
        spec = load_spec_file(spec)
        if not isinstance(spec, Mapping):
            TuningSpec.from_dict(spec)  # refused: a spec must be a mapping of fields
    if isinstance(spec, TuningSpec):
        data = spec.to_dict()
        data["trial"].pop("function", None)
        if spec.trial.function is not None:
            data["trial"]["function"] = spec.trial.function
    else:
        data = dict(spec or {})
    spec_pool = dict(data.get("warm_pool") or {}) if isinstance(data.get("warm_pool"), Mapping) else {}
    for key, value in _spec_from_kwargs(objective, space, options).items():
        if key == "backend":  # the name and the options merge into the spec's
            old = data.get("backend") or {}
            old = {"name": old} if isinstance(old, str) else dict(old)
            value = {**old, **value, "options": {**(old.get("options") or {}), **(value.get("options") or {})}}
            data[key] = value
            continue
        if key == "objective" and not isinstance(value, Mapping):  # several objectives replace the spec's
            data.pop("objectives", None)
        elif key == "objective" and (isinstance(data.get("objective"), (list, tuple)) or data.get("objectives")):
            given = ", ".join(f"{k}={options[k]!r}" for k in ("metric", "direction", "regex") if k in options)
            raise SpecError("the spec has several objectives, so `metric=`, `direction=` and `regex=` cannot say "
                            "which one they change; edit the spec's objectives, or give `objectives=[...]` to replace "
                            f"them, but got {given}.")
        if key == "tracking" and isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
            value = {**data[key], **{k: _merge_tracking(data[key].get(k), v) for k, v in value.items()}}
        if key == "trial" and isinstance(data.get(key), Mapping):  # `hyperparameters=` merges, as warm_pool= does
            spec_hp, given_hp = data[key].get("hyperparameters"), value.get("hyperparameters")
            if isinstance(spec_hp, Mapping) and isinstance(given_hp, Mapping):
                value = {**value, "hyperparameters": {**spec_hp, **given_hp}}
        merge = isinstance(value, dict) and isinstance(data.get(key), Mapping) and key != "space"
        data[key] = {**data[key], **value} if merge else value
    if isinstance(data.get("trial"), Mapping) and {"function", "script"} <= set(data["trial"]):
        # an objective given as an argument replaces the spec's
        kept = "function" if "function" in (_spec_from_kwargs(objective, None, {}).get("trial") or {}) else "script"
        data["trial"] = {k: v for k, v in data["trial"].items() if k != ("script" if kept == "function" else "function")}
    notes = _cold_override(data, spec_pool, options)
    return _start(TuningSpec.from_dict(data), st,
                  {NOTES: [{"time": time.time(), "text": n} for n in notes]} if notes else None)


def _cold_override(data: dict[str, Any], spec_pool: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """``warm_pool=False`` (``--no-warm-pool``, the cold baseline) given for a spec whose warm pool has settings
    that only a pool has (``max_trials_per_worker``, ``keep_alive_s``): those do not apply, and go, with a note
    saying so. The launch was refused, for the README's own spec, since the override kept them. A setting given
    with the override itself is still refused."""
    given = options.get("warm_pool")  # False, or the same as a dict: {"enabled": False}
    off = given is False or (isinstance(given, Mapping) and given.get("enabled") is False)
    if not off or not isinstance(data.get("warm_pool"), Mapping):
        return []
    moot = {f: spec_pool[f] for f in ("max_trials_per_worker", "keep_alive_s")
            if spec_pool.get(f) not in (None, 0) and f not in options
            and not (isinstance(given, Mapping) and f in given)}
    if not moot:
        return []
    data["warm_pool"] = {k: v for k, v in data["warm_pool"].items() if k not in moot}
    return [f"the warm pool is off for this launch (warm_pool=False, --no-warm-pool): the spec's "
            f"{', '.join(f'warm_pool.{k}: {v}' for k, v in moot.items())} do not apply to it."]


def _pickle_objective(fn: Callable[..., Any]) -> bytes:
    """cloudpickle ``fn``; functions of modules that are not installed travel by value."""
    import cloudpickle

    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    by_value = (module is not None and module.__name__ not in ("__main__",)
                and not module.__name__.startswith("jupyter_hpo") and _is_local_module(module))
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(fn)
    except Exception as e:
        raise SpecError(f"`trial.function` cannot be pickled to send to workers: {type(e).__name__}: {e}") from None
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)


def _is_local_module(module: Any) -> bool:
    path = getattr(module, "__file__", None)
    if not path:
        return False
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return not os.path.abspath(path).startswith(prefixes)


def _start(spec: TuningSpec, store: Store, attrs: Mapping[str, Any] | None = None, run: bool = True,
           owner: Mapping[str, Any] | None = None) -> Job:
    """Create the job and start its runner; ``attrs``: more job attributes, written before the runner starts;
    ``run=False``: create it only (a campaign's runner runs it, :mod:`jupyter_hpo.campaign`); ``owner``: whose job
    it is (default: this process's user; the REST API's refit passes the requester)."""
    from jupyter_hpo.backends import backend_class

    if store.in_memory:  # its runner, a process of its own, opened an empty store of its own and died as "stale"
        raise SpecError(f"a job cannot run on an in-memory store ({store.shown_url}): its runner is a process of its "
                        f"own, which does not see it; use a store file (sqlite:///path/store.db). Nothing was made.")
    store.check_job_folder(spec.name)  # before anything is made: a refusal must not touch another job's folder
    spec = backend_class(spec.backend).prepare(spec)
    if spec.mlflow is not None:  # MLflow's defaults, resolved here (refused when MLflow is not installed)
        from jupyter_hpo.mlflow_tracking import prepare

        spec = prepare(spec)
    known = set(store.job_names()) if spec.warm_start else set()
    for source in spec.warm_start:
        if source not in known:
            raise SpecError(f"`warm_start.from` must name jobs in the store, but got {source!r}, which is not one.")
    payload = _pickle_objective(spec.trial.function) if spec.trial.function is not None else None
    store.create_job(spec.name, spec.to_dict(), spec.objective.direction,
                     **({"owner": dict(owner)} if owner is not None else {}))
    job_dir, made = store.job_dir(spec.name), False
    try:
        store.make_job_folder(spec.name)
        made = True
        if payload is not None:
            (job_dir / "objective.pkl").write_bytes(payload)
            store.keep_objective(spec.name, payload)  # a resume from another machine finds it in the store
        if spec.trial.script is not None:
            store.keep_source(spec.name, spec.trial.script)  # the script's folder, for the same reason
        store.set_job_attrs(spec.name, **{"cwd": os.getcwd(), **(attrs or {})})
        if run and spec.backend == "local":  # its runner starts the workers first thing, while it loads
            from jupyter_hpo.backends._local import LocalBackend

            LocalBackend.write_prestart(spec, job_dir, (attrs or {}).get("cwd"))
        if run:
            RunnerHandle(store, spec.name).start(cwd=(attrs or {}).get("cwd"))
    except BaseException:
        store.delete_job(spec.name)
        if made:  # only the folder this launch made (another store's job of this name keeps its own)
            shutil.rmtree(job_dir, ignore_errors=True)
        raise
    return Job(spec.name, store)


def attach_amt(tuning_job: str, *, region: str | None = None, profile: str | None = None,
               name: str | None = None, store: Store | str | None = None, **options: Any) -> Job:
    """Mirror an existing SageMaker tuning job (AMT) into the store, so dashboard, sidebar and CLI show it.

    Its training jobs become trials as they appear; stopping the jupyter-hpo job ends the mirror and
    leaves the tuning job running. Calling it again for the same tuning job returns the mirror.

    Raises:
        BackendError: the tuning job cannot be read (missing, no credentials, ...).
    """
    from jupyter_hpo.sagemaker import attach_spec
    from jupyter_hpo.exceptions import JobNotFoundError

    st = store if isinstance(store, Store) else open_store(store)
    spec = attach_spec(tuning_job, region=region, profile=profile, name=name, **options)
    try:
        existing = Job(spec.name, st)
        if (existing.spec.get("backend") or {}).get("options", {}).get("attach") == tuning_job:
            return existing
    except JobNotFoundError:
        pass
    return _start(spec, st)


def estimate(**inputs: Any) -> dict[str, Any]:
    """What a SageMaker campaign takes and costs three ways: without warm pools, with pools per job, and with
    pools handed across its jobs (simulated; ``backend="amt"``: AMT with and without its own instance reuse; see
    :func:`jupyter_hpo.estimate.estimate` and :class:`~jupyter_hpo.estimate.CampaignInputs`)."""
    from jupyter_hpo.estimate import estimate as run

    return run(**inputs)


def plan(spec: TuningSpec | Mapping[str, Any] | str | os.PathLike[str], *,
         backend: str | None = None) -> dict[str, Any]:
    """The exact requests a SageMaker backend would send first, fully validated, without calling AWS
    (:func:`jupyter_hpo.sagemaker.plan.plan`). Raises :class:`SpecError` for anything AWS would refuse."""
    from jupyter_hpo.sagemaker.plan import plan as run

    if isinstance(spec, (str, os.PathLike)):
        spec = TuningSpec.from_file(spec)
    elif not isinstance(spec, TuningSpec):
        spec = TuningSpec.from_dict(dict(spec))
    return run(spec.replace(backend=backend) if backend else spec, written_for=spec.backend)


def attach(name: str, store: Store | str | None = None) -> Job:
    """The job called ``name`` (launched from any process, before or after a kernel restart).

    Raises:
        JobNotFoundError: there is no such job.
    """
    st = store if isinstance(store, Store) else open_store(store)
    st.study_id(name)
    return Job(name, st)


def list_jobs(store: Store | str | None = None) -> list[dict[str, Any]]:
    """A summary of every job (see :meth:`Job.summary`), newest first."""
    st = store if isinstance(store, Store) else open_store(store)
    jobs = list(job_summaries(st, st.all_job_attrs()).values())
    return sorted(jobs, key=lambda j: j["created"] or 0, reverse=True)


def job_summaries(st: Store, every: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The summaries of the jobs ``every`` (name -> attributes), by name: :func:`list_jobs` and
    ``Campaign.summary`` (``campaign show``, which read every trial of every job of the campaign whole)."""
    # ended jobs not yet followed here are summarized from a few figures per trial, not every trial read whole
    # (several objectives: the Pareto front needs each trial's metrics, so those jobs' trials are read)
    ended = ended_summaries(st, {name: attrs for name, attrs in every.items()
                                 if (st.url, name) not in _feeds and not (attrs.get("spec") or {}).get("objectives")})
    return {name: ended.get(name) or Job(name, st).summary(attrs) for name, attrs in every.items()}


def _check_tuning_job_resumable(name: str, attrs: Mapping[str, Any]) -> None:
    """An amt job whose SageMaker tuning job has ended cannot go on: AMT restarts no ended tuning job, and a new
    runner only recorded its stopped training jobs again. (One that stopped mirroring, the tuning job still
    running, resumes.)"""
    summary = attrs.get("backend_summary") or {}
    if not isinstance(summary, Mapping) or summary.get("kind") != "amt":
        return
    ended = summary.get("status")
    if ended in ("Stopping", "Stopped", "Completed", "Failed"):
        tuning = summary.get("tuning_job")
        raise JobStateError(
            f"job {name!r} cannot be resumed: its SageMaker tuning job {tuning} has ended ({ended}), and AMT restarts "
            f"no ended tuning job; launch a new job with `backend.options.warm_start: {{parents: [{tuning}]}}` to go "
            f"on from its trials.")


_feeds: dict[tuple[str, str], TrialFeed] = {}
#: the most jobs this process keeps an incremental reader for (:func:`_feed`), each with Optuna's cache of its
#: trials: a Jupyter server open for weeks kept every trial of every job it had shown (about 6 KiB per trial)
MAX_FEEDS = 64
_spaces: dict[tuple[str, str, Any], SearchSpace] = {}


#: how a resume's refusal names the budget option of every front door (a magic's user read "max_trials")
_FLAG = " (`max_trials=N`; `--max-trials N` in `jupyter hpo resume` and `%hpo resume`)"


def _shared(runner: Mapping[str, Any]) -> str | None:
    """How a job's runner process is shared with other jobs: ``"campaign"`` (it runs them beside this one), ``"kept"``
    (it may take the next launch once this job ends), or None. A SIGTERM meant for one job reached the others, or
    the next job the process took after this one ended."""
    shared = runner.get("shared")
    return str(shared) if shared else None


def _feed(job: Job) -> TrialFeed:
    """This process's incremental reader of ``job`` (summaries then convert only new or changed trials)."""
    key = (job.store.url, job.name)
    feed = _feeds.pop(key, None)  # put back last: the dict's order is the readers' last use
    if feed is None or feed.job.store is not job.store:
        feed = TrialFeed(job)
    _feeds[key] = feed
    while len(_feeds) > MAX_FEEDS:  # the least recently used goes, with Optuna's copy of its trials
        old = _feeds.pop(next(iter(_feeds)))
        _forget_cached_trials(old.job.store, old.job.name)
    return feed


def _forget_cached_trials(store: Store, name: str) -> None:
    """Drop the trials of job ``name`` that Optuna's cached storage keeps in this process (read again from the
    store when next asked), as its own ``delete_study`` drops them from the cache."""
    storage = store.storage
    studies, lock = getattr(storage, "_studies", None), getattr(storage, "_lock", None)
    by_number = getattr(storage, "_study_id_and_number_to_trial_id", None)
    by_id = getattr(storage, "_trial_id_to_study_id_and_number", None)
    if not isinstance(studies, dict) or lock is None or not isinstance(by_number, dict) or not isinstance(by_id, dict):
        return  # another Optuna: its cache is left as it is
    study_id = store._ids.get(name)
    if study_id is None:
        return
    with lock:
        info = studies.pop(study_id, None)
        for number in getattr(info, "trials", None) or {}:
            by_id.pop(by_number.pop((study_id, number), None), None)


class Job:
    """A tuning job in the store; every property reads the store, so it is always current.

    Example:
        >>> job = attach("credit-xgb")  # doctest: +SKIP
        >>> job.status, job.best["value"]  # doctest: +SKIP
    """

    def __init__(self, name: str, store: Store | None = None) -> None:
        self.name = name
        self.store = store or open_store()
        self._space: SearchSpace | None = None

    def __repr__(self) -> str:
        return f"Job({self.name!r}, status={self.status.value!r})"

    @property
    def attrs(self) -> dict[str, Any]:
        return self.store.job_attrs(self.name)

    @property
    def status(self) -> JobStatus:
        return Store.status_of(self.attrs)

    @property
    def spec(self) -> dict[str, Any]:
        return self.attrs["spec"]

    @property
    def space(self) -> SearchSpace:
        """The job's search space (read once per process: a job's space never changes; a job made again under
        its name is another job)."""
        if self._space is None:
            attrs = self.attrs
            key = (self.store.url, self.name, attrs.get("created"))
            if key not in _spaces:
                _spaces[key] = SearchSpace.from_dict(attrs["spec"]["space"])
            self._space = _spaces[key]
        return self._space

    def raw_trials(self, after: int = -1) -> list[FrozenTrial]:
        """Optuna's trials with ``number > after`` (only new or unfinished ones are read)."""
        return self.store.trials(self.name, after)

    def trial_records(self, after: int = -1) -> list[dict[str, Any]]:
        """Trials as plain dicts (:class:`~jupyter_hpo.records.TrialRecord`, strict-JSON-able: non-finite
        numbers are None and ``nonfinite`` names them): number, state, value, params and the attributes."""
        return self.store.trial_records(self.name, after)  # a job still being created has none yet

    def trials(self) -> pd.DataFrame:
        """All trials as a DataFrame: one row per trial, one ``param_<name>`` column per parameter and one
        ``metric_<name>`` column per other metric a trial returned in its dict (several objectives: those after
        the first, which is ``value``)."""
        import pandas as pd

        rows = []
        for rec in self.trial_records():
            row = {k: v for k, v in rec.items() if k not in ("params", "intermediate", "metrics", NONFINITE)}
            row.update({f"param_{k}": v for k, v in rec["params"].items()})
            row.update({f"metric_{k}": v for k, v in rec["metrics"].items()})
            for path, kind in rec[NONFINITE].items():  # a DataFrame holds NaN and infinities: put them back
                column = path
                for prefix, head in (("params.", "param_"), ("metrics.", "metric_")):
                    if path.startswith(prefix):
                        column = head + path[len(prefix):]
                if column in row:
                    row[column] = float(kind)
            rows.append(row)
        return pd.DataFrame(rows).set_index("number") if rows else pd.DataFrame()

    @property
    def best(self) -> dict[str, Any] | None:
        """``{"number", "value", "params"}`` of the best complete trial, or None. With several objectives: the trial
        of the Pareto front (:meth:`pareto`) with the best first objective."""
        return self.summary()["best"]

    def pareto(self) -> pd.DataFrame:
        """The Pareto-optimal trials (complete, feasible, not dominated in every objective by another), as rows of
        :meth:`trials`; for a single-objective job, the best trial's row."""
        summary = self.summary()
        numbers = summary["pareto"] if summary["pareto"] is not None else (
            [summary["best"]["number"]] if summary["best"] else [])
        df = self.trials()
        return df.loc[numbers] if numbers else df.iloc[0:0]

    def summary(self, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Status, trial counts, best trial and warm-start savings, in one strict-JSON-able dict
        (:class:`~jupyter_hpo.records.JobSummary`)."""
        attrs = attrs if attrs is not None else self.attrs
        feed = _feed(self)
        if not feed.settled(attrs):  # a finished job seen after its end has nothing new to read
            feed.poll(attrs)
        return feed.summary()

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> JobStatus:
        """Block until the job has finished; return its status.

        Raises:
            JobTimeoutError: it is still running after ``timeout`` seconds (also a ``TimeoutError``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status
            if status == JobStatus.STALE:  # a runner elsewhere whose clock differs: judged by progress
                status = self.store.watch_status(self.name)
            if status.is_finished():
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise JobTimeoutError(f"job {self.name!r} is still {status.value} after {timeout:g} s")
            time.sleep(poll)

    @property
    def runner(self) -> RunnerHandle:
        """The job's runner process, as this client can reach it (start, signal, end)."""
        return RunnerHandle(self.store, self.name)

    def stop(self, wait: bool = True, timeout: float = 60.0, by: Mapping[str, Any] | None = None) -> JobStatus:
        """Ask the job to stop: running trials are interrupted (and re-run if it is resumed).

        ``by``: who asks, recorded as ``stopped_by`` (default: :func:`jupyter_hpo.owners.stamp`, this process's user).
        """
        status = self.store.watch_status(self.name)
        if status.is_finished() and status != JobStatus.STALE:
            return status
        runner = self.runner
        if status == JobStatus.STALE:  # before any write: a runner frozen mid-write would block it
            runner.end_hung()
        info, info_status = runner.info(), self.store.job_attrs(self.name).get("status")
        try:
            self.store.set_job_attrs(self.name, stop_requested=True, stopped_by=by or stamp())
        except StoreError as e:
            # a runner on this machine also stops on SIGTERM: the request need not wait for a broken store (but
            # one that this user may only read refuses the stop, as it would from any other machine; and a campaign's
            # runner, whose other jobs the signal would stop, is never signalled for one of them)
            if status == JobStatus.STALE or isinstance(e, StoreReadOnlyError) or _shared(info) == "campaign" or \
                    not runner.signal(info):
                raise
            log.warning("job %s: the stop request could not be written; its runner was signalled", self.name)
            return self.wait(timeout) if wait else self.status
        if status == JobStatus.STALE:
            # taken first, so that a resume under way elsewhere (which takes it the same way) is never cut short:
            # its new runner's trials are never marked interrupted here
            if self.store.claim_job(self.name, info_status, status="stopped", reason="stopped (its runner had died)",
                                    ended=time.time()):
                self.store.mark_interrupted(self.name)
                from jupyter_hpo.runner._log import Reserve

                Reserve(self.store.job_dir(self.name)).release()  # the dead runner's 2 MB, kept for nothing
                notes = runner.release_orphans()
                if notes:
                    self.store.set_job_attrs(self.name, notes=notes)
                return JobStatus.STOPPED
            # resumed meanwhile: its new runner reads the stop request (written again: the resume cleared it)
            self.store.set_job_attrs(self.name, stop_requested=True, stopped_by=by or stamp())
            return self.wait(timeout) if wait else self.status
        if not _shared(info):  # its runner reads the request within half a second; the signal is sooner still
            runner.signal(info)
        return self.wait(timeout) if wait else self.status

    def resume(self, max_trials: int | None = None, by: Mapping[str, Any] | None = None) -> Job:
        """Continue a job whose runner died or that was stopped, up to its budget (or ``max_trials``).

        ``by``: who resumes it, recorded as ``resumed_by`` (default: :func:`jupyter_hpo.owners.stamp`).

        Trials that were running when the runner died are marked failed (``interrupted``) and run
        again with the same parameters; nothing completed is lost or repeated.

        Raises:
            JobStateError: the job is running, or has completed its budget (pass a larger ``max_trials``), or
                ``max_trials`` is not above the trials it has already run.
        """
        status = self.store.watch_status(self.name)  # a runner elsewhere is judged by its heartbeat's progress
        if status.is_active():
            raise JobStateError(f"job {self.name!r} is {status.value}; it cannot be resumed while its runner runs.")
        if status == JobStatus.STALE:
            self.runner.end_hung()
        attrs = self.attrs
        spec = self.check_resumable(status, attrs, max_trials)
        _check_tuning_job_resumable(self.name, attrs)
        # taken only if no one else resumed or stopped it since its status was read: of two users resuming it at
        # once, one starts a runner and the other is told (two runners on one job interrupted each other's trials)
        if not self.store.claim_job(self.name, attrs.get("status"), spec=spec, status="pending", reason="",
                                    stop_requested=False, resumed_by=by or stamp(), heartbeat=time.time(),
                                    runner={}, spawned={}):
            now = self.store.watch_status(self.name)
            who = owner_name(self.store.job_attrs(self.name).get("resumed_by" if now.is_active() else "stopped_by"))
            raise JobStateError(f"job {self.name!r} changed while this resume was under way: it is {now.value} now"
                                + (f" ({'resumed' if now.is_active() else 'stopped'} by {who})" if who else "")
                                + "; nothing was done.")
        self._write_prestart({**self.store.spec_here(self.name, attrs), "budget": spec["budget"]}, attrs.get("cwd"))
        self.runner.start(cwd=attrs.get("cwd"))
        return self

    def check_resumable(self, status: JobStatus, attrs: Mapping[str, Any], max_trials: int | None) -> dict[str, Any]:
        """Raise :class:`JobStateError` when a resume (with ``max_trials``, or none) would run nothing; else the
        spec the resume stores (its budget changed by ``max_trials``). A job's resume and a campaign's share it: a
        campaign's resume ran a failed job whose budget was spent, which failed again and lost its last error."""
        spec = dict(attrs["spec"])
        reason = str(attrs.get("reason") or "")
        if status == JobStatus.COMPLETED and reason.startswith(COMPLETION_REASONS):
            # its runner would replay the trials, find the criterion met, and end before running one: it ran
            # nothing and said nothing (with max_trials), or was told to pass a larger max_trials (without)
            raise JobStateError(
                f"job {self.name!r} ended on its completion rule ({reason}), which would end it again at once: "
                f"resuming cannot change `completion`. To search on, launch a new job with other `completion` "
                f"settings and `warm_start: {{from: [{self.name}]}}`, which seeds it with this job's trials.")
        if spec.get("strategy") == "grid":
            self._check_grid_left(spec)
        if max_trials is not None:
            spec["budget"] = {**spec["budget"], "max_trials": max_trials}
            # validated as its runner will read it: a script moved to this machine's copy of the kept folder
            TuningSpec.from_stored({**self.store.spec_here(self.name, attrs), "budget": spec["budget"]},
                                   self.store.job_dir(self.name))
            counted = self._counted_trials()
            if max_trials <= counted:  # its runner would start and end at once, the budget stored smaller
                raise JobStateError(f"job {self.name!r} has already run {counted} trial(s) of its budget, so "
                                    f"max_trials={max_trials} leaves none to run; pass a larger max_trials (more "
                                    f"than {counted}) to continue it.")
            left = reruns_left(self.trial_records())
            if max_trials < counted + left:  # the budget would end before every interrupted trial is re-run
                raise JobStateError(f"job {self.name!r} has run {counted} trial(s) and has {left} interrupted trial(s) "
                                    f"to re-run, so max_trials={max_trials} leaves some never re-run; pass at least "
                                    f"{counted + left}.")
        elif status == JobStatus.COMPLETED and reason.startswith(RUNTIME_REASON):
            counted, budget = self._counted_trials(), int(spec["budget"]["max_trials"])
            if counted >= budget:
                raise JobStateError(f"job {self.name!r} has completed ({reason}) after all {budget} trials of its "
                                    f"budget; pass a larger max_trials to continue it{_FLAG}.")
            # else its budget has trials left: a resume runs them, for another max_runtime (it bounds each run)
        elif status == JobStatus.COMPLETED:
            raise JobStateError(
                f"job {self.name!r} has completed ({attrs.get('reason', '')}); pass a larger max_trials to continue it"
                f"{_FLAG}."
            )
        elif status == JobStatus.FAILED and self._counted_trials() >= int(spec["budget"]["max_trials"]):
            # its runner would replay the trials and end at once, writing "no trial completed" over the reason
            raise JobStateError(
                f"job {self.name!r} failed after all {spec['budget']['max_trials']} trials of its budget "
                f"({reason or 'no reason recorded'}); pass a larger max_trials to run more{_FLAG}.")
        return spec

    def _check_grid_left(self, spec: Mapping[str, Any]) -> None:
        """A grid job runs each point once: a resume (with any ``max_trials``) of one that has run them all would
        start a runner that ends at once. Accepted with a larger ``max_trials``, it stored the budget, ran nothing
        and said nothing; without, it was told to pass a larger ``max_trials``."""
        points = grid_points(json.dumps(spec.get("space"), sort_keys=True))
        counted = self._counted_trials()
        if points is not None and counted >= points:
            raise JobStateError(
                f"job {self.name!r} has run all {points} points of its grid, and a grid job runs each point once "
                f"(`budget.max_trials` caps a grid, it adds no points): a resume has nothing to run. To search on, "
                f"launch a job with more values or another strategy, with `warm_start: {{from: [{self.name}]}}` "
                f"(bayesian) to start from this job's trials.")

    def _counted_trials(self) -> int:
        """The trials that count against the budget, as the runner counts them: finished ones except the
        interrupted (run again on resume); a trial left running by a dead runner will be interrupted."""
        return sum(t.state.is_finished() and not t.user_attrs.get("interrupted") for t in self.raw_trials())

    def _write_prestart(self, spec: dict[str, Any], cwd: str | None) -> None:
        """The head start of :func:`launch` for a resume (:meth:`LocalBackend.write_prestart`), for the trials the
        job has left (a local job's runner starts its workers first, as at launch); ``spec`` as this machine runs
        it (:meth:`Store.spec_here`)."""
        from jupyter_hpo.backends._local import LocalBackend

        try:
            tuning = TuningSpec.from_stored(spec, self.store.job_dir(self.name))
        except SpecError:
            return  # the runner says what is wrong with it
        if tuning.backend == "local":
            LocalBackend.write_prestart(tuning, self.store.job_dir(self.name), cwd, self.store.trials(self.name))

    def best_model(self, trial_number: int | None = None) -> Any:
        """The model the refit or the best trial saved with ``trial.save_model`` (see
        :func:`jupyter_hpo.artifacts.load_model`); ``trial_number`` picks another trial."""
        from jupyter_hpo.artifacts import load_model

        return load_model(self, trial_number)

    @property
    def provenance(self) -> dict[str, Any]:
        """What produced the job: spec, code and input hashes, packages, git, owner (:mod:`jupyter_hpo.provenance`)."""
        from jupyter_hpo.provenance import job_provenance

        return job_provenance(self)

    def refit(self, wait: bool = False, timeout: float | None = None, by: Mapping[str, Any] | None = None) -> Job:
        """Run the best parameters once more with ``trial.is_refit()`` True, as the job ``<name>-refit``
        (see :func:`jupyter_hpo.refit.refit`); returns that job. ``timeout``: with ``wait``, the most seconds to
        wait; ``by``: whose job the refit is (default: this process's user)."""
        from jupyter_hpo.refit import refit

        return refit(self, wait=wait, timeout=timeout, by=by)


def compare(*names: str, store: Store | str | None = None) -> dict[str, Any]:
    """Best-so-far curves of several jobs, against trials finished and wall time, plus their summaries.

    Raises:
        JobNotFoundError: one of the jobs does not exist.
    """
    jobs = [attach(n, store) for n in names]
    out = {}
    for job in jobs:
        records, attrs = job.trial_records(), job.attrs
        summary = summarize(job.name, attrs, records)
        out[job.name] = {"summary": summary, "curve": best_so_far(records, summary["direction"])}
    return out

