"""Whether a job's runner lives: its pid on this machine, the progress of its heartbeat seen from elsewhere."""

from __future__ import annotations

import os
import time
from typing import Any


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
