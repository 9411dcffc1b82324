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
import time
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
    cold_s: float | None = None  # what a cold start cost that job (a job started warm on them saves that much)


@dataclass
class Handover:
    """The pools a campaign's finished ``sagemaker`` jobs left for its next ones, by :func:`pool_key`."""

    left: dict[str, list[_Left]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: seconds of idle warm pool billed for the pools :meth:`release_all` released, by the job that left them
    idle_s: dict[str, float] = field(default_factory=dict)

    def leave(self, key: str, jobs: list[str], clients: Clients, owns_clients: bool, by: str,
              cold_s: float | None = None) -> None:
        with self.lock:
            self.left.setdefault(key, []).append(_Left(list(jobs), clients, owns_clients, by, cold_s))

    def take(self, key: str) -> tuple[list[str], Clients | None, bool, float | None]:
        """The training jobs whose pools were left under ``key`` (oldest first), the clients to reach them, and
        the mean cold start-up the jobs that left them measured (None when none did)."""
        with self.lock:
            left = self.left.pop(key, [])
        if not left:
            return [], None, False, None
        for extra in left[1:]:  # same key, same clients in a dry run; a real account needs only one
            if extra.owns_clients and extra.clients is not left[0].clients and extra.clients.sim is not None:
                extra.clients.sim.close()
        colds = [entry.cold_s for entry in left if entry.cold_s is not None]
        return ([j for entry in left for j in entry.jobs], left[0].clients, left[0].owns_clients,
                sum(colds) / len(colds) if colds else None)

    def release_all(self) -> list[str]:
        """Release every pool still left (keep-alive 0), close what the campaign owned; the jobs released.

        The idle time SageMaker billed for each (read once released) is added up in :attr:`idle_s` by the job that
        left it, which pays for it (:func:`charge_idle`): it counted in no job's cost before."""
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
                        pool = entry.clients.sagemaker.describe_training_job(TrainingJobName=job).get(
                            "WarmPoolStatus") or {}
                        if pool.get("ResourceRetainedBillableTimeInSeconds") is not None:
                            self.idle_s[entry.by] = self.idle_s.get(entry.by, 0.0) + float(
                                pool["ResourceRetainedBillableTimeInSeconds"])
                    except Exception as e:  # noqa: BLE001 - it ends by itself after its keep-alive
                        log.warning("could not release the warm pool of %s: %s", job, e)
                if entry.owns_clients and entry.clients.sim is not None:
                    entry.clients.sim.close()
        return released


def charge_idle(store: Any, job: str, idle_s: float) -> None:
    """Add ``idle_s`` seconds of idle warm pool to ``job``'s SageMaker figures (``retained_billable_s``, its idle and
    whole cost at its price) and say so in its notes: its pools, left for a next job, were released at the
    campaign's end."""
    from jupyter_hpo.sagemaker.pricing import cost_usd

    attrs = store.job_attrs(job)
    summary = dict(attrs.get("backend_summary") or {})
    if summary.get("kind") != "sagemaker":
        return
    summary["retained_billable_s"] = (summary.get("retained_billable_s") or 0) + idle_s
    extra = cost_usd(idle_s, summary.get("instance_count") or 1, summary.get("price_per_hour"))
    if extra is not None:
        summary["warm_pool_cost_usd"] = round((summary.get("warm_pool_cost_usd") or 0) + extra, 6)
        summary["cost_usd"] = round((summary.get("cost_usd") or 0) + extra, 6)
    notes = [*(attrs.get("notes") or [])[-49:], {"time": time.time(), "text": (
        f"its warm pools, kept for a next job, were released when the campaign ended, after {idle_s:.0f} s idle in "
        "all (counted in its cost)")}]
    store.set_job_attrs(job, backend_summary=summary, notes=notes)


_current: Handover | None = None


def set_handover(handover: Handover | None) -> None:
    """Make ``handover`` the process's (the campaign runner does), or None: every job releases its own pools."""
    global _current
    _current = handover


def current() -> Handover | None:
    return _current
