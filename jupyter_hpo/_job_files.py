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

__all__ = ["SKIPPED", "check_not_home", "listed_files", "pack_folder", "unpack_folder"]

#: folder names never packed (version control, environments, caches), for the store and for SageMaker alike
SKIPPED = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".ipynb_checkpoints",
                     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"})


def check_not_home(folder: Path, what: str, where: str, instead: str) -> None:
    """Refuse to pack ``folder`` when it is the user's home folder or holds it: with ``~/train.py`` the whole home
    was packed, SSH keys, cloud credentials and the Jupyter server's token among it, into the store (which a team
    reads) or the upload to S3. ``what`` names the folder's role, ``where`` where it would go."""
    try:
        home, here = Path.home().resolve(), folder.resolve()
    except (OSError, RuntimeError):  # no home to compare with
        return
    if here == home or here in home.parents:
        which = "your home folder" if here == home else "above your home folder"
        raise SpecError(f"{what} ({str(folder)!r}) is {which}, and it would be packed whole into {where}, with your "
                        f"SSH keys, cloud credentials and Jupyter's tokens; {instead}. Nothing was made.")


#: a linked file up to this size is packed as its content (code); a larger one is data, read by its path
LINKED_FILE_MAX = 2**20


def _packed(path: Path) -> bool:
    if not path.is_file():
        return False
    if not path.is_symlink():
        return True
    try:
        return path.stat().st_size <= LINKED_FILE_MAX
    except OSError:
        return False


def listed_files(folder: Path, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """The files under ``folder`` that are packed, sorted: not in :data:`SKIPPED` folders nor under ``exclude``
    (resolved paths). A linked file of code size is packed as its content (``helper.py -> ../shared/helper.py``
    was left out, and a resume elsewhere failed to import it); a larger linked file and a linked folder are not
    (data, read by its path: linking a data set into the project folder must not make it too large to keep)."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and (here / d).resolve() not in exclude
                         and not (here / d).is_symlink())
        found.extend(here / f for f in sorted(files) if _packed(here / f))
    return found


def _unreadable(path: Path, folder: Path, e: OSError) -> SpecError:
    return SpecError(f"cannot read {str(path)!r} in the script's folder {str(folder)!r} ({e.strerror or e}): "
                     "every file in it is packed with the script; make it readable, or move it out of the folder.")


def pack_folder(folder: Path, limit: int, exclude: tuple[Path, ...] = ()) -> bytes:
    """The files under ``folder`` as a reproducible ``.tar.gz``; SpecError when it would exceed ``limit`` bytes
    (naming the largest files) or a file cannot be read. A file only its owner may read stays so when unpacked."""
    check_not_home(folder, "the script's folder", "the store (which everyone using it can read)",
                   "move the script and the files it reads into a folder of their own")
    buffer = io.BytesIO()
    raw, sizes = 0, []
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in listed_files(folder, tuple(p.resolve() for p in exclude)):
            try:
                st = path.stat()
                raw += st.st_size
                sizes.append((st.st_size, path))
                if raw > 4 * limit or buffer.tell() > limit:
                    break
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                # 0o644/0o755 whatever the umask (the same folder packs to the same bytes), but no wider than it is
                info.size, info.mode = st.st_size, (0o755 if os.access(path, os.X_OK) else 0o644) & (st.st_mode | 0o700)
                with path.open("rb") as f:
                    tar.addfile(info, f)
            except OSError as e:
                raise _unreadable(path, folder, e) from None
    data = buffer.getvalue()
    if raw > 4 * limit or len(data) > limit:
        largest = ", ".join(f"{p.relative_to(folder).as_posix()} ({n:,} bytes)"
                            for n, p in sorted(sizes, key=lambda x: -x[0])[:3])
        raise SpecError(f"a script's folder must pack to at most {limit:,} bytes to be kept in the store, but "
                        f"{str(folder)!r} holds more ({raw:,} bytes read so far; the largest: {largest}): move data "
                        "files out of it and read them by path.")
    return data


def unpack_folder(data: bytes, dest: Path) -> None:
    """Unpack a :func:`pack_folder` pack into ``dest`` (created); members may not leave ``dest``."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    partial.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(partial, filter="data")
    except BaseException:  # nothing half-unpacked is left beside the job's files
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        partial.rename(dest)
    except OSError:  # another runner unpacked the same pack meanwhile: theirs is as good
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
