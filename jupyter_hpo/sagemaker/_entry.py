"""jupyter-hpo's entry wrapper in a SageMaker training container: the source folder's ``requirements.txt``
is installed once per warm pool, then the user's script runs as the SageMaker training toolkit runs it.

When the source folder holds a ``requirements.txt``, ``sourcedir.tar.gz`` carries it as
:data:`REQUIREMENTS` (so the toolkit does not install it at every job start), this module as
``jupyter_hpo/_entry.py`` and a two-line :data:`PROGRAM` (the request's ``sagemaker_program``) that calls
:func:`main` with the user's script. Standard library only: it runs before the requirements are there.

Each training job starts a new container from the image, even on a warm pool; only the pool's persistent
cache directory (``$SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY``, set for a job with keep-alive) outlives
the job. So on a pool the packages go into a folder of that cache named by a hash of the requirements,
the interpreter and its installed distributions (``pip install --prefix``, pip's cache beside it), and a
marker is written there once pip succeeded; a later job on the pool finds the marker and puts that
folder on ``PYTHONPATH`` instead of installing. Without a pool pip installs into the environment, as the
toolkit does. One line says which happened (:data:`LINE`); a failing pip ends the job with pip's exit
code, its error lines in the log, and the script does not run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

__all__ = ["CACHE_ENV", "LINE", "PROGRAM", "REQUIREMENTS", "launcher", "main", "requirements_hash",
           "toolkit_command"]

#: The program the request names (``sagemaker_program``) and the requirements' name in the archive.
PROGRAM = "jupyter_hpo_entry.py"
REQUIREMENTS = "jupyter_hpo_requirements.txt"
CACHE_ENV = "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"
#: The one line the wrapper prints about the requirements (read by the ``sagemaker`` scheduler).
LINE = re.compile(r"jupyter-hpo: requirements (installed|already installed on this warm pool|failed) "
                  r"\((?:pip exit (-?\d+), )?([0-9.]+) s\)(?:: (.*))?")
_MARKER = "installed.json"
_TAIL = 20


def launcher(script: str) -> str:
    """The text of :data:`PROGRAM`, which runs ``script`` (its path in the archive) through :func:`main`."""
    return (f'"""Packaged by jupyter-hpo: installs {REQUIREMENTS} once per warm pool, then runs {script}."""\n'
            f"from jupyter_hpo._entry import main\n\nmain({script!r})\n")


def requirements_hash(path: Path) -> str:
    """What the installed packages depend on: the requirements file, the interpreter and its distributions
    (a pool can pass to a job of another image)."""
    from importlib import metadata

    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"\0{sys.executable}\0{sys.version}\0".encode())
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    digest.update("\n".join(dists).encode())
    return digest.hexdigest()[:16]


def toolkit_command(root: Path, script: str, args: list[str]) -> list[str]:
    """The command the SageMaker training toolkit runs for ``script`` with ``args`` (its entry-point types:
    a Python package when the code has ``setup.py``, a Python program, or a command)."""
    if (root / "setup.py").exists():
        return [sys.executable, "-m", script.replace(".py", ""), *args]
    if script.endswith(".py"):
        return [sys.executable, script, *args]
    return ["/bin/sh", "-c", f"./{script} {' '.join(shlex.quote(a) for a in args)}"]


def _say(text: str, stream: TextIO | None = None) -> None:
    print(f"jupyter-hpo: {text}", file=stream or sys.stdout, flush=True)


def _pip(requirements: Path, prefix: Path | None, cache: Path | None) -> tuple[int, list[str]]:
    """Run pip on ``requirements`` (its output goes to the log); its exit code and last stderr lines."""
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements.name]
    if cache is not None and prefix is not None:
        command += ["--cache-dir", str(cache / "pip"), "--prefix", str(prefix)]
    sys.stdout.flush()
    proc = subprocess.Popen(command, cwd=requirements.parent, stderr=subprocess.PIPE, text=True, errors="replace")
    tail: deque[str] = deque(maxlen=_TAIL)
    assert proc.stderr is not None
    for line in proc.stderr:
        sys.stderr.write(line)
        tail.append(line.rstrip("\n"))
    sys.stderr.flush()
    return proc.wait(), list(tail)


def _fail(code: int, tail: list[str], start: float) -> None:
    reason = next((line for line in reversed(tail) if line.startswith("ERROR:")),
                  next((line for line in reversed(tail) if line.strip()), "pip printed nothing"))
    _say(f"requirements failed (pip exit {code}, {time.monotonic() - start:.1f} s): {reason.strip()}", sys.stderr)
    raise SystemExit(code or 1)


def _site_dirs(prefix: Path) -> list[str]:
    found = [p for pattern in ("lib*/python*/*-packages", "local/lib*/python*/*-packages") for p in prefix.glob(pattern)]
    return sorted(str(p) for p in found if p.is_dir() and p.name in ("site-packages", "dist-packages"))


def _use(env: dict[str, str], prefix: Path, site_dirs: list[str]) -> None:
    """Put an installed prefix on the script's ``PYTHONPATH`` (and its ``bin`` on ``PATH``)."""
    if site_dirs:
        env["PYTHONPATH"] = os.pathsep.join([*site_dirs, *filter(None, [env.get("PYTHONPATH")])])
    if (prefix / "bin").is_dir():
        env["PATH"] = os.pathsep.join([str(prefix / "bin"), *filter(None, [env.get("PATH")])])


def install(requirements: Path, env: dict[str, str]) -> None:
    """Install ``requirements`` (see the module docstring); ``env`` is the script's environment."""
    start = time.monotonic()
    cache = Path(os.environ[CACHE_ENV]) if os.environ.get(CACHE_ENV) else None
    if cache is None or not cache.is_dir():
        code, tail = _pip(requirements, None, None)
        if code:
            _fail(code, tail, start)
        _say(f"requirements installed ({time.monotonic() - start:.1f} s)")
        return
    folder = cache / "jupyter_hpo" / f"requirements-{requirements_hash(requirements)}"
    prefix, marker = folder / "env", folder / _MARKER
    try:
        site_dirs = json.loads(marker.read_text())["site_dirs"]
    except (OSError, ValueError, KeyError, TypeError):
        site_dirs = None
    if isinstance(site_dirs, list):
        _use(env, prefix, site_dirs)
        _say(f"requirements already installed on this warm pool ({time.monotonic() - start:.1f} s)")
        return
    shutil.rmtree(folder, ignore_errors=True)  # an install that failed or was cut short
    folder.mkdir(parents=True)
    code, tail = _pip(requirements, prefix, cache)
    if code:
        shutil.rmtree(folder, ignore_errors=True)
        _fail(code, tail, start)
    site_dirs = _site_dirs(prefix)
    _use(env, prefix, site_dirs)
    partial = folder / f"{_MARKER}.partial"
    partial.write_text(json.dumps({"site_dirs": site_dirs, "seconds": round(time.monotonic() - start, 3)}))
    os.replace(partial, marker)
    _say(f"requirements installed ({time.monotonic() - start:.1f} s)")


def main(script: str) -> None:
    """Install the archive's requirements, then replace this process with the toolkit's command for
    ``script`` (same argv, cwd, ``__main__`` and exit code as without the wrapper)."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    requirements = root / REQUIREMENTS
    if requirements.is_file():
        install(requirements, env)
    command = toolkit_command(root, script, sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)
