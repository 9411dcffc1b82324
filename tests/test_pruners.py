"""The paired k-fold pruner: its decisions on fixed fold tables, and a whole job that prunes after fold 2."""

from __future__ import annotations

import random
import re
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.pruners import FAST, PairedFoldPruner, SparesLastFold
from jupyter_hpo.records import CONSTRAINT_VALUES
from jupyter_hpo.spec import EARLY_STOPPING, TuningSpec
from jupyter_hpo.store import JobStatus
from jupyter_hpo.strategies import make_pruner

#: how hard each of 5 folds is: shared by every configuration, as on real data
FOLDS = (0.780, 0.765, 0.795, 0.786, 0.772)
NOISE = 0.0015  # sd of one trial's fold score around its fold's level + its own quality


def fold_scores(quality: float, rng: random.Random, sign: float = 1.0) -> list[float]:
    return [sign * (f + quality + rng.gauss(0, NOISE)) for f in FOLDS]


def study_with(qualities: list[float], direction: str = "maximize", seed: int = 0) -> optuna.Study:
    """A study holding one complete trial per quality (its 5 fold scores as intermediate values)."""
    rng, sign = random.Random(seed), 1.0 if direction == "maximize" else -1.0
    study = optuna.create_study(direction=direction)
    for q in qualities:
        scores = fold_scores(q, rng, sign)
        study.add_trial(create_trial(value=sum(scores) / 5, intermediate_values=dict(enumerate(scores)),
                                     params={}, distributions={}))
    return study


def running(scores: list[float]) -> optuna.trial.FrozenTrial:
    return create_trial(state=TrialState.RUNNING, intermediate_values=dict(enumerate(scores)), params={},
                        distributions={})


def best_folds(study: optuna.Study) -> list[float]:
    return [study.best_trial.intermediate_values[i] for i in range(5)]


TABLE = [0.0, -0.004, -0.008, -0.002, -0.012, -0.006]  # the best is quality 0


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_trial_clearly_behind_the_best_on_its_first_2_folds_is_pruned(direction):
    study = study_with(TABLE, direction)
    sign = 1.0 if direction == "maximize" else -1.0
    best = best_folds(study)
    poor = running([best[0] - sign * 0.008, best[1] - sign * 0.007])
    decision = PairedFoldPruner().decide(study, poor)
    assert decision.prune is True and decision.folds == 2 and decision.k == 5, decision
    assert decision.mean_diff == pytest.approx(-0.0075) and decision.dof == 5 * 4
    assert PairedFoldPruner().prune(study, poor) is True


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_trial_level_with_or_ahead_of_the_best_is_not_pruned(direction):
    study = study_with(TABLE, direction)
    sign = 1.0 if direction == "maximize" else -1.0
    best = best_folds(study)
    pruner = PairedFoldPruner()
    for offset in (-0.0005, 0.0, 0.003):  # a hair behind, level, ahead
        for n in (2, 3, 4):
            scores = [best[i] + sign * offset for i in range(n)]
            assert pruner.prune(study, running(scores)) is False, (offset, n, pruner.decide(study, running(scores)))


def test_a_hard_fold_does_not_prune_a_good_trial_that_the_raw_scores_would():
    """Fold 1 is hard for every configuration: raw scores of a good trial look poor, paired ones do not."""
    study = study_with(TABLE)
    best = best_folds(study)
    good = running([best[0] + 0.001, best[1] + 0.001])
    assert sum(good.intermediate_values.values()) / 2 < study.best_value  # behind the best's mean...
    assert PairedFoldPruner().prune(study, good) is False  # ...but ahead on the same folds


def test_the_margin_shrinks_as_folds_come_in():
    study = study_with(TABLE)
    best = best_folds(study)
    behind = [best[i] - 0.0015 for i in range(4)]  # consistently 0.0015 behind
    pruner = PairedFoldPruner()
    decisions = [pruner.decide(study, running(behind[:n])) for n in (2, 3, 4)]
    assert [d.prune for d in decisions] == [False, False, True], decisions
    assert decisions[0].bound > decisions[1].bound > decisions[2].bound


def test_nothing_is_pruned_on_its_first_fold_its_last_fold_or_without_a_complete_trial():
    study = study_with(TABLE)
    best = best_folds(study)
    pruner = PairedFoldPruner()
    assert pruner.decide(study, running([best[0] - 0.05])).prune is None
    assert pruner.decide(study, running([b - 0.05 for b in best])).prune is None  # all 5: nothing to save
    assert pruner.decide(optuna.create_study(direction="maximize"), running([0.1, 0.1, 0.1])).prune is None


def test_before_enough_complete_trials_only_its_own_spread_can_prune_and_only_from_fold_3():
    study = study_with(TABLE[:3])  # 3 complete trials < n_startup_trials=4
    best = best_folds(study)
    pruner = PairedFoldPruner()
    far_behind = [best[i] - 0.05 + 0.001 * (-1) ** i for i in range(4)]
    after2 = pruner.decide(study, running(far_behind[:2]))
    assert after2.prune is None and "fewer than 4 complete trials" in after2.why
    after3 = pruner.decide(study, running(far_behind[:3]))
    assert after3.prune is True and after3.dof == 2, after3
    slightly_behind = [best[i] - 0.002 + 0.002 * (-1) ** i for i in range(3)]  # noisy: -0.000, -0.004, -0.000
    assert pruner.decide(study, running(slightly_behind)).prune is False
    # kfold_fast's looser bound waits for the complete trials too: before them it decides as kfold does
    assert PairedFoldPruner(**FAST).decide(study, running(slightly_behind)).prune is False
    assert PairedFoldPruner(**FAST).decide(study, running(far_behind[:3])).dof == 2
    assert PairedFoldPruner(n_startup_trials=3).decide(study, running(far_behind[:2])).prune is True


def test_the_chance_that_a_pruned_trial_would_have_beaten_the_best_is_small():
    """Under the model (a trial's folds = the folds' levels + its quality + noise), few pruned trials would have
    finished better than the best (the false-prune rate), while clearly worse trials mostly are pruned."""
    study = study_with(TABLE, seed=1)
    pruner, rng = PairedFoldPruner(risk=0.02), random.Random(7)
    best_value = study.best_value
    pruned_total = winners = pruned_winners = losers = pruned_losers = 0
    for _ in range(1000):
        q = rng.uniform(-0.01, 0.004)
        scores = fold_scores(q, rng)
        pruned = pruner.prune(study, running(scores[:2]))
        pruned_total += pruned
        if sum(scores) / 5 > best_value:
            winners, pruned_winners = winners + 1, pruned_winners + pruned
        elif q < -0.006:
            losers, pruned_losers = losers + 1, pruned_losers + pruned
    assert winners >= 100 and losers >= 200 and pruned_total >= 300
    assert pruned_winners / pruned_total <= 0.02, (pruned_winners, pruned_total)
    assert pruned_winners / winners <= 0.05, (pruned_winners, winners)
    assert pruned_losers / losers >= 0.6, (pruned_losers, losers)


def test_kfold_fast_stops_a_trial_far_behind_after_its_first_fold_where_kfold_waits():
    study = study_with(TABLE)
    best = best_folds(study)
    far_behind = running([best[0] - 0.006])
    assert PairedFoldPruner().decide(study, far_behind).prune is None  # kfold: not before fold 2
    assert PairedFoldPruner(**FAST).prune(study, far_behind) is True
    assert PairedFoldPruner(**FAST).prune(study, running([best[0] - 0.0005])) is False  # a hair behind: kept


def test_kfold_fast_trades_more_stopped_would_be_winners_for_cheaper_runs():
    """What FAST's docstring says: where many trials end near the best (this synthetic model: about a quarter of
    them beat it), it stops more of those that would have become the best than kfold, about 3 in 10, and saves
    more folds."""
    def run(pruner: PairedFoldPruner) -> tuple[float, int]:
        study, rng = study_with(TABLE, seed=1), random.Random(7)
        winners = stopped_winners = folds = 0
        for _ in range(1000):
            scores = fold_scores(rng.uniform(-0.01, 0.004), rng)
            n = next((n for n in range(pruner.min_folds, 5) if pruner.prune(study, running(scores[:n]))), 5)
            folds += n
            if sum(scores) / 5 > study.best_value:
                winners, stopped_winners = winners + 1, stopped_winners + (n < 5)
        return stopped_winners / winners, folds

    (kfold_lost, kfold_folds), (fast_lost, fast_folds) = run(PairedFoldPruner()), run(PairedFoldPruner(**FAST))
    assert kfold_lost <= 0.05 and 0.2 <= fast_lost <= 0.4, (kfold_lost, fast_lost)
    assert fast_folds < 0.85 * kfold_folds, (fast_folds, kfold_folds)


@pytest.mark.parametrize("kwargs, message", [
    ({"risk": 0.5}, "`risk` must be a number between 0 and 0.5 (exclusive), but got 0.5."),
    ({"risk": True}, "`risk` must be a number between 0 and 0.5 (exclusive), but got True."),
    ({"n_startup_trials": 2}, "`n_startup_trials` must be an integer >= 3, but got 2."),
    ({"min_folds": 0}, "`min_folds` must be an integer >= 1, but got 0."),
])
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        PairedFoldPruner(**kwargs)


def minimal(**kw: Any) -> dict[str, Any]:
    return {"name": "p", "trial": {"function": lambda p: 0.0}, "space": {"x": {"type": "float", "low": 0, "high": 1}},
            **kw}


def test_kfold_is_the_paired_pruner_and_wilcoxon_stays_selectable():
    assert isinstance(make_pruner(TuningSpec.from_dict(minimal(early_stopping="kfold"))), PairedFoldPruner)
    wilcoxon = make_pruner(TuningSpec.from_dict(minimal(early_stopping="kfold_wilcoxon")))
    assert isinstance(wilcoxon, SparesLastFold) and isinstance(wilcoxon.pruner, optuna.pruners.WilcoxonPruner)
    fast = make_pruner(TuningSpec.from_dict(minimal(early_stopping="kfold_fast")))
    assert isinstance(fast, PairedFoldPruner) and (fast.risk, fast.min_folds) == (0.2, 1) and FAST == {
        "risk": fast.risk, "min_folds": fast.min_folds}
    assert "kfold_wilcoxon" in EARLY_STOPPING
    with pytest.raises(SpecError, match=re.escape("`early_stopping` must be one of off, median, hyperband, kfold, "
                                                  "kfold_fast, kfold_wilcoxon, but got 'wilcoxon'.")):
        TuningSpec.from_dict(minimal(early_stopping="wilcoxon"))


# -- a whole job through the real runner ----------------------------------------------------------

def synthetic_cv(p: dict[str, Any]) -> float:
    """5 folds whose levels every configuration shares; quality rises with ``x``; reports each fold."""
    import hashlib

    from jupyter_hpo import trial

    levels = (0.780, 0.765, 0.795, 0.786, 0.772)
    scores = []
    for i, level in enumerate(levels):
        h = int(hashlib.sha256(f"{p['x']:.12f}/{i}".encode()).hexdigest()[:8], 16) / 16**8  # noise in [0, 1)
        score = level + 0.05 * p["x"] + 0.002 * (h - 0.5)
        scores.append(score)
        trial.report(score, i)
        if trial.should_prune():
            raise trial.TrialPruned(f"pruned after fold {i + 1} of 5")
    return sum(scores) / len(scores)


def test_a_job_with_kfold_early_stopping_prunes_poor_trials_after_fold_2(home):
    job = api.launch(objective=synthetic_cv, space={"x": {"type": "float", "low": 0, "high": 1}}, strategy="random",
                     seed=3, early_stopping="kfold", max_trials=16, max_parallel=1, name="paired-kfold")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    records = job.trial_records()
    assert len(records) == 16
    pruned = [r for r in records if r["state"] == "pruned"]
    after2 = [r for r in pruned if len(r["intermediate"]) == 2]
    assert after2, [(r["state"], len(r["intermediate"]), r["params"]["x"]) for r in records]
    assert all(len(r["intermediate"]) >= 2 for r in pruned)
    complete = [r for r in records if r["state"] == "complete"]
    best = max(complete, key=lambda r: r["value"])
    assert job.best["value"] == best["value"]
    # every trial pruned after fold 2 was behind the best complete trial at that time, on those same folds
    for r in after2:
        earlier = [c for c in complete if c["number"] < r["number"]]
        top = max(earlier, key=lambda c: c["value"])
        assert sum(r["intermediate"][i] - top["intermediate"][i] for i in ("0", "1")) < 0, (r, top)


def test_the_best_to_beat_is_the_best_feasible_trial():
    """With constraints, a trial is judged against the best *feasible* trial: against an infeasible one (which
    is never the best) the trials the constraints ask for were pruned, and a job could end with none."""
    study = study_with(TABLE)
    top = study.best_trial
    study = optuna.create_study(direction="maximize")
    for t in study_with(TABLE).trials:  # the best (quality 0) broke a constraint; the next best is quality -0.002
        infeasible = t.number == top.number
        study.add_trial(create_trial(value=t.value, intermediate_values=t.intermediate_values, params={},
                                     distributions={}, user_attrs={"constraint_values": [0.3 if infeasible else -0.1]}))
    second = next(t for t in study.trials if t.number == 3)
    between = running([second.intermediate_values[i] + 0.0015 for i in range(2)])  # behind the infeasible one
    assert PairedFoldPruner().prune(study, between) is False, PairedFoldPruner().decide(study, between)
    poor = running([second.intermediate_values[i] - 0.008 for i in range(2)])
    assert PairedFoldPruner().decide(study, poor).prune is True
    nothing = optuna.create_study(direction="maximize")  # no feasible trial at all: nothing to beat, none pruned
    for t in study.trials:
        nothing.add_trial(create_trial(value=t.value, intermediate_values=t.intermediate_values, params={},
                                       distributions={}, user_attrs={"constraint_values": [0.2]}))
    assert PairedFoldPruner().decide(nothing, poor).prune is None


def better_first_then_worse(p: dict[str, Any]) -> float:
    """i = 0 scores 0.5 on all 5 folds; the others a little better on fold 1 and worse on each later fold."""
    from jupyter_hpo import trial

    scores = [0.5] * 5 if p["i"] == 0 else [0.501, 0.49 - p["i"] * 1e-4, 0.48, 0.47, 0.46]
    for f, score in enumerate(scores):
        trial.report(score, f)
        if trial.should_prune():
            raise trial.TrialPruned(f"pruned after fold {f + 1}")
    return sum(scores) / 5


def test_kfold_wilcoxon_never_prunes_a_trial_at_its_last_fold(home):
    """Optuna's Wilcoxon pruner could prune after the 5th of 5 folds: nothing saved, the value thrown away."""
    job = api.launch(objective=better_first_then_worse, space={"i": {"type": "int", "low": 0, "high": 5}},
                     strategy="grid", seed=1, early_stopping="kfold_wilcoxon", max_trials=6, max_parallel=1,
                     name="wilcoxon-last")
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    table = [(r["params"]["i"], r["state"], len(r["intermediate"])) for r in records]
    assert all(len(r["intermediate"]) < 5 for r in records if r["state"] == "pruned"), table
    assert all(r["state"] == "complete" for r in records if len(r["intermediate"]) == 5), table


def cv_with_calibration(p: dict[str, Any]) -> dict[str, float]:
    """synthetic_cv's folds (quality rises with x) and a calibration error ``cal = x``: x <= 0.5 is feasible."""
    return {"objective": synthetic_cv(p), "cal": p["x"]}


def test_a_kfold_job_with_a_constraint_keeps_its_feasible_trials(home):
    job = api.launch(objective=cv_with_calibration, space={"x": {"type": "float", "low": 0, "high": 1}},
                     strategy="random", seed=0, early_stopping="kfold", max_trials=16, max_parallel=1,
                     constraints={"cal": {"max": 0.5}}, name="kfold-constrained")
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = sorted(job.trial_records(), key=lambda r: r["number"])
    table = [(r["number"], r["state"], round(r["params"]["x"], 3)) for r in records]
    assert job.best is not None and job.best["params"]["x"] <= 0.5, table
    pruned = [r for r in records if r["state"] == "pruned"]
    assert pruned, table  # or the check below proves nothing
    for r in pruned:  # each was behind the best feasible complete trial before it, on the folds it reported
        earlier = [c for c in records if c["number"] < r["number"] and c["state"] == "complete" and c["feasible"]]
        assert earlier, (r["number"], table)
        top = max(earlier, key=lambda c: c["value"])
        folds = sorted(r["intermediate"])
        behind = sum(r["intermediate"][f] - top["intermediate"][f] for f in folds)
        assert behind < 0, (r["number"], top["number"], table)


def test_a_median_job_with_a_constraint_finds_the_best_feasible_trial(home):
    """Optuna's median pruner took the median over every complete trial: the infeasible ones (x > 0.5, the best
    scores) raised it, every feasible trial near the bound was pruned, and the job's best was x = 0.1."""
    job = api.launch(objective=cv_with_calibration, space={"x": {"type": "float", "low": 0, "high": 1, "step": 0.05}},
                     strategy="grid", seed=3, early_stopping="median", max_trials=21, max_parallel=1,
                     constraints={"cal": {"max": 0.5}}, name="median-constrained")
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    table = sorted((r["number"], r["state"], round(r["params"]["x"], 2), r["feasible"]) for r in records)
    assert job.best is not None and job.best["params"]["x"] == pytest.approx(0.5), table
    assert any(r["state"] == "pruned" for r in records), table  # it pruned, among the feasible trials


def test_the_median_pruner_judges_against_the_jobs_own_feasible_trials_only():
    """Infeasible complete trials do not raise the median; trials taken from earlier jobs (``warm_start``: no
    folds) do not count towards its 5 start-up trials."""
    rng = random.Random(4)
    pruner = make_pruner(TuningSpec.from_dict(minimal(early_stopping="median")))
    study = optuna.create_study(direction="maximize")
    for quality, feasible in [(0.0, True), (-0.01, True), (-0.02, True), (-0.03, True), (-0.04, True),
                              (0.05, False), (0.06, False), (0.07, False), (0.08, False), (0.09, False)]:
        scores = fold_scores(quality, rng)
        study.add_trial(create_trial(value=sum(scores) / 5, intermediate_values=dict(enumerate(scores)), params={},
                                     distributions={}, user_attrs={CONSTRAINT_VALUES: [-0.1 if feasible else 0.3]}))
    near_the_feasible_best = running(fold_scores(-0.005, rng)[:2])
    assert pruner.prune(study, near_the_feasible_best) is False  # above the feasible median; below all 10's
    assert pruner.prune(study, running(fold_scores(-0.2, rng)[:2])) is True

    seeded = optuna.create_study(direction="maximize")  # 6 from an earlier job, 3 of its own: still starting up
    for _ in range(6):
        seeded.add_trial(create_trial(value=0.9, params={}, distributions={}))
    for quality in (0.0, -0.01, -0.02):
        scores = fold_scores(quality, rng)
        seeded.add_trial(create_trial(value=sum(scores) / 5, intermediate_values=dict(enumerate(scores)), params={},
                                      distributions={}))
    assert pruner.prune(seeded, running(fold_scores(-0.2, rng)[:2])) is False


def test_a_job_with_kfold_fast_early_stopping_prunes_poor_trials_after_fold_1(home):
    job = api.launch(objective=synthetic_cv, space={"x": {"type": "float", "low": 0, "high": 1}}, strategy="random",
                     seed=3, early_stopping="kfold_fast", max_trials=16, max_parallel=1, name="paired-kfold-fast")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    records = job.trial_records()
    pruned = [r for r in records if r["state"] == "pruned"]
    after1 = [r for r in pruned if len(r["intermediate"]) == 1]
    assert len(records) == 16 and after1, [(r["state"], len(r["intermediate"]), r["params"]["x"]) for r in records]
    complete = [r for r in records if r["state"] == "complete"]
    for r in after1:  # behind the best complete trial at that time, on its first fold
        top = max((c for c in complete if c["number"] < r["number"]), key=lambda c: c["value"])
        assert r["intermediate"]["0"] < top["intermediate"]["0"], (r, top)


def seeded_best(study: optuna.Study, value: float) -> None:
    """A trial taken from an earlier job (``warm_start``): its value, but no fold scores."""
    study.add_trial(create_trial(value=value, params={}, distributions={}, user_attrs={"seeded_from": "earlier"}))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_kfold_wilcoxon_prunes_in_a_warm_started_job_whose_best_came_from_an_earlier_job(direction):
    """Optuna's pruner compares with ``study.best_trial``: a seeded best has no folds, so it never pruned."""
    study = study_with(TABLE, direction)
    sign = 1.0 if direction == "maximize" else -1.0
    best = best_folds(study)
    poor = running([b - sign * 0.01 for b in best[:4]])
    pruner = make_pruner(TuningSpec.from_dict(minimal(early_stopping="kfold_wilcoxon")))
    assert pruner.prune(study, poor) is True  # without warm start
    seeded_best(study, sign * 0.9)  # far better than any trial of this job
    assert study.best_trial.intermediate_values == {}
    assert pruner.prune(study, poor) is True
    close = running([b + sign * 0.001 for b in best[:4]])  # beats this job's best on every fold: kept
    assert pruner.prune(study, close) is False


def test_kfold_wilcoxon_compares_with_the_best_feasible_trial():
    """A best trial that broke a constraint is not the best: a trial behind it but ahead of the best feasible one
    is kept (a random search's study has no constraints for Optuna's ``best_trial`` to read)."""
    study = study_with(TABLE)
    feasible = best_folds(study)
    study.add_trial(create_trial(value=sum(feasible) / 5 + 0.02, params={}, distributions={},
                                 intermediate_values={i: v + 0.02 for i, v in enumerate(feasible)},
                                 user_attrs={CONSTRAINT_VALUES: [0.5]}))
    between = running([v + 0.01 for v in feasible[:4]])
    pruner = make_pruner(TuningSpec.from_dict(minimal(early_stopping="kfold_wilcoxon")))
    assert pruner.prune(study, between) is False
