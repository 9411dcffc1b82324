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
import math
import os
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import HpoError

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from jupyter_hpo.store import Store

__all__ = ["EXTRA", "MlflowError", "RunnerTracking", "export_job", "prepare", "register_model", "require_mlflow",
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
#: how long the reachability check of an HTTP tracking server waits
HEALTH_TIMEOUT_S = 2.0
TAG_KIND, TAG_JOB, TAG_CREATED, TAG_TRIAL = ("jupyter_hpo.kind", "jupyter_hpo.job", "jupyter_hpo.job_created",
                                             "jupyter_hpo.trial")
_STATUS = {"complete": "FINISHED", "pruned": "KILLED"}  # anything else: FAILED
_JOB_STATUS = {"completed": "FINISHED", "stopped": "KILLED"}  # anything else: FAILED


class MlflowError(HpoError, RuntimeError):
    """Raised when MLflow tracking or its model registry cannot do what was asked: the extra is not installed,
    the tracking server cannot be reached, MLflow refuses a name, or the job has nothing to register."""


def require_mlflow() -> Any:
    """The ``mlflow`` module, or an :class:`MlflowError` that names the extra to install."""
    try:
        import mlflow
    except ImportError as e:
        raise MlflowError(f"MLflow is not installed (needed for MLflow tracking): pip install '{EXTRA}' "
                          f"({type(e).__name__}: {e})") from None
    return mlflow


def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- launch: MLflow's own defaults, resolved once -----------------------------------------------------------
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
        tracking_uri=settings.tracking_uri or mlflow.get_tracking_uri(),
        experiment=settings.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT,
        run_name=settings.run_name or spec.name)
    return spec.replace(mlflow=filled)


# -- talking to MLflow ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow prints a "View run" line (and reads the run again to do so) on each ``set_terminated``: not here."""
    key = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    old = os.environ.get(key)
    os.environ[key] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def reachable(uri: str) -> str | None:
    """None when the tracking server at ``uri`` answers (any HTTP answer), else why not; not HTTP: None."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except Exception as e:  # noqa: BLE001 - refused, timed out, unknown host...
        reason = getattr(e, "reason", e)
        return f"the tracking server at {uri} cannot be reached ({_one_line(reason if isinstance(reason, BaseException) else e)})"


def _refused(e: BaseException) -> bool:
    """Whether MLflow refused the request itself (a 4xx answer: retrying will not help), not a transport failure."""
    code = getattr(e, "get_http_status_code", None)
    try:
        status = int(code()) if callable(code) else 0
    except Exception:  # noqa: BLE001
        return False
    return 400 <= status < 500 and status != 429


_KEY_BAD = re.compile(r"[^/\w.\- ]")


def _key(name: str) -> str:
    """A param, metric or tag key MLflow accepts (letters, digits, ``_ - . / space``; no ``..`` or leading ``/``)."""
    key = _KEY_BAD.sub("_", str(name)).strip("/ ") or "_"
    key = re.sub(r"/{2,}", "/", key).replace("..", "__")
    return key[:250]


def _text(value: Any, limit: int = 5000) -> str:
    if not isinstance(value, str):
        from jupyter_hpo.records import dumps

        value = dumps(value, sort_keys=True)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _ms(dt: Any) -> int | None:
    return int(dt.timestamp() * 1000) if dt is not None else None


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def provenance_tags(attrs: Mapping[str, Any]) -> dict[str, str]:
    """The job's provenance (job attribute ``provenance``) as tags: ``jupyter_hpo.provenance.<key>``, nested
    values as JSON."""
    record = attrs.get("provenance")
    if not isinstance(record, Mapping):
        return {}
    return {_key(f"jupyter_hpo.provenance.{k}"): _text(v) for k, v in record.items() if v is not None}


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _Sink:
    """One job in one MLflow tracking server: finds or makes its parent run and logs trials as child runs.

    Idempotent: the parent is found by its tags, and a trial already logged (a finished child run) is not
    logged again; a child run left unfinished (its logging was cut off) is replaced.
    """

    def __init__(self, store: Store, name: str, uri: str, experiment: str, run_name: str) -> None:
        from mlflow.tracking import MlflowClient

        self.store, self.name, self.uri = store, name, uri
        self.experiment, self.run_name = experiment, run_name
        self.client = MlflowClient(tracking_uri=uri)
        self.attrs = store.job_attrs(name)
        spec = self.attrs.get("spec") or {}
        self.metric = (spec.get("objective") or {}).get("metric") or "objective"
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.logged: dict[int, str] = {}
        self.refused: dict[int, str] = {}
        self.watermark = -1
        self._space: Any = None

    # parent ------------------------------------------------------------------------------------
    def open(self, *, running: bool) -> str:
        """Find or create the experiment and the parent run; learn which trials are logged. Returns the parent's id."""
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is None:
            try:
                self.experiment_id = self.client.create_experiment(self.experiment)
            except Exception:  # another process created it just now
                exp = self.client.get_experiment_by_name(self.experiment)
                if exp is None:
                    raise
        if exp is not None:
            self.experiment_id = exp.experiment_id
        created = str(self.attrs.get("created"))
        found = self.client.search_runs(
            [self.experiment_id], max_results=1,
            filter_string=f"tags.`{TAG_KIND}` = 'job' and tags.`{TAG_JOB}` = '{self.name}' "
                          f"and tags.`{TAG_CREATED}` = '{created}'")
        if found:
            self.parent_id = found[0].info.run_id
            if running and found[0].info.status != "RUNNING":  # a resumed job
                self.client.update_run(self.parent_id, status="RUNNING")
        else:
            start = self.attrs.get("created")
            run = self.client.create_run(self.experiment_id, run_name=self.run_name,
                                         start_time=int(start * 1000) if _finite(start) else None,
                                         tags={TAG_KIND: "job", TAG_JOB: self.name, TAG_CREATED: created})
            self.parent_id = run.info.run_id
            self._log(self.parent_id, params=self._spec_params(), tags=provenance_tags(self.attrs))
        self._load_children()
        return self.parent_id

    def _spec_params(self) -> dict[str, str]:
        spec = self.attrs.get("spec") or {}
        out = {"backend": (spec.get("backend") or {}).get("name"), "strategy": spec.get("strategy"),
               "seed": spec.get("seed"), "early_stopping": spec.get("early_stopping"),
               "metric": self.metric, "direction": (spec.get("objective") or {}).get("direction"),
               **{f"budget.{k}": v for k, v in (spec.get("budget") or {}).items()},
               **{f"hyperparameters.{k}": v for k, v in ((spec.get("trial") or {}).get("hyperparameters") or {}).items()},
               "trial": (spec.get("trial") or {}).get("script") or (spec.get("trial") or {}).get("function")}
        return {_key(k): _text(v, 6000) for k, v in out.items() if v is not None}

    def _load_children(self) -> None:
        from mlflow.entities import ViewType

        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                                           filter_string=f"tags.`mlflow.parentRunId` = '{self.parent_id}' "
                                                         f"and tags.`{TAG_JOB}` = '{self.name}'",
                                           max_results=1000, page_token=token)
            for run in page:
                number = run.data.tags.get(TAG_TRIAL)
                if number is None or not number.isdigit():
                    continue
                if run.info.status == "RUNNING":  # cut off while it was logged: logged again
                    self.client.delete_run(run.info.run_id)
                else:
                    self.logged[int(number)] = run.info.run_id
            token = page.token
            if not token:
                return

    def finish(self, status: str, reason: str) -> None:
        """End the parent run as the job ended, with the best value and the trial counts."""
        from jupyter_hpo.records import better

        attrs = self.store.job_attrs(self.name)
        trials = self.store.trials(self.name)
        direction = ((attrs.get("spec") or {}).get("objective") or {}).get("direction", "maximize")
        best = None
        for t in trials:
            if t.state.name == "COMPLETE" and better(t.value, None if best is None else best.value, direction):
                best = t
        counts: dict[str, float] = {}
        for t in trials:
            counts[f"trials_{t.state.name.lower()}"] = counts.get(f"trials_{t.state.name.lower()}", 0) + 1
        metrics = dict(counts)
        tags = {**provenance_tags(attrs), "jupyter_hpo.status": status, "jupyter_hpo.reason": _text(reason, 1000)}
        if best is not None:
            metrics.update({"best_value": best.value, _key(f"best_{self.metric}"): best.value})
            tags["jupyter_hpo.best_trial"] = str(best.number)
            if best.number in self.logged:
                tags["jupyter_hpo.best_run_id"] = self.logged[best.number]
        assert self.parent_id is not None
        self._log(self.parent_id, metrics={k: [(0, v, None)] for k, v in metrics.items()}, tags=tags)
        with _quiet():
            self.client.set_terminated(self.parent_id, _JOB_STATUS.get(status, "FAILED"),
                                       end_time=int(attrs["ended"] * 1000) if _finite(attrs.get("ended")) else None)

    # trials ------------------------------------------------------------------------------------
    def unlogged(self) -> list[FrozenTrial]:
        """The finished trials not logged yet, read from the store (from the first one not logged on)."""
        while self.watermark + 1 in self.logged or self.watermark + 1 in self.refused:
            self.watermark += 1
        return [t for t in self.store.trials(self.name, after=self.watermark)
                if t.state.is_finished() and t.number not in self.logged and t.number not in self.refused]

    def log_trial(self, t: FrozenTrial) -> str:
        """Log one finished trial as a child run; returns its run id."""
        assert self.parent_id is not None and self.experiment_id is not None
        if "provenance" not in self.attrs:  # recorded by the runner just after it started
            self.attrs = self.store.job_attrs(self.name)
        ua = t.user_attrs
        state = t.state.name.lower()
        tags = {"mlflow.parentRunId": self.parent_id, TAG_KIND: "trial", TAG_JOB: self.name, TAG_TRIAL: str(t.number),
                "state": state}
        for key in ("warm", "worker", "seed", "interrupted", "rerun_of", "artifact"):
            if ua.get(key) is not None:
                tags[key] = _text(ua[key], 1000)
        if ua.get("error"):
            tags["error"] = _text(ua["error"], 5000)
        run = self.client.create_run(self.experiment_id, run_name=f"{self.run_name}-{t.number}",
                                     start_time=_ms(t.datetime_start), tags=tags)
        end = _ms(t.datetime_complete) or int(time.time() * 1000)
        metrics: dict[str, list[tuple[int, float, int | None]]] = {}
        if _finite(t.value):
            metrics["value"] = [(0, t.value, end)]
            if _key(self.metric) != "value":
                metrics[_key(self.metric)] = [(0, t.value, end)]
        folds = ua.get("fold_scores")
        if isinstance(folds, list):
            metrics["fold_score"] = [(i, s, end) for i, s in enumerate(folds) if _finite(s)]
        if t.intermediate_values:
            metrics["intermediate"] = [(int(s), v, end) for s, v in sorted(t.intermediate_values.items()) if _finite(v)]
        for key in ("fold_mean", "fold_std", "startup_s", "run_s", "cost_usd"):
            if _finite(ua.get(key)):
                metrics[key] = [(0, ua[key], end)]
        for key, v in (ua.get("metrics") or {}).items() if isinstance(ua.get("metrics"), Mapping) else ():
            if _finite(v) and _key(key) not in metrics:
                metrics[_key(key)] = [(0, v, end)]
        try:
            params = self.store_params(t)
            self._log(run.info.run_id, params=params, metrics=metrics, tags=provenance_tags(self.attrs))
        except Exception:
            with contextlib.suppress(Exception):  # not left half-logged: the next attempt starts afresh
                self.client.delete_run(run.info.run_id)
            raise
        with _quiet():
            self.client.set_terminated(run.info.run_id, _STATUS.get(state, "FAILED"), end_time=end)
        self.logged[t.number] = run.info.run_id
        return run.info.run_id

    def store_params(self, t: FrozenTrial) -> dict[str, str]:
        """The trial's parameters under the space's names (as the records show them)."""
        from jupyter_hpo.space import SearchSpace

        params = dict(t.params)
        with contextlib.suppress(Exception):  # a space the records cannot read: Optuna's names
            if self._space is None:
                self._space = SearchSpace.from_dict((self.attrs.get("spec") or {})["space"])
            params = self._space.from_optuna(t.params)
        return {_key(k): _text(v, 6000) for k, v in params.items()}

    def _log(self, run_id: str, *, params: Mapping[str, str] | None = None,
             metrics: Mapping[str, list[tuple[int, float, int | None]]] | None = None,
             tags: Mapping[str, str] | None = None) -> None:
        """``log_batch`` within MLflow's limits (100 params and tags, 1000 entities a request)."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        ms = [Metric(k, float(v), ts or now, step) for k, points in (metrics or {}).items() for step, v, ts in points]
        ps = [Param(k, v) for k, v in (params or {}).items()]
        ts_ = [RunTag(k, v) for k, v in (tags or {}).items()]
        keyed = ps + ts_
        first = True
        for chunk in _chunks(keyed, 100) if keyed else [[]]:
            batch_metrics = ms[:1000 - len(chunk)] if first else []
            ms = ms[len(batch_metrics):]
            self.client.log_batch(run_id, metrics=batch_metrics, params=[x for x in chunk if isinstance(x, Param)],
                                  tags=[x for x in chunk if isinstance(x, RunTag)])
            first = False
        for chunk in _chunks(ms, 1000):
            self.client.log_batch(run_id, metrics=chunk)

    def record(self, **extra: Any) -> dict[str, Any]:
        """What the job attribute ``mlflow`` says: where the job is logged, and how many trials are."""
        return {"tracking_uri": self.uri, "experiment": self.experiment, "experiment_id": self.experiment_id,
                "run_id": self.parent_id, "logged": len(self.logged), **extra}


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
        if self._thread.is_alive():
            self._note(f"MLflow: the runner ended before every trial was logged to {self.settings.tracking_uri} "
                       f"(still busy after {grace:g} s); `jupyter hpo export {self.runner.name} --mlflow` logs what "
                       "is missing")

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
                self._note(f"MLflow: cannot log to {s.tracking_uri} ({text}); the job goes on, its trials are kept "
                           f"and retried every {RETRY_MIN_S:g}-{RETRY_MAX_S:g} s")
                self._attr(error=text)
                self._delay = RETRY_MIN_S
            else:
                self._delay = min(self._delay * 2, RETRY_MAX_S)
            self._failing = text
            return False
        if self._failing is not None:
            self._note(f"MLflow: {s.tracking_uri} answers again; {self._missed} trial(s) logged late, none lost")
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
        self._note(f"MLflow: {left} trial(s) of this job are not logged to {self.settings.tracking_uri}, which "
                   f"could not be reached when the runner ended ({self._failing}); `jupyter hpo export {name} "
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
        raise MlflowError(f"job {name!r} is {status} and its runner logs it to {uri} live; export it once it has "
                          "ended (the export then adds what the runner could not log).")
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
        raise MlflowError(f"exporting job {name!r} to MLflow at {uri} failed: {_one_line(e)}") from None
    store.set_job_attrs(name, **{ATTR: sink.record(error=None, unlogged=0, exported=time.time())})
    assert sink.parent_id is not None
    return sink.parent_id


def status_line(attrs: Mapping[str, Any]) -> str | None:
    """One line for ``jupyter hpo show``: where the job is logged in MLflow and whether that went well."""
    rec = attrs.get(ATTR)
    if not isinstance(rec, Mapping):
        return None
    line = (f"MLflow: run {rec.get('run_id') or '-'} in experiment {rec.get('experiment')!r} at "
            f"{rec.get('tracking_uri')}")
    if rec.get("unlogged"):
        line += f"; {rec['unlogged']} trial(s) not logged"
    if rec.get("error"):
        line += f"; last error: {rec['error']}"
    return line


def register_model(job: Any, name: str, *, tracking_uri: str | None = None) -> str:
    """Register the job's refit (or best) model in the MLflow Model Registry; returns ``models:/NAME/VERSION``."""
    from jupyter_hpo._mlflow_registry import register

    return register(job, name, tracking_uri=tracking_uri)
