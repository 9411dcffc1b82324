"""What will a tuning campaign on SageMaker take and cost, with and without warm pools?

:func:`estimate` runs the real ``sagemaker`` scheduler against the simulated SageMaker with a
virtual clock (the campaign model, :mod:`jupyter_hpo.sagemaker.estimator`): every request is the
one a real job would send (validated against botocore's model), every status follows the
documented lifecycle, and a campaign of hours is simulated in seconds. The same campaign runs twice, once with
``KeepAlivePeriodInSeconds = 0`` (every trial cold) and once with warm pools.

Example:
    >>> from jupyter_hpo.estimate import estimate
    >>> r = estimate(jobs=1, trials=6, parallel=2, training_s=60, cold_startup_s=240, warm_startup_s=5)
    >>> r["ratio"]["wall"] > 1.5
    True
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from jupyter_hpo.sagemaker.estimator import CampaignInputs, simulate_campaign

__all__ = ["CampaignInputs", "estimate", "format_estimate"]


def estimate(inputs: CampaignInputs | None = None, **kwargs: Any) -> dict[str, Any]:
    """Simulate the campaign with and without warm pools; see :class:`CampaignInputs` for ``kwargs``.

    Returns ``{"inputs", "cold", "warm", "ratio"}``: each side has ``wall_s``, ``billable_s``
    (instance-seconds of training), ``retained_s`` (instance-seconds kept warm while idle),
    ``cost_usd``, ``warm_starts`` and ``mean_startup_s``; ``ratio`` is cold / warm.
    """
    if inputs is None:
        inputs = CampaignInputs(**kwargs)
    elif kwargs:
        inputs = dataclasses.replace(inputs, **kwargs)
    with tempfile.TemporaryDirectory(prefix="jupyter-hpo-estimate-") as tmp:
        cold = simulate_campaign(inputs, warm=False, workdir=Path(tmp))
        warm = simulate_campaign(inputs, warm=True, workdir=Path(tmp))

    def ratio(key: str) -> float | None:
        a, b = cold.get(key), warm.get(key)
        return round(a / b, 3) if a and b else None

    return {"inputs": dataclasses.asdict(inputs), "cold": cold, "warm": warm,
            "ratio": {"wall": ratio("wall_s"), "cost": ratio("cost_usd")}}


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def format_estimate(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows ``(what, without warm pools, with warm pools)`` of an :func:`estimate` result."""
    cold, warm, i = result["cold"], result["warm"], result["inputs"]

    def money(v: float | None) -> str:
        return "-" if v is None else f"${v:,.2f}"

    return [
        ("campaign", f"{i['jobs']} jobs x {i['trials']} trials, {i['parallel']} at once",
         f"{i['instance_count']} x {i['instance_type']}"),
        ("wall time", _hours(cold["wall_s"]), _hours(warm["wall_s"])),
        ("mean start-up per trial", f"{cold['mean_startup_s']:.0f} s", f"{warm['mean_startup_s']:.0f} s"),
        ("trials started warm", f"{cold['warm_starts']}/{cold['trials']}", f"{warm['warm_starts']}/{warm['trials']}"),
        ("billable training time", _hours(cold["billable_s"]), _hours(warm["billable_s"])),
        ("idle time kept warm", _hours(cold["retained_s"]), _hours(warm["retained_s"])),
        ("cost", money(cold["cost_usd"]), money(warm["cost_usd"])),
        ("wall-time speed-up", "", f"{result['ratio']['wall']:.2f}x" if result["ratio"]["wall"] else "-"),
    ]
