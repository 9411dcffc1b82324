"""A job's status and whether its runner lives: its pid on this machine, the progress of its heartbeat
seen from elsewhere. The rules every reader of the store (kernel, CLI, server) applies."""

from __future__ import annotations

import os
import socket
import time
from enum import Enum
from typing import Any

#: How often a runner writes its heartbeat, and how old one may get before the job shows as stale: when
#: the runner runs on another machine, and on this one, where its live pid shows it exists but not that
#: it makes progress (a hung or SIGSTOPped runner). ``$JUPYTER_HPO_STALE_AFTER_S`` overrides both.
HEARTBEAT_S = 2.0
STALE_AFTER_S = 30.0
STALE_ALIVE_AFTER_S = 120.0
STALE_ENV = "JUPYTER_HPO_STALE_AFTER_S"
THIS_HOST = socket.gethostname()


class JobStatus(str, Enum):
    """A job's state. ``STALE`` is derived: the store says running, but the runner is gone or hung."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"
    STALE = "stale"

    def is_finished(self) -> bool:
        """True once no runner will touch the job again unless it is resumed."""
        return self in (JobStatus.COMPLETED, JobStatus.STOPPED, JobStatus.FAILED, JobStatus.STALE)

    def is_active(self) -> bool:
        return self in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.STOPPING)

    def __str__(self) -> str:
        return self.value


class Heartbeats:
    """What this process has seen of other machines' runners: each runner's last heartbeat value and, by this
    process's monotonic clock, when it last moved. Liveness then rests on progress, not on clocks agreeing."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], tuple[Any, float, bool]] = {}

    def silence(self, runner: dict[str, Any], heartbeat: Any, clock_age: float) -> float:
        """Seconds the runner's heartbeat has been silent: watched, once it was seen to move; else ``clock_age``."""
        if not (runner.get("host") and runner.get("pid")):  # no runner yet (a pending job): nothing to watch
            return clock_age
        key = (runner.get("host"), runner.get("pid"), runner.get("started"))
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is None:
            self._remember(key, (heartbeat, now, False))
            return clock_age
        value, since, moved = seen
        if heartbeat != value:
            self._seen[key] = (heartbeat, now, True)
            return 0.0
        return now - since if moved else clock_age

    def _remember(self, key: tuple[Any, ...], entry: tuple[Any, float, bool]) -> None:
        if len(self._seen) > 10_000:  # a long-lived server: forget the oldest runners
            for old in list(self._seen)[:1_000]:
                del self._seen[old]
        self._seen[key] = entry


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive for us
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def stale_after_s(default: float) -> float:
    """``$JUPYTER_HPO_STALE_AFTER_S`` when it is a positive number of seconds, else ``default``.

    Read at each call, so it holds for whatever process computes a status (kernel, CLI, server).
    """
    try:
        value = float(os.environ.get(STALE_ENV, ""))
    except ValueError:
        return default
    return value if value > 0 else default


#: what this process has seen of runners' heartbeats
HEARTBEATS = Heartbeats()


def job_status(attrs: dict[str, Any], now: float | None = None) -> JobStatus:
    """The job's status, ``STALE`` when it should be running but its runner is gone or hung.

    A runner on this machine is stale at once when its pid is dead, and when its heartbeat is older
    than ``STALE_ALIVE_AFTER_S`` (120 s) although the pid lives; one on another machine when its
    heartbeat has not moved for ``STALE_AFTER_S`` (30 s). ``$JUPYTER_HPO_STALE_AFTER_S`` overrides both.
    Another machine's clock may differ from this one's: once this process has seen a runner's heartbeat
    move, its silence is measured by this process's own clock (see :class:`Heartbeats`); before that,
    by comparing the two clocks, which :meth:`Store.watch_status` confirms by watching when it matters.
    """
    status = JobStatus(attrs.get("status", "pending"))
    if not status.is_active():
        return status
    now = time.time() if now is None else now
    runner = attrs.get("runner") or {}
    age = now - float(attrs.get("heartbeat") or attrs.get("created") or now)
    spawned = attrs.get("spawned") or {}
    if not runner.get("pid") and spawned.get("host") == THIS_HOST and spawned.get("pid"):
        # a runner this machine started that died before it registered (killed, out of memory, a crash while it
        # loaded): stale at once; it showed pending for 30 s, which `resume` refused and `stop` waited out
        if not pid_alive(int(spawned["pid"])):
            return JobStatus.STALE
    if runner.get("host") == THIS_HOST and runner.get("pid"):
        # on this machine a dead runner is stale at once; a live one whose heartbeat is long overdue
        # is hung (a busy runner may write its heartbeat late, hence the longer allowance)
        alive = pid_alive(int(runner["pid"]))
        return status if alive and age <= stale_after_s(STALE_ALIVE_AFTER_S) else JobStatus.STALE
    silent = HEARTBEATS.silence(runner, attrs.get("heartbeat"), age)
    return JobStatus.STALE if silent > stale_after_s(STALE_AFTER_S) else status

