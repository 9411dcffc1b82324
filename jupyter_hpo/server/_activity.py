"""Keep the Jupyter server from looking idle while one of its user's jobs runs.

SageMaker Studio (and Jupyter's own ``ServerApp.shutdown_no_activity_timeout``, JupyterHub's idle culler)
stop a server that looks idle. A job runs in a detached runner process on the server's machine, which no
kernel or terminal accounts for; closing the browser tab would leave the server idle and its machine, with
the runner on it, stopped mid-job. While a job of this server's user whose runner lives on this host is
active, :class:`ActivityKeeper` sets ``last_activity_times["jupyter_hpo"]`` to now every ``interval_s``: the
hook Jupyter documents for extensions, counted by ``ServerApp.last_activity()`` and so by ``GET /api/status``'s
``last_activity``. Idle checkers that look only at kernels and terminals do not see it; if the machine stops
anyway, the job turns stale and ``jupyter hpo resume`` continues it (SageMaker training jobs and pools adopted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from jupyter_server._tz import utcnow
from tornado.ioloop import IOLoop, PeriodicCallback

from jupyter_hpo import owners, records
from jupyter_hpo._liveness import THIS_HOST

__all__ = ["KEY", "ActivityKeeper", "running_here"]

#: the key of this extension in Jupyter's ``last_activity_times``
KEY = "jupyter_hpo"
log = logging.getLogger("jupyter_hpo.server")


def running_here(store: Any, me: dict[str, Any] | None = None) -> list[str]:
    """The active jobs of ``me`` (default: this process's user) whose runner runs on this host."""
    from jupyter_hpo.store import Store

    me = me if me is not None else owners.identity()
    out = []
    for name, attrs in store.all_job_attrs().items():
        owner = attrs.get(records.OWNER)
        # the runner's host once it has started, the launching host before
        host = (attrs.get(records.RUNNER) or {}).get("host") or (owner or {}).get("host")
        if not owners.is_mine(owner, me) or host != THIS_HOST:
            continue
        if Store.status_of(attrs).is_active():
            out.append(name)
    return sorted(out)


class ActivityKeeper:
    """Every ``interval_s``, reads the store off the event loop and, when :func:`running_here` finds a job, marks
    the server active in ``activity_times`` (the server's ``last_activity_times``)."""

    def __init__(self, open_store: Callable[[], Any], activity_times: Callable[[], MutableMapping[str, Any]],
                 interval_s: float) -> None:
        self.open_store = open_store
        self.activity_times = activity_times
        self.interval_s = interval_s
        self.jobs: list[str] = []  # what the last check found
        self._callback: PeriodicCallback | None = None

    def start(self) -> None:
        """Check every ``interval_s``, the first time one interval after the server starts (not competing with the
        sidebar's first requests for the store)."""
        self._callback = PeriodicCallback(self.check, self.interval_s * 1000)
        self._callback.start()

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()

    async def check(self) -> None:
        try:
            self.jobs = await IOLoop.current().run_in_executor(None, lambda: running_here(self.open_store()))
        except Exception as e:  # noqa: BLE001 - a store that cannot be read keeps nothing alive; said once per check
            log.warning("jupyter-hpo: cannot tell whether a job runs (the server's activity is not kept): %s", e)
            return
        if self.jobs:
            self.activity_times()[KEY] = utcnow()
