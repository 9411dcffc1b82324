"""Trial artifacts: saved by real workers, kept for the best N trials by the real runner, loaded back
(local folders, and S3 ``model.tar.gz`` through moto)."""

from __future__ import annotations

import io
import pickle
import tarfile
import tempfile
import textwrap
from pathlib import Path

import pytest

from jupyter_hpo import api, artifacts, trial
from jupyter_hpo.exceptions import ArtifactNotFoundError, HpoError, SpecError
from jupyter_hpo.store import JobStatus
from tests import objectives

SPACE_X = {"x": {"type": "float", "low": 0, "high": 1}}


def kept_folders(job: api.Job) -> set[int]:
    root = job.store.job_dir(job.name) / "artifacts"
    return {int(p.name) for p in root.iterdir()} if root.is_dir() else set()


def test_the_best_n_trials_keep_their_artifacts_and_the_others_are_removed(home):
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=8, max_parallel=2, seed=3,
                     artifacts={"keep_best": 2})
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    assert [r["state"] for r in records] == ["complete"] * 8
    best_two = sorted(records, key=lambda r: -r["value"])[:2]
    assert kept_folders(job) == {r["number"] for r in best_two}
    assert job.attrs["artifacts_kept"] == {str(r["number"]): r["artifact"] for r in best_two}
    for r in best_two:  # what the trial saved is there: its model and the file it logged
        folder = Path(r["artifact"])
        assert folder == home / "jobs" / job.name / "artifacts" / str(r["number"])
        assert (folder / "note.txt").read_text() == f"x={r['params']['x']}\n"
    assert artifacts.model_path(job) == str(home / "jobs" / job.name / "artifacts" / str(job.best["number"]))
    assert job.best_model() == {"x": job.best["params"]["x"], "refit": False}
    worst = min(records, key=lambda r: r["value"])
    with pytest.raises(ArtifactNotFoundError, match=rf"trial {worst['number']} of job .* has no artifact"):
        artifacts.load_model(job, worst["number"])


def test_a_warm_started_resumed_job_keeps_each_trials_own_artifact_and_seed(home):
    """Warm start puts the earlier job's trials first in the sampler's study, whose trial numbers then ran ahead of
    the store's: trial n saved its model in ``artifacts/n+3``, got the seed of n+3, and after a resume the keeper
    removed the best trial's folder (``best_model()`` failed, or loaded another trial's model)."""
    earlier = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=3, seed=1, name="earlier")
    assert earlier.wait(timeout=120) == JobStatus.COMPLETED
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=4, max_parallel=1, seed=3,
                     name="warm", artifacts={"keep_best": 1}, warm_start=["earlier"])
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["seeded"] == 3
    job.resume(max_trials=6)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    assert [r["number"] for r in records] == list(range(6))
    assert kept_folders(job) == {job.best["number"]}
    assert all(Path(r["artifact"]).name == str(r["number"]) for r in records if r["artifact"]), "its own folder"
    assert job.best_model()["x"] == job.best["params"]["x"]
    assert [t.user_attrs["seed"] for t in job.raw_trials()] == [(3 * 1_000_003 + n) % 2**31 for n in range(6)]


def test_by_default_the_best_three_are_kept(home):
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=5, max_parallel=1, seed=5)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    ranked = sorted(job.trial_records(), key=lambda r: -r["value"])
    assert kept_folders(job) == {r["number"] for r in ranked[:3]}


def test_keep_best_zero_keeps_nothing_and_says_so(home):
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=3, artifacts={"keep_best": 0})
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert kept_folders(job) == set()
    assert [r["artifact"] for r in job.trial_records()] == [None] * 3
    with pytest.raises(ArtifactNotFoundError, match=r"keeps no artifacts \(artifacts.keep_best is 0\)"):
        job.best_model()


def test_a_trial_that_saved_no_model_and_a_job_without_a_complete_trial(home, tmp_path):
    job = api.launch(objective=objectives.quadratic, space=SPACE_X, max_trials=2)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert kept_folders(job) == set(), "a folder is created only when a trial asks for it"
    with pytest.raises(ArtifactNotFoundError, match=r"has no artifact: it saved nothing \(call trial.save_model"):
        job.best_model()
    failing = api.launch(objective=objectives.faulty, space={"mode": ["raise"]}, max_trials=2)
    assert failing.wait(timeout=120) == JobStatus.FAILED
    with pytest.raises(ArtifactNotFoundError, match=r"has no complete trial, so it has no best model"):
        artifacts.model_path(failing)


def test_an_artifact_folder_without_a_model_says_what_it_holds(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import argparse
        from jupyter_hpo import trial
        p = argparse.ArgumentParser(); p.add_argument("--x", type=float); a = p.parse_args()
        (trial.artifact_dir() / "weights.bin").write_bytes(b"0123")
        print(f"objective={a.x}")
    """))
    job = api.launch(objective=str(script), space=SPACE_X, max_trials=2)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    with pytest.raises(ArtifactNotFoundError, match=r"holds no model.pkl .*it holds: weights.bin"):
        job.best_model()
    assert (Path(artifacts.model_path(job)) / "weights.bin").read_bytes() == b"0123"


@pytest.mark.parametrize(("artifacts_option", "message"), [
    ({"keep_best": -1}, r"`artifacts.keep_best` must be an integer >= 0 \(0 keeps no artifact\), but got -1"),
    ({"keep_best": "3"}, r"`artifacts.keep_best` must be an integer >= 0 .* but got '3'"),
    ({"keep_best": True}, r"`artifacts.keep_best` must be an integer >= 0 .* but got True"),
    ({"keep": 3}, r"unknown field\(s\) `artifacts.keep`; allowed in `artifacts`: keep_best"),
    ("3", r"`artifacts` must be a mapping, but got '3'"),
])
def test_bad_artifact_options_are_refused_and_nothing_is_stored(home, artifacts_option, message):
    with pytest.raises(SpecError, match=message):
        api.launch(objective=objectives.quadratic, space=SPACE_X, max_trials=2, artifacts=artifacts_option)
    assert api.list_jobs() == []


def test_keep_best_on_sagemaker_is_refused_rather_than_ignored(home):
    with pytest.raises(SpecError, match=r"`artifacts.keep_best` applies to the local backend.*on sagemaker"):
        api.launch(objective=objectives.quadratic, space=SPACE_X, backend="sagemaker", artifacts={"keep_best": 2},
                   backend_options={"simulate": {}, "role": "arn:aws:iam::123456789012:role/r"})


def test_artifact_dir_outside_a_trial_is_an_error_not_a_stray_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(trial.ARTIFACT_DIR_ENV, raising=False)
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(tmp_path / "no-container"))
    with pytest.raises(HpoError, match=r"only available inside a trial"):
        trial.save_model({"a": 1})
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(HpoError, match=r"only available inside a trial"):
        trial.log_artifact(tmp_path / "f.txt")
    (tmp_path / "f.txt").unlink()
    assert list(tmp_path.iterdir()) == []


def test_in_a_sagemaker_container_the_model_goes_to_sm_model_dir(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "hyperparameters.json").write_text('{"x": "0.5"}')
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(config))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.delenv(trial.ARTIFACT_DIR_ENV, raising=False)
    assert trial.save_model([1, 2]) == tmp_path / "model" / "model.pkl"
    assert pickle.loads((tmp_path / "model" / "model.pkl").read_bytes()) == [1, 2]


# -- S3 (moto) -------------------------------------------------------------------------------------
def _model_tar(obj: object) -> bytes:
    """A ``model.tar.gz`` as SageMaker uploads the model folder: ``model.pkl`` at its root."""
    import cloudpickle

    data = cloudpickle.dumps(obj)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.pkl")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sagemaker_like_job(store, name: str, uris: list[str | None], values: list[float]) -> api.Job:
    """A job whose trials finished as the SageMaker backend records them (``sagemaker.model_artifacts``)."""
    import datetime

    import optuna
    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_dict({"name": name, "trial": {"script": __file__}, "space": SPACE_X,
                                 "backend": {"name": "sagemaker", "options": {"region": "us-east-1"}}})
    store.create_job(name, spec.to_dict(), "maximize")
    dist = optuna.distributions.FloatDistribution(0, 1)
    for uri, value in zip(uris, values):
        t = FrozenTrial(number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
                        datetime_complete=None, params={"x": value}, distributions={"x": dist},
                        user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=-1)
        trial_id = store.create_trial(name, t)
        store.finish_trial(trial_id, TrialState.COMPLETE, value, {"sagemaker": {"model_artifacts": uri}})
    store.set_job_attrs(name, status="completed")
    return api.Job(name, store)


def test_a_sagemaker_model_is_downloaded_from_s3_extracted_and_loaded(store):
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="j-1/output/model.tar.gz", Body=_model_tar({"coef": [0.5, 2.0]}))
        job = _sagemaker_like_job(store, "sm-job", ["s3://models/j-0/output/model.tar.gz",
                                                     "s3://models/j-1/output/model.tar.gz"], [0.2, 0.9])
        assert [r["artifact"] for r in job.trial_records()] == ["s3://models/j-0/output/model.tar.gz",
                                                                "s3://models/j-1/output/model.tar.gz"]
        assert artifacts.model_path(job) == "s3://models/j-1/output/model.tar.gz"
        assert job.best_model() == {"coef": [0.5, 2.0]}
        # trial 0's archive was never uploaded (a failed upload, a lifecycle rule): one clear error
        with pytest.raises(HpoError, match=r"cannot download s3://models/j-0/output/model.tar.gz"):
            artifacts.load_model(job, 0)


def test_an_s3_archive_with_a_path_out_of_its_folder_is_refused(store):
    import boto3
    from moto import mock_aws

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.pkl")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="evil/model.tar.gz", Body=buf.getvalue())
        job = _sagemaker_like_job(store, "sm-evil", ["s3://models/evil/model.tar.gz"], [0.5])
        with pytest.raises(ArtifactNotFoundError, match=r"is not a readable model.tar.gz"):
            job.best_model()
    assert not Path(tempfile.gettempdir(), "escaped.pkl").exists()  # where ../../ from the extraction folder leads


def test_on_simulated_sagemaker_each_record_carries_its_model_tar_gz_and_the_refit_trains_on_all_data(home, tmp_path):
    """The credit example as simulated SageMaker training jobs (a real runner, the script run as the training
    toolkit runs it): each trial's record carries its ModelArtifacts URI; the refit's container sees
    JUPYTER_HPO_REFIT=1 and saves one model; its archive, put in (moto) S3, loads back and scores its AUC."""
    import shutil

    import boto3
    from moto import mock_aws
    from sklearn.metrics import roc_auc_score

    from tests.test_sagemaker_e2e import DATA, credit_spec

    s3_root = tmp_path / "s3"
    (s3_root / "credit-data" / "credit").mkdir(parents=True)
    shutil.copy(DATA, s3_root / "credit-data" / "credit" / DATA.name)
    spec = credit_spec(s3_root, "sim-artifacts")
    spec["budget"] = {"max_trials": 2, "max_parallel": 2}
    job = api.launch(spec)
    assert job.wait(timeout=240) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    for r in records:
        assert r["artifact"].startswith("s3://")
        assert r["artifact"].endswith(f"/{r['cloud']['training_job']}/output/model.tar.gz")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/simulated-training:latest"  # the simulator's default
    assert {t.user_attrs["sagemaker"]["training_image"] for t in job.raw_trials()} == {image}
    assert job.provenance["image"] == {"uri": image, "digest": None}  # as DescribeTrainingJob gives it
    refit = job.refit(wait=True)
    assert refit.status == JobStatus.COMPLETED, refit.attrs.get("reason")
    (rec,) = refit.trial_records()
    assert artifacts.model_path(job) == rec["artifact"]
    bucket, _, key = rec["artifact"][len("s3://"):].partition("/")
    archive = (s3_root / bucket / key).read_bytes()  # what the simulated training job uploaded
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=archive)
        model = job.best_model()
    import pandas as pd

    df = pd.read_csv(DATA)
    X = df.drop(columns=["ID", "Y"]).to_numpy("float32")
    assert roc_auc_score(df["Y"], model.predict_proba(X)[:, 1]) == pytest.approx(rec["value"], abs=1e-9)


def test_a_resumed_job_keeps_the_best_n_over_both_runs_and_drops_interrupted_trials(home):
    from tests.conftest import wait_for

    job = api.launch(objective=objectives.saves_model_slowly, space=SPACE_X, max_trials=10, max_parallel=1,
                     seed=2, artifacts={"keep_best": 2}, name="resumed-artifacts")
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) >= 3, timeout=120)
    assert job.stop() == JobStatus.STOPPED
    job.resume()
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    complete = [r for r in records if r["state"] == "complete"]
    assert len(complete) == 10
    best_two = {r["number"] for r in sorted(complete, key=lambda r: -r["value"])[:2]}
    assert kept_folders(job) == best_two, "only the best two of both runs keep a folder"
    assert set(job.attrs["artifacts_kept"]) == {str(n) for n in best_two}
    assert job.best_model() == {"x": job.best["params"]["x"]}


def test_a_pushed_out_trial_and_a_folder_gone_from_this_machine_say_which(home):
    job = api.launch(objective=objectives.saves_model, space=SPACE_X, max_trials=6, max_parallel=1, seed=3,
                     artifacts={"keep_best": 1})
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    best = job.best["number"]
    recorded_then_removed = [r for r in records if r["artifact"] and r["number"] != best]
    assert recorded_then_removed, "with one trial at a time, trial 0 was the best when it finished"
    gone = recorded_then_removed[0]["number"]
    with pytest.raises(ArtifactNotFoundError, match=rf"trial {gone} .* has no artifact any more: .* was removed "
                                                    rf"\(artifacts.keep_best=1 keeps the best trials' only; kept now: "
                                                    rf"{best}\)"):
        job.best_model(gone)
    import shutil

    shutil.rmtree(job.store.job_dir(job.name) / "artifacts" / str(best))  # as if on another machine
    with pytest.raises(ArtifactNotFoundError, match=r"keeps its artifact in .* on the machine its runner ran on"):
        job.best_model()
