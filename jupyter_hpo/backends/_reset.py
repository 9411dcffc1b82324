"""The process state a warm worker restores after every trial, so that one trial cannot change the next.

Restored after each trial: the working folder, the environment (``os.environ``, and the time zone a trial set
with ``time.tzset()``), ``sys.path``, ``sys.argv``, Python-level signal handlers, ``sys.stdout`` /
``sys.stderr`` / ``sys.stdin`` (a trial that replaced them gets the worker's own back), the warning filters
(``warnings.simplefilter("error")``), the recursion limit, the umask, and NumPy's floating-point error handling
(``np.seterr``) when NumPy is imported, the resource limits (``resource.setrlimit``: a trial that capped its own
memory failed the next trials with MemoryError), and the standard streams' settings (``sys.stdout.reconfigure``).
What cannot be restored retires the worker after its trial (a fresh process takes its place): a working folder
that no longer exists, a standard stream that the trial closed, or a hard resource limit the trial lowered (only a
privileged process may raise it again).

Shared between warm trials, by design: imported installed modules and their module-level state (a script's
own modules are re-imported by every trial, see ``_script.py``), ``trial.cached`` values, and threads or
child processes a trial leaves running (a trial should join what it starts).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import time
import warnings
from typing import Any

__all__ = ["ProcessState"]

_STREAMS = ("stdout", "stderr", "stdin")


def _catchable() -> list[signal.Signals]:
    out = []
    for sig in signal.valid_signals():
        if not isinstance(sig, signal.Signals) or sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            signal.getsignal(sig)
            out.append(sig)
    return out


def _limits() -> dict[str, tuple[int, int]]:
    """The process's resource limits (``RLIMIT_AS``, ``RLIMIT_NOFILE``, ...) by name; none where there are none."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return {}
    out = {}
    for name in dir(resource):
        if name.startswith("RLIMIT_"):
            with contextlib.suppress(OSError, ValueError):
                out[name] = resource.getrlimit(getattr(resource, name))
    return out


def _restore_limits(limits: dict[str, tuple[int, int]]) -> list[str]:
    if not limits:
        return []
    import resource

    problems = []
    for name, (soft, hard) in limits.items():
        try:
            if resource.getrlimit(getattr(resource, name)) != (soft, hard):
                resource.setrlimit(getattr(resource, name), (soft, hard))
        except (OSError, ValueError) as e:  # a lowered hard limit: not this process's to raise again
            problems.append(f"the trial lowered the hard resource limit {name}, which only a privileged process may "
                            f"raise again ({e})")
    return problems


_STREAM_SETTINGS = ("encoding", "errors", "line_buffering", "write_through")


def _stream_settings(stream: Any) -> dict[str, Any] | None:
    """What ``reconfigure`` changes of a text stream (a function worker's own ``sys.stdout``), or None for a
    stream without it (a script worker's capture, which undoes a trial's ``reconfigure`` itself)."""
    if not isinstance(stream, io.TextIOWrapper):
        return None
    try:
        return {name: getattr(stream, name) for name in _STREAM_SETTINGS}
    except (AttributeError, ValueError):  # closed
        return None


def _numpy_errors() -> dict[str, str] | None:
    """NumPy's floating-point error handling, or None when NumPy is not imported (no import just for this)."""
    numpy = sys.modules.get("numpy")
    return dict(numpy.geterr()) if numpy is not None else None


def _set_numpy_errors(errors: dict[str, str] | None) -> None:
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # imported by the trial: NumPy's defaults are the worker's
        with contextlib.suppress(Exception):
            numpy.seterr(**(errors or {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}))


class ProcessState:
    """A snapshot of the worker's state, taken when it is ready, and restored after each trial.

    Example:
        >>> state = ProcessState()
        >>> os.environ["X_SET_BY_A_TRIAL"] = "1"
        >>> state.restore()
        []
        >>> "X_SET_BY_A_TRIAL" in os.environ
        False
    """

    def __init__(self) -> None:
        self.cwd = os.getcwd()
        self.environ = dict(os.environ)
        self.path = list(sys.path)
        self.argv = list(sys.argv)
        self.handlers: dict[signal.Signals, Any] = {s: signal.getsignal(s) for s in _catchable()}
        self.streams = {name: getattr(sys, name) for name in _STREAMS}
        self.stream_settings = {name: _stream_settings(stream) for name, stream in self.streams.items()}
        self.warning_filters = list(warnings.filters)
        self.recursion_limit = sys.getrecursionlimit()
        self.umask = os.umask(0o022)
        os.umask(self.umask)
        self.numpy_errors = _numpy_errors()
        self.zone = (time.timezone, time.altzone, time.daylight, time.tzname)
        self.limits = _limits()

    def restore(self) -> list[str]:
        """Put everything back; returns what could not be restored (the worker should then be replaced)."""
        problems: list[str] = []
        try:
            if os.getcwd() != self.cwd:
                os.chdir(self.cwd)
        except OSError as e:
            problems.append(f"its working folder {self.cwd!r} cannot be restored ({e.strerror or e})")
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        if (time.timezone, time.altzone, time.daylight, time.tzname) != self.zone:  # TZ=...; time.tzset()
            time.tzset()  # the time zone of the restored environment
        if warnings.filters != self.warning_filters:  # a script's warnings.simplefilter("error") failed the next
            warnings.filters[:] = self.warning_filters  # trials on a DeprecationWarning they only printed
            warnings._filters_mutated()  # type: ignore[attr-defined]  # what warnings.simplefilter calls
        if sys.getrecursionlimit() != self.recursion_limit:
            sys.setrecursionlimit(self.recursion_limit)
        os.umask(self.umask)
        problems += _restore_limits(self.limits)
        if self.numpy_errors is not None or "numpy" in sys.modules:
            _set_numpy_errors(self.numpy_errors)
        sys.path[:] = self.path
        sys.argv[:] = self.argv
        for sig, handler in self.handlers.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                with contextlib.suppress(OSError, ValueError, TypeError):
                    signal.signal(sig, handler)
        for name, stream in self.streams.items():
            if getattr(sys, name) is not stream:
                setattr(sys, name, stream)
            if getattr(stream, "closed", False):
                problems.append(f"the trial closed sys.{name}")
            elif (settings := self.stream_settings.get(name)) and _stream_settings(stream) != settings:
                with contextlib.suppress(AttributeError, ValueError, OSError):  # `sys.stdout.reconfigure(...)`:
                    stream.reconfigure(**settings)  # an ASCII encoding failed the next trials that printed `é`
        return problems
