"""``jupyter hpo register JOB --sagemaker GROUP``: the model package in the SageMaker Model Registry.

moto (in-process ``mock_aws``) answers S3 and the model package calls; every request is checked against
botocore's service model and the strict validator. Jobs are written into the store as the sagemaker and
amt backends record them (``sagemaker.model_artifacts`` from DescribeTrainingJob's ``ModelArtifacts``).
"""

from __future__ import annotations

import hashlib
import json

import boto3
import optuna
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from jupyter_hpo import api, cli
from jupyter_hpo.exceptions import BackendError, JobStateError, SpecError
from jupyter_hpo.sagemaker.limits import check_request
from jupyter_hpo.sagemaker.registry import model_package_request, register_sagemaker
from jupyter_hpo.sagemaker.requests import validate_request
from jupyter_hpo.spec import TuningSpec
from tests.conftest import EXAMPLE

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "credit-bucket"


def spec_dict(name="credit-xgb", backend="sagemaker", **options):
    return {
        "name": name,
        "trial": {"script": str(EXAMPLE / "train.py"), "hyperparameters": {"folds": 5}},
        "space": {"max_depth": {"type": "int", "low": 2, "high": 8},
                  "eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "log"}},
        "objective": {"metric": "auc", "direction": "maximize"},
        "early_stopping": "off",
        "budget": {"max_trials": 4, "max_parallel": 2},
        "seed": 7,
        "backend": {"name": backend, "options": {"role": ROLE, "image": IMAGE, "region": "us-east-1",
                                                  "s3_prefix": f"s3://{BUCKET}/hpo",
                                                  "inputs": {"train": f"s3://{BUCKET}/data/train/"}, **options}},
    }


#: the job's provenance as its runner records it (jupyter_hpo.provenance.collect)
RECORDED = {"spec_sha256": "ab" * 32, "code": {"script": str(EXAMPLE / "train.py"), "sha256": "cd" * 32},
            "seed": 7, "image": {"uri": IMAGE, "digest": None}, "owner": {"user": "ana", "host": "studio"},
            "recorded": 1.0}


def artifact(name, trial):
    return f"s3://{BUCKET}/hpo/{name}/output/{name}-{trial:05d}-abc123/output/model.tar.gz"


def make_job(store, spec=None, trials=((0.71, True), (0.78, True), (0.74, True)), **attrs):
    """A finished job in the store as a SageMaker backend leaves it: (value, has an artifact) per trial."""
    spec = spec or spec_dict()
    spec = TuningSpec.from_dict(spec).to_dict()
    name = spec["name"]
    store.create_job(name, spec, "maximize")
    store.set_job_attrs(name, status="completed", ended=1.0, provenance=RECORDED, **attrs)
    space = api.SearchSpace.from_dict(spec["space"])
    study = optuna.load_study(study_name=name, storage=store.storage)
    for n, (value, has_artifact) in enumerate(trials):
        state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
        params = {"max_depth": 3 + n, "eta": 0.05 * (n + 1)}
        sm = {"training_job": f"{name}-{n:05d}-abc123", "status": "Completed",
              "model_artifacts": artifact(name, n) if has_artifact else None}
        study.add_trial(optuna.trial.create_trial(
            state=state, value=value, params=space.to_optuna_params(params), distributions=space.to_optuna(),
            user_attrs={"sagemaker": sm, "fold_scores": [value - 0.01, value + 0.01] if value else None,
                        "fold_mean": value, "fold_std": 0.01 if value else None}))
    return api.attach(name, store)


@pytest.fixture
def aws():
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield boto3.client("sagemaker", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")


def test_register_creates_the_group_and_a_pending_package_with_the_best_model_metrics_and_provenance(store, aws):
    sm, s3 = aws
    job = make_job(store)
    out = register_sagemaker(job, "credit-models")
    assert out["group_created"] is True and out["trial"] == 1 and out["refit"] is False
    assert out["value"] == 0.78 and out["model_data_url"] == artifact("credit-xgb", 1)
    package = sm.describe_model_package(ModelPackageName=out["model_package_arn"])
    assert package["ModelPackageGroupName"] == "credit-models"
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container == {"Image": IMAGE, "ModelDataUrl": artifact("credit-xgb", 1)}
    meta = package["CustomerMetadataProperties"]
    assert meta["jupyter-hpo:job"] == "credit-xgb" and meta["jupyter-hpo:trial"] == "1"
    assert meta["jupyter-hpo:auc"] == "0.78" and meta["jupyter-hpo:training-job"] == "credit-xgb-00001-abc123"
    assert meta["jupyter-hpo:spec-sha256"] == hashlib.sha256(json.dumps(job.spec, sort_keys=True).encode()).hexdigest()
    assert meta["jupyter-hpo:metrics"] == out["metrics_uri"] and meta["jupyter-hpo:provenance"] == out["provenance_uri"]
    assert "best trial 1 (auc=0.78)" in package["ModelPackageDescription"]
    # the metrics report: next to the model, its digest in the package
    stats = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert stats["S3Uri"] == artifact("credit-xgb", 1).replace("model.tar.gz", "jupyter-hpo-metrics.json")
    body = s3.get_object(Bucket=BUCKET, Key=stats["S3Uri"].split(f"{BUCKET}/", 1)[1])["Body"].read()
    assert stats["ContentDigest"] == "sha256:" + hashlib.sha256(body).hexdigest()
    report = json.loads(body)
    assert report["objective"] == {"metric": "auc", "direction": "maximize", "value": 0.78, "refit_value": None}
    assert report["fold_scores"] == pytest.approx([0.77, 0.79]) and report["params"] == {"max_depth": 4, "eta": 0.1}
    provenance_key = meta["jupyter-hpo:provenance"].split(f"{BUCKET}/", 1)[1]
    provenance = json.loads(s3.get_object(Bucket=BUCKET, Key=provenance_key)["Body"].read())
    assert provenance == {"job": "credit-xgb", **RECORDED, "spec": job.spec}  # as the runner recorded it


def test_a_second_register_reuses_the_group_and_adds_a_version(store, aws):
    sm, _ = aws
    job = make_job(store)
    first = register_sagemaker(job, "credit-models")
    second = register_sagemaker(job, "credit-models", approval="Approved")
    assert (first["group_created"], second["group_created"]) == (True, False)
    listed = sm.list_model_packages(ModelPackageGroupName="credit-models")["ModelPackageSummaryList"]
    assert sorted(p["ModelApprovalStatus"] for p in listed) == ["Approved", "PendingManualApproval"]


def add_refit(store, job, complete=True, of=None):
    """A refit job as ``job.refit()`` records it: its own job (trial 0 the refit run), named by the job's ``refit``;
    ``of``: the trial it repeats (default: the best)."""
    spec = dict(job.spec, name=f"{job.name}-refit")
    store.create_job(spec["name"], spec, "maximize")
    store.set_job_attrs(spec["name"], refit_of={"job": job.name, "trial": job.best["number"] if of is None else of})
    store.set_job_attrs(job.name, refit=spec["name"])
    study = optuna.load_study(study_name=spec["name"], storage=store.storage)
    state = optuna.trial.TrialState.COMPLETE if complete else optuna.trial.TrialState.FAIL
    study.add_trial(optuna.trial.create_trial(
        state=state, value=0.775 if complete else None, params={}, distributions={},
        user_attrs={"artifact": f"s3://{BUCKET}/hpo/credit-xgb-refit/output/model.tar.gz",
                    "sagemaker": {"training_job": "credit-xgb-refit-00000-def456"}}))


def test_a_refit_run_is_registered_instead_of_the_best_trial(store, aws):
    """The refit run's model, scored as the trial it repeats was tuned: the package showed the refit's own value
    (in-sample for the credit example, not a validation score) as the model's, without the trial's fold scores."""
    sm, s3 = aws
    job = make_job(store)
    add_refit(store, job)
    out = register_sagemaker(job, "credit-models")
    assert out["refit"] is True and out["refit_job"] == "credit-xgb-refit"
    assert (out["value"], out["refit_value"]) == (0.78, 0.775)
    assert out["model_data_url"] == f"s3://{BUCKET}/hpo/credit-xgb-refit/output/model.tar.gz"
    package = sm.describe_model_package(ModelPackageName=out["model_package_arn"])
    assert ("refit run (credit-xgb-refit) of trial 1 (auc=0.78 as tuned; the refit run reported 0.775 of itself)"
            in package["ModelPackageDescription"]), package["ModelPackageDescription"]
    meta = package["CustomerMetadataProperties"]
    assert (meta["jupyter-hpo:refit"], meta["jupyter-hpo:refit-job"], meta["jupyter-hpo:trial"]) == (
        "true", "credit-xgb-refit", "1")
    assert (meta["jupyter-hpo:auc"], meta["jupyter-hpo:refit-value"]) == ("0.78", "0.775")
    assert meta["jupyter-hpo:training-job"] == "credit-xgb-refit-00000-def456"
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=out["metrics_uri"].split(f"{BUCKET}/", 1)[1])["Body"].read())
    assert report["objective"]["value"] == 0.78 and report["objective"]["refit_value"] == 0.775
    assert report["fold_scores"] == pytest.approx([0.77, 0.79]) and report["best_trial"]["trial"] == 1
    assert report["params"] == {"max_depth": 4, "eta": 0.1}


def test_a_running_jobs_best_trial_so_far_is_registered_with_a_note(store, aws):
    import os
    import socket
    import time

    job = make_job(store)
    store.set_job_attrs(job.name, status="running", heartbeat=time.time(),
                        runner={"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
    assert job.status.value == "running"
    out = register_sagemaker(job, "credit-models")
    assert out["trial"] == 1 and out["notes"] == ["job credit-xgb is still running: the best trial so far is registered."]


def test_a_refit_without_a_complete_run_is_refused_never_silently_replaced(store, aws):
    sm, _ = aws
    job = make_job(store)
    add_refit(store, job, complete=False)
    with pytest.raises(JobStateError, match=r"job 'credit-xgb' was refit as 'credit-xgb-refit', which has no complete "
                                            r"run .*--trial N` \(trial=N in Python; the best: 1\)"):
        register_sagemaker(job, "credit-models")
    assert groups(sm) == []


def test_a_refit_of_a_trial_no_longer_the_best_is_refused_and_the_best_can_be_named(store, aws):
    """The job was refit when trial 0 was its best, then resumed: trial 1 is now the best. The old refit was
    registered as the job's model, with the new best's number and parameters recorded beside it."""
    sm, _ = aws
    job = make_job(store)
    add_refit(store, job, of=0)
    with pytest.raises(JobStateError, match=r"job 'credit-xgb' was refit as 'credit-xgb-refit', which repeats trial 0, "
                                            r"no longer the best \(trial 1 is, .*\): refit it again .*, or register a "
                                            r"trial's own model: `jupyter hpo register credit-xgb --sagemaker GROUP "
                                            r"--trial N` \(trial=N in Python; the best: 1\)\."):
        register_sagemaker(job, "credit-models")
    assert groups(sm) == []
    out = register_sagemaker(job, "credit-models", trial=1)
    assert out["trial"] == 1 and out["refit"] is False


def test_trial_registers_that_trials_own_model(store, aws):
    sm, s3 = aws
    job = make_job(store)
    add_refit(store, job, complete=False)
    out = register_sagemaker(job, "credit-models", trial=2)
    assert (out["trial"], out["best_trial"], out["refit"], out["value"]) == (2, 1, False, 0.74)
    assert out["model_data_url"] == artifact("credit-xgb", 2)
    package = sm.describe_model_package(ModelPackageName=out["model_package_arn"])
    assert "trial 2 (auc=0.74)" in package["ModelPackageDescription"]
    assert package["CustomerMetadataProperties"]["jupyter-hpo:trial"] == "2"
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=out["metrics_uri"].split(f"{BUCKET}/", 1)[1])["Body"].read())
    assert report["params"] == {"max_depth": 5, "eta": pytest.approx(0.15)} and report["best_trial"]["trial"] == 1
    with pytest.raises(JobStateError, match=r"trial 7 of job 'credit-xgb' is not in the job"):
        register_sagemaker(job, "credit-models", trial=7)


def test_the_reports_are_encrypted_with_the_jobs_kms_key(store, aws):
    _, s3 = aws
    job = make_job(store, spec_dict(kms_key_id=KEY))
    out = register_sagemaker(job, "credit-models")
    key = out["metrics_uri"].split(f"{BUCKET}/", 1)[1]
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == KEY


def test_the_group_and_package_carry_the_specs_tags_and_the_package_its_kms_key(store, aws):
    """A bank's tags (cost-center, data-class) were on its training jobs only: the group and the package had
    jupyter-hpo's own tag alone, and the package no SecurityConfig."""
    sm, s3 = aws
    sent = {}
    for operation in ("CreateModelPackageGroup", "CreateModelPackage"):
        sm.meta.events.register(f"provide-client-params.sagemaker.{operation}",
                                lambda params, operation=operation, **kw: sent.setdefault(operation, params))
    job = make_job(store, spec_dict(kms_key_id=KEY, tags={"cost-center": "4711", "data-class": "confidential"}))
    register_sagemaker(job, "credit-models", clients=(sm, s3))
    bank = [{"Key": "cost-center", "Value": "4711"}, {"Key": "data-class", "Value": "confidential"}]
    assert sent["CreateModelPackageGroup"]["Tags"] == [*bank, {"Key": "jupyter-hpo:created-by", "Value": "jupyter-hpo"}]
    assert sent["CreateModelPackage"]["Tags"] == [*bank, {"Key": "jupyter-hpo:job", "Value": "credit-xgb"}]
    assert sent["CreateModelPackage"]["SecurityConfig"] == {"KmsKeyId": KEY}
    for operation, params in sent.items():
        validate_request(operation, params)
        check_request(operation, params)


def test_an_amt_job_registers_too_and_image_overrides_the_training_image(store, aws):
    sm, _ = aws
    job = make_job(store, spec_dict(name="credit-amt", backend="amt"))
    other = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:2"
    out = register_sagemaker(job, "credit-models", image=other)
    package = sm.describe_model_package(ModelPackageName=out["model_package_arn"])
    assert package["InferenceSpecification"]["Containers"][0]["Image"] == other


def test_every_request_fits_botocore_and_the_strict_validator(store):
    job = make_job(store)
    from jupyter_hpo.sagemaker.registry import job_spec_and_options, model_candidate

    spec, opts = job_spec_and_options(job)
    request = model_package_request(job, spec, opts, model_candidate(job), group="credit-models", image=IMAGE,
                                    approval="PendingManualApproval", metrics_uri="s3://b/m.json",
                                    metrics_body=b"{}", provenance_uri="s3://b/p.json")
    validate_request("CreateModelPackage", request)
    check_request("CreateModelPackage", request)


# -- bad input: one clear error, nothing created ----------------------------------------------------
def groups(sm):
    return [g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]]


@pytest.mark.parametrize("group, rule", [
    ("credit_models", "must match the pattern"),
    ("-credit", "must match the pattern"),
    ("x" * 64, "must be at most 63 characters"),
])
def test_a_group_name_aws_refuses_is_refused_before_anything_is_sent(store, aws, group, rule):
    sm, s3 = aws
    job = make_job(store)
    with pytest.raises(SpecError, match=rule):
        register_sagemaker(job, group)
    assert groups(sm) == [] and s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_a_job_without_a_complete_trial_is_refused(store, aws):
    sm, _ = aws
    job = make_job(store, trials=((None, False), (None, False)))
    with pytest.raises(JobStateError, match=r"job 'credit-xgb' has no complete trial.*2 trial\(s\), none complete"):
        register_sagemaker(job, "credit-models")
    assert groups(sm) == []


def test_a_best_trial_without_an_artifact_is_refused(store, aws):
    sm, _ = aws
    job = make_job(store, trials=((0.7, True), (0.8, False)))
    with pytest.raises(JobStateError, match=r"best trial \(1\) of job 'credit-xgb' recorded no model artifact on S3"):
        register_sagemaker(job, "credit-models")
    assert groups(sm) == []


def test_a_local_job_is_refused_saying_what_to_do(store, aws):
    spec = spec_dict(name="local-job")
    spec["backend"] = {"name": "local"}
    job = make_job(store, spec)
    with pytest.raises(JobStateError, match=r"ran on the local backend, so its model is not on S3.*--mlflow"):
        register_sagemaker(job, "credit-models")


def test_a_job_run_on_the_simulated_sagemaker_is_refused(store, aws):
    sm, _ = aws
    job = make_job(store, spec_dict(name="sim-job", simulate={"speed": 100}))
    with pytest.raises(JobStateError, match=r"ran on the simulated SageMaker .* run it on SageMaker to register it"):
        register_sagemaker(job, "credit-models")
    assert groups(sm) == []


def test_a_refused_model_package_keeps_the_new_group_and_says_so(store, aws):
    sm, _ = aws
    job = make_job(store)
    stub = Stubber(sm)
    stub.add_client_error("describe_model_package_group", "ValidationException",
                          "ModelPackageGroup credit-models does not exist.")
    stub.add_response("create_model_package_group", {"ModelPackageGroupArn": "arn:aws:sagemaker:us-east-1:"
                                                     "123456789012:model-package-group/credit-models"})
    stub.add_client_error("create_model_package", "AccessDeniedException", "not authorized: CreateModelPackage")
    s3 = boto3.client("s3", region_name="us-east-1")
    with stub, pytest.raises(BackendError) as e:
        register_sagemaker(job, "credit-models", clients=(sm, s3))
    stub.assert_no_pending_responses()
    text = str(e.value)
    assert "CreateModelPackage failed: AccessDeniedException" in text and "\n" not in text
    assert "the model package group credit-models was created and is kept: `jupyter hpo register` reuses it" in text


def test_a_refused_group_says_nothing_was_registered_and_where_the_reports_are(store, aws):
    sm, s3 = aws
    job = make_job(store)
    stub = Stubber(sm)
    stub.add_client_error("describe_model_package_group", "ValidationException",
                          "ModelPackageGroup credit-models does not exist.")
    stub.add_client_error("create_model_package_group", "AccessDeniedException", "not authorized")
    with stub, pytest.raises(BackendError) as e:
        register_sagemaker(job, "credit-models", clients=(sm, s3))
    stub.assert_no_pending_responses()
    text = str(e.value)
    assert text.startswith("CreateModelPackageGroup failed: AccessDeniedException: not authorized")
    assert "nothing was registered; the metrics and provenance were written to s3://" in text and "\n" not in text


# -- the CLI ---------------------------------------------------------------------------------------
def test_cli_register_json_and_errors(home, aws, capsys):
    from jupyter_hpo.store import Store

    store = Store(home=home)
    make_job(store)
    assert cli.main(["register", "credit-xgb", "--sagemaker", "credit-models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group"] == "credit-models" and out["model_package_arn"].endswith("model-package/credit-models/1")
    assert cli.main(["register", "credit-xgb", "--sagemaker", "credit-models"]) == 0
    text = capsys.readouterr().out
    assert "registered job credit-xgb's best trial 1 (auc=0.78) in the existing model package group" in text
    add_refit(store, api.attach("credit-xgb", store))  # a refit's line says which score is which
    assert cli.main(["register", "credit-xgb", "--sagemaker", "credit-models"]) == 0
    assert ("registered job credit-xgb's refit run (credit-xgb-refit) of trial 1 (auc=0.78 as tuned; the refit run "
            "reported 0.775 of itself) in the existing model package group") in capsys.readouterr().out
    spec = spec_dict(name="local-job")
    spec["backend"] = {"name": "local"}
    make_job(store, spec)
    assert cli.main(["register", "local-job", "--sagemaker", "credit-models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ran on the local backend" in err[0]
    assert cli.main(["register", "credit-xgb", "--sagemaker", "credit_models"]) == 2  # a group name AWS refuses:
    err = capsys.readouterr().err.strip().splitlines()  # bad input, as in every command
    assert len(err) == 1 and "must match the pattern" in err[0]


def test_cli_region_and_profile_take_effect(home, aws, capsys):
    from jupyter_hpo.store import Store

    make_job(Store(home=home))
    assert cli.main(["register", "credit-xgb", "--sagemaker", "credit-models", "--region", "eu-west-1",
                     "--json"]) == 0
    assert ":eu-west-1:" in json.loads(capsys.readouterr().out)["model_package_arn"]
    eu = boto3.client("sagemaker", region_name="eu-west-1")
    assert groups(eu) == ["credit-models"] and groups(aws[0]) == []
    assert cli.main(["register", "credit-xgb", "--sagemaker", "credit-models", "--profile", "no-such-profile"]) == 1
    assert "the AWS profile could not be loaded" in capsys.readouterr().err


# -- what a real runner records is what the registry reads -----------------------------------------------
SIM_TRAIN = """\
from jupyter_hpo import trial

p = trial.params()
print(f"auc={1.0 - abs(p['eta'] - 0.1) - 0.01 * p['max_depth']:.6f}")
"""


def test_the_model_registered_is_the_one_the_amt_backend_recorded(home, tmp_path):
    """A real runner mirrors a tuning job of the simulated SageMaker; the registry picks the best trial's
    ModelArtifacts as recorded (the same as jupyter_hpo.artifacts.model_path), and refuses to register a
    simulated model in the real registry."""
    from jupyter_hpo.artifacts import model_path
    from jupyter_hpo.sagemaker.registry import model_candidate

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(SIM_TRAIN)
    spec = spec_dict(name="sim-amt-reg", backend="amt")
    spec["trial"] = {"script": str(script)}
    spec["budget"] = {"max_trials": 3, "max_parallel": 3}
    spec["strategy"] = "random"
    spec["backend"]["options"] = {"poll_s": 5, "simulate": {"speed": 200, "cold_startup_s": 20, "training_s": 10,
                                                            "executor": "script"}}
    job = api.launch(spec)
    assert job.wait(timeout=60).value == "completed", job.attrs.get("reason")
    best = job.best
    (record,) = [r for r in job.trial_records() if r["number"] == best["number"]]
    cand = model_candidate(job)
    assert (cand["number"], cand["value"]) == (best["number"], best["value"])
    assert cand["artifact"] == record["artifact"] == model_path(job)
    assert cand["artifact"].startswith("s3://") and cand["artifact"].endswith(f"/{cand['training_job']}/output/model.tar.gz")
    with pytest.raises(JobStateError, match="ran on the simulated SageMaker"):
        register_sagemaker(job, "credit-models")
