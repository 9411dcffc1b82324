"""A job's runner as its clients (a kernel, the CLI, the server) see it.

The runner is a detached process that a client starts and never waits for. Everything a client does
to that process goes through :class:`RunnerHandle`: starting it, finding it (only on this host, and
only if its pid still belongs to this job's runner), signalling it, ending it when it hangs, and
freeing what a dead one left behind. ``Job.stop`` and ``Job.resume`` decide *when*; this decides *how*.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import HpoError
from jupyter_hpo.records import NOTES, RUNNER, SPAWNED

if TYPE_CHECKING:
    import psutil

    from jupyter_hpo.store import Store

__all__ = ["RunnerHandle"]

log = logging.getLogger("jupyter_hpo.runner")


class RunnerHandle:
    """The runner of job ``name`` in ``store``."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name

    def start(self, cwd: str | None = None) -> int:
        """Start the job's runner detached from this process; return its pid."""
        from jupyter_hpo.exceptions import StoreError
        from jupyter_hpo.runner import spawn_runner

        pid = spawn_runner(self.name, self.store.url, self.store.home, cwd=cwd, store=self.store)
        try:  # until the runner says who it is: one that dies first (killed, out of memory) shows stale at once
            self.store.set_job_attrs(self.name, **{SPAWNED: {"pid": pid, "host": socket.gethostname(),
                                                             "time": time.time()}})
        except StoreError as e:  # a courtesy: the job's status then waits for its heartbeat's age, as before
            log.warning("job %s: its runner's pid could not be recorded: %s", self.name, e)
        return pid

    def info(self) -> dict[str, Any]:
        """What the runner wrote of itself (``pid``, ``host``, ``started``); empty before it has run."""
        return dict(self.store.job_attrs(self.name).get(RUNNER) or {})

    def process(self, runner: dict[str, Any] | None = None) -> psutil.Process | None:
        """The runner's process when it lives on this host, else None: gone, on another host, or its
        pid reused by another process, which must be left alone."""
        import psutil

        runner = self.info() if runner is None else runner
        pid = runner.get("pid")
        if not pid or runner.get("host") != socket.gethostname():
            return None
        try:
            proc = psutil.Process(int(pid))
            cmdline = proc.cmdline()
        except (psutil.Error, ValueError):
            return None
        if "jupyter_hpo.runner" not in cmdline:
            return None
        if self.name in cmdline:
            return proc
        try:  # a kept runner hosts jobs not on its command line: it is the process created when it said it was
            same = runner.get("created") is not None and abs(proc.create_time() - float(runner["created"])) < 0.01
        except (psutil.Error, TypeError, ValueError):
            return None
        return proc if same else None

    def signal(self, runner: dict[str, Any] | None = None) -> bool:
        """Send SIGTERM to the runner when it lives on this host; True if it was sent."""
        import psutil

        proc = self.process(runner)
        if proc is None:
            return False
        try:
            proc.terminate()
        except psutil.Error:  # it ended meanwhile
            return False
        return True

    def end_hung(self, timeout: float = 10.0) -> None:
        """End the runner, with its workers, if it still lives on this host while shown stale (hung, or
        frozen inside a store write, which would block every other writer)."""
        import psutil

        from jupyter_hpo.backends._proctree import end_process_tree

        proc = self.process()
        if proc is None:
            return
        try:
            end_process_tree(proc.pid)  # its workers lead groups of their own: each goes, with its trials' processes
            proc.wait(timeout)
        except (OSError, psutil.Error):
            pass

    def release_orphans(self) -> list[dict[str, Any]]:
        """Let the backend free what a dead runner left (SageMaker: running jobs, warm pools); return the
        job's notes with what was done appended."""
        from jupyter_hpo.backends import backend_class
        from jupyter_hpo.spec import TuningSpec

        attrs = self.store.job_attrs(self.name)
        try:
            spec = TuningSpec.from_stored(self.store.spec_here(self.name, attrs), self.store.job_dir(self.name))
            texts = backend_class(spec.backend).release_orphans(spec, self.store.trials(self.name))
        except HpoError as e:
            texts = [f"could not free what the dead runner left behind: {e}"]
        return list(attrs.get(NOTES) or []) + [{"time": time.time(), "text": t} for t in texts]
