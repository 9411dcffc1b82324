"""One runner per job: a lock file that the runner driving the job holds for its whole life."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

__all__ = ["RunnerLock"]

log = logging.getLogger("jupyter_hpo.runner")
_WAIT_S = 10.0  # how long a new runner waits for one that is finishing


class RunnerLock:
    """``<job dir>/runner.lock``: ``flock``-ed by the job's runner, holding its pid, touched at each heartbeat.

    The lock ends with its process, however that ends. Its modification time is the holder's last
    heartbeat, so a runner that cannot take it tells a hung holder (a heartbeat older than the stale
    threshold, as in ``Store.status_of``) from a healthy or finishing one. Without ``flock`` (Windows)
    nothing is locked.

    Example:
        >>> lock = RunnerLock(store.job_dir("credit-xgb"), "credit-xgb")  # doctest: +SKIP
        >>> lock.acquire(stale_after=120.0)  # doctest: +SKIP
    """

    def __init__(self, job_dir: Path, job: str) -> None:
        self.path = Path(job_dir) / "runner.lock"
        self.job = job
        self._fd: int | None = None

    def acquire(self, stale_after: float) -> bool:
        """Take the lock, first ending a holder whose heartbeat is older than ``stale_after`` seconds
        (with its workers: it leads their process group). Returns False when a live runner that is not
        hung still holds it after a wait of up to 10 s (it may be finishing)."""
        try:
            import fcntl
        except ImportError:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline, ended = time.monotonic() + _WAIT_S, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            silent_s = time.time() - os.fstat(fd).st_mtime
            if not ended and silent_s > stale_after and self._end_holder(fd, silent_s):
                ended, deadline = True, time.monotonic() + _WAIT_S
            elif time.monotonic() > deadline:
                os.close(fd)
                return False
            time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return True

    def _end_holder(self, fd: int, silent_s: float) -> bool:
        try:
            pid = int(os.pread(fd, 32, 0).decode() or 0)
        except ValueError:
            pid = 0
        if pid <= 0 or pid == os.getpid():
            return False
        try:
            if os.getpgid(pid) == pid:  # a runner leads its own session and process group: its workers too
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.warning("ended the hung runner of job %r (pid %d): no heartbeat for %.0f s", self.job, pid, silent_s)
        return True

    def touch(self) -> None:
        """Record a heartbeat of the holder."""
        if self._fd is not None:
            os.utime(self._fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
