"""The live tuning dashboard: an anywidget whose front end (``dashboard.js``, built from
``labextension/src/dashboard.ts``) draws inline SVG charts.

Data flow. Synced traits carry only small things (``job_name``, ``status``, ``summary``, ``importance``,
``importance_note``, ``space``, ``error``), so the saved widget state stays small. Trial rows travel as custom messages:

* the front end, when it renders, sends ``{"type": "hello"}``;
* Python answers ``{"type": "snapshot", "trials": [row, ...], "plot": [number, ...] | None, "seeded": [...]}``
  with every row, and the earlier jobs' trials that seeded a ``warm_start`` job's sampler (:func:`seeded_rows`);
* a daemon thread then polls :class:`jupyter_hpo.api.TrialFeed` every ``interval`` seconds and sends
  ``{"type": "delta", "trials": [changed rows], "plot": ...}`` at most every 0.5 s (``plot`` only when it changed);
* :meth:`Dashboard.start` (called when it is displayed) starts the thread at once: until a view said
  hello (a kernel whose comm messages go to its main shell holds ``hello`` back while another cell runs) it
  sends whole snapshots, at most every ``max(0.5, rows / 1000)`` seconds, so the view is complete while the
  cell runs;
* ``{"type": "stop", "id": n}`` from the front end calls ``job.stop(wait=False)`` and is answered
  ``{"type": "stop-reply", "id": n, "ok": bool, "error": str}``. Stop is idempotent: the front end sends it
  again when no reply came within a few seconds, and says so when the kernel never answers.

Where the kernel runs these handlers. JupyterLab 4.4+ and Notebook 7 send a page's comm messages to a kernel
subshell (ipykernel 7+), so they are handled while a cell runs; :func:`~jupyter_hpo.widgets._routing.
route_to_sender` keeps them there, also after the page is reloaded. Where comm messages go to the main shell
(JupyterLab's "Comms over subshells" disabled, ipykernel < 7, other front ends), a busy cell holds them until
it ends.

Refit and Register (the job's result handed on, as ``job.refit()`` and ``jupyter hpo register`` do):

* ``{"type": "refit", "id": id}`` starts :meth:`jupyter_hpo.api.Job.refit` and ``{"type": "register", "id": id,
  "to": "mlflow", "model_name": ..., "tracking_uri"?: ...}`` (or ``"to": "sagemaker", "group": ...,
  "region"?: ...``; checked by :func:`jupyter_hpo.handoff.check_register_request`) registers the refit's (or
  best trial's) model. Each is answered at once ``{"type": "refit-reply" | "register-reply", "id": id, "state":
  "working"}``, and when done ``{..., "state": "done", "ok": bool, "error": str}`` with ``job`` (the refit job)
  or ``uri`` (what was registered). The work runs in a thread of its own, so the kernel stays free. A request
  sent again with the same id (the front end resends one the kernel has not acknowledged) is never run twice:
  it gets the acknowledgement again, or the final answer.
* the ``refit`` trait follows the job's latest refit: ``{"job", "status", "model", "error"}``, ``model`` being
  :func:`jupyter_hpo.artifacts.model_path` of the job once the refit completed, ``error`` why there is none.

The thread ends once the job has ended (completed, stopped or failed) and no trial is left unfinished,
after a final delta, or when the widget is closed. A job that looks stale (its heartbeat is late) is
polled every :data:`STALE_POLL_S` seconds, because its runner may only be slow and come back. A reloaded
page sends ``hello`` again and gets a fresh snapshot, so it comes back live by itself.

A row (:func:`compact_row`) is a trial record without the traceback, with intermediate values as
``steps: [[step, value], ...]`` (at most :data:`MAX_STEPS`), strict-JSON-able like every record
(non-finite numbers are null, and then ``nonfinite`` says what they were; see :mod:`jupyter_hpo.records`). ``plot`` lists the trial numbers the charts
draw when there are more than :data:`MAX_POINTS` finished trials (see :func:`downsample`), else it is None.
"""

from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path
from typing import Any, NamedTuple

import anywidget
import traitlets as t

from jupyter_hpo import api, artifacts
from jupyter_hpo.analytics import (
    MAX_POINTS,
    MIN_TRIALS_FOR_IMPORTANCE,
    downsample,
    first_objective,
    importance,
    param_importance,
)
from jupyter_hpo.analytics import timing as _timing
from jupyter_hpo.exceptions import ArtifactNotFoundError, HpoError, JobNotFoundError
from jupyter_hpo.records import (
    CREATED,
    ERROR,
    FEASIBLE,
    FOLD_MEAN,
    FOLD_STD,
    INTERRUPTED,
    METRICS,
    NONFINITE,
    REFIT,
    RERUN_OF,
    REUSED_FROM,
    RUN_S,
    SEEDED_TRIALS,
    SPEC,
    STARTUP_S,
    STOP_REQUESTED,
    VIOLATIONS,
    WARM,
    json_safe,
)
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets._routing import route_to_sender

__all__ = [
    "MAX_POINTS",
    "MAX_STEPS",
    "MIN_SEND_GAP_S",
    "MIN_TRIALS_FOR_IMPORTANCE",
    "STALE_POLL_S",
    "Dashboard",
    "compact_row",
    "downsample",
    "param_importance",
    "seeded_rows",
]

HERE = Path(__file__).parent
#: The front end: an ES module built by `jlpm build` (which `pip install -e .` and a wheel build run) from
#: labextension/src/dashboard.ts; anywidget reads it when the widget classes are defined.
ESM = HERE / "dashboard.js"
if not ESM.is_file():
    raise ImportError(f"{ESM} is missing: the dashboard's front end is built from labextension/src/dashboard.ts "
                      "by `jlpm build` (which `pip install -e .` runs); run `jlpm build` in the repository.")
#: At most this many intermediate values per trial are sent (evenly spaced, first and last kept).
MAX_STEPS = 100
#: The polling thread sends at most one delta per this many seconds (batching what changed meanwhile).
MIN_SEND_GAP_S = 0.5
#: How often a job that looks stale is polled.
STALE_POLL_S = 5.0
#: How often the dashboards of ended jobs look whether their job was resumed (from the sidebar, the CLI, another
#: kernel): one thread for all of them, one read of each job's attributes per look.
ENDED_WATCH_S = 5.0
_FINISHED = ("complete", "pruned", "fail")
_ENDED = (JobStatus.COMPLETED, JobStatus.STOPPED, JobStatus.FAILED)
_SETTLE_POLLS = 10
#: Before any view said hello, whole snapshots are sent at most every max(0.5 s, rows x this) seconds.
_SNAPSHOT_S_PER_ROW = 0.001


_ended_views: weakref.WeakSet[Any] = weakref.WeakSet()
_ended_lock = threading.Lock()
_ended_thread: threading.Thread | None = None


def _watch_ended(dash: Any) -> None:
    """Look, every :data:`ENDED_WATCH_S`, whether the ended job of ``dash`` runs again (resumed from the sidebar,
    the CLI or another kernel), and then follow it again. Its polling thread ended with the job, so the view
    showed "stopped" while the job ran on."""
    global _ended_thread
    with _ended_lock:
        _ended_views.add(dash)
        if _ended_thread is None or not _ended_thread.is_alive():
            _ended_thread = threading.Thread(target=_look_for_resumes, name="hpo-dashboard-resumes", daemon=True)
            _ended_thread.start()


def _look_for_resumes() -> None:
    while True:
        time.sleep(ENDED_WATCH_S)
        with _ended_lock:
            views = list(_ended_views)
        for dash in views:
            if dash._stop.is_set():
                _ended_views.discard(dash)
                continue
            try:  # whatever fails (the store busy, the job deleted), this thread goes on for every other view
                store = dash.job.store
                attrs = store.job_attrs(dash.job_name)
                # resumed, or resumed and ended again between two looks (a short job): followed again either way
                if (store.status_of(attrs).value == dash.status
                        and attrs.get("ended") == dash._feed.attrs.get("ended")):
                    continue
                with _ended_lock:
                    _ended_views.discard(dash)
                dash._ensure_polling(follow_ended=True)  # its thread reads it to the end, then watches it again
            except Exception:  # noqa: BLE001 - looked at again in ENDED_WATCH_S
                import logging

                logging.getLogger(__name__).debug("jupyter-hpo dashboard: looking for a resume of %s failed",
                                                  dash.job_name, exc_info=True)


def _step_key(key: str) -> int | float:
    try:
        return int(key)
    except ValueError:
        return float(key)


def _thin(items: list[Any], cap: int) -> list[Any]:
    """At most ``cap`` items, evenly spaced, keeping the first and the last."""
    if len(items) <= cap:
        return items
    picks = sorted({round(i * (len(items) - 1) / (cap - 1)) for i in range(cap)})
    return [items[i] for i in picks]


def compact_row(record: dict[str, Any]) -> dict[str, Any]:
    """The row the front end gets for one trial record (see :meth:`jupyter_hpo.api.Job.trial_records`).

    Strict-JSON-able (:func:`jupyter_hpo.records.json_safe`). A row is compact: it has ``nonfinite`` only
    when something was non-finite, with the record's flags and those of any number the row itself had to
    replace (by the row's paths, e.g. ``steps.2.1``).
    """
    steps = sorted(([_step_key(k), v] for k, v in (record.get("intermediate") or {}).items()), key=lambda s: s[0])
    row = {
        "number": record["number"],
        "state": record["state"],
        "value": record.get("value"),
        "params": record.get("params") or {},
        WARM: record.get(WARM),
        STARTUP_S: record.get(STARTUP_S),
        REUSED_FROM: record.get(REUSED_FROM),
        RUN_S: record.get(RUN_S),
        ERROR: record.get(ERROR),
        FOLD_MEAN: record.get(FOLD_MEAN),
        FOLD_STD: record.get(FOLD_STD),
        INTERRUPTED: bool(record.get(INTERRUPTED)),
        RERUN_OF: record.get(RERUN_OF),  # the interrupted trial it runs again, else None
        FEASIBLE: record.get(FEASIBLE),
        VIOLATIONS: record.get(VIOLATIONS) or [],
        METRICS: record.get(METRICS) or {},
        "steps": _thin(steps, MAX_STEPS),
        "started": record.get("started"),
        "completed": record.get("completed"),
    }
    safe, flags = json_safe(row)
    flags = {**(record.get(NONFINITE) or {}), **flags}
    return {**safe, NONFINITE: flags} if flags else safe


def seeded_rows(job: api.Job) -> list[dict[str, Any]]:
    """The earlier jobs' complete trials that seeded ``job``'s sampler (``warm_start``), as the runner took them.

    The runner keeps them in its own study, never in the store, and records which they were
    (``seeded_trials``: ``{job: [number, ...]}``, up to
    :data:`~jupyter_hpo.runner._warm_start.SEEDED_TRIALS_MAX` of them); this reads exactly those. A job that
    records no list (more seeded trials than that, or launched by an older jupyter-hpo) has them taken again by
    the runner's own rule (:func:`jupyter_hpo.runner._warm_start.seed_from_jobs`: complete, with a finite value
    and parameters that fit the job's space), which also shows what an earlier job gained since.

    Returns:
        ``[{"job", "number", "value", "params"}, ...]`` (strict-JSON-able), in the order taken; empty without
        ``warm_start`` or when the earlier jobs cannot be read.
    """
    attrs = job.attrs
    spec = attrs.get(SPEC)
    sources = ((spec or {}).get("warm_start") or {}).get("from") if isinstance(spec, dict) else None
    if not sources or not isinstance(spec.get("objective"), dict):
        return []
    try:
        space = job.space
        taken = attrs.get(SEEDED_TRIALS)
        pairs = (_recorded(job.store, taken) if isinstance(taken, dict)
                 else _taken_again(job.store, spec, sources, space))
    except Exception as e:  # noqa: BLE001 - the marks are extra: the dashboard shows the job's own trials anyway
        import logging

        logging.getLogger(__name__).warning("jupyter-hpo dashboard: the trials that seeded job %s cannot be read: %s",
                                            job.name, e)
        return []
    rows = [{"job": source, "number": t.number, "value": t.value, "params": _seeded_params(space, t.params)}
            for source, t in pairs]
    return json_safe(rows)[0]


def _recorded(store: Any, taken: dict[str, list[int]]) -> list[tuple[str, Any]]:
    """The trials ``taken`` names (``{job: [number, ...]}``), each with its job (one read of each job)."""
    out = []
    for source, numbers in taken.items():
        by_number = {t.number: t for t in store.trials(source)}
        out += [(source, by_number[n]) for n in numbers]
    return out


def _taken_again(store: Any, spec: dict[str, Any], sources: list[str], space: Any) -> list[tuple[str, Any]]:
    """The trials the runner's rule takes from ``sources`` now (into ``space``), each with its job; which trials
    does not depend on constraints, so none are given."""
    from types import SimpleNamespace

    import optuna

    from jupyter_hpo.runner._warm_start import seed_from_jobs

    objective = spec["objective"]
    wanted = SimpleNamespace(warm_start=tuple(sources), space=space, constraints=(), objective=SimpleNamespace(
        metric=objective.get("metric"), direction=objective.get("direction", "maximize")))
    brain = optuna.create_study(direction=wanted.objective.direction)
    seed_from_jobs(store, wanted, brain, space.to_optuna(), lambda _note: None)  # type: ignore[arg-type]
    return [(t.user_attrs["seeded_from"], _Taken(t.user_attrs["seeded_trial"], t.value, t.params))
            for t in brain.trials]


class _Taken(NamedTuple):
    number: int
    value: float | None
    params: dict[str, Any]


def _seeded_params(space: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A seeded trial's values under the space's names; the parameters the earlier job lacked are absent."""
    from jupyter_hpo.space import _REVERSE_PREFIX

    out = {}
    for name in space:
        if _REVERSE_PREFIX + name in params:
            out[name] = 1 - params[_REVERSE_PREFIX + name]
        elif name in params:
            out[name] = params[name]
    return out


class Dashboard(anywidget.AnyWidget):
    """The live dashboard of one tuning job: progress, charts, warm-pool savings, a trial table, Stop.

    Args:
        job: a :class:`jupyter_hpo.api.Job` or the name of one.
        interval: seconds between polls of the store while the job runs (> 0).

    Raises:
        JobNotFoundError: ``job`` is a name and there is no such job.

    Example:
        >>> from jupyter_hpo.widgets import Dashboard
        >>> Dashboard("credit-xgb")  # doctest: +SKIP
    """

    _esm = ESM
    _css = HERE / "dashboard.css"

    mode = t.Unicode("dashboard", help="Which view dashboard.js draws: 'dashboard' (or 'compare').").tag(sync=True)
    job_name = t.Unicode("", help="The job's name as stored; the front end shows it as text.").tag(sync=True)
    status = t.Unicode("", help="pending, running, stopping, completed, stopped, failed or stale.").tag(sync=True)
    summary = t.Dict(help="The job's summary (jupyter_hpo.records.JobSummary.to_json()), plus done (finished "
                     "trials, interrupted ones not counted), elapsed_s, eta_s and stop_requested.").tag(sync=True)
    importance = t.Dict(help="{param: share} from jupyter_hpo.analytics.importance(); empty below 5 trials with a "
                        "value or fold scores.").tag(sync=True)
    importance_note = t.Unicode("", help="What the importance rests on ('From 3 complete and 4 pruned trials, ...'), "
                                "or when it will appear.").tag(sync=True)
    space = t.Dict(help="The search space as SearchSpace.to_dict(): the axes and table columns.").tag(sync=True)
    error = t.Unicode("", help="The last error reading the store or stopping the job; empty when all is well."
                      ).tag(sync=True)
    refit = t.Dict(help="The job's latest refit: {job, status, model, error}; model is its model's path or URI "
                   "once it completed, error why it has none; empty when the job was never refit.").tag(sync=True)
    interval = t.Float(0.5, help="Seconds between polls of the store while the job runs (not synced).")

    @t.validate("interval")
    def _check_interval(self, proposal: dict[str, Any]) -> float:
        value = proposal["value"]
        if not value > 0:
            raise t.TraitError(f"`interval` must be > 0 seconds, but got {value!r}.")
        return value

    def __init__(self, job: api.Job | str, *, interval: float = 0.5, **kwargs: Any) -> None:
        job = api.attach(job) if isinstance(job, str) else job
        try:
            space = job.space.to_dict()
        except (HpoError, KeyError, TypeError):  # a study written by another tool, without a spec
            space = {}
        super().__init__(interval=interval, job_name=job.name, space=space, **kwargs)
        route_to_sender(self)
        self.job = job
        attrs = job.attrs
        self._follow_spec(attrs.get(SPEC))
        self._created = attrs.get(CREATED)  # a job made again under the name since is another job
        self._resend = False  # the rows a view has are another job's: send it a whole snapshot
        self._feed = api.TrialFeed(job)
        self._rows: dict[int, dict[str, Any]] = {}
        self._pending: set[int] = set()
        self._plot_sent: list[int] | None = None
        self._base_summary: dict[str, Any] | None = None
        self._importance_at = -1
        self._seeded: list[dict[str, Any]] | None = None
        self._connected = False
        self._last_send = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handoffs: dict[tuple[str, Any], dict[str, Any] | None] = {}  # (kind, id) -> final answer, None: working
        self._refit_thread: threading.Thread | None = None
        self._refit_of: tuple[Any, ...] | None = None  # what the refit line was read for: see _poll
        self.on_msg(self._on_msg)
        self._poll()

    # -- what the front end gets -------------------------------------------------------------
    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every compact row read so far, by trial number: what a snapshot sends."""
        with self._lock:
            return [self._rows[n] for n in sorted(self._rows)]

    def plotted(self) -> list[int] | None:
        """The trial numbers the charts draw, or None when they draw every finished trial."""
        rows = self.rows
        if sum(r["state"] in _FINISHED for r in rows) <= MAX_POINTS:
            return None
        return [r["number"] for r in downsample(rows, self.summary.get("direction", "maximize"))]

    def refresh(self) -> list[dict[str, Any]]:
        """Poll the store once, update the traits, and send what changed to a front end that said hello.

        Returns:
            The rows that changed since the previous poll.
        """
        changed = self._poll()
        self._flush()
        return changed

    def close(self) -> None:
        """Stop the polling thread and close the widget (its views disappear)."""
        if not hasattr(self, "_stop"):  # __init__ failed (e.g. a bad interval); called from __del__
            super().close()
            return
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        super().close()

    # -- polling -------------------------------------------------------------------------------
    def _poll(self) -> list[dict[str, Any]]:
        with self._lock:
            changed = [compact_row(r) for r in self._feed.poll()]
            created = self._feed.attrs.get(CREATED)
            if created != self._created:
                self._made_again(created)
            for row in changed:
                self._rows[row["number"]] = row
                self._pending.add(row["number"])
            self._update_traits()
            # the refit line again when the job's refit, its best (a resume may outdate the refit) or the job
            # itself (made again) changed
            refit_of = (self._feed.attrs.get(REFIT), (self.summary.get("best") or {}).get("number"), self._created)
            if refit_of != self._refit_of:
                self._refit_of = refit_of
                self._read_refit()
            return changed

    def _made_again(self, created: Any) -> None:
        """The job was deleted and made again under its name since the last poll (the feed has started over): show
        the new job alone, from its spec, space and trials; a view gets a whole snapshot (rows are replaced)."""
        self._created = created
        self._rows.clear()
        self._pending.clear()
        self._plot_sent, self._base_summary, self._importance_at, self._seeded = None, None, -1, None
        self._follow_spec(self._feed.attrs.get(SPEC))
        try:
            self.space = self.job.space.to_dict()
        except (HpoError, KeyError, TypeError):
            self.space = {}
        self.importance, self.importance_note = {}, ""
        self._resend = True

    def _follow_spec(self, spec: Any) -> None:
        # with a k-fold pruner, a trial's intermediate value at step i is its score on fold i + 1
        self._steps_are_folds = isinstance(spec, dict) and str(spec.get("early_stopping")).startswith("kfold")
        self._first_of = first_objective(spec)

    def _update_traits(self) -> None:
        base = {**self._feed.summary(), STOP_REQUESTED: bool(self._feed.attrs.get(STOP_REQUESTED))}
        if base == self._base_summary and not self.error:
            return
        self._base_summary = base
        found = None
        # recomputed when the complete + pruned count changed by 5 % (and at least 1), or the job ended: on a
        # long job it is the dearest part of a poll, and a handful of trials barely moves the shares
        done = base["complete"] + base["pruned"]
        step = max(1, int(self._importance_at * 0.05))
        active = JobStatus(base["status"]).is_active()
        if done != self._importance_at and (done - self._importance_at >= step or not active):
            self._importance_at = done
            found = importance(self.rows, self.space, steps_are_folds=self._steps_are_folds, first_of=self._first_of)
        with self.hold_sync():
            attrs = self._feed.attrs
            runtime = ((attrs.get("spec") or {}).get("budget") or {}).get("max_runtime")
            started = (attrs.get("runner") or {}).get("started")
            self.summary = {**base, **_timing(base, self.rows, time.time(), runtime, started)}
            self.status = base["status"]
            self.error = ""
            if found is not None:
                if found.shares != self.importance:
                    self.importance = found.shares
                self.importance_note = found.note

    def start(self) -> None:
        """Follow the job from now on, as the first view's ``hello`` would (call it when displaying).

        A kernel whose comm messages go to its main shell handles the front end's messages only when a
        running cell (``job.wait()``, a training step) ends; the traits and rows still reach the view meanwhile.
        """
        self._ensure_polling()
        self._follow_refit()

    def _flush(self) -> None:
        with self._lock:
            if self._resend and self._connected:
                self._snapshot()
                return
            if not self._pending:
                return
            if not self._connected:
                # no view has said hello yet, maybe because the kernel is busy: send every row, rarely, so
                # that a view that rendered meanwhile is complete whatever it missed
                gap = max(MIN_SEND_GAP_S, len(self._rows) * _SNAPSHOT_S_PER_ROW)
                if time.monotonic() - self._last_send >= gap:
                    self._snapshot()
                return
            msg: dict[str, Any] = {"type": "delta", "trials": [self._rows[n] for n in sorted(self._pending)]}
            self._pending.clear()
            plot = self.plotted()
            if plot != self._plot_sent:
                msg["plot"] = self._plot_sent = plot
            self._last_send = time.monotonic()
            self.send(msg)

    def _send_snapshot(self) -> None:
        """Answer a view's hello: every row as it is now; deltas follow."""
        with self._lock:
            self._poll()
            self._connected = True
            self._snapshot()

    @property
    def seeded(self) -> list[dict[str, Any]]:
        """The earlier jobs' trials that seeded the job's sampler (:func:`seeded_rows`), read once."""
        if self._seeded is None:
            self._seeded = seeded_rows(self.job)
        return self._seeded

    def _snapshot(self) -> None:
        """Send every row (called with the lock held)."""
        self._pending.clear()
        self._resend = False
        self._plot_sent = self.plotted()
        self._last_send = time.monotonic()
        self.send({"type": "snapshot", "trials": self.rows, "plot": self._plot_sent, "seeded": self.seeded})

    def _ended(self) -> bool:
        return JobStatus(self.status) in _ENDED

    def _ensure_polling(self, follow_ended: bool = False) -> None:
        # under the lock: a page's hello (handled in its subshell's thread) and start() may come at once;
        # follow_ended: poll an ended job once more to its end (it ran again: the watcher of ended jobs saw it)
        with self._lock:
            if self._ended() and not follow_ended and not self._stop.is_set():
                _watch_ended(self)  # no polling thread for an ended job; a resume of it is looked for
                return
            if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name=f"hpo-dashboard-{self.job_name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        wait, settle = self.interval, _SETTLE_POLLS
        while not self._stop.wait(wait):
            try:
                self._poll()
            except JobNotFoundError as e:  # the job was deleted
                self.error = str(e)
                return
            except Exception as e:  # noqa: BLE001 - keep going: the store may be busy for a moment
                self.error = f"cannot read the store: {type(e).__name__}: {e}"
                continue
            # once the job has ended, poll until no trial is left unfinished (the runner writes a trial's
            # last attributes and state one after the other), at most _SETTLE_POLLS more times
            ended = self._ended() and (settle <= 0 or not any(r["state"] not in _FINISHED for r in self.rows))
            settle -= self._ended()
            if ended or time.monotonic() - self._last_send >= MIN_SEND_GAP_S:
                self._flush()
            if ended:
                _watch_ended(self)
                return
            wait = max(self.interval, STALE_POLL_S) if self.status == JobStatus.STALE.value else self.interval

    # -- messages from the front end -----------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "hello":
            self._send_snapshot()
            self._ensure_polling()
            self._follow_refit()
        elif kind in ("refit", "register"):
            self._handoff(kind, content)
        elif kind == "stop":
            error = self._stop_job()
            self.send({"type": "stop-reply", "id": content.get("id"), "ok": not error, "error": error})
        else:
            self.log.warning("jupyter-hpo dashboard: ignored a message of unknown type: %r", content)

    def _stop_job(self) -> str:
        """Stop the job; returns what went wrong, or an empty string."""
        try:
            self.job.stop(wait=False)
        except HpoError as e:
            self.error = str(e)
            return self.error
        except Exception as e:
            self.log.exception("jupyter-hpo dashboard: stopping job %s failed", self.job_name)
            self.error = f"cannot stop the job: {type(e).__name__}: {e}"
            return self.error
        try:
            self.refresh()  # shows "Stopping..." at once; the polling thread follows the job to its end
        except Exception:  # noqa: BLE001 - the stop was asked for: a failed read only delays the display
            self.log.warning("jupyter-hpo dashboard: reading job %s after the stop failed", self.job_name)
        if self._connected:
            self._ensure_polling()
        return ""

    # -- Refit and Register ---------------------------------------------------------------------
    def _handoff(self, kind: str, content: dict[str, Any]) -> None:
        """Acknowledge a refit or register request and run it in a thread, once per id (see the module docstring)."""
        key = (kind, content.get("id"))
        if not isinstance(key[1], (str, int)) or isinstance(key[1], bool):
            self.send({"type": f"{kind}-reply", "id": None, "state": "done", "ok": False,
                       "error": f"a {kind} request needs an id (a string or an integer), but got {key[1]!r}."})
            return
        with self._lock:
            first = key not in self._handoffs
            done = self._handoffs.setdefault(key, None)
        if done is not None:
            self.send(done)
            return
        self.send({"type": f"{kind}-reply", "id": key[1], "state": "working"})
        if first:
            threading.Thread(target=self._run_handoff, args=(kind, content, key), daemon=True,
                             name=f"hpo-dashboard-{kind}-{self.job_name}").start()

    def _run_handoff(self, kind: str, content: dict[str, Any], key: tuple[str, Any]) -> None:
        reply: dict[str, Any] = {"type": f"{kind}-reply", "id": key[1], "state": "done", "ok": False, "error": ""}
        try:
            if kind == "refit":
                child = self.job.refit(wait=False)
                reply.update(ok=True, job=child.name, status=child.status.value)
                self._read_refit()
                self._follow_refit()
            else:
                from jupyter_hpo.handoff import check_register_request, register

                request = check_register_request({k: v for k, v in content.items() if k not in ("type", "id")},
                                                 force=False)
                result = register(self.job, request)
                reply.update(ok=True, uri=result["uri"], registry=result["registry"], notes=result["notes"])
        except HpoError as e:
            reply["error"] = str(e)
        except Exception as e:
            self.log.exception("jupyter-hpo dashboard: %s of job %s failed", kind, self.job_name)
            reply["error"] = f"cannot {kind} job {self.job_name}: {type(e).__name__}: {e}"
        with self._lock:
            self._handoffs[key] = reply
        self.send(reply)

    def _read_refit(self) -> None:
        """Set the ``refit`` trait from the job's latest refit (``attrs["refit"]``); empty when it was never refit."""
        name = self.job.attrs.get(REFIT)
        if not isinstance(name, str):
            if self.refit:
                self.refit = {}
            return
        try:
            status = api.Job(name, self.job.store).status
        except JobNotFoundError:
            self.refit = {"job": name, "status": "", "model": None, "error": f"the refit job {name} is gone."}
            return
        model, error = None, ""
        if not status.is_active():
            try:
                model = artifacts.model_path(self.job)
            except ArtifactNotFoundError as e:
                error = str(e)
        self.refit = {"job": name, "status": status.value, "model": model, "error": error}

    def _follow_refit(self) -> None:
        """Follow a running refit until it ends (a thread; the ``refit`` trait shows its progress)."""
        if not JobStatus(self.refit.get("status") or "completed").is_active():
            return
        with self._lock:
            if self._refit_thread is not None and self._refit_thread.is_alive():
                return
            self._refit_thread = threading.Thread(target=self._run_refit, daemon=True,
                                                  name=f"hpo-dashboard-refit-{self.job_name}")
            self._refit_thread.start()

    def _run_refit(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._read_refit()
            except Exception as e:  # noqa: BLE001 - the store may be busy for a moment
                self.log.warning("jupyter-hpo dashboard: reading the refit of %s failed: %s", self.job_name, e)
                continue
            if not JobStatus(self.refit.get("status") or "completed").is_active():
                return
