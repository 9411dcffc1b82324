"""SageMaker: the ``sagemaker`` backend (one training job per trial on warm pools, :mod:`.scheduler`), the
``amt`` backend (Automatic Model Tuning mirrored into the store, :mod:`.amt`) and what they share.

Modules: :mod:`.options` (``backend.options``), :mod:`.clients` (boto3 clients; the one door to the
simulator, :mod:`.sim`), :mod:`.errors` (AWS errors explained), :mod:`.requests` and :mod:`.tuning`
(the requests sent), :mod:`.packaging` (the code archive), :mod:`.outcome` (logs and descriptions ->
trial outcomes), :mod:`.pricing`, :mod:`.pools` (warm-pool release), :mod:`.attach` (mirroring a
tuning job made elsewhere), :mod:`.model_trainer` (SDK ``ModelTrainer`` -> spec) and
:mod:`.estimator` (the campaign model of ``jupyter hpo estimate``). Nothing imports boto3 until a
client is made.
"""

from __future__ import annotations

from jupyter_hpo.sagemaker.amt import AmtBackend
from jupyter_hpo.sagemaker.attach import attach_spec
from jupyter_hpo.sagemaker.clients import Clients, make_clients, simulated_clients
from jupyter_hpo.sagemaker.model_trainer import spec_fields_from_model_trainer
from jupyter_hpo.sagemaker.options import SageMakerOptions
from jupyter_hpo.sagemaker.requests import training_job_request, validate_request
from jupyter_hpo.sagemaker.scheduler import SageMakerBackend
from jupyter_hpo.sagemaker.tuning import tuning_job_request

__all__ = [
           "AmtBackend",
           "Clients",
           "SageMakerBackend",
           "SageMakerOptions",
           "attach_spec",
           "make_clients",
           "simulated_clients",
           "spec_fields_from_model_trainer",
           "training_job_request",
           "tuning_job_request",
           "validate_request",
]
