"""``jupyter hpo doctor`` (issue 11, part 7): each preflight check's outcomes (ok / warn / fail, one line),
driven by botocore's Stubber; no request reaches AWS."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from jupyter_hpo.sagemaker import doctor as doctor_module
from jupyter_hpo.sagemaker.doctor import doctor, format_checks
from jupyter_hpo.spec import TuningSpec

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CALLER = "arn:aws:sts::123456789012:assumed-role/DataScientist/alice"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SERVICES = ("sts", "iam", "s3", "ecr", "service-quotas")


@pytest.fixture
def aws():
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    clients = {name: session.client(name) for name in SERVICES}
    stubs = {name: Stubber(c) for name, c in clients.items()}
    for s in stubs.values():
        s.activate()
    yield clients, stubs
    for s in stubs.values():
        s.assert_no_pending_responses()


def spec_of(tmp_path, **options):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text("print('auc=0.5')\n")
    return TuningSpec.from_dict({
        "name": "credit-doc", "trial": {"script": str(tmp_path / "src" / "train.py")},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "budget": {"max_trials": 10, "max_parallel": 4},
        "backend": {"name": "sagemaker", "options": {"role": ROLE, "image": IMAGE, "s3_prefix": "s3://bkt/hpo",
                                                     "region": "us-east-1", **options}}})


def caller_ok(stubs):
    stubs["sts"].add_response("get_caller_identity", {"Account": "123456789012", "Arn": CALLER, "UserId": "AID:alice"})


def pass_role(stubs, decision="allowed"):
    stubs["iam"].add_response("simulate_principal_policy", {"EvaluationResults": [
        {"EvalActionName": "iam:PassRole", "EvalResourceName": ROLE, "EvalDecision": decision}]},
        {"PolicySourceArn": "arn:aws:iam::123456789012:role/DataScientist", "ActionNames": ["iam:PassRole"],
         "ResourceArns": [ROLE], "ContextEntries": ANY})


def quotas(stubs, training=8.0, warm=4.0):
    stubs["service-quotas"].add_response("list_service_quotas", {"Quotas": [
        {"QuotaName": "ml.m5.xlarge for training job usage", "Value": training},
        {"QuotaName": "ml.m5.xlarge for training warm pool usage", "Value": warm},
        {"QuotaName": "ml.c5.xlarge for training warm pool usage", "Value": 9.0}]})


def by_name(checks):
    return {c.name: c for c in checks}


def test_every_check_ok(tmp_path, aws):
    clients, stubs = aws
    caller_ok(stubs)
    pass_role(stubs)
    stubs["s3"].add_response("put_object", {}, {"Bucket": "bkt", "Key": "hpo/credit-doc/doctor-write-check",
                                                "Body": ANY})
    quotas(stubs)
    checks = doctor(spec_of(tmp_path), clients)
    assert [(c.name, c.status) for c in checks] == [
        ("spec", "ok"), ("credentials", "ok"), ("role", "ok"), ("bucket", "ok"), ("image", "ok"),
        ("instance quota", "ok"), ("warm-pool quota", "ok")]
    assert all("\n" not in line for line in format_checks(checks).splitlines())


def test_pass_role_denied_fails_and_an_unrunnable_simulation_warns(tmp_path, aws):
    clients, stubs = aws
    from jupyter_hpo.sagemaker.doctor import _pass_role
    from jupyter_hpo.sagemaker.options import SageMakerOptions

    opts = SageMakerOptions.from_spec(spec_of(tmp_path))
    caller = {"account": "123456789012", "arn": "arn:aws:iam::123456789012:role/DataScientist"}
    pass_role(stubs, "implicitDeny")
    check = _pass_role(clients["iam"], caller, opts)
    assert check.status == "fail" and "iam:PassRole on" in check.reason and "implicitDeny" in check.reason
    stubs["iam"].add_client_error("simulate_principal_policy", "AccessDenied", "not allowed", 403)
    assert _pass_role(clients["iam"], caller, opts).status == "warn"


def test_a_bucket_that_refuses_the_write_fails_with_the_kms_hint(tmp_path, aws):
    clients, stubs = aws
    from jupyter_hpo.sagemaker.doctor import _bucket
    from jupyter_hpo.sagemaker.options import SageMakerOptions

    spec = spec_of(tmp_path)
    stubs["s3"].add_client_error("put_object", "AccessDenied", "Access Denied", 403)
    check = _bucket(clients["s3"], spec, SageMakerOptions.from_spec(spec))
    assert check.status == "fail" and "needs backend.options.kms_key_id" in check.reason
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    spec = spec_of(tmp_path, kms_key_id=key)
    stubs["s3"].add_response("put_object", {}, {"Bucket": "bkt", "Key": ANY, "Body": ANY,
                                                "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key})
    assert _bucket(clients["s3"], spec, SageMakerOptions.from_spec(spec)).status == "ok"


@pytest.mark.parametrize("training, warm, want", [
    (8.0, 0.0, {"instance quota": "ok", "warm-pool quota": "warn"}),
    (2.0, 4.0, {"instance quota": "fail", "warm-pool quota": "ok"}),
])
def test_quotas(tmp_path, aws, training, warm, want):
    clients, stubs = aws
    from jupyter_hpo.sagemaker.doctor import _quotas
    from jupyter_hpo.sagemaker.options import SageMakerOptions

    spec = spec_of(tmp_path)
    quotas(stubs, training, warm)
    checks = by_name(_quotas(clients["service-quotas"], spec, SageMakerOptions.from_spec(spec)))
    assert {k: c.status for k, c in checks.items()} == want
    if warm == 0:
        assert "no trial will start warm" in checks["warm-pool quota"].reason
    stubs["service-quotas"].add_client_error("list_service_quotas", "AccessDeniedException", "no", 400)
    assert [c.status for c in _quotas(clients["service-quotas"], spec, SageMakerOptions.from_spec(spec))] == ["warn"]


def test_an_image_in_the_callers_account_is_looked_up(tmp_path, aws):
    clients, stubs = aws
    from jupyter_hpo.sagemaker.doctor import _image
    from jupyter_hpo.sagemaker.options import SageMakerOptions

    opts = SageMakerOptions.from_spec(spec_of(tmp_path, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/risk:v3"))
    stubs["ecr"].add_client_error("describe_images", "ImageNotFoundException", "no such tag", 400)
    check = _image(clients["ecr"], {"account": "123456789012", "arn": ROLE}, opts)
    assert check.status == "fail" and "ImageNotFoundException" in check.reason


def test_an_illegal_combination_fails_the_spec_check(tmp_path, aws):
    clients, stubs = aws
    caller_ok(stubs)
    checks = by_name(doctor(spec_of(tmp_path, spot=True, keep_alive_s=600), clients))
    assert checks["spec"].status == "fail" and "warm pools do not work with managed spot" in checks["spec"].reason
    assert set(checks) == {"spec", "credentials"}


def test_expired_credentials_fail_and_stop_there(tmp_path, aws):
    clients, stubs = aws
    stubs["sts"].add_client_error("get_caller_identity", "ExpiredToken", "The security token expired", 403)
    checks = doctor(spec_of(tmp_path), clients)
    assert [(c.name, c.status) for c in checks] == [("spec", "ok"), ("credentials", "fail")]
    assert "expired" in checks[1].reason


def test_the_cli_prints_one_line_per_check_and_exits_1_on_a_failure(tmp_path, aws, monkeypatch, capsys):
    from jupyter_hpo.cli import main

    clients, stubs = aws
    monkeypatch.setattr(doctor_module, "_clients", lambda region, profile, checks: clients)
    stubs["sts"].add_client_error("get_caller_identity", "ExpiredToken", "The security token expired", 403)
    assert main(["doctor", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"name": "credentials", "status": "fail", "reason": json.loads(json.dumps(
            "ExpiredToken: The security token expired. The AWS credentials expired or are not valid: refresh them "
            "and resume the job. (aws configure, AWS_PROFILE or an instance role)"))}]


@pytest.mark.parametrize("spot_first", [True, False])
def test_the_instance_quota_is_the_on_demand_one_or_for_spot_the_spot_one(tmp_path, aws, spot_first):
    # Service Quotas lists '<type> for spot training job usage' too, in no set order; the check names the one it read
    clients, stubs = aws
    from jupyter_hpo.sagemaker.doctor import _quotas
    from jupyter_hpo.sagemaker.options import SageMakerOptions

    listed = [{"QuotaName": "ml.m5.xlarge for spot training job usage", "Value": 0.0},
              {"QuotaName": "ml.m5.xlarge for training job usage", "Value": 20.0},
              {"QuotaName": "ml.m5.xlarge for training warm pool usage", "Value": 4.0}]
    for spec in (spec_of(tmp_path), spec_of(tmp_path, spot=True, keep_alive_s=0)):
        stubs["service-quotas"].add_response("list_service_quotas",
                                             {"Quotas": listed if spot_first else listed[::-1]})
        checks = by_name(_quotas(clients["service-quotas"], spec, SageMakerOptions.from_spec(spec)))
        quota = checks["instance quota"]
        if spec.backend_options.get("spot"):
            assert quota.status == "fail" and quota.reason.startswith("'ml.m5.xlarge for spot training job usage' is 0")
        else:
            assert quota.status == "ok" and "'ml.m5.xlarge for training job usage'" in quota.reason
            assert quota.reason.startswith("20 of ")
