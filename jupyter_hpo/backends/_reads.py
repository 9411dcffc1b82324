"""The files a warm worker has read, so that it is not handed to another job once they have changed.

A worker handed to the next job (a campaign's, or a kept runner's: :mod:`jupyter_hpo.runner._linger`) keeps what it
imported and its ``trial.cached`` values. Those are right for the next job only while the files they came from are
as they were. An audit hook (:func:`sys.addaudithook`, installed first thing in the worker) notes each regular file
the worker opens for reading through Python -- modules, data read with ``open``, pandas' CSV reader, NumPy's
``load`` -- with its size and modification time; :func:`changed` lists those that differ now, and the worker then
refuses the hand-over (the job starts a fresh worker).

Not watched: files inside the Python installation and the jupyter-hpo home (the job folders), system files
(``/proc``, ``/sys``, ``/dev``), files opened for writing, files removed since, and what native code opens by
itself (a C++ Parquet reader, XGBoost loading a file): a worker that read more than :data:`MAX_FILES` files is never
handed over.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from typing import Any

__all__ = ["MAX_FILES", "changed", "watch"]

MAX_FILES = 20_000
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SYSTEM = ("/proc/", "/sys/", "/dev/")

_read: dict[str, tuple[int, int]] = {}  # path -> (size, mtime in ns) when first read
_overflow = False
_skip: tuple[str, ...] = ()
_busy = threading.local()
_watching = False


def watch() -> None:
    """Start noting the files this process reads (once per process)."""
    global _watching, _skip
    if _watching:
        return
    home = os.environ.get("JUPYTER_HPO_HOME") or os.path.expanduser("~/.jupyter_hpo")
    roots = (sys.prefix, sys.base_prefix, sys.exec_prefix, home)
    _skip = tuple({os.path.join(f(p), "") for p in roots for f in (os.path.abspath, os.path.realpath)}) + _SYSTEM
    _watching = True
    sys.addaudithook(_hook)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        _note(*args[:3])
    except Exception:  # noqa: BLE001,S110 - an audit hook must never disturb the open it watches
        pass
    finally:
        _busy.on = False


def _note(path: Any, mode: Any, flags: Any = 0) -> None:
    global _overflow
    if not isinstance(path, str) or _overflow:
        return
    if isinstance(mode, str):
        if any(c in mode for c in "wax+"):
            return
    elif isinstance(flags, int) and flags & _WRITE_FLAGS:
        return
    full = os.path.abspath(path)
    if full in _read or full.startswith(_skip):
        return
    st = os.stat(full)
    if not stat.S_ISREG(st.st_mode):
        return
    if len(_read) >= MAX_FILES:
        _overflow = True
        return
    _read[full] = (st.st_size, st.st_mtime_ns)


def changed() -> list[str]:
    """The files read so far that have changed since (size or modification time), sorted; ``["more than N files
    read"]`` when too many were read to tell."""
    if _overflow:
        return [f"more than {MAX_FILES} files read"]
    out = []
    for path, (size, mtime) in list(_read.items()):
        try:
            st = os.stat(path)
        except OSError:  # removed since: nothing can read it again
            continue
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            out.append(path)
    return sorted(out)
