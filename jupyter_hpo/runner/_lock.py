"""One runner per job: a lock file that the runner driving the job holds for its whole life."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

__all__ = ["RunnerLock"]

log = logging.getLogger("jupyter_hpo.runner")
_WAIT_S = 10.0  # how long a new runner waits for one that is finishing


_HOST = socket.gethostname()


def _holder(raw: bytes) -> tuple[int, str | None]:
    """``(pid, host)`` from a lock file's text ``"PID HOST"`` (``"PID"`` alone from older versions: this host)."""
    parts = raw.decode(errors="replace").split(maxsplit=1)
    try:
        pid = int(parts[0]) if parts else 0
    except ValueError:
        return 0, None
    return pid, (parts[1].strip() if len(parts) > 1 else None)


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
        os.pwrite(fd, f"{os.getpid()} {_HOST}".encode(), 0)
        self._fd = fd
        return True

    def _end_holder(self, fd: int, silent_s: float) -> bool:
        pid, host = _holder(os.pread(fd, 300, 0))
        if pid <= 0 or pid == os.getpid():
            return False
        if host is not None and host != _HOST:  # a pid of another machine (or PID namespace) is not ours to end
            log.warning("job %r: the runner lock is held by pid %d on %s, silent for %.0f s; it is left alone",
                        self.job, pid, host, silent_s)
            return False
        from jupyter_hpo.backends._proctree import end_process_tree

        end_process_tree(pid)  # the runner, its workers (each leads a group of its own) and their trials' processes
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
