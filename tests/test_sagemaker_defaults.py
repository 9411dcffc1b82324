"""The SageMaker SDK's admin and user defaults files and Studio's execution role (issue 11, part 6): read
without the SDK, with the SDK's locations and precedence; the spec's values win; ``plan`` says where each
value came from."""

from __future__ import annotations

import json

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker import AmtBackend, SageMakerBackend
from jupyter_hpo.sagemaker import defaults as defaults_module
from jupyter_hpo.sagemaker.plan import format_plan
from jupyter_hpo.spec import TuningSpec

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/AdminDefaultRole"
USER_ROLE = "arn:aws:iam::123456789012:role/UserDefaultRole"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

ADMIN = f"""SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      Session: {{DefaultS3Bucket: bank-ml-artifacts, DefaultS3ObjectKeyPrefix: risk/hpo}}
  TrainingJob:
    RoleArn: {ADMIN_ROLE}
    EnableNetworkIsolation: true
    VpcConfig: {{Subnets: [subnet-0aaa], SecurityGroupIds: [sg-0bbb]}}
    OutputDataConfig: {{KmsKeyId: {KEY}}}
    ResourceConfig: {{VolumeKmsKeyId: {KEY}}}
    Tags: [{{Key: cost-center, Value: risk}}, {{Key: owner, Value: platform}}]
"""
USER = f"""SchemaVersion: '1.0'
SageMaker:
  TrainingJob:
    RoleArn: {USER_ROLE}
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    """An admin file given as a folder holding config.yaml, a user file given as a file; no Studio."""
    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "config.yaml").write_text(ADMIN)
    (tmp_path / "user.yaml").write_text(USER)
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(tmp_path / "admin"))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path / "user.yaml"))
    monkeypatch.setattr(defaults_module, "STUDIO_METADATA", tmp_path / "no-studio.json")
    return tmp_path


def spec_of(tmp_path, backend="sagemaker", **options):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text("print('auc=0.5')\n")
    return TuningSpec.from_dict({
        "name": "credit-defaults", "trial": {"script": str(tmp_path / "src" / "train.py")},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "backend": {"name": backend, "options": {"image": IMAGE, "region": "us-east-1", **options}}})


def test_the_user_file_wins_over_the_admin_file_and_the_spec_over_both(files):
    result = api.plan(spec_of(files, tags={"owner": "credit-team"}))
    body = result["requests"][1]["params"]
    assert body["RoleArn"] == USER_ROLE
    assert body["VpcConfig"] == {"Subnets": ["subnet-0aaa"], "SecurityGroupIds": ["sg-0bbb"]}
    assert body["OutputDataConfig"] == {"S3OutputPath": "s3://bank-ml-artifacts/risk/hpo/credit-defaults/output",
                                        "KmsKeyId": KEY}
    assert body["ResourceConfig"]["VolumeKmsKeyId"] == KEY and body["EnableNetworkIsolation"] is True
    assert {t["Key"]: t["Value"] for t in body["Tags"]}["owner"] == "credit-team"  # the spec's tag wins
    assert {t["Key"]: t["Value"] for t in body["Tags"]}["cost-center"] == "risk"
    assert result["requests"][0]["params"]["ServerSideEncryption"] == "aws:kms"
    sources = result["sources"]
    assert sources["role"] == f"user defaults file {files / 'user.yaml'}"
    assert sources["subnets"] == f"admin defaults file {files / 'admin' / 'config.yaml'}"
    assert sources["s3_prefix"].startswith("admin defaults file") and sources["image"] == "spec"
    assert sources["tags"].startswith("spec + admin defaults file")
    text = format_plan(result)
    assert "where they came from" in text and f"role: user defaults file {files / 'user.yaml'}" in text


def test_spec_values_win(files):
    role = "arn:aws:iam::123456789012:role/SpecRole"
    body = api.plan(spec_of(files, role=role, enable_network_isolation=False,
                            s3_prefix="s3://mine/p"))["requests"][1]["params"]
    assert body["RoleArn"] == role and body["EnableNetworkIsolation"] is False
    assert body["OutputDataConfig"]["S3OutputPath"] == "s3://mine/p/credit-defaults/output"


def test_launch_checks_use_the_defaults_too(files):
    assert SageMakerBackend.prepare(spec_of(files)).backend_options["role"] == USER_ROLE
    assert AmtBackend.prepare(spec_of(files, backend="amt")).backend_options["subnets"] == ["subnet-0aaa"]


def test_studio_execution_role_is_found_when_nothing_names_a_role(tmp_path, monkeypatch):
    meta = tmp_path / "resource-metadata.json"
    meta.write_text(json.dumps({"AppType": "JupyterLab", "DomainId": "d-1",
                                "ExecutionRoleArn": "arn:aws:iam::123456789012:role/StudioExecutionRole"}))
    monkeypatch.setattr(defaults_module, "STUDIO_METADATA", meta)
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path / "none.yaml"))
    result = api.plan(spec_of(tmp_path, s3_prefix="s3://studio-bkt/p"))
    assert result["requests"][1]["params"]["RoleArn"] == "arn:aws:iam::123456789012:role/StudioExecutionRole"
    assert result["sources"]["role"].startswith("SageMaker Studio")


def test_an_s3_defaults_file_is_not_read_and_the_plan_says_so(files, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", "s3://bank-config/sagemaker/config.yaml")
    result = api.plan(spec_of(files))
    assert result["requests"][1]["params"]["RoleArn"] == ADMIN_ROLE
    assert any("s3://bank-config/sagemaker/config.yaml is in S3 and was not read" in n for n in result["notes"])


def test_a_broken_defaults_file_names_itself(files):
    (files / "user.yaml").write_text("SageMaker: [unclosed\n")
    with pytest.raises(SpecError, match="the user SageMaker defaults file .*user.yaml cannot be read"):
        api.plan(spec_of(files))


def test_an_environment_in_both_files_is_merged_key_by_key_and_tags_are_replaced_as_the_sdk_does(files):
    # the SDK merges its two files with botocore.utils.merge_dicts: mappings key by key, lists replaced
    (files / "admin" / "config.yaml").write_text(ADMIN.replace(
        "    RoleArn:", "    Environment: {HTTPS_PROXY: 'http://proxy.corp:3128', MODE: admin}\n    RoleArn:"))
    (files / "user.yaml").write_text(USER + "    Environment: {MY_VAR: '1', MODE: user}\n"
                                            "    Tags: [{Key: owner, Value: me}]\n")
    result = api.plan(spec_of(files, environment={"MINE": "x"}))
    body = result["requests"][1]["params"]
    assert body["Environment"] == {"HTTPS_PROXY": "http://proxy.corp:3128", "MODE": "user", "MY_VAR": "1",
                                   "MINE": "x"}  # the admin's proxy stays; the user file's MODE wins
    tags = {t["Key"]: t["Value"] for t in body["Tags"]}
    assert tags["owner"] == "me" and "cost-center" not in tags  # the user file's Tags list replaces the admin's
    admin, user = f"admin defaults file {files / 'admin' / 'config.yaml'}", f"user defaults file {files / 'user.yaml'}"
    assert result["sources"]["environment"] == f"spec + {admin} + {user}"
    assert result["sources"]["tags"] == user and result["sources"]["role"] == user
    assert f"environment: spec + {admin} + {user}" in format_plan(result)
