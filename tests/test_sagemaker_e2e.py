"""End to end on the simulated SageMaker: a real runner process launches real training jobs.

``backend.options.simulate`` makes the runner's boto3 clients talk to the simulated SageMaker
(``jupyter_hpo.sagemaker.sim``) instead of AWS. Its ``script`` executor runs each training job as
SageMaker's training toolkit would: it unpacks the uploaded ``sourcedir.tar.gz``, copies the input
channel from (simulated) S3, and runs the entry script with ``--name value`` arguments. So these
tests run the credit example's ``train.py``, unchanged, as a SageMaker training job, with the
``jupyter_hpo.trial`` copy that travels in the tarball, and see warm-pool reuse in the store.
"""

from __future__ import annotations

import shutil

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupyter_hpo import api
from jupyter_hpo.magics import HpoMagics
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets import Dashboard
from tests.conftest import EXAMPLE

DATA = EXAMPLE / "data" / "default_of_credit_card_clients.csv.gz"


def credit_spec(s3_root, name, **simulate):
    """The credit example on the sagemaker backend, with a small budget and cheap trials."""
    return {
        "name": name,
        "trial": {"script": str(EXAMPLE / "train.py"), "hyperparameters": {"folds": 2, "nthread": 1}},
        "space": {"max_depth": {"type": "int", "low": 2, "high": 4},
                  "eta": {"type": "float", "low": 0.05, "high": 0.3, "scaling": "log"},
                  "num_round": {"type": "int", "low": 20, "high": 40, "step": 10}},
        "objective": {"metric": "auc", "direction": "maximize"},
        "early_stopping": "off",
        "budget": {"max_trials": 4, "max_parallel": 2},
        "seed": 3,
        "backend": {"name": "sagemaker", "options": {
            "inputs": {"train": "s3://credit-data/credit/"}, "poll_s": 5, "keep_alive_s": 600,
            "simulate": {"executor": "script", "speed": 40, "s3_root": str(s3_root), "cold_startup_s": 240,
                         "warm_startup_s": 5, "download_s": 10, "upload_s": 5, **simulate}}},
    }


@pytest.fixture
def s3_root(tmp_path):
    """The simulated S3, holding the credit data where the spec's input channel points."""
    root = tmp_path / "s3"
    (root / "credit-data" / "credit").mkdir(parents=True)
    shutil.copy(DATA, root / "credit-data" / "credit" / DATA.name)
    return root


def test_the_credit_example_runs_unchanged_as_sagemaker_training_jobs_on_warm_pools(home, s3_root, monkeypatch):
    job = api.launch(credit_spec(s3_root, "sim-credit"))
    assert job.wait(timeout=240) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    assert [r["state"] for r in records] == ["complete"] * 4
    assert all(0.6 < r["value"] < 0.9 for r in records)  # real ROC AUCs of XGBoost on the credit data
    # each fold's AUC came back through the job's log (trial.folds -> "intermediate step=k value=v")
    assert all(sorted(r["intermediate"]) == ["0", "1"] for r in records)
    assert all(r["value"] == pytest.approx(sum(r["intermediate"].values()) / 2, abs=1e-6) for r in records)
    # ... and are the trial's fold scores, as on the local pool (the registry's metrics and MLflow's tag had none)
    scores = {t.number: t.user_attrs.get("fold_scores") for t in job.raw_trials()}
    for r in records:
        assert scores[r["number"]] == [r["intermediate"]["0"], r["intermediate"]["1"]]
        assert r["fold_mean"] == pytest.approx(r["value"], abs=1e-6)
    assert job.trials()["fold_mean"].notna().all()

    cold = [r for r in records if not r["warm"]]
    warm = [r for r in records if r["warm"]]
    assert len(cold) == 2 and len(warm) == 2  # two pools: the first two trials start cold, the next two warm
    assert max(r["startup_s"] for r in warm) < min(r["startup_s"] for r in cold) / 5
    for r in records:
        assert r["cloud"]["status"] == "Completed" and r["cloud"]["billable_s"] >= 1
        assert r["cloud"]["phases_s"]["Starting"] == pytest.approx(5 if r["warm"] else 240, abs=3)
        assert r["cost_usd"] > 0
    raw = {t.number: t.user_attrs["sagemaker"] for t in job.raw_trials()}
    for r in warm:  # the job whose pool it took is recorded, and it is one of this job's
        assert raw[r["number"]]["reused_pool_of"] in {a["training_job"] for a in raw.values()}

    summary = job.summary()
    assert summary["warm_starts"] == 2 and summary["startup_saved_s"] > 300
    backend = job.attrs["backend_summary"]
    assert len(backend["pools_released"]) == 2 and backend["pools_not_released"] == []  # nothing left billing
    assert summary["cost_usd"] == pytest.approx(backend["cost_usd"]) and backend["retained_billable_s"] > 0

    dash = Dashboard(job)
    dash.refresh()
    assert sum(r["warm"] is True for r in dash.rows) == 2
    assert dash.summary["startup_saved_s"] == pytest.approx(summary["startup_saved_s"])
    assert dash.summary["cost_usd"] == pytest.approx(summary["cost_usd"])

    # the best trial's models load from the simulated S3 (they were asked of AWS's S3, with the user's
    # credentials, and failed): an S3 call would now meet a closed port
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    models = job.best_model()
    assert isinstance(models, list) and len(models) == 2 and all(hasattr(m, "predict_proba") for m in models)
    from jupyter_hpo import artifacts
    from jupyter_hpo.exceptions import ArtifactNotFoundError

    # a relative s3_root is the launch folder's (where the runner wrote it), from whatever folder it is read
    relative = {"simulate": {"s3_root": s3_root.name}}
    assert len(artifacts._load_s3(artifacts.model_path(job), relative, str(s3_root.parent))) == 2  # noqa: SLF001
    with pytest.raises(ArtifactNotFoundError, match=r"was on the simulated S3 of a dry run without "
                                                    r"`simulate.s3_root`: a temporary folder, gone with its runner"):
        artifacts._load_s3(artifacts.model_path(job), {"simulate": {"executor": "script"}})  # noqa: SLF001


def test_hpo_launch_with_the_sagemaker_backend_from_a_notebook(home, s3_root, tmp_path):
    spec = credit_spec(s3_root, "magic-credit")
    import yaml

    body = yaml.safe_dump({k: v for k, v in spec.items() if k != "backend"})
    shell = InteractiveShell.instance()
    shell.register_magics(HpoMagics(shell))
    try:
        with capture_output():
            job = shell.run_cell_magic("hpo", "launch --backend sagemaker",
                                       body + "backend:\n  name: sagemaker\n  options: " +
                                       yaml.safe_dump(spec["backend"]["options"], default_flow_style=True))
        assert job.wait(timeout=240) == JobStatus.COMPLETED, job.attrs.get("reason")
        assert job.attrs["backend"] == "sagemaker"
        with capture_output():
            status = shell.run_line_magic("hpo", "status magic-credit")
        assert status["warm_starts"] == 2 and status["complete"] == 4 and status["cost_usd"] > 0
    finally:
        shell.reset(new_session=False)


def test_a_failing_training_script_fails_its_trials_with_the_containers_error(home, s3_root, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("import sys\nprint('loading data')\nraise SystemExit('no column Y in the data')\n")
    spec = credit_spec(s3_root, "sim-broken")
    spec["trial"] = {"script": str(src / "train.py")}
    spec["max_consecutive_failures"] = 2
    job = api.launch(spec)
    assert job.wait(timeout=120) == JobStatus.FAILED
    assert "2 trials failed in a row" in job.attrs["reason"]
    records = job.trial_records()
    assert all(r["state"] == "fail" for r in records)
    assert all("no column Y in the data" in r["error"] for r in records)


def test_launch_from_a_model_trainer(home, tmp_path):
    """``api.launch(model_trainer=...)``: the trainer's script, image, instances and data define the trials."""
    from types import SimpleNamespace as NS

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('auc=0.5')\n")
    trainer = NS(  # the attributes of a SageMaker SDK v3 ModelTrainer that jupyter-hpo reads
        training_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        role="arn:aws:iam::123456789012:role/SageMakerRole", hyperparameters={"folds": 3},
        compute=NS(instance_type="ml.m5.xlarge", instance_count=1, volume_size_in_gb=30,
                   keep_alive_period_in_seconds=600),
        source_code=NS(source_dir=str(tmp_path / "code"), entry_script="train.py"),
        output_data_config=NS(s3_output_path="s3://credit-bucket/models"),
    )
    job = api.launch(model_trainer=trainer, space={"eta": {"type": "float", "low": 0.01, "high": 0.3}},
                     metric="auc", max_trials=3, max_parallel=1, name="from-trainer",
                     backend_options={"s3_prefix": "s3://credit-bucket/hpo", "poll_s": 5,
                                      "simulate": {"speed": 500, "executor": "model", "training_s": 30}})
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    options = job.spec["backend"]["options"]
    assert job.spec["backend"]["name"] == "sagemaker" and options["keep_alive_s"] == 600
    assert job.spec["trial"]["hyperparameters"] == {"folds": 3}
    records = job.trial_records()
    assert [r["state"] for r in records] == ["complete"] * 3
    assert [r["warm"] for r in records] == [False, True, True]  # one pool, reused by the next trials
