"""Refit: the best parameters once more with ``trial.is_refit()``, from Python, the CLI and a real kernel; the
credit example end to end (tune, refit, load the models, score the data, get the recorded AUCs back)."""

from __future__ import annotations

import ast
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_hpo import api, artifacts
from jupyter_hpo.exceptions import ArtifactNotFoundError, JobStateError
from jupyter_hpo.refit import refit_name
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import EXAMPLE, REPO
from tests.test_notebook import client_for, result_text

SPACE_X = {"x": {"type": "float", "low": 0, "high": 1}}
JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def test_the_credit_example_tunes_refits_and_its_models_score_the_recorded_auc(home):
    sys.path.insert(0, str(EXAMPLE))
    try:
        import train  # the example's own loader
    finally:
        sys.path.remove(str(EXAMPLE))
    from sklearn.metrics import roc_auc_score

    from jupyter_hpo import trial

    job = api.launch(EXAMPLE / "tuning.yaml", max_trials=6, max_parallel=2, name="credit-e2e", patience=None)
    assert job.wait(timeout=900) == JobStatus.COMPLETED
    best = job.best
    X, y = train.load(str(train.DATA))

    # the best trial's artifact: its 5 fold models, each scoring its own validation fold as recorded
    fold_models = job.best_model()
    assert len(fold_models) == 5
    folds = list(trial.folds(X, y, k=5, stratified=True, seed=0))
    scores = [roc_auc_score(y[v], m.predict_proba(X[v])[:, 1]) for m, (_, v) in zip(fold_models, folds)]
    raw = next(t for t in job.raw_trials() if t.number == best["number"])
    assert scores == pytest.approx(raw.user_attrs["fold_scores"], abs=1e-12)
    assert np.mean(scores) == pytest.approx(best["value"], abs=1e-6)  # the script prints 6 decimals

    # the refit: one model on all the data, its artifact in the refit job, loaded first by best_model()
    refit = job.refit(wait=True)
    assert refit.name == "credit-e2e-refit" and refit.status == JobStatus.COMPLETED
    assert job.attrs["refit"] == "credit-e2e-refit"
    assert refit.attrs["refit_of"]["job"] == "credit-e2e" and refit.attrs["refit_of"]["trial"] == best["number"]
    (rec,) = refit.trial_records()
    assert rec["state"] == "complete" and rec["params"] == best["params"]
    assert rec["artifact"] == str(home / "jobs" / "credit-e2e-refit" / "artifacts" / "0")
    assert artifacts.model_path(job) == rec["artifact"]
    model = job.best_model()
    assert model.get_params()["max_depth"] == best["params"]["max_depth"]
    assert model.n_estimators == best["params"]["num_round"]
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) == pytest.approx(rec["value"], abs=1e-9)
    assert rec["value"] > best["value"], "in-sample AUC on all the data beats the cross-validated one"
    # the best trial's own model is still there, by number
    assert len(artifacts.load_model(job, best["number"])) == 5


def test_refit_runs_the_best_params_once_with_is_refit_and_the_same_seed(home):
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=4, seed=7, name="quad")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    refit = job.refit(wait=True)
    (rec,) = refit.trial_records()
    best_raw = next(t for t in job.raw_trials() if t.number == job.best["number"])
    refit_raw = refit.raw_trials()[0]
    assert rec["params"] == job.best["params"] and rec["value"] == job.best["value"]
    assert refit_raw.user_attrs["seed"] == best_raw.user_attrs["seed"]
    assert job.best_model() == {"x": job.best["params"]["x"], "refit": True}
    assert artifacts.load_model(job, job.best["number"]) == {"x": job.best["params"]["x"], "refit": False}
    assert job.refit().name == refit.name, "asked again, the same refit"
    assert refit.summary()["max_trials"] == 1 and refit.spec["early_stopping"] == "off"


def test_two_refits_at_once_get_the_same_refit_job(home, monkeypatch):
    """Two users refitting one job at the same moment: one started the refit, the other was told "a job named
    'quad2-refit' already exists; choose another name.", which a refit cannot do."""
    import threading

    from jupyter_hpo import refit as refit_module

    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=3, seed=7, name="quad2")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    both_looked = threading.Barrier(2, timeout=30)
    current = refit_module._current_refit
    # both have found no refit yet before either starts one: the race, every time
    monkeypatch.setattr(refit_module, "_current_refit", lambda *a: (current(*a), both_looked.wait())[0])
    outcomes: list = []

    def refit(handle) -> None:
        try:
            outcomes.append(handle.refit().name)
        except Exception as e:  # noqa: BLE001 - the test reports what it got
            outcomes.append(e)

    threads = [threading.Thread(target=refit, args=(h,)) for h in (job, api.attach("quad2", api.open_store()))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == ["quad2-refit", "quad2-refit"], outcomes
    assert sorted(j["name"] for j in api.list_jobs()) == ["quad2", "quad2-refit"], "one refit job, no -refit-2"
    assert api.attach("quad2-refit").wait(timeout=60) == JobStatus.COMPLETED


@pytest.mark.parametrize("needs", ["constraint", "objectives"])
def test_a_refit_that_cannot_measure_a_constraint_or_a_second_objective_keeps_its_model(home, needs):
    """A refit trains on all the data, so it may not measure a calibration error or a second objective. Judged on
    the parent's constraint it was infeasible, and its model was removed; with several objectives it failed."""
    two = [{"metric": "auc", "direction": "maximize"}, {"metric": "train_s", "direction": "minimize"}]
    more = {"constraints": {"ece": {"max": 0.05}}, "metric": "auc"} if needs == "constraint" else {"objectives": two}
    job = api.launch(objective=objectives.held_out_metrics, space=SPACE_X, max_trials=6, seed=3, name=needs, **more)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    refit = job.refit(wait=True)
    assert refit.status == JobStatus.COMPLETED, refit.attrs.get("reason")
    (rec,) = refit.trial_records()
    assert (rec["state"], rec["params"], rec["value"]) == ("complete", job.best["params"], job.best["params"]["x"])
    assert job.best_model() == {"x": job.best["params"]["x"], "refit": True}


def test_a_script_sees_the_refit_flag_in_its_environment(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import argparse, os\nfrom jupyter_hpo import trial\n"
        "p = argparse.ArgumentParser(); p.add_argument('--x', type=float); a = p.parse_args()\n"
        "trial.save_model({'env': os.environ['JUPYTER_HPO_REFIT'], 'refit': trial.refit})\n"
        "print(f'objective={a.x}')\n")
    job = api.launch(objective=str(script), space=SPACE_X, max_trials=2, name="script-refit")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert artifacts.load_model(job, job.best["number"]) == {"env": "0", "refit": False}
    job.refit(wait=True)
    assert job.best_model() == {"env": "1", "refit": True}


def test_refit_without_a_complete_trial_is_one_clear_error(home):
    job = api.launch(objective=objectives.faulty, space={"mode": ["raise"]}, max_trials=2, name="all-fail")
    assert job.wait(timeout=120) == JobStatus.FAILED
    with pytest.raises(JobStateError, match=r"^job 'all-fail' has no complete trial to refit\.$"):
        job.refit()
    assert "all-fail-refit" not in job.store.job_names()


def test_refit_of_a_running_job_is_refused(home):
    job = api.launch(objective=objectives.sleepy, space=SPACE_X, max_trials=20, max_parallel=1, name="busy",
                     hyperparameters={"sleep": 1.0})
    try:
        with pytest.raises(JobStateError, match=r"job 'busy' is (pending|running); refit it once it has finished"):
            job.refit()
    finally:
        job.stop()


def test_refit_names_stay_valid_job_names():
    assert refit_name("credit") == "credit-refit"
    long = "a" * 60
    assert len(refit_name(long)) == 63 and refit_name(long).endswith("-refit")
    assert refit_name("credit", 2) == "credit-refit-2" and len(refit_name(long, 12)) == 63
    TuningSpec.from_dict({"name": refit_name("b" * 56 + "-----x"), "trial": {"function": abs}, "space": SPACE_X})


def test_cli_refit_and_its_error_line(home):
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=3, name="cli-job")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    done = subprocess.run([JUPYTER, "hpo", "refit", "cli-job", "--json"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    assert '"name": "cli-job-refit"' in done.stdout and '"status": "completed"' in done.stdout
    assert job.best_model()["refit"] is True
    again = subprocess.run([JUPYTER, "hpo", "refit", "cli-job"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL, check=False)
    assert again.returncode == 0, again.stderr
    assert "job cli-job-refit is the refit of job cli-job already; trials print as they finish" in again.stdout
    assert "launched" not in again.stdout and [j["name"] for j in api.list_jobs()] == ["cli-job-refit", "cli-job"]
    failed = api.launch(objective=objectives.faulty, space={"mode": ["raise"]}, max_trials=1, name="cli-fail")
    assert failed.wait(timeout=120) == JobStatus.FAILED
    bad = subprocess.run([JUPYTER, "hpo", "refit", "cli-fail"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert bad.returncode == 2
    assert bad.stderr == "error: job 'cli-fail' has no complete trial to refit.\n"


def test_hpo_refit_and_best_load_in_a_real_kernel(home, tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("%load_ext jupyter_hpo\nfrom jupyter_hpo import trial\n\n\ndef f(params):\n"
                      "    trial.save_model({'x': params['x'], 'refit': trial.is_refit()})\n    return params['x']"),
        new_code_cell("%%hpo space space\nx: {type: float, low: 0, high: 1}"),
        new_code_cell("job = %hpo launch f --max-trials 3 --parallel 1 --name nb-job\njob.wait(timeout=120).value"),
        new_code_cell("%hpo best nb-job --load"),
        new_code_cell("r = %hpo refit nb-job --wait\nr.name, r.status.value"),
        new_code_cell("%hpo best nb-job --load"),
    ])
    client_for(nb, tmp_path).execute()
    best = api.attach("nb-job").best
    assert ast.literal_eval(result_text(nb.cells[3])) == {"x": best["params"]["x"], "refit": False}
    assert ast.literal_eval(result_text(nb.cells[4])) == ("nb-job-refit", "completed")
    assert ast.literal_eval(result_text(nb.cells[5])) == {"x": best["params"]["x"], "refit": True}


def test_a_failed_refit_is_said_never_replaced_by_the_best_trials_model(home):
    job = api.launch(objective=objectives.fails_on_refit, space=SPACE_X, max_trials=2, name="bad-refit")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    refit = job.refit(wait=True)
    assert refit.status == JobStatus.FAILED
    with pytest.raises(ArtifactNotFoundError, match=r"job 'bad-refit' was refit as 'bad-refit-refit', which has no "
                                                    r"model: its trial is fail \(RuntimeError: no data for the refit\)"):
        job.best_model()
    assert job.best_model(job.best["number"]) == {"x": job.best["params"]["x"]}
    again = job.refit(wait=True)  # a failed refit is not returned again: a new attempt runs
    assert again.name == "bad-refit-refit-2" and job.attrs["refit"] == "bad-refit-refit-2"
    assert again.attrs["refit_of"]["trial"] == job.best["number"]


def test_a_refit_of_a_trial_no_longer_the_best_is_not_given_as_the_jobs_model(home, tmp_path):
    """Refit, then resumed: a later trial is the best, yet loading, showing and registering "the job's model" gave
    the old refit (of the earlier best), saying nothing; refit() itself already took it as stale."""
    from jupyter_hpo.mlflow_tracking import MlflowError, register_model
    from tests.test_cli import hpo

    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=2, seed=1, strategy="random",
                     name="outdated")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    first = job.refit(wait=True)
    refit_of = first.attrs["refit_of"]["trial"]
    assert artifacts.model_path(job) == str(first.store.job_dir(first.name) / "artifacts" / "0")
    for budget in (6, 12, 24):  # until a later trial beats the refit one
        job.resume(max_trials=budget)
        assert job.wait(timeout=120) == JobStatus.COMPLETED
        if job.best["number"] != refit_of:
            break
    best = job.best["number"]
    assert best != refit_of
    why = (f"job 'outdated' was refit as 'outdated-refit', which repeats trial {refit_of}, no longer the best "
           f"(trial {best} is, from the trials run since): refit it again")
    with pytest.raises(ArtifactNotFoundError, match=re.escape(why)):
        job.best_model()
    with pytest.raises(MlflowError, match=re.escape(why)):
        register_model(job, "outdated-model", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    shown = hpo(home, "show", "outdated")
    assert f"refit: job outdated-refit, not the job's model: repeats trial {refit_of}, no longer the best" in shown.stdout
    again = job.refit(wait=True)  # the way on: a refit of the new best
    assert again.name == "outdated-refit-2" and again.attrs["refit_of"]["trial"] == best
    assert job.best_model() == {"x": job.best["params"]["x"], "refit": True}
