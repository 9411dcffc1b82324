"""KMS (issue 11, part 5): ``kms_key_id`` encrypts the code upload (SSE-KMS) and each trial's output
(``OutputDataConfig.KmsKeyId``), ``volume_kms_key_id`` the training volume; a bucket whose policy
requires SSE-KMS takes the upload (moto and the simulated SageMaker)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from jupyter_hpo.exceptions import BackendError
from jupyter_hpo.sagemaker import SageMakerOptions, simulated_clients, training_job_request, tuning_job_request
from jupyter_hpo.sagemaker.packaging import upload_source
from tests.sagemaker_specs import script_spec

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VOLUME_KEY = "arn:aws:kms:us-east-1:123456789012:key/volume00-12ab-34cd-56ef-1234567890ab"


def spec_of(tmp_path, backend="sagemaker", **options):
    return script_spec(tmp_path, "credit-kms", backend, **{"s3_prefix": "s3://secure-bkt/hpo", "region": "us-east-1",
                                                          **options})


def test_the_key_reaches_output_and_volume_of_training_and_tuning_requests(tmp_path):
    spec = spec_of(tmp_path, kms_key_id=KEY, volume_kms_key_id=VOLUME_KEY)
    opts = SageMakerOptions.from_spec(spec)
    body = training_job_request(spec, opts, job_name="credit-kms-00000-abcdef", params={"eta": 0.1},
                                code_uri=opts.code_uri(spec.name), entry="train.py")
    assert body["OutputDataConfig"] == {"S3OutputPath": "s3://secure-bkt/hpo/credit-kms/output", "KmsKeyId": KEY}
    assert body["ResourceConfig"]["VolumeKmsKeyId"] == VOLUME_KEY
    amt = spec_of(tmp_path, backend="amt", kms_key_id=KEY)
    request = tuning_job_request(amt, SageMakerOptions.from_spec(amt), tuning_job_name="credit-kms",
                                 code_uri="s3://secure-bkt/hpo/credit-kms/source/sourcedir.tar.gz", entry="train.py")
    assert request["TrainingJobDefinition"]["OutputDataConfig"]["KmsKeyId"] == KEY


@mock_aws
def test_the_upload_is_sse_kms_with_the_key_moto(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="secure-bkt")
    # moto denies every PutObject under a Deny statement whatever its condition, so the policy itself is
    # checked on the simulator below; moto checks the SSE-KMS headers and the key
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    spec = spec_of(tmp_path, kms_key_id=key)
    opts = SageMakerOptions.from_spec(spec)
    upload_source(s3, spec, opts, opts.code_uri(spec.name))
    head = s3.head_object(Bucket="secure-bkt", Key="hpo/credit-kms/source/sourcedir.tar.gz")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key


@pytest.mark.parametrize("with_key", [True, False])
def test_a_bucket_requiring_encryption_takes_only_the_encrypted_upload_simulator(tmp_path, with_key):
    clients = simulated_clients({"kms_required_buckets": ["secure-bkt"], "s3_root": str(tmp_path / "s3")},
                                virtual=True)
    spec = spec_of(tmp_path, **({"kms_key_id": KEY} if with_key else {}))
    opts = SageMakerOptions.from_spec(spec)
    try:
        if with_key:
            upload_source(clients.s3, spec, opts, opts.code_uri(spec.name))
            put = next(p for op, p in clients.sim.calls if op == "PutObject")
            assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == KEY
        else:
            with pytest.raises(BackendError, match="AccessDenied.*without s3:x-amz-server-side-encryption"):
                upload_source(clients.s3, spec, opts, opts.code_uri(spec.name))
    finally:
        clients.sim.close()
