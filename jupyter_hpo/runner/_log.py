"""The runner's disk use in the job's folder: ``runner.log`` kept bounded, and a reserve for the job's end.

``runner.log`` receives the runner's own log and everything its workers print (a trial's output too). The
runner keeps it under ``JUPYTER_HPO_LOG_MAX_BYTES`` (default 10 MB): past that, its newest half moves to
``runner.log.1`` (replacing the older one) and ``runner.log`` starts again, so the two stay under 1.5 times the
limit. Writers keep writing: the file is opened for appending, so truncating it is safe.

The reserve is a small file (``.reserve``, 2 MB) written when the runner starts. If the disk fills anyway
(something else filled it), the runner deletes it to make room for the job's final status and reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

__all__ = ["DEFAULT_LOG_MAX_BYTES", "log_max_bytes", "one_line_pool_errors", "rotate_if_large", "Reserve",
           "send_output_to", "utf8_output"]

log = logging.getLogger("jupyter_hpo.runner")

DEFAULT_LOG_MAX_BYTES = 10 * 2**20
_RESERVE_BYTES = 2 * 2**20


def one_line_pool_errors(record: logging.LogRecord) -> bool:
    """A handler's filter: SQLAlchemy's connection pool logs a connection it could not reset (the database
    restarted under it: "Exception during reset or similar") with two chained tracebacks, while the store says in
    one line that it retries; the pool's record keeps its words and the error's last line, without the traceback."""
    if record.name.startswith("sqlalchemy.pool") and record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text = (str(error).strip().splitlines() or [type(error).__name__])[0]
        record.msg, record.args = f"{record.getMessage()} ({type(error).__name__}: {text})", None
        record.exc_info, record.exc_text = None, None
    return True


def utf8_output() -> None:
    """This process's output (``runner.log``) in UTF-8, whatever the locale, and what cannot be written escaped: in
    an ASCII or Latin-1 locale a trial that printed ``é`` or ``中文`` failed with UnicodeEncodeError (it printed
    them standalone). The runner and each worker call it first thing."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not a text file's stream: left as it is
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")


def send_output_to(path: Path | str) -> None:
    """Send this process's output (file descriptors 1 and 2, so what it starts too) to ``path``, appended: a kept
    runner and its workers, when they take the next job, write to that job's ``runner.log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)


def log_max_bytes() -> int:
    """The size limit of ``runner.log`` (``$JUPYTER_HPO_LOG_MAX_BYTES``, at least 64 KiB)."""
    raw = os.environ.get("JUPYTER_HPO_LOG_MAX_BYTES")
    try:
        return max(64 * 2**10, int(raw)) if raw else DEFAULT_LOG_MAX_BYTES
    except ValueError:
        return DEFAULT_LOG_MAX_BYTES


def rotate_if_large(path: Path, max_bytes: int) -> bool:
    """If ``path`` is over ``max_bytes``, keep its newest ``max_bytes // 2`` bytes in ``path.1`` and empty it.

    Returns whether it rotated. On a full disk the copy may fail; the log is emptied all the same, since
    freeing the disk matters more than the old output.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if size <= max_bytes:
        return False
    keep = max_bytes // 2
    older = path.with_name(path.name + ".1")
    try:
        with open(path, "rb") as src:
            src.seek(max(0, size - keep))
            tail = src.read(keep)
        with contextlib.suppress(OSError):
            older.unlink()
        with open(older, "wb") as dst:
            dst.write(tail)
    except OSError as e:
        with contextlib.suppress(OSError):
            older.unlink()
        log.warning("could not keep the end of %s in %s (%s); it starts again empty", path, older, e)
    with contextlib.suppress(OSError):
        os.truncate(path, 0)
    return True


class Reserve:
    """A few MB written when the runner starts and released when the disk is full (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / ".reserve"

    def take(self) -> bool:
        try:
            with open(self.path, "wb") as f:
                f.write(b"\0" * _RESERVE_BYTES)
                f.flush()
                os.fsync(f.fileno())
            return True
        except OSError:
            with contextlib.suppress(OSError):
                self.path.unlink()
            return False

    def release(self) -> bool:
        """Delete the reserve; returns whether there was one."""
        try:
            self.path.unlink()
            return True
        except OSError:
            return False
