"""Search strategies and early stopping, as Optuna samplers and pruners chosen by the spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["make_sampler", "make_pruner", "grid_size"]


def make_sampler(spec: TuningSpec) -> Any:
    """``bayesian`` and ``hyperband``: TPE (multivariate, constant liar for parallel trials);
    ``random``: uniform; ``grid``: every combination, in random order."""
    import optuna

    if spec.strategy == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if spec.strategy == "grid":
        # grid needs a step on every float, and reverse-log cannot have one: names match Optuna's
        return optuna.samplers.GridSampler(spec.space.grid(), seed=spec.seed)
    n_startup = max(5, min(10, spec.budget.max_trials // 3))
    return optuna.samplers.TPESampler(
        seed=spec.seed, multivariate=True, constant_liar=True, n_startup_trials=n_startup
    )


def grid_size(spec: TuningSpec) -> int:
    n = 1
    for values in spec.space.grid().values():
        n *= len(values)
    return n


def make_pruner(spec: TuningSpec) -> Any:
    """``off``: never prune; ``median``: below the median of earlier trials at the same step;
    ``hyperband``: successive halving brackets over reported steps; ``kfold``: Optuna's Wilcoxon
    signed-rank test of this trial's fold scores against the best trial's same folds."""
    import optuna

    kind = spec.pruner_kind
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if kind == "hyperband":
        hb = spec.hyperband
        return optuna.pruners.HyperbandPruner(
            min_resource=hb.min_resource, max_resource=hb.max_resource or "auto",
            reduction_factor=hb.reduction_factor,
        )
    if kind == "kfold":
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    return optuna.pruners.NopPruner()
