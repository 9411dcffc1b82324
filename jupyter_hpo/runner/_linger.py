"""A local job's runner that stays after its job for the next launch (``warm_pool.keep_alive_s``).

Every launch pays for a fresh runner (its imports, the store, the study: about a second) and for workers that
import the objective's libraries and read its data (another second or more, overlapped by the head start of
:mod:`jupyter_hpo.backends._prestart`). A notebook that launches job after job pays it each time. With
``warm_pool: {keep_alive_s: S}`` the runner does not exit when its job ends: it keeps its idle, healthy workers
(on a :class:`~jupyter_hpo.backends._local.PoolShelf`, as a campaign does between its jobs) and offers itself for
S seconds. The next launch from the same place takes the offer instead of starting a runner: that job runs in the
kept runner, on the kept workers where its objective environment is the same
(:func:`~jupyter_hpo.backends._local.fingerprint`; else on fresh ones).

"The same place" is exact: the same host, home and store, and the same environment the runner would get
(:func:`~jupyter_hpo.runner.runner_environment`: the Python, the working directory, every environment variable,
the caller's import paths). Anything else starts a runner of its own, as without a keep-alive.

The offer is a file, ``<home>/runners/<pid>.offer``, and the hand-over a rename, so exactly one party wins:
a launch renames it to ``<pid>.claimed`` and then writes the job's name to ``<pid>.job``; the runner, when the
keep-alive runs out, renames it to ``<pid>.closing`` and leaves. A launch whose job the runner has not taken
within :data:`PICKUP_S` (it died meanwhile) starts a runner of its own; the job's lock keeps two runners off
one job. While it hosts a job, the runner's output (and its workers') goes to that job's ``runner.log``.
SIGTERM or SIGINT while it waits ends it at once, with its workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo._liveness import pid_alive

if TYPE_CHECKING:
    from jupyter_hpo.runner._runner import Runner
    from jupyter_hpo.store import Store

__all__ = ["PICKUP_S", "claim", "environment_key", "serve"]

log = logging.getLogger("jupyter_hpo.runner")

FOLDER = "runners"
#: how long a launch waits for the kept runner to take its job before it starts a runner of its own
PICKUP_S = 5.0
_POLL_S = 0.02


def environment_key(env: dict[str, str], run_dir: str) -> str:
    """What a runner's start depends on: the Python, the working directory and every environment variable."""
    h = hashlib.sha256()
    for part in (sys.executable, sys.version, os.path.realpath(run_dir), socket.gethostname()):
        h.update(f"{part}\0".encode("utf-8", "surrogateescape"))
    for k, v in sorted(env.items()):  # a value or folder name in bytes that are not UTF-8 (Python keeps them as
        h.update(f"{k}={v}\0".encode("utf-8", "surrogateescape"))  # surrogates): every launch was a traceback
    return h.hexdigest()


def _folder(home: Path) -> Path:
    return Path(home) / FOLDER


# -- the launching side ----------------------------------------------------------------------------
def claim(home: Path, job: str, key: str, store: Store) -> int | None:
    """Hand ``job`` to a kept runner with environment ``key``; its pid once it has taken the job, else None
    (no offer fits, or the runner did not take the job within :data:`PICKUP_S`: start one)."""
    folder = _folder(home)
    try:
        offers = sorted(folder.glob("*.offer"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for offer in offers:
        try:
            data = json.loads(offer.read_text(encoding="utf-8"))
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if data.get("key") != key or float(data.get("until", 0)) < time.time() + 1.0:
            continue  # another environment, or about to leave
        if not pid_alive(pid):
            with contextlib.suppress(OSError):
                offer.unlink()  # a runner killed while it waited
            continue
        claimed = folder / f"{pid}.claimed"
        try:
            os.rename(offer, claimed)  # one winner: another launch, or the runner leaving
        except OSError:
            continue
        claimed_at = time.time()
        tmp = folder / f"{pid}.job.tmp"
        tmp.write_text(json.dumps({"job": job}), encoding="utf-8")
        os.replace(tmp, folder / f"{pid}.job")
        if _taken(store, job, pid, claimed_at):
            return pid
        log.warning("the kept runner %d did not take job %s within %.0f s; starting one", pid, job, PICKUP_S)
        for path in (claimed, folder / f"{pid}.job"):
            with contextlib.suppress(OSError):
                path.unlink()
        return None
    return None


def _taken(store: Store, job: str, pid: int, since: float) -> bool:
    """Whether the runner ``pid`` has taken ``job`` (written itself as its runner, after ``since``) within
    :data:`PICKUP_S`."""
    deadline = time.monotonic() + PICKUP_S
    while time.monotonic() < deadline:
        runner = store.job_attrs(job).get("runner") or {}
        if (runner.get("pid") == pid and runner.get("host") == socket.gethostname()
                and float(runner.get("started") or 0) >= since - 0.05):
            return True
        if not pid_alive(pid):
            return False
        time.sleep(_POLL_S)
    return False


# -- the runner's side ------------------------------------------------------------------------------
class _Offer:
    """This runner's offer in ``<home>/runners``, while it waits for a next job."""

    def __init__(self, home: Path, key: str) -> None:
        self.folder = _folder(home)
        self.pid = os.getpid()
        self.key = key
        self.path = self.folder / f"{self.pid}.offer"

    def _file(self, suffix: str) -> Path:
        return self.folder / f"{self.pid}.{suffix}"

    def wait(self, keep_alive_s: float, on_tick: Any) -> str | None:
        """Offer this runner for ``keep_alive_s`` seconds; the name of the job a launch handed over, or None."""
        self.folder.mkdir(parents=True, exist_ok=True)
        until = time.time() + keep_alive_s
        tmp = self._file("offer.tmp")
        tmp.write_text(json.dumps({"pid": self.pid, "key": self.key, "until": until}), encoding="utf-8")
        os.replace(tmp, self.path)
        while time.time() < until:
            if not self.path.exists():
                return self._handed_over()
            on_tick()
            time.sleep(_POLL_S)
        try:
            os.rename(self.path, self._file("closing"))  # leave, unless a launch has just taken the offer
        except FileNotFoundError:
            return self._handed_over()
        with contextlib.suppress(OSError):
            self._file("closing").unlink()
        return None

    def _handed_over(self) -> str | None:
        """The job a launch wrote after taking the offer (it may still be writing it)."""
        deadline = time.monotonic() + PICKUP_S
        job_file = self._file("job")
        while time.monotonic() < deadline:
            try:
                job = json.loads(job_file.read_text(encoding="utf-8"))["job"]
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(_POLL_S)
                continue
            self.withdraw()
            return job if isinstance(job, str) else None
        self.withdraw()
        return None

    def withdraw(self) -> None:
        for suffix in ("offer", "offer.tmp", "claimed", "job", "closing"):
            with contextlib.suppress(OSError):
                self._file(suffix).unlink()


def _pending(store: Store, name: str) -> bool:
    from jupyter_hpo.spec import check_job_name

    try:
        check_job_name(name)
        attrs = store.job_attrs(name)
    except Exception:  # noqa: BLE001 - a name that is not a job here is not run
        return False
    return attrs.get("status") in ("pending", None) and not attrs.get("stop_requested") and bool(attrs)


def serve(store: Store, first: Runner, key: str) -> int:
    """Run the job of ``first`` (a runner with a keep-alive), then stay for the next launches from the same place
    (see the module docstring) while their jobs ask for it; returns the last job's exit code."""
    from jupyter_hpo.backends import _local
    from jupyter_hpo.runner._log import send_output_to
    from jupyter_hpo.runner._runner import Runner, not_started

    shelf = _local.PoolShelf(first.keep_alive_s, latest_only=True)
    _local.set_shelf(shelf, job_logs=True)
    offer = _Offer(store.home, key)
    leaving: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        leaving.append(signum)

    runner: Runner | None = first
    name, keep_alive_s = first.name, first.keep_alive_s
    try:
        while True:
            if runner is not None:
                runner.kept = True  # its job's runner record says so: a stop of it writes a request, no signal
                code, name, keep_alive_s = runner.run(), runner.name, runner.keep_alive_s
                if not keep_alive_s:
                    break
                shelf.keep_alive_s = keep_alive_s
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            log.info("job %s ended; this runner stays %.0f s for the next launch, with %d idle worker(s)",
                     name, keep_alive_s, len(shelf))

            def tick() -> None:
                if leaving:
                    raise _Leave
                shelf.expire()

            try:
                name = offer.wait(keep_alive_s, tick)
            except _Leave:
                log.info("signal %d: this kept runner leaves", leaving[0])
                name = None
            if name is not None and not _pending(store, name):
                log.warning("job %r handed over is not a pending job here; not run", name)
                name = None
            if name is None:
                break
            send_output_to(store.job_dir(name) / "runner.log")
            log.info("this runner (kept after an earlier job) takes job %s", name)
            try:
                runner = Runner(store, name)
            except Exception as e:  # noqa: BLE001 - that job fails with the reason; this runner stays for the next
                code, runner = not_started(store, name, e), None
    finally:
        offer.withdraw()
        shelf.release_all()
        _local.set_shelf(None)
    return code


class _Leave(Exception):
    """A signal asked the waiting runner to leave."""
