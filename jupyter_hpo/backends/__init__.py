"""Backends run trials: ``local`` (a warm pool of processes here) and ``sagemaker`` (one training job
per trial on SageMaker warm pools) are executors (:class:`ExecutorBackend`); ``amt`` (SageMaker
Automatic Model Tuning) is a mirror (:class:`MirrorBackend`).

Backends are looked up by name and imported only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jupyter_hpo.backends._base import (
    Assignment,
    Backend,
    EventLog,
    ExecutorBackend,
    MirrorBackend,
    MirrorEvents,
    TrialEvents,
    TrialOutcome,
    TrialRequest,
)
from jupyter_hpo.exceptions import BackendError

if TYPE_CHECKING:
    from pathlib import Path

    from jupyter_hpo.spec import TuningSpec

__all__ = ["Backend", "ExecutorBackend", "MirrorBackend", "TrialRequest", "Assignment", "TrialOutcome", "TrialEvents",
           "MirrorEvents", "EventLog", "create_backend", "backend_class", "REGISTRY"]

#: name -> "module:class", imported lazily.
REGISTRY = {
    "local": "jupyter_hpo.backends._local:LocalBackend",
    "sagemaker": "jupyter_hpo.sagemaker.scheduler:SageMakerBackend",
    "amt": "jupyter_hpo.sagemaker.amt:AmtBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The backend class called ``name``; an unknown name lists the valid ones."""
    target = REGISTRY.get(name)
    if target is None:
        raise BackendError(f"backend {name!r} is not available here; available: {', '.join(sorted(REGISTRY))}.")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def create_backend(spec: TuningSpec, job_dir: Path) -> Backend:
    """Create the backend the spec names."""
    return backend_class(spec.backend)(spec, job_dir)
