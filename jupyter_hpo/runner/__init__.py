"""The job runner: a detached process per job (``python -m jupyter_hpo.runner JOB``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_hpo.store import Store

__all__ = ["runner_environment", "spawn_runner", "start_detached"]


def spawn_runner(name: str, store_url: str, home: Path, cwd: str | None = None, store: Store | None = None) -> int:
    """Start the runner of job ``name`` detached from this process; return its pid.

    The runner gets its own session, so closing a notebook, restarting its kernel or ending the
    CLI does not stop it. Its output goes to ``<home>/jobs/<name>/runner.log``. With ``store`` (the job's),
    a runner an earlier job kept for the next launch from the same place takes the job instead
    (:mod:`jupyter_hpo.runner._linger`): its pid is returned.
    """
    from jupyter_hpo.spec import check_job_name

    job_dir = home / "jobs" / check_job_name(name)
    job_dir.mkdir(parents=True, exist_ok=True)
    run_dir = cwd or os.getcwd()
    moved = not os.path.isdir(run_dir)
    if moved:  # the folder the job was launched from is gone: scripts have absolute paths, so run from here
        run_dir = str(job_dir)
    note = f"the launch folder {cwd} no longer exists; the runner starts in {run_dir}\n" if moved else ""
    from jupyter_hpo.backends._prestart import ENV, PRESTART_FILE

    prestart = job_dir / PRESTART_FILE  # a new local job: its workers boot while the runner starts
    if store is not None and not moved:
        from jupyter_hpo.runner import _linger

        key = _linger.environment_key(runner_environment(run_dir, home, store_url), run_dir)
        pid = _linger.claim(home, name, key, store)
        if pid is not None:
            prestart.unlink(missing_ok=True)  # the kept runner has its workers (it may have taken the file already)
            return pid
    return start_detached([name], run_dir=run_dir, home=home, store_url=store_url,
                          log_path=job_dir / "runner.log", note=note, label=name,
                          env={ENV: str(prestart.resolve())} if prestart.is_file() else None)


def runner_environment(run_dir: str, home: Path, store_url: str) -> dict[str, str]:
    """The environment a detached runner starts with: this process's, plus the caller's own import paths
    (its working directory, a notebook's folder; not the interpreter's) on ``PYTHONPATH`` after ``run_dir``,
    the home, and the store URL (passed here, not on the command line, which every user may read)."""
    env = dict(os.environ)
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    own = [p for p in sys.path if p and os.path.isdir(p) and not os.path.abspath(p).startswith(prefixes)]
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([run_dir, *own, *inherited]))
    env["JUPYTER_HPO_HOME"] = str(home)
    env["JUPYTER_HPO_STORE_URL"] = store_url
    return env


def start_detached(args: list[str], *, run_dir: str, home: Path, store_url: str, log_path: Path, note: str = "",
                   label: str, env: dict[str, str] | None = None) -> int:
    """Run ``python -m jupyter_hpo.runner ARGS`` in a session of its own, in ``run_dir``, its output appended to
    ``log_path`` (after ``note``, if any), with ``env`` added to its environment; return its pid. A thread reaps
    it when it ends, so a long-lived caller (a kernel) never keeps a zombie around."""
    with open(log_path, "ab") as log:
        if note:
            log.write(note.encode())
            log.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hpo.runner", *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir,
            env={**runner_environment(run_dir, home, store_url), **(env or {})}, start_new_session=True,
            close_fds=True,
        )
    threading.Thread(target=proc.wait, name=f"jupyter-hpo-reap-{label}", daemon=True).start()
    return proc.pid
