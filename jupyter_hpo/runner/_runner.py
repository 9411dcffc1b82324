"""The runner: one process per job, looping ask -> dispatch -> collect -> tell -> persist.

The optimizer's state lives in an in-memory Optuna study (sampling costs well under a
millisecond there), rebuilt from the store when a job resumes. Every event is persisted to the
store, in order, by a writer thread, so a slow database never holds up the trial loop. The store
stays the single source of truth: readers see a trial within milliseconds of the runner learning
of it, and a runner killed at any moment loses nothing it had persisted; a trial it had not yet
persisted as finished is re-run on resume.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import signal
import socket
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from jupyter_hpo.artifacts import ArtifactKeeper, remove_folder
from jupyter_hpo.backends import (
    Backend,
    ExecutorBackend,
    MirrorBackend,
    TrialOutcome,
    TrialRequest,
    backend_class,
    create_backend,
)
from jupyter_hpo.exceptions import StoreError
from jupyter_hpo.mlflow_tracking import RunnerTracking
from jupyter_hpo.records import (
    ARTIFACT,
    ARTIFACTS_KEPT,
    COMPLETION_REASONS,
    COPIED_FROM,
    CONSTRAINT_VALUES,
    FEASIBLE,
    METRICS,
    PROVENANCE,
    REFIT_OF,
    RUNTIME_REASON,
    RUN_S,
    SAGEMAKER,
    SEEDED,
    SEEDED_SKIPPED,
    SEEDED_TRIALS,
    STARTUP_S,
    VIOLATIONS,
)
from jupyter_hpo.runner._lock import RunnerLock
from jupyter_hpo.runner._log import Reserve, log_max_bytes, rotate_if_large
from jupyter_hpo.runner._warm_start import SEEDED_TRIALS_MAX, seed_from_jobs
from jupyter_hpo.runner._writer import StoreWriter
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import HEARTBEAT_S, OPTUNA_CONSTRAINTS, STALE_ALIVE_AFTER_S, Store, error_text, stale_after_s
from jupyter_hpo.strategies import make_pruner, make_sampler
from jupyter_hpo.trial import MAX_STEP

__all__ = ["Runner"]

log = logging.getLogger("jupyter_hpo.runner")
ENDED_BEFORE_START = ("stopped", "completed", "failed")  # stored statuses a runner must not start
_STOP_CHECK_S = 0.5
#: The trial loop starts no new trial while more store writes than this wait in the writer's queue, so
#: the store (and what the dashboard, the sidebar and the heartbeat show) never lags far behind, however
#: short the trials are.
_MAX_BACKLOG = 64


def not_started(store: Store, name: str, error: Exception) -> int:
    """A runner for job ``name`` could not be made (``Runner(...)`` raised ``error``, e.g. a sampler refusing a
    setting the spec let through): the job is marked failed with the reason, rather than left pending until it
    reads as stale with none; returns the process exit code."""
    log.error("job %s: the runner could not start", name, exc_info=error)
    try:
        store.set_job_attrs(name, status="failed", reason=f"the runner could not start: {type(error).__name__}: "
                                                          f"{error}", ended=time.time())
    except Exception:  # noqa: BLE001 - the log above says why
        log.exception("job %s: its failure could not be recorded", name)
    return 1


class Runner:
    """Drives one job to its end. ``run()`` returns the process exit code.

    Args:
        store: the store holding the job.
        name: the job's name.
    """

    def __init__(self, store: Store, name: str) -> None:
        import optuna

        self.store, self.name = store, name
        self.study_id = store.study_id(name)
        attrs = store.job_attrs(name)
        self.spec = TuningSpec.from_stored(store.spec_here(name, attrs), store.job_dir(name))  # a moved script: its copy
        #: the backend mirrors the trials a service proposes (SageMaker AMT): the runner only records them
        self.mirroring = issubclass(backend_class(self.spec.backend), MirrorBackend)
        self.distributions = self.spec.space.to_optuna()
        self.brain = optuna.create_study(  # several objectives: a multi-objective study; the store keeps the first
            directions=[o.direction for o in self.spec.all_objectives], sampler=make_sampler(self.spec),
            pruner=make_pruner(self.spec),
            # Hyperband puts trial n in a bracket by a hash of the study's name and n: a name of the seed keeps a
            # seeded job's brackets the same in every run (a random name changed which trials it pruned), and
            # the job's name keeps an unseeded job's the same across a resume
            study_name=f"jupyter-hpo-seed-{self.spec.seed}" if self.spec.seed is not None else f"jupyter-hpo-{name}",
        )
        self.max_trials = self.spec.trial_budget
        self.live: dict[int, Any] = {}  # the running trials, by their number in the store
        #: the store's number of the next trial this runner creates: a trial's key, seed and artifact folder (the
        #: in-memory study's numbers differ once it holds trials the store has not: warm start, a rerun's queue)
        self.next_number = 0
        self._rerun_seeds: dict[int, int] = {}  # an interrupted trial's number -> its seed, for its rerun
        self.n_counted = 0
        self.failures_in_a_row = 0
        self.last_error = ""
        self.since_best = 0
        self.best: float | None = None
        self.n_infeasible = 0  # complete trials that broke a constraint
        self._missing_noted: set[str] = set()  # constraint metrics a trial lacked, said once in the job's notes
        self._report_noted: set[str] = set()  # reports not recorded (repeated step, not finite): said once each
        self._steps: dict[int, set[int]] = {}  # the steps each running trial has reported
        self.end: tuple[str, str] | None = None  # (status, reason) once the job should end
        self._signal: str | None = None
        self.notes: list[dict[str, Any]] = list(attrs.get("notes") or [])
        #: what the job's earlier runners spent (a resumed job), which this runner's backend summary adds to
        earlier = attrs.get("backend_summary")
        self.earlier_summary = earlier if isinstance(earlier, dict) else None
        self.writer = StoreWriter(store, self.study_id)
        self.tracking = RunnerTracking(self.spec)  # MLflow, when the spec asks for it: its own thread
        self._notes_lock = threading.Lock()  # notes come from the tracking thread too
        self.lock = RunnerLock(store.job_dir(name), name)
        self.log_path, self.log_max = store.job_dir(name) / "runner.log", log_max_bytes()
        self.reserve = Reserve(store.job_dir(name))
        #: a refit job (``job.refit()``): ``{"job", "trial", "params", "seed"}`` of the trial it runs again
        self.refit_of = attrs.get(REFIT_OF) if isinstance(attrs.get(REFIT_OF), dict) else None
        #: run by a runner kept for the next launches (:func:`~jupyter_hpo.runner._linger.serve` sets it)
        self.kept = False
        local = self.spec.backend == "local"
        self._image_noted = False  # the training image of the first SageMaker trial went into the provenance
        self.keeper = ArtifactKeeper(store.job_dir(name) if local else None, self.spec.artifacts.keep,
                                     [o.direction for o in self.spec.all_objectives])

    @property
    def keep_alive_s(self) -> float:
        """How long this runner stays after the job for the next launch: the spec's ``warm_pool.keep_alive_s``,
        for a local job with a warm pool (0 otherwise; :mod:`jupyter_hpo.runner._linger`)."""
        pool = self.spec.warm_pool
        return pool.keep_alive_s if self.spec.backend == "local" and pool.enabled else 0.0

    # -- history (resume) ------------------------------------------------------------------------
    def _load_history(self) -> None:
        from optuna.trial import TrialState

        self.store.mark_interrupted(self.name)  # the previous runner died while these ran
        self._seed_from_earlier_jobs()
        stored = self.store.trials(self.name)
        self.next_number = len(stored)
        if stored:  # a resumed job: a fresh random stream, or it would repeat its first points
            self.brain.sampler = make_sampler(self.spec, resumed_after=len(stored))
        rerun = {t.user_attrs.get("rerun_of") for t in stored}
        complete = [t for t in stored if t.state == TrialState.COMPLETE and t.values]
        # with several objectives, each of them: the store holds the first alone, which the keeper refused, so a
        # resumed job forgot the artifacts it kept and never removed them
        job_attrs = self.store.job_attrs(self.name)
        copied = job_attrs.get(COPIED_FROM)
        self.keeper.restore(job_attrs.get(ARTIFACTS_KEPT), {
            t.number: self._values(t.value, t.user_attrs.get(METRICS) or {})[0] if self.spec.multi_objective
            else t.values for t in complete},
            foreign_below=int(copied.get("trials") or 0) if isinstance(copied, dict) else 0)
        if self.refit_of is not None and not any(t.state == TrialState.COMPLETE for t in stored):
            self.brain.enqueue_trial(self.spec.space.to_optuna_params(self.refit_of["params"]))
        finished: list[tuple[Any, int, str, Any, Any, bool]] = []  # for the progress, counted as they finished
        for t in stored:
            if t.state == TrialState.WAITING:
                continue
            if self.spec.strategy == "grid":  # which point of the grid it ran, or a resume runs it again
                t = self.brain.sampler.mark(t)
            if t.user_attrs.get(CONSTRAINT_VALUES) is not None:  # what the sampler's constraints_func recorded
                t.system_attrs = {**t.system_attrs, OPTUNA_CONSTRAINTS: tuple(t.user_attrs[CONSTRAINT_VALUES])}
            value = t.value
            if self.spec.multi_objective and t.state == TrialState.COMPLETE:  # the store holds the first value
                t.values = self._values(value, t.user_attrs.get(METRICS) or {})[0]
            self.brain.add_trial(t)
            if t.user_attrs.get("interrupted"):
                if t.number not in rerun and not self.mirroring:  # run it again, once, with the same parameters
                    self.brain.enqueue_trial(t.params, user_attrs={"rerun_of": t.number})
                    if isinstance(t.user_attrs.get("seed"), int):  # and the same seed
                        self._rerun_seeds[t.number] = t.user_attrs["seed"]
                continue
            self.n_counted += 1
            if t.state == TrialState.FAIL:  # failures in a row start again from 0 on resume: a job that failed on
                continue  # max_consecutive_failures is resumed once its cause is mended, and must not end at once
            finished.append((t.datetime_complete or datetime.datetime.max, t.number, t.state.name.lower(), value,
                             t.user_attrs.get("error"), t.user_attrs.get(FEASIBLE) is not False))
        # in the order the trials finished, as the run that ran them counted them: with 2+ at a time, numbers are
        # not that order, and a best that finished late after faster trials read as patience used up (the resume
        # ended at once, "no improvement in the last N trials", and could never be resumed again)
        for _, _, state, value, error, feasible in sorted(finished, key=lambda f: (f[0], f[1])):
            self._update_progress(state, value, error, feasible)

    def _seed_from_earlier_jobs(self) -> None:
        """Warm start (:func:`~jupyter_hpo.runner._warm_start.seed_from_jobs`), said in a note and counted."""
        if not self.spec.warm_start:
            return
        attrs = self.store.job_attrs(self.name)
        if SEEDED in attrs:  # a resume: the trials its start took, again; its figures stay those of its start (they
            before = attrs.get(SEEDED_TRIALS)  # were rewritten: a source job that had run on counted its new trials)
            if not isinstance(before, dict):
                self.on_note(f"warm start: the {attrs[SEEDED]} trials taken at the start were too many to list "
                             f"(over {SEEDED_TRIALS_MAX}); this run takes the earlier jobs' complete trials as they "
                             "are now")
            seed_from_jobs(self.store, self.spec, self.brain, self.distributions, self.on_note,
                           only=before if isinstance(before, dict) else None)
            return
        taken, skipped = seed_from_jobs(self.store, self.spec, self.brain, self.distributions, self.on_note)
        seeded = sum(map(len, taken.values()))
        self.on_note(f"warm start: {seeded} complete trial(s) taken from {', '.join(self.spec.warm_start)}"
                     + (f"; {skipped} skipped (a parameter outside the new space, or none in it)" if skipped else ""))
        # which trials, for the dashboard's marks; a long list is left out (the listing reads every job attribute)
        self.writer.put(self.store.set_job_attrs, self.name, **{
            SEEDED: seeded, SEEDED_SKIPPED: skipped, SEEDED_TRIALS: taken if seeded <= SEEDED_TRIALS_MAX else None})

    # -- trial loop ------------------------------------------------------------------------------
    def run(self) -> int:
        # never two runners on one job: a hung one (resumed as stale) is ended first, a healthy one kept
        if not self.lock.acquire(stale_after=stale_after_s(STALE_ALIVE_AFTER_S)):
            log.error("job %s: another runner holds %s and is not hung; this one leaves the job to it",
                      self.name, self.lock.path)
            return 1
        self.reserve.take()
        try:
            return self._run()
        finally:
            self.reserve.release()
            self.lock.release()

    def _run(self) -> int:
        if threading.current_thread() is threading.main_thread():  # a campaign's runner passes signals on itself
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        started = time.time()
        if not self._take_job(started):
            return 0
        self.writer.start()
        backend = None
        try:
            self.store.restore_objective(self.name)  # launched from another machine: its objective is in the store
            self.writer.put(self._record_provenance)  # off the trial loop: it hashes files and may call git
            self._load_history()
            backend = create_backend(self.spec, self.store.job_dir(self.name))
            backend.recover(self.store.trials(self.name))
            if isinstance(backend, MirrorBackend):  # a mirror must not announce again what is stored
                backend.adopt({t.user_attrs["worker"]: t.number for t in self.store.trials(self.name)
                               if t.state.is_finished() and not t.user_attrs.get("interrupted")
                               and t.user_attrs.get("worker")})
            backend.start()
            self.tracking.start(self)  # MLflow's thread, when the spec asks for it
            self._loop(backend, started)
        except Exception as e:  # noqa: BLE001 - whatever happens, the job must not stay "running"
            log.exception("runner failed")
            self.end = ("failed", f"the runner failed: {type(e).__name__}: {e}")
            if backend is not None:
                try:
                    backend.cancel_all(self, "interrupted: the runner failed")
                except Exception:  # noqa: BLE001 - the job's end must be recorded whatever happens
                    log.exception("cancelling the running trials failed")
        finally:
            if backend is not None:
                try:
                    backend.close()
                except Exception:  # noqa: BLE001 - as above: record the end, report the failure
                    log.exception("closing the backend failed")
                finally:
                    self._store_backend_summary(backend)
        status, reason = self.end or ("failed", "the runner ended unexpectedly")
        if status == "completed" and self.best is None and self.n_infeasible:  # no result within the constraints
            status, reason = "failed", (f"no feasible trial ({reason}): {self.n_infeasible} complete trial(s) broke "
                                        "a constraint")
        elif status == "completed" and self.best is None and self.n_counted > 0:  # a job with no result failed
            last = f"; last error: {self.last_error}" if self.last_error else ""
            status, reason = "failed", f"no trial completed ({reason}){last}"
        self.writer.flush()  # a write still queued may fail: then the job failed, whatever ended the loop
        if self.writer.error is not None:
            status, reason = "failed", f"the store could not be written: {error_text(self.writer.error)}"
        self.tracking.close(status, reason)  # waits a little for MLflow: the trial loop is over
        self.writer.put(self.store.set_job_attrs, self.name, **{"status": status, "reason": reason,
                                                                 "ended": time.time(), "heartbeat": time.time()})
        self.writer.close()
        if self.writer.error is not None:
            log.error("the store could not be written: %s", error_text(self.writer.error))
            self._record_failure_on_reserve()
            return 1
        log.info("job %s %s: %s", self.name, status, reason)
        return 0 if status != "failed" else 1

    def _take_job(self, started: float) -> bool:
        """Mark the job running, unless it ended before this runner started: a campaign's stop marks its waiting
        jobs stopped, and its runner may be starting one of them that moment. Taken with a compare-and-set on the
        status read (:meth:`Store.claim_job`): a plain write made the stopped job running again, and the
        campaign's stop returned while one of its jobs ran on."""
        for _ in range(5):  # another writer between the read and the write: read again
            status = self.store.job_attrs(self.name).get("status")
            if status in ENDED_BEFORE_START:
                log.info("job %s is %s: it ended before this runner started; nothing is run", self.name, status)
                return False
            if self.store.claim_job(self.name, status, status="running", reason="", heartbeat=started,
                                    runner=self._record(started), spawned={}):  # registered: `runner` says
                return True
        raise StoreError(f"job {self.name!r} kept changing while its runner started; nothing is run")

    def _record(self, started: float) -> dict[str, Any]:
        """The job's ``runner`` attribute: where it runs, and ``shared`` when this process runs other jobs beside
        this one (``"campaign"``: a campaign's runner) or may take another after it (``"kept"``: kept for the next
        launch, :mod:`~jupyter_hpo.runner._linger`). A stop of this job then writes its request, read within
        ``_STOP_CHECK_S``, and sends no signal, which reached those other jobs (a kept runner is signalled only
        when the request cannot be written)."""
        shared = ("campaign" if threading.current_thread() is not threading.main_thread()
                  else "kept" if self.kept and self.keep_alive_s > 0 else None)
        return {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "created": _created(),
                **({"shared": shared} if shared else {})}

    def _record_provenance(self) -> None:
        """Record what produced the job (:mod:`jupyter_hpo.provenance`) once, when its first runner starts."""
        from jupyter_hpo.provenance import collect

        attrs = self.store.job_attrs(self.name)
        if attrs.get(PROVENANCE) is not None:
            self._note_changed_script(attrs[PROVENANCE])
            return
        try:
            record = collect(attrs, self.spec.to_dict(), self.store.job_dir(self.name))
        except Exception as e:  # noqa: BLE001 - provenance must never fail the job: what failed is recorded
            log.exception("provenance could not be collected")
            record = {"error": error_text(e), "owner": attrs.get("owner")}
        self.store.set_job_attrs(self.name, **{PROVENANCE: record})

    def _note_changed_script(self, record: Any) -> None:
        """Say when the script this run runs is not the one the job was launched with (a resume after an edit, or
        a teammate's own file at the same path): trials of two programs then share the job, which was silent."""
        from jupyter_hpo.provenance import _sha256_file

        code = record.get("code") if isinstance(record, dict) else None
        script = self.spec.trial.script
        if not script or not isinstance(code, dict) or not isinstance(code.get("sha256"), str) or "script" not in code:
            return
        try:
            now = _sha256_file(Path(script))
        except OSError:
            return
        if now != code["sha256"]:
            self.on_note(f"the script {script} is not the one this job was launched with (sha256 {code['sha256'][:12]}"
                         f"... then, {now[:12]}... now): this run's trials run it as it is now, the earlier ones ran "
                         "the launch's version")

    def _record_failure_on_reserve(self) -> None:
        """The store could not be written (a full disk, say): free the reserve and record why the job ended."""
        reason = f"the store could not be written: {error_text(self.writer.error)}"
        self.reserve.release()
        try:  # first the trials its results never reached (a failed job showed them running till a resume)
            self.store.mark_interrupted(self.name)
        except Exception as e:  # noqa: BLE001 - a resume marks them; the job's end is what matters now
            log.error("the trials that were running could not be marked interrupted: %s", error_text(e))
        try:
            self.store.set_job_attrs(self.name, status="failed", reason=reason, ended=time.time(),
                                     heartbeat=time.time())
        except Exception as e:  # noqa: BLE001 - nothing more can be done; the job will show as stale
            log.error("the job's end could not be recorded either: %s", error_text(e))

    def _loop(self, backend: ExecutorBackend | MirrorBackend, started: float) -> None:
        next_beat = next_check = 0.0
        while True:
            now = time.time()
            if now >= next_check:
                next_check = now + _STOP_CHECK_S
                self._check_requests(started, now)
            if now >= next_beat:
                next_beat = now + HEARTBEAT_S
                self.writer.put(self._beat, now)
                rotate_if_large(self.log_path, self.log_max)
            if self.end is not None and self.end[0] in ("stopped", "failed") or self._time_up(started, now):
                backend.cancel_all(self, self._cancel_reason())  # the trials end through on_finish
            over = self._mirror_round(backend) if isinstance(backend, MirrorBackend) else self._round(backend)
            if over:
                return

    def _round(self, backend: ExecutorBackend) -> bool:
        """Submit while slots and budget allow, then poll; True once the job is over."""
        throttled = self.writer.backlog() >= _MAX_BACKLOG  # let the store catch up first
        while (not throttled and self.end is None and backend.free_slots() > 0
               and self.n_counted + len(self.live) < self.max_trials):
            self._dispatch(backend)
            throttled = self.writer.backlog() >= _MAX_BACKLOG
        if not self.live and (self.end is not None or self.n_counted >= self.max_trials):
            self.end = self.end or ("completed", f"budget of {self.max_trials} trials reached")
            return True
        backend.poll(self, timeout=0.05 if self.live or throttled else 0.2)
        return False

    def _mirror_round(self, backend: MirrorBackend) -> bool:
        """Poll a backend that proposes the trials itself; True once it says the job is over and no trial is open."""
        done = backend.done()
        if done is not None and not self.live:
            self.end = done if self.end is None or self.end[0] == "completed" else self.end
            return True
        backend.poll(self, timeout=0.2)
        return False

    def _beat(self, now: float) -> None:
        self.store.set_job_attrs(self.name, heartbeat=now)
        self.lock.touch()  # after the write: the lock is as old as the heartbeat in the store

    def on_note(self, text: str) -> None:
        """Keep a note for the user in the job's ``notes`` (newest last, at most 50)."""
        log.warning("%s", text)
        with self._notes_lock:
            self.notes = (self.notes + [{"time": time.time(), "text": text}])[-50:]
            self.writer.put(self.store.set_job_attrs, self.name, notes=list(self.notes))

    def _store_backend_summary(self, backend: Backend) -> None:
        try:
            summary = backend.summary()
        except Exception:  # noqa: BLE001 - a summary is a courtesy; the job's outcome matters more
            log.exception("backend summary failed")
            return
        if summary:
            summary = backend.with_earlier_runners(summary, self.earlier_summary)
            self.writer.put(self.store.set_job_attrs, self.name, backend_summary=summary)

    def _cancel_reason(self) -> str:
        if self.end is not None and self.end[0] == "stopped":
            return "interrupted: the job was stopped"
        return f"interrupted: {self.end[1] if self.end else 'the job ended'}"

    def _time_up(self, started: float, now: float) -> bool:
        limit = self.spec.budget.max_runtime
        if limit is None or now - started < limit:
            return False
        if self.end is None:
            self.end = ("completed", f"{RUNTIME_REASON}{limit:g} s reached")
        return True

    def _check_requests(self, started: float, now: float) -> None:
        if self.end is None and self.store.job_attrs(self.name).get("stop_requested"):
            self.end = ("stopped", "stopped on request")
        if self._signal is not None and (self.end is None or self.end[0] == "completed"):
            self.end = ("stopped", f"stopped ({self._signal})")
        if self.writer.error is not None and (self.end is None or self.end[0] != "failed"):
            self.end = ("failed", f"the store could not be written: {error_text(self.writer.error)}")

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signal = signal.Signals(signum).name

    def _dispatch(self, backend: ExecutorBackend) -> None:
        from optuna.trial import FrozenTrial, TrialState

        if self.spec.space.conditional:  # define-by-run: only the parameters whose condition holds
            trial = self.brain.ask()
            params = self.spec.space.suggest(trial)
        else:
            trial = self.brain.ask(self.distributions)
            params = self.spec.space.from_optuna(trial.params)
        number = self._take_number()
        # an unseeded job's trials get seeds of its own (from its name): they were those of `seed: 0`, so every
        # unseeded job drew the same random streams in its trials
        base = self.spec.seed if self.spec.seed is not None else zlib.crc32(f"jupyter-hpo/{self.name}".encode())
        seed = self._rerun_seeds.get(trial.user_attrs.get("rerun_of"), (base * 1_000_003 + number) % 2**31)
        if self.refit_of is not None:  # the refit runs with the seed of the trial it repeats
            seed = self.refit_of.get("seed", seed)
        assignment = backend.submit(TrialRequest(key=number, params=params, seed=seed,
                                                 refit=self.refit_of is not None))
        self.live[number] = trial
        template = FrozenTrial(
            number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
            datetime_complete=None, params=dict(trial.params),
            distributions={k: self.distributions[k] for k in trial.params},
            user_attrs={"worker": assignment.worker, "warm": assignment.warm, "seed": seed, **assignment.attrs,
                        **trial.user_attrs},
            system_attrs={}, intermediate_values={}, trial_id=-1,
        )
        self.writer.put(self._create_trial, number, template)

    def _take_number(self) -> int:
        """The store's number of the trial about to be created (this runner alone creates the job's trials)."""
        number, self.next_number = self.next_number, self.next_number + 1
        return number

    def on_external_trial(self, params: dict[str, Any], attrs: dict[str, Any]) -> int:
        """A trial a mirror backend's service started by itself (AMT): record it; returns its key for later events."""
        from optuna.trial import FrozenTrial, TrialState

        self.brain.enqueue_trial(self.spec.space.to_optuna_params(params), user_attrs=dict(attrs))
        trial = self.brain.ask(self.distributions)
        number = self._take_number()
        self.live[number] = trial
        template = FrozenTrial(
            number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
            datetime_complete=None, params=dict(trial.params), distributions=dict(self.distributions),
            user_attrs=dict(trial.user_attrs), system_attrs={}, intermediate_values={}, trial_id=-1,
        )
        self.writer.put(self._create_trial, number, template)
        return number

    def _create_trial(self, key: int, template: Any) -> None:
        if self.writer.error is not None:  # the job fails over the store: no new trial in it (a full disk
            return                         # would fail each one only after Optuna's retries, for seconds)
        self.writer.trial_ids[key] = self.store.create_trial(self.name, template)

    # -- events from the backend -----------------------------------------------------------------
    def on_report(self, key: int, step: int, value: float) -> bool:
        trial = self.live.get(key)
        if trial is None or not 0 <= step <= MAX_STEP:  # trial.report checks the step too
            return False
        if not math.isfinite(value):
            self._note_report("not finite", f"trial {key} reported {value} at step {step}: a report that is not a "
                                            "finite number is not recorded, and the pruner does not see it")
            return False
        steps = self._steps.setdefault(key, set())
        if step in steps:  # Optuna keeps a step's first value: so do the store and the pruner
            self._note_report("repeated", f"trial {key} reported step {step} twice: the first value is kept (the "
                                          "one the pruner uses), later ones are not recorded")
            return bool(trial.should_prune())
        steps.add(step)
        trial.report(value, step)
        self.writer.put(self._store_report, key, step, value)
        return bool(trial.should_prune())

    def _note_report(self, kind: str, text: str) -> None:
        """A report that was not recorded, said once per job for each kind (the first case as the example)."""
        if kind not in self._report_noted:
            self._report_noted.add(kind)
            self.on_note(text + " (said once per job)")

    def _store_report(self, key: int, step: int, value: float) -> None:
        if key in self.writer.trial_ids:  # else the trial never reached the store
            self.store.report(self.writer.trial_ids[key], step, value)

    def on_finish(self, outcome: TrialOutcome) -> None:
        from optuna.trial import TrialState

        trial = self.live.pop(outcome.key, None)
        self._steps.pop(outcome.key, None)
        if trial is None:
            return
        state, value = outcome.state, outcome.value
        if state == "complete" and (value is None or not math.isfinite(value)):
            state, outcome.error = "failed", f"the objective returned {value}, not a finite number"
        values: Any = value
        if self.spec.multi_objective and state == "complete":  # its other objectives are among its metrics
            values, missing = self._values(value, outcome.metrics)
            if missing:
                state, outcome.error = "failed", missing
        attrs: dict[str, Any] = {STARTUP_S: outcome.startup_s, RUN_S: outcome.run_s}
        if outcome.error:
            attrs["error"] = outcome.error
        if outcome.traceback:
            attrs["traceback"] = outcome.traceback
        if outcome.fold_scores:
            scores = outcome.fold_scores
            mean = sum(scores) / len(scores)
            std = math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1)) if len(scores) > 1 else 0.0
            attrs.update(fold_scores=scores, fold_mean=mean, fold_std=std)
        if outcome.metrics:
            attrs["metrics"] = outcome.metrics
        if outcome.interrupted:
            attrs["interrupted"] = True
        attrs.update(outcome.attrs)
        if self.spec.constraints and state == "complete":
            self._check_constraints(trial, outcome, value, attrs)
        # an infeasible trial is never among the best whose artifacts are kept
        self._keep_artifact(outcome.key, "infeasible" if attrs.get(FEASIBLE) is False else state, values, attrs)
        optuna_state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(state, TrialState.FAIL)
        self.brain.tell(trial, values if optuna_state == TrialState.COMPLETE else None, state=optuna_state)
        # its end as the backend reported it, not when the writer's queue reaches it
        self.writer.put(self._store_finish, outcome.key, attrs, optuna_state, value, datetime.datetime.now())
        if not outcome.interrupted:
            self.n_counted += 1
            self._update_progress(state, value, outcome.error, attrs.get(FEASIBLE) is not False)

    def _values(self, value: float | None, metrics: dict[str, Any]) -> tuple[list[float] | None, str]:
        """A trial's values for several objectives (the first is ``value``, the others from its metrics), or
        None and why not: an objective it did not return as a finite number."""
        values: list[Any] = [value, *(metrics.get(o.metric) for o in self.spec.objectives[1:])]
        bad = [o.metric for o, v in zip(self.spec.objectives, values)
               if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
        if bad:
            returned = ", ".join(sorted(metrics)) or "no other metric"
            return None, (f"the objective returned no finite {', '.join(map(repr, bad))} (it returned {returned}); "
                          "each of several objectives must be in the dict it returns")
        return [float(v) for v in values], ""

    def _check_constraints(self, trial: Any, outcome: TrialOutcome, value: float | None, attrs: dict[str, Any]) -> None:
        """Record whether a complete trial met ``spec.constraints``, and give the sampler its constraint values."""
        metrics = {**outcome.metrics, self.spec.objective.metric: value}
        values, broken = [], []
        for c in self.spec.constraints:
            v = metrics.get(c.metric)
            values.append(c.violation(v))
            if values[-1] > 0:
                broken.append(c.describe(v))
            if v is None and c.metric not in self._missing_noted:
                self._missing_noted.add(c.metric)
                returned = ", ".join(sorted(outcome.metrics)) or "no other metric"
                self.on_note(f"constraint on {c.metric!r}: trial {outcome.key} returned no such metric (it returned "
                             f"{returned}); a trial without it counts as infeasible, never the best")
        trial.set_user_attr(CONSTRAINT_VALUES, values)  # read by the sampler's constraints_func on tell
        attrs.update({CONSTRAINT_VALUES: values, FEASIBLE: not broken, VIOLATIONS: broken})

    def _keep_artifact(self, key: int, state: str, value: float | list[float] | None, attrs: dict[str, Any]) -> None:
        """Record the trial's artifact URI when it is kept; remove the folders no longer among the best N."""
        sm = attrs.get(SAGEMAKER)
        uri, removed = self.keeper.finished(key, state, value,
                                            sm.get("model_artifacts") if isinstance(sm, dict) else None)
        if uri is not None:
            attrs[ARTIFACT] = uri
        for folder in removed:
            self.writer.put(remove_folder, folder)
        if uri is not None or removed:
            self.writer.put(self.store.set_job_attrs, self.name, **{ARTIFACTS_KEPT: self.keeper.kept_map()})
        if isinstance(sm, dict) and sm.get("training_image") and not self._image_noted:
            self._image_noted = True
            self.writer.put(self._record_image, sm["training_image"])

    def _record_image(self, image: str) -> None:
        """The training image as DescribeTrainingJob gives it (a framework's URI resolved), into the provenance."""
        from jupyter_hpo.provenance import image_identity

        record = self.store.job_attrs(self.name).get(PROVENANCE)
        if isinstance(record, dict) and (record.get("image") or {}).get("uri") != image:
            self.store.set_job_attrs(self.name, **{PROVENANCE: {**record, "image": image_identity(image)}})

    def _store_finish(self, key: int, attrs: dict[str, Any], state: Any, value: float | None,
                      completed: datetime.datetime | None = None) -> None:
        trial_id = self.writer.trial_ids.get(key)
        if trial_id is not None:  # else the trial never reached the store
            self.store.finish_trial(trial_id, state, value, attrs, completed)
            self.tracking.trial_stored(key)

    def _update_progress(self, state: str, value: float | None, error: str | None, feasible: bool = True) -> None:
        """Count failures in a row and trials without improvement; end the job when a criterion holds.

        An infeasible trial (it broke a constraint) is never the best, nor reaches the target.
        """
        if state == "failed":
            self.failures_in_a_row += 1
            self.last_error = error or self.last_error
            limit = self.spec.max_consecutive_failures
            if self.failures_in_a_row >= limit and (self.end is None or self.end[0] == "completed"):
                self.end = ("failed", f"{self.failures_in_a_row} trials failed in a row (max_consecutive_failures="
                                      f"{limit}); last error: {self.last_error}")
            return
        self.failures_in_a_row = 0
        if state == "pruned" or (state == "complete" and not feasible):
            # it did not improve the best: patience counts it once there is a best (with pruning on, it never
            # fired otherwise)
            self.n_infeasible += state == "complete"
            self.since_best += self.best is not None
            self._check_patience()
            return
        if state != "complete" or value is None:
            return
        maximize = self.spec.objective.direction == "maximize"
        if self.best is None or (value > self.best if maximize else value < self.best):
            self.best, self.since_best = value, 0
        else:
            self.since_best += 1
        if self.end is not None:
            return
        target = self.spec.completion.target
        if target is not None and (value >= target if maximize else value <= target):
            self.end = ("completed", f"{COMPLETION_REASONS[0]}{target:g} reached (value {value:.6g})")
        self._check_patience()

    def _check_patience(self) -> None:
        """End the job after ``completion.patience`` finished trials in a row (complete, infeasible or pruned)
        that did not improve the best so far (none counts before there is one)."""
        patience = self.spec.completion.patience
        if self.end is None and patience is not None and self.since_best >= patience:
            self.end = ("completed", f"{COMPLETION_REASONS[1]}{patience} trials")


def _created() -> float | None:
    """When this process was created, as the OS tells (how a client knows a kept runner's pid is still it)."""
    import psutil

    try:
        return psutil.Process().create_time()
    except psutil.Error:
        return None
