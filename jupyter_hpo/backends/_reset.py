"""The process state a warm worker restores after every trial, so that one trial cannot change the next.

Restored after each trial: the working folder, the environment (``os.environ``), ``sys.path``, ``sys.argv``,
Python-level signal handlers, and ``sys.stdout`` / ``sys.stderr`` / ``sys.stdin`` (a trial that replaced them
gets the worker's own back). What cannot be restored retires the worker after its trial (a fresh process
takes its place): a working folder that no longer exists, or a standard stream that the trial closed.

Shared between warm trials, by design: imported installed modules and their module-level state (a script's
own modules are re-imported by every trial, see ``_script.py``), ``trial.cached`` values, and threads or
child processes a trial leaves running (a trial should join what it starts).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
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
        return problems
