"""jupyter-hpo: hyperparameter tuning from the notebook, on warm workers, with live progress.

The public API is re-exported here and imported on first use, so ``import jupyter_hpo`` stays fast.

Example:
    >>> import jupyter_hpo as hpo
    >>> job = hpo.launch("examples/credit_default/tuning.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "launch": "jupyter_hpo.api",
    "attach": "jupyter_hpo.api",
    "list_jobs": "jupyter_hpo.api",
    "Job": "jupyter_hpo.api",
    "open_store": "jupyter_hpo.api",
    "estimate": "jupyter_hpo.api",
    "attach_amt": "jupyter_hpo.api",
    "campaign": "jupyter_hpo.campaign",
    "attach_campaign": "jupyter_hpo.campaign",
    "Campaign": "jupyter_hpo.campaign",
    "SearchSpace": "jupyter_hpo.space",
    "IntParam": "jupyter_hpo.space",
    "FloatParam": "jupyter_hpo.space",
    "CategoricalParam": "jupyter_hpo.space",
    "TuningSpec": "jupyter_hpo.spec",
    "JobStatus": "jupyter_hpo.store",
    "Store": "jupyter_hpo.store",
    "HpoError": "jupyter_hpo.exceptions",
    "SpecError": "jupyter_hpo.exceptions",
    "SearchSpaceError": "jupyter_hpo.exceptions",
    "JobNotFoundError": "jupyter_hpo.exceptions",
    "JobStateError": "jupyter_hpo.exceptions",
    "TrialPruned": "jupyter_hpo.exceptions",
}

__all__ = sorted(_EXPORTS) + ["__version__", "trial"]


def __getattr__(name: str) -> Any:
    if name == "trial":
        return importlib.import_module("jupyter_hpo.trial")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_hpo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


class _Package(types.ModuleType):
    """This package, whose ``campaign`` stays the function :func:`jupyter_hpo.campaign.campaign`.

    Importing a submodule sets the package's attribute of that name to the module. ``campaign`` is both a
    submodule and the function the README calls as ``hpo.campaign([...])``: once anything had imported the
    submodule (``%hpo campaign``, the campaign view, ``from jupyter_hpo.campaign import ...``), that call raised
    "'module' object is not callable". The submodule stays reachable as ``sys.modules["jupyter_hpo.campaign"]``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the import system binding a submodule over an export of the same name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_hpo``: register the ``%hpo`` magics (see ``jupyter_hpo.magics``)."""
    from jupyter_hpo.magics import load_ipython_extension as load

    load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_hpo.server import HpoExtension

    return [{"module": "jupyter_hpo.server", "app": HpoExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-hpo"}]
