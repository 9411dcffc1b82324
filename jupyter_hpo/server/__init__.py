"""The Jupyter server extension: a REST API over the store for the sidebar (``/jupyter-hpo/api/``)."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Unicode

__all__ = ["HpoExtension"]


class HpoExtension(ExtensionApp):
    """Serves the tuning jobs of the store to the JupyterLab sidebar.

    It reads the same store as kernels and the CLI and never talks to workers.
    """

    name = "jupyter_hpo"
    store_url = Unicode(
        "", help="SQLAlchemy URL of the store to serve; default: the store kernels and the CLI use."
    ).tag(config=True)
    allow_acting_on_others_jobs = Bool(
        True, help="Whether a user may stop or resume a job someone else launched through the REST API and the "
        "sidebar (after confirming: `force: true`). False refuses it (403) even with force; a user's own jobs and "
        "jobs from before owners were recorded stay theirs to stop. The CLI and the Python API do not read it.",
    ).tag(config=True)

    keep_active_while_jobs_run = Bool(
        True, help="While a job of this server's user runs with its runner on this machine, mark the server active "
        "(Jupyter's last_activity, which idle shutdown reads) every `activity_interval_s`, so that closing the "
        "browser does not let an idle-shutdown stop the machine the runner is on. False: never.",
    ).tag(config=True)
    activity_interval_s = Float(60.0, min=0.1, help="How often the server checks for running jobs (seconds).").tag(
        config=True)

    def initialize_settings(self) -> None:
        import threading

        from jupyter_hpo import api

        url = self.store_url or None
        self.settings["jupyter_hpo_store"] = lambda: api.open_store(url)
        self.settings["jupyter_hpo_allow_others"] = self.allow_acting_on_others_jobs
        threading.Thread(target=self._warm_up, args=(url,), name="jupyter-hpo-warm-up", daemon=True).start()
        if self.keep_active_while_jobs_run:
            from jupyter_hpo.server._activity import ActivityKeeper

            self.activity = ActivityKeeper(lambda: api.open_store(url),
                                           lambda: self.serverapp.web_app.settings["last_activity_times"],
                                           self.activity_interval_s)
            self.activity.start()

    def _warm_up(self, url: str | None) -> None:
        """Open the store and summarize its jobs once, off the server's start, so the sidebar's first ``GET jobs``
        does not wait for it; a request that comes first waits for this first summary (which it then reuses)
        rather than making another alongside it. The listing imports no Optuna: the store reads the job list with
        plain queries (see :class:`jupyter_hpo.store.Store`); Optuna's storage is opened after it."""
        from jupyter_hpo import api
        from jupyter_hpo.server._handlers import _OPEN_STORE

        try:
            with _OPEN_STORE:
                api.list_jobs(api.open_store(url))
            # then Optuna's storage, which a job's trials are read through (a few seconds to import and open):
            # opened here, after the listing and outside its lock, the first job a user opens need not wait for it
            _ = api.open_store(url).storage
        except Exception as e:  # noqa: BLE001 - a request will meet the same error and say it
            self.log.warning("jupyter-hpo: the store could not be read at start: %s", e)

    def initialize_handlers(self) -> None:
        from jupyter_hpo.server._handlers import handlers

        self.handlers.extend(handlers())

    async def stop_extension(self) -> None:
        activity = getattr(self, "activity", None)
        if activity is not None:
            activity.stop()
