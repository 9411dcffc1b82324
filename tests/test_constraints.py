"""Constraints on the metrics a trial returns: recorded, never the best, known to the sampler (real runner and pool)."""

from __future__ import annotations

import json
import re

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus
from tests.test_mlflow import mlflow_env, mlflow_server  # noqa: F401 - fixtures

GRID = {"x": {"type": "float", "low": 0, "high": 1, "step": 0.25}}


def calibrated(p):
    """The higher x, the better the objective, and the worse the calibration error."""
    return {"objective": p["x"], "calibration_error": p["x"] / 10}


def test_the_best_is_the_best_feasible_trial_and_infeasible_ones_say_why(home):
    job = api.launch(objective=calibrated, space=GRID, strategy="grid", seed=0, max_trials=5, name="constrained",
                     constraints={"calibration_error": {"max": 0.05}})
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    by_x = {r["params"]["x"]: r for r in job.trial_records()}
    assert sorted(by_x) == [0.0, 0.25, 0.5, 0.75, 1.0]
    for x, r in by_x.items():
        assert r["state"] == "complete"
        assert r["feasible"] is (x <= 0.5), r
    assert by_x[0.5]["violations"] == []
    assert by_x[0.75]["violations"] == ["calibration_error=0.075 > max 0.05"]
    # trials 0.75 and 1.0 have better values, but broke the constraint
    assert job.best["params"] == {"x": 0.5} and job.best["value"] == 0.5
    assert job.summary()["best"]["number"] == by_x[0.5]["number"]
    listed = next(j for j in api.list_jobs() if j["name"] == "constrained")  # an ended job's summary, from rows
    assert listed["best"]["number"] == by_x[0.5]["number"]
    curve = api.compare("constrained")["constrained"]["curve"]
    assert max(point["best"] for point in curve) == 0.5
    df = job.trials()
    assert list(df.sort_values("param_x")["feasible"]) == [True, True, True, False, False]


def test_optuna_load_study_names_the_same_feasible_best(home):
    """The store is a plain Optuna database (optuna.load_study, optuna-dashboard): Optuna's best_trial skips
    trials whose `constraints` system attribute is above 0, which the runner gave only to its own study, so
    Optuna named an infeasible trial best where jupyter-hpo named a feasible one."""
    import optuna

    job = api.launch(objective=calibrated, space=GRID, strategy="grid", seed=0, max_trials=5, name="loaded",
                     constraints={"calibration_error": {"max": 0.05}})
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    study = optuna.load_study(study_name="loaded", storage=job.store.url)
    assert study.best_trial.number == job.best["number"] and study.best_trial.params == {"x": 0.5}
    assert {t.params["x"]: t.system_attrs["constraints"][0] <= 0 for t in study.trials} == {
        0.0: True, 0.25: True, 0.5: True, 0.75: False, 1.0: False}


def nonfinite_latency(p):
    """Latency NaN at x = 0, infinite at x = 0.25, else 1 + x."""
    return {"objective": p["x"], "latency": {0.0: float("nan"), 0.25: float("inf")}.get(p["x"], 1 + p["x"])}


def test_a_constrained_metric_returned_as_nan_or_inf_is_said_to_be_so_not_missing(home):
    """The trial did return the metric: its violation says what it was (it said "missing")."""
    job = api.launch(objective=nonfinite_latency, space=GRID, strategy="grid", seed=0, max_trials=5, name="lat",
                     constraints={"latency": {"max": 1.6}})
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    by_x = {r["params"]["x"]: r for r in job.trial_records()}
    assert [(x, by_x[x]["feasible"], by_x[x]["violations"]) for x in sorted(by_x)] == [
        (0.0, False, ["latency=nan is not a finite number"]), (0.25, False, ["latency=inf is not a finite number"]),
        (0.5, True, []), (0.75, False, ["latency=1.75 > max 1.6"]), (1.0, False, ["latency=2 > max 1.6"])]
    assert job.best["params"] == {"x": 0.5}


def test_without_constraints_feasible_is_null(home):
    job = api.launch(objective=calibrated, space=GRID, strategy="grid", seed=0, max_trials=2, name="free")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert [(r["feasible"], r["violations"]) for r in job.trial_records()] == [(None, [])] * 2


def test_a_min_bound_and_the_objective_metric_itself_can_be_constrained(home):
    job = api.launch(objective=calibrated, space=GRID, strategy="grid", seed=0, max_trials=5, name="bounded",
                     direction="minimize", constraints={"objective": {"min": 0.3}})
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    assert job.best["params"] == {"x": 0.5}  # the lowest value that is at least 0.3
    infeasible = sorted(r["params"]["x"] for r in job.trial_records() if r["feasible"] is False)
    assert infeasible == [0.0, 0.25]


def test_the_sampler_steers_towards_feasible_trials(home):
    job = api.launch(objective=calibrated, space={"x": {"type": "float", "low": 0, "high": 1}}, seed=1,
                     max_trials=30, max_parallel=1, name="steered", constraints={"calibration_error": {"max": 0.05}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = sorted(job.trial_records(), key=lambda r: r["number"])
    late = records[10:]  # after TPE's start-up trials
    # TPE without the constraint pushes x towards 1: 0-2 of these 20 trials within it (in-process Optuna, seeds
    # 0-5); knowing it, 10-13
    assert sum(r["feasible"] for r in late) >= 8, [r["params"]["x"] for r in late]
    assert 0.4 < job.best["params"]["x"] <= 0.5


def test_a_constraint_on_a_metric_no_trial_returns_is_noted_and_the_job_goes_on(home):
    job = api.launch(objective=calibrated, space=GRID, strategy="grid", seed=0, max_trials=5, name="missing",
                     constraints={"latency_ms": {"max": 10}})
    assert job.wait(timeout=120) == JobStatus.FAILED
    assert job.attrs["reason"] == "no feasible trial (budget of 5 trials reached): 5 complete trial(s) broke a constraint"
    notes = [n["text"] for n in job.attrs["notes"] if "latency_ms" in n["text"]]
    assert len(notes) == 1  # said once, after the first trial that lacked it
    assert notes[0].startswith("constraint on 'latency_ms': trial ") and "it returned calibration_error" in notes[0]
    records = job.trial_records()
    assert len(records) == 5 and all(r["violations"] == ["latency_ms missing"] for r in records)
    assert job.best is None
    # what has no best says why: its trials completed, and broke a constraint (not "no complete trial")
    from jupyter_hpo.exceptions import ArtifactNotFoundError, JobStateError

    why = re.escape("no feasible trial: 5 complete trial(s) broke a constraint")
    with pytest.raises(JobStateError, match=rf"^job 'missing' has {why}, so there is nothing to refit\.$"):
        job.refit()
    with pytest.raises(ArtifactNotFoundError, match=rf"^job 'missing' has {why}, so it has no best model\.$"):
        job.best_model()


@pytest.mark.parametrize("constraints, message", [
    ({"calibration_error": {"maximum": 0.05}}, "unknown field(s) `constraints.calibration_error.maximum`; allowed: max, min."),
    ({"calibration_error": {}}, "`constraints.calibration_error` needs `min`, `max` or both, but got neither."),
    ({"calibration_error": {"min": 0.5, "max": 0.1}}, "needs min <= max, but got min=0.5, max=0.1."),
    ({"calibration_error": {"max": "low"}}, "`constraints.calibration_error.max` must be a finite number"),
    ({"calibration_error": 0.05}, "`constraints.calibration_error` must be a mapping with `min`, `max` or both"),
    ([0.05], "`constraints` must map metric names to {min, max} bounds"),
])
def test_bad_constraints_are_refused_and_nothing_is_written(home, constraints, message):
    with pytest.raises(SpecError) as e:
        api.launch(objective=calibrated, space=GRID, name="bad", constraints=constraints)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert api.list_jobs() == []


@pytest.mark.parametrize("pruning, what", [({"strategy": "hyperband"}, "`strategy: hyperband`"),
                                           ({"early_stopping": "hyperband"}, "`early_stopping: hyperband`")])
def test_hyperband_is_refused_with_constraints_and_nothing_is_written(home, pruning, what):
    """Hyperband ranks every trial at a rung, infeasible ones included: it stopped the trials the constraints ask
    for, and the job's best came out worse (median and the k-fold pruners judge against feasible trials only)."""
    with pytest.raises(SpecError) as e:
        api.launch(objective=calibrated, space=GRID, name="hb", constraints={"calibration_error": {"max": 0.05}},
                   **pruning)
    assert str(e.value) == (f"{what} ranks the trials at each rung by their reported steps, infeasible ones "
                            "included, so it would stop the very trials `constraints` ask for; use `early_stopping: "
                            "kfold`, `kfold_fast` or `median` (which judge against feasible trials only) with "
                            "constraints on 'calibration_error'.")
    assert api.list_jobs() == []


def test_constraints_round_trip_and_are_refused_where_they_cannot_be_checked(home, tmp_path):
    data = {"name": "c", "trial": {"function": calibrated}, "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "constraints": {"calibration_error": {"max": 0.05}, "size_mb": {"min": 1, "max": 50}}}
    spec = TuningSpec.from_dict(data)
    assert spec.to_dict()["constraints"] == {"calibration_error": {"max": 0.05}, "size_mb": {"min": 1, "max": 50}}
    script = tmp_path / "train.py"
    script.write_text("print('objective=1')\n")
    with pytest.raises(SpecError, match=r"a script's output gives only the objective metric"):
        TuningSpec.from_dict({**data, "trial": {"script": str(script)}})
    # the advice names what works: `backend: sagemaker` refuses them too (its trials are scripts)
    with pytest.raises(SpecError, match=r"SageMaker AMT has no constraints.*they work on the local backend with a "
                                        r"function objective") as refused:
        api.launch({**data, "trial": {"script": str(script)},
                    "backend": {"name": "amt", "options": {"simulate": {}}}})
    assert "backend: sagemaker" not in str(refused.value)
    assert api.list_jobs() == []


def test_the_cli_shows_infeasible_trials_and_the_feasible_best(home, tmp_path):
    from tests.test_cli import hpo

    (tmp_path / "objective.py").write_text("def f(p):\n    return {'objective': p['x'], 'calibration_error': p['x'] / 10}\n")
    spec = tmp_path / "c.yaml"
    spec.write_text("name: cli-constrained\ntrial: {function: 'objective.py:f'}\nstrategy: grid\n"
                    "space: {x: {type: float, low: 0, high: 1, step: 0.5}}\nbudget: {max_trials: 3}\n"
                    "constraints: {calibration_error: {max: 0.05}}\n")
    out = hpo(home, "launch", str(spec), "--json")
    assert out.returncode == 0, out.stderr
    shown = hpo(home, "show", "cli-constrained")
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if "infeasible" in line]
    assert len(lines) == 1 and "calibration_error=0.1 > max 0.05" in lines[0] and "x=1" in lines[0], shown.stdout
    assert json.loads(hpo(home, "show", "cli-constrained", "--json").stdout)["job"]["best"]["params"] == {"x": 0.5}
    # all infeasible: the summary line says so (it said "no result yet" of a finished job)
    spec.write_text(spec.read_text().replace("cli-constrained", "cli-none").replace("max: 0.05", "max: -1"))
    assert hpo(home, "launch", str(spec), "--json").returncode == 1
    shown = " ".join(hpo(home, "show", "cli-none").stdout.split())  # the terminal's line breaks: spaces
    assert "no feasible trial (budget of 3 trials reached): 3 complete trial(s) broke a constraint" in shown, shown
    assert "; no feasible trial;" in shown and "no result yet" not in shown, shown


def saves_calibrated(p):
    from jupyter_hpo import trial

    trial.save_model({"x": p["x"]})
    return {"objective": p["x"], "calibration_error": p["x"] / 10}


def test_the_kept_artifacts_are_those_of_the_best_feasible_trials(home):
    from jupyter_hpo import artifacts

    job = api.launch(objective=saves_calibrated, space=GRID, strategy="grid", seed=0, max_trials=5, max_parallel=1,
                     name="kept", constraints={"calibration_error": {"max": 0.05}}, artifacts={"keep_best": 1})
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    by_x = {r["params"]["x"]: r for r in job.trial_records()}
    assert job.attrs["artifacts_kept"] == {str(by_x[0.5]["number"]): by_x[0.5]["artifact"]}
    assert artifacts.load_model(job) == {"x": 0.5}


def gated_calibrated(p):
    """``calibrated``; from the 7th trial on, only once the file ``p["gate"]`` exists (at most 60 s)."""
    import os
    import time

    with open(f"{p['gate']}.started", "a") as started:
        started.write(".")
    with open(f"{p['gate']}.started") as started:
        if len(started.read()) > 6:
            deadline = time.time() + 60
            while not os.path.exists(p["gate"]) and time.time() < deadline:
                time.sleep(0.05)
    return calibrated(p)


def test_a_resumed_job_keeps_its_constraints_and_its_feasible_best(home, tmp_path):
    from tests.conftest import wait_for

    gate = tmp_path / "gate"  # the job is stopped part-way on any machine (a timed one ran to its end on a loaded CI)
    job = api.launch(objective=gated_calibrated, space={"x": {"type": "float", "low": 0, "high": 1}}, seed=4,
                     max_trials=16, max_parallel=2, name="cons-resume", hyperparameters={"gate": str(gate)},
                     constraints={"calibration_error": {"max": 0.05}})
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) >= 6, timeout=120)
    assert job.stop(timeout=60) == JobStatus.STOPPED
    gate.touch()
    job.resume()
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    done = [r for r in job.trial_records() if r["state"] == "complete"]
    assert len(done) == 16
    assert all(r["feasible"] is (r["params"]["x"] <= 0.5) for r in done)
    feasible = [r for r in done if r["feasible"]]
    assert job.best["number"] == max(feasible, key=lambda r: r["value"])["number"]
    assert any(r["value"] > job.best["value"] for r in done)  # a better, infeasible trial was passed over


def test_the_mlflow_parent_run_names_the_best_feasible_trial(mlflow_env):
    from tests.test_mlflow import parent_run

    job = api.launch(objective=calibrated, space=GRID, strategy="grid", seed=0, max_trials=5, max_parallel=1,
                     name="cons-mlflow", constraints={"calibration_error": {"max": 0.05}}, tracking={"mlflow": {}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    parent = parent_run(mlflow_env, "cons-mlflow")
    assert parent.data.metrics["best_value"] == 0.5  # not 1.0 nor 0.75: those broke the constraint
    assert parent.data.tags["jupyter_hpo.best_trial"] == str(job.best["number"])
