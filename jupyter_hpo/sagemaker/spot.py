"""Managed spot training on the ``sagemaker`` backend: when a trial's job was interrupted, and what all
its attempts cost.

A spot training job may lose its instances; SageMaker then waits for capacity until
``StoppingCondition.MaxWaitTimeInSeconds`` and ends the job (``SecondaryStatus`` ``Interrupted`` or
``MaxWaitTimeExceeded``). The scheduler launches the trial again (at most ``spot_retries`` times) as a
new training job with the same ``CheckpointConfig`` folder, so a script that checkpoints resumes.
``BillableTimeInSeconds`` below ``TrainingTimeInSeconds`` is what spot saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_hpo.sagemaker.pricing import cost_usd

__all__ = ["SPOT_LOST", "merge_attempts", "savings_pct", "spot_interrupted"]

#: Secondary statuses of a spot job that ended because its capacity was lost.
SPOT_LOST = ("Interrupted", "MaxWaitTimeExceeded")


def spot_interrupted(desc: Mapping[str, Any]) -> bool:
    """True when a finished spot training job ended because it lost (or never got back) its instances."""
    return (bool(desc.get("EnableManagedSpotTraining")) and desc.get("TrainingJobStatus") in ("Stopped", "Failed")
            and desc.get("SecondaryStatus") in SPOT_LOST)


def savings_pct(billable_s: float | None, training_s: float | None) -> float | None:
    """Percent saved by spot: ``1 - billable / training`` (None when either is unknown)."""
    if not billable_s or not training_s:
        return None
    return round(100.0 * (1.0 - float(billable_s) / float(training_s)), 1)


def merge_attempts(attrs: dict[str, Any], earlier: list[Mapping[str, Any]]) -> None:
    """Fold a trial's interrupted attempts (their ``sagemaker`` attributes) into its final ``attrs``:
    ``attempts`` lists every training job; ``billable_s``, ``training_s`` and ``cost_usd`` become totals."""
    every = [*earlier, attrs]
    attrs["attempts"] = [{"training_job": a.get("training_job"), "secondary_status": a.get("secondary_status"),
                          "billable_s": a.get("billable_s"), "training_s": a.get("training_s")} for a in every]
    billable = sum(float(a.get("billable_s") or 0) for a in every)
    training = sum(float(a.get("training_s") or 0) for a in every)
    attrs["billable_s"], attrs["training_s"] = billable, training
    attrs["cost_usd"] = cost_usd(billable, int(attrs.get("instance_count") or 1), attrs.get("price_per_hour"))
    attrs["spot_savings_pct"] = savings_pct(billable, training)
