"""Time in the simulated SageMaker: the clocks, and the queue of events that state advances through.

State advances lazily: every call first runs the events scheduled up to ``clock.now()``, in time
order. With a :class:`VirtualClock` time moves only on ``clock.sleep()``, so hours of training and
warm-pool keep-alive pass at once; a :class:`ScaledClock` follows real time, sped up.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "EventQueue", "ScaledClock", "VirtualClock"]


class Clock(Protocol):
    """What the simulation needs of a clock."""

    def now(self) -> float:
        """The current time in epoch seconds."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of clock time pass."""


class VirtualClock:
    """A clock that moves only when ``sleep`` is called: hours of simulated work pass at once.

    Example::

        clock = VirtualClock()
        clock.sleep(3600)  # returns at once; clock.now() is one hour later
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current virtual time in epoch seconds (2026-01-01 00:00 UTC by default at the start)."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` at once.

        Raises:
            ValueError: if ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"`seconds` must be >= 0, but got {seconds}.")
        self._now += seconds


class ScaledClock:
    """Real time, sped up: ``speed`` virtual seconds pass per real second (``speed=1`` is real time).

    Example::

        clock = ScaledClock(speed=60)
        clock.sleep(60)  # takes one real second
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"`speed` must be > 0, but got {speed}.")
        self.speed = float(speed)
        self._epoch = time.time()
        self._start = time.monotonic()

    def now(self) -> float:
        """The current virtual time in epoch seconds; it starts at the real time of construction."""
        return self._epoch + (time.monotonic() - self._start) * self.speed

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds / speed`` real seconds."""
        time.sleep(seconds / self.speed)


class EventQueue:
    """Events scheduled at clock times (a mixin of the simulation): :meth:`_advance` runs the due ones."""

    def __init__(self) -> None:
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()

    def _schedule(self, t: float, fn: Callable[[float], None]) -> None:
        """Run ``fn(t)`` once the clock passes ``t``."""
        heapq.heappush(self._events, (t, next(self._seq), fn))

    def _advance(self, now: float) -> None:
        """Run every event due by ``now``, earliest first (an event may schedule more)."""
        while self._events and self._events[0][0] <= now:
            t, _, fn = heapq.heappop(self._events)
            fn(t)
