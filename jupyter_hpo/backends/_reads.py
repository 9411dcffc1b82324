"""The files a warm worker has read, so that it is not handed to another job once they have changed.

A worker handed to the next job (a campaign's, or a kept runner's: :mod:`jupyter_hpo.runner._linger`) keeps what it
imported and its ``trial.cached`` values. Those are right for the next job only while the files they came from are
as they were. An audit hook (:func:`sys.addaudithook`, installed first thing in the worker) notes each regular file
the worker opens for reading through Python -- modules, data read with ``open``, pandas' CSV reader, NumPy's
``load`` -- with its size and modification time; :func:`changed` lists those that differ now, and the worker then
refuses the hand-over (the job starts a fresh worker).

Native code opens files without Python seeing it (pyarrow's Parquet reader, which ``pandas.read_parquet`` uses;
XGBoost loading a file). :func:`note_named` covers the usual way such a file reaches a trial: a hyperparameter (static
or tuned) whose value is the path of an existing file, or of a folder (a Parquet dataset: the columnar files under it,
:data:`DATASET_SUFFIXES`), is watched as if it had been read.

Not watched: files inside the Python installation and the jupyter-hpo home (the job folders), system files
(``/proc``, ``/sys``, ``/dev``), files opened for writing, files removed since, and what native code opens from a
path no hyperparameter names: a worker that read more than :data:`MAX_FILES` files is never handed over.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from typing import Any

__all__ = ["DATASET_SUFFIXES", "MAX_FILES", "changed", "note_named", "watch"]

MAX_FILES = 20_000
#: the files of a folder a hyperparameter names that are watched: columnar data that native readers open
DATASET_SUFFIXES = (".parquet", ".pq", ".arrow", ".feather", ".ipc", ".orc")
#: the most entries a folder a hyperparameter names is searched through for them
MAX_FOLDER_ENTRIES = 10_000
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SYSTEM = ("/proc/", "/sys/", "/dev/")

_read: dict[str, tuple[int, int]] = {}  # path -> (size, mtime in ns) when first read
_overflow: str | None = None  # why nothing read can be trusted, once that is so
_skip: tuple[str, ...] = ()
_busy = threading.local()
_watching = False
_named: set[str] = set()  # hyperparameter values already looked at


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
        _overflow = f"more than {MAX_FILES} files read"
        return
    _read[full] = (st.st_size, st.st_mtime_ns)


def note_named(values: Any) -> None:
    """Watch the files that these hyperparameter values name (see the module docstring): a value that is the path
    of an existing regular file (relative to the working directory), or of a folder: its files with a suffix of
    :data:`DATASET_SUFFIXES`, at any depth. Each value is looked at once per process."""
    if not _watching:
        return
    for value in values:
        if not isinstance(value, str) or value in _named or not value or len(value) > 4096 or "\0" in value:
            continue
        _named.add(value)
        try:
            if os.path.isdir(value):
                _note_folder(value)
            elif os.path.isfile(value):
                _note(value, "r")
        except OSError:  # a path that went away, or one that cannot be read: nothing to watch
            continue


def _note_folder(path: str) -> None:
    """Note the dataset files under ``path``; a folder of more than :data:`MAX_FOLDER_ENTRIES` entries (``/`` given
    as a separator, say) cannot be watched, and then nothing read is trusted (as past :data:`MAX_FILES`)."""
    global _overflow
    if os.path.join(os.path.abspath(path), "").startswith(_skip):
        return
    seen = 0
    for folder, dirs, files in os.walk(path):
        seen += len(dirs) + len(files)
        if seen > MAX_FOLDER_ENTRIES:
            _overflow = f"a hyperparameter names a folder of more than {MAX_FOLDER_ENTRIES} entries ({path})"
            return
        for name in files:
            if name.endswith(DATASET_SUFFIXES):
                _note(os.path.join(folder, name), "r")


def changed() -> list[str]:
    """The files read so far that have changed since (size or modification time), sorted; one line saying why
    when they cannot be told (too many files read, a folder too large to search)."""
    if _overflow:
        return [_overflow]
    out = []
    for path, (size, mtime) in list(_read.items()):
        try:
            st = os.stat(path)
        except OSError:  # removed since: nothing can read it again
            continue
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            out.append(path)
    return sorted(out)
