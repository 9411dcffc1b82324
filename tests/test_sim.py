"""The simulated SageMaker, driven through real boto3 clients. Everything but the script test uses a VirtualClock."""

from __future__ import annotations

import io
import math
import re
import tarfile
import textwrap
from datetime import timedelta
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from jupyter_hpo.sagemaker.sim import LOG_GROUP, ScaledClock, SimulatedSageMaker, SimulationError, VirtualClock
from tests.conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
AUC = r"\bauc\s*[=:]\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)"
COLD = 240 + 10 + 60 + 5  # Starting + Downloading + Training + Uploading with the default durations
WARM = 5 + 10 + 60 + 5


def job_request(name: str, *, keep_alive: int = 600, instance_type: str = "ml.m5.xlarge", volume: int = 30,
                role: str = ROLE, hyperparameters: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A CreateTrainingJob request with an ``auc`` metric definition."""
    return {
        "TrainingJobName": name, "RoleArn": role, "HyperParameters": hyperparameters or {"lr": "0.1"},
        "AlgorithmSpecification": {"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
                                   "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "auc", "Regex": AUC}]},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": volume,
                           "KeepAlivePeriodInSeconds": keep_alive},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600}, **extra}


def tuning_request(name: str, *, max_jobs: int = 7, parallel: int = 3, **config: Any) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request maximising ``auc`` over lr, depth and booster."""
    definition = job_request("unused")
    for key in ("TrainingJobName", "HyperParameters"):
        del definition[key]
    definition["StaticHyperParameters"] = {"epochs": "3"}
    return {"HyperParameterTuningJobName": name, "TrainingJobDefinition": definition,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Random", "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "auc"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "1",
                                                   "ScalingType": "Logarithmic"}],
                    "IntegerParameterRanges": [{"Name": "depth", "MinValue": "2", "MaxValue": "8"}],
                    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}]},
                **config}}


def phase_lengths(description: dict[str, Any]) -> dict[str, float]:
    return {t["Status"]: (t["EndTime"] - t["StartTime"]).total_seconds()
            for t in description["SecondaryStatusTransitions"] if "EndTime" in t}


def error_code(exc_info: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return exc_info.value.response["Error"]["Code"]


@pytest.fixture
def sim() -> Iterator[SimulatedSageMaker]:
    with SimulatedSageMaker(clock=VirtualClock()) as s:
        yield s


@pytest.fixture
def sm(sim: SimulatedSageMaker) -> Any:
    return sim.client("sagemaker")


# ------------------------------------------------------------------------------------------------ warm pools


def test_a_matching_job_starts_warm_on_the_pool_of_a_finished_job(sim: SimulatedSageMaker, sm: Any) -> None:
    sm.create_training_job(**job_request("a"))
    sim.clock.sleep(1)
    first = sm.describe_training_job(TrainingJobName="a")
    assert (first["TrainingJobStatus"], first["SecondaryStatus"]) == ("InProgress", "Starting")
    assert "WarmPoolStatus" not in first

    sim.clock.sleep(COLD + 9)
    a = sm.describe_training_job(TrainingJobName="a")
    assert a["TrainingJobStatus"] == "Completed"
    assert a["WarmPoolStatus"] == {"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 10}
    assert phase_lengths(a) == {"Starting": 240, "Downloading": 10, "Training": 60, "Uploading": 5, "Completed": 0}
    assert a["TrainingTimeInSeconds"] == a["BillableTimeInSeconds"] == 75
    assert a["TrainingStartTime"] == a["SecondaryStatusTransitions"][1]["StartTime"]  # the start of Downloading

    sm.create_training_job(**job_request("b", hyperparameters={"lr": "0.2"}))
    assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"] == {
        "Status": "Reused", "ResourceRetainedBillableTimeInSeconds": 10, "ReusedByJob": "b"}
    assert sm.describe_training_job(TrainingJobName="b")["WarmPoolStatus"] == {"Status": "InUse"}
    assert [p["status"] for p in sim.warm_pools()] == ["InUse"]

    sim.clock.sleep(WARM)
    b = sm.describe_training_job(TrainingJobName="b")
    assert b["TrainingJobStatus"] == "Completed"
    assert b["WarmPoolStatus"]["Status"] == "Available"
    assert phase_lengths(b)["Starting"] == 5
    a_pool = sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"]
    assert a_pool["ResourceRetainedBillableTimeInSeconds"] == 10  # frozen when b took the pool
    assert [(p["status"], p["job"], p["expires_at"]) for p in sim.warm_pools()] == [
        ("Available", "b", sim.clock.now() + 600)]


def test_a_cold_start_pulls_the_image_after_training_start_so_it_is_billed_and_counted_as_start_up() -> None:
    from jupyter_hpo.sagemaker.outcome import phase_seconds, startup_seconds

    with SimulatedSageMaker(clock=VirtualClock(), image_pull_s=90) as sim:
        sm = sim.client("sagemaker")
        sm.create_training_job(**job_request("a"))
        sim.clock.sleep(COLD + 90 + 1)
        a = sm.describe_training_job(TrainingJobName="a")
        assert [(t["Status"], t["StatusMessage"]) for t in a["SecondaryStatusTransitions"]][1:4] == [
            ("Downloading", "Downloading input data"), ("Training", "Downloading the training image"),
            ("Training", "Training image download completed. Training in progress.")]
        assert a["BillableTimeInSeconds"] == 10 + 90 + 60 + 5  # from TrainingStartTime: the pull is billed
        assert startup_seconds(phase_seconds(a)) == 240 + 10 + 90  # and it is start-up: the code had not run
        assert phase_seconds(a)["Training"] == 60
        # a warm pool that last ran the same image has it: no pull
        sm.create_training_job(**job_request("b"))
        sim.clock.sleep(WARM + 1)
        b = sm.describe_training_job(TrainingJobName="b")
        assert "DownloadingTrainingImage" not in phase_seconds(b) and startup_seconds(phase_seconds(b)) == 5 + 10
        # another image on the same pool is pulled again
        other = job_request("c")
        other["AlgorithmSpecification"]["TrainingImage"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:2"
        sm.create_training_job(**other)
        sim.clock.sleep(WARM + 90 + 1)
        c = sm.describe_training_job(TrainingJobName="c")
        assert c["WarmPoolStatus"]["Status"] == "Available" and phase_seconds(c)["DownloadingTrainingImage"] == 90


@pytest.mark.parametrize("change", [{"instance_type": "ml.c5.xlarge"}, {"volume": 50},
                                    {"role": "arn:aws:iam::123456789012:role/Other"}, {"keep_alive": 0}])
def test_a_job_that_does_not_match_starts_cold(sim: SimulatedSageMaker, sm: Any, change: dict[str, Any]) -> None:
    sm.create_training_job(**job_request("a"))
    sim.clock.sleep(COLD)
    sm.create_training_job(**job_request("b", **change))
    sim.clock.sleep(COLD)
    b = sm.describe_training_job(TrainingJobName="b")
    assert phase_lengths(b)["Starting"] == 240
    assert b.get("WarmPoolStatus", {}).get("Status") != "InUse"
    assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"]["Status"] == "Available"


def test_a_pool_terminates_when_its_keep_alive_expires(sim: SimulatedSageMaker, sm: Any) -> None:
    sm.create_training_job(**job_request("a", keep_alive=100))
    sim.clock.sleep(COLD + 99)
    assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"]["Status"] == "Available"
    sim.clock.sleep(2)
    assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"] == {
        "Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 100}
    assert [p["status"] for p in sim.warm_pools()] == ["Terminated"]
    listed = sm.list_training_jobs(WarmPoolStatusEquals="Terminated")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == ["a"]

    sm.create_training_job(**job_request("b", keep_alive=100))
    sim.clock.sleep(COLD)
    assert phase_lengths(sm.describe_training_job(TrainingJobName="b"))["Starting"] == 240


def test_update_training_job_changes_or_ends_the_keep_alive(sim: SimulatedSageMaker, sm: Any) -> None:
    sm.create_training_job(**job_request("a"))
    with pytest.raises(botocore.exceptions.ClientError, match="only while the warm pool") as exc:
        sm.update_training_job(TrainingJobName="a", ResourceConfig={"KeepAlivePeriodInSeconds": 60})
    assert error_code(exc) == "ValidationException"
    sim.clock.sleep(COLD)

    sm.update_training_job(TrainingJobName="a", ResourceConfig={"KeepAlivePeriodInSeconds": 1800})
    assert sim.warm_pools()[0]["expires_at"] == sim.clock.now() + 1800
    assert sm.describe_training_job(TrainingJobName="a")["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    with pytest.raises(botocore.exceptions.ClientError, match="at most 3600"):
        sm.update_training_job(TrainingJobName="a", ResourceConfig={"KeepAlivePeriodInSeconds": 7200})

    sim.clock.sleep(30)
    sm.update_training_job(TrainingJobName="a", ResourceConfig={"KeepAlivePeriodInSeconds": 0})
    assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"] == {
        "Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 30}
    assert sim.warm_pools()[0]["status"] == "Terminated"


def test_no_pool_is_kept_beyond_the_quota() -> None:
    with SimulatedSageMaker(warm_pool_quota=1) as sim:
        sm = sim.client("sagemaker")
        sm.create_training_job(**job_request("a"))
        sm.create_training_job(**job_request("b"))
        sim.clock.sleep(COLD)
        assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"]["Status"] == "Available"
        assert sm.describe_training_job(TrainingJobName="b")["WarmPoolStatus"] == {
            "Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 0}
    with SimulatedSageMaker(warm_pool_quota=0) as sim:
        sm = sim.client("sagemaker")
        sm.create_training_job(**job_request("a"))
        sim.clock.sleep(COLD)
        assert sm.describe_training_job(TrainingJobName="a")["WarmPoolStatus"]["Status"] == "Terminated"
        assert sim.warm_pools() == []


def test_instance_limit_raises_resource_limit_exceeded() -> None:
    with SimulatedSageMaker(instance_limit=1) as sim:
        sm = sim.client("sagemaker")
        sm.create_training_job(**job_request("a"))
        with pytest.raises(sm.exceptions.ResourceLimitExceeded, match="ml.m5.xlarge for training job usage"):
            sm.create_training_job(**job_request("b"))
        sm.create_training_job(**job_request("other-type", instance_type="ml.c5.xlarge"))
        sim.clock.sleep(COLD)
        # the Available pool holds the one instance: only a job that takes it may start
        with pytest.raises(sm.exceptions.ResourceLimitExceeded):
            sm.create_training_job(**job_request("b", volume=50))
        sm.create_training_job(**job_request("b"))
        assert sm.describe_training_job(TrainingJobName="b")["WarmPoolStatus"]["Status"] == "InUse"


# ------------------------------------------------------------------------------------------ training jobs


def test_server_side_checks_answer_like_the_service(sim: SimulatedSageMaker, sm: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match="at most 3600") as exc:
        sm.create_training_job(**job_request("a", keep_alive=7200))
    assert error_code(exc) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError, match="spot"):
        sm.create_training_job(**job_request("a", EnableManagedSpotTraining=True))
    sm.create_training_job(**job_request("a"))
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_training_job(**job_request("A"))
    with pytest.raises(botocore.exceptions.ClientError, match="Requested resource not found") as exc:
        sm.describe_training_job(TrainingJobName="missing")
    assert error_code(exc) == "ValidationException"


def test_botocore_validates_requests_before_the_simulation_sees_them(sim: SimulatedSageMaker, sm: Any) -> None:
    request = job_request("a")
    del request["RoleArn"]
    with pytest.raises(botocore.exceptions.ParamValidationError, match="RoleArn"):
        sm.create_training_job(**request)
    with pytest.raises(botocore.exceptions.ParamValidationError, match="KeepAlivePeriodInSeconds"):
        sm.create_training_job(**job_request("a", keep_alive=-1))
    assert sim.calls == []
    sm.list_training_jobs(MaxResults=5)
    assert sim.calls == [("ListTrainingJobs", {"MaxResults": 5})]


def test_the_simulation_refuses_what_it_cannot_answer_faithfully(sim: SimulatedSageMaker, sm: Any) -> None:
    with pytest.raises(NotImplementedError, match="sagemaker ListEndpoints"):
        sm.list_endpoints()
    broken = {"TrainingJobSummaries": [{"TrainingJobName": "x"}]}
    sim._handlers["sagemaker"]["ListTrainingJobs"] = lambda now, params: broken  # a bug in the simulation
    with pytest.raises(SimulationError, match="Missing required parameter.*TrainingJobArn"):
        sm.list_training_jobs()


def test_injected_errors_fail_the_next_calls(sim: SimulatedSageMaker, sm: Any) -> None:
    sm.create_training_job(**job_request("a"))
    sim.inject("DescribeTrainingJob", "ThrottlingException", "Rate exceeded", times=2)
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError, match="Rate exceeded") as exc:
            sm.describe_training_job(TrainingJobName="a")
        assert error_code(exc) == "ThrottlingException"
    assert sm.describe_training_job(TrainingJobName="a")["TrainingJobName"] == "a"

    sim.inject("ListTrainingJobs", "InternalFailure", status=500)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.list_training_jobs()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    sim.inject("CreateTrainingJob", "ResourceLimitExceeded")
    with pytest.raises(sm.exceptions.ResourceLimitExceeded):
        sm.create_training_job(**job_request("b"))
    with pytest.raises(ValueError, match="operation of"):
        sim.inject("DescribeTrainingJobs", "ThrottlingException")


def test_list_training_jobs_filters_sorts_and_pages(sim: SimulatedSageMaker, sm: Any) -> None:
    for i in range(5):
        sm.create_training_job(**job_request(f"job-{i}", keep_alive=0))
        sim.clock.sleep(1)
    sm.stop_training_job(TrainingJobName="job-3")
    pages = list(sm.get_paginator("list_training_jobs").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [2, 2, 1]
    assert [s["TrainingJobName"] for p in pages for s in p["TrainingJobSummaries"]] == [f"job-{i}" for i in range(5)]
    assert "WarmPoolStatus" not in pages[0]["TrainingJobSummaries"][0]

    names = [s["TrainingJobName"] for s in sm.list_training_jobs(SortBy="Name", SortOrder="Descending",
                                                                 NameContains="JOB")["TrainingJobSummaries"]]
    assert names == [f"job-{i}" for i in reversed(range(5))]
    after = sm.describe_training_job(TrainingJobName="job-2")["CreationTime"]
    assert [s["TrainingJobName"] for s in sm.list_training_jobs(CreationTimeAfter=after)["TrainingJobSummaries"]] \
        == ["job-3", "job-4"]
    sim.clock.sleep(5)
    stopped = sm.list_training_jobs(StatusEquals="Stopped")["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["SecondaryStatus"]) for s in stopped] == [("job-3", "Stopped")]


def test_stop_and_max_runtime_end_a_job_as_stopped(sim: SimulatedSageMaker, sm: Any) -> None:
    sm.create_training_job(**job_request("a"))
    sim.clock.sleep(260)
    sm.stop_training_job(TrainingJobName="a")
    a = sm.describe_training_job(TrainingJobName="a")
    assert (a["TrainingJobStatus"], a["SecondaryStatus"]) == ("Stopping", "Stopping")
    sim.clock.sleep(3)
    a = sm.describe_training_job(TrainingJobName="a")
    assert (a["TrainingJobStatus"], a["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert a["WarmPoolStatus"]["Status"] == "Available"  # it was stopped after its instances started
    with pytest.raises(botocore.exceptions.ClientError, match="status Stopped"):
        sm.stop_training_job(TrainingJobName="a")

    sm.create_training_job(**job_request("early", instance_type="ml.c5.xlarge"))
    sm.stop_training_job(TrainingJobName="early")
    sim.clock.sleep(3)
    assert sm.describe_training_job(TrainingJobName="early")["WarmPoolStatus"]["Status"] == "Terminated"

    sm.create_training_job(**job_request("slow", keep_alive=0, StoppingCondition={"MaxRuntimeInSeconds": 30}))
    sim.clock.sleep(COLD)
    slow = sm.describe_training_job(TrainingJobName="slow")
    assert (slow["TrainingJobStatus"], slow["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert slow["TrainingTimeInSeconds"] == 30


def test_final_metrics_come_from_the_metric_definitions() -> None:
    with SimulatedSageMaker(metric_fn=lambda rng, hps: float(hps["lr"]) * 8) as sim:
        sm = sim.client("sagemaker")
        request = job_request("a", hyperparameters={"lr": "0.1"})
        request["AlgorithmSpecification"]["MetricDefinitions"].append({"Name": "train:step", "Regex": r"step=(\d+)"})
        sm.create_training_job(**request)
        sim.clock.sleep(240 + 10 + 15)  # the first of three intermediate lines
        metrics = sm.describe_training_job(TrainingJobName="a")["FinalMetricDataList"]
        assert [(m["MetricName"], m["Value"]) for m in metrics] == [("train:step", 0.0)]
        sim.clock.sleep(60)
        metrics = sm.describe_training_job(TrainingJobName="a")["FinalMetricDataList"]
        assert {m["MetricName"]: m["Value"] for m in metrics} == {"train:step": 2.0, "auc": 0.8}
        end = sm.describe_training_job(TrainingJobName="a")["SecondaryStatusTransitions"][2]["EndTime"]
        assert {m["MetricName"]: m["Timestamp"] for m in metrics}["auc"] == end


def test_an_algorithm_error_fails_the_job_and_keeps_the_pool() -> None:
    def diverge(rng: Any, hps: dict[str, str]) -> float:
        raise RuntimeError("loss diverged")

    with SimulatedSageMaker(metric_fn=diverge) as sim:
        sm = sim.client("sagemaker")
        sm.create_training_job(**job_request("a"))
        sim.clock.sleep(COLD)
        a = sm.describe_training_job(TrainingJobName="a")
        assert (a["TrainingJobStatus"], a["SecondaryStatus"]) == ("Failed", "Failed")
        assert a["FailureReason"] == "AlgorithmError: RuntimeError: loss diverged"
        assert a["WarmPoolStatus"]["Status"] == "Available"
        assert "FinalMetricDataList" not in a


# ------------------------------------------------------------------------------------------------------ logs


def test_get_log_events_follows_the_service_token_rules(sim: SimulatedSageMaker, sm: Any) -> None:
    logs = sim.client("logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException, match="log group"):
        logs.describe_log_streams(logGroupName=LOG_GROUP)
    sm.create_training_job(**job_request("a"))
    sim.clock.sleep(240 + 10 + 20)  # one line so far; the next one comes at +30 s
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="a/")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"a/algo-1-{int(sim.clock.now()) - 20}"]
    stream = {"logGroupName": LOG_GROUP, "logStreamName": streams[0]["logStreamName"]}

    head = logs.get_log_events(**stream, startFromHead=True)
    assert [e["message"][:20] for e in head["events"]] == ["intermediate step=0 "]
    again = logs.get_log_events(**stream, nextToken=head["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == head["nextForwardToken"]
    sim.clock.sleep(10)
    more = logs.get_log_events(**stream, nextToken=again["nextForwardToken"])
    assert [e["message"][:20] for e in more["events"]] == ["intermediate step=1 "]
    assert more["events"][0]["timestamp"] == int(sim.clock.now() * 1000)

    sim.clock.sleep(60)
    tail = logs.get_log_events(**stream, limit=2)  # no startFromHead: the newest events
    assert [e["message"][:20] for e in tail["events"]][0] == "intermediate step=2 "
    assert tail["events"][1]["message"].startswith("auc=")
    before = logs.get_log_events(**stream, limit=2, nextToken=tail["nextBackwardToken"])
    assert [e["message"][:20] for e in before["events"]] == ["intermediate step=0 ", "intermediate step=1 "]
    with pytest.raises(logs.exceptions.ResourceNotFoundException, match="log stream"):
        logs.get_log_events(logGroupName=LOG_GROUP, logStreamName="b/algo-1-0")
    found = logs.filter_log_events(logGroupName=LOG_GROUP, logStreamNamePrefix="a/", filterPattern="auc")["events"]
    assert [e["message"][:4] for e in found] == ["auc="]


# ------------------------------------------------------------------------------------------------ tuning jobs


def lr_auc(rng: Any, hps: dict[str, str]) -> float:
    """An auc that is best at lr=0.01."""
    return 1 - abs(math.log10(float(hps["lr"])) + 2) / 10


def crashy_auc(rng: Any, hps: dict[str, str]) -> float:
    """``lr_auc``, but a booster of "dart" with depth 6 or more crashes (about one trial in five)."""
    if hps.get("booster") == "dart" and int(hps.get("depth", "0")) >= 6:
        raise ValueError("out of memory")
    return lr_auc(rng, hps)


def test_a_tuning_job_runs_its_trials_to_completion() -> None:
    with SimulatedSageMaker(metric_fn=lr_auc) as sim:
        sm = sim.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(**tuning_request("tune", max_jobs=7, parallel=3))
        first = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
        assert [s["TrainingJobStatus"] for s in first["TrainingJobSummaries"]] == ["InProgress"] * 3
        sim.clock.sleep(COLD + 2 * WARM)
        tune = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
        assert tune["HyperParameterTuningJobStatus"] == "Completed"
        assert tune["TrainingJobStatusCounters"] == {"Completed": 7, "InProgress": 0, "RetryableError": 0,
                                                     "NonRetryableError": 0, "Stopped": 0}
        assert tune["ObjectiveStatusCounters"] == {"Succeeded": 7, "Pending": 0, "Failed": 0}
        # 3 cold, then 3 and 1 on the instances the tuning job kept (AMT's own reuse)
        assert tune["HyperParameterTuningEndTime"] - tune["CreationTime"] == timedelta(seconds=COLD + 2 * WARM)
        listed = sm.list_hyper_parameter_tuning_jobs(NameContains="TUN")["HyperParameterTuningJobSummaries"]
        assert [(t["HyperParameterTuningJobName"], t["HyperParameterTuningJobStatus"]) for t in listed] == [
            ("tune", "Completed")]

        trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune",
                                                                      MaxResults=100)["TrainingJobSummaries"]
        values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials]
        starts = sorted(phase_lengths(sm.describe_training_job(TrainingJobName=t["TrainingJobName"]))["Starting"]
                        for t in trials)
        assert starts == [5] * 4 + [240] * 3
        assert tune["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)
        for trial in trials:
            assert re.fullmatch(r"tune-00[1-7]-[0-9a-f]{8}", trial["TrainingJobName"])
            hps = trial["TunedHyperParameters"]
            assert 0.0001 <= float(hps["lr"]) <= 1 and 2 <= int(hps["depth"]) <= 8 and hps["booster"] in {
                "gbtree", "dart"}
            job = sm.describe_training_job(TrainingJobName=trial["TrainingJobName"])
            assert job["TuningJobArn"] == tune["HyperParameterTuningJobArn"]
            assert job["HyperParameters"] == {"epochs": "3", **hps}
            assert "WarmPoolStatus" not in job  # trials never use the user's warm pools
        starts = sorted(t["CreationTime"] for t in trials)
        assert starts[:3] == [starts[0]] * 3 and starts[3] > starts[0]  # three at a time


def test_without_amts_own_reuse_every_wave_starts_cold() -> None:
    with SimulatedSageMaker(metric_fn=lr_auc, amt_reuse=False) as sim:
        sm = sim.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(**tuning_request("tune", max_jobs=7, parallel=3))
        sim.clock.sleep(3 * COLD)
        tune = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
        assert tune["HyperParameterTuningEndTime"] - tune["CreationTime"] == timedelta(seconds=3 * COLD)


def test_list_trials_pages_sorts_and_omits_jobs_without_objective() -> None:
    with SimulatedSageMaker(metric_fn=crashy_auc) as sim:
        sm = sim.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(**tuning_request("tune", max_jobs=12, parallel=12))
        sim.clock.sleep(COLD)
        first = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
        assert len(first["TrainingJobSummaries"]) == 10
        rest = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune",
                                                                    NextToken=first["NextToken"])
        assert len(rest["TrainingJobSummaries"]) == 2 and "NextToken" not in rest
        names = [s["TrainingJobName"] for s in first["TrainingJobSummaries"] + rest["TrainingJobSummaries"]]
        assert names == sorted(names)

        failed = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune", StatusEquals="Failed")["TrainingJobSummaries"]
        assert failed and all(s["FailureReason"] == "AlgorithmError: ValueError: out of memory" for s in failed)
        ranked = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune", SortBy="FinalObjectiveMetricValue", SortOrder="Descending",
            MaxResults=100)["TrainingJobSummaries"]
        values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in ranked]
        assert len(ranked) == 12 - len(failed) and values == sorted(values, reverse=True)
        tune = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
        assert tune["ObjectiveStatusCounters"]["Failed"] == tune["TrainingJobStatusCounters"]["NonRetryableError"] \
            == len(failed)


def test_stopping_a_tuning_job_stops_its_running_trials(sim: SimulatedSageMaker, sm: Any) -> None:
    sm.create_hyper_parameter_tuning_job(**tuning_request("tune", max_jobs=6, parallel=2))
    sim.clock.sleep(100)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    tune = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    assert tune["HyperParameterTuningJobStatus"] == "Stopping"
    sim.clock.sleep(3)
    tune = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    assert tune["HyperParameterTuningJobStatus"] == "Stopped"
    assert tune["TrainingJobStatusCounters"]["Stopped"] == 2 and "BestTrainingJob" not in tune
    with pytest.raises(botocore.exceptions.ClientError, match="only an InProgress job") as exc:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    assert error_code(exc) == "ValidationException"
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="missing")


def test_tuning_job_checks_grid_and_target(sim: SimulatedSageMaker, sm: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match="Hyperband"):
        sm.create_hyper_parameter_tuning_job(**tuning_request("hb", Strategy="Hyperband",
                                                              TrainingJobEarlyStoppingType="Auto"))
    with pytest.raises(botocore.exceptions.ClientError, match="parent tuning job nope"):
        sm.create_hyper_parameter_tuning_job(**tuning_request("ws"), WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nope"}],
            "WarmStartType": "IdenticalDataAndAlgorithm"})

    grid = tuning_request("grid", Strategy="Grid", ParameterRanges={"CategoricalParameterRanges": [
        {"Name": "booster", "Values": ["gbtree", "dart"]}, {"Name": "depth", "Values": ["2", "4", "6"]}]})
    del grid["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    sm.create_hyper_parameter_tuning_job(**grid)
    sim.clock.sleep(2 * COLD)
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="grid")
    assert sorted((t["TunedHyperParameters"]["booster"], t["TunedHyperParameters"]["depth"])
                  for t in trials["TrainingJobSummaries"]) == sorted(
        (b, d) for b in ("gbtree", "dart") for d in ("2", "4", "6"))

    sm.create_hyper_parameter_tuning_job(**tuning_request(
        "target", max_jobs=20, parallel=1, TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.0}))
    sim.clock.sleep(COLD)
    target = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="target")
    assert target["HyperParameterTuningJobStatus"] == "Completed"
    assert target["TrainingJobStatusCounters"]["Completed"] == 1


# ----------------------------------------------------------------------------------------------------- S3


def test_s3_objects_round_trip_through_files(sim: SimulatedSageMaker) -> None:
    s3 = sim.client("s3")
    for key in ("data/a.csv", "data/b c.csv", "data/nested/d.csv", "other.txt"):
        s3.put_object(Bucket="bucket", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="bucket", Key="data/b c.csv")["Body"].read() == b"data/b c.csv"
    assert s3.head_object(Bucket="bucket", Key="other.txt")["ContentLength"] == 9
    first = s3.list_objects_v2(Bucket="bucket", Prefix="data/", MaxKeys=2)
    rest = s3.list_objects_v2(Bucket="bucket", Prefix="data/", ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in first["Contents"] + rest["Contents"]] == ["data/a.csv", "data/b c.csv",
                                                                        "data/nested/d.csv"]
    assert first["IsTruncated"] and not rest["IsTruncated"]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="bucket", Key="missing")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.head_object(Bucket="bucket", Key="missing")
    assert error_code(exc) == "404"


# -------------------------------------------------------------------------------------------- script executor

TRAIN_PY = textwrap.dedent("""
    import argparse, json, os, sys
    from pathlib import Path

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--fail", type=int, default=0)
    args = parser.parse_args()
    runs = Path(os.environ["SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"]) / "runs.txt"
    seen = runs.read_text().split() if runs.exists() else []
    runs.write_text(" ".join(seen + [os.environ["TRAINING_JOB_NAME"]]))
    print("seen=" + ",".join(seen))
    print("rows=" + str(len((Path(os.environ["SM_CHANNEL_TRAIN"]) / "part-0.csv").read_text().splitlines())))
    config = json.loads((Path(os.environ["SM_INPUT_CONFIG_DIR"]) / "hyperparameters.json").read_text())
    print("program=" + config["sagemaker_program"] + " hps=" + os.environ["SM_HPS"])
    (Path(os.environ["SM_MODEL_DIR"]) / "model.txt").write_text("weights")
    if args.fail:
        print("out of memory", file=sys.stderr)
        sys.exit(3)
    print(f"auc={args.lr * 2}")
""")


def test_the_script_executor_runs_the_entry_script_like_the_training_toolkit() -> None:
    with SimulatedSageMaker(clock=ScaledClock(speed=50), executor="script", cold_startup_s=10, warm_startup_s=2,
                            download_s=2, upload_s=2) as sim:
        sm, s3, logs = sim.client("sagemaker"), sim.client("s3"), sim.client("logs")
        source = io.BytesIO()
        with tarfile.open(fileobj=source, mode="w:gz") as tar:
            info = tarfile.TarInfo("train.py")
            info.size = len(TRAIN_PY.encode())
            tar.addfile(info, io.BytesIO(TRAIN_PY.encode()))
        s3.put_object(Bucket="bucket", Key="code/sourcedir.tar.gz", Body=source.getvalue())
        s3.put_object(Bucket="bucket", Key="data/train/part-0.csv", Body=b"1,2\n3,4\n5,6\n")

        def run(name: str, **hyperparameters: str) -> dict[str, Any]:
            hps = {"sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://bucket/code/sourcedir.tar.gz",
                   **hyperparameters}
            sm.create_training_job(**job_request(name, hyperparameters=hps, InputDataConfig=[{
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train"}}}]))
            return wait_for(lambda: (d := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"]
                            != "InProgress" and d, timeout=20)

        def log_lines(name: str) -> list[str]:
            stream = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=name + "/")["logStreams"][0]
            return [e["message"] for e in logs.get_log_events(logGroupName=LOG_GROUP, startFromHead=True,
                                                               logStreamName=stream["logStreamName"])["events"]]

        first = run("s1", lr="0.25")
        assert first["TrainingJobStatus"] == "Completed", first.get("FailureReason")
        assert log_lines("s1") == ["seen=", "rows=3", 'program=train.py hps={"lr": "0.25"}', "auc=0.5"]
        assert [(m["MetricName"], m["Value"]) for m in first["FinalMetricDataList"]] == [("auc", 0.5)]
        model = first["ModelArtifacts"]["S3ModelArtifacts"]
        assert model == "s3://bucket/output/s1/output/model.tar.gz"
        assert s3.head_object(Bucket="bucket", Key="output/s1/output/model.tar.gz")["ContentLength"] > 0

        second = run("s2", lr="0.5", fail="1")
        assert second["WarmPoolStatus"]["Status"] == "Available" and phase_lengths(second)["Starting"] < 10
        lines = log_lines("s2")  # stdout and stderr lines: each pipe in order, the two interleaved as they arrive
        assert "seen=s1" in lines  # the cache directory belongs to the pool
        assert "out of memory" in lines
        assert second["TrainingJobStatus"] == "Failed"
        assert second["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError:")
        assert "out of memory" in second["FailureReason"]
        assert second["FailureReason"].endswith("train.py --lr 0.5 --fail 1\", exit code: 3")
