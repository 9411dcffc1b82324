"""The ``sagemaker`` backend: requests, warm-pool scheduling and release, driven by botocore's Stubber.

Each test drives :class:`SageMakerBackend` the way the runner does (submit while there are free
slots, poll, close) against real boto3 clients whose responses are queued with ``Stubber``;
Stubber checks every response against botocore's output shapes, and botocore checks every request
against the input shapes before the stub answers.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile

import boto3
import pytest
from botocore.stub import ANY, Stubber

from jupyter_hpo.backends import TrialRequest
from jupyter_hpo.exceptions import BackendError, SpecError
from jupyter_hpo.sagemaker import Clients, SageMakerBackend, SageMakerOptions, training_job_request, validate_request
from jupyter_hpo.spec import TuningSpec

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


class Clock:
    """A manual clock: the test decides when time passes."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class Events:
    def __init__(self, prune_at: int | None = None) -> None:
        self.reports: list[tuple[int, int, float]] = []
        self.outcomes = []
        self.notes: list[str] = []
        self.prune_at = prune_at

    def on_report(self, key: int, step: int, value: float) -> bool:
        self.reports.append((key, step, value))
        return self.prune_at is not None and step >= self.prune_at

    def on_finish(self, outcome) -> None:
        self.outcomes.append(outcome)

    def on_note(self, text: str) -> None:
        self.notes.append(text)


def make_spec(tmp_path, *, parallel=1, trials=2, warm=True, **options) -> TuningSpec:
    (tmp_path / "src").mkdir(exist_ok=True)
    script = tmp_path / "src" / "train.py"
    script.write_text("print('auc=0.5')\n")
    return TuningSpec.from_dict({
        "name": "credit-sm",
        "trial": {"script": str(script), "hyperparameters": {"folds": 5}},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "log"},
                  "max_depth": {"type": "int", "low": 2, "high": 8},
                  "booster": ["gbtree", "dart"]},
        "objective": {"metric": "auc", "direction": "maximize"},
        "budget": {"max_trials": trials, "max_parallel": parallel},
        "warm_pool": {"enabled": warm},
        "backend": {"name": "sagemaker", "options": {
            "role": ROLE, "image": IMAGE, "s3_prefix": "s3://credit-bucket/hpo", "region": "us-east-1",
            "inputs": {"train": "s3://credit-bucket/data/"}, "poll_s": 1, **options}},
    })


class Harness:
    """Stubbed clients + a backend + captured CreateTrainingJob requests."""

    def __init__(self, spec, tmp_path) -> None:
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing",
                                aws_secret_access_key="testing")
        self.sm, self.logs, self.s3 = (session.client(s) for s in ("sagemaker", "logs", "s3"))
        self.stub = {name: Stubber(c) for name, c in (("sm", self.sm), ("logs", self.logs), ("s3", self.s3))}
        for s in self.stub.values():
            s.activate()
        self.created: list[dict] = []
        self.uploaded: list[dict] = []
        self.sm.meta.events.register("before-parameter-build.sagemaker.CreateTrainingJob",
                                     lambda params, **_: self.created.append(dict(params)))
        self.s3.meta.events.register("before-parameter-build.s3.PutObject",
                                     lambda params, **_: self.uploaded.append(dict(params)))
        self.clock = Clock()
        self.backend = SageMakerBackend(spec, tmp_path, clients=Clients(self.sm, self.logs, self.s3, self.clock))
        self.events = Events()

    def poll(self) -> None:
        self.clock.t += 1.0
        self.backend.poll(self.events, timeout=0.0)

    def done(self) -> None:
        for s in self.stub.values():
            s.assert_no_pending_responses()


def start_one(h) -> str:
    """Start the backend (the code upload) and launch trial 0; returns its training job's name."""
    h.stub["s3"].add_response("put_object", {})
    h.backend.start()
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:a"})
    h.backend.submit(TrialRequest(key=0, params={"eta": 0.1, "max_depth": 4, "booster": "dart"}))
    return h.created[0]["TrainingJobName"]


def reused(h, by: dict[str, str] | None = None) -> None:
    """The ListTrainingJobs(WarmPoolStatusEquals=Reused) page read when a trial finishes: ``by`` maps a training
    job whose pool was reused to the job that reused it (none: no pool was reused)."""
    h.stub["sm"].add_response("list_training_jobs", {"TrainingJobSummaries": [{
        "TrainingJobName": old, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{old}",
        "CreationTime": T0, "TrainingJobStatus": "Completed",
        "WarmPoolStatus": {"Status": "Reused", "ReusedByJob": new}} for old, new in (by or {}).items()]},
        expected_params={"NameContains": "credit-sm", "WarmPoolStatusEquals": "Reused", "MaxResults": 100})


def describe(name, status="InProgress", secondary="Starting", *, phases=(), pool=None, billable=None, metrics=()):
    """A DescribeTrainingJob response: ``phases`` are (status, seconds) in order; the last may be open."""
    transitions, t = [], T0
    for i, (phase, seconds) in enumerate(phases):
        entry = {"Status": phase, "StartTime": t, "StatusMessage": phase}
        if seconds is not None:
            t = t + dt.timedelta(seconds=seconds)
            entry["EndTime"] = t
        transitions.append(entry)
    body = {
        "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://credit-bucket/hpo/credit-sm/output/{name}/model.tar.gz"},
        "TrainingJobStatus": status, "SecondaryStatus": secondary, "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": T0, "LastModifiedTime": t, "SecondaryStatusTransitions": transitions,
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30,
                           "KeepAlivePeriodInSeconds": 600},
    }
    if pool:
        body["WarmPoolStatus"] = pool
    if billable:
        body["BillableTimeInSeconds"] = billable
        body["TrainingStartTime"] = T0
    if metrics:
        body["FinalMetricDataList"] = [{"MetricName": n, "Value": v, "Timestamp": t} for n, v in metrics]
    return body


def log(h, name, lines, token_in=None, token_out="f/1"):
    """The log reads of one poll: the stream is listed on the first read only (``token_in`` None)."""
    stream = f"{name}/algo-1-1764331200"
    if token_in is None:
        h.stub["logs"].add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
    params = {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": stream, "startFromHead": True}
    if token_in:
        params["nextToken"] = token_in
    h.stub["logs"].add_response("get_log_events", {
        "events": [{"timestamp": 1, "message": m, "ingestionTime": 1} for m in lines],
        "nextForwardToken": token_out, "nextBackwardToken": "b/0"}, expected_params=params)
    if lines:  # a non-empty page is followed by one more read, which comes back empty
        h.stub["logs"].add_response("get_log_events", {"events": [], "nextForwardToken": token_out,
                                                       "nextBackwardToken": "b/0"},
                                    expected_params={**params, "nextToken": token_out})


def test_a_second_trial_lands_on_the_first_ones_warm_pool_and_pools_are_released(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    h.stub["s3"].add_response("put_object", {"ETag": '"1"'})
    h.backend.start()
    assert h.uploaded[0]["Bucket"] == "credit-bucket"
    assert h.uploaded[0]["Key"] == "hpo/credit-sm/source/sourcedir.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(h.uploaded[0]["Body"])) as tar:
        assert {"train.py", "jupyter_hpo/trial.py", "jupyter_hpo_space.json"} <= set(tar.getnames())

    assert h.backend.free_slots() == 1
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:::training-job/a"})
    first = h.backend.submit(TrialRequest(key=0, params={"eta": 0.1, "max_depth": 4, "booster": "dart"}))
    assert (first.worker, first.warm) == ("pool-1", False)
    job0 = h.created[0]["TrainingJobName"]
    req = h.created[0]
    assert req["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30,
                                     "KeepAlivePeriodInSeconds": 600}
    assert req["HyperParameters"] == {  # strings, as SageMaker passes them to the script
        "folds": "5", "eta": "0.1", "max_depth": "4", "booster": "dart", "sagemaker_program": "train.py",
        "sagemaker_submit_directory": "s3://credit-bucket/hpo/credit-sm/source/sourcedir.tar.gz",
        "sagemaker_region": "us-east-1"}
    assert {"Name": "auc", "Regex": ANY} in req["AlgorithmSpecification"]["MetricDefinitions"]
    assert h.backend.free_slots() == 0  # the only pool is busy

    # running: cold start; no log is read before the training code runs
    h.stub["sm"].add_response("describe_training_job", describe(job0, phases=[("Starting", None)]))
    h.poll()
    # training: an intermediate value and the objective appear in the log
    h.stub["sm"].add_response("describe_training_job", describe(
        job0, secondary="Training", phases=[("Starting", 240), ("Downloading", 10), ("Training", None)]))
    log(h, job0, ["[0] intermediate step=0 value=0.61", "auc=0.71"])
    h.poll()
    assert h.events.reports == [(0, 0, 0.61)]
    # completed; its pool becomes Available, so the pool is free again and the next trial is warm
    h.stub["sm"].add_response("describe_training_job", describe(
        job0, "Completed", "Completed", phases=[("Starting", 240), ("Downloading", 10), ("Training", 60),
                                                ("Uploading", 5), ("Completed", 0)], billable=75,
        pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}))
    log(h, job0, [], token_in="f/1")
    reused(h)  # a trial started cold is checked too: SageMaker may have put it on a pool
    h.stub["sm"].add_response("describe_training_job", describe(
        job0, "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 1}))
    h.poll()
    (out0,) = h.events.outcomes
    assert (out0.state, out0.value, out0.startup_s, out0.run_s) == ("complete", 0.71, 250.0, 60.0)
    sm0 = out0.attrs["sagemaker"]
    assert sm0["training_job"] == job0 and sm0["billable_s"] == 75 and sm0["warm_pool_status"] == "Available"
    assert sm0["phases_s"] == {"Starting": 240.0, "Downloading": 10.0, "Training": 60.0, "Uploading": 5.0,
                               "Completed": 0.0}
    assert out0.attrs["cost_usd"] == pytest.approx(75 * 0.23 / 3600, abs=1e-6)
    assert out0.attrs["warm"] is False

    assert h.backend.free_slots() == 1
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:::training-job/b"})
    second = h.backend.submit(TrialRequest(key=1, params={"eta": 0.2, "max_depth": 3, "booster": "gbtree"}))
    assert (second.worker, second.warm) == ("pool-1", True)
    job1 = h.created[1]["TrainingJobName"]
    for key in ("RoleArn", "ResourceConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption"):
        assert h.created[1][key] == h.created[0][key]  # the warm-pool matching criteria

    h.stub["sm"].add_response("describe_training_job", describe(
        job1, "Completed", "Completed", phases=[("Starting", 5), ("Downloading", 10), ("Training", 58),
                                                ("Uploading", 5), ("Completed", 0)], billable=73,
        pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}, metrics=[("auc", 0.8)]))
    log(h, job1, ["auc=0.8"])
    # was it really reused? the previous job says so
    h.stub["sm"].add_response("list_training_jobs", {"TrainingJobSummaries": [{
        "TrainingJobName": job0, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job0}",
        "CreationTime": T0, "TrainingJobStatus": "Completed",
        "WarmPoolStatus": {"Status": "Reused", "ReusedByJob": job1, "ResourceRetainedBillableTimeInSeconds": 42}}]},
        expected_params={"NameContains": "credit-sm", "WarmPoolStatusEquals": "Reused", "MaxResults": 100})
    h.stub["sm"].add_response("describe_training_job", describe(
        job1, "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 1}))
    h.poll()
    out1 = h.events.outcomes[1]
    assert (out1.state, out1.value, out1.startup_s) == ("complete", 0.8, 15.0)
    assert out1.attrs["warm"] is True and out1.attrs["sagemaker"]["reused_pool_of"] == job0

    # the job ends: the pool still held is released, so nothing is left billing
    h.stub["sm"].add_response("describe_training_job", describe(
        job1, "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 7}))
    h.stub["sm"].add_response("update_training_job", {"TrainingJobArn": "arn:x"},
                              expected_params={"TrainingJobName": job1,
                                               "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}})
    h.backend.close()
    h.done()
    summary = h.backend.summary()
    assert summary["pools_released"] == [job1] and summary["pools_not_released"] == []
    assert summary["training_jobs"] == 2 and summary["warm_starts"] == 1
    assert summary["retained_billable_s"] == 49 and summary["billable_s"] == 148
    assert summary["cost_usd"] == pytest.approx((148 + 49) * 0.23 / 3600, abs=1e-5)


def test_a_trial_is_not_launched_before_the_finished_jobs_pool_is_available(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    job0 = start_one(h)
    done = dict(phases=[("Starting", 200), ("Training", 60), ("Completed", 0)], billable=60)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    log(h, job0, ["auc=0.7"])
    reused(h)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    h.poll()
    assert h.events.outcomes[0].state == "complete"
    assert h.backend.free_slots() == 0  # finished, but no WarmPoolStatus yet: wait rather than start cold
    h.stub["sm"].add_response("describe_training_job", describe(
        job0, "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}))
    h.poll()
    assert h.backend.free_slots() == 1
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:b"})
    assert h.backend.submit(TrialRequest(key=1, params={"eta": 0.1, "max_depth": 4, "booster": "dart"})).warm
    job1 = h.created[1]["TrainingJobName"]
    # SageMaker may hand the job any matching Available pool: the trial is warm if some job was reused by it
    h.stub["sm"].add_response("describe_training_job", describe(
        job1, "Completed", "Completed", phases=[("Starting", 5), ("Training", 60), ("Completed", 0)], billable=60))
    log(h, job1, ["auc=0.75"])
    h.stub["sm"].add_response("list_training_jobs", {"TrainingJobSummaries": [{
        "TrainingJobName": "other-job", "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/o",
        "CreationTime": T0, "TrainingJobStatus": "Completed",
        "WarmPoolStatus": {"Status": "Reused", "ReusedByJob": job1}}]})
    h.stub["sm"].add_response("describe_training_job", describe(job1, "Completed", "Completed", **done))
    h.poll()
    assert h.events.outcomes[1].attrs["warm"] is True
    assert h.events.outcomes[1].attrs["sagemaker"]["reused_pool_of"] == "other-job"
    h.done()


def test_no_pool_kept_is_noted_and_the_next_trial_starts_cold(tmp_path):
    h = Harness(make_spec(tmp_path, warm_wait_s=5), tmp_path)
    job0 = start_one(h)
    done = dict(phases=[("Starting", 200), ("Training", 60), ("Completed", 0)], billable=60)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    log(h, job0, ["auc=0.7"])
    reused(h)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    h.poll()
    h.clock.t += 10  # longer than warm_wait_s, and still no WarmPoolStatus (quota 0)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    h.poll()
    assert h.backend.free_slots() == 1
    assert any("warm-pool quota is 0" in n for n in h.events.notes)
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:b"})
    assert not h.backend.submit(TrialRequest(key=1, params={"eta": 0.1, "max_depth": 4, "booster": "dart"})).warm
    # started cold, but SageMaker put it on another matching pool that had become Available: it counts as warm
    job1 = h.created[1]["TrainingJobName"]
    h.stub["sm"].add_response("describe_training_job", describe(
        job1, "Completed", "Completed", phases=[("Starting", 5), ("Training", 60), ("Completed", 0)], billable=60))
    log(h, job1, ["auc=0.75"])
    reused(h, {"other-job": job1})
    h.stub["sm"].add_response("describe_training_job", describe(job1, "Completed", "Completed", **done))
    h.poll()
    out1 = h.events.outcomes[1]
    assert out1.attrs["warm"] is True and out1.attrs["sagemaker"]["reused_pool_of"] == "other-job"
    assert out1.startup_s == 5
    h.done()


def test_throttled_launch_is_retried_with_backoff(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    h.stub["s3"].add_response("put_object", {})
    h.backend.start()
    h.stub["sm"].add_client_error("create_training_job", "ThrottlingException", "Rate exceeded", 400)
    h.backend.submit(TrialRequest(key=0, params={"eta": 0.1, "max_depth": 4, "booster": "dart"}))
    assert h.events.outcomes == [] and h.backend.running() == 1
    h.poll()  # too early for the retry (2 s backoff): no call
    h.clock.t += 2
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:a"})
    job0 = h.created[0]["TrainingJobName"]
    h.stub["sm"].add_response("describe_training_job", describe(job0, phases=[("Starting", None)]))
    h.poll()
    assert h.created[1]["TrainingJobName"] == job0  # the same trial, launched on the retry
    h.done()


def test_resource_limit_with_no_other_pool_fails_the_trial_and_explains_the_quota(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    h.stub["s3"].add_response("put_object", {})
    h.backend.start()
    h.stub["sm"].add_client_error("create_training_job", "ResourceLimitExceeded",
                                  "The account-level service limit 'ml.m5.xlarge for training warm pool usage' is 0")
    h.backend.submit(TrialRequest(key=0, params={"eta": 0.1, "max_depth": 4, "booster": "dart"}))
    h.poll()
    (out,) = h.events.outcomes
    assert out.state == "failed"
    assert "default quota is 0" in out.error and "Service Quotas" in out.error and "ml.m5.xlarge" in out.error
    assert h.backend.free_slots() == 1
    h.done()


def test_resource_limit_with_other_pools_running_shrinks_parallelism(tmp_path):
    h = Harness(make_spec(tmp_path, parallel=2, trials=3), tmp_path)
    start_one(h)
    h.stub["sm"].add_client_error("create_training_job", "ResourceLimitExceeded", "limit of 1 instance")
    h.backend.submit(TrialRequest(key=1, params={"eta": 0.1, "max_depth": 5, "booster": "dart"}))
    assert h.events.outcomes == []  # the trial waits for a pool instead of failing
    assert h.backend.free_slots() == 0
    job0 = h.created[0]["TrainingJobName"]
    done = dict(phases=[("Starting", 200), ("Training", 60), ("Completed", 0)], billable=60,
                pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0})
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    log(h, job0, ["auc=0.7"])
    reused(h)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Completed", "Completed", **done))
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:b"})
    h.poll()
    assert [o.key for o in h.events.outcomes] == [0]
    assert h.created[2]["HyperParameters"]["max_depth"] == "5"  # the waiting trial took the warm pool
    assert any("Running with 1 pool(s) instead of 2" in n for n in h.events.notes)
    h.done()


def test_a_pruned_trial_is_stopped_and_recorded_as_pruned(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    h.events.prune_at = 1
    job0 = start_one(h)
    h.stub["sm"].add_response("describe_training_job", describe(
        job0, secondary="Training", phases=[("Starting", 240), ("Training", None)]))
    log(h, job0, ["intermediate step=0 value=0.5", "intermediate step=1 value=0.4"])
    h.stub["sm"].add_response("stop_training_job", {}, expected_params={"TrainingJobName": job0})
    h.poll()
    h.stub["sm"].add_response("describe_training_job", describe(
        job0, "Stopped", "Stopped", phases=[("Starting", 240), ("Training", 20), ("Stopped", 0)], billable=20))
    log(h, job0, [], token_in="f/1")
    reused(h)
    h.stub["sm"].add_response("describe_training_job", describe(job0, "Stopped", "Stopped"))
    h.poll()
    (out,) = h.events.outcomes
    assert out.state == "pruned" and h.events.reports == [(0, 0, 0.5), (0, 1, 0.4)]
    h.done()


def test_a_failed_training_job_surfaces_its_failure_reason(tmp_path):
    h = Harness(make_spec(tmp_path, keep_alive_s=0), tmp_path)
    start_one(h)
    assert "KeepAlivePeriodInSeconds" not in h.created[0]["ResourceConfig"]
    job0 = h.created[0]["TrainingJobName"]
    failed = describe(job0, "Failed", "Failed", phases=[("Starting", 240), ("Training", 3), ("Failed", 0)],
                      billable=3)
    failed["FailureReason"] = "AlgorithmError: ExecuteUserScriptError: KeyError: 'Y'"
    h.stub["sm"].add_response("describe_training_job", failed)
    log(h, job0, ["Traceback (most recent call last):", "KeyError: 'Y'"])
    h.poll()
    (out,) = h.events.outcomes
    assert out.state == "failed" and "KeyError: 'Y'" in out.error
    assert h.backend.free_slots() == 1  # no keep-alive: the pool is simply empty again
    h.done()


def test_cancel_stops_running_jobs_and_close_releases_their_pools(tmp_path):
    h = Harness(make_spec(tmp_path, parallel=2), tmp_path)
    h.stub["s3"].add_response("put_object", {})
    h.backend.start()
    for key in (0, 1):
        h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": f"arn:{key}"})
        h.backend.submit(TrialRequest(key=key, params={"eta": 0.1, "max_depth": 4, "booster": "dart"}))
    jobs = [c["TrainingJobName"] for c in h.created]
    for job in jobs:
        h.stub["sm"].add_response("stop_training_job", {}, expected_params={"TrainingJobName": job})
    h.backend.cancel_all(h.events, "interrupted: the job was stopped")
    outcomes = h.events.outcomes
    assert [(o.key, o.state, o.interrupted) for o in outcomes] == [(0, "failed", True), (1, "failed", True)]
    # close: the first is still stopping, then both pools are Available and are released
    h.stub["sm"].add_response("describe_training_job", describe(jobs[0], "Stopping", "Stopping"))
    h.stub["sm"].add_response("describe_training_job", describe(
        jobs[1], "Stopped", "Stopped", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}))
    h.stub["sm"].add_response("update_training_job", {"TrainingJobArn": "arn:1"},
                              expected_params={"TrainingJobName": jobs[1],
                                               "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}})
    h.stub["sm"].add_response("describe_training_job", describe(
        jobs[0], "Stopped", "Stopped", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}))
    h.stub["sm"].add_response("update_training_job", {"TrainingJobArn": "arn:0"},
                              expected_params={"TrainingJobName": jobs[0],
                                               "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}})
    h.backend.close()
    assert sorted(h.backend.summary()["pools_released"]) == sorted(jobs)
    h.done()


def test_expired_credentials_while_polling_fail_the_job_with_a_clear_error(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    start_one(h)
    h.stub["sm"].add_client_error("describe_training_job", "ExpiredTokenException", "The security token expired")
    with pytest.raises(BackendError, match="credentials expired"):
        h.poll()
    h.done()


def test_throttled_status_checks_back_off_and_recover(tmp_path):
    h = Harness(make_spec(tmp_path), tmp_path)
    job0 = start_one(h)
    h.stub["sm"].add_client_error("describe_training_job", "ThrottlingException", "Rate exceeded")
    h.poll()
    assert any("throttled" in n for n in h.events.notes)
    h.poll()  # backing off: no call within the longer interval
    h.clock.t += 5
    h.stub["sm"].add_response("describe_training_job", describe(job0, phases=[("Starting", None)]))
    h.poll()
    h.done()


# -- requests and options ------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [
    {},
    {"keep_alive_s": 0},
    {"keep_alive_s": 3600, "instance_count": 2, "volume_size_gb": 100},
    {"volume_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/abcd", "environment": {"A": "1"}},
    {"subnets": ["subnet-1", "subnet-2"], "security_group_ids": ["sg-1"], "enable_network_isolation": True,
     "encrypt_inter_container_traffic": True},
    {"tags": {"team": "credit-risk"}, "output_path": "s3://other-bucket/models", "max_run_s": 7200},
])
def test_every_training_job_request_passes_botocores_validation(tmp_path, options):
    spec = make_spec(tmp_path, **options)
    opts = SageMakerOptions.from_spec(spec)
    body = training_job_request(spec, opts, job_name="credit-sm-00007-abc123",
                                params={"eta": 0.05, "max_depth": 3, "booster": "gbtree"},
                                code_uri=opts.code_uri(spec.name), entry="train.py")
    validate_request("CreateTrainingJob", body)
    assert body["ResourceConfig"].get("KeepAlivePeriodInSeconds", 0) == opts.keep_alive_s
    assert SageMakerBackend.prepare(spec) is spec


def test_validation_reports_a_bad_request():
    with pytest.raises(BackendError, match="invalid CreateTrainingJob request"):
        validate_request("CreateTrainingJob", {"TrainingJobName": "x"})


@pytest.mark.parametrize("options, message", [
    ({"keep_alive_s": 7200}, "keep_alive_s` must be an integer from 0 to 3600"),
    ({"spot": True}, "warm pools do not work with managed spot training"),
    ({"instance_groups": [{"InstanceGroupName": "a"}]}, "heterogeneous clusters"),
    ({"role": "SageMakerRole"}, "must be an IAM role ARN"),
    ({"s3_prefix": "bucket/prefix"}, "must be an s3://bucket/prefix URI"),
    ({"inputs": {"train": "/local/path"}}, "`backend.options.inputs.train` must be an s3:// URI"),
    ({"subnets": ["subnet-1"]}, "a VPC needs both"),
    ({"instance_type": "m5.xlarge"}, "must be a SageMaker instance type"),
    ({"polls": 3}, "unknown field(s) `backend.options.polls`"),
])
def test_bad_options_are_rejected_before_anything_starts(tmp_path, options, message):
    with pytest.raises(SpecError) as e:
        SageMakerBackend.prepare(make_spec(tmp_path, **options))
    assert message in str(e.value)


def test_tuning_a_pool_matching_setting_is_rejected(tmp_path):
    spec = make_spec(tmp_path)
    spec = spec.replace(space=spec.space.from_dict({"instance_type": ["ml.m5.xlarge", "ml.c5.xlarge"]}))
    with pytest.raises(SpecError, match="'instance_type' cannot be tuned on SageMaker"):
        SageMakerBackend.prepare(spec)


def test_a_function_objective_cannot_run_on_sagemaker():
    spec = TuningSpec.from_dict({"name": "f", "trial": {"function": lambda p: 1.0},
                                 "space": {"x": {"type": "float", "low": 0, "high": 1}},
                                 "backend": {"name": "sagemaker", "options": {"role": ROLE, "image": IMAGE,
                                                                              "s3_prefix": "s3://bkt/p"}}})
    with pytest.raises(SpecError, match="give `trial.script`"):
        SageMakerBackend.prepare(spec)


def test_missing_credentials_and_region_are_explained(tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    spec = make_spec(tmp_path)
    with pytest.raises(BackendError, match="no AWS credentials found"):
        SageMakerBackend.prepare(spec)
    no_region = spec.replace(backend_options={**spec.backend_options, "region": None})
    with pytest.raises(BackendError, match="no AWS region"):
        SageMakerBackend.prepare(no_region)


def test_the_examples_sagemaker_spec_is_valid_and_builds_valid_requests():
    from tests.conftest import EXAMPLE

    spec = TuningSpec.from_file(EXAMPLE / "sagemaker.yaml")
    assert SageMakerBackend.prepare(spec) is spec
    opts = SageMakerOptions.from_spec(spec)
    body = training_job_request(spec, opts, job_name="credit-1", params={"max_depth": 3, "eta": 0.1},
                                code_uri=opts.code_uri(spec.name), entry="train.py")
    validate_request("CreateTrainingJob", body)
    assert body["StoppingCondition"] == {"MaxRuntimeInSeconds": 900}
    assert body["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://your-bucket/credit/"


def test_packaging_and_create_training_job_round_trip_through_moto(tmp_path):
    """moto stores what it receives: the tarball lands in S3, and the job comes back as it was sent."""
    from moto import mock_aws

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "helpers.py").write_text("X = 1\n")
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    spec = make_spec(tmp_path)
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket="credit-bucket")
        backend = SageMakerBackend(spec, tmp_path, clients=Clients(sm, session.client("logs"), s3, Clock()))
        backend.start()
        body = s3.get_object(Bucket="credit-bucket", Key="hpo/credit-sm/source/sourcedir.tar.gz")["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            names = set(tar.getnames())
            space = tar.extractfile("jupyter_hpo_space.json").read()
        assert {"train.py", "helpers.py", "jupyter_hpo/__init__.py", "jupyter_hpo/trial.py", "jupyter_hpo/space.py",
                "jupyter_hpo/exceptions.py", "jupyter_hpo_space.json"} <= names
        assert not any("__pycache__" in n for n in names)
        assert TuningSpec.from_dict({"name": "x", "trial": {"function": print},
                                     "space": __import__("json").loads(space)}).space == spec.space

        assignment = backend.submit(TrialRequest(key=3, params={"eta": 0.05, "max_depth": 7, "booster": "gbtree"}))
        assert assignment.worker == "pool-1" and not assignment.warm
        (name,) = [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]]
        assert name.startswith("credit-sm-00003-") and len(name) <= 63
        desc = sm.describe_training_job(TrainingJobName=name)
        assert desc["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
        assert desc["HyperParameters"]["max_depth"] == "7" and desc["HyperParameters"]["booster"] == "gbtree"
        assert desc["RoleArn"] == ROLE and desc["AlgorithmSpecification"]["TrainingImage"] == IMAGE
        assert desc["OutputDataConfig"]["S3OutputPath"] == "s3://credit-bucket/hpo/credit-sm/output"


def test_a_missing_bucket_is_a_clear_error(tmp_path):
    from moto import mock_aws

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        backend = SageMakerBackend(make_spec(tmp_path), tmp_path, clients=Clients(
            session.client("sagemaker"), session.client("logs"), session.client("s3"), Clock()))
        with pytest.raises(BackendError, match="could not upload the training code to "
                                               "s3://credit-bucket/hpo/credit-sm/source/sourcedir.tar.gz: NoSuchBucket"):
            backend.start()


def test_without_the_extra_the_backends_say_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)  # as if boto3 were not installed
    with pytest.raises(BackendError, match=r"pip install 'jupyter-hpo\[sagemaker\]'"):
        SageMakerBackend.prepare(make_spec(tmp_path))


def test_a_model_trainer_becomes_the_trial_and_its_options(tmp_path):
    """SDK v3 ``ModelTrainer`` fields (read by attribute; the SDK itself is not needed here)."""
    from types import SimpleNamespace as NS

    from jupyter_hpo.sagemaker import spec_fields_from_model_trainer

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('auc=0.5')\n")
    trainer = NS(
        training_image=IMAGE, role=ROLE, hyperparameters={"folds": 5},
        compute=NS(instance_type="ml.c5.2xlarge", instance_count=1, volume_size_in_gb=50,
                   keep_alive_period_in_seconds=900, enable_managed_spot_training=False, volume_kms_key_id=None),
        stopping_condition=NS(max_runtime_in_seconds=1800),
        output_data_config=NS(s3_output_path="s3://credit-bucket/models"),
        environment={"LOG_LEVEL": "info"},
        networking=None,
        source_code=NS(source_dir=str(tmp_path / "code"), entry_script="train.py"),
        input_data_config=[NS(channel_name="train", data_source="s3://credit-bucket/data/")],
    )
    fields = spec_fields_from_model_trainer(trainer)
    assert fields["trial"] == {"script": str(tmp_path / "code" / "train.py"), "hyperparameters": {"folds": 5}}
    assert fields["options"] == {
        "image": IMAGE, "role": ROLE, "instance_type": "ml.c5.2xlarge", "instance_count": 1, "volume_size_gb": 50,
        "keep_alive_s": 900, "spot": False, "max_run_s": 1800, "output_path": "s3://credit-bucket/models",
        "environment": {"LOG_LEVEL": "info"}, "source_dir": str(tmp_path / "code"),
        "inputs": {"train": "s3://credit-bucket/data/"}}
    spec = TuningSpec.from_dict({"name": "mt", "trial": fields["trial"], "space": {"eta": [0.1, 0.2]},
                                 "backend": {"name": "sagemaker",
                                             "options": {**fields["options"], "s3_prefix": "s3://credit-bucket/hpo"}}})
    assert SageMakerBackend.prepare(spec) is spec


# -- what a dead runner leaves behind ------------------------------------------------------------------
def _trial(number, pool, job):
    from types import SimpleNamespace

    return SimpleNamespace(number=number, user_attrs={"worker": pool, "sagemaker": {"training_job": job}})


def test_a_resumed_job_stops_the_dead_runners_job_and_reuses_its_warm_pools(tmp_path):
    h = Harness(make_spec(tmp_path, parallel=2, trials=6), tmp_path)
    # trials 0-3 ran before the runner died: pool-1 last ran job-b (still running), pool-2 job-c (done)
    h.backend.recover([_trial(0, "pool-1", "job-a"), _trial(1, "pool-2", "job-c0"), _trial(2, "pool-1", "job-b"),
                       _trial(3, "pool-2", "job-c")])
    h.stub["s3"].add_response("put_object", {})
    h.stub["sm"].add_response("describe_training_job", describe("job-b", secondary="Training",
                                                                phases=[("Starting", 240), ("Training", None)]),
                              expected_params={"TrainingJobName": "job-b"})
    h.stub["sm"].add_response("stop_training_job", {}, expected_params={"TrainingJobName": "job-b"})
    h.stub["sm"].add_response("describe_training_job", describe(
        "job-c", "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 90}),
        expected_params={"TrainingJobName": "job-c"})
    h.backend.start()
    assert h.backend.free_slots() == 0  # both pools wait for their jobs' warm pools
    h.stub["sm"].add_response("describe_training_job", describe(
        "job-b", "Stopped", "Stopped", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}))
    h.stub["sm"].add_response("describe_training_job", describe(
        "job-c", "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 91}))
    h.poll()
    assert any("stopped training job job-b, left running by the previous runner" in n for n in h.events.notes)
    assert h.backend.free_slots() == 2
    h.stub["sm"].add_response("create_training_job", {"TrainingJobArn": "arn:x"})
    assert h.backend.submit(TrialRequest(key=4, params={"eta": 0.1, "max_depth": 4, "booster": "dart"})).warm
    h.done()


def test_stopping_a_job_whose_runner_died_releases_its_warm_pools(home, tmp_path, monkeypatch):
    from jupyter_hpo import api
    from jupyter_hpo.sagemaker import clients as sagemaker_clients
    from jupyter_hpo.store import JobStatus, Store

    spec = make_spec(tmp_path, parallel=2)
    store = Store(home=home)
    store.create_job(spec.name, spec.to_dict(), "maximize")
    store.set_job_attrs(spec.name, status="running", heartbeat=0,
                        runner={"pid": 2**22 + 12345, "host": __import__("socket").gethostname(), "started": 0})
    import optuna

    study = optuna.load_study(study_name=spec.name, storage=store.storage)
    for number, (pool, job, state) in enumerate([("pool-1", "job-a", "COMPLETE"), ("pool-2", "job-b", "RUNNING")]):
        t = optuna.trial.create_trial(
            state=getattr(optuna.trial.TrialState, state), value=0.5 if state == "COMPLETE" else None,
            params={}, distributions={}, user_attrs={"worker": pool, "sagemaker": {"training_job": job}})
        study.add_trial(t)
    h = Harness(spec, tmp_path)
    monkeypatch.setattr(sagemaker_clients, "make_clients", lambda opts: Clients(h.sm, h.logs, h.s3, h.clock))
    # job-a's pool is Available: released; job-b still runs: stopped, then its pool released
    h.stub["sm"].add_response("describe_training_job", describe(
        "job-a", "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 5}))
    h.stub["sm"].add_response("describe_training_job", describe("job-b", phases=[("Training", None)]))
    h.stub["sm"].add_response("stop_training_job", {}, expected_params={"TrainingJobName": "job-b"})
    h.stub["sm"].add_response("describe_training_job", describe(
        "job-a", "Completed", "Completed", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 5}))
    h.stub["sm"].add_response("update_training_job", {"TrainingJobArn": "arn:a"},
                              expected_params={"TrainingJobName": "job-a",
                                               "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}})
    h.stub["sm"].add_response("describe_training_job", describe(
        "job-b", "Stopped", "Stopped", pool={"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 0}))
    h.stub["sm"].add_response("update_training_job", {"TrainingJobArn": "arn:b"},
                              expected_params={"TrainingJobName": "job-b",
                                               "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}})
    job = api.attach(spec.name, store)
    assert job.status == JobStatus.STALE
    assert job.stop() == JobStatus.STOPPED
    h.done()
    notes = [n["text"] for n in job.attrs["notes"]]
    assert any("stopped training job job-b" in n for n in notes)
    assert any("released the warm pools of job-a, job-b" in n for n in notes)


def test_expired_credentials_mid_job_cancel_and_close_report_instead_of_raising(tmp_path):
    h = Harness(make_spec(tmp_path, warm_wait_s=5), tmp_path)
    job0 = start_one(h)
    h.stub["sm"].add_client_error("describe_training_job", "ExpiredTokenException", "The security token expired")
    with pytest.raises(BackendError, match="ExpiredTokenException.*refresh them and resume the job"):
        h.poll()
    # the runner then cancels and closes: neither may raise, both say what is left running or billing
    h.stub["sm"].add_client_error("stop_training_job", "ExpiredTokenException", "The security token expired")
    h.backend.cancel_all(h.events, "interrupted: the runner failed")
    (outcome,) = h.events.outcomes
    assert outcome.interrupted
    h.stub["sm"].add_client_error("describe_training_job", "ExpiredTokenException", "The security token expired")
    h.backend.close()
    h.done()
    assert any(f"could not stop training job {job0}" in n and "max_run_s" in n for n in h.events.notes)
    assert any(f"could not release the warm pool of {job0}" in n and "keep-alive of 600 s" in n
               for n in h.events.notes)
    assert h.backend.summary()["pools_not_released"] == [job0]


@pytest.mark.parametrize("backend", ["sagemaker", "amt"])
@pytest.mark.parametrize("warm_pool", [{"max_trials_per_worker": 20}, {"max_memory_mb": 2048},
                                       {"max_trials_per_worker": 20, "max_memory_mb": 2048}])
def test_the_local_workers_settings_are_refused_on_sagemaker_not_ignored(home, tmp_path, backend, warm_pool):
    """``warm_pool.max_trials_per_worker`` / ``max_memory_mb`` bound the local worker processes; a SageMaker trial
    is a training job of its own, so nothing could honour them there. They were accepted and dropped."""
    from jupyter_hpo import api

    script = tmp_path / "train.py"
    script.write_text("print('auc=0.5')\n")
    spec = {"name": f"pool-{backend}", "trial": {"script": str(script)},
            "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
            "objective": {"metric": "auc", "direction": "maximize"}, "warm_pool": warm_pool,
            "backend": {"name": backend, "options": {"simulate": {}}}}
    with pytest.raises(SpecError) as e:
        api.launch(spec)
    text = str(e.value)
    assert all(f"`warm_pool.{k}`" in text for k in warm_pool), text
    assert f"applies to the local backend's worker processes, but this job runs on `{backend}`" in text.replace(
        "apply to", "applies to")
    assert "\n" not in text
    assert f"pool-{backend}" not in {j["name"] for j in api.list_jobs()}  # nothing written
    assert not (home / "jobs" / f"pool-{backend}").exists()
    with pytest.raises(SpecError) as planned:  # `jupyter hpo plan` refuses what the launch refuses
        api.plan(spec)
    assert str(planned.value) == text
    spec["warm_pool"] = {"enabled": True}
    spec["budget"] = {"max_trials": 1}
    spec["backend"]["options"]["simulate"] = {"speed": 200, "training_s": 5}
    assert api.launch(spec).wait(timeout=60).value == "completed"  # the same job without them runs


def test_a_seeded_job_sends_its_training_jobs_no_seed_as_the_readme_says(tmp_path):
    """The seed drives the search; a SageMaker training job gets only its parameters, the static hyperparameters and
    the SDK's script-mode entries (README, "What `seed` repeats")."""
    spec = make_spec(tmp_path).replace(seed=7)
    opts = SageMakerOptions.from_spec(spec)
    params = {"eta": 0.05, "max_depth": 3, "booster": "gbtree"}
    body = training_job_request(spec, opts, job_name="credit-sm-00003-abc123", params=params,
                                code_uri=opts.code_uri(spec.name), entry="train.py", trial=3)
    own = {k for k in body["HyperParameters"] if not k.startswith("sagemaker_")}
    assert own == set(params) | {"folds"}, own
