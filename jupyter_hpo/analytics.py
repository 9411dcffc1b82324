"""Analytics over trial rows, shared by the front doors: which finished trials a chart draws
(:func:`downsample`), a quick parameter importance (:func:`param_importance`) and a job's timing
(:func:`timing`). Pure functions of records (:mod:`jupyter_hpo.records` forms); no widget, no store.
"""

from __future__ import annotations

import math
from typing import Any

from jupyter_hpo.records import INTERRUPTED, improvements
from jupyter_hpo.store import JobStatus

__all__ = ["MAX_POINTS", "MIN_TRIALS_FOR_IMPORTANCE", "downsample", "param_importance", "timing"]

#: At most this many trials are drawn as dots or lines; more are downsampled by :func:`downsample`.
MAX_POINTS = 500
#: Parameter importance is computed once this many trials are complete.
MIN_TRIALS_FOR_IMPORTANCE = 10
_FINISHED = ("complete", "pruned", "fail")


def downsample(rows: list[dict[str, Any]], direction: str = "maximize", cap: int = MAX_POINTS) -> list[dict[str, Any]]:
    """The finished rows the charts draw: all of them up to ``cap``, else at most ``cap`` of them.

    Beyond ``cap`` it keeps, in this order: the latest best-so-far improvements (so the best trial),
    the latest failed trials, the latest trials, and an even stride over the rest. The stride goes by
    trial number, so the same trials stay drawn from one update to the next.

    Args:
        rows: compact rows (:func:`compact_row`), any order.
        direction: ``maximize`` or ``minimize``.
        cap: the most rows to return.

    Returns:
        Rows in trial-number order.
    """
    finished = sorted((r for r in rows if r["state"] in _FINISHED), key=lambda r: r["number"])
    if len(finished) <= cap:
        return finished
    keep: dict[int, dict[str, Any]] = {}
    for group, share in ((improvements(finished, direction), cap // 5),
                         ([r for r in finished if r["state"] == "fail"], cap // 10), (finished, cap // 10)):
        keep.update((r["number"], r) for r in group[-share:] if share)
    rest = [r for r in finished if r["number"] not in keep]
    budget = cap - len(keep)
    if budget > 0 and rest:
        stride = math.ceil(len(rest) / budget)
        picked = [r for r in rest if r["number"] % stride == 0]
        while len(picked) > budget:
            stride += 1
            picked = [r for r in rest if r["number"] % stride == 0]
        keep.update((r["number"], r) for r in picked)
    return [keep[n] for n in sorted(keep)]


def _ranks(values: list[Any]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return 0.0 if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def _correlation_ratio(groups: list[Any], ys: list[float]) -> float:
    """Eta: the share of the spread of ``ys`` explained by the group means, square-rooted."""
    mean = sum(ys) / len(ys)
    total = sum((y - mean) ** 2 for y in ys)
    by_group: dict[tuple[str, Any], list[float]] = {}
    for g, y in zip(groups, ys, strict=True):
        by_group.setdefault((type(g).__name__, g), []).append(y)
    between = sum(len(v) * (sum(v) / len(v) - mean) ** 2 for v in by_group.values())
    return 0.0 if total == 0 else math.sqrt(between / total)


def param_importance(rows: list[dict[str, Any]], space: dict[str, Any],
                     min_complete: int = MIN_TRIALS_FOR_IMPORTANCE) -> dict[str, float]:
    """A quick, model-free estimate of how much each parameter matters, as shares that sum to 1.

    Over the complete trials, a numeric parameter scores the absolute Spearman rank correlation between
    its value and the objective; a categorical one scores the correlation ratio (eta) of the objective's
    ranks between its choices. The scores are then divided by their sum. It sees monotone effects and
    differences between choices, not interactions (unlike fANOVA, which needs scikit-learn and is slower).

    Args:
        rows: compact rows (:func:`compact_row`).
        space: the search space as a dict (``SearchSpace.to_dict()``).
        min_complete: below this many complete trials the estimate is empty.

    Returns:
        ``{name: share}``, largest first; empty below ``min_complete`` complete trials.
    """
    done = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    if len(done) < min_complete:
        return {}
    scores = {}
    for name, spec in space.items():
        pairs = [(r["params"][name], r["value"]) for r in done if r["params"].get(name) is not None]
        if len(pairs) < min_complete:
            continue
        xs, ys = [p[0] for p in pairs], _ranks([p[1] for p in pairs])
        categorical = isinstance(spec, list) or (isinstance(spec, dict) and spec.get("type") == "categorical")
        scores[name] = _correlation_ratio(xs, ys) if categorical else abs(_pearson(_ranks(xs), ys))
    total = sum(scores.values())
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return {name: round(s / total, 4) if total > 0 else 0.0 for name, s in ordered}


def timing(summary: dict[str, Any], rows: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """``done`` (finished trials, not counting interrupted ones), ``elapsed_s`` and ``eta_s`` (None when
    unknown or finished). ``done`` is counted from the rows: a trial being marked interrupted can for a
    moment carry ``interrupted`` while still ``running``, which the summary's counts do not expect."""
    done = sum(1 for r in rows if r["state"] in _FINISHED and not r[INTERRUPTED])
    created, ended = summary.get("created"), summary.get("ended")
    active = JobStatus(summary["status"]).is_active()
    end = now if active or not ended else ended
    elapsed = max(0.0, end - created) if created else None
    eta = None
    if active and elapsed and done and summary.get("max_trials"):
        eta = elapsed / done * max(0, summary["max_trials"] - done)
    return {"done": done, "elapsed_s": elapsed, "eta_s": eta}
