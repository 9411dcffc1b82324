"""Parameter importance early: from the 5th trial, pruned trials counted by the folds they reported, and a note
saying what it rests on (jupyter_hpo.analytics.importance; the dashboard shows it)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from jupyter_hpo import api
from jupyter_hpo.analytics import MIN_TRIALS_FOR_IMPORTANCE, importance, param_importance
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets import Dashboard

SPACE = {"x": {"type": "float", "low": 0, "high": 1}, "noise": {"type": "int", "low": 0, "high": 12},
         "kind": ["a", "b"]}
#: how hard each of 5 folds is, shared by every configuration: the first two are much easier
LEVELS = (0.90, 0.88, 0.70, 0.69, 0.71)


def jitter(*key: Any) -> float:
    """A fixed pseudo-random number in [0, 1) for ``key``."""
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:8], 16) / 16**8


def params(i: int) -> dict[str, Any]:
    return {"x": round(jitter("x", i), 4), "noise": int(jitter("noise", i) * 13), "kind": "ab"[i % 2]}


def complete(i: int, score: float, folds: bool = False) -> dict[str, Any]:
    """A complete trial's row; with ``folds``, it reported 5 folds of mean ``score`` + the levels' offsets."""
    p = params(i)
    steps = [[f, level - 0.8 + score + 0.001 * jitter("f", i, f)] for f, level in enumerate(LEVELS)] if folds else []
    value = sum(s[1] for s in steps) / len(steps) if folds else score
    return {"number": i, "state": "complete", "value": value, "params": p, "steps": steps,
            "fold_mean": value if folds else None}


def pruned(i: int, score: float, n_folds: int | None) -> dict[str, Any]:
    """A pruned trial's row: ``n_folds`` folds reported (or, with None, 2 epochs through ``trial.report``)."""
    if n_folds is None:
        return {"number": i, "state": "pruned", "value": None, "params": params(i), "fold_mean": None,
                "steps": [[0, score - 0.2], [1, score - 0.1]]}
    steps = [[f, LEVELS[f] - 0.8 + score + 0.001 * jitter("f", i, f)] for f in range(n_folds)]
    return {"number": i, "state": "pruned", "value": None, "params": params(i), "steps": steps,
            "fold_mean": sum(s[1] for s in steps) / n_folds}


def failed(i: int) -> dict[str, Any]:
    return {"number": i, "state": "fail", "value": None, "params": params(i), "steps": [], "fold_mean": None}


def quality(i: int) -> float:
    """What trial i scores (on average over the folds): driven by x alone."""
    return 0.7 + 0.1 * params(i)["x"]


# -- when it appears and what the note says --------------------------------------------------------
def test_nothing_is_shown_at_4_trials_and_the_shares_appear_at_the_5th():
    rows = [complete(i, quality(i)) for i in range(5)]
    at4 = importance(rows[:4], SPACE)
    assert at4.shares == {} and param_importance(rows[:4], SPACE) == {}
    assert at4.note == "Importance appears once 5 trials have finished with a value or fold scores (4 so far)."
    at5 = importance(rows, SPACE)
    assert set(at5.shares) == set(SPACE) and sum(at5.shares.values()) == pytest.approx(1, abs=1e-3)
    assert (at5.complete, at5.pruned, at5.folds, at5.left_out) == (5, 0, None, 0)
    assert at5.note == "From 5 complete trials."
    assert MIN_TRIALS_FOR_IMPORTANCE == 5


def test_trials_that_all_score_the_same_rank_no_parameter_and_the_note_says_why():
    """Every share read 0.0% under "From 8 complete trials.", as if it were a result."""
    rows = [complete(i, 1.0) for i in range(8)]
    found = importance(rows, SPACE)
    assert found.shares == {} and param_importance(rows, SPACE) == {}
    assert found.note == "No parameter ranks above another: the 8 trials counted all score the same."
    # a U-shaped effect has no rank correlation: not said to be all the same (the regression review)
    u_shaped = [{**complete(i, [0.7, 0.8, 0.9, 0.8, 0.7][i]), "params": {**params(i), "x": i + 1}} for i in range(5)]
    found = importance(u_shaped, {"x": {"type": "int", "low": 1, "high": 5}})
    assert found.shares == {} and found.note == ("No parameter ranks above another: none shows a monotone effect "
                                                 "(or, for a choice, a difference) in the 5 trials counted.")


def test_a_failed_trial_does_not_count_towards_the_5():
    rows = [complete(i, quality(i)) for i in range(4)] + [failed(4)]
    found = importance(rows, SPACE)
    assert found.shares == {} and "(4 so far)" in found.note
    found = importance([*rows, complete(5, quality(5))], SPACE)
    assert found.shares and found.note == "From 5 complete trials."


def test_a_pruned_heavy_job_gets_importance_from_the_folds_its_pruned_trials_reported():
    rows = [complete(i, quality(i), folds=True) for i in range(3)]
    rows += [pruned(i, quality(i), n_folds=2) for i in range(3, 7)]
    assert param_importance([r for r in rows if r["state"] == "complete"], SPACE) == {}, "3 complete trials alone"
    found = importance(rows, SPACE)
    assert (found.complete, found.pruned, found.folds, found.left_out) == (3, 4, 2, 0)
    assert found.note == "From 3 complete and 4 pruned trials, each scored by its mean over its first 2 folds."
    assert next(iter(found.shares)) == "x", found.shares


def test_trials_are_compared_on_the_same_folds():
    # the pruned trials are the poor ones (low x) but reported only the 2 easy folds: compared with the complete
    # trials' means over all 5 folds they would look best, hiding that x drives the score
    order = sorted(range(16), key=lambda i: params(i)["x"])
    rows = [pruned(i, quality(i), n_folds=2) for i in order[:10]] + [complete(i, quality(i), folds=True)
                                                                      for i in order[10:]]
    found = importance(rows, SPACE)
    assert found.folds == 2 and (found.complete, found.pruned) == (6, 10)
    assert next(iter(found.shares)) == "x" and found.shares["x"] > 0.6, found.shares
    # the fewest folds any counted trial reported sets the folds compared
    found = importance([*rows, pruned(16, quality(16), n_folds=1)], SPACE)
    assert found.folds == 1 and found.pruned == 11
    assert found.note == "From 6 complete and 11 pruned trials, each scored by its mean over its first fold."


def test_pruned_trials_without_fold_scores_are_not_counted_and_the_note_says_so():
    rows = [complete(i, quality(i)) for i in range(5)] + [pruned(i, quality(i), n_folds=None) for i in range(5, 8)]
    found = importance(rows, SPACE)
    assert (found.complete, found.pruned, found.folds, found.left_out) == (5, 0, None, 3)
    assert found.note == "From 5 complete trials; 3 pruned trials without fold scores not counted."
    assert found.shares == importance(rows[:5], SPACE).shares


def test_with_a_kfold_pruner_every_trial_s_steps_are_folds_even_without_trial_folds():
    rows = [complete(i, quality(i), folds=True) for i in range(3)] + [pruned(i, quality(i), n_folds=3)
                                                                       for i in range(3, 7)]
    for r in rows:  # reported with trial.report(score, fold) rather than trial.folds: no fold_mean
        r["fold_mean"] = None
    assert importance(rows, SPACE).shares == {}
    found = importance(rows, SPACE, steps_are_folds=True)
    assert found.shares and (found.complete, found.pruned, found.folds) == (3, 4, 3)


def test_a_conditional_parameter_set_in_fewer_than_5_counted_trials_is_left_out():
    space = {**SPACE, "rate_drop": {"type": "float", "low": 0, "high": 0.5, "when": {"kind": "b"}}}
    rows = [complete(i, quality(i)) for i in range(7)]
    for r in rows:
        if r["params"]["kind"] == "b":
            r["params"]["rate_drop"] = 0.1 * r["number"]
    assert sum("rate_drop" in r["params"] for r in rows) == 3
    assert set(importance(rows, space).shares) == set(SPACE)


def test_a_numeric_parameter_with_values_of_another_kind_leaves_them_out_instead_of_failing():
    """Trials written into the store by other means (Optuna's own API) with `x` a string or null in a job whose
    spec says float: ranking compared str with float, and the REST API's job detail answered 500."""
    rows = [complete(i, quality(i)) for i in range(8)]
    rows[1]["params"]["x"], rows[2]["params"]["x"], rows[3]["params"]["x"] = "a", None, float("nan")
    found = importance(rows, SPACE)  # 5 trials with a number for x: still ranked
    assert set(found.shares) == set(SPACE) and found.shares["x"] > 0
    rows[4]["params"]["x"] = "b"  # 4 left: x is left out, the others are ranked
    assert set(importance(rows, SPACE).shares) == set(SPACE) - {"x"}


def test_a_choice_of_none_counts_as_a_value_not_as_an_absent_parameter():
    """`reg: [null, l2]`: the trials that chose null were dropped as if reg were an inactive conditional
    parameter, so reg, which decides the score here, got 0%; spelled `none`, the same data gave it the most."""
    def rows(null: Any) -> list[dict[str, Any]]:
        out = [complete(i, quality(i) / 10 + (0.5 if i % 3 else 0.0)) for i in range(9)]
        for r in out:
            r["params"]["reg"] = "l2" if r["number"] % 3 else null
        return out

    space = {**SPACE, "reg": [None, "l2"]}
    with_null = importance(rows(None), {**space, "reg": [None, "l2"]}).shares
    spelled = importance(rows("none"), {**space, "reg": ["none", "l2"]}).shares
    assert with_null == spelled
    assert next(iter(with_null)) == "reg", with_null  # the largest share first


# -- end to end: a job on the local backend, its dashboard ---------------------------------------------
def cv_objective(p: dict[str, Any]) -> float:
    """5 folds whose levels every configuration shares; quality rises with ``x``; ``noise`` does nothing."""
    from jupyter_hpo import trial

    scores = []
    for i, level in enumerate(LEVELS):
        cv_noise = int(hashlib.sha256(f"{p['x']:.12f}/{i}".encode()).hexdigest()[:8], 16) / 16**8
        scores.append(level + 0.05 * p["x"] + 0.002 * (cv_noise - 0.5))
        trial.report(scores[-1], i)
        if trial.should_prune():
            raise trial.TrialPruned(f"pruned after fold {i + 1} of 5")
    return sum(scores) / len(scores)



def test_the_dashboard_of_a_kfold_job_shows_importance_counting_its_pruned_trials(home):
    job = api.launch(objective=cv_objective, space={"x": SPACE["x"], "noise": SPACE["noise"]}, strategy="random",
                     seed=3, early_stopping="kfold", max_trials=16, max_parallel=1, name="early-importance")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    summary = job.summary()
    records = job.trial_records()
    assert summary["pruned"] > 0, [(r["state"], len(r["intermediate"])) for r in records]
    fewest = min(len(r["intermediate"]) for r in records if r["state"] in ("complete", "pruned"))
    dash = Dashboard(job)
    assert dash.importance and next(iter(dash.importance)) == "x", dash.importance
    assert dash.importance_note == (f"From {summary['complete']} complete and {summary['pruned']} pruned trials, "
                                    f"each scored by its mean over its first {fewest} folds.")
