"""The body of a local worker process: load the objective once, then run trial after trial.

Kept light on imports (no Optuna, no pandas): a worker's start-up is what a cold start costs.
Messages on the pipe, worker -> runner:
    ("ready", pid, boot_seconds)
    ("report", key, step, value)      -> the runner answers ("prune", bool)
    ("done", key, payload)            payload: value | invalid, started_at, run_s, fold_scores, metrics,
                                      state ("complete" | "pruned" | "failed"), error, traceback
runner -> worker: ("run", task) with task = {key, params, seed, refit, artifact_dir}; ("exit",);
    ("rebind", boot[, log]): a campaign's next job (or the next job of a kept runner) takes this idle worker
    over (same objective environment, see ``_local.fingerprint``): the worker loads that job's objective and
    settings (and sends its output to the file ``log`` from then on, when given) and answers
    ("rebound", pid, {executable, version, cwd}, [static hyperparameters whose change dropped its
    ``trial.cached`` values]), or ("rebind_error", text) and ends
"""

from __future__ import annotations

import contextlib
import io
import math
import operator
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any, NoReturn

from jupyter_hpo import trial as trial_api
from jupyter_hpo.backends import _reads
from jupyter_hpo.backends._reset import ProcessState
from jupyter_hpo.backends._script import ScriptRunner
from jupyter_hpo.space import argument_text

_TAIL_LINES = 40
#: an unfinished output line (no newline yet: ``print(".", end="")`` per batch, ``\r`` progress bars) is kept in
#: pieces, joined once when its newline comes (never once per write); past this many characters, the matches that
#: end before its last :data:`_PARTIAL_OVERLAP` are taken, and only its last :data:`_PARTIAL_KEEP` are kept: a
#: metric at the start of a long line counts, one across the cut is read whole, and memory stays bounded
_PARTIAL_MAX = 1 << 20
_PARTIAL_KEEP = 1 << 16
_PARTIAL_OVERLAP = 1 << 12


class _Tee(io.TextIOBase):
    """A script worker's ``sys.stdout`` for its whole life: passes the output through and, while a trial runs
    (:meth:`begin` .. :meth:`end`), keeps each metric's last match and a tail of lines. One object, so that what a
    warm trial holds from an earlier one (a logging handler made with ``stream=sys.stdout``) writes to this trial."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._buffer = _TeeBuffer(self)
        self._settings: dict[str, Any] | None = None  # the stream's own, while a trial has reconfigured it
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._capturing = False
        self._partial: list[str] = []  # the unfinished line's pieces, joined when its newline comes
        self._partial_chars = 0
        self._cut = False  # the unfinished line has been cut (_cut_long_line)
        self.last: dict[str, str] = {}  # metric -> the value its regex captured last
        self.tail: list[str] = []

    def begin(self, patterns: dict[str, re.Pattern[str]]) -> None:
        """A trial starts: match these patterns in its output, from nothing."""
        self._patterns, self._partial, self._partial_chars, self.last, self.tail = patterns, [], 0, {}, []
        self._cut = False
        self._capturing = True

    def end(self) -> None:
        """The trial has ended: its last partial line counts; output after it only passes through. A stream the
        trial reconfigured gets its own settings back."""
        self.flush()
        self._capturing = False
        if self._settings is not None:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                self._out.reconfigure(**self._settings)
            self._settings = None

    def reconfigure(self, **settings: Any) -> None:
        """``sys.stdout.reconfigure(encoding="utf-8")``, a script's usual mend for printing text its locale cannot
        encode, on the worker's stream, for this trial (it failed with AttributeError)."""
        if self._settings is None:
            self._settings = {"encoding": self._out.encoding, "errors": self._out.errors,
                              "line_buffering": self._out.line_buffering, "write_through": self._out.write_through}
        self._out.reconfigure(**settings)

    def write(self, s: str) -> int:
        self._out.write(s)
        if self._capturing and s:
            self._capture(s)
        return len(s)

    def _capture(self, s: str) -> None:
        # only the new piece is searched for a newline: re-splitting the whole unfinished line on every write
        # made a script that prints a dot per batch quadratic (2 s alone, 63 s as a trial)
        if "\n" in s:
            *lines, rest = ("".join(self._partial) + s).split("\n")
            for line in lines:
                self._line(line)
            self._partial, self._partial_chars = ([rest], len(rest)) if rest else ([], 0)
        else:
            self._partial.append(s)
            self._partial_chars += len(s)
            if self._partial_chars > _PARTIAL_MAX:
                self._cut_long_line()

    def _cut_long_line(self) -> None:
        """The unfinished line is past :data:`_PARTIAL_MAX`: take its matches that end before its last
        :data:`_PARTIAL_OVERLAP` characters (a match there may go on in what comes), keep its last
        :data:`_PARTIAL_KEEP` (from which they are found again, whole, with the rest of the line)."""
        text = "".join(self._partial)
        limit = len(text) - _PARTIAL_OVERLAP
        for metric, pattern in self._patterns.items():
            done = [m for m in pattern.finditer(text) if m.end() <= limit]
            if done:
                self.last[metric] = done[-1].group(1) if pattern.groups == 1 else done[-1].group(0)
        if not self._cut:  # the tail keeps the start of a long line once
            self.tail = (self.tail + [text[:_PARTIAL_KEEP]])[-_TAIL_LINES:]
            self._cut = True
        keep = text[-_PARTIAL_KEEP:]
        self._partial, self._partial_chars = [keep], len(keep)

    def _line(self, line: str) -> None:
        for metric, pattern in self._patterns.items():
            found = pattern.findall(line)
            if found:
                self.last[metric] = found[-1]
        self.tail = (self.tail + [line[:_PARTIAL_KEEP] if self._cut else line])[-_TAIL_LINES:]
        self._cut = False

    def flush(self) -> None:
        if self._partial and self._capturing:
            self._line("".join(self._partial))
        self._partial, self._partial_chars = [], 0
        self._out.flush()

    # what code asks of a real stream (faulthandler, subprocess, colour checks) is the stream's: not captured
    def fileno(self) -> int:
        return int(self._out.fileno())

    def isatty(self) -> bool:
        return bool(self._out.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._out, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._out, "errors", None)

    @property
    def buffer(self) -> Any:
        """The bytes under the text: what a trial writes there (``sys.stdout.buffer.write``, or through a
        ``io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8")`` of its own) is read for its metric too, and
        closing it (that wrapper, collected) leaves the worker's stream open: it closed it for every later trial."""
        return self._buffer

    def detach(self) -> Any:
        """``io.TextIOWrapper(sys.stdout.detach(), encoding="utf-8")`` (or ``codecs.getwriter``), the other usual
        mend: the bytes under the text, as :attr:`buffer`; this stream stays whole for the next trials."""
        return self._buffer

    def _bytes(self, data: bytes) -> None:
        """Bytes a trial wrote under the text, in order with the text: passed through, then read as text."""
        self._out.flush()
        self._out.buffer.write(data)
        self._out.buffer.flush()
        if self._capturing and data:
            self._capture(bytes(data).decode(self.encoding, "replace"))


class _TeeBuffer(io.RawIOBase):
    """:attr:`_Tee.buffer`: bytes written here go to the worker's stream and are read for the trial's metric;
    closing it closes nothing of the worker's (a trial's own ``TextIOWrapper`` over it closes it when collected)."""

    def __init__(self, tee: _Tee) -> None:
        super().__init__()
        self._tee = tee

    def writable(self) -> bool:
        return True

    @property
    def raw(self) -> _TeeBuffer:  # ``sys.stdout.buffer.raw.write(...)``: read for the metric as well
        return self

    def write(self, data: Any) -> int:
        self._tee._bytes(bytes(data))
        return len(data)

    def flush(self) -> None:
        self._tee._out.flush()

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.flush()  # and stays open: the next trial writes through it too

    @property
    def closed(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._tee._out.fileno())

    def isatty(self) -> bool:
        return bool(self._tee._out.isatty())


def _changed_modules(since: float) -> list[str]:
    """The modules this process imported from outside the Python installation whose file changed after ``since``.

    Not a duplicate of :mod:`jupyter_hpo.backends._reads`: a module imported from a valid ``__pycache__`` file is
    read from the ``.pyc`` only (its ``.py`` is stat'ed, never opened), so an edit of its source is no read that
    changed; and the modules imported before the read watch started are not in it at all."""
    installed = tuple({os.path.join(p, "") for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    changed = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or os.path.abspath(path).startswith(installed):
            continue
        try:
            if os.stat(path).st_mtime > since:
                changed.append(name)
        except OSError:
            continue
    return sorted(changed)


def _as_number(value: Any) -> float | None:
    """``value`` as a float, or None when it is no real number. A complex NumPy value is None: ``float()`` would
    take its real part (with only a warning), and a trial that returned ``0.3+5j`` completed with 0.3, as best."""
    if getattr(getattr(value, "dtype", None), "kind", None) == "c":
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float (10**400)
        return None


def _is_bool(value: Any) -> bool:
    """Python's or NumPy's bool, which ``float()`` would take as 0.0 or 1.0."""
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _split_result(result: Any, metric: str) -> tuple[Any, dict[str, float]]:
    if isinstance(result, dict):
        numbers = {str(k): _as_number(v) for k, v in result.items() if k != metric}
        return (result.get(metric, _Missing(metric, list(result))),
                {k: v for k, v in numbers.items() if v is not None})
    return result, {}


class _ScriptFailed(Exception):
    """A script trial ended without a result; ``tail`` holds its last output lines."""

    def __init__(self, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.tail = list(tail)


class _ScriptExit(BaseException):
    """What ``os._exit(code)`` raises when a script trial calls it in the worker's main thread (see
    :func:`_exit_raises`). A BaseException, so that the script's ``except Exception`` does not catch it."""


@contextlib.contextmanager
def _exit_raises(exits: list[int], *streams: _Tee) -> Iterator[None]:
    """While a script trial runs, ``os._exit(code)`` called by this process in its main thread raises
    :class:`_ScriptExit` instead of ending it; ``exits`` gets each code, the first first.

    ``python train.py`` ends there with that code; the worker would end too, before it sent the metric the script
    printed. The first call counts, as it would have ended the process: what the script's handlers do after it
    (a bare ``except:`` that calls ``os._exit(1)``) is not the script's result, and from then on ``streams`` (the
    metric capture) read nothing more. Not intercepted, the real ``os._exit``: a process the script forked (its
    pid differs), and a call from another thread of the script (the exception would end only that thread, not
    the script: the worker ends, and its trial fails as "worker process died")."""
    real, pid = os._exit, os.getpid()

    def _exit(code: int) -> NoReturn:
        code = operator.index(code)  # os._exit(None) is a TypeError in the script, as standalone
        if os.getpid() != pid or threading.current_thread() is not threading.main_thread():
            real(code)
        if not exits:
            for stream in streams:
                stream.end()
        exits.append(code)
        raise _ScriptExit(code)

    os._exit = _exit
    try:
        yield
    finally:
        os._exit = real


class _Missing:
    def __init__(self, metric: str, keys: list[Any]) -> None:
        self.text = f"the returned dict has no key {metric!r} (keys: {keys})"


class _Worker:
    def __init__(self, conn: Any, boot: dict[str, Any]) -> None:
        self.booted_at = time.time()  # what it imported from then on is as its files were then, or later
        self.conn = conn
        self.boot = boot
        self.metric: str = boot["metric"]
        self.static: dict[str, Any] = boot.get("hyperparameters") or {}
        self.objective: Any = None
        self.script: ScriptRunner | None = None
        self.tee: _Tee | None = None
        self.err: _Tee | None = None
        self.exited: int | None = None  # the code the current script trial passed to os._exit, if it did
        with contextlib.suppress(ImportError):  # so that every trial, the first too, gets numpy reseeded
            import numpy  # noqa: F401
        if boot["kind"] == "function":
            import cloudpickle

            with open(boot["path"], "rb") as f:
                self.objective = cloudpickle.load(f)
        else:  # before the script's imports, which may keep sys.stdout (a logging handler)
            self.tee, self.err = _Tee(sys.stdout), _Tee(sys.stderr)  # stderr: the tail of a failed script's
            sys.stdout, sys.stderr = self.tee, self.err
            self.script = ScriptRunner(boot["path"])
            self.script.preload()
        self._read_patterns(boot)
        # one exchange on the pipe at a time: a trial may report from its own threads
        self._pipe = threading.Lock()
        self._current: int | None = None
        self.state = ProcessState()  # what every trial gets back (see _reset.py)

    def rebind(self, boot: dict[str, Any]) -> list[str]:
        """Serve another job of the campaign: its objective, metric, regexes and static hyperparameters; returns
        the static hyperparameters that differ from the earlier job's when that dropped ``trial.cached`` values.

        What this process imported stays (the backend hands over a worker only when the objective environment's
        fingerprint is the same); the process state is already restored. ``trial.cached`` values stay when the
        static hyperparameters are the same; else they are dropped, since a value may come from one (the data
        path of one portfolio segment, say), and the new job's trials load their own.
        Refused (the backend then starts a fresh worker) when a module it imported from outside the Python
        installation -- the user's own code: a folder on the path, an editable install -- has changed on disk
        since this worker started (it would run the old code), or a file it read has (its ``trial.cached``
        values may come from it; :mod:`jupyter_hpo.backends._reads`).
        """
        for what, changed in (("code it imported", _changed_modules(self.booted_at)),
                              ("files it read", _reads.changed())):
            if changed:
                more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                raise RuntimeError(f"{what} changed since it started: {', '.join(changed[:3])}{more}")
        if boot["kind"] == "function":
            import cloudpickle

            with open(boot["path"], "rb") as f:
                objective = cloudpickle.load(f)
            self.objective, self.script = objective, None
        elif self.script is None or self.script.path != os.path.abspath(boot["path"]):
            self.objective, self.script = None, ScriptRunner(boot["path"])
        self.boot, self.metric = boot, boot["metric"]
        static = boot.get("hyperparameters") or {}
        differ = sorted(k for k in {*static, *self.static} if k not in static or k not in self.static
                        or static[k] != self.static[k])
        dropped = differ if differ and trial_api._cache else []
        if dropped:
            trial_api._cache.clear()
        self.static = static
        self._read_patterns(boot)
        return dropped

    def _read_patterns(self, boot: dict[str, Any]) -> None:
        """Compile the objective metric's regex and, for a script with several objectives (``boot["objectives"]``:
        ``[[metric, regex], ...]``), each objective's; a single-objective job reads only its metric."""
        self.pattern = re.compile(boot["pattern"])
        self.patterns = {m: re.compile(p) for m, p in boot.get("objectives") or [[self.metric, boot["pattern"]]]}

    def _report(self, key: int) -> Any:
        def send(value: float, step: int) -> bool:
            with self._pipe:
                if self._current != key:  # a thread reporting after its trial ended: nobody to tell
                    return False
                self.conn.send(("report", key, step, value))
                reply = self.conn.recv()
            return bool(reply[1])

        return send

    def send_done(self, key: int, payload: dict[str, Any]) -> None:
        """Send a trial's result; from now on its late reports (from its threads) are dropped."""
        with self._pipe:
            self._current = None
            self.conn.send(("done", key, payload))

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        key = task["key"]
        params = {**self.static, **task["params"]}
        _reads.note_named(params.values())  # a data path native code will open (pandas.read_parquet): watched too
        started = time.time()
        self._current = key
        refit, folder = bool(task.get("refit")), task.get("artifact_dir")
        trial_api._begin(trial_api._Context(params=params, report_fn=self._report(key), seed=task.get("seed"),
                                            metric=self.metric, artifact_dir=folder, refit=refit))
        if folder:  # what a script may read directly; the environment is restored after the trial
            os.environ[trial_api.ARTIFACT_DIR_ENV] = folder
        os.environ[trial_api.REFIT_ENV] = "1" if refit else "0"
        payload: dict[str, Any] = {"started_at": started, "state": "complete"}
        try:
            if self.objective is not None:
                raw = self.objective(params) if _takes_argument(self.objective) else self.objective()
            else:
                raw = self._run_script(params)
            value, payload["metrics"] = _split_result(raw, self.metric)
            if isinstance(value, _Missing):
                payload.update(state="failed", error=value.text)
            elif _as_number(value) is None or _is_bool(value):  # True is not 1.0: `return auc > 0.8`, say
                payload["invalid"] = repr(value)[:200]
            else:
                payload["value"] = _as_number(value)
        except BaseException as e:  # noqa: BLE001 - a trial's failure must never kill the worker
            if type(e).__name__ == "TrialPruned" or getattr(e, "_jupyter_hpo_pruned", False):
                payload["state"] = "pruned"
            elif isinstance(e, _ScriptFailed):
                payload.update(state="failed", error=_clip(str(e)),
                               traceback=_clip_traceback("last output:\n" + "\n".join(e.tail)))
            else:
                payload.update(state="failed", error=_one_line(e),
                               traceback=_clip_traceback(traceback.format_exc(limit=20)))
        finally:
            ctx = trial_api._end()
        payload["run_s"] = time.time() - started
        problems = self.state.restore()
        if self.exited is not None:
            # A script calls os._exit to skip its process's teardown (non-daemon threads, data loader processes,
            # a GPU context, files not closed): left in a warm worker, that would reach the next trial, which is
            # to run as in a fresh process. And the exception that replaced the call ran the script's `finally`
            # blocks and `with` exits, which os._exit skips. A fresh worker takes this one's place.
            problems.append(f"the script called os._exit({self.exited})")
            self.exited = None
        if problems:  # the backend replaces this worker after the trial
            payload["retire"] = "; ".join(problems)
        if ctx is not None and ctx.fold_scores:
            payload["fold_scores"] = ctx.fold_scores
        return payload

    def _run_script(self, params: dict[str, Any]) -> Any:
        argv = [self.boot["path"]]
        for name, value in params.items():
            argv += [f"--{name}", argument_text(value)]
        tee, err = self.tee, self.err
        assert self.script is not None and tee is not None and err is not None
        tee.begin(self.patterns)
        err.begin({})
        code: Any = None
        exits: list[int] = []
        try:
            with _exit_raises(exits, tee, err):
                self.script.run(argv)
        except SystemExit as e:
            code = e.code
        except BaseException:
            if not exits:  # else what the script raised after its os._exit, which would have ended it there
                raise
        finally:
            for name, own in (("stdout", tee), ("stderr", err)):  # a stream the script put in place of the worker's
                replaced = getattr(sys, name)  # (a TextIOWrapper of its own over sys.stdout.buffer) writes out what
                if replaced is not own:  # it holds now, as at its interpreter's exit standalone, while it counts
                    with contextlib.suppress(Exception):
                        replaced.flush()
            tee.end()
            err.end()  # an argparse error, say: its message is the last line on stderr
        if exits:
            code = self.exited = exits[0]
        if code not in (None, 0):
            last = next((line for line in reversed(tee.tail) if line.strip()), "")
            why = next((line for line in reversed(err.tail) if line.strip()), "")
            raise _ScriptFailed(f"the script exited with code {code}" + (f" ({why})" if why else "")
                                + f"; last output: {last}",
                                tee.tail + (["-- error output --", *err.tail] if err.tail else []))
        if len(self.patterns) > 1:
            return self._script_values(tee)
        if self.metric not in tee.last:
            raise _ScriptFailed(
                f"no output line matched the objective regex {self.pattern.pattern!r} "
                f"(print e.g. '{self.metric}=0.83')", tee.tail
            )
        return tee.last[self.metric]

    def _script_values(self, tee: _Tee) -> dict[str, float]:
        """Several objectives: each one's last match, as a finite number, else the trial fails saying which."""
        values: dict[str, float] = {}
        for metric, pattern in self.patterns.items():
            if metric not in tee.last:
                raise _ScriptFailed(f"no output line matched the regex {pattern.pattern!r} of objective {metric!r} "
                                    f"(print e.g. '{metric}=0.83')", tee.tail)
            value = _as_number(tee.last[metric])
            if value is None or not math.isfinite(value):
                raise _ScriptFailed(f"the regex {pattern.pattern!r} of objective {metric!r} found "
                                    f"{tee.last[metric]!r}, not a finite number", tee.tail)
            values[metric] = value
        return values


def _takes_argument(fn: Any) -> bool:
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in sig.parameters.values())


#: the most characters of a trial's error kept in its record (its stored ``traceback`` has more: TRACEBACK_CHARS)
ERROR_CHARS = 300


def _clip(text: str) -> str:
    """``text`` cut to :data:`ERROR_CHARS`, ending in "…" when cut (a cut error read as if it were whole)."""
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "\u2026"


#: the most characters of a trial's traceback (or a script's last output) kept in its record: its end, where the
#: error is. Whole, one exception that held its input stored 20 MB, read again by every ``show`` and poll
TRACEBACK_CHARS = 20_000


def _clip_traceback(text: str) -> str:
    return text if len(text) <= TRACEBACK_CHARS else "\u2026" + text[-(TRACEBACK_CHARS - 1):]


def _one_line(e: BaseException) -> str:
    """``Type: the first line of the message`` that has text: scikit-learn's "All the 3 fits failed" starts with a
    newline, and showed as a bare ``ValueError:``. A message that cannot be made (its ``__str__`` raises) is said
    as ``traceback`` says it, and never ends the worker."""
    try:
        said = str(e)
    except Exception:  # noqa: BLE001 - a user's exception whose __str__ fails
        said = "<exception str() failed>"
    first = next((line.strip() for line in said.splitlines() if line.strip()), "")
    return _clip(f"{type(e).__name__}: {first}" if first else type(e).__name__)


def _end_with_runner() -> None:
    """End this process as soon as its runner is gone (killed -9, say): nobody is left to use its result,
    and a long or hung trial would otherwise hold its CPU and memory on and on."""
    import multiprocessing
    import threading

    parent = multiprocessing.parent_process()  # its sentinel closes when the runner ends
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        with contextlib.suppress(Exception):  # what left its group (`start_new_session=True`): found through
            from jupyter_hpo.backends._proctree import end_process_tree  # parent links while it still lives

            end_process_tree(os.getpid())  # (never signals this process or its own group)
        with contextlib.suppress(OSError):
            if os.getpgid(0) == os.getpid():  # its own group (worker_main): what its trials started goes too
                os.killpg(0, signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="jupyter-hpo-runner-watch", daemon=True).start()


def worker_main(conn: Any, boot: dict[str, Any]) -> None:
    """Entry point of a worker process (started by the local backend with the spawn method)."""
    if hasattr(os, "setsid"):  # its own process group: the backend ends it with what its trials started
        with contextlib.suppress(OSError):  # already a group leader
            os.setsid()
    import multiprocessing

    # a daemon of its runner (ended with it), yet a trial may start processes, as `python train.py` may: a
    # multiprocessing Pool, a ProcessPoolExecutor, a DataLoader's workers, joblib's loky (which, refused, ran
    # n_jobs=-1 on one core without a word). multiprocessing refuses children to a daemonic process.
    multiprocessing.current_process()._config["daemon"] = False
    # and with the platform's own start method (fork on Linux), as `python train.py` has: a spawned process
    # inherits spawn, whose children re-run a script's top level (a default Pool() hung, without a main guard)
    multiprocessing.set_start_method(None, force=True)
    t0 = time.time()
    from jupyter_hpo.runner._log import utf8_output

    utf8_output()  # before any trial prints: it is runner.log, whatever the locale
    _reads.watch()  # what it reads from here on (the objective's imports, its data) is checked at a hand-over
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides when a worker stops
    _end_with_runner()
    try:
        worker = _Worker(conn, boot)
    except BaseException as e:  # noqa: BLE001
        conn.send(("boot_error", _one_line(e), traceback.format_exc(limit=20)))
        return
    conn.send(("ready", os.getpid(), time.time() - t0))
    try:
        _serve(conn, worker)
    finally:
        _end_children()


def _end_children() -> None:
    """End the multiprocessing children the trials left (a ProcessPoolExecutor kept in ``trial.cached``, say):
    multiprocessing joins a process's non-daemonic children as it exits, and theirs wait for work that never
    comes, so the worker hung until its runner ended it (3 s later, at a job's end)."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(Exception):
            child.terminate()
    for child in children:
        with contextlib.suppress(Exception):
            child.join(timeout=1)


def _serve(conn: Any, worker: _Worker) -> None:
    """Answer the runner's messages until it says exit (or is gone)."""
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "rebind":
            try:
                if len(msg) > 2 and msg[2]:
                    from jupyter_hpo.runner._log import send_output_to

                    send_output_to(msg[2])
                dropped = worker.rebind(msg[1])
            except BaseException as e:  # noqa: BLE001 - the backend ends this worker and starts a cold one
                conn.send(("rebind_error", _one_line(e)))
                return
            conn.send(("rebound", os.getpid(), {"executable": sys.executable, "version": sys.version,
                                                "cwd": os.getcwd()}, dropped))
            continue
        if msg[0] != "run":
            return
        payload = worker.run(msg[1])
        try:
            worker.send_done(msg[1]["key"], payload)
        except (BrokenPipeError, OSError):
            return


if __name__ == "__main__":  # pragma: no cover - started through multiprocessing
    raise SystemExit("jupyter_hpo.backends._worker is started by the local backend")

