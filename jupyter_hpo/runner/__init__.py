"""The job runner: a detached process per job (``python -m jupyter_hpo.runner JOB``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["spawn_runner"]


def spawn_runner(name: str, store_url: str, home: Path, cwd: str | None = None) -> int:
    """Start the runner of job ``name`` detached from this process; return its pid.

    The runner gets its own session, so closing a notebook, restarting its kernel or ending the
    CLI does not stop it. Its output goes to ``<home>/jobs/<name>/runner.log``.
    """
    from jupyter_hpo.spec import check_job_name

    job_dir = home / "jobs" / check_job_name(name)
    job_dir.mkdir(parents=True, exist_ok=True)
    run_dir = cwd or os.getcwd()
    moved = not os.path.isdir(run_dir)
    if moved:  # the folder the job was launched from is gone: scripts have absolute paths, so run from here
        run_dir = str(job_dir)
    env = dict(os.environ)
    # the caller's own import paths (its working directory, a notebook's folder), not the interpreter's
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    own = [p for p in sys.path if p and os.path.isdir(p) and not os.path.abspath(p).startswith(prefixes)]
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([run_dir, *own, *inherited]))
    env["JUPYTER_HPO_HOME"] = str(home)
    env["JUPYTER_HPO_STORE_URL"] = store_url  # not on the command line, which every user may read
    with open(job_dir / "runner.log", "ab") as log:
        if moved:
            log.write(f"the launch folder {cwd} no longer exists; the runner starts in {run_dir}\n".encode())
            log.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hpo.runner", name],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir,
            env=env, start_new_session=True, close_fds=True,
        )
    # reap it when it ends, so a long-lived caller (a kernel) never keeps a zombie around
    threading.Thread(target=proc.wait, name=f"jupyter-hpo-reap-{name}", daemon=True).start()
    return proc.pid
