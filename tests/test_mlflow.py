"""MLflow tracking, export and model registry against a real ``mlflow server`` (SQLite backend, local artifacts,
127.0.0.1 only), with real runner and worker processes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from benchmarks._common import MLFLOW_QUIET, free_port, start_mlflow_server, stop_process_group
from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.mlflow_tracking import MlflowError, export_job
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}
@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """A real MLflow tracking server: SQLite backend store, local artifact root, a free port on 127.0.0.1."""
    proc, url = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield url
    finally:
        stop_process_group(proc)


@pytest.fixture
def mlflow_env(home, mlflow_server, monkeypatch):
    """MLflow's own settings point at the test server; no telemetry; a client for the checks."""
    from mlflow.tracking import MlflowClient

    for k, v in MLFLOW_QUIET.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    return MlflowClient(mlflow_server)


# -- objectives (pickled by value to the workers) -------------------------------------------------------
def cv_objective(p):
    """3 folds whose scores are x, x + 0.1, x + 0.2 (reported as the folds' steps); the value is their mean."""
    import numpy as np

    from jupyter_hpo import trial

    X_, y = np.arange(60).reshape(30, 2), np.array([0, 1] * 15)
    cv = trial.folds(X_, y, k=3, seed=0)
    for i, _ in enumerate(cv):
        cv.report(p["x"] + 0.1 * i)
    return cv.mean


def ok_or_raise(p):
    if p["mode"] == "raise":
        raise ValueError("this trial fails on purpose")
    return 1.0


def ticketed(p):
    """Finishes once it takes a ticket (a file in ``p["tickets"]``, removed by the one trial that takes it)."""
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for name in sorted(os.listdir(p["tickets"])):
            try:
                os.remove(os.path.join(p["tickets"], name))
                return p["x"]
            except FileNotFoundError:
                continue
        time.sleep(0.02)
    raise TimeoutError("no ticket")


# -- helpers --------------------------------------------------------------------------------------------
def parent_run(client, job_name: str, experiment: str = "jupyter-hpo"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id],
                              filter_string=f"tags.`jupyter_hpo.kind` = 'job' and tags.`jupyter_hpo.job` = '{job_name}'")
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def child_runs(client, parent) -> dict[int, Any]:
    runs = client.search_runs([parent.info.experiment_id], max_results=1000,
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return {int(r.data.tags["jupyter_hpo.trial"]): r for r in runs}


def notes(job) -> list[str]:
    return [n["text"] for n in job.attrs.get("notes") or []]


def show(job) -> str:
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "show", job.name], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "250"})
    assert out.returncode == 0, out.stderr
    return out.stdout


class Forwarder:
    """A TCP forwarder from a port to the test server: "the tracking server comes back" when it starts."""

    def __init__(self, port: int, target: str) -> None:
        self.port, self.target = port, int(target.rsplit(":", 1)[1])
        self.sock = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


# -- the spec ---------------------------------------------------------------------------------------------
def _spec(**extra: Any) -> dict[str, Any]:
    return {"name": "t", "trial": {"function": cv_objective}, "space": X, **extra}


def test_the_spec_takes_tracking_mlflow_and_refuses_unknown_keys():
    spec = TuningSpec.from_dict(_spec(tracking={"mlflow": {"experiment": "credit", "run_name": "r1"}}))
    assert (spec.mlflow.experiment, spec.mlflow.run_name, spec.mlflow.tracking_uri) == ("credit", "r1", None)
    assert TuningSpec.from_dict(spec.to_dict() | {"trial": {"function": cv_objective}}).mlflow == spec.mlflow
    assert TuningSpec.from_dict(_spec(tracking={"mlflow": True})).mlflow is not None
    assert TuningSpec.from_dict(_spec()).mlflow is None and "tracking" not in TuningSpec.from_dict(_spec()).to_dict()
    with pytest.raises(SpecError, match=r"unknown field\(s\) `tracking.mlflow.experimnt`; allowed in `tracking.mlflow`: "
                                        r"experiment, run_name, tracking_uri\."):
        TuningSpec.from_dict(_spec(tracking={"mlflow": {"experimnt": "credit"}}))
    with pytest.raises(SpecError, match=r"unknown field\(s\) `tracking.wandb`; allowed in `tracking`: mlflow\."):
        TuningSpec.from_dict(_spec(tracking={"wandb": {}}))
    with pytest.raises(SpecError, match=r"`tracking.mlflow.tracking_uri` must be a non-empty line"):
        TuningSpec.from_dict(_spec(tracking={"mlflow": {"tracking_uri": ""}}))


def test_a_relative_tracking_uri_is_kept_as_the_folder_it_names_at_launch(tmp_path, monkeypatch):
    """Stored as given, `sqlite:///mlflow.db` or `./mlruns` was read again from the folder of a later `export` or
    `register`, which logged to a second MLflow database there."""
    from jupyter_hpo.mlflow_tracking import prepare

    monkeypatch.chdir(tmp_path)
    for given, kept in [("sqlite:///mlflow.db", f"sqlite:///{tmp_path}/mlflow.db"),
                        ("sqlite:///../up/mlflow.db", f"sqlite:///{tmp_path.parent}/up/mlflow.db"),
                        ("./mlruns", f"{tmp_path}/mlruns"), ("mlruns", f"{tmp_path}/mlruns"),
                        ("file:./mlruns", f"file://{tmp_path}/mlruns"), ("file:/srv/mlruns", "file:/srv/mlruns"),
                        ("file:///srv/mlruns", "file:///srv/mlruns"),
                        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
                        ("databricks", "databricks"), ("databricks://profile", "databricks://profile")]:
        spec = prepare(TuningSpec.from_dict(_spec(tracking={"mlflow": {"tracking_uri": given}})))
        assert spec.mlflow.tracking_uri == kept


# -- live tracking ----------------------------------------------------------------------------------------
def test_a_job_is_logged_live_as_a_parent_run_with_a_child_run_per_trial(mlflow_env, mlflow_server):
    client = mlflow_env
    job = api.launch(objective=cv_objective, space=X, max_trials=4, max_parallel=2, seed=0, name="live",
                     metric="auc", tracking={"mlflow": {}})
    assert job.spec["tracking"]["mlflow"] == {"tracking_uri": mlflow_server, "experiment": "jupyter-hpo",
                                              "run_name": "live"}  # MLflow's own settings, resolved at launch
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    parent = parent_run(client, "live")
    assert parent.info.status == "FINISHED" and parent.info.run_name == "live"
    assert parent.data.metrics["best_value"] == pytest.approx(job.best["value"])
    assert parent.data.metrics["best_auc"] == pytest.approx(job.best["value"])
    assert parent.data.metrics["trials_complete"] == 4
    assert parent.data.params["metric"] == "auc" and parent.data.params["budget.max_trials"] == "4"
    assert parent.data.tags["jupyter_hpo.provenance.spec_sha256"] == job.provenance["spec_sha256"]
    children = child_runs(client, parent)
    records = {r["number"]: r for r in job.trial_records()}
    assert sorted(children) == sorted(records) == [0, 1, 2, 3]
    for number, run in children.items():
        rec = records[number]
        assert run.info.status == "FINISHED" and run.info.run_name == f"live-{number}"
        assert float(run.data.params["x"]) == pytest.approx(rec["params"]["x"])
        assert run.data.metrics["value"] == pytest.approx(rec["value"])
        assert run.data.metrics["auc"] == pytest.approx(rec["value"])
        assert run.data.metrics["startup_s"] == pytest.approx(rec["startup_s"])
        assert run.data.metrics["fold_mean"] == pytest.approx(rec["fold_mean"])
        assert run.data.metrics["fold_std"] == pytest.approx(rec["fold_std"])
        assert run.data.metrics["run_s"] == pytest.approx(rec["run_s"])
        tags = run.data.tags
        assert tags["state"] == "complete" and tags["warm"] == str(rec["warm"]).lower()
        assert tags["worker"] == rec["worker"] and tags["jupyter_hpo.job"] == "live"
        assert tags["seed"] == str(job.store.trials("live")[number].user_attrs["seed"])  # the trial's own seed
        folds = client.get_metric_history(run.info.run_id, "fold_score")  # the fold values, one step each
        assert [(m.step, round(m.value, 9)) for m in sorted(folds, key=lambda m: m.step)] == [
            (i, round(rec["params"]["x"] + 0.1 * i, 9)) for i in range(3)]
        steps = client.get_metric_history(run.info.run_id, "intermediate")
        assert sorted(m.step for m in steps) == [0, 1, 2]
        assert tags["jupyter_hpo.provenance.spec_sha256"] == job.provenance["spec_sha256"]  # what produced it
        assert json.loads(tags["jupyter_hpo.provenance.python"]) == job.provenance["python"]  # nested: JSON
        # the package list itself, read back from the store's blob table, not the job attribute's reference
        assert "jupyter_hpo.provenance.packages_blob" not in tags
        first = sorted(job.provenance["packages"])[0]
        assert f"\"{first}\": \"{job.provenance['packages'][first]}\"" in tags["jupyter_hpo.provenance.packages"]
    assert {r["warm"] for r in records.values()} == {True, False}  # both kinds were logged above
    assert f"MLflow: run {parent.info.run_id} in experiment 'jupyter-hpo' at {mlflow_server}" in show(job)


def test_failed_trials_are_failed_child_runs_with_their_error(mlflow_env):
    job = api.launch(objective=ok_or_raise, space={"mode": ["ok", "raise"]}, strategy="grid", max_trials=2,
                     max_parallel=1, seed=0, name="mixed", tracking={"mlflow": {"experiment": "mixed-exp"}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    children = child_runs(mlflow_env, parent_run(mlflow_env, "mixed", "mixed-exp"))
    by_mode = {run.data.params["mode"]: run for run in children.values()}
    assert by_mode["ok"].info.status == "FINISHED" and by_mode["ok"].data.metrics["value"] == 1.0
    assert by_mode["raise"].info.status == "FAILED" and by_mode["raise"].data.tags["state"] == "fail"
    assert "this trial fails on purpose" in by_mode["raise"].data.tags["error"]
    assert "value" not in by_mode["raise"].data.metrics


def test_an_unreachable_server_neither_blocks_nor_fails_the_job_and_nothing_is_lost(mlflow_env, mlflow_server,
                                                                                  tmp_path):
    """The server is down for the first trials, then comes back: they are logged late, and the job never waited."""
    port = free_port()  # nothing listens there yet
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    for i in range(2):
        (tickets / f"t{i}").touch()
    job = api.launch(objective=ticketed, space=X, max_trials=5, max_parallel=1, seed=0, name="flaky",
                     hyperparameters={"tickets": str(tickets)},
                     tracking={"mlflow": {"tracking_uri": f"http://127.0.0.1:{port}"}})
    # trials go on while MLflow cannot be reached: two complete, and the failure is noted on the job
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) == 2, timeout=120)
    wait_for(lambda: any("cannot log to" in n for n in notes(job)), timeout=60)
    note = next(n for n in notes(job) if "cannot log to" in n)
    assert f"MLflow: cannot log to http://127.0.0.1:{port}" in note and "retried" in note and "\n" not in note
    assert "last error" in show(job) and f"http://127.0.0.1:{port}" in show(job)
    forwarder = Forwarder(port, mlflow_server)  # the server comes back
    try:
        for i in range(2, 5):
            (tickets / f"t{i}").touch()
        assert job.wait(timeout=180) == JobStatus.COMPLETED
        assert any("answers again" in n and "none lost" in n for n in notes(job))
        children = child_runs(mlflow_env, parent_run(mlflow_env, "flaky"))
        assert sorted(children) == [0, 1, 2, 3, 4]
        assert all(run.info.status == "FINISHED" for run in children.values())
    finally:
        forwarder.close()


def test_a_server_down_for_the_whole_job_is_noted_and_export_logs_everything_later(mlflow_env, mlflow_server):
    port = free_port()
    down = f"http://team:S3cret@127.0.0.1:{port}"  # a password in the URI is never shown nor kept in a note
    job = api.launch(objective=cv_objective, space=X, max_trials=3, max_parallel=2, seed=0, name="down",
                     tracking={"mlflow": {"tracking_uri": down, "experiment": "down-exp"}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    assert [r["state"] for r in job.trial_records()] == ["complete"] * 3  # no trial was held up
    last = notes(job)[-1]
    assert last.startswith(f"MLflow: 3 trial(s) of this job are not logged to http://team:***@127.0.0.1:{port}")
    assert "jupyter hpo export down --mlflow" in last
    assert "3 trial(s) not logged" in show(job)
    assert not any("S3cret" in n for n in notes(job)) and "S3cret" not in show(job)
    assert "S3cret" not in (job.store.job_dir("down") / "runner.log").read_text()
    with pytest.raises(MlflowError, match=r"cannot export job 'down': the tracking server at .* cannot be reached"
                       ) as refused:
        export_job(job)  # still down: one line, nothing half done
    assert "S3cret" not in str(refused.value)
    run_id = export_job(job, tracking_uri=mlflow_server)
    assert parent_run(mlflow_env, "down", "down-exp").info.run_id == run_id
    assert len(child_runs(mlflow_env, parent_run(mlflow_env, "down", "down-exp"))) == 3


def test_resuming_the_job_logs_what_its_first_runner_could_not(mlflow_env, mlflow_server):
    port = free_port()  # down while the job first runs
    job = api.launch(objective=cv_objective, space=X, max_trials=3, max_parallel=2, seed=0, name="resumed",
                     tracking={"mlflow": {"tracking_uri": f"http://127.0.0.1:{port}"}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    assert "(or resuming the job) logs them" in notes(job)[-1]
    forwarder = Forwarder(port, mlflow_server)  # the server is back
    try:
        assert job.resume(max_trials=4).wait(timeout=180) == JobStatus.COMPLETED
        parent = parent_run(mlflow_env, "resumed")
        assert sorted(child_runs(mlflow_env, parent)) == [0, 1, 2, 3]  # the 3 missed and the new one, once each
        assert parent.info.status == "FINISHED" and parent.data.metrics["trials_complete"] == 4
    finally:
        forwarder.close()


# -- export afterwards -------------------------------------------------------------------------------------
def test_export_logs_a_job_launched_without_mlflow_and_adds_only_what_is_missing(mlflow_env):
    job = api.launch(objective=cv_objective, space=X, max_trials=3, max_parallel=2, seed=0, name="later")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    run_id = export_job(job, experiment="exported")
    parent = mlflow_env.get_run(run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["jupyter_hpo.job"] == "later"
    children = child_runs(mlflow_env, parent)
    assert sorted(children) == [0, 1, 2]
    rec = job.trial_records()[1]
    history = mlflow_env.get_metric_history(children[1].info.run_id, "fold_score")
    assert [round(m.value, 9) for m in sorted(history, key=lambda m: m.step)] == [
        round(rec["params"]["x"] + 0.1 * i, 9) for i in range(3)]
    assert export_job("later", experiment="exported") == run_id  # again: the same parent, no duplicate child
    assert sorted(child_runs(mlflow_env, parent)) == [0, 1, 2]
    assert job.attrs["mlflow"]["run_id"] == run_id and job.attrs["mlflow"]["logged"] == 3


def returns_metrics_named_like_the_runners(p):
    return {"objective": p["x"], "run_s": 123.0, "fold_mean": 0.5, "train_s": 2.0}


def test_a_trials_own_metric_named_like_one_of_the_runners_keeps_both(mlflow_env):
    """A trial returns its own ``run_s`` and ``fold_mean``: in MLflow those names hold the runner's figures (run
    time; the mean of the fold scores), so the trial's own went unlogged, or (no folds) passed for the runner's."""
    job = api.launch(objective=returns_metrics_named_like_the_runners, space=X, max_trials=1, seed=0, name="names")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    (record,) = job.trial_records()
    (child,) = child_runs(mlflow_env, mlflow_env.get_run(export_job(job, experiment="names"))).values()
    logged = child.data.metrics
    assert logged["metric_run_s"] == 123.0 and logged["run_s"] == pytest.approx(record["run_s"])
    assert logged["metric_fold_mean"] == 0.5 and "fold_mean" not in logged  # the trial had no folds
    assert logged["train_s"] == 2.0  # a name of its own: as it is
    assert list(job.trials()[["metric_run_s", "metric_fold_mean", "metric_train_s"]].iloc[0]) == [123.0, 0.5, 2.0]


# -- MLflow not installed --------------------------------------------------------------------------------
def test_without_the_extra_each_entry_point_says_what_to_install_and_stores_nothing(home, monkeypatch, capsys):
    from jupyter_hpo import cli
    from jupyter_hpo.mlflow_tracking import register_model

    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails as if it were not installed
    job = api.launch(objective=cv_objective, space=X, max_trials=1, seed=0, name="plain")  # MLflow is optional
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    with pytest.raises(MlflowError, match=r"MLflow is not installed .*: pip install 'jupyter-hpo\[mlflow\]'"):
        api.launch(objective=cv_objective, space=X, max_trials=1, name="tracked", tracking={"mlflow": {}})
    assert api.list_jobs() and [j["name"] for j in api.list_jobs()] == ["plain"]
    with pytest.raises(MlflowError, match=r"pip install 'jupyter-hpo\[mlflow\]'"):
        export_job(job)
    with pytest.raises(MlflowError, match=r"pip install 'jupyter-hpo\[mlflow\]'"):
        register_model(job, "plain-model")
    spec = Path(home) / "spec.yaml"
    spec.write_text("name: cli-tracked\ntrial: {script: train.py}\nspace: {x: {type: float, low: 0, high: 1}}\n")
    (Path(home) / "train.py").write_text("print('objective=1')\n")
    assert cli.main(["launch", str(spec), "--mlflow", "--detach"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'jupyter-hpo[mlflow]'" in err
    assert [j["name"] for j in api.list_jobs()] == ["plain"]


# -- the model registry -----------------------------------------------------------------------------------
def xgb_objective(p):
    """An XGBoost classifier on a fixed synthetic problem, saved as the trial's model; the value is its AUC."""
    import numpy as np
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    from jupyter_hpo import trial

    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(300, 4))
    y = (X_[:, 0] + rng.normal(scale=0.7, size=300) > 0).astype(int)
    rounds = 16 if trial.is_refit() else 8  # a refit trains longer: its model differs from the trial's
    model = xgb.XGBClassifier(n_estimators=rounds, max_depth=p["max_depth"], n_jobs=1, random_state=0).fit(X_, y)
    trial.save_model(model)
    return float(roc_auc_score(y, model.predict_proba(X_)[:, 1]))


def _data():
    import numpy as np

    return np.random.default_rng(1).normal(size=(50, 4))


def registered(client, name: str) -> list[Any]:
    return client.search_registered_models(filter_string=f"name = '{name}'")


def test_register_puts_the_best_model_in_the_registry_loadable_with_pyfunc_and_xgboost(mlflow_env, capsys):
    import mlflow.pyfunc
    import mlflow.xgboost
    import numpy as np

    from jupyter_hpo import cli
    from jupyter_hpo.mlflow_tracking import register_model

    client = mlflow_env
    job = api.launch(objective=xgb_objective, space={"max_depth": [1, 3]}, strategy="grid", max_trials=2,
                     max_parallel=1, seed=0, name="to-register", metric="auc")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    assert cli.main(["register", "to-register", "--mlflow", "credit-model"]) == 0
    assert "models:/credit-model/1" in capsys.readouterr().out
    version = client.get_model_version("credit-model", "1")
    best = job.best
    assert version.tags["jupyter_hpo.job"] == "to-register" and version.tags["jupyter_hpo.source"] == "best"
    assert version.tags["jupyter_hpo.trial"] == str(best["number"]) and version.tags["metric"] == "auc"
    assert float(version.tags["value"]) == pytest.approx(best["value"])
    assert any(k.startswith("jupyter_hpo.provenance.") for k in version.tags)  # what produced it
    run = client.get_run(version.run_id)  # the best trial's child run, with its metrics
    assert run.data.tags["jupyter_hpo.trial"] == str(best["number"]) and run.data.metrics["auc"] == best["value"]
    X_ = _data()
    original = job.best_model()
    assert np.array_equal(mlflow.pyfunc.load_model("models:/credit-model/1").predict(X_), original.predict(X_))
    loaded = mlflow.xgboost.load_model("models:/credit-model/1")
    assert np.allclose(loaded.predict_proba(X_), original.predict_proba(X_))
    # the CLI's export of the same job finds the same runs: nothing is logged twice
    assert cli.main(["export", "to-register", "--mlflow", "--json"]) == 0
    exported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    parent = parent_run(client, "to-register")
    assert exported == {"export": "mlflow", "job": "to-register", "run_id": parent.info.run_id,
                        "uri": f"runs:/{parent.info.run_id}",  # `uri` held the bare run id
                        # where it went (with nothing set, MLflow's default store took it without a word)
                        "tracking_uri": os.environ["MLFLOW_TRACKING_URI"], "experiment": "jupyter-hpo"}
    assert cli.main(["export", "to-register", "--mlflow"]) == 0
    assert (f"exported job to-register to MLflow at {os.environ['MLFLOW_TRACKING_URI']}, experiment 'jupyter-hpo': "
            f"parent run {parent.info.run_id}") in capsys.readouterr().out
    assert len(child_runs(client, parent)) == 2
    # once the job is refit, its refit's model is the one registered
    refit = job.refit(wait=True)
    assert register_model(job, "credit-model") == "models:/credit-model/2"
    version = client.get_model_version("credit-model", "2")
    assert version.tags["jupyter_hpo.source"] == "refit" and version.tags["jupyter_hpo.refit_job"] == refit.name
    refit_model = job.best_model()
    assert not np.allclose(refit_model.predict_proba(X_), original.predict_proba(X_))  # 16 rounds, not 8
    assert np.allclose(mlflow.xgboost.load_model("models:/credit-model/2").predict_proba(X_),
                       refit_model.predict_proba(X_))
    assert client.get_run(version.run_id).data.tags["jupyter_hpo.job"] == refit.name


def test_a_refits_version_names_the_jobs_trial_it_repeats(mlflow_env):
    """The version's `jupyter_hpo.trial` tag held the refit job's own trial number (always 0) beside the parent
    job's name: so it named another trial of the job than the one the refit repeats."""
    from jupyter_hpo.mlflow_tracking import register_model
    from tests.test_server_handoff import predicts

    client = mlflow_env
    job = api.launch(objective=predicts, space={"x": [0.1, 0.5, 0.9]}, strategy="grid", max_trials=3,
                     max_parallel=1, seed=0, name="refit-tags", direction="minimize")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    best = job.best["number"]
    assert best != 0, "the test needs a best trial other than 0"
    refit = job.refit(wait=True)
    assert refit.attrs["refit_of"]["trial"] == best
    uri = register_model(job, "refit-tags-model")
    version = client.get_model_version("refit-tags-model", uri.rsplit("/", 1)[1])
    tags = version.tags
    assert (tags["jupyter_hpo.job"], tags["jupyter_hpo.trial"], tags["jupyter_hpo.source"]) == (
        "refit-tags", str(best), "refit")
    assert tags["jupyter_hpo.refit_job"] == refit.name
    # the model's score is the trial's as tuned, and the refit run's own value is labelled as such (the version
    # showed the refit's value, in-sample for the credit example, as the model's)
    refit_value = refit.trial_records()[0]["value"]
    assert (tags["value"], tags["jupyter_hpo.refit_value"]) == (repr(job.best["value"]), repr(refit_value))
    assert version.description == (
        f"jupyter-hpo job refit-tags, refit run ({refit.name}) of trial {best} ({tags['metric']}="
        f"{job.best['value']!r} as tuned; the refit run reported {refit_value!r} of itself)")
    # so does the run that holds the model, among the job's trial runs (its own, in-sample figure was logged as
    # the metric, and topped the runs sorted by it)
    run = client.get_run(version.run_id)
    assert run.info.run_name == "refit-tags-refit-0" and run.data.tags["jupyter_hpo.refit_of_trial"] == str(best)
    assert run.data.metrics["value"] == job.best["value"] and run.data.metrics["refit_value"] == refit_value


def test_a_tracked_jobs_refit_is_logged_once_under_the_jobs_parent_run(mlflow_env):
    """The refit copied the job's MLflow settings: it logged live a second parent run named as the job's, with a
    "<run>-0" run of another trial than the job's "<run>-0", and `register` logged the refit's trial again."""
    from jupyter_hpo.mlflow_tracking import register_model

    client = mlflow_env
    job = api.launch(objective=xgb_objective, space={"max_depth": [1, 3]}, strategy="grid", max_trials=2,
                     max_parallel=1, seed=0, name="tracked", metric="auc", tracking={"mlflow": {"experiment": "once"}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    refit = job.refit(wait=True)
    assert refit.status == JobStatus.COMPLETED
    assert register_model(job, "tracked-model") == "models:/tracked-model/1"
    exp = client.get_experiment_by_name("once")
    parents = client.search_runs([exp.experiment_id], filter_string="tags.`jupyter_hpo.kind` = 'job'")
    assert [r.info.run_name for r in parents] == ["tracked"]
    children = client.search_runs([exp.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = "
                                                                     f"'{parents[0].info.run_id}'")
    assert sorted(r.info.run_name for r in children) == ["tracked-0", "tracked-1", "tracked-refit-0"]


def test_register_refuses_a_job_without_a_complete_trial_and_a_name_mlflow_refuses(mlflow_env, capsys):
    from jupyter_hpo.mlflow_tracking import register_model

    client = mlflow_env
    failed = api.launch(objective=ok_or_raise, space={"mode": ["raise"]}, max_trials=2, max_parallel=1, seed=0,
                        name="no-model")
    assert failed.wait(timeout=180) == JobStatus.FAILED
    with pytest.raises(MlflowError, match=r"^job 'no-model' has no complete trial, so it has no model to register\.$"):
        register_model(failed, "nothing-here")
    assert registered(client, "nothing-here") == []
    job = api.launch(objective=xgb_objective, space={"max_depth": [2]}, max_trials=1, seed=0, name="bad-name")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    with pytest.raises(MlflowError, match=r"^MLflow refuses the model name 'bad/name': .*'/'") as e:
        register_model(job, "bad/name")
    assert "\n" not in str(e.value)
    from jupyter_hpo import cli

    assert cli.main(["register", "bad-name", "--mlflow", "bad/name"]) == 2  # bad input, as in every command
    assert capsys.readouterr().err.startswith("error: MLflow refuses the model name 'bad/name': ")
    exp = client.get_experiment_by_name("jupyter-hpo")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`jupyter_hpo.job` = 'bad-name'") if exp else []
    assert runs == []  # nothing was logged for the refused registration
    assert register_model(job, "good-name") == "models:/good-name/1"  # the job itself is fine
    folds = api.launch(objective=saves_fold_models, space=X, max_trials=1, seed=0, name="fold-models")
    assert folds.wait(timeout=180) == JobStatus.COMPLETED
    with pytest.raises(MlflowError, match=r"trial 0 of job 'fold-models' saved 2 models \(a list\), not one: refit "
                                          r"the job \(`jupyter hpo refit JOB`"):
        register_model(folds, "fold-models")
    assert registered(client, "fold-models") == []


def test_a_register_that_fails_after_creating_the_registered_model_removes_it_and_says_so(mlflow_env):
    """Its job's experiment deleted, `register` failed in its export, after it had created the registered model:
    an empty registered model was left, and the line did not say so. It removes what it created; a model that
    existed before is left as it was."""
    from jupyter_hpo.mlflow_tracking import register_model

    client = mlflow_env
    job = api.launch(objective=xgb_objective, space={"max_depth": [2]}, max_trials=1, seed=0, name="half",
                     tracking={"mlflow": {"experiment": "half-exp"}})
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    client.delete_experiment(client.get_experiment_by_name("half-exp").experiment_id)
    with pytest.raises(MlflowError, match=r"failed: .*; the registered model 'half-model' it had created was "
                                          r"removed again\.$"):
        register_model(job, "half-model")
    assert client.search_registered_models("name='half-model'") == []
    client.create_registered_model("kept-model")  # one that was there before: not this register's to remove
    with pytest.raises(MlflowError) as e:
        register_model(job, "kept-model")
    assert "removed" not in str(e.value) and client.get_registered_model("kept-model").name == "kept-model"


def saves_fold_models(p):
    """Saves one model per fold (a list), as the credit example's trials do."""
    from sklearn.dummy import DummyClassifier

    from jupyter_hpo import trial

    trial.save_model([DummyClassifier().fit([[0], [1]], [0, 1]) for _ in range(2)])
    return p["x"]


# -- %hpo launch --mlflow ----------------------------------------------------------------------------------
def test_the_magic_launches_with_mlflow_and_keeps_the_specs_own_settings(mlflow_env, mlflow_server):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from jupyter_hpo.magics import HpoMagics

    ip = InteractiveShell.instance()
    ip.register_magics(HpoMagics(ip))
    ip.push({"cv_objective": cv_objective, "sp": X})
    body = "trial: {function: cv_objective}\nspace: sp\ntracking: {mlflow: {experiment: from-cell}}\n"
    try:
        with capture_output():
            line = ip.run_line_magic("hpo", "launch cv_objective --space sp --max-trials 2 --name magic --mlflow")
            cell = ip.run_cell_magic("hpo", "launch --max-trials 1 --name magic-cell --mlflow", body)
        assert line.spec["tracking"]["mlflow"] == {"tracking_uri": mlflow_server, "experiment": "jupyter-hpo",
                                                   "run_name": "magic"}
        assert cell.spec["tracking"]["mlflow"]["experiment"] == "from-cell"  # --mlflow keeps the spec's settings
        assert line.wait(timeout=180) == JobStatus.COMPLETED and cell.wait(timeout=180) == JobStatus.COMPLETED
        assert sorted(child_runs(mlflow_env, parent_run(mlflow_env, "magic"))) == [0, 1]
        assert sorted(child_runs(mlflow_env, parent_run(mlflow_env, "magic-cell", "from-cell"))) == [0]
    finally:
        ip.reset(new_session=False)


def test_the_credit_example_tuned_refit_and_registered_loads_from_mlflow_and_scores_the_refits_auc(mlflow_env):
    """Issue 13's end to end: tune 6 trials of the example (logged live), refit, register in MLflow, load the
    model back with mlflow.xgboost, score the data: the AUC recorded for the refit."""
    import mlflow
    from sklearn.metrics import roc_auc_score

    from jupyter_hpo.mlflow_tracking import register_model
    from tests.conftest import EXAMPLE

    sys.path.insert(0, str(EXAMPLE))
    try:
        import train  # the example's own loader
    finally:
        sys.path.remove(str(EXAMPLE))
    job = api.launch(EXAMPLE / "tuning.yaml", max_trials=6, max_parallel=2, name="credit-mlflow", patience=None,
                     tracking={"mlflow": {}})
    assert job.wait(timeout=900) == JobStatus.COMPLETED
    parent = parent_run(mlflow_env, "credit-mlflow")
    assert sorted(child_runs(mlflow_env, parent)) == [r["number"] for r in job.trial_records()]

    refit = job.refit(wait=True)
    assert refit.status == JobStatus.COMPLETED
    (rec,) = refit.trial_records()
    uri = register_model(job, "credit-default")
    assert uri == "models:/credit-default/1"
    model = mlflow.xgboost.load_model(uri)
    X_, y = train.load(str(train.DATA))
    assert roc_auc_score(y, model.predict_proba(X_)[:, 1]) == pytest.approx(rec["value"], abs=1e-9)


def test_the_runners_logging_thread_gives_back_pythons_switch_interval_when_it_closes(store):
    # the thread asks for a 1 ms GIL switch interval while it logs; a campaign runner that goes on to a job
    # without MLflow must get Python's own interval back
    from jupyter_hpo.mlflow_tracking import RunnerTracking

    spec = TuningSpec.from_dict({"name": "switch", "objective": {"metric": "auc"}, "space": X,
                                 "trial": {"function": "tests.objectives:quadratic"},
                                 "tracking": {"mlflow": {"tracking_uri": f"http://127.0.0.1:{free_port()}"}}})
    notes: list[str] = []
    store.create_job("switch", spec.to_dict(), "maximize")
    writer = type("Writer", (), {"put": staticmethod(lambda fn, *a, **k: fn(*a, **k))})()
    runner = type("Runner", (), {"name": "switch", "store": store, "on_note": staticmethod(notes.append),
                                 "writer": writer})()
    before = sys.getswitchinterval()
    tracking = RunnerTracking(spec)
    tracking.start(runner)
    assert sys.getswitchinterval() == min(before, 0.001)
    tracking.close("completed", "", grace=5)
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize(("uri", "shown"), [
    ("http://team:s3cret-pw@127.0.0.1:5000", "http://team:***@127.0.0.1:5000"),
    ("postgresql://mlflow:s3cret-pw@db/mlflow?sslmode=require", "postgresql://mlflow:***@db/mlflow?sslmode=require"),
    # a password MLflow's database driver reads from the query (it was shown as it was)
    ("postgresql://mlflow@db/mlflow?password=s3cret-pw", "postgresql://mlflow@db/mlflow?password=***"),
    ("postgresql://mlflow@db/mlflow?SSLPassword=s3cret-pw", "postgresql://mlflow@db/mlflow?SSLPassword=***"),
    # a password with / # ? in it, as SQLAlchemy reads it (urlsplit ended the host there and showed it whole)
    ("postgresql://mlflow:s3cret-pw/x@db/mlflow", "postgresql://mlflow:***@db/mlflow"),
    ("postgresql://mlflow:s3cret-pw#x@db/mlflow", "postgresql://mlflow:***@db/mlflow"),
    ("databricks://profile", "databricks://profile"),
    ("file:/srv/mlruns", "file:/srv/mlruns"),
    ("sqlite:////srv/my mlflow/mlflow.db", "sqlite:////srv/my mlflow/mlflow.db"),
])
def test_a_tracking_uri_is_shown_with_its_secrets_masked(uri, shown):
    """Messages and the job's notes show the tracking URI as written, but for its secrets."""
    from jupyter_hpo._mlflow_runs import reachable
    from jupyter_hpo._urls import masked_url

    assert masked_url(uri) == shown
    if uri.startswith("http"):
        why = reachable(uri.replace(":5000", ":1"))  # nothing listens on port 1
        assert why.startswith(f"the tracking server at {shown.replace(':5000', ':1')} cannot be reached (")
        assert "s3cret-pw" not in why
