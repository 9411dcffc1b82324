"""What SageMaker training costs: list prices per instance-hour and the cost of billed seconds."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PRICES_USD_PER_HOUR", "cost_usd", "price_per_hour"]

#: Approximate on-demand prices of SageMaker training instances, USD per instance-hour (us-east-1,
#: list prices as published in 2025; not verified against a live account). Override with
#: ``backend.options.prices``; an unknown type costs 0 and the job says so.
PRICES_USD_PER_HOUR = {
    "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461, "ml.m5.4xlarge": 0.922,
    "ml.m5.12xlarge": 2.765, "ml.m5.24xlarge": 5.53,
    "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408, "ml.c5.4xlarge": 0.816, "ml.c5.9xlarge": 1.836,
    "ml.c5.18xlarge": 3.672,
    "ml.g4dn.xlarge": 0.736, "ml.g4dn.2xlarge": 0.94, "ml.g5.xlarge": 1.408, "ml.g5.2xlarge": 1.515,
    "ml.p3.2xlarge": 3.825,
}


def price_per_hour(instance_type: str, overrides: Mapping[str, float] | None = None) -> float | None:
    """USD per instance-hour of ``instance_type`` (``overrides`` first), or None if unknown."""
    if overrides and instance_type in overrides:
        return float(overrides[instance_type])
    return PRICES_USD_PER_HOUR.get(instance_type)


def cost_usd(seconds: float | None, instance_count: int, price: float | None) -> float | None:
    """What ``seconds`` of ``instance_count`` instances cost at ``price`` USD/hour (None if unknown)."""
    if seconds is None or price is None:
        return None
    return round(seconds * instance_count * price / 3600.0, 6)
