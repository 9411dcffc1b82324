"""The campaign runner: one process that runs a campaign's jobs, ``parallel_jobs`` at a time, each with
:class:`~jupyter_hpo.runner._runner.Runner` in a thread of its own, and keeps their local workers between
jobs on a :class:`~jupyter_hpo.backends._local.PoolShelf` (``python -m jupyter_hpo.runner --campaign NAME JOB...``).

The jobs still waiting get this process as their runner and a heartbeat, so they show as pending while it
lives (stale if it dies: resuming the campaign runs them). A stop of one job (``Job.stop``) never signals this
process, which other jobs share: the job's runner reads the request, or this process for a job still waiting.
SIGTERM or SIGINT (a plain ``kill``, Ctrl-C) stops every running job and marks the jobs still waiting stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import Any

from jupyter_hpo.records import CAMPAIGN
from jupyter_hpo.store import HEARTBEAT_S, Store

__all__ = ["run_campaign"]

log = logging.getLogger("jupyter_hpo.campaign")


class _CampaignRunner:
    def __init__(self, store: Store, name: str, jobs: list[str]) -> None:
        from jupyter_hpo.backends._local import PoolShelf

        self.store, self.name = store, name
        info = store.job_attrs(jobs[0]).get(CAMPAIGN) or {}
        self.parallel = max(1, int(info.get("parallel_jobs", 1)))
        self.shelf = PoolShelf(float(info.get("keep_alive_s", 0.0)))
        self.queue = list(jobs)
        self.running: dict[str, tuple[threading.Thread, Any]] = {}
        self.lock = threading.RLock()  # the signal handler takes it, in the main thread, which may hold it
        self.stopping = False
        self.unqueue: set[str] = set()  # waiting jobs asked to stop (Job.stop): stopped before they start
        # the runner of the jobs still waiting: shared, so that a stop of one of them never signals it (see
        # _beat_waiting); a signal stops the whole campaign
        self.me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "shared": "campaign"}

    def _on_signal(self, signum: int, _frame: Any) -> None:
        """A signal (a plain kill, Ctrl-C) stops the whole campaign: its running jobs stop, and the jobs still
        waiting are marked stopped by the main loop. ``Job.stop`` of one job never signals this process: it writes
        a request that the job's runner reads, or this process for a job still waiting (:meth:`_beat_waiting`). (A
        signal was taken for that request when one was pending, so a kill just after a job's stop did nothing.)
        A job whose runner is still being made counts as running: its runner sees ``stopping`` when it runs (see
        :meth:`_start`)."""
        with self.lock:  # with the runners: one made from now on sees ``stopping``
            self.stopping = True
            runners = [r for _, r in self.running.values() if r is not None]
        for runner in runners:
            runner._on_signal(signum, None)

    def run(self) -> int:
        from jupyter_hpo.backends import _local

        from jupyter_hpo.sagemaker import handover as _handover

        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        _local.set_shelf(self.shelf)
        pools = _handover.Handover()  # sagemaker jobs' warm pools, from one job to the next
        # keep-alive 0 "every job starts its own pool": a sagemaker job releases its pools at its end too (they
        # were handed on whatever it said)
        _handover.set_handover(pools if self.shelf.keep_alive_s > 0 else None)
        next_beat = 0.0
        try:
            while self.queue or self.running:
                now = time.time()
                if now >= next_beat:
                    next_beat = now + HEARTBEAT_S
                    self._beat_waiting(now)
                for n in [n for n in self.queue if n in self.unqueue]:
                    self.queue.remove(n)
                    if self.store.job_attrs(n).get("status") in ("pending", None):  # else the campaign's stop did
                        self._stopped_before_start(n, "stopped before it started (its campaign goes on)")
                self.unqueue.clear()
                while self.queue and len(self.running) < self.parallel and not self.stopping:
                    self._start(self.queue.pop(0))
                if self.stopping:
                    self._stop_waiting()
                for n, (thread, _) in list(self.running.items()):
                    if not thread.is_alive():
                        del self.running[n]
                self.shelf.expire()
                time.sleep(0.05)
        finally:
            self.shelf.release_all()
            _local.set_shelf(None)
            released = pools.release_all()
            _handover.set_handover(None)
            if released:
                log.info("campaign %s: released the warm pools of %s", self.name, ", ".join(released))
            for job, idle_s in pools.idle_s.items():  # what SageMaker billed for them, in the cost of the job
                try:                                   # that left them
                    _handover.charge_idle(self.store, job, idle_s)
                except Exception:  # noqa: BLE001 - a figure left out; the campaign's end is recorded anyway
                    log.exception("campaign %s: the idle time of job %s's released pools was not recorded",
                                  self.name, job)
        log.info("campaign %s: done", self.name)
        return 0

    def _beat_waiting(self, now: float) -> None:
        """The waiting jobs' heartbeat; one asked to stop (``Job.stop``, which does not signal a shared runner) is
        taken out of the queue. A running job's own runner reads its request."""
        for n in list(self.queue):
            if self.store.job_attrs(n).get("stop_requested"):
                self.unqueue.add(n)
            else:
                self.store.set_job_attrs(n, runner=self.me, heartbeat=now, spawned={})

    def _stop_waiting(self) -> None:
        for n in self.queue:
            self._stopped_before_start(n, "stopped with its campaign before it started")
        self.queue.clear()

    def _stopped_before_start(self, name: str, reason: str) -> None:
        self.store.set_job_attrs(name, status="stopped", reason=reason, stop_requested=True, ended=time.time())

    def _start(self, name: str) -> None:
        from jupyter_hpo.runner._runner import Runner, not_started

        attrs = self.store.job_attrs(name)
        if attrs.get("stop_requested") and attrs.get("status") in ("pending", None):  # asked to stop just now
            self._stopped_before_start(name, "stopped before it started (its campaign goes on)")
            return
        if attrs.get("stop_requested") or attrs.get("status") not in ("pending", None):
            log.info("campaign %s: job %s is %s; skipped", self.name, name, attrs.get("status"))
            return

        def body() -> None:
            try:
                runner = Runner(self.store, name)
            except Exception as e:  # noqa: BLE001 - one job's failure must not end the campaign
                not_started(self.store, name, e)
                return
            try:
                with self.lock:
                    self.running[name] = (thread, runner)
                    stop = self.stopping
                if stop:  # the campaign was stopped while this runner was being made
                    runner._on_signal(signal.SIGTERM, None)
                runner.run()
            except Exception:  # noqa: BLE001 - one job's failure must not end the campaign
                log.exception("campaign %s: job %s could not run", self.name, name)
                self.store.set_job_attrs(name, status="failed", reason="its campaign runner could not run it",
                                         ended=time.time())

        thread = threading.Thread(target=body, name=f"jupyter-hpo-job-{name}", daemon=True)
        with self.lock:
            self.running[name] = (thread, None)
        thread.start()


def run_campaign(store: Store, name: str, jobs: list[str]) -> int:
    """Run ``jobs`` of campaign ``name`` to their end (see the module docstring); returns the exit code."""
    return _CampaignRunner(store, name, jobs).run()
