"""Managed spot training on the ``sagemaker`` and ``amt`` backends (issue 11, part 1).

``spot: true`` must never be dropped: the request asks for spot, waits at most ``max_wait_s`` and keeps
each trial's checkpoints in its own folder; spot with a warm-pool keep-alive is refused (SageMaker's
warm pools cannot be used with spot instances); an interrupted trial is launched again, at most
``spot_retries`` times, and its billable vs training seconds and savings are recorded. The end-to-end
tests run the scheduler against the simulated SageMaker on a virtual clock.
"""

from __future__ import annotations

import pytest

from jupyter_hpo import api

from jupyter_hpo.backends import TrialRequest
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker import (
    AmtBackend,
    SageMakerBackend,
    SageMakerOptions,
    simulated_clients,
    training_job_request,
    tuning_job_request,
    validate_request,
)
from jupyter_hpo.sagemaker.options import simulation_defaults
from jupyter_hpo.spec import TuningSpec

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def spec_of(tmp_path, *, backend="sagemaker", warm=True, trials=2, **options) -> TuningSpec:
    (tmp_path / "src").mkdir(exist_ok=True)
    script = tmp_path / "src" / "train.py"
    script.write_text("print('auc=0.5')\n")
    return TuningSpec.from_dict({
        "name": "credit-spot",
        "trial": {"script": str(script)},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "objective": {"metric": "auc", "direction": "maximize"},
        "budget": {"max_trials": trials, "max_parallel": 1},
        "warm_pool": {"enabled": warm},
        "backend": {"name": backend, "options": {
            "role": ROLE, "image": IMAGE, "s3_prefix": "s3://credit-bucket/hpo", "region": "us-east-1",
            "poll_s": 5, **options}},
    })


def request_of(spec, key=3):
    opts = SageMakerOptions.from_spec(spec)
    body = training_job_request(spec, opts, job_name=f"credit-spot-{key:05d}-abc123", params={"eta": 0.1},
                                code_uri=opts.code_uri(spec.name), entry="train.py", trial=key,
                                keep_alive_s=SageMakerBackend(spec, spec_dir(spec)).keep_alive)
    validate_request("CreateTrainingJob", body)
    return body


def spec_dir(spec):
    from pathlib import Path

    return Path(spec.trial.script).parent


def test_spot_sends_managed_spot_training_a_max_wait_and_a_per_trial_checkpoint_folder(tmp_path):
    body = request_of(spec_of(tmp_path, spot=True, keep_alive_s=0, max_run_s=1800))
    assert body["EnableManagedSpotTraining"] is True
    assert body["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}
    assert body["CheckpointConfig"] == {"S3Uri": "s3://credit-bucket/hpo/credit-spot/checkpoints/trial-3"}
    assert "KeepAlivePeriodInSeconds" not in body["ResourceConfig"]


def test_max_wait_is_the_users_and_never_below_the_run_time(tmp_path):
    body = request_of(spec_of(tmp_path, spot=True, keep_alive_s=0, max_run_s=600, max_wait_s=900))
    assert body["StoppingCondition"]["MaxWaitTimeInSeconds"] == 900
    with pytest.raises(SpecError, match=r"`backend.options.max_wait_s` must be >= max_run_s \(600\).*got 300"):
        SageMakerOptions.from_spec(spec_of(tmp_path, spot=True, keep_alive_s=0, max_run_s=600, max_wait_s=300))


def test_on_demand_requests_carry_no_spot_fields(tmp_path):
    body = request_of(spec_of(tmp_path))
    assert not {"EnableManagedSpotTraining", "CheckpointConfig"} & set(body)
    assert "MaxWaitTimeInSeconds" not in body["StoppingCondition"]


def test_spot_with_a_keep_alive_is_refused_saying_why_and_what_to_choose(tmp_path):
    with pytest.raises(SpecError) as e:
        SageMakerBackend.prepare(spec_of(tmp_path, spot=True, keep_alive_s=300))
    text = str(e.value)
    assert "`backend.options.spot: true` cannot be combined with `backend.options.keep_alive_s: 300`" in text
    assert "warm pools cannot be used with spot instances" in text
    assert "`keep_alive_s: 0`" in text and "`spot: false`" in text


def test_spot_without_warm_pools_needs_no_keep_alive_change(tmp_path):
    spec = spec_of(tmp_path, warm=False, spot=True)  # keep_alive_s stays at its default; warm pools are off
    body = request_of(spec)
    assert body["EnableManagedSpotTraining"] is True
    assert "KeepAlivePeriodInSeconds" not in body["ResourceConfig"]
    assert SageMakerBackend.prepare(spec) is spec


def test_amt_takes_spot_without_touching_keep_alive(tmp_path):
    spec = spec_of(tmp_path, backend="amt", spot=True, max_run_s=1200)
    assert AmtBackend.prepare(spec) is spec  # the default keep_alive_s is never sent by amt
    opts = SageMakerOptions.from_spec(spec)
    request = tuning_job_request(spec, opts, tuning_job_name="credit-spot", code_uri=opts.code_uri(spec.name),
                                 entry="train.py")
    definition = request["TrainingJobDefinition"]
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 1200, "MaxWaitTimeInSeconds": 2400}
    # no checkpoint folder on amt, and the plan says so (the docs said every trial kept its checkpoints)
    assert "CheckpointConfig" not in definition
    notes = api.plan(spec.to_dict())["notes"]
    assert any("spot: true on amt" in n and "starts again from nothing" in n for n in notes), notes


class Tally:
    def __init__(self) -> None:
        self.outcomes, self.notes = [], []

    def on_report(self, key, step, value):
        return False

    def on_finish(self, outcome):
        self.outcomes.append(outcome)

    def on_note(self, text):
        self.notes.append(text)


def run_on_simulator(tmp_path, trials, simulate, **options):
    spec = spec_of(tmp_path, trials=trials, warm=False, spot=True, max_run_s=600, **options)
    spec = spec.replace(backend_options=simulation_defaults({**spec.backend_options, "simulate": simulate}))
    clients = simulated_clients({"training_s": 100.0, "s3_root": str(tmp_path / "s3"), **simulate}, virtual=True)
    backend = SageMakerBackend(spec, tmp_path, clients=clients)
    backend.start()
    tally, submitted = Tally(), 0
    try:
        while len(tally.outcomes) < trials:
            while backend.free_slots() > 0 and submitted < trials:
                backend.submit(TrialRequest(key=submitted, params={"eta": 0.05 + 0.1 * submitted}))
                submitted += 1
            backend.poll(tally, timeout=5)
        backend.close()
    finally:
        clients.sim.close()
    created = [p for op, p in clients.sim.calls if op == "CreateTrainingJob"]
    return backend, tally, created


def test_an_interrupted_spot_trial_is_retried_from_its_checkpoints_and_its_savings_recorded(tmp_path):
    backend, tally, created = run_on_simulator(tmp_path, 2, {"spot_interruptions": 1, "spot_savings": 0.6})
    assert [o.state for o in sorted(tally.outcomes, key=lambda o: o.key)] == ["complete", "complete"]
    assert len(created) == 3  # trial 0 twice (interrupted once), trial 1 once
    assert all(c["EnableManagedSpotTraining"] for c in created)
    assert created[0]["CheckpointConfig"] == created[1]["CheckpointConfig"] != created[2]["CheckpointConfig"]
    first = next(o for o in tally.outcomes if o.key == 0).attrs["sagemaker"]
    assert [a["secondary_status"] for a in first["attempts"]] == ["MaxWaitTimeExceeded", "Completed"]
    assert first["billable_s"] < first["training_s"]
    assert first["spot_savings_pct"] == pytest.approx(60.0, abs=2)
    assert any("lost its instances (MaxWaitTimeExceeded); retrying as" in n for n in tally.notes)
    summary = backend.summary()
    assert summary["spot"] is True and summary["spot_savings_pct"] == pytest.approx(60.0, abs=2)
    assert summary["training_jobs"] == len(created) == 3, "the interrupted attempt is a training job too"


def test_retries_are_bounded_and_an_exhausted_trial_fails_naming_the_cause(tmp_path):
    _, tally, created = run_on_simulator(tmp_path, 1, {"spot_interruptions": 5}, spot_retries=1)
    assert len(created) == 2
    (outcome,) = tally.outcomes
    assert outcome.state == "failed" and "MaxWaitTimeExceeded" in outcome.error
    assert len(outcome.attrs["sagemaker"]["attempts"]) == 2


def test_a_pool_that_is_not_kept_is_noted_on_the_job_with_what_to_do(tmp_path):
    """Warm pools, honestly (part 8): with warm-pool quota 0 every pool shows Terminated; the job says why."""
    spec = spec_of(tmp_path, trials=2, keep_alive_s=600, max_run_s=600)
    spec = spec.replace(backend_options=simulation_defaults({**spec.backend_options, "simulate": {}}))
    clients = simulated_clients({"warm_pool_quota": 0, "s3_root": str(tmp_path / "s3")}, virtual=True)
    backend = SageMakerBackend(spec, tmp_path, clients=clients)
    backend.start()
    tally, submitted = Tally(), 0
    try:
        while len(tally.outcomes) < 2:
            while backend.free_slots() > 0 and submitted < 2:
                backend.submit(TrialRequest(key=submitted, params={"eta": 0.1}))
                submitted += 1
            backend.poll(tally, timeout=5)
        backend.close()
    finally:
        clients.sim.close()
    assert [o.attrs["warm"] for o in tally.outcomes] == [False, False]
    notes = [n for n in tally.notes if "WarmPoolStatus was Terminated" in n]
    assert len(notes) == 1 and "ml.m5.xlarge for training warm pool usage" in notes[0]
    assert "jupyter hpo doctor" in notes[0]
