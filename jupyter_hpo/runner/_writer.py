"""The runner's store writer: a thread that applies store writes in order, off the trial loop."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_hpo.store import Store

__all__ = ["STUCK_S", "StoreWriter"]

log = logging.getLogger("jupyter_hpo.runner")
#: How long the writer may apply no write at all before closing gives up (a stuck store).
STUCK_S = 60.0


class StoreWriter(threading.Thread):
    """Applies store writes in order, off the trial loop. ``error`` holds the first failure."""

    def __init__(self, store: Store, study_id: int) -> None:
        super().__init__(name="jupyter-hpo-store-writer", daemon=True)
        self.store, self.study_id = store, study_id
        self.error: Exception | None = None
        self.trial_ids: dict[int, int] = {}
        self._queue: queue.Queue[Any] = queue.Queue()

    def put(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._queue.put((fn, args, kwargs))

    def run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            fn, args, kwargs = item
            try:
                fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - reported to the runner, which stops the job
                log.exception("store write failed")
                self.error = self.error or e

    def flush(self, timeout: float = 60.0) -> bool:
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def backlog(self) -> int:
        """How many writes wait in the queue."""
        return self._queue.qsize()

    def close(self) -> None:
        """Apply every queued write, however long that takes while writes go through; then end the thread.

        Only a store that applies no write at all for a minute ends the wait, and that is an error.
        """
        left = self.backlog()
        while not self.flush(timeout=STUCK_S):
            if self.backlog() >= left:
                self.error = self.error or TimeoutError(
                    f"{self.backlog()} store writes not applied in {STUCK_S:g} s")
                break
            left = self.backlog()
        self._queue.put(None)
        self.join(timeout=10)
