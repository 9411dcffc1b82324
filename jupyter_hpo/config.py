"""Settings, the Jupyter way: ``jupyter_hpo_config.py`` (or ``.json``) in a Jupyter config folder,
``%config HpoConfig.store_url = "..."`` in IPython, or environment variables, which win.

Example ``~/.jupyter/jupyter_hpo_config.py``::

    c.HpoConfig.store_url = "postgresql://hpo@db.internal/hpo"   # a team's shared store
    c.HpoConfig.home = "/data/hpo"                               # per-job files (objective, logs)
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from traitlets import Unicode, default
from traitlets.config import Config, Configurable

__all__ = ["HpoConfig", "settings", "load_config"]


class HpoConfig(Configurable):
    """Where jupyter-hpo keeps its store and per-job files."""

    home = Unicode(
        help="Folder of the default SQLite store and of per-job files; $JUPYTER_HPO_HOME overrides it.",
    ).tag(config=True)
    store_url = Unicode(
        "",
        help="SQLAlchemy URL of the store (e.g. postgresql://...); empty means SQLite in `home`. "
        "$JUPYTER_HPO_STORE_URL overrides it.",
    ).tag(config=True)

    @default("home")
    def _default_home(self) -> str:
        return str(Path.home() / ".jupyter_hpo")


def load_config() -> Config:
    """The merged ``jupyter_hpo_config`` files of every Jupyter config folder (later folders win)."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    merged = Config()
    for folder in reversed(jupyter_config_path()):  # lowest priority first
        for loader_cls, name in ((JSONFileConfigLoader, "jupyter_hpo_config.json"),
                                 (PyFileConfigLoader, "jupyter_hpo_config.py")):
            if os.path.isfile(os.path.join(folder, name)):
                merged.merge(loader_cls(name, path=folder).load_config())
    return merged


@lru_cache(maxsize=1)
def settings() -> HpoConfig:
    """The settings from config files, read once per process (environment variables are read live)."""
    return HpoConfig(config=load_config())
