"""Warm pools handed from one ``sagemaker`` job of a campaign to the next (:mod:`jupyter_hpo.campaign`).

A job alone releases its warm pools when it ends (keep-alive 0), so that nothing idle is billed after it.
In a campaign, the campaign runner sets a :class:`Handover` for the process (:func:`set_handover`): a job that
ends leaves its Available pools there instead (``close(release=False)``), under the key of what SageMaker
matches a pool on (role, instance type and count, volume and its key, VPC, network flags; the region and, in a
dry run, the simulation's settings); the next job with the same key takes them (``inherit``) and the boto3
clients with them (in a dry run the simulated SageMaker must be the same one). When the campaign ends, every
pool still left is released.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.clients import Clients
    from jupyter_hpo.sagemaker.options import SageMakerOptions

__all__ = ["Handover", "current", "pool_key", "set_handover"]

log = logging.getLogger("jupyter_hpo.sagemaker")


def pool_key(opts: SageMakerOptions) -> str:
    """What a warm pool must match for a training job to start on it (and where the job runs)."""
    return json.dumps({
        "region": opts.region, "role": opts.role, "instance_type": opts.instance_type,
        "instance_count": opts.instance_count, "volume_size_gb": opts.volume_size_gb,
        "volume_kms_key_id": opts.volume_kms_key_id, "subnets": sorted(opts.subnets or []),
        "security_group_ids": sorted(opts.security_group_ids or []),
        "network_isolation": opts.enable_network_isolation, "encrypt": opts.encrypt_inter_container_traffic,
        "simulate": opts.simulate}, sort_keys=True, default=str)


@dataclass
class _Left:
    jobs: list[str]
    clients: Clients
    owns_clients: bool
    by: str  # the job that left them


@dataclass
class Handover:
    """The pools a campaign's finished ``sagemaker`` jobs left for its next ones, by :func:`pool_key`."""

    left: dict[str, list[_Left]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def leave(self, key: str, jobs: list[str], clients: Clients, owns_clients: bool, by: str) -> None:
        with self.lock:
            self.left.setdefault(key, []).append(_Left(list(jobs), clients, owns_clients, by))

    def take(self, key: str) -> tuple[list[str], Clients | None, bool]:
        """The training jobs whose pools were left under ``key`` (oldest first), and the clients to reach them."""
        with self.lock:
            left = self.left.pop(key, [])
        if not left:
            return [], None, False
        for extra in left[1:]:  # same key, same clients in a dry run; a real account needs only one
            if extra.owns_clients and extra.clients is not left[0].clients and extra.clients.sim is not None:
                extra.clients.sim.close()
        return [j for entry in left for j in entry.jobs], left[0].clients, left[0].owns_clients

    def release_all(self) -> list[str]:
        """Release every pool still left (keep-alive 0), close what the campaign owned; the jobs released."""
        with self.lock:
            left, self.left = self.left, {}
        released = []
        for entries in left.values():
            for entry in entries:
                for job in entry.jobs:
                    try:
                        entry.clients.sagemaker.update_training_job(
                            TrainingJobName=job, ResourceConfig={"KeepAlivePeriodInSeconds": 0})
                        released.append(job)
                    except Exception as e:  # noqa: BLE001 - it ends by itself after its keep-alive
                        log.warning("could not release the warm pool of %s: %s", job, e)
                if entry.owns_clients and entry.clients.sim is not None:
                    entry.clients.sim.close()
        return released


_current: Handover | None = None


def set_handover(handover: Handover | None) -> None:
    """Make ``handover`` the process's (the campaign runner does), or None: every job releases its own pools."""
    global _current
    _current = handover


def current() -> Handover | None:
    return _current
