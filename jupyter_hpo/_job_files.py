"""A script job's source folder, packed to be kept in the store and unpacked on another machine.

The pack is a gzipped tar with sorted members, no owners and no times, so the same folder packs to the
same bytes (and so to the same content address) wherever it is packed. What a script job cannot need is
left out: version-control folders, virtual environments, caches and notebooks' checkpoints.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from jupyter_hpo.exceptions import SpecError

__all__ = ["pack_folder", "unpack_folder"]

#: folder names never packed (version control, environments, caches)
SKIPPED = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".ipynb_checkpoints",
                     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"})


def _files(folder: Path, exclude: tuple[Path, ...]) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and (here / d).resolve() not in exclude
                         and not (here / d).is_symlink())
        found.extend(here / f for f in sorted(files) if (here / f).is_file() and not (here / f).is_symlink())
    return found


def pack_folder(folder: Path, limit: int, exclude: tuple[Path, ...] = ()) -> bytes:
    """The files under ``folder`` as a reproducible ``.tar.gz``; SpecError when it would exceed ``limit`` bytes."""
    buffer = io.BytesIO()
    raw = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _files(folder, tuple(p.resolve() for p in exclude)):
            raw += path.stat().st_size
            if raw > 4 * limit or buffer.tell() > limit:
                break
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            info.size, info.mode = path.stat().st_size, 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as f:
                tar.addfile(info, f)
    data = buffer.getvalue()
    if raw > 4 * limit or len(data) > limit:
        raise SpecError(f"a script's folder must pack to at most {limit:,} bytes to be kept in the store, but "
                        f"{str(folder)!r} holds more ({raw:,} bytes read so far): move data files out of it and "
                        "read them by path.")
    return data


def unpack_folder(data: bytes, dest: Path) -> None:
    """Unpack a :func:`pack_folder` pack into ``dest`` (created); members may not leave ``dest``."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    partial.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(partial, filter="data")
    try:
        partial.rename(dest)
    except OSError:  # another runner unpacked the same pack meanwhile: theirs is as good
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
