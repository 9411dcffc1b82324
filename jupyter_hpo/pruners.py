"""A k-fold aware pruner that can stop a poor trial after 2 of its k folds.

Cross-validation scores are strongly correlated across configurations: a fold that is hard for one
model is hard for the others. So the running trial is compared with the best complete trial *on the
same folds*, and the noise of that paired difference is learnt from the complete trials' fold tables.
A trial is pruned when, even optimistically, its final mean cannot beat the best's.

Example (what ``early_stopping: kfold`` builds)::

    pruner = PairedFoldPruner(risk=0.02, n_startup_trials=4, min_folds=2)
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import TrialState

from jupyter_hpo.records import CONSTRAINT_VALUES

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["FAST", "AgainstOwnFeasible", "FoldDecision", "PairedFoldPruner", "SparesLastFold"]

#: ``early_stopping: kfold_fast``: the rule from the first fold, with a looser bound. In deterministic replays on
#: the credit data (12 paired seeds, ``benchmarks/time_to_quality.py --samplers``) it ran 30% fewer folds than
#: ``kfold`` (107 against 154 per 40-trial run) and reached the target AUC in about half its CPU time;
#: replayed on 20 complete runs, 5 of its 588 pruned trials (0.9%) would have beaten the best so far. Where
#: many trials end close to the best, it stops more of those that would have become the best (under
#: ``tests/test_pruners.py``'s synthetic model, about 3 in 10 of them). The credit example uses it.
FAST = {"risk": 0.2, "min_folds": 1}
#: the most ``risk`` the start-up rule takes (fewer than ``n_startup_trials`` complete trials)
STARTUP_RISK = 0.02


class FoldDecision:
    """What :meth:`PairedFoldPruner.decide` saw and concluded (kept for benchmarks and tests).

    ``bound`` is the optimistic final paired difference (better than the best when > 0);
    ``prune`` is None when the rule did not apply (too few folds or complete trials).
    """

    __slots__ = ("bound", "dof", "folds", "k", "mean_diff", "prune", "sd", "why")

    def __init__(self, prune: bool | None, why: str, *, folds: int = 0, k: int = 0, mean_diff: float = math.nan,
                 sd: float = math.nan, dof: int = 0, bound: float = math.nan) -> None:
        self.prune, self.why, self.folds, self.k = prune, why, folds, k
        self.mean_diff, self.sd, self.dof, self.bound = mean_diff, sd, dof, bound

    def __repr__(self) -> str:
        return (f"FoldDecision(prune={self.prune}, folds={self.folds}/{self.k}, mean_diff={self.mean_diff:.5g}, "
                f"sd={self.sd:.3g}, dof={self.dof}, bound={self.bound:.5g}, why={self.why!r})")


class PairedFoldPruner(BasePruner):
    """Prune a k-fold trial whose paired difference with the best trial says it cannot become the best.

    The rule. Let the trial have reported ``n`` of the best trial's ``k`` folds, and let ``d_i`` be its
    score on fold ``i`` minus the best complete trial's score on the same fold (sign-flipped when
    minimizing, so that ``d > 0`` means better). Model ``d_i = mu + e_i`` with ``e_i ~ N(0, s^2)``, where
    ``s`` is the pooled within-trial spread of the paired differences of every *complete* trial against
    the best one (``(m - 1)(k - 1)`` degrees of freedom from ``m`` complete trials). With a flat prior on
    ``mu``, the trial's final mean difference over all ``k`` folds is predicted as
    ``N(mean(d), s^2 (k - n) / (k n))``: the ``n`` folds seen are fixed, the ``k - n`` others are new
    draws around an uncertain ``mu``. The trial is pruned when the optimistic bound

        ``mean(d) + t * s * sqrt((k - n) / (k n)) < 0``

    where ``t`` is Student's one-sided ``1 - risk`` quantile with the pooled degrees of freedom: the
    predicted chance that the pruned trial would have finished better than the best is at most ``risk``.

    In numbers, for 5 folds: after 2 folds the bound's half-width is ``t * 0.55 s`` (after 3: ``t * 0.38 s``,
    after 4: ``t * 0.22 s``); with ``risk = 0.02`` and 12 degrees of freedom (4 complete trials),
    ``t = 2.3``, so a trial is pruned after 2 folds when it trails the best by more than ``1.3 s`` on average
    over those folds. On the credit example (XGBoost, 5-fold AUC) ``s`` was 0.0013-0.0018 in the
    benchmark's 40-trial TPE runs while one trial's own fold scores spread by about 0.01 (the folds' difficulty, which
    pairing removes), so a trial 0.0016-0.0022 AUC or more behind the best on its first 2 folds is
    stopped there. The measured
    ``s`` (``paired_sd``), the folds trials were pruned after and the false-prune rate are in
    ``benchmarks/README.md`` (``time_to_quality.py``). Optuna's Wilcoxon pruner, by contrast, needs 4
    of 5 folds (3 paired signs cannot reach p < 0.1).

    Until ``n_startup_trials`` complete trials with all ``k`` folds exist, ``s`` comes from the trial's
    own ``n`` paired differences instead (a paired t prediction with ``n - 1`` degrees of freedom), so
    only from its 3rd fold and only when it is far behind: with at most ``risk = 0.02`` (``t = 4.85`` after 3
    folds) whatever ``risk`` is, since a looser start-up rule can stop so many trials that the complete trials
    it needs never come. Nothing is pruned before the trial has ``min_folds`` folds, nor at its last fold (nothing
    would be saved), nor while no complete trial has fold scores. With ``constraints``, the best is the best
    feasible complete trial, and nothing is pruned before there is one. Steps are fold indices
    (``trial.folds`` reports fold ``i`` at step ``i``); non-finite values are never pruned on.

    Args:
        risk: the largest predicted chance, per decision, of pruning a trial that would have finished
            better than the best (0 < risk < 0.5).
        n_startup_trials: complete trials needed before anything is pruned (at least 3: the spread needs
            two trials besides the best).
        min_folds: folds a trial must have reported before it can be pruned (at least 1).
    """

    def __init__(self, risk: float = 0.02, n_startup_trials: int = 4, min_folds: int = 2) -> None:
        if isinstance(risk, bool) or not isinstance(risk, (int, float)) or not 0 < risk < 0.5:
            raise ValueError(f"`risk` must be a number between 0 and 0.5 (exclusive), but got {risk!r}.")
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int) or n_startup_trials < 3:
            raise ValueError(f"`n_startup_trials` must be an integer >= 3, but got {n_startup_trials!r}.")
        if isinstance(min_folds, bool) or not isinstance(min_folds, int) or min_folds < 1:
            raise ValueError(f"`min_folds` must be an integer >= 1, but got {min_folds!r}.")
        self.risk, self.n_startup_trials, self.min_folds = float(risk), n_startup_trials, min_folds

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        return bool(self.decide(study, trial).prune)

    def decide(self, study: optuna.study.Study, trial: FrozenTrial) -> FoldDecision:
        """The decision for ``trial`` now, with the figures behind it."""
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        scores = trial.intermediate_values
        if len(scores) < self.min_folds:
            return FoldDecision(None, f"fewer than {self.min_folds} folds reported", folds=len(scores))
        complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.number != trial.number and t.value is not None and _finite(t.intermediate_values)]
        best = _best([t for t in complete if _feasible(t)], sign)
        if best is None:
            return FoldDecision(None, "no complete feasible trial with fold scores", folds=len(scores))
        folds = sorted(best.intermediate_values)
        k = len(folds)
        shared = [s for s in folds if s in scores]
        n = len(shared)
        if n < self.min_folds or n >= k or not _finite({s: scores[s] for s in shared}):
            return FoldDecision(None, "not a fold that can be pruned at", folds=n, k=k)
        diffs = [sign * (scores[s] - best.intermediate_values[s]) for s in shared]
        table = [t for t in complete if set(folds) <= set(t.intermediate_values)]
        risk = self.risk
        if len(table) >= self.n_startup_trials:
            sd, dof = _pooled_spread(table, best, folds, sign)
        elif n >= 3:  # too few complete trials: the trial's own paired differences (a paired t prediction)
            sd, dof, risk = _pooled_spread_of([diffs]), n - 1, min(risk, STARTUP_RISK)
        else:
            return FoldDecision(None, f"fewer than {self.n_startup_trials} complete trials and 3 folds",
                                folds=n, k=k)
        mean_diff = sum(diffs) / n
        bound = mean_diff + _t_quantile(1.0 - risk, dof) * sd * math.sqrt((k - n) / (k * n))
        return FoldDecision(bound < 0, "bound below the best" if bound < 0 else "may still beat the best",
                            folds=n, k=k, mean_diff=mean_diff, sd=sd, dof=dof, bound=bound)

class SparesLastFold(BasePruner):
    """``pruner`` (Optuna's Wilcoxon pruner, for ``kfold_wilcoxon``), except at a trial's last fold: a trial that
    has reported as many folds as the complete trials have is never pruned, since stopping it saves nothing and
    throws its value away (Optuna's pruner pruned such trials, which ended pruned with all their folds run).

    The best trial it compares with is the one :class:`PairedFoldPruner` uses: the best feasible complete trial
    *with fold scores*. Optuna's pruner takes ``study.best_trial``, which in a ``warm_start`` job may be a trial
    taken from an earlier job, without folds; it then never pruned (with a warning in the runner's log) until
    one of the job's own trials beat that best, which it may never do.
    """

    def __init__(self, pruner: BasePruner) -> None:
        self.pruner = pruner

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        k = max((len(t.intermediate_values) for t in complete), default=0)
        if k and len(trial.intermediate_values) >= k:
            return False
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        best = _best([t for t in complete if t.number != trial.number and t.value is not None
                      and _finite(t.intermediate_values) and _feasible(t)], sign)
        if best is None:
            return False
        return bool(self.pruner.prune(_WithBest(study, best), trial))  # type: ignore[arg-type]


class AgainstOwnFeasible(BasePruner):
    """``pruner`` (Optuna's median pruner, for ``early_stopping: median``) judging a trial against the job's own
    feasible complete trials only: the complete trials it sees are those with reported steps that met the
    ``constraints``. Optuna's pruner takes every complete trial, so with constraints it stopped the very trials the
    constraints ask for (judged against infeasible ones that may never be the best: the job's best came out worse),
    and in a ``warm_start`` job it counted the trials taken from earlier jobs, which have no steps, towards its
    start-up trials (it pruned after 3 of the job's own trials, not 5)."""

    def __init__(self, pruner: BasePruner) -> None:
        self.pruner = pruner

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        return bool(self.pruner.prune(_OwnFeasible(study), trial))  # type: ignore[arg-type]


class _OwnFeasible:
    """``study`` as :class:`AgainstOwnFeasible`'s pruner sees it: a complete trial counts only with reported steps
    and within the constraints; all else is the study's."""

    def __init__(self, study: optuna.study.Study) -> None:
        self._study = study

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
        return [t for t in self._study.get_trials(deepcopy=deepcopy, states=states)
                if t.state != TrialState.COMPLETE or (t.intermediate_values and _feasible(t))]

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    def __getattr__(self, name: str) -> object:
        return getattr(self._study, name)


class _WithBest:
    """``study`` as the wrapped pruner sees it: its ``best_trial`` is ``best``; all else is the study's."""

    def __init__(self, study: optuna.study.Study, best: FrozenTrial) -> None:
        self._study, self.best_trial = study, best

    def __getattr__(self, name: str) -> object:
        return getattr(self._study, name)


def _finite(values: dict[int, float]) -> bool:
    return bool(values) and all(math.isfinite(v) for v in values.values())


def _feasible(trial: FrozenTrial) -> bool:
    """Whether a complete trial met the job's ``constraints`` (the runner's constraint values, all <= 0; a job
    without constraints has none). The best to beat is the best *feasible* trial: judged against an infeasible
    one, which may never be the best, the very trials the constraints ask for were pruned."""
    values = trial.user_attrs.get(CONSTRAINT_VALUES)
    return not isinstance(values, list) or all(isinstance(v, (int, float)) and v <= 0 for v in values)


def _best(complete: list[FrozenTrial], sign: float) -> FrozenTrial | None:
    """The complete trial with the best value (by its objective value, as the study ranks it)."""
    if not complete:
        return None
    return max(complete, key=lambda t: sign * float(t.value))  # type: ignore[arg-type]


def _pooled_spread(table: list[FrozenTrial], best: FrozenTrial, folds: list[int], sign: float) -> tuple[float, int]:
    """Pooled within-trial sd of the paired differences with ``best`` over ``folds``, and its dof."""
    rows = [[sign * (t.intermediate_values[s] - best.intermediate_values[s]) for s in folds]
            for t in table if t.number != best.number]
    dof = sum(len(r) - 1 for r in rows)
    return _pooled_spread_of(rows), dof


def _pooled_spread_of(rows: list[list[float]]) -> float:
    """The pooled sd of ``rows`` around their own means (inf without degrees of freedom)."""
    ss, dof = 0.0, 0
    for row in rows:
        m = sum(row) / len(row)
        ss += sum((x - m) ** 2 for x in row)
        dof += len(row) - 1
    return math.sqrt(ss / dof) if dof else math.inf


def _t_quantile(p: float, dof: int) -> float:
    """Student's t quantile ``p`` (> 0.5): exact for 1 and 2 degrees of freedom, else Cornish-Fisher from the
    normal quantile (within 2% for dof 3, 0.1% from dof 8)."""
    if dof <= 0:
        return math.inf
    if dof == 1:
        return math.tan(math.pi * (p - 0.5))
    if dof == 2:
        return (2 * p - 1) * math.sqrt(2 / (4 * p * (1 - p)))
    z, v = NormalDist().inv_cdf(p), float(dof)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))
