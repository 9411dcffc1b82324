"""Network isolation (issue 11, part 4): an isolated training container cannot fetch its code from S3, so
the code archive travels as the input channel ``code`` and the script-mode hyperparameters point inside
the container; the simulated SageMaker refuses S3 to an isolated container, and the credit example
runs end to end under isolation."""

from __future__ import annotations

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker import SageMakerOptions, simulated_clients, training_job_request, tuning_job_request
from jupyter_hpo.store import JobStatus
from tests.sagemaker_specs import IMAGE, ROLE, script_spec
from tests.test_sagemaker_e2e import credit_spec, s3_root  # noqa: F401 - the fixture

CODE = "s3://bkt/hpo/credit-iso/source/sourcedir.tar.gz"


def spec_of(tmp_path, backend="sagemaker", **options):
    options = {"s3_prefix": "s3://bkt/hpo", "inputs": {"train": "s3://bkt/data/"},
               "enable_network_isolation": True, **options}
    return script_spec(tmp_path, "credit-iso", backend, **options)


def test_the_code_travels_as_an_input_channel_and_the_toolkit_points_inside_the_container(tmp_path):
    spec = spec_of(tmp_path)
    opts = SageMakerOptions.from_spec(spec)
    body = training_job_request(spec, opts, job_name="credit-iso-00000-abcdef", params={"eta": 0.1}, code_uri=CODE,
                                entry="train.py")
    assert body["HyperParameters"]["sagemaker_submit_directory"] == "/opt/ml/input/data/code/sourcedir.tar.gz"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in body["InputDataConfig"]}
    assert channels == {"train": "s3://bkt/data/", "code": CODE}
    amt = spec_of(tmp_path, backend="amt")
    definition = tuning_job_request(amt, SageMakerOptions.from_spec(amt), tuning_job_name="credit-iso",
                                    code_uri=CODE, entry="train.py")["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"]["sagemaker_submit_directory"].startswith("/opt/ml/input/data/code/")
    assert any(c["ChannelName"] == "code" for c in definition["InputDataConfig"])


def test_without_isolation_the_code_stays_in_s3(tmp_path):
    spec = spec_of(tmp_path, enable_network_isolation=False)
    body = training_job_request(spec, SageMakerOptions.from_spec(spec), job_name="credit-iso-00000-abcdef",
                                params={"eta": 0.1}, code_uri=CODE, entry="train.py")
    assert body["HyperParameters"]["sagemaker_submit_directory"] == CODE
    assert [c["ChannelName"] for c in body["InputDataConfig"]] == ["train"]


def test_a_user_channel_named_code_is_refused_under_isolation(tmp_path):
    with pytest.raises(SpecError, match="`backend.options.inputs` must not name a channel 'code'"):
        SageMakerOptions.from_spec(spec_of(tmp_path, inputs={"code": "s3://bkt/x/"}))


def test_the_simulated_isolated_container_cannot_read_s3(tmp_path):
    clients = simulated_clients({"s3_root": str(tmp_path / "s3")}, virtual=True)
    try:
        clients.sagemaker.create_training_job(
            TrainingJobName="isolated-old-style", RoleArn=ROLE, EnableNetworkIsolation=True,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            HyperParameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": CODE},
            OutputDataConfig={"S3OutputPath": "s3://bkt/out"}, StoppingCondition={"MaxRuntimeInSeconds": 600},
            ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30})
        clients.clock.sleep(3600)
        desc = clients.sagemaker.describe_training_job(TrainingJobName="isolated-old-style")
    finally:
        clients.sim.close()
    assert desc["TrainingJobStatus"] == "Failed"
    assert "network isolation and cannot reach S3" in desc["FailureReason"]


def test_the_credit_example_runs_under_network_isolation_on_the_simulator(home, s3_root):  # noqa: F811
    data = credit_spec(s3_root, "sim-isolated")
    data["budget"] = {"max_trials": 2, "max_parallel": 1}
    data["backend"]["options"]["enable_network_isolation"] = True
    job = api.launch(data)
    assert job.wait(timeout=240) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    assert [r["state"] for r in records] == ["complete", "complete"]
