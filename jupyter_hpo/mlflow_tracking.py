"""MLflow tracking: a job as a parent run, each trial as a child run; export afterwards; register a model.

Needs the ``mlflow`` extra (``pip install 'jupyter-hpo[mlflow]'``); MLflow is imported only here, and only
when a job asks for it. What a job looks like in MLflow:

- the **parent run** (tags ``jupyter_hpo.kind=job``, ``jupyter_hpo.job``, ``jupyter_hpo.job_created`` and the
  job's provenance as ``jupyter_hpo.provenance.<key>``; params: the spec's settings; at the end the best
  value and the trial counts as metrics, status FINISHED, FAILED or KILLED as the job ended);
- one **child run** per trial (``mlflow.parentRunId``; run name ``<run_name>-<number>``): its parameters as
  params; metrics ``value`` (and under the objective's metric name), ``fold_score`` with the fold as step,
  ``intermediate`` with the reported step as step, ``fold_mean``, ``fold_std``, ``startup_s``, ``run_s``,
  ``cost_usd`` and the objective's extra metrics; tags ``jupyter_hpo.trial``, ``state``, ``warm``,
  ``worker``, ``seed``, ``error``, ``interrupted``, ``rerun_of`` and the provenance; status FINISHED
  (complete), KILLED (pruned) or FAILED.

Live (``tracking: {mlflow: {...}}``): the runner logs from a thread of its own (:class:`RunnerTracking`). The
runner's writer calls :meth:`RunnerTracking.trial_stored` once a finished trial is in the store: a wake-up
put in a bounded queue without waiting (a full queue drops the wake-up, never a trial). The thread reads
what to log from the store, so nothing is lost while MLflow cannot be reached: the failure is noted on the
job once, and the thread retries (1 s, doubling up to 30 s), logging every trial it missed once the server
answers. When the runner ends it gives the thread up to :data:`CLOSE_GRACE_S` seconds; trials still not
logged then are named in a job note, and ``jupyter hpo export JOB --mlflow`` (:func:`export_job`, which adds
only what is missing) or resuming the job logs them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_hpo._mlflow_runs import _one_line, _refused, _Sink, reachable
from jupyter_hpo._urls import masked_url
from jupyter_hpo.exceptions import HpoError, SpecError

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from jupyter_hpo.store import Store

__all__ = ["EXTRA", "MlflowError", "MlflowNameError", "RunnerTracking", "export_job", "prepare", "register_model", "require_mlflow",
           "status_line"]

log = logging.getLogger("jupyter_hpo.mlflow")

#: what to install for MLflow tracking
EXTRA = "jupyter-hpo[mlflow]"
#: the default experiment when neither the spec nor ``MLFLOW_EXPERIMENT_NAME`` names one
DEFAULT_EXPERIMENT = "jupyter-hpo"
#: the job attribute that says where the job is logged and how that goes
ATTR = "mlflow"
#: how long a runner that is ending waits for the tracking thread to log what is left
CLOSE_GRACE_S = 15.0
#: wake-ups the tracking thread's queue holds (more are dropped: the thread reads what to log from the store)
QUEUE_MAX = 1024
RETRY_MIN_S, RETRY_MAX_S = 1.0, 30.0


class MlflowError(HpoError, RuntimeError):
    """Raised when MLflow tracking or its model registry cannot do what was asked: the extra is not installed,
    the tracking server cannot be reached, MLflow refuses a name, or the job has nothing to register."""


class MlflowNameError(MlflowError, SpecError):
    """MLflow refuses a model name given: bad input (``jupyter hpo register`` exits 2, as for every bad input)."""


def require_mlflow() -> Any:
    """The ``mlflow`` module, or an :class:`MlflowError` that names the extra to install."""
    try:
        import mlflow
    except ImportError as e:
        raise MlflowError(f"MLflow is not installed (needed for MLflow tracking): pip install '{EXTRA}' "
                          f"({type(e).__name__}: {e})") from None
    return mlflow


# -- launch: MLflow's own defaults, resolved once -----------------------------------------------------------
def absolute_uri(uri: str) -> str:
    """A tracking URI as every process reads it alike: a SQLite file (``sqlite:///mlflow.db``) or a folder
    (``./mlruns``) given relative to the launching folder, made absolute. Stored as given, an ``export`` or a
    ``register`` run from another folder logged to another MLflow database there."""
    from urllib.parse import urlsplit

    scheme = urlsplit(uri).scheme
    if scheme.startswith("sqlite"):
        from jupyter_hpo.store import resolved_url

        return resolved_url(uri)
    if scheme == "file":  # file:./mlruns; file:/srv/mlruns and file:///srv/mlruns are absolute already
        path = uri[len("file:"):]
        return uri if path.startswith("/") else f"file://{os.path.abspath(os.path.expanduser(path))}"
    if not scheme and uri not in ("databricks", "databricks-uc", "uc"):  # a folder: ./mlruns, mlruns, ~/mlruns
        return os.path.abspath(os.path.expanduser(uri))
    return uri


def prepare(spec: Any) -> Any:
    """``spec`` with its ``tracking.mlflow`` settings complete (called by ``launch`` before the job is stored).

    The tracking URI defaults to MLflow's own (``mlflow.set_tracking_uri``, ``MLFLOW_TRACKING_URI``, else
    MLflow's default), the experiment to ``MLFLOW_EXPERIMENT_NAME`` or ``jupyter-hpo``, the run name to the
    job's name. Raises :class:`MlflowError` when MLflow is not installed (nothing is stored then).
    """
    settings = spec.mlflow
    if settings is None:
        return spec
    mlflow = require_mlflow()
    import dataclasses

    filled = dataclasses.replace(
        settings,
        tracking_uri=absolute_uri(settings.tracking_uri or mlflow.get_tracking_uri()),
        experiment=settings.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT,
        run_name=settings.run_name or spec.name)
    return spec.replace(mlflow=filled)


# -- live, from the runner --------------------------------------------------------------------------------
class RunnerTracking:
    """The runner's MLflow logging: a thread that logs each stored trial, never blocking the trial loop.

    With no ``tracking.mlflow`` in the spec every method does nothing (and MLflow is never imported).
    ``start`` once the runner's writer runs; ``trial_stored`` (from the writer, after a finished trial is in
    the store) wakes the thread without waiting; ``close`` when the job's end is known.
    """

    def __init__(self, spec: Any) -> None:
        self.settings = spec.mlflow
        self._wake: queue.Queue[int | None] = queue.Queue(maxsize=QUEUE_MAX)
        self._closing: tuple[str, str] | None = None
        self._thread: threading.Thread | None = None
        self._sink: _Sink | None = None
        self._failing: str | None = None
        self._delay = RETRY_MIN_S
        self._missed = 0  # trials logged while the server could not be reached before

    def start(self, runner: Any) -> None:
        """Import MLflow, then start the thread (a job without MLflow tracking: nothing).

        Called once the backend has started its workers, before the first trial: the import (1-2 s of pure
        Python) runs while the workers start up, rather than in the thread, where it would hold the GIL
        against the trial loop.
        """
        if self.settings is None:
            return
        self.runner = runner
        try:
            require_mlflow()
            from mlflow.tracking import MlflowClient  # noqa: F401 - imported here, not in the thread
        except MlflowError as e:
            self._note(f"MLflow: nothing is logged by this runner: {e}; `jupyter hpo export {runner.name} --mlflow` "
                       "logs the job later")
            return
        # the thread's bursts of Python (building and reading requests) hand the GIL back to the trial loop
        # after 1 ms instead of Python's default 5 ms, while the thread lives (close() puts the interval back)
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, 0.001))
        self._thread = threading.Thread(target=self._run, name="jupyter-hpo-mlflow", daemon=True)
        self._thread.start()

    def trial_stored(self, key: int) -> None:
        """A finished trial is in the store: wake the thread (never waits; a full queue drops the wake-up)."""
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._wake.put_nowait(key)

    def close(self, status: str, reason: str, grace: float = CLOSE_GRACE_S) -> None:
        """The job ends with ``status``: log what is left and end the parent run, waiting at most ``grace`` s."""
        if self._thread is None:
            return
        self._closing = (status, reason)
        with contextlib.suppress(queue.Full):
            self._wake.put_nowait(None)
        self._thread.join(grace)
        sys.setswitchinterval(self._switch_interval)
        if self._thread.is_alive():
            self._note(f"MLflow: the runner ended before every trial was logged to "
                       f"{masked_url(self.settings.tracking_uri)} (still busy after {grace:g} s); `jupyter hpo export "
                       f"{self.runner.name} --mlflow` logs what is missing")

    # the thread ----------------------------------------------------------------------------------
    def _note(self, text: str) -> None:
        self.runner.on_note(text)

    def _attr(self, **extra: Any) -> None:
        s = self.settings
        record = self._sink.record(**extra) if self._sink is not None else {
            "tracking_uri": s.tracking_uri, "experiment": s.experiment, "experiment_id": None, "run_id": None,
            "logged": 0, **extra}
        self.runner.writer.put(self.runner.store.set_job_attrs, self.runner.name, **{ATTR: record})

    def _run(self) -> None:
        while True:
            closing = self._closing
            ok = self._attempt()
            if closing is not None:
                self._finish(ok, *closing)
                return
            try:  # wait for a trial (or, while failing, for the next retry)
                self._wake.get(timeout=self._delay if self._failing else None)
                while True:
                    self._wake.get_nowait()  # one sweep serves every wake-up queued so far
            except queue.Empty:
                pass

    def _attempt(self) -> bool:
        """Open the parent run if needed and log every finished trial not logged yet; False while failing."""
        s = self.settings
        try:
            if self._failing is not None or self._sink is None:
                why = reachable(s.tracking_uri)
                if why is not None:
                    raise ConnectionError(why)
            if self._sink is None:
                sink = _Sink(self.runner.store, self.runner.name, s.tracking_uri, s.experiment, s.run_name)
                sink.open(running=True)
                self._sink = sink
                self._attr(error=None)
            for t in self._sink.unlogged():
                self._log(t)
        except Exception as e:  # noqa: BLE001 - MLflow must never fail the job: noted, retried
            text = _one_line(e)
            if self._failing is None:
                log.warning("MLflow logging failed", exc_info=True)
                self._note(f"MLflow: cannot log to {masked_url(s.tracking_uri)} ({text}); the job goes on, its "
                           f"trials are kept and retried every {RETRY_MIN_S:g}-{RETRY_MAX_S:g} s")
                self._attr(error=text)
                self._delay = RETRY_MIN_S
            else:
                self._delay = min(self._delay * 2, RETRY_MAX_S)
            self._failing = text
            return False
        if self._failing is not None:
            self._note(f"MLflow: {masked_url(s.tracking_uri)} answers again; {self._missed} trial(s) logged late, "
                       "none lost")
            self._failing = None
            self._attr(error=None)
        return True

    def _log(self, t: FrozenTrial) -> None:
        assert self._sink is not None
        try:
            self._sink.log_trial(t)
        except Exception as e:
            if not _refused(e):
                raise
            self._sink.refused[t.number] = _one_line(e)  # MLflow refuses it: retrying would not help
            self._note(f"MLflow refused trial {t.number}: {_one_line(e)}")
            return
        if self._failing is not None:
            self._missed += 1

    def _finish(self, ok: bool, status: str, reason: str) -> None:
        name = self.runner.name
        if ok and self._sink is not None:
            try:
                self._sink.finish(status, reason)
                self._attr(error=None, unlogged=0)
                return
            except Exception as e:  # noqa: BLE001
                self._failing = _one_line(e)
        left = sum(1 for t in self.runner.store.trials(name) if t.state.is_finished()) - (
            len(self._sink.logged) if self._sink is not None else 0)
        self._note(f"MLflow: {left} trial(s) of this job are not logged to {masked_url(self.settings.tracking_uri)}, "
                   f"which could not be reached when the runner ended ({self._failing}); `jupyter hpo export {name} "
                   "--mlflow` (or resuming the job) logs them")
        self._attr(error=self._failing, unlogged=left)


# -- afterwards: export, status ---------------------------------------------------------------------------
def _job_of(job: Any) -> tuple[Store, str]:
    """(store, name) of a ``Job`` or a job name (in the default store)."""
    if isinstance(job, str):
        from jupyter_hpo import api

        job = api.attach(job)
    return job.store, job.name


def _client_settings(attrs: Mapping[str, Any], tracking_uri: str | None, experiment: str | None,
                     name: str) -> tuple[str, str, str]:
    """Where to log: the arguments, else the job's own ``tracking.mlflow``, else MLflow's defaults."""
    mlflow = require_mlflow()
    for option, value in (("tracking_uri", tracking_uri), ("experiment", experiment)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            # `--tracking-uri "$MLFLOW_URI"` with the variable unset: MLflow's default store is not what was asked
            raise MlflowError(f"`{option}` must be a non-empty line, but got {value!r}.")
    own = ((attrs.get("spec") or {}).get("tracking") or {}).get("mlflow") or {}
    uri = tracking_uri or own.get("tracking_uri") or mlflow.get_tracking_uri()
    exp = experiment or own.get("experiment") or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    return uri, exp, own.get("run_name") or name


def export_job(job: Any, *, tracking_uri: str | None = None, experiment: str | None = None) -> str:
    """Log a job to MLflow afterwards (or what its runner could not log): the parent run and a child run
    per finished trial, as live tracking would have. Run again, it adds only what is missing.

    Args:
        job: a ``Job`` or a job name.
        tracking_uri: default: the job's ``tracking.mlflow.tracking_uri``, else MLflow's own setting.
        experiment: default: the job's, else ``MLFLOW_EXPERIMENT_NAME``, else ``jupyter-hpo``.

    Returns:
        The parent run's id.

    Raises:
        MlflowError: MLflow is not installed, the server cannot be reached or refuses a trial, or the job's
            runner is logging it live right now.

    Example:
        >>> export_job("credit-xgb", tracking_uri="http://127.0.0.1:5000")  # doctest: +SKIP
        '6f0c2b...'
    """
    store, name = _job_of(job)
    attrs = store.job_attrs(name)
    uri, exp, run_name = _client_settings(attrs, tracking_uri, experiment, name)
    status = store.status_of(attrs).value
    own = ((attrs.get("spec") or {}).get("tracking") or {}).get("mlflow") or {}
    if status in ("running", "pending") and own.get("tracking_uri") == uri:
        raise MlflowError(f"job {name!r} is {status} and its runner logs it to {masked_url(uri)} live; export it once "
                          "it has ended (the export then adds what the runner could not log).")
    why = reachable(uri)
    if why is not None:
        raise MlflowError(f"cannot export job {name!r}: {why}.")
    try:
        sink = _Sink(store, name, uri, exp, run_name)
        sink.open(running=status in ("running", "pending"))
        for t in sink.unlogged():
            sink.log_trial(t)
        if status not in ("running", "pending"):
            sink.finish(status, attrs.get("reason", ""))
    except MlflowError:
        raise
    except Exception as e:
        raise MlflowError(f"exporting job {name!r} to MLflow at {masked_url(uri)} failed: {_one_line(e)}") from None
    store.set_job_attrs(name, **{ATTR: sink.record(error=None, unlogged=0, exported=time.time())})
    assert sink.parent_id is not None
    return sink.parent_id


def status_line(attrs: Mapping[str, Any]) -> str | None:
    """One line for ``jupyter hpo show``: where the job is logged in MLflow and whether that went well."""
    rec = attrs.get(ATTR)
    if not isinstance(rec, Mapping):
        return None
    line = (f"MLflow: run {rec.get('run_id') or '-'} in experiment {rec.get('experiment')!r} at "
            f"{masked_url(rec.get('tracking_uri'))}")
    if rec.get("unlogged"):
        line += f"; {rec['unlogged']} trial(s) not logged"
    if rec.get("error"):
        line += f"; last error: {rec['error']}"
    return line


def register_model(job: Any, name: str, *, tracking_uri: str | None = None) -> str:
    """Register the job's refit (or best) model in the MLflow Model Registry; returns ``models:/NAME/VERSION``."""
    from jupyter_hpo._mlflow_registry import register

    return register(job, name, tracking_uri=tracking_uri)
