"""The boto3 clients of a SageMaker backend: AWS itself, or the simulated SageMaker (a dry run).

:func:`simulated_clients` is the one door from production code to the simulator
(:mod:`jupyter_hpo.sagemaker.sim`): the ``simulate`` option and the estimator go through it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_hpo.exceptions import BackendError
from jupyter_hpo.sagemaker.options import SageMakerOptions

__all__ = ["Clients", "check_credentials", "make_clients", "simulated_clients"]

_INSTALL = "the SageMaker backends need boto3: pip install 'jupyter-hpo[sagemaker]'"


@dataclass
class Clients:
    """The boto3 clients a backend uses (real ones, or real ones wired to the simulated SageMaker)."""

    sagemaker: Any
    logs: Any
    s3: Any
    clock: Any
    sim: Any = None


class _RealClock:
    def now(self) -> float:
        import time

        return time.time()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(max(0.0, seconds))


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise BackendError(_INSTALL) from None
    return boto3


def make_clients(opts: SageMakerOptions) -> Clients:
    """Clients for ``opts``: AWS itself, or the simulated SageMaker when ``opts.simulate`` is set.

    Retries use botocore's ``standard`` mode (backoff on throttling and 5xx); the attempt count
    comes from ``AWS_MAX_ATTEMPTS`` or the AWS config file.
    """
    boto3 = _boto3()
    if opts.simulate is not None:
        return simulated_clients(opts.simulate, region=opts.region or "us-east-1")
    from botocore.config import Config

    session = boto3.Session(profile_name=opts.profile, region_name=opts.region)
    config = Config(retries={"mode": "standard"}, user_agent_extra="jupyter-hpo")
    return Clients(session.client("sagemaker", config=config), session.client("logs", config=config),
                   session.client("s3", config=config), _RealClock())


def simulated_clients(settings: Mapping[str, Any], *, region: str = "us-east-1", virtual: bool = False) -> Clients:
    """Clients answered by a new simulated SageMaker (the only place production code imports the simulator).

    Args:
        settings: keyword arguments of :class:`~jupyter_hpo.sagemaker.sim.SimulatedSageMaker` (the
            ``simulate`` option), plus ``speed``: simulated seconds per real second (default 1).
        region: the clients' region.
        virtual: a virtual clock that moves only when slept (``speed`` is ignored): hours pass at once.
    """
    from jupyter_hpo.sagemaker.sim import ScaledClock, SimulatedSageMaker, VirtualClock

    settings = dict(settings)
    speed = float(settings.pop("speed", 1.0))
    clock = VirtualClock() if virtual else ScaledClock(speed)
    sim = SimulatedSageMaker(clock=clock, region=region, **settings)
    return Clients(sim.client("sagemaker"), sim.client("logs"), sim.client("s3"), clock, sim)


def simulated_object(s3_root: str | os.PathLike[str], bucket: str, key: str) -> bytes:
    """An object of the simulated S3 kept in ``s3_root`` (a dry run's ``simulate.s3_root``), read from its
    files without starting a simulator.

    Raises:
        KeyError: no such object there (or a key the simulated S3 cannot hold); its message says which.
    """
    from jupyter_hpo.sagemaker.sim.base import ApiError
    from jupyter_hpo.sagemaker.sim.s3 import S3Store

    try:
        return S3Store(Path(s3_root).expanduser()).read(bucket, key)
    except (ApiError, NotImplementedError) as e:
        raise KeyError(str(e)) from None


def check_credentials(opts: SageMakerOptions) -> None:
    """Raise :class:`BackendError` when no region or no credentials can be found (no network call)."""
    if opts.simulate is not None:
        return
    boto3 = _boto3()
    try:
        session = boto3.Session(profile_name=opts.profile, region_name=opts.region)
    except Exception as e:  # noqa: BLE001 - botocore's ProfileNotFound and friends
        raise BackendError(f"the AWS profile could not be loaded: {e}") from None
    if not session.region_name:
        raise BackendError("no AWS region: set `backend.options.region`, AWS_DEFAULT_REGION or a region in "
                           "~/.aws/config.")
    if session.get_credentials() is None:
        raise BackendError("no AWS credentials found: configure them (aws configure, AWS_PROFILE, "
                           "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role) and launch again.")
