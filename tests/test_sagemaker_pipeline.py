"""``jupyter hpo export JOB --pipeline``: a SageMaker Pipelines definition whose tuning step is the amt
backend's request, an optional RegisterModel step, and ``--upsert`` (CreatePipeline / UpdatePipeline).

The tuning step is compared with what the amt backend itself sends (captured from its boto3 client under
moto), never with a hard-coded request. The golden definition (``tests/golden/pipeline``) shows the whole
format for review; regenerate it after an intended change with ``JUPYTER_HPO_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from jupyter_hpo import api, cli
from jupyter_hpo.exceptions import BackendError, JobStateError, SpecError
from jupyter_hpo.sagemaker.amt import AmtBackend
from jupyter_hpo.sagemaker.clients import Clients
from jupyter_hpo.sagemaker.limits import check_request
from jupyter_hpo.sagemaker.pipeline import pipeline_definition, upsert_pipeline
from jupyter_hpo.sagemaker.requests import validate_request
from jupyter_hpo.spec import TuningSpec

PLANS = Path(__file__).parent / "golden" / "plan"
GOLDEN = Path(__file__).parent / "golden" / "pipeline"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
PIPELINE_ROLE = "arn:aws:iam::123456789012:role/PipelineRole"


@pytest.fixture(autouse=True)
def no_defaults_files(tmp_path, monkeypatch):
    """Neither this machine's SageMaker defaults files nor Studio change the requests."""
    from jupyter_hpo.sagemaker import defaults

    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(tmp_path / "no-admin.yaml"))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path / "no-user.yaml"))
    monkeypatch.setattr(defaults, "STUDIO_METADATA", tmp_path / "no-studio.json")


@pytest.fixture
def aws():
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="credit-bucket")
        yield boto3.client("sagemaker", region_name="us-east-1")


def stored_job(store, spec_file, backend=None, **options):
    """A job in the store as ``launch`` writes it: the spec after its backend's ``prepare``."""
    spec = TuningSpec.from_file(spec_file)
    if backend:
        spec = spec.replace(backend=backend)
    if options:
        spec = spec.replace(backend_options={**spec.backend_options, **options})
    if spec.backend == "amt":
        spec = AmtBackend.prepare(spec)
    store.create_job(spec.name, spec.to_dict(), spec.objective.direction)
    store.set_job_attrs(spec.name, status="completed")
    return api.attach(spec.name, store), spec


def amt_backend_request(spec, tmp_path):
    """What the amt backend sends for ``spec``: its CreateHyperParameterTuningJob, captured under moto."""
    sent = []
    sm, s3 = boto3.client("sagemaker", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    sm.meta.events.register("provide-client-params.sagemaker.CreateHyperParameterTuningJob",
                            lambda params, **kw: sent.append(copy.deepcopy(params)))
    sagemaker_only = ("keep_alive_s", "warm_wait_s", "spot_retries")  # refused by a launch on amt, not sent by it
    options = {k: v for k, v in spec.backend_options.items() if k not in sagemaker_only}
    backend = AmtBackend(AmtBackend.prepare(spec.replace(backend="amt", backend_options=options)), tmp_path / "job",
                         clients=Clients(sm, None, s3, None))
    backend.start()
    (request,) = sent
    return request


def test_the_tuning_step_carries_the_amt_backends_request_and_matches_the_golden_definition(store, aws, tmp_path):
    job, spec = stored_job(store, PLANS / "amt_bayesian.yaml")
    built = pipeline_definition(job, register_group="credit-models")
    definition = built["definition"]
    assert definition["Version"] == "2020-12-01" and [s["Type"] for s in definition["Steps"]] == [
        "Tuning", "RegisterModel"]
    sent = amt_backend_request(spec, tmp_path)
    assert sent.pop("HyperParameterTuningJobName") == "credit-amt-bayes"
    assert definition["Steps"][0]["Arguments"] == sent  # the same request but for the per-execution name
    golden = GOLDEN / "amt_bayesian_register.json"
    if os.environ.get("JUPYTER_HPO_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(definition, indent=2, sort_keys=True) + "\n")
    assert definition == json.loads(golden.read_text())


def test_a_sagemaker_backend_job_gets_the_amt_request_of_its_spec(store, aws, tmp_path):
    job, spec = stored_job(store, PLANS / "plain.yaml")
    built = pipeline_definition(job)
    (tune,) = built["definition"]["Steps"]
    sent = amt_backend_request(spec, tmp_path)
    del sent["HyperParameterTuningJobName"]
    assert tune["Arguments"] == sent
    assert "KeepAlivePeriodInSeconds" not in tune["Arguments"]["TrainingJobDefinition"]["ResourceConfig"]
    assert ("backend.options.keep_alive_s is not sent: the warm-pool keep-alive; AMT keeps no warm pools you can "
            "set (sagemaker backend), and this plan is for amt.") in built["notes"]
    assert any("s3://credit-bucket/hpo/credit-xgb/source/sourcedir.tar.gz" in n for n in built["notes"])


def test_the_register_step_takes_the_tuning_steps_best_model(store):
    job, _ = stored_job(store, PLANS / "plain.yaml")
    built = pipeline_definition(job, register_group="credit-models", approval="Approved",
                                image="123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:2")
    register = built["definition"]["Steps"][1]["Arguments"]
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["Image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:2"
    assert container["ModelDataUrl"] == {"Std:Join": {"On": "/", "Values": [
        "s3://credit-bucket/hpo/credit-xgb/output", {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
        "output/model.tar.gz"]}}
    assert register["ModelPackageGroupName"] == "credit-models" and register["ModelApprovalStatus"] == "Approved"
    # with a sample model URI where the expression is, it is a valid CreateModelPackage
    sample = copy.deepcopy(register)
    sample["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = "s3://credit-bucket/hpo/m/output/model.tar.gz"
    validate_request("CreateModelPackage", sample)
    check_request("CreateModelPackage", sample)


def test_upsert_creates_then_updates_the_pipeline(store, aws):
    job, _ = stored_job(store, PLANS / "amt_bayesian.yaml")
    built = pipeline_definition(job)
    first = upsert_pipeline(built, role=PIPELINE_ROLE)
    assert first["action"] == "created" and first["arn"].endswith(":pipeline/credit-amt-bayes")
    described = aws.describe_pipeline(PipelineName="credit-amt-bayes")
    assert json.loads(described["PipelineDefinition"]) == built["definition"]
    assert described["RoleArn"] == PIPELINE_ROLE
    again = pipeline_definition(job, register_group="credit-models")
    second = upsert_pipeline(again)  # the job's role by default
    assert second == {"action": "updated", "arn": first["arn"]}
    described = aws.describe_pipeline(PipelineName="credit-amt-bayes")
    assert [s["Name"] for s in json.loads(described["PipelineDefinition"])["Steps"]] == ["Tune", "RegisterBestModel"]
    assert described["RoleArn"] == ROLE


def test_upsert_requests_fit_botocore_and_the_strict_validator(store):
    job, _ = stored_job(store, PLANS / "amt_bayesian.yaml")
    built = pipeline_definition(job, register_group="credit-models")
    sm = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(sm)
    stub.add_client_error("describe_pipeline", "ResourceNotFound", "Pipeline credit-amt-bayes does not exist")
    stub.add_response("create_pipeline", {"PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/x"},
                      expected_params={"PipelineName": "credit-amt-bayes", "PipelineDefinition": ANY,
                                       "PipelineDescription": ANY, "RoleArn": ROLE, "ClientRequestToken": ANY,
                                       # the spec's tags, as on the tuning job (they were dropped)
                                       "Tags": [{"Key": "team", "Value": "credit-risk"},
                                                {"Key": "jupyter-hpo:job", "Value": "credit-amt-bayes"}]})
    calls = []
    sm.meta.events.register("provide-client-params.sagemaker.CreatePipeline",
                            lambda params, **kw: calls.append(copy.deepcopy(params)))
    with stub:
        assert upsert_pipeline(built, client=sm)["action"] == "created"
    stub.assert_no_pending_responses()
    validate_request("CreatePipeline", calls[0])
    check_request("CreatePipeline", calls[0])


def test_a_refused_update_is_one_line_saying_nothing_changed(store):
    job, _ = stored_job(store, PLANS / "amt_bayesian.yaml")
    built = pipeline_definition(job)
    sm = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(sm)
    stub.add_response("describe_pipeline", {"PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/x"})
    stub.add_client_error("update_pipeline", "AccessDeniedException", "not authorized to perform UpdatePipeline")
    with stub, pytest.raises(BackendError) as e:
        upsert_pipeline(built, client=sm)
    assert "\n" not in str(e.value)
    assert str(e.value).startswith("UpdatePipeline failed: AccessDeniedException: not authorized")
    assert "nothing was created or changed" in str(e.value)


# -- bad input ---------------------------------------------------------------------------------------
def test_a_local_job_is_refused_saying_what_to_do(store):
    spec = TuningSpec.from_file(PLANS / "plain.yaml").replace(backend="local", backend_options={})
    store.create_job(spec.name, spec.to_dict(), "maximize")
    with pytest.raises(JobStateError, match=r"ran on the local backend, so it has no SageMaker request.*--mlflow"):
        pipeline_definition(api.attach(spec.name, store))


def test_a_spec_amt_cannot_take_is_refused_naming_the_field(store):
    spec = TuningSpec.from_file(PLANS / "plain.yaml").replace(early_stopping="kfold")
    store.create_job(spec.name, spec.to_dict(), "maximize")
    job = api.attach(spec.name, store)
    assert job.spec["early_stopping"] == "kfold"
    with pytest.raises(SpecError, match=r"cannot be exported as a pipeline \(its tuning step is AMT's.*"
                                        r"`early_stopping: kfold` is not available on the amt backend"):
        pipeline_definition(job)


def test_upsert_without_a_role_or_with_a_bad_one_is_refused_before_sending(store, aws):
    job, _ = stored_job(store, PLANS / "amt_bayesian.yaml")
    built = pipeline_definition(job)
    from dataclasses import replace

    with pytest.raises(SpecError, match=r"the pipeline needs an execution role: give --role ARN"):
        upsert_pipeline({**built, "options": replace(built["options"], role=None)})
    with pytest.raises(SpecError, match=r"--role must be an IAM role ARN .*'arn:aws:iam::123:role/short-account'"):
        upsert_pipeline(built, role="arn:aws:iam::123:role/short-account")
    assert aws.list_pipelines()["PipelineSummaries"] == []


def test_a_mirrored_tuning_job_made_elsewhere_is_refused(store):
    job, _ = stored_job(store, PLANS / "amt_bayesian.yaml")
    spec = job.spec
    store.set_job_attrs(job.name, spec={**spec, "backend": {**spec["backend"], "options": {
        **spec["backend"]["options"], "attach": "their-tuning-job"}}})
    with pytest.raises(SpecError, match=r"cannot be exported as a pipeline: .*attach: their-tuning-job.* mirrors an "
                                        r"existing tuning job"):
        pipeline_definition(job)


def test_a_pipeline_name_aws_refuses_is_refused(store):
    job, _ = stored_job(store, PLANS / "amt_bayesian.yaml")
    with pytest.raises(SpecError, match=r"CreatePipeline.PipelineName must match the pattern"):
        pipeline_definition(job, name="credit_pipeline")


# -- the CLI -----------------------------------------------------------------------------------------
def test_cli_export_prints_writes_and_upserts(home, aws, tmp_path, capsys):
    from jupyter_hpo.store import Store

    stored_job(Store(home=home), PLANS / "amt_bayesian.yaml")
    assert cli.main(["export", "credit-amt-bayes", "--pipeline"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["Steps"][0]["Name"] == "Tune" and "note: the tuning step runs" in out.err
    target = tmp_path / "pipeline.json"
    assert cli.main(["export", "credit-amt-bayes", "--pipeline", "--register", "credit-models", "-o", str(target),
                     "--upsert", "--role", PIPELINE_ROLE, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["upserted"] == "created" and result["file"] == str(target)
    assert json.loads(target.read_text()) == result["definition"]
    assert aws.describe_pipeline(PipelineName="credit-amt-bayes")["RoleArn"] == PIPELINE_ROLE
    assert cli.main(["export", "credit-amt-bayes", "--pipeline", "--upsert", "--name", "other-name"]) == 0
    text = capsys.readouterr()
    assert "created pipeline other-name: arn:aws:sagemaker:us-east-1:123456789012:pipeline/other-name" in text.err


def test_cli_export_failure_is_one_line_and_exit_1(home, aws, capsys):
    from jupyter_hpo.store import Store

    store = Store(home=home)
    stored_job(store, PLANS / "amt_bayesian.yaml")
    assert cli.main(["export", "credit-amt-bayes", "--pipeline", "--upsert", "--name", "bad_name"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PipelineName must match the pattern" in err[0]


def test_cli_export_to_an_unwritable_file_is_one_line_and_exit_1(home, tmp_path, capsys):
    from jupyter_hpo.store import Store

    stored_job(Store(home=home), PLANS / "amt_bayesian.yaml")
    target = tmp_path / "no-such-folder" / "pipeline.json"
    assert cli.main(["export", "credit-amt-bayes", "--pipeline", "-o", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot write the pipeline definition to {target}: No such file or directory" in err[0]
    assert not target.parent.exists()
