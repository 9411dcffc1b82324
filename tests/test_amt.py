"""The ``amt`` backend: AMT requests, mirroring a tuning job's training jobs, moto and the simulator."""

from __future__ import annotations

import datetime as dt
import io
import json
import pickle
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from jupyter_hpo.sagemaker import AmtBackend, Clients, SageMakerOptions, attach_spec, validate_request
from jupyter_hpo.sagemaker.attach import remote_trial
from jupyter_hpo.sagemaker.tuning import tuning_job_name, tuning_job_request
from jupyter_hpo.exceptions import BackendError, SpecError
from jupyter_hpo.spec import TuningSpec
from tests.conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:latest"
SPACE = {
    "eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "log"},
    "max_depth": {"type": "int", "low": 2, "high": 8},
    "booster": ["gbtree", "dart"],
}
GRID_SPACE = {
    "max_depth": {"type": "int", "low": 2, "high": 6, "step": 2},
    "booster": ["gbtree", "dart"],
    "subsample": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.25},
}
TRAIN = """\
import sys
from jupyter_hpo import trial

p = trial.params()
for epoch in range(3):
    trial.report(p["eta"] * (epoch + 1), step=epoch)
print(f"auc={p['eta'] * 3:.6f}")
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    (src / "util.py").write_text("X = 1\n")
    return src / "train.py"


def make_spec(script: Path, *, options: dict[str, Any] | None = None, **fields: Any) -> TuningSpec:
    data: dict[str, Any] = {
        "name": "credit-amt",
        "trial": {"script": str(script), "hyperparameters": {"num_round": 100}},
        "space": SPACE,
        "objective": {"metric": "auc", "direction": "maximize"},
        "budget": {"max_trials": 12, "max_parallel": 3},
        "backend": {"name": "amt", "options": {"role": ROLE, "image": IMAGE, "region": "us-east-1",
                                               "s3_prefix": "s3://bucket/hpo", **(options or {})}},
    }
    data.update(fields)
    return TuningSpec.from_dict(data)


def build(spec: TuningSpec) -> dict[str, Any]:
    spec = AmtBackend.prepare(spec)
    opts = SageMakerOptions.from_spec(spec)
    request = tuning_job_request(spec, opts, tuning_job_name=tuning_job_name(spec.name),
                                 code_uri=opts.code_uri(spec.name), entry="train.py")
    validate_request("CreateHyperParameterTuningJob", request)
    return request


# -- requests --------------------------------------------------------------------------------------
CASES: dict[str, dict[str, Any]] = {
    "bayesian-median-target-seed0": {"strategy": "bayesian", "early_stopping": "median",
                                     "completion": {"target": 0.91}, "seed": 0},
    "random-off-patience-seed42": {"strategy": "random", "completion": {"patience": 4}, "seed": 42},
    "grid": {"strategy": "grid", "space": GRID_SPACE, "budget": {"max_trials": 18, "max_parallel": 3}},
    "hyperband": {"strategy": "hyperband", "hyperband": {"min_resource": 1, "max_resource": 9}},
    "warm-identical-vpc": {"options": {"warm_start": {"parents": ["parent-1"], "type": "identical"},
                                       "subnets": ["subnet-1"], "security_group_ids": ["sg-1"]}},
    # keep_alive_s is refused on amt now (tests/test_refusals.py); no request carries a keep-alive anyway
    "warm-transfer-kms": {"options": {"warm_start": {"parents": ["p-1", "p-2"], "type": "transfer"},
                                      "volume_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k"}},
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_request_is_valid_and_maps_the_spec(script: Path, case: str) -> None:
    fields = dict(CASES[case])
    spec = make_spec(script, **fields)
    request = build(spec)
    config, definition = request["HyperParameterTuningJobConfig"], request["TrainingJobDefinition"]

    assert request["HyperParameterTuningJobName"] == "credit-amt"
    assert {"Key": "jupyter-hpo:job", "Value": "credit-amt"} in request["Tags"]
    assert "KeepAlivePeriodInSeconds" not in definition["ResourceConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "auc"}
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == 3
    assert definition["StaticHyperParameters"] == {"num_round": "100", "sagemaker_program": "train.py",
                                                   "sagemaker_submit_directory":
                                                       "s3://bucket/hpo/credit-amt/source/sourcedir.tar.gz",
                                                   "sagemaker_region": "us-east-1"}
    assert [m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]] == ["auc", "intermediate"]
    if spec.seed is not None:
        assert config["RandomSeed"] == spec.seed  # 0 too
    else:
        assert "RandomSeed" not in config
    if spec.strategy == "hyperband":
        assert config["TrainingJobEarlyStoppingType"] == "Off"
        assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    else:
        assert config["TrainingJobEarlyStoppingType"] == ("Auto" if spec.early_stopping == "median" else "Off")
        assert "StrategyConfig" not in config
    if spec.strategy == "grid":
        assert config["Strategy"] == "Grid"
        assert "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]
        assert config["ParameterRanges"] == {"CategoricalParameterRanges": [
            {"Name": "max_depth", "Values": ["2", "4", "6"]}, {"Name": "booster", "Values": ["gbtree", "dart"]},
            {"Name": "subsample", "Values": ["0.5", "0.75", "1.0"]}]}
    else:
        assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 12
        assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
            {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"}]
    criteria = config.get("TuningJobCompletionCriteria", {})
    assert criteria.get("TargetObjectiveMetricValue") == (spec.completion.target and float(spec.completion.target))
    assert (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving") == \
        spec.completion.patience
    warm = (fields.get("options") or {}).get("warm_start")
    if warm:
        kind = {"identical": "IdenticalDataAndAlgorithm", "transfer": "TransferLearning"}[warm["type"]]
        assert request["WarmStartConfig"] == {
            "WarmStartType": kind, "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in warm["parents"]]}
    else:
        assert "WarmStartConfig" not in request
    if "subnets" in (fields.get("options") or {}):
        assert definition["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    if "volume_kms_key_id" in (fields.get("options") or {}):
        assert definition["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")


def test_hyperband_reads_max_resource_from_a_static_epochs(script: Path) -> None:
    spec = make_spec(script, strategy="hyperband", trial={"script": str(script), "hyperparameters": {"epochs": 20}})
    config = build(spec)["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"]["HyperbandStrategyConfig"] == {"MinResource": 1, "MaxResource": 20}


def test_a_long_job_name_gets_a_stable_tuning_job_name() -> None:
    long = "credit-default-xgboost-kfold-tuning-2026"
    name = tuning_job_name(long)
    assert len(name) <= 32 and name == tuning_job_name(long) and name.startswith(long[:23])
    assert tuning_job_name("short") == "short"
    assert tuning_job_name(long + "x") != name


@pytest.mark.parametrize(("fields", "match"), [
    ({"completion": {"patience": 2}}, r"`completion.patience` must be >= 3"),
    ({"early_stopping": "kfold"}, r"early_stopping: kfold.*median"),
    ({"early_stopping": "kfold_fast"}, r"early_stopping: kfold_fast.*median"),
    ({"strategy": "hyperband"}, r"`hyperband.max_resource` is required"),
    ({"budget": {"max_trials": 5, "max_runtime": 60}}, r"`budget.max_runtime` must be from 120"),
    ({"options": {"warm_start": {"parents": [], "type": "identical"}}}, r"warm_start.parents` must list 1 to 5"),
    ({"options": {"warm_start": {"parents": ["a"], "type": "same"}}}, r"warm_start.type` must be identical or"),
    ({"options": {"role": None}}, r"`backend.options.role` is required"),
    ({"options": {"s3_prefix": None}}, r"`backend.options.s3_prefix` is required"),
    ({"early_stopping": "median", "objective": {"metric": "auc", "regex": r"AUC is ([0-9.]+)"}},
     r"`early_stopping: median` on the amt backend needs the objective metric at each step.*'auc=0.5'"),
])
def test_prepare_rejects_what_amt_cannot_take(script: Path, fields: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        AmtBackend.prepare(make_spec(script, **fields))


def test_a_function_objective_cannot_run_in_amt(script: Path) -> None:
    spec = make_spec(script).replace(trial=make_spec(script).trial.__class__(function=lambda p: 1.0))
    with pytest.raises(SpecError, match=r"needs `trial.script`.*function objective"):
        AmtBackend.prepare(spec)


def test_prepare_needs_credentials(script: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(BackendError, match="no AWS credentials"):
        AmtBackend.prepare(make_spec(script))


# -- mirroring, with botocore's Stubber ---------------------------------------------------------------
T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class FakeLogs:
    """CloudWatch Logs with one stream per training job; ``lines[job]`` grows as the test goes."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}

    def describe_log_streams(self, logGroupName: str, logStreamNamePrefix: str) -> dict[str, Any]:
        job = logStreamNamePrefix.rstrip("/")
        return {"logStreams": [{"logStreamName": f"{job}/algo-1-1"}] if job in self.lines else []}

    def get_log_events(self, logGroupName: str, logStreamName: str, startFromHead: bool,
                       nextToken: str | None = None) -> dict[str, Any]:
        lines = self.lines[logStreamName.split("/")[0]]
        start = int(nextToken or 0)
        return {"events": [{"message": m} for m in lines[start:]], "nextForwardToken": str(len(lines))}


class Events:
    def __init__(self) -> None:
        self.trials: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.reports: list[tuple[int, int, float]] = []
        self.outcomes: list[Any] = []
        self.notes: list[str] = []

    def on_external_trial(self, params: dict[str, Any], attrs: dict[str, Any]) -> int:
        self.trials.append((params, attrs))
        return len(self.trials) - 1

    def on_report(self, key: int, step: int, value: float) -> bool:
        self.reports.append((key, step, value))
        return True  # AMT decides: the backend must not act on it

    def on_finish(self, outcome: Any) -> None:
        self.outcomes.append(outcome)

    def on_note(self, text: str) -> None:
        self.notes.append(text)


def tuning_desc(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "credit-amt",
        "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/credit-amt",
        "HyperParameterTuningJobConfig": {"Strategy": "Bayesian",
                                          "ResourceLimits": {"MaxParallelTrainingJobs": 3}},
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T0,
        "TrainingJobStatusCounters": {"Completed": 0, "InProgress": 2},
        "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 2},
        **extra,
    }


def job_summary(name: str, status: str, tuned: dict[str, str], value: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "CreationTime": T0 + dt.timedelta(seconds=int(name[-1])), "TrainingJobStatus": status,
        "TunedHyperParameters": tuned,
    }
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "auc", "Value": value}
    return out


def training_desc(name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/hpo/{name}/output/model.tar.gz"},
        "TrainingJobStatus": status, "SecondaryStatus": status,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": T0, "BillableTimeInSeconds": 80,
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": T0, "EndTime": T0 + dt.timedelta(seconds=40)},
            {"Status": "Downloading", "StartTime": T0 + dt.timedelta(seconds=40),
             "EndTime": T0 + dt.timedelta(seconds=50)},
            {"Status": "Training", "StartTime": T0 + dt.timedelta(seconds=50),
             "EndTime": T0 + dt.timedelta(seconds=80)},
        ],
        **extra,
    }


LIST_PARAMS = {"HyperParameterTuningJobName": "credit-amt", "MaxResults": 100, "SortBy": "CreationTime",
               "SortOrder": "Ascending"}
TUNED_1 = {"eta": "0.05", "max_depth": "4", "booster": "dart"}
TUNED_2 = {"eta": "0.2", "max_depth": "7", "booster": "gbtree"}


@pytest.fixture
def stubbed(script: Path, tmp_path: Path):
    client = boto3.client("sagemaker", region_name="us-east-1")
    logs, clock = FakeLogs(), FakeClock()
    backend = AmtBackend(make_spec(script, options={"poll_s": 10}), tmp_path / "job",
                         clients=Clients(client, logs, None, clock))
    with Stubber(client) as stubber:
        yield backend, stubber, logs, clock
        stubber.assert_no_pending_responses()


def test_poll_mirrors_training_jobs_over_pages_until_the_tuning_job_completes(stubbed) -> None:
    backend, stubber, logs, clock = stubbed
    events = Events()
    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
        "TrainingJobSummaries": [job_summary("credit-amt-001", "InProgress", TUNED_1)], "NextToken": "page-2"},
        LIST_PARAMS)
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
        "TrainingJobSummaries": [job_summary("credit-amt-002", "InProgress", TUNED_2)]},
        {**LIST_PARAMS, "NextToken": "page-2"})
    logs.lines["credit-amt-001"] = ["epoch 0", "intermediate step=0 value=0.61", "intermediate step=1 value=0.72"]
    backend.poll(events, timeout=0.2)

    assert [p for p, _ in events.trials] == [{"eta": 0.05, "max_depth": 4, "booster": "dart"},
                                             {"eta": 0.2, "max_depth": 7, "booster": "gbtree"}]
    # how a trial started is known at its end: till then neither warm nor cold (every running trial was counted
    # as a cold start in the job's live summary, `list` and the sidebar)
    assert events.trials[0][1] == {"worker": "credit-amt-001", "warm": None,
                                   "sagemaker": {"training_job": "credit-amt-001", "tuning_job": "credit-amt"}}
    assert events.reports == [(0, 0, 0.61), (0, 1, 0.72)]
    assert backend.running() == 2 and backend.done() is None

    backend.poll(events, timeout=0.2)  # too early: sleeps on the clock, no call
    assert clock.slept == [0.2]
    clock.t += 10

    best = job_summary("credit-amt-001", "Completed", TUNED_1, 0.83)
    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("Completed", BestTrainingJob=best))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [
        best, job_summary("credit-amt-002", "Stopped", TUNED_2, 0.41)]}, LIST_PARAMS)
    stubber.add_response("describe_training_job", training_desc("credit-amt-001", "Completed"),
                         {"TrainingJobName": "credit-amt-001"})
    stubber.add_response("describe_training_job", training_desc("credit-amt-002", "Stopped"),
                         {"TrainingJobName": "credit-amt-002"})
    logs.lines["credit-amt-001"].append("intermediate step=2 value=0.83")
    backend.poll(events, timeout=0.2)

    done, stopped = events.outcomes
    assert (done.key, done.state, done.value, done.error) == (0, "complete", 0.83, None)
    assert (done.startup_s, done.run_s) == (50.0, 30.0)  # Starting + Downloading; Training
    assert done.attrs["sagemaker"]["training_job"] == "credit-amt-001"
    assert done.attrs["cost_usd"] == pytest.approx(80 * 0.23 / 3600, rel=1e-3)
    # this spec has no early stopping, so AMT stopped no trial itself: someone else did (the console, say)
    assert (stopped.key, stopped.state, stopped.interrupted) == (1, "failed", False)
    assert stopped.error == "the training job stopped (Stopped)"
    assert events.reports[-1] == (0, 2, 0.83)
    assert backend.running() == 0
    status, reason = backend.done()
    assert status == "completed" and "credit-amt-001" in reason and "auc=0.83" in reason
    summary = backend.summary()
    assert summary["tuning_job"] == "credit-amt" and summary["training_jobs"] == 2
    assert summary["best_training_job"] == "credit-amt-001" and summary["billable_s"] == 160


def test_throttling_skips_a_poll_and_backs_off(stubbed) -> None:
    backend, stubber, _logs, clock = stubbed
    events = Events()
    stubber.add_client_error("describe_hyper_parameter_tuning_job", "ThrottlingException", "Rate exceeded", 400)
    backend.poll(events, timeout=0.2)
    assert len(events.notes) == 1 and "throttled" in events.notes[0]
    clock.t += 10  # the usual interval is not enough now: it doubled
    backend.poll(events, timeout=0.2)
    clock.t += 10
    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
        "TrainingJobSummaries": [job_summary("credit-amt-001", "InProgress", TUNED_1)]}, LIST_PARAMS)
    backend.poll(events, timeout=0.2)
    assert len(events.trials) == 1 and len(events.notes) == 1


def test_expired_credentials_fail_the_poll_with_what_to_do(stubbed) -> None:
    backend, stubber, _logs, _clock = stubbed
    stubber.add_client_error("describe_hyper_parameter_tuning_job", "ExpiredTokenException", "expired", 400)
    with pytest.raises(BackendError, match="refresh them and resume"):
        backend.poll(Events(), timeout=0.2)


def test_stop_sends_one_stop_and_stopped_trials_arrive_interrupted(stubbed) -> None:
    backend, stubber, _logs, clock = stubbed
    events = Events()
    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
        "TrainingJobSummaries": [job_summary("credit-amt-001", "InProgress", TUNED_1)]}, LIST_PARAMS)
    backend.poll(events, timeout=0.2)

    calls: list[str] = []
    backend.clients.sagemaker.meta.events.register(
        "before-parameter-build.sagemaker.StopHyperParameterTuningJob", lambda **kw: calls.append("stop"))
    stubber.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": "credit-amt"})
    backend.cancel_all(events, "interrupted: the job was stopped")
    backend.cancel_all(events, "interrupted: the job was stopped")
    assert calls == ["stop"] and events.outcomes == []  # the stopped trials arrive through poll

    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("Stopped"))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
        "TrainingJobSummaries": [job_summary("credit-amt-001", "Stopped", TUNED_1)]}, LIST_PARAMS)
    stubber.add_response("describe_training_job", training_desc("credit-amt-001", "Stopped"), {"TrainingJobName": ANY})
    backend.poll(events, timeout=0.2)
    (outcome,) = events.outcomes
    assert (outcome.state, outcome.interrupted) == ("failed", True)
    assert backend.done()[0] == "stopped"
    assert calls == ["stop"] and events.notes == []


def test_stopping_a_finished_tuning_job_is_fine(stubbed) -> None:
    backend, stubber, _logs, _clock = stubbed
    stubber.add_client_error("stop_hyper_parameter_tuning_job", "ValidationException",
                             "The job is not in progress", 400)
    events = Events()
    backend.cancel_all(events, "stopped")
    backend.cancel_all(events, "stopped")
    assert events.outcomes == [] and events.notes == []


def test_a_completed_job_without_the_metric_fails_with_the_regex(stubbed) -> None:
    backend, stubber, _logs, _clock = stubbed
    events = Events()
    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [
        job_summary("credit-amt-001", "Completed", TUNED_1), job_summary("credit-amt-002", "Failed", TUNED_2)]},
        LIST_PARAMS)
    stubber.add_response("describe_training_job", training_desc("credit-amt-001", "Completed"),
                         {"TrainingJobName": ANY})
    stubber.add_response("describe_training_job", training_desc(
        "credit-amt-002", "Failed", FailureReason="AlgorithmError: out of memory"), {"TrainingJobName": ANY})
    backend.poll(events, timeout=0.2)
    missing, failed = events.outcomes
    assert missing.state == "failed" and "'auc' was not found" in missing.error
    assert failed.state == "failed" and "out of memory" in failed.error
    assert backend.done() is None  # the tuning job still runs


def test_adopted_training_jobs_are_not_mirrored_again(stubbed) -> None:
    backend, stubber, _logs, _clock = stubbed
    backend.adopt({"credit-amt-001": 0})
    events = Events()
    stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [
        job_summary("credit-amt-001", "Completed", TUNED_1, 0.8),
        job_summary("credit-amt-002", "InProgress", TUNED_2)]},
        LIST_PARAMS)
    backend.poll(events, timeout=0.2)
    assert [a["worker"] for _, a in events.trials] == ["credit-amt-002"]


def test_amt_is_a_mirror_that_takes_no_submissions(stubbed) -> None:
    from jupyter_hpo.backends import ExecutorBackend, MirrorBackend

    backend = stubbed[0]
    assert isinstance(backend, MirrorBackend) and not isinstance(backend, ExecutorBackend)
    assert not hasattr(backend, "submit") and not hasattr(backend, "free_slots")


# -- moto: create, describe, S3 ------------------------------------------------------------------------
@pytest.fixture
def aws():
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bucket")
        yield


def test_start_creates_the_tuning_job_and_uploads_the_code(aws, script: Path, tmp_path: Path) -> None:
    spec = AmtBackend.prepare(make_spec(script, seed=0, completion={"patience": 3}))
    backend = AmtBackend(spec, tmp_path / "job")
    backend.start()

    sm = boto3.client("sagemaker", region_name="us-east-1")
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="credit-amt")
    sent = tuning_job_request(spec, backend.opts, tuning_job_name="credit-amt",
                              code_uri="s3://bucket/hpo/credit-amt/source/sourcedir.tar.gz", entry="train.py")
    assert desc["HyperParameterTuningJobConfig"] == sent["HyperParameterTuningJobConfig"]
    assert desc["HyperParameterTuningJobConfig"]["RandomSeed"] == 0
    assert desc["TrainingJobDefinition"] == sent["TrainingJobDefinition"]

    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket="bucket", Key="hpo/credit-amt/source/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = set(tar.getnames())
        space = json.loads(tar.extractfile("jupyter_hpo_space.json").read())
    assert {"train.py", "util.py", "jupyter_hpo/trial.py", "jupyter_hpo_space.json"} <= names
    assert space == spec.space.to_dict()

    again = AmtBackend(spec, tmp_path / "job")  # a resumed runner adopts its tuning job
    again.start()
    with pytest.raises(BackendError, match="already exists.*attach"):  # another job of the same name does not
        AmtBackend(spec, tmp_path / "other-job").start()


def test_attach_spec_mirrors_an_existing_tuning_job(aws, script: Path, tmp_path: Path) -> None:
    spec = AmtBackend.prepare(make_spec(script, strategy="random", seed=7, early_stopping="median",
                                        options={"subnets": ["subnet-1"], "security_group_ids": ["sg-1"],
                                                 "inputs": {"train": "s3://bucket/data/"}}))
    AmtBackend(spec, tmp_path / "job").start()

    mirror = attach_spec("credit-amt", region="us-east-1", name="mirror")
    assert mirror.name == "mirror" and mirror.backend == "amt"
    assert list(mirror.space) == ["max_depth", "eta", "booster"]
    assert mirror.space.parse({"max_depth": "3", "eta": "0.1", "booster": "dart"}) == {
        "max_depth": 3, "eta": 0.1, "booster": "dart"}
    assert (mirror.objective.metric, mirror.objective.direction) == ("auc", "maximize")
    assert (mirror.strategy, mirror.seed, mirror.early_stopping) == ("random", 7, "median")
    assert (mirror.budget.max_trials, mirror.budget.max_parallel) == (12, 3)
    options = mirror.backend_options
    assert options["attach"] == "credit-amt" and options["role"] == ROLE and options["image"] == IMAGE
    assert options["inputs"] == {"train": "s3://bucket/data/"} and options["subnets"] == ["subnet-1"]
    assert mirror.trial.hyperparameters == {"num_round": "100"}
    assert AmtBackend.prepare(mirror) is mirror
    assert pickle.loads(pickle.dumps(mirror.trial.function)) is remote_trial
    with pytest.raises(BackendError, match="runs in SageMaker"):
        remote_trial({})
    with pytest.raises(SpecError, match="cannot read tuning job 'nope'"):  # a name AWS does not know: bad input
        attach_spec("nope", region="us-east-1")


# -- end to end: a real runner against the simulated SageMaker ------------------------------------------
SIM_TRAIN = """\
from jupyter_hpo import trial

p = trial.params()
score = 1.0 - abs(p["eta"] - 0.1) - 0.01 * p["max_depth"] + (0.02 if p["booster"] == "dart" else 0.0)
for epoch in range(3):
    trial.report(score * (epoch + 1) / 3, step=epoch)
print(f"auc={score:.6f}")
"""


def sim_spec(script: Path, name: str, simulate: dict[str, Any], max_run_s: int = 3600,
             **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "trial": {"script": str(script)},
        "space": SPACE,
        "objective": {"metric": "auc", "direction": "maximize"},
        "strategy": "random",
        "seed": 3,
        "backend": {"name": "amt", "options": {"poll_s": 5, "max_run_s": max_run_s,
                                               "simulate": {"speed": 200, **simulate}}},
        **fields,
    }


def test_a_job_runs_end_to_end_on_simulated_amt(home: Path, tmp_path: Path) -> None:
    from jupyter_hpo import api

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(SIM_TRAIN)
    job = api.launch(sim_spec(script, "sim-amt", {"cold_startup_s": 120, "training_s": 30, "executor": "script"},
                              budget={"max_trials": 4, "max_parallel": 2}))
    assert job.wait(timeout=45).value == "completed", job.attrs.get("reason")

    records = job.trial_records()
    assert len(records) == 4 and {r["state"] for r in records} == {"complete"}
    workers = {r["worker"] for r in records}
    assert len(workers) == 4 and all(w.startswith("sim-amt-") for w in workers)
    for r in records:
        p = r["params"]
        assert isinstance(p["max_depth"], int) and isinstance(p["eta"], float) and p["booster"] in ("gbtree", "dart")
        expected = 1.0 - abs(p["eta"] - 0.1) - 0.01 * p["max_depth"] + (0.02 if p["booster"] == "dart" else 0.0)
        assert r["value"] == pytest.approx(expected, abs=1e-5)
        assert len(r["intermediate"]) == 3
    assert all("fold_scores" not in t.user_attrs for t in job.raw_trials())  # epochs' reports are no folds'
    # the first two start on new instances; the tuning job then reuses them (AMT's own reuse), which the
    # mirror reads from each trial's Starting phase: simulated seconds of Starting + Downloading
    starts = sorted((round(r["startup_s"]), r["warm"]) for r in records)
    assert starts == [(15, True), (15, True), (130, False), (130, False)]
    attrs = job.attrs
    assert "completed after 4 training jobs" in attrs["reason"]
    assert attrs["backend_summary"]["tuning_job"] == "sim-amt" and attrs["backend_summary"]["training_jobs"] == 4


FOLDS_TRAIN = """\
from jupyter_hpo import trial

p = trial.params()
folds = trial.folds(list(range(40)), [i % 2 for i in range(40)], k=4)
for i, _ in enumerate(folds):
    folds.report(0.7 + 0.01 * i + 0.1 * p["eta"])
print(f"auc={folds.mean:.6f}")
"""


def test_a_scripts_fold_scores_are_recorded_from_its_training_jobs_log(home: Path, tmp_path: Path) -> None:
    """``trial.folds``' scores reach the mirror through the training job's log (``... fold=1/4``) and are the
    trial's fold scores, as on the local pool: the registry's metrics and MLflow's tag had none."""
    from jupyter_hpo import api

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(FOLDS_TRAIN)
    job = api.launch(sim_spec(script, "sim-amt-folds", {"training_s": 30, "executor": "script"},
                              budget={"max_trials": 2, "max_parallel": 2}))
    assert job.wait(timeout=45).value == "completed", job.attrs.get("reason")
    raw = {t.number: t for t in job.raw_trials()}
    for r in job.trial_records():
        expected = [0.7 + 0.01 * i + 0.1 * r["params"]["eta"] for i in range(4)]
        assert raw[r["number"]].user_attrs["fold_scores"] == pytest.approx(expected)
        assert r["fold_mean"] == pytest.approx(sum(expected) / 4) == pytest.approx(r["value"], abs=1e-6)


def test_a_training_job_stopped_by_its_max_runtime_failed_and_was_not_pruned(home: Path, tmp_path: Path) -> None:
    """Without early stopping AMT stops no trial itself: one that ran past ``max_run_s`` (MaxRuntimeExceeded) was
    recorded as pruned, with no error; on the sagemaker backend the same trial failed, saying why."""
    from jupyter_hpo import api

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(SIM_TRAIN)
    job = api.launch(sim_spec(script, "sim-amt-slow", {"training_s": 600}, max_run_s=300,
                              budget={"max_trials": 2, "max_parallel": 2}))
    assert job.wait(timeout=45).value == "failed", job.attrs.get("reason")
    records = job.trial_records()
    assert [(r["state"], r["error"]) for r in records] == [
        ("fail", "the training job stopped (MaxRuntimeExceeded)")] * 2


def test_stopping_a_simulated_amt_job(home: Path, tmp_path: Path) -> None:
    from jupyter_hpo import api

    script = tmp_path / "train.py"
    script.write_text(SIM_TRAIN)
    job = api.launch(sim_spec(script, "sim-amt-stop", {"cold_startup_s": 10, "training_s": 100_000},
                              max_run_s=200_000, budget={"max_trials": 6, "max_parallel": 2}))
    wait_for(lambda: len(job.trial_records()) == 2, timeout=30)
    assert job.stop(timeout=30).value == "stopped"
    records = job.trial_records()
    assert len(records) == 2 and all(r["state"] == "fail" and r["interrupted"] for r in records), records
    assert job.attrs["backend_summary"]["status"] == "Stopped"
    # AMT restarts no stopped tuning job: a resume recorded its stopped training jobs again, then stopped again
    from jupyter_hpo.exceptions import JobStateError

    with pytest.raises(JobStateError, match=r"job 'sim-amt-stop' cannot be resumed: its SageMaker tuning job "
                                            r"sim-amt-stop has ended \(Stopped\).*warm_start: \{parents: "
                                            r"\[sim-amt-stop\]\}"):
        job.resume()
    assert job.status.value == "stopped" and len(job.trial_records()) == 2


def test_an_attached_tuning_job_is_not_stopped_only_unmirrored(script: Path, tmp_path: Path) -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    spec = make_spec(script, options={"attach": "credit-amt", "keep_alive_s": 600})
    backend = AmtBackend(spec, tmp_path / "job", clients=Clients(client, FakeLogs(), None, FakeClock()))
    events = Events()
    with Stubber(client) as stubber:
        stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
        stubber.add_response("describe_hyper_parameter_tuning_job", tuning_desc("InProgress"))
        stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
            "TrainingJobSummaries": [job_summary("credit-amt-001", "InProgress", TUNED_1)]}, LIST_PARAMS)
        backend.start()  # no upload, no create: only a describe
        backend.poll(events, timeout=0.2)
        backend.cancel_all(events, "interrupted: the job was stopped")  # and no StopHyperParameterTuningJob
        (outcome,) = events.outcomes
        stubber.assert_no_pending_responses()
    assert (outcome.key, outcome.state, outcome.interrupted) == (0, "failed", True)
    assert backend.done() == ("stopped", "stopped mirroring; the tuning job credit-amt goes on in SageMaker")
    assert any("keep_alive_s` is ignored" in n for n in events.notes)


def test_attach_amt_mirrors_a_tuning_job_created_elsewhere(home: Path, script: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``api.attach_amt`` on a tuning job someone started in the console: every training job shows up."""
    from jupyter_hpo import api
    from jupyter_hpo.sagemaker import clients as sagemaker_clients
    from jupyter_hpo.sagemaker.sim import ScaledClock, SimulatedSageMaker
    from jupyter_hpo.runner._runner import Runner

    clock = ScaledClock(speed=400)
    sim = SimulatedSageMaker(clock=clock, cold_startup_s=20, training_s=40, executor="model")
    clients = Clients(sim.client("sagemaker"), sim.client("logs"), sim.client("s3"), clock, sim)
    spec = make_spec(script, budget={"max_trials": 5, "max_parallel": 2})
    opts = SageMakerOptions.from_spec(spec)
    request = tuning_job_request(spec, opts, tuning_job_name="console-tuning", code_uri=opts.code_uri(spec.name),
                                 entry="train.py")
    clients.sagemaker.create_hyper_parameter_tuning_job(**request)
    monkeypatch.setattr(sagemaker_clients, "make_clients", lambda _opts: clients)  # the runner talks to the same sim
    monkeypatch.setattr("jupyter_hpo.runner.spawn_runner", lambda *a, **k: None)

    job = api.attach_amt("console-tuning", region="us-east-1")
    assert api.attach_amt("console-tuning", region="us-east-1").name == job.name  # attaching again: the same job
    assert job.spec["backend"]["options"]["attach"] == "console-tuning"
    assert Runner(job.store, job.name).run() == 0  # the runner, in this process
    assert job.status.value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    listed = sim.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="console-tuning", MaxResults=100)["TrainingJobSummaries"]
    assert sorted(r["worker"] for r in records) == sorted(s["TrainingJobName"] for s in listed)
    assert len(records) == 5 and all(r["state"] == "complete" for r in records)
    by_job = {s["TrainingJobName"]: s for s in listed}
    for r in records:  # typed back from AMT's strings by the mirrored space
        tuned = by_job[r["worker"]]["TunedHyperParameters"]
        assert r["params"]["max_depth"] == int(tuned["max_depth"]) and r["params"]["booster"] == tuned["booster"]
        assert r["value"] == pytest.approx(by_job[r["worker"]]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    sim.close()


SIM_STEPS = """\
import time
from jupyter_hpo import trial

p = trial.params()
score = 1.0 - abs(p["eta"] - 0.1) - 0.01 * p["max_depth"]
for epoch in range(6):
    time.sleep(0.1)  # 20 simulated seconds at speed 200
    trial.report(score, step=epoch)
print(f"auc={score:.6f}")
"""


@pytest.mark.parametrize("early_stopping", ["median", "off"])
def test_amt_early_stopping_stops_poor_trials_from_the_objective_printed_at_each_step(home: Path, tmp_path: Path,
                                                                                      early_stopping: str) -> None:
    # trial.report prints auc=<value> at each step under AMT's early stopping (JUPYTER_HPO_STEP_OBJECTIVE), so the
    # simulated AMT's median rule sees each trial's objective over time and stops the poor ones early
    from jupyter_hpo import api

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(SIM_STEPS)
    job = api.launch(sim_spec(script, f"amt-es-{early_stopping}", {"cold_startup_s": 20, "executor": "script"},
                              budget={"max_trials": 12, "max_parallel": 2}, early_stopping=early_stopping))
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    pruned = [r for r in records if r["state"] == "pruned"]
    complete = [r for r in records if r["state"] == "complete"]
    assert len(records) == 12 and len(pruned) + len(complete) == 12
    if early_stopping == "off":
        assert not pruned and all(len(r["intermediate"]) == 6 for r in complete)
        return
    assert pruned, "the median rule stopped no trial"
    median = sorted(r["value"] for r in complete)[len(complete) // 2]
    for r in pruned:  # worse than the trials that ran to the end
        assert r["params"]["eta"] is not None and 1.0 - abs(r["params"]["eta"] - 0.1) - 0.01 * r["params"][
            "max_depth"] < median
    # and stopped before its last step: the stop reaches a running script at the runner's next poll, so on a loaded
    # machine a trial may print its last step first (CI once saw one of them do so); not every one can be late
    assert any(len(r["intermediate"]) < 6 for r in pruned), [len(r["intermediate"]) for r in pruned]


def test_the_objective_is_printed_at_each_step_only_when_amt_stops_trials_early(script: Path) -> None:
    def environment(**fields: Any) -> dict[str, str]:
        return build(make_spec(script, **fields))["TrainingJobDefinition"].get("Environment", {})

    assert environment(early_stopping="median") == {"JUPYTER_HPO_STEP_OBJECTIVE": "auc"}
    assert environment() == {} and environment(early_stopping="off") == {}


def test_attach_amt_exits_2_for_a_tuning_job_aws_does_not_know_and_1_when_aws_cannot_be_reached(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 is bad input: an outage exited 2 too, so a script could not tell a typo from AWS being down."""
    from jupyter_hpo import cli
    from jupyter_hpo.sagemaker import clients as sagemaker_clients
    from jupyter_hpo.sagemaker.sim import ScaledClock, SimulatedSageMaker

    clock = ScaledClock(speed=400)
    sim = SimulatedSageMaker(clock=clock, cold_startup_s=20, training_s=40, executor="model")
    clients = Clients(sim.client("sagemaker"), sim.client("logs"), sim.client("s3"), clock, sim)
    with monkeypatch.context() as m:
        m.setattr(sagemaker_clients, "make_clients", lambda _opts: clients)
        assert cli.main(["attach-amt", "no-such-tuning-job", "--region", "us-east-1"]) == 2
    sim.close()
    assert "cannot read tuning job 'no-such-tuning-job'" in capsys.readouterr().err
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there: the endpoint is down
    assert cli.main(["attach-amt", "my-tuning-job", "--region", "us-east-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read tuning job 'my-tuning-job'") and err.count("\n") == 1, err
