"""Backends run trials: ``local`` (a warm pool of processes here), later ``sagemaker`` and ``amt``.

Backends are looked up by name and imported only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jupyter_hpo.backends._base import Assignment, Backend, TrialEvents, TrialOutcome, TrialRequest
from jupyter_hpo.exceptions import BackendError

if TYPE_CHECKING:
    from pathlib import Path

    from jupyter_hpo.spec import TuningSpec

__all__ = ["Backend", "TrialRequest", "Assignment", "TrialOutcome", "TrialEvents", "create_backend", "REGISTRY"]

#: name -> "module:class", imported lazily.
REGISTRY = {
    "local": "jupyter_hpo.backends._local:LocalBackend",
}


def create_backend(spec: TuningSpec, job_dir: Path) -> Backend:
    """Create the backend the spec names; an unknown or unavailable name lists the valid ones."""
    target = REGISTRY.get(spec.backend)
    if target is None:
        raise BackendError(
            f"backend {spec.backend!r} is not available here; available: {', '.join(sorted(REGISTRY))}."
        )
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(spec, job_dir)
