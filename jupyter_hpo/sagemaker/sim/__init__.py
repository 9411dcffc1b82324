"""A simulated SageMaker (training and tuning jobs, warm pools, CloudWatch Logs, a little of S3) behind real
boto3 clients, for tests, dry runs (``backend.options.simulate``) and the estimator.

Production code reaches it only through :func:`jupyter_hpo.sagemaker.clients.simulated_clients`.
"""

from __future__ import annotations

from jupyter_hpo.sagemaker.sim.base import SimulationError
from jupyter_hpo.sagemaker.sim.clock import Clock, ScaledClock, VirtualClock
from jupyter_hpo.sagemaker.sim.logs import LOG_GROUP
from jupyter_hpo.sagemaker.sim.service import SimulatedSageMaker

__all__ = ["LOG_GROUP", "Clock", "ScaledClock", "SimulatedSageMaker", "SimulationError", "VirtualClock"]
