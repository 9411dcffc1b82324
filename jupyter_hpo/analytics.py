"""Analytics over trial rows, shared by the front doors: which finished trials a chart draws
(:func:`downsample`), a quick parameter importance with the data it rests on (:func:`importance`,
:func:`param_importance`) and a job's timing (:func:`timing`). Pure functions of records (:mod:`jupyter_hpo.records` forms); no widget, no store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jupyter_hpo.records import FOLD_MEAN, INTERRUPTED, improvements
from jupyter_hpo.store import JobStatus

__all__ = ["MAX_POINTS", "MIN_TRIALS_FOR_IMPORTANCE", "Importance", "downsample", "first_objective", "importance",
           "importance_json", "param_importance", "record_importance", "timing"]

#: At most this many trials are drawn as dots or lines; more are downsampled by :func:`downsample`.
MAX_POINTS = 500
#: Parameter importance is computed once this many trials can be compared (see :func:`importance`).
MIN_TRIALS_FOR_IMPORTANCE = 5
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fold_prefix(row: dict[str, Any]) -> list[float]:
    """The fold scores a row reported, in order from fold 1, up to the first one missing or non-finite."""
    by_step = {s[0]: s[1] for s in row.get("steps") or []}
    out: list[float] = []
    while isinstance(by_step.get(len(out)), (int, float)) and math.isfinite(by_step[len(out)]):
        out.append(float(by_step[len(out)]))
    return out


@dataclass(frozen=True)
class Importance:
    """What :func:`importance` found, and what it rests on.

    Attributes:
        shares: ``{name: share}``, largest first, summing to 1; empty below the minimum of trials.
        complete: complete trials counted.
        pruned: pruned trials counted (by their reported folds).
        folds: each counted trial's score is its mean over its first ``folds`` folds; None when the scores
            are the complete trials' values.
        left_out: pruned trials not counted (they reported no fold scores, e.g. epochs).
        note: one line for a user: how much data the shares rest on, or when they will appear.
    """

    shares: dict[str, float]
    complete: int
    pruned: int
    folds: int | None
    left_out: int
    note: str


def _scored(rows: list[dict[str, Any]], steps_are_folds: bool
            ) -> tuple[list[tuple[dict[str, Any], float]], int | None, int]:
    """The trials importance compares, each with its score; the folds compared (or None); pruned ones left out."""
    complete = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    pruned = [r for r in rows if r["state"] == "pruned"]
    prefixes = {r["number"]: _fold_prefix(r) for r in complete + pruned
                if steps_are_folds or r.get(FOLD_MEAN) is not None}
    fold_pruned = [r for r in pruned if prefixes.get(r["number"])]
    if not fold_pruned:  # nothing pruned reported folds: the complete trials' values, as they are
        return [(r, r["value"]) for r in complete], None, len(pruned)
    counted = [r for r in complete + fold_pruned if prefixes.get(r["number"])]
    j = min(len(prefixes[r["number"]]) for r in counted)
    scored = [(r, sum(prefixes[r["number"]][:j]) / j) for r in counted]
    return sorted(scored, key=lambda p: p[0]["number"]), j, len(pruned) - len(fold_pruned)


def _note(shares: dict[str, float], n_complete: int, n_pruned: int, folds: int | None, left_out: int,
          min_trials: int) -> str:
    n = n_complete + n_pruned
    if not shares and n >= min_trials:
        return f"No parameter is set in {min_trials} of the {n} trials counted yet."
    if not shares:
        return (f"Importance appears once {min_trials} trials have finished with a value or fold scores "
                f"({n} so far).")
    basis = f"From {_plural(n_complete, 'complete trial')}" if not n_pruned else (
        f"From {n_complete} complete and {_plural(n_pruned, 'pruned trial')}")
    if folds is not None:
        basis += f", each scored by its mean over its first {_plural(folds, 'fold') if folds > 1 else 'fold'}"
    if left_out:
        basis += f"; {_plural(left_out, 'pruned trial')} without fold scores not counted"
    return basis + "."


def importance(rows: list[dict[str, Any]], space: dict[str, Any], min_trials: int = MIN_TRIALS_FOR_IMPORTANCE,
               steps_are_folds: bool = False, first_of: str | None = None) -> Importance:
    """A quick, model-free estimate of how much each parameter matters, and how much data it rests on.

    Which trials count, and with what score:

    * Without pruned trials that reported folds, each complete trial scores its value. A pruned trial that
      reported epochs (``trial.report``) is not counted: a learning curve cut short is not comparable with
      final values; the note says how many were left out.
    * When pruned trials reported folds (``trial.folds``, whose records carry ``fold_mean``; or any
      intermediate values when ``steps_are_folds``, as in a job with ``early_stopping: kfold``), every trial
      that reported folds is compared on the same folds: its score is its mean over folds 1..j, where j is
      the fewest folds any of them reported (a complete trial reported them all). Fold i is the same split
      for every trial (``trial.folds`` splits with a fixed seed), and fold scores are strongly correlated
      across configurations, so means over the same folds rank trials as their full means would, and no
      trial is compared on easier or harder folds than another. Leaving pruned trials out instead would
      bias the estimate: they are the poor ones. A failed trial has neither value nor folds.

    A numeric parameter then scores the absolute Spearman rank correlation between its value and the
    trials' scores; a categorical one scores the correlation ratio (eta) of the scores' ranks between its
    choices. The scores are divided by their sum. It sees monotone effects and differences between choices,
    not interactions (unlike fANOVA, which needs scikit-learn and is slower). A parameter set in fewer than
    ``min_trials`` counted trials (a conditional one) is left out.

    Args:
        rows: compact rows (:func:`jupyter_hpo.widgets.compact_row`: ``number``, ``state``, ``value``,
            ``params``, ``fold_mean``, ``steps``).
        space: the search space as a dict (``SearchSpace.to_dict()``).
        min_trials: below this many counted trials the shares are empty.
        steps_are_folds: every trial's intermediate value at step i is its score on fold i + 1 (the job's
            ``early_stopping`` is ``kfold`` or ``kfold_wilcoxon``), whether or not it used ``trial.folds``.
        first_of: with several objectives, the first one's metric: the shares rank parameters by it alone
            (a trial's ``value``), and the note says so.

    Returns:
        An :class:`Importance`; its ``note`` reads e.g. "From 3 complete and 4 pruned trials, each scored by
        its mean over its first 2 folds."

    Example:
        >>> rows = [{"number": i, "state": "complete", "value": i / 10, "params": {"x": i}} for i in range(5)]
        >>> importance(rows, {"x": {"type": "int", "low": 0, "high": 9}}).note
        'From 5 complete trials.'
    """
    scored, folds, left_out = _scored(rows, steps_are_folds)
    n_complete = sum(r["state"] == "complete" for r, _ in scored)
    n_pruned = len(scored) - n_complete
    shares: dict[str, float] = {}
    if len(scored) >= min_trials:
        scores = {}
        for name, spec in space.items():
            # set in the trial (a conditional parameter may be absent); a choice of None (`[null, l2]`) is a value
            pairs = [(r["params"][name], y) for r, y in scored if name in r["params"]]
            categorical = isinstance(spec, list) or (isinstance(spec, dict) and spec.get("type") == "categorical")
            if not categorical:  # a number's rank: a value of another kind (a trial written by other means) is left
                pairs = [(x, y) for x, y in pairs  # out, never compared with numbers (a 500 for the job's detail)
                         if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)]
            if len(pairs) < min_trials:
                continue
            xs, ys = [p[0] for p in pairs], _ranks([p[1] for p in pairs])
            scores[name] = _correlation_ratio(xs, ys) if categorical else abs(_pearson(_ranks(xs), ys))
        total = sum(scores.values())
        ordered = sorted(scores.items(), key=lambda kv: -kv[1])
        # every counted trial scored the same (accuracy 1.0, a coarsely rounded metric): nothing to rank on, said
        # as such (every share read 0.0%, "From 8 complete trials.", as if a result)
        shares = {name: round(s / total, 4) for name, s in ordered} if total > 0 else {}
        if scores and total <= 0:  # the scores are equal, or no parameter moves them in one direction
            same = len({y for _, y in scored}) == 1
            return Importance({}, n_complete, n_pruned, folds, left_out,
                              f"No parameter ranks above another: the {len(scored)} trials counted all score the "
                              "same." if same else
                              f"No parameter ranks above another: none shows a monotone effect (or, for a choice, "
                              f"a difference) in the {len(scored)} trials counted.")
    note = _note(shares, n_complete, n_pruned, folds, left_out, min_trials)
    if shares and first_of:
        note += f" For {first_of}, the first objective."
    return Importance(shares, n_complete, n_pruned, folds, left_out, note)


def record_importance(records: list[dict[str, Any]], spec: Any) -> Importance:
    """:func:`importance` of a job's trial records (``Job.trial_records()``), as its dashboard computes it: over
    the spec's space, every trial's steps taken as folds when its ``early_stopping`` is ``kfold*``.

    Args:
        records: the job's trial records (``intermediate`` as ``{"step": value}``).
        spec: the job's spec as stored (``job.attrs["spec"]``); without one (a study written by another tool)
            no parameter is known and the shares stay empty.
    """
    from jupyter_hpo.exceptions import HpoError
    from jupyter_hpo.space import SearchSpace

    spec = spec if isinstance(spec, dict) else {}
    try:
        space = SearchSpace.from_dict(spec["space"]).to_dict()
    except (HpoError, KeyError, TypeError):
        space = {}
    rows = [{"number": r["number"], "state": r["state"], "value": r.get("value"), "params": r.get("params") or {},
             FOLD_MEAN: r.get(FOLD_MEAN),
             "steps": sorted([int(k) if k.lstrip("-").isdigit() else float(k), v]
                             for k, v in (r.get("intermediate") or {}).items())} for r in records]
    return importance(rows, space, steps_are_folds=str(spec.get("early_stopping")).startswith("kfold"),
                      first_of=first_objective(spec))


def first_objective(spec: Any) -> str | None:
    """The first objective's metric of a stored spec with several objectives; None with one."""
    listed = spec.get("objectives") if isinstance(spec, dict) else None
    if isinstance(listed, list) and len(listed) > 1 and isinstance(listed[0], dict):
        return str(listed[0].get("metric"))
    return None


def importance_json(found: Importance) -> dict[str, Any] | None:
    """The JSON form the CLI and the REST API give: ``{"shares": {name: share}, "note": ...}``, or None while
    there are no shares yet."""
    return {"shares": found.shares, "note": found.note} if found.shares else None


def param_importance(rows: list[dict[str, Any]], space: dict[str, Any], min_trials: int = MIN_TRIALS_FOR_IMPORTANCE,
                     steps_are_folds: bool = False) -> dict[str, float]:
    """The shares of :func:`importance`: ``{name: share}``, largest first; empty below ``min_trials`` trials."""
    return importance(rows, space, min_trials, steps_are_folds).shares


def timing(summary: dict[str, Any], rows: list[dict[str, Any]], now: float, max_runtime: float | None = None,
           run_started: float | None = None) -> dict[str, Any]:
    """``done`` (finished trials, not counting interrupted ones), ``elapsed_s`` and ``eta_s`` (None when
    unknown or finished). ``done`` is counted from the rows: a trial being marked interrupted can for a
    moment carry ``interrupted`` while still ``running``, which the summary's counts do not expect.

    The ETA is the pace so far over the time trials were running (:func:`_busy_s`), times the trials left: a job
    stopped for an hour and resumed was given an ETA that counted the hour as work. With ``budget.max_runtime``
    (``max_runtime``, from the current runner's start ``run_started``) it is at most the time the run has left.
    """
    done = sum(1 for r in rows if r["state"] in _FINISHED and not r[INTERRUPTED])
    created, ended = summary.get("created"), summary.get("ended")
    active = JobStatus(summary["status"]).is_active()
    end = now if active or not ended else ended
    elapsed = max(0.0, end - created) if created is not None else None
    eta = None
    busy = _busy_s(rows, now)
    if active and busy and done and summary.get("max_trials"):
        eta = busy / done * max(0, summary["max_trials"] - done)
        if max_runtime is not None and run_started is not None:
            eta = min(eta, max(0.0, max_runtime - (now - run_started)))
    return {"done": done, "elapsed_s": elapsed, "eta_s": eta}


def _busy_s(rows: list[dict[str, Any]], now: float) -> float:
    """The time during which at least one trial ran: the union of the trials' [started, completed] (a running
    trial's up to ``now``). Time with nothing running (the job stopped, its runner dead) is left out."""
    spans = sorted((r["started"], r.get("completed") or now) for r in rows if r.get("started") is not None)
    total, reach = 0.0, None
    for start, stop in spans:
        if reach is None or start > reach:
            total += max(0.0, stop - start)
            reach = stop
        elif stop > reach:
            total += stop - reach
            reach = stop
    return total
