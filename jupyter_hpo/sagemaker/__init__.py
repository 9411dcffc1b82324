"""SageMaker: the ``sagemaker`` backend (one training job per trial on warm pools, :mod:`.scheduler`), the
``amt`` backend (Automatic Model Tuning mirrored into the store, :mod:`.amt`) and what they share.

Modules: :mod:`.options` (``backend.options``), :mod:`.clients` (boto3 clients; the one door to the
simulator, :mod:`.sim`), :mod:`.errors` (AWS errors explained), :mod:`.requests` and :mod:`.tuning`
(the requests sent), :mod:`.packaging` (the code archive), :mod:`.outcome` (logs and descriptions ->
trial outcomes), :mod:`.pricing`, :mod:`.pools` (warm-pool release), :mod:`.attach` (mirroring a
tuning job made elsewhere), :mod:`.model_trainer` (SDK ``ModelTrainer`` -> spec) and
:mod:`.estimator` (the campaign model of ``jupyter hpo estimate``), :mod:`.registry` (a job's model in
the Model Registry, ``jupyter hpo register --sagemaker``) and :mod:`.pipeline` (its tuning as a SageMaker
Pipelines definition, ``jupyter hpo export --pipeline``). Nothing imports boto3 until a client is made.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it; imported on first use (PEP 562), so that importing a light
#: submodule (``plan``, ``doctor`` for the CLI's parser) does not import both backends and the packaging code
_EXPORTS = {
    "AmtBackend": "amt",
    "Clients": "clients",
    "SageMakerBackend": "scheduler",
    "SageMakerOptions": "options",
    "attach_spec": "attach",
    "make_clients": "clients",
    "pipeline_definition": "pipeline",
    "register_sagemaker": "registry",
    "simulated_clients": "clients",
    "spec_fields_from_model_trainer": "model_trainer",
    "training_job_request": "requests",
    "tuning_job_request": "tuning",
    "upsert_pipeline": "pipeline",
    "validate_request": "requests",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_hpo.sagemaker' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"jupyter_hpo.sagemaker.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
