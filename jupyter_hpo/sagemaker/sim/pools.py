"""Warm pools, simulated: matching, keep-alive and expiry, the warm-pool quota and instance capacity.

A pool lives at most 7 days; the quota counts pools (Available or InUse) per instance type,
``instance_limit`` counts the instances of running jobs and Available pools.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.sagemaker.sim.training import RUNNING

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.sim.training import TrainingJob

__all__ = ["Pool", "Warm", "WarmPools", "demand", "pool_key"]

_POOL_LIFETIME_S = 7 * 24 * 3600


@dataclass
class Warm:
    """A job's WarmPoolStatus; retained billable time runs from ``since`` to ``until`` (or now)."""

    status: str
    since: float
    until: float | None = None
    reused_by: str | None = None

    def describe(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"Status": self.status}
        if self.status != "InUse":
            out["ResourceRetainedBillableTimeInSeconds"] = int((now if self.until is None else self.until) - self.since)
        if self.reused_by:
            out["ReusedByJob"] = self.reused_by
        return out


@dataclass
class Pool:
    """A warm pool: the instances a finished job kept, with a cache directory that lives as long as they do."""

    id: str
    instance_type: str
    instance_count: int
    key: tuple[Any, ...]
    cache_dir: Path
    born: float
    warm: Warm  # the WarmPoolStatus of the job that holds or last held the pool
    status: str = "Available"
    job: str = ""
    expires_at: float | None = None
    version: int = 0  # bumped on every change, so a stale expiry event does nothing


def demand(rc: dict[str, Any]) -> dict[str, int]:
    """Instances per instance type that a ResourceConfig asks for."""
    if rc.get("InstanceGroups"):
        counts: Counter[str] = Counter()
        for group in rc["InstanceGroups"]:
            counts[group["InstanceType"]] += group["InstanceCount"]
        return dict(counts)
    return {rc["InstanceType"]: rc.get("InstanceCount", 1)}


def pool_key(req: dict[str, Any]) -> tuple[Any, ...]:
    """The documented warm-pool matching criteria of a training-job request."""
    rc, vpc = req["ResourceConfig"], req.get("VpcConfig") or {}
    return (req["RoleArn"], rc.get("InstanceType"), rc.get("InstanceCount", 1), rc.get("VolumeSizeInGB"),
            rc.get("VolumeKmsKeyId"), tuple(sorted(vpc.get("SecurityGroupIds", []))),
            tuple(sorted(vpc.get("Subnets", []))), bool(req.get("EnableNetworkIsolation")),
            bool(req.get("EnableInterContainerTrafficEncryption")))

class WarmPools:
    """Warm pools and instance capacity (mixed into :class:`SimulatedSageMaker`)."""

    _jobs: dict[str, TrainingJob]
    _pools: list[Pool]
    _quota: int | None
    _instance_limit: int | None
    _tmp: Path

    def _matching_pool(self, req: dict[str, Any]) -> Pool | None:
        if req["ResourceConfig"].get("KeepAlivePeriodInSeconds", 0) <= 0:
            return None
        key = pool_key(req)
        pools = [pool for pool in self._pools if pool.status == "Available" and pool.key == key]
        return min(pools, key=lambda pool: pool.expires_at or 0.0, default=None)

    def _take_pool(self, t: float, pool: Pool, job: TrainingJob) -> None:
        pool.warm.status, pool.warm.until, pool.warm.reused_by = "Reused", t, job.name
        pool.status, pool.job, pool.expires_at = "InUse", job.name, None
        pool.version += 1
        job.pool, job.cache_dir = pool, pool.cache_dir
        job.warm = pool.warm = Warm("InUse", t)

    def _settle_pool(self, t: float, job: TrainingJob) -> None:
        """After a job ends: its pool becomes Available, or a new one is kept if it launched and quota allows."""
        if job.keep_alive <= 0 and job.pool is None:
            return
        rc = job.request["ResourceConfig"]
        if job.pool is None:
            kept = sum(1 for p in self._pools if p.instance_type == rc["InstanceType"] and p.status != "Terminated")
            if job.training_start is None or (self._quota is not None and kept >= self._quota):
                job.warm = Warm("Terminated", t, until=t)
                return
        job.warm = Warm("Available", t)
        if job.pool is None:
            job.pool = Pool(f"pool-{len(self._pools) + 1:04d}", rc["InstanceType"], rc.get("InstanceCount", 1),
                             pool_key(job.request), self._cache_dir(job.name), born=job.created, warm=job.warm)
            self._pools.append(job.pool)
        job.pool.status, job.pool.job, job.pool.warm = "Available", job.name, job.warm
        self._arm_expiry(t, job.pool, job.keep_alive)

    def _cache_dir(self, name: str) -> Path:
        """The warm-pool cache directory of the cluster that job ``name`` launched."""
        return self._tmp / "warm-pool-caches" / name

    def _arm_expiry(self, t: float, pool: Pool, keep_alive: int) -> None:
        pool.version += 1
        version = pool.version
        pool.expires_at = min(t + keep_alive, pool.born + _POOL_LIFETIME_S)
        self._schedule(pool.expires_at,
                       lambda now: self._terminate_pool(now, pool) if pool.version == version else None)

    def _terminate_pool(self, t: float, pool: Pool) -> None:
        pool.status, pool.expires_at = "Terminated", t
        pool.version += 1
        pool.warm.status, pool.warm.until = "Terminated", t
        self._step_tuners(t)

    def _capacity_error(self, rc: dict[str, Any], pool: Pool | None) -> str | None:
        """Why ``rc`` would exceed ``instance_limit`` (a job taking ``pool`` needs no new instances), or None."""
        if self._instance_limit is None or pool is not None:
            return None
        for itype, wanted in demand(rc).items():
            used = sum(demand(j.request["ResourceConfig"]).get(itype, 0)
                       for j in self._jobs.values() if j.status in RUNNING)
            used += sum(p.instance_count for p in self._pools if p.status == "Available" and p.instance_type == itype)
            if used + wanted > self._instance_limit:
                return (f"The account-level service limit '{itype} for training job usage' is {self._instance_limit} "
                        f"Instances, with current utilization of {used} Instances and a request delta of {wanted} "
                        f"Instances. Please use AWS Service Quotas to request an increase for this quota.")
        return None
