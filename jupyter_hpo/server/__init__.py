"""The Jupyter server extension: a REST API over the store for the sidebar (``/jupyter-hpo/api/``)."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Unicode

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

    def initialize_settings(self) -> None:
        from jupyter_hpo import api

        url = self.store_url or None
        self.settings["jupyter_hpo_store"] = lambda: api.open_store(url)
        self.settings["jupyter_hpo_allow_others"] = self.allow_acting_on_others_jobs

    def initialize_handlers(self) -> None:
        from jupyter_hpo.server._handlers import handlers

        self.handlers.extend(handlers())
