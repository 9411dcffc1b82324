"""Search strategies and early stopping, as Optuna samplers and pruners chosen by the spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

from jupyter_hpo.records import CONSTRAINT_VALUES

__all__ = ["make_sampler", "make_pruner"]


def make_sampler(spec: TuningSpec, resumed_after: int = 0) -> Any:
    """``bayesian`` and ``hyperband``: TPE (multivariate, constant liar for parallel trials; ``group`` for a
    conditional space, so the parameters sampled together are modelled together);
    ``random``: uniform; ``grid``: every combination, in random order.

    Several objectives: the same samplers, told each trial's values. TPE models them together (Optuna's
    multi-objective TPE, MOTPE); it is kept rather than Optuna's default NSGA-II, which evolves generations of
    50 trials (``population_size``), so a budget of 20-50 trials would end within its first, random generation.

    A job resumed after ``resumed_after`` trials gets a seed derived from both, so that it stays
    reproducible without drawing the same random points as its first run did.
    """
    import optuna

    seed = spec.seed
    if seed is not None and resumed_after:
        seed = (seed * 1_000_003 + resumed_after) % 2**31
    if spec.strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.strategy == "grid":
        # grid needs a step on every float, and reverse-log cannot have one: names match Optuna's
        return _GridSampler(spec.space.grid(), seed=seed)
    n_startup = max(5, min(10, spec.budget.max_trials // 3))
    extra: dict[str, Any] = {}
    if spec.space.conditional:  # a conditional space: TPE models each group of parameters sampled together
        extra["group"] = True
    if spec.constraints:  # infeasible trials rank below feasible ones (Optuna's constrained TPE); the runner
        n = len(spec.constraints)  # sets the values on each complete trial; a pruned one has none: 0, unknown
        extra["constraints_func"] = lambda t: list(t.user_attrs.get(CONSTRAINT_VALUES) or [0.0] * n)
    if extra:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                              n_startup_trials=n_startup, **extra)
    return optuna.samplers.TPESampler(
        seed=seed, multivariate=True, constant_liar=True, n_startup_trials=n_startup
    )


def _grid_sampler_class() -> Any:
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        """Optuna's grid sampler for ask-and-tell: the runner caps the budget at the grid's size,
        so ``after_trial`` need not call ``study.stop()`` (which only works inside ``optimize``).

        A resumed job: Optuna's sampler knows a point is done only by the ``grid_id`` it stored on the trial,
        which the store's trials do not carry, and it gives trial n the n-th point without looking. So a resumed
        grid job ran points again and never ran others. Here the runner marks each earlier trial with its point
        (:meth:`mark`), and a new trial takes the first point in the grid's (shuffled) order that no trial has
        taken: for a new job that is trial n's n-th point, as in Optuna.
        """

        def before_trial(self, study: Any, trial: Any) -> None:
            if "grid_id" in trial.system_attrs or "fixed_params" in trial.system_attrs:
                return
            free = self._get_unvisited_grid_ids(study)
            if not free:  # every point taken: Optuna's own choice (and its warning)
                super().before_trial(study, trial)
                return
            study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
            study._storage.set_trial_system_attr(trial._trial_id, "grid_id", min(free))

        def mark(self, trial: Any) -> Any:
            """``trial`` (an earlier trial of the job) with the system attributes that say which point it ran."""
            if any(name not in trial.params for name in self._param_names):
                return trial
            point = tuple(trial.params[name] for name in self._param_names)
            for grid_id, values in enumerate(self._all_grids):
                if all(self._grid_value_equal(a, b) for a, b in zip(point, values)):
                    trial.system_attrs = {**trial.system_attrs, "search_space": self._search_space,
                                          "grid_id": grid_id}
                    break
            return trial

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return GridSampler


def _GridSampler(grid: dict[str, list[Any]], seed: int | None) -> Any:  # noqa: N802 - a class factory
    return _grid_sampler_class()(grid, seed=seed)


def make_pruner(spec: TuningSpec) -> Any:
    """``off``: never prune; ``median``: below the median of the job's earlier feasible trials at the same step;
    ``hyperband``: successive halving brackets over reported steps; ``kfold``: the paired k-fold pruner
    (:class:`jupyter_hpo.pruners.PairedFoldPruner`: can stop a poor trial after 2 folds); ``kfold_fast``: the
    same rule from the first fold and with ``risk=0.2`` (:data:`jupyter_hpo.pruners.FAST`: cheaper runs, more
    near-best trials stopped; the numbers are in benchmarks/README.md);
    ``kfold_wilcoxon``: Optuna's Wilcoxon signed-rank test of this trial's fold scores against the best
    trial's same folds (with 5 folds, it can stop a trial only after its 4th; never at its last)."""
    import optuna

    kind = spec.pruner_kind
    if kind == "median":
        from jupyter_hpo.pruners import AgainstOwnFeasible

        return AgainstOwnFeasible(optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))
    if kind == "hyperband":
        hb = spec.hyperband
        return optuna.pruners.HyperbandPruner(
            min_resource=hb.min_resource, max_resource=hb.max_resource or "auto",
            reduction_factor=hb.reduction_factor,
        )
    if kind == "kfold":
        from jupyter_hpo.pruners import PairedFoldPruner

        return PairedFoldPruner()
    if kind == "kfold_fast":
        from jupyter_hpo.pruners import FAST, PairedFoldPruner

        return PairedFoldPruner(**FAST)
    if kind == "kfold_wilcoxon":
        from jupyter_hpo.pruners import SparesLastFold

        return SparesLastFold(optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2))
    return optuna.pruners.NopPruner()
