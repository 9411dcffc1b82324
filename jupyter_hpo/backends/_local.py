"""The embedded local backend: a warm pool of long-lived worker processes on this machine.

Each worker loads the objective once (or pre-imports a script's imports) and then runs trial after
trial, reset before each. A worker that crashes, hangs past the trial timeout or grows past its
memory bound (the worker with the processes it started, see ``LocalBackend._rss``) is killed and
replaced; its trial is recorded failed with the reason. With ``warm_pool.enabled = false`` every trial
gets a fresh process (the cold baseline).

``trial.timeout`` bounds both phases a trial can wait in: a trial sent to a worker that is still
starting (loading the objective, importing a script's modules) fails once the worker has not said
"ready" within the timeout, and the run itself has the timeout again from then on.

Each worker leads its own process group. Whenever a worker ends -- time-out, memory bound, crash,
stop, cancel, replacement, retirement or a normal shutdown -- the backend ends it with its process
tree (:func:`~jupyter_hpo.backends._proctree.end_process_tree`): the worker's group and every
descendant, so the processes its trials started do not outlive it. A warm worker keeps what a
finished trial left running until the worker itself ends.

The pool never holds more workers than the job can still use: ``min(budget.max_parallel, trials
left in the budget)``, counting the trials a resumed job has already finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.artifacts import trial_folder
from jupyter_hpo.backends import _prestart as prestart
from jupyter_hpo.backends._base import Assignment, ExecutorBackend, TrialEvents, TrialOutcome, TrialRequest
from jupyter_hpo.backends._proctree import descendants, end_process_tree
from jupyter_hpo.exceptions import SpecError

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["LocalBackend", "PoolShelf", "set_shelf", "worker_boot"]

log = logging.getLogger("jupyter_hpo.backends.local")

_MEMORY_CHECK_S = 0.25


class PoolShelf:
    """Where a campaign's runner keeps the idle workers of finished jobs for its next jobs
    (:mod:`jupyter_hpo._campaign_runner`): ``keep_alive_s`` at most, one owner at a time (a worker is either
    on the shelf or in one backend's pool), and handed only to a backend whose objective environment has the
    same fingerprint (:func:`fingerprint`). ``keep_alive_s = 0``: nothing is kept."""

    def __init__(self, keep_alive_s: float, latest_only: bool = False) -> None:
        self.keep_alive_s = keep_alive_s
        #: a kept runner's shelf: a job that takes from it ends the workers of other objectives, which only an
        #: earlier launch could use (a notebook's edited function left one more pool per launch)
        self.latest_only = latest_only
        self._lock = threading.Lock()
        self._parked: list[tuple[_Proc, str, str, float]] = []  # (worker, fingerprint, job, parked at)

    def park(self, proc: _Proc, fingerprint: str, job: str) -> bool:
        """Keep an idle worker of ``job``; False when nothing is kept (the caller ends it)."""
        if self.keep_alive_s <= 0:
            return False
        with self._lock:
            self._parked.append((proc, fingerprint, job, time.monotonic()))
        return True

    def take(self, fingerprint: str, n: int) -> list[tuple[_Proc, str]]:
        """Up to ``n`` kept workers with this fingerprint, with the job each comes from (now the caller's)."""
        self.expire()
        with self._lock:
            mine = [p for p in self._parked if p[1] == fingerprint][:max(0, n)]
            others = [p for p in self._parked if p[1] != fingerprint] if self.latest_only else []
            self._parked = [p for p in self._parked if p not in mine and p not in others]
        _dismiss([p[0] for p in others])
        return [(proc, job) for proc, _, job, _ in mine]

    def expire(self) -> None:
        """End the workers kept longer than the keep-alive."""
        now = time.monotonic()
        with self._lock:
            old = [p for p in self._parked if now - p[3] > self.keep_alive_s]
            self._parked = [p for p in self._parked if p not in old]
        _dismiss([p[0] for p in old])

    def release_all(self) -> None:
        """End every kept worker (the campaign has ended)."""
        with self._lock:
            kept, self._parked = self._parked, []
        _dismiss([p[0] for p in kept])

    def __len__(self) -> int:
        with self._lock:
            return len(self._parked)


_shelf: PoolShelf | None = None
_job_logs = False


def set_shelf(shelf: PoolShelf | None, job_logs: bool = False) -> None:
    """Make the local backends of this process keep their idle workers on ``shelf`` (None: end them);
    ``job_logs``: a worker taken from it sends its output to its new job's ``runner.log`` (a kept runner's
    jobs each have their own; a campaign's share the campaign's)."""
    global _shelf, _job_logs
    _shelf, _job_logs = shelf, job_logs and shelf is not None


def _dismiss(procs: list[_Proc]) -> None:
    """End idle workers: told to exit, then ended with what their trials left running."""
    left = {id(p): _left_behind(p) for p in procs}
    for proc in procs:
        with contextlib.suppress(OSError):
            proc.conn.send(("exit",))
    _wait_exit(procs, timeout=3)
    for proc in procs:
        LocalBackend._end(proc, left[id(proc)])
        proc.conn.close()


def fingerprint(boot: dict[str, Any]) -> str:
    """The identity of a pool's objective environment: the Python (executable and version), the working
    directory, and the objective: a function's pickled bytes and the files directly in the working directory,
    or a script's path and its folder's files (each one's size and modification time, a ``.py`` file's
    content). A worker passes only to a job with the same one (keeping its ``trial.cached`` values only when the
    static hyperparameters are the same too: ``_worker._Worker.rebind``).
    The jupyter-hpo home is not part of it when it lies in that folder (``JUPYTER_HPO_HOME=./hpo-home``): its
    store and trial folders change with every trial, and would make every job's environment look new. Nor are
    notebooks (``*.ipynb``), which JupyterLab saves every few minutes: a worker does not read them (and one that
    does refuses a hand-over once the file changed, see :mod:`jupyter_hpo.backends._reads`)."""
    h = hashlib.sha256()
    for part in (sys.executable, sys.version, os.getcwd(), boot["kind"]):  # names in bytes that are not UTF-8
        h.update(f"{part}\0".encode("utf-8", "surrogateescape"))  # (a Latin-1 folder) failed every hand-over
    if boot["kind"] == "function":  # each job has its own copy of the pickle: its bytes count, not its path
        h.update(Path(boot["path"]).read_bytes())
        _hash_files(h, Path(os.getcwd()), recursive=False)
    else:
        h.update(f"{os.path.realpath(boot['path'])}\0".encode("utf-8", "surrogateescape"))
        _hash_files(h, Path(os.path.realpath(boot["path"])).parent, recursive=True)
    return h.hexdigest()


def _hash_files(h: Any, folder: Path, recursive: bool, limit: int = 5000) -> None:
    from jupyter_hpo.store import default_home

    home = os.path.realpath(default_home())
    seen = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if recursive and not d.startswith(".") and d != "__pycache__"
                         and os.path.realpath(os.path.join(root, d)) != home)
        for name in sorted(f for f in files if not f.endswith(".ipynb")):  # saved as you work; no objective reads it
            path = Path(root) / name
            try:
                st = path.stat()
            except OSError:
                continue
            h.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
            if name.endswith(".py") and st.st_size <= 2**20:
                with contextlib.suppress(OSError):
                    h.update(path.read_bytes())
            seen += 1
            if seen >= limit:
                return


@dataclass
class _Proc:
    id: str
    process: Any
    conn: Any
    spawned_at: float
    ready_at: float | None = None
    n_trials: int = 0
    task: TrialRequest | None = None
    dispatched_at: float = 0.0
    #: the job whose pool this worker came from (a campaign's handover), else None
    reused_from: str | None = None
    #: the start-up its first (cold) trial paid: what a job it is handed to saves on each trial
    cold_s: float | None = None


def _exit_code(process: Any) -> int | None:
    """The exit code of a worker that has ended (negative: the signal), None while it runs, without
    reaping it: an unreaped worker's pid and group still name it, so its tree can be ended safely."""
    if not hasattr(os, "waitid"):
        return process.exitcode  # reaps it; its tree is then left alone (see _end)
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # already reaped
        return process.exitcode
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _unreaped(process: Any) -> bool:
    """Whether the worker's pid still names it (running or a zombie we have not reaped)."""
    if process.pid is None or not hasattr(os, "waitid"):
        return False
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class LocalBackend(ExecutorBackend):
    """A pool of ``budget.max_parallel`` worker processes (see the module docstring).

    Example:
        >>> backend = LocalBackend(spec, job_dir)  # doctest: +SKIP
    """

    name = "local"

    @classmethod
    def prepare(cls, spec: TuningSpec) -> TuningSpec:
        """The local backend has no ``backend.options`` (its settings are ``warm_pool``): any is refused."""
        if spec.backend_options:
            names = ", ".join(f"`{k}`" for k in sorted(map(str, spec.backend_options)))
            raise SpecError(f"the local backend takes no `backend.options`, but got {names}; its workers are "
                            "set with `warm_pool: {enabled, max_trials_per_worker, max_memory_mb}`, and "
                            "SageMaker settings need `backend.name: sagemaker` or `amt`.")
        return spec

    def __init__(self, spec: TuningSpec, job_dir: Path) -> None:
        super().__init__(spec, job_dir)
        self._procs: list[_Proc] = []
        self._serial = 0
        self._warm = spec.warm_pool.enabled
        self._per_worker = spec.warm_pool.max_trials_per_worker if self._warm else 1
        self._memory_bytes = spec.warm_pool.max_memory_mb * 2**20 if spec.warm_pool.max_memory_mb else None
        self._timeout = spec.trial.timeout
        self._size = spec.budget.max_parallel
        self._budget = spec.trial_budget  # trials the runner may still submit, before the first submit
        self._submitted = 0
        self._last_memory_check = 0.0
        self._boot = worker_boot(spec, job_dir)
        self._job = job_dir.name
        self.prestarted = 0  # workers that booted while the runner started (_prestart), taken by this pool
        self.reused_cold: list[float] = []  # the cold start-ups of the workers taken from an earlier job
        self._fingerprint: str | None = None  # computed when a campaign's shelf is there to use it

    # -- pool ----------------------------------------------------------------------------------
    def recover(self, trials: list[Any]) -> None:
        """A resumed job needs workers only for the trials its budget still holds."""
        self._budget = _trials_left(self.spec, trials)

    def start(self) -> None:
        self._adopt()
        self._take_prestarted()
        self._fill()

    @classmethod
    def write_prestart(cls, spec: TuningSpec, job_dir: Path, cwd: str | None = None, trials: list[Any] = ()) -> None:
        """Let the job's runner start its workers first thing (:mod:`jupyter_hpo.backends._prestart`): as many as
        the pool will hold at once for the trials left (``trials``: the stored ones, of a resume), with the boot
        this backend will compute. None without a warm pool (every trial then gets a fresh process), nor while
        the objective the boot loads is not on this machine (a resume elsewhere: the runner restores it first;
        ``cwd`` is the runner's, where a relative script resolves). A file an earlier start left is removed."""
        with contextlib.suppress(OSError):
            (job_dir / prestart.PRESTART_FILE).unlink(missing_ok=True)
        count = min(spec.budget.max_parallel, _trials_left(spec, trials))
        boot = worker_boot(spec, job_dir)
        if (spec.warm_pool.enabled and count > 0
                and Path(cwd or os.getcwd(), Path(boot["path"]).expanduser()).is_file()):
            prestart.write(job_dir, boot, count)

    def _take_prestarted(self) -> None:
        """Take the workers the runner started with this job's boot, up to what the pool can use; end the
        others (another boot, or more than the budget still allows: a resumed job needs fewer)."""
        usable, other = prestart.take(self._boot)
        room = max(0, self._wanted() - len(self._procs)) if self._warm else 0
        taken = []
        for process, conn, spawned_at in usable:
            self._serial += 1
            taken.append(_Proc(id=f"local-{self._serial}", process=process, conn=conn, spawned_at=spawned_at))
        self._procs += taken[:room]
        self.prestarted = len(taken[:room])
        _dismiss(taken[room:] + [_Proc(id="local-0", process=p, conn=c, spawned_at=t) for p, c, t in other])
        if usable or other:
            log.info("%d worker(s) started with the runner taken, %d ended", self.prestarted,
                     len(usable) + len(other) - self.prestarted)

    def summary(self) -> dict[str, Any]:
        """``prestarted_workers``: how many workers booted while the runner started (see :meth:`write_prestart`);
        ``reused_cold_s``, with workers taken from an earlier job: the mean start-up their cold trial paid there,
        what the summary's start-up saved counts for a job that started none cold."""
        out: dict[str, Any] = {"prestarted_workers": self.prestarted}
        if self.reused_cold:
            out["reused_cold_s"] = sum(self.reused_cold) / len(self.reused_cold)
        return out

    def _adopt(self) -> None:
        """Take over idle workers an earlier job of the campaign (or of this kept runner, see
        :mod:`jupyter_hpo.runner._linger`) left with the same objective environment.

        Each is told the new job's objective (``("rebind", boot)``) and must answer, from the same Python and
        working directory, within 10 s; one that does not (killed, say, or whose imported code has changed on
        disk since it started) is ended and a cold worker takes its place. A worker past this job's memory bound,
        or that has run this job's ``max_trials_per_worker`` trials, is not taken.
        """
        if _shelf is None or not self._warm:
            return
        self._fingerprint = fingerprint(self._boot)
        for proc, job in _shelf.take(self._fingerprint, self._wanted()):
            # the trials it ran count towards this job's max_trials_per_worker: a job with 1 ("a fresh process for
            # every trial") ran its trials on workers that had run the earlier job's
            problem = (f"it has run {proc.n_trials} trials, this job's max_trials_per_worker"
                       if self._per_worker is not None and proc.n_trials >= self._per_worker else None)
            problem = problem or self._rebind(proc, job)
            if problem is None and self._memory_bytes is not None and self._rss(proc) > self._memory_bytes:
                problem = "above this job's memory bound"
            if problem is not None:
                log.info("worker %s of job %s not taken over (a fresh one starts): %s", proc.id, job, problem)
                _dismiss([proc])
                continue
            proc.reused_from, proc.ready_at, proc.task = job, time.time(), None
            if proc.cold_s is not None:
                self.reused_cold.append(proc.cold_s)
            self._serial = max(self._serial, int(proc.id.rsplit("-", 1)[-1]))
            self._procs.append(proc)

    def _rebind(self, proc: _Proc, job: str) -> str | None:
        """Hand the worker this job's objective; None once it has confirmed, else why it cannot be used. A worker
        whose ``trial.cached`` values ``job``'s other static hyperparameters dropped says so in the log."""
        if _exit_code(proc.process) is not None:
            return "it has ended"
        try:
            proc.conn.send(("rebind", self._boot, str(self.job_dir / "runner.log") if _job_logs else None))
            if not proc.conn.poll(10):
                return "no answer"
            reply = proc.conn.recv()
        except (EOFError, OSError):
            return "it has ended"
        expected = {"executable": sys.executable, "version": sys.version, "cwd": os.getcwd()}
        if reply[0] != "rebound" or reply[2] != expected:
            return f"it refused: {reply[1:]}"
        if len(reply) > 3 and reply[3]:
            log.info("worker %s: its trial.cached values of job %s dropped: its static hyperparameters differ (%s)",
                     proc.id, job, ", ".join(reply[3]))
        return None

    def _wanted(self) -> int:
        """How many workers the job can use now: running trials plus those the budget still allows."""
        return min(self._size, self.running() + max(0, self._budget - self._submitted))

    def _fill(self) -> None:
        while self._warm and len(self._procs) < self._wanted():
            self._spawn()

    def _spawn(self) -> _Proc:
        self._serial += 1
        process, parent, spawned_at = prestart.start_worker(self._boot, self._serial)
        proc = _Proc(id=f"local-{self._serial}", process=process, conn=parent, spawned_at=spawned_at)
        self._procs.append(proc)
        return proc

    def _remove(self, proc: _Proc, also: list[Any] | None = None) -> None:
        """Take the worker out of the pool and end it with its process tree (see the module docstring);
        ``also``: its descendants found before it was told to exit."""
        if proc in self._procs:
            self._procs.remove(proc)
        self._end(proc, also or [])
        proc.conn.close()

    @staticmethod
    def _end(proc: _Proc, also: list[Any]) -> None:
        if _unreaped(proc.process):  # its pid and group still name it: safe to signal them
            end_process_tree(proc.process.pid, also)
        elif proc.process.is_alive():  # no waitid here: the worker alone
            proc.process.kill()
        proc.process.join(timeout=5)

    def _replace(self, proc: _Proc) -> None:
        self._remove(proc)
        self._fill()

    def free_slots(self) -> int:
        return self._size - self.running()

    def running(self) -> int:
        return sum(1 for p in self._procs if p.task is not None)

    def submit(self, request: TrialRequest) -> Assignment:
        message = ("run", {"key": request.key, "params": request.params, "seed": request.seed,
                           "refit": request.refit,
                           "artifact_dir": str(trial_folder(self.job_dir.resolve(), request.key))})
        attempts = len(self._procs) + 2  # each worker once, and a new one
        for attempt in range(attempts):
            idle = [p for p in self._procs if p.task is None]
            # a ready worker first, then one still booting, else a new process
            proc = next((p for p in idle if p.ready_at is not None), None) or (idle[0] if idle else self._spawn())
            try:
                proc.conn.send(message)
                break
            except OSError as e:  # it died before it got a trial (killed as it booted, the OOM killer): the
                # trial goes to another worker, and a new one takes the dead one's place (the job failed here)
                log.warning("worker %s (pid %s) ended before it was sent its next trial (%s); its place is taken "
                            "by a new worker", proc.id, proc.process.pid, e)
                self._replace(proc)
                if attempt == attempts - 1:
                    raise
        proc.task, proc.dispatched_at = request, time.time()
        self._submitted += 1
        from jupyter_hpo.records import REUSED_FROM

        return Assignment(worker=proc.id, warm=_booted(proc),
                          attrs={REUSED_FROM: proc.reused_from} if proc.reused_from else {})

    # -- events --------------------------------------------------------------------------------
    def poll(self, events: TrialEvents, timeout: float) -> None:
        waitables: list[Any] = [p.conn for p in self._procs] + [p.process.sentinel for p in self._procs]
        ready = set(wait(waitables, timeout)) if waitables else set()
        if not waitables:
            time.sleep(timeout)
        for proc in list(self._procs):
            if proc.conn in ready:
                self._drain(proc, events)
        for proc in list(self._procs):  # every one: a child a trial forked may hold its sentinel open
            if proc not in self._procs:
                continue
            code = _exit_code(proc.process)
            if code is not None:
                self._drain(proc, events)
                if proc in self._procs:
                    self._fail(proc, events, f"worker process died ({_describe_exit(code)})")
        self._check_limits(events)

    def _drain(self, proc: _Proc, events: TrialEvents) -> None:
        try:
            while proc in self._procs and proc.conn.poll():
                self._handle(proc, proc.conn.recv(), events)
        except (EOFError, OSError):
            pass  # the sentinel tells us the process ended

    def _handle(self, proc: _Proc, msg: tuple[Any, ...], events: TrialEvents) -> None:
        kind = msg[0]
        if kind == "ready":
            proc.ready_at = time.time()
        elif kind == "report":
            _, key, step, value = msg
            proc.conn.send(("prune", events.on_report(key, step, value)))
        elif kind == "done":
            self._finish(proc, msg[2], events)
        elif kind == "boot_error":
            self._fail(proc, events, f"the worker could not load the objective: {msg[1]}", traceback=msg[2])

    def _finish(self, proc: _Proc, payload: dict[str, Any], events: TrialEvents) -> None:
        request, proc.task = proc.task, None
        # a warm trial's start-up is its wait from dispatch; a cold one's, its worker's whole start (from spawn:
        # the first workers start with the runner, before the first dispatch), which warm trials do not pay, but
        # not the time it then sat ready for its first trial (counted, it made a light objective's cold start-up
        # and the start-up saved 2-3 times too large)
        started, warm = payload["started_at"], _booted(proc)
        if warm:
            startup_s = started - proc.dispatched_at
        elif proc.ready_at is not None and proc.dispatched_at > proc.ready_at:
            startup_s = (proc.ready_at - proc.spawned_at) + (started - proc.dispatched_at)
        else:
            startup_s = started - min(proc.spawned_at, proc.dispatched_at)
        startup_s = max(0.0, startup_s)
        if not warm:
            proc.cold_s = startup_s
        proc.n_trials += 1
        assert request is not None
        outcome = TrialOutcome(
            key=request.key, state=payload["state"], value=payload.get("value"), error=payload.get("error"),
            traceback=payload.get("traceback"), startup_s=startup_s,
            run_s=payload.get("run_s"), fold_scores=payload.get("fold_scores") or [],
            metrics=payload.get("metrics") or {},
        )
        if "invalid" in payload:
            outcome.state, outcome.error = "failed", f"the objective returned {payload['invalid']}, not a number"
        if payload.get("retire"):  # the trial left state the worker cannot restore (see _reset.py)
            self._retire(proc)
        elif self._per_worker is not None and proc.n_trials >= self._per_worker:
            self._retire(proc)
        elif self._memory_bytes is not None and self._rss(proc) > self._memory_bytes:
            self._retire(proc)
        events.on_finish(outcome)

    def _retire(self, proc: _Proc) -> None:
        left = _left_behind(proc)
        try:
            proc.conn.send(("exit",))
        except OSError:
            pass
        self._procs.remove(proc)
        _wait_exit([proc], timeout=2)
        self._remove(proc, left)
        self._fill()

    def _fail(self, proc: _Proc, events: TrialEvents, reason: str, *, traceback: str | None = None,
              interrupted: bool = False) -> None:
        request = proc.task
        self._replace(proc)
        if request is not None:
            events.on_finish(TrialOutcome(key=request.key, state="failed", error=reason, traceback=traceback,
                                          run_s=time.time() - proc.dispatched_at, interrupted=interrupted))

    @staticmethod
    def _rss(proc: _Proc) -> float:
        """The memory the worker and every process it started hold, in bytes: what ``warm_pool.max_memory_mb``
        bounds. A trial's subprocesses (a training binary, data loader workers) take the machine's memory as
        the worker does; counting the worker alone let a trial that allocates in a child pass any bound.

        The worker counts its resident memory (RSS), each descendant only its private memory (USS, where psutil
        has it): a child forked from the worker maps the worker's pages until it writes them, so its RSS would
        count them again (4 forked data loader workers of a 2 GB worker would read 10 GB). A process that ends
        while it is read is skipped."""
        import psutil

        try:
            worker = psutil.Process(proc.process.pid)
            total = float(worker.memory_info().rss)
            children = worker.children(recursive=True)
        except (psutil.Error, TypeError):
            return 0.0
        for child in children:
            with contextlib.suppress(psutil.Error):
                info = child.memory_full_info()
                total += getattr(info, "uss", info.rss)
        return total

    def _check_limits(self, events: TrialEvents) -> None:
        now = time.time()
        for proc in [p for p in self._procs if p.task is not None]:
            if self._timeout is None:
                break
            if proc.ready_at is None and now - proc.dispatched_at > self._timeout:
                self._fail(proc, events, f"timed out after {self._timeout:g} s (trial.timeout) waiting for its "
                           f"worker to start: the worker was still in its boot phase (loading the objective or "
                           f"importing the script's modules) and was killed and replaced")
            elif proc.ready_at is not None and now - max(proc.dispatched_at, proc.ready_at) > self._timeout:
                self._fail(proc, events, f"timed out after {self._timeout:g} s (trial.timeout)")
        if self._memory_bytes is None or now - self._last_memory_check < _MEMORY_CHECK_S:
            return
        self._last_memory_check = now
        for proc in [p for p in self._procs if p.task is not None]:
            rss = self._rss(proc)
            if rss > self._memory_bytes:
                self._fail(proc, events, f"the worker and the processes it started used {rss / 2**20:.0f} MB, "
                           f"above its bound of {self._memory_bytes / 2**20:.0f} MB (warm_pool.max_memory_mb)")

    # -- shutdown ------------------------------------------------------------------------------
    def cancel_all(self, events: TrialEvents, reason: str) -> None:
        warm, self._warm = self._warm, False  # no replacements for cancelled workers
        for proc in [p for p in self._procs if p.task is not None]:
            self._fail(proc, events, reason, interrupted=True)
        self._warm = warm

    def close(self) -> None:
        warm, self._warm = self._warm, False  # no replacements from here on
        if _shelf is not None and warm:  # a campaign's next job may take the idle, healthy workers
            self._park(_shelf)
        left = {id(p): _left_behind(p) for p in self._procs}
        for proc in list(self._procs):
            try:
                if proc.task is None:
                    proc.conn.send(("exit",))
            except OSError:
                pass
        _wait_exit([p for p in self._procs if p.task is None], timeout=3)
        for proc in list(self._procs):  # what is still running, and what the trials left behind, is ended
            self._remove(proc, left[id(proc)])


    def _park(self, shelf: PoolShelf) -> None:
        for proc in [p for p in self._procs if p.task is None and p.ready_at is not None]:
            if _exit_code(proc.process) is not None or proc.conn.poll():  # ended, or something unread
                continue
            if self._per_worker is not None and proc.n_trials >= self._per_worker:
                continue
            if self._memory_bytes is not None and self._rss(proc) > self._memory_bytes:
                continue
            self._fingerprint = self._fingerprint or fingerprint(self._boot)
            if shelf.park(proc, self._fingerprint, self._job):
                self._procs.remove(proc)


def _booted(proc: _Proc) -> bool:
    """Whether the worker's next trial starts warm: it has run one, or came ready from an earlier job (a kept
    runner's, a campaign's), even one it ran no trial of (its first trial read as cold, its start-up timed from
    its spawn in the earlier job: 24.7 s, and the start-up saved 20 times too large)."""
    return proc.n_trials > 0 or proc.reused_from is not None


def _left_behind(proc: _Proc) -> list[Any]:
    """What a worker's trials started and left running: ended once the worker has exited."""
    return descendants(proc.process.pid) if _unreaped(proc.process) else []


def _wait_exit(procs: list[_Proc], timeout: float) -> None:
    """Wait until these workers have ended (told to exit), at most ``timeout`` s, without reaping them."""
    deadline = time.time() + timeout
    left = [p.process.sentinel for p in procs]
    while left and time.time() < deadline:
        done = wait(left, max(0.0, deadline - time.time()))
        left = [s for s in left if s not in done]


def worker_boot(spec: TuningSpec, job_dir: Path) -> dict[str, Any]:
    """What a worker of the job loads (``worker_main``'s ``boot``): the objective (a script's path, or the
    job's pickled function), the metric and its regex, and the static hyperparameters."""
    boot: dict[str, Any]
    if spec.trial.script is not None:
        boot = {"kind": "script", "path": spec.trial.script}
    else:
        boot = {"kind": "function", "path": str(job_dir / "objective.pkl")}
    boot.update(metric=spec.objective.metric, pattern=spec.objective.pattern,
                hyperparameters=dict(spec.trial.hyperparameters))
    if spec.trial.script is not None and spec.multi_objective:  # each objective's regex reads its metric
        boot["objectives"] = [[o.metric, o.pattern] for o in spec.all_objectives]
    return boot


def _trials_left(spec: TuningSpec, trials: list[Any]) -> int:
    """Trials the budget still allows, given the stored ones: an interrupted trial runs again and does not count."""
    done = sum(1 for t in trials if t.state.is_finished() and not t.user_attrs.get("interrupted"))
    return max(0, spec.trial_budget - done)
