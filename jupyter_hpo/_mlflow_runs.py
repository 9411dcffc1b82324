"""The MLflow side of :mod:`jupyter_hpo.mlflow_tracking`: a job's parent run and its trials' child runs.

:class:`_Sink` finds or makes a job's parent run (by its tags) and logs finished trials as child runs, each
once; the live tracker and the export drive it. What goes where is listed in ``mlflow_tracking``'s docstring.
MLflow is imported by the functions that use it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_hpo._urls import masked_url
from jupyter_hpo.records import (
    ARTIFACT,
    COST_USD,
    FOLD_MEAN,
    FOLD_STD,
    INTERRUPTED,
    RERUN_OF,
    RUN_S,
    SEED,
    STARTUP_S,
    WARM,
    WORKER,
)

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from jupyter_hpo.store import Store

#: how long the reachability check of an HTTP tracking server waits
HEALTH_TIMEOUT_S = 2.0
TAG_KIND, TAG_JOB, TAG_CREATED, TAG_TRIAL = ("jupyter_hpo.kind", "jupyter_hpo.job", "jupyter_hpo.job_created",
                                             "jupyter_hpo.trial")
_STATUS = {"complete": "FINISHED", "pruned": "KILLED"}  # anything else: FAILED
_JOB_STATUS = {"completed": "FINISHED", "stopped": "KILLED"}  # anything else: FAILED



def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        why = _one_line(reason if isinstance(reason, BaseException) else e)
        return f"the tracking server at {masked_url(uri)} cannot be reached ({why})"


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


def provenance_tags(attrs: Mapping[str, Any], store: Store | None = None) -> dict[str, str]:
    """The job's provenance (job attribute ``provenance``) as tags: ``jupyter_hpo.provenance.<key>``, nested
    values as JSON; with ``store``, the package list read back from the store's blob table (the job attribute
    holds only its reference, ``packages_blob``)."""
    record = attrs.get("provenance")
    if not isinstance(record, Mapping):
        return {}
    if store is not None:
        record = store.whole_provenance(dict(record))
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
            self._log(self.parent_id, params=self._spec_params(), tags=provenance_tags(self.attrs, self.store))
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
        from jupyter_hpo.records import FEASIBLE, better, competes

        attrs = self.store.job_attrs(self.name)
        trials = self.store.trials(self.name)
        direction = ((attrs.get("spec") or {}).get("objective") or {}).get("direction", "maximize")
        best = None
        for t in trials:
            if (competes(t.state.name.lower(), t.user_attrs.get(FEASIBLE))
                    and better(t.value, None if best is None else best.value, direction)):
                best = t
        counts: dict[str, float] = {}
        for t in trials:
            counts[f"trials_{t.state.name.lower()}"] = counts.get(f"trials_{t.state.name.lower()}", 0) + 1
        metrics = dict(counts)
        tags = {**provenance_tags(attrs, self.store), "jupyter_hpo.status": status,
                "jupyter_hpo.reason": _text(reason, 1000)}
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

    def log_trial(self, t: FrozenTrial, scored: FrozenTrial | None = None) -> str:
        """Log one finished trial as a child run; returns its run id. ``scored``: for a refit's trial, the job's
        trial it repeats, whose value (the model's score as tuned) is logged as the metric, the refit's own as
        ``refit_value`` (the credit example's refit reports an in-sample AUC: logged as ``auc``, it topped the
        job's runs sorted by AUC)."""
        assert self.parent_id is not None and self.experiment_id is not None
        if "provenance" not in self.attrs:  # recorded by the runner just after it started
            self.attrs = self.store.job_attrs(self.name)
        ua = t.user_attrs
        state = t.state.name.lower()
        tags = {"mlflow.parentRunId": self.parent_id, TAG_KIND: "trial", TAG_JOB: self.name, TAG_TRIAL: str(t.number),
                "state": state}
        for key in (WARM, WORKER, SEED, INTERRUPTED, RERUN_OF, ARTIFACT):
            if ua.get(key) is not None:
                tags[key] = _text(ua[key], 1000)
        if ua.get("error"):
            tags["error"] = _text(ua["error"], 5000)
        if scored is not None:
            tags["jupyter_hpo.refit_of_trial"] = str(scored.number)
        run = self.client.create_run(self.experiment_id, run_name=f"{self.run_name}-{t.number}",
                                     start_time=_ms(t.datetime_start), tags=tags)
        end = _ms(t.datetime_complete) or int(time.time() * 1000)
        metrics: dict[str, list[tuple[int, float, int | None]]] = {}
        value = t.value if scored is None else scored.value
        if _finite(value):
            metrics["value"] = [(0, value, end)]
            if _key(self.metric) != "value":
                metrics[_key(self.metric)] = [(0, value, end)]
        if scored is not None:
            if _finite(t.value):
                metrics["refit_value"] = [(0, t.value, end)]
        folds = ua.get("fold_scores")
        if isinstance(folds, list):
            metrics["fold_score"] = [(i, s, end) for i, s in enumerate(folds) if _finite(s)]
        if t.intermediate_values:
            metrics["intermediate"] = [(int(s), v, end) for s, v in sorted(t.intermediate_values.items()) if _finite(v)]
        for key in (FOLD_MEAN, FOLD_STD, STARTUP_S, RUN_S, COST_USD):
            if _finite(ua.get(key)):
                metrics[key] = [(0, ua[key], end)]
        # the trial's own other metrics: under their names, unless one is a name of the runner's (``run_s``,
        # ``fold_mean``, ...), whose meaning it is: then as ``metric_<name>``, job.trials()'s column
        reserved = {"value", "refit_value", _key(self.metric), "fold_score", "intermediate",
                    *(_key(k) for k in (FOLD_MEAN, FOLD_STD, STARTUP_S, RUN_S, COST_USD))}
        for key, v in (ua.get("metrics") or {}).items() if isinstance(ua.get("metrics"), Mapping) else ():
            name = _key(key) if _key(key) not in reserved else _key(f"metric_{key}")
            if _finite(v) and name not in metrics:
                metrics[name] = [(0, v, end)]
        try:
            params = self.store_params(t)
            self._log(run.info.run_id, params=params, metrics=metrics, tags=provenance_tags(self.attrs, self.store))
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
