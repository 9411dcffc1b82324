"""The sagemaker backend's warm pools at a job's end, on the simulated SageMaker with a virtual clock: every pool the
job kept is released (SageMaker puts a trial on any matching pool, so the slots' record can miss one), and only the
job's own training jobs are counted (another job's name may contain this one's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo.backends import TrialRequest
from jupyter_hpo.sagemaker import SageMakerBackend, simulated_clients
from jupyter_hpo.sagemaker.options import simulation_defaults
from jupyter_hpo.spec import TuningSpec
from tests.conftest import wait_for


class Events:
    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    def on_report(self, key: int, step: int, value: float) -> bool:
        return False

    def on_finish(self, outcome: Any) -> None:
        self.outcomes.append(outcome)

    def on_note(self, text: str) -> None:
        pass


def spec_of(tmp_path: Path, name: str, trials: int, parallel: int) -> TuningSpec:
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text("print('auc=0.5')\n")
    return TuningSpec.from_dict({
        "name": name, "trial": {"script": str(code / "train.py")},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "objective": {"metric": "auc", "direction": "maximize"},
        "budget": {"max_trials": trials, "max_parallel": parallel},
        "backend": {"name": "sagemaker", "options": simulation_defaults({"region": "us-east-1", "poll_s": 15,
                                                                         "simulate": {}})}})


def run_job(spec: TuningSpec, clients: Any, tmp_path: Path) -> SageMakerBackend:
    trials = spec.budget.max_trials
    backend = SageMakerBackend(spec, tmp_path, clients=clients)
    backend.start()
    events, submitted = Events(), 0
    while len(events.outcomes) < trials:
        while backend.free_slots() > 0 and submitted < trials:
            backend.submit(TrialRequest(key=submitted, params={"eta": 0.05 + 0.01 * submitted}))
            submitted += 1
        backend.poll(events, timeout=5)
    backend.close(release=True)
    return backend


@pytest.mark.parametrize("seed", range(6))
def test_no_pool_of_the_job_is_left_available_after_it_ends(tmp_path, seed):
    """Training times that end within one poll of each other, in any order: SageMaker's choice of pool and the
    scheduler's differ, and a pool left out of the slots' record stayed Available, billing, unreported."""
    clients = simulated_clients({"s3_root": str(tmp_path / "s3"), "seed": seed,
                                 "training_s": lambda rng, _params: 60 + rng.uniform(0, 12)}, virtual=True)
    try:
        backend = run_job(spec_of(tmp_path, "leak", trials=7, parallel=3), clients, tmp_path)
        left = [p["job"] for p in clients.sim.warm_pools() if p["status"] == "Available"]
        assert left == [], f"released {backend.released}, not released {backend.unreleased}"
        assert backend.summary()["pools_not_released"] == []
    finally:
        clients.sim.close()


def test_a_job_counts_only_its_own_training_jobs_warm_pools(tmp_path):
    """Job ``xgb`` after job ``credit-xgb`` in one account: listing training jobs by name finds both, and the idle
    time of credit-xgb's pools was billed to xgb."""
    clients = simulated_clients({"s3_root": str(tmp_path / "s3"), "training_s": 60}, virtual=True)
    try:
        first = run_job(spec_of(tmp_path, "credit-xgb", trials=4, parallel=1), clients, tmp_path)
        clients.clock.sleep(100)
        second = run_job(spec_of(tmp_path, "xgb", trials=2, parallel=1), clients, tmp_path)
        assert first.retained and all(job.startswith("credit-xgb-") for job in first.retained)
        assert second.retained and all(job.startswith("xgb-") for job in second.retained), second.retained
        assert second.summary()["retained_billable_s"] == sum(second.retained.values())
    finally:
        clients.sim.close()


def test_training_jobs_stopped_with_the_job_count_in_its_cost(tmp_path):
    """``job.stop()`` stops the running training jobs, which SageMaker bills up to their stop: the job's summary
    left them out (0 training jobs, 0 billable seconds for a job stopped mid-training)."""
    clients = simulated_clients({"training_s": 3000, "s3_root": str(tmp_path / "s3")}, virtual=True)
    try:
        backend = SageMakerBackend(spec_of(tmp_path, "stopped", trials=2, parallel=2), tmp_path, clients=clients)
        backend.start()
        events = Events()
        for key in range(2):
            backend.submit(TrialRequest(key=key, params={"eta": 0.1}))
        start = clients.clock.now()
        while clients.clock.now() - start < 1500:  # both are training
            backend.poll(events, timeout=5)
        backend.cancel_all(events, "interrupted: the job was stopped")
        backend.close(release=True)
        jobs = [o.attrs["sagemaker"]["training_job"] for o in events.outcomes]
        billed = [clients.sagemaker.describe_training_job(TrainingJobName=j)["BillableTimeInSeconds"] for j in jobs]
        assert all(b > 0 for b in billed)
        summary = backend.summary()
        assert (summary["training_jobs"], summary["billable_s"]) == (2, sum(billed))
    finally:
        clients.sim.close()


def test_a_resumed_jobs_summary_adds_what_its_earlier_runners_spent(home, tmp_path):
    """Stopped, then resumed: the second runner's backend summary replaced the first's, so the job's cost counted
    only the trials since the resume."""
    from jupyter_hpo import api

    (tmp_path / "train.py").write_text("import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', "
                                       "type=float)\na = p.parse_args()\nprint(f'auc={-(a.x - 0.3) ** 2}')\n")
    spec = {"name": "resumed", "trial": {"script": str(tmp_path / "train.py")}, "seed": 1,
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "objective": {"metric": "auc", "direction": "maximize"}, "budget": {"max_trials": 4, "max_parallel": 2},
            "backend": {"name": "sagemaker", "options": {"simulate": {"speed": 200, "training_s": 1200}}}}
    job = api.launch(spec)
    assert job.wait(timeout=120).value == "completed"
    first = dict(job.attrs["backend_summary"])
    assert first["training_jobs"] == 4
    job.resume(max_trials=7)
    # while it runs, the cost counts the trials since the resume (it was stuck at the first runner's total)
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) >= 6, timeout=120)
    so_far = round(sum(r["cost_usd"] or 0 for r in job.trial_records()), 6)
    assert job.status.value == "running", "the seventh trial runs alone, for seconds"
    assert job.summary()["cost_usd"] >= so_far > first["cost_usd"]
    assert job.wait(timeout=120).value == "completed"
    second = job.attrs["backend_summary"]
    assert second["training_jobs"] == 7
    assert second["billable_s"] > first["billable_s"] and second["cost_usd"] > first["cost_usd"]
    costs = [r["cost_usd"] for r in job.trial_records()]
    assert None not in costs and job.summary()["cost_usd"] >= round(sum(costs), 6)


def test_the_idle_time_of_a_warm_pool_that_expired_unused_counts_in_the_cost(tmp_path):
    """A trial's pool kept for 300 s while the other trial trains for 3,000 s expires unused; its slot then forgot
    it, and its idle time (billed by SageMaker) was never read: `retained_billable_s` and `cost_usd` said 0."""
    clients = simulated_clients({"s3_root": str(tmp_path / "s3"), "cold_startup_s": 60, "warm_startup_s": 5,
                                 "training_s": lambda _rng, hp: 100.0 if float(hp["eta"]) < 0.1 else 3000.0},
                                virtual=True)
    spec = spec_of(tmp_path, "expires", trials=3, parallel=2)
    options = simulation_defaults({"region": "us-east-1", "poll_s": 5, "simulate": {}, "keep_alive_s": 300})
    spec = TuningSpec.from_dict({**spec.to_dict(), "backend": {"name": "sagemaker", "options": options}})
    try:
        backend = SageMakerBackend(spec, tmp_path, clients=clients)
        backend.start()
        events, etas, submitted = Events(), [0.05, 0.2, 0.06], 0
        while len(events.outcomes) < 3:
            while backend.free_slots() > 0 and submitted < 3:
                backend.submit(TrialRequest(key=submitted, params={"eta": etas[submitted]}))
                submitted += 1
            backend.poll(events, timeout=5)
        backend.close(release=True)
        idle = {}
        for outcome in events.outcomes:
            job = outcome.attrs["sagemaker"]["training_job"]
            warm = clients.sagemaker.describe_training_job(TrainingJobName=job).get("WarmPoolStatus") or {}
            idle[job] = warm.get("ResourceRetainedBillableTimeInSeconds") or 0
        expired = [job for job, seconds in idle.items() if seconds >= 250]
        assert expired, f"the test needs a pool that expired unused: {idle}"
        summary = backend.summary()
        assert summary["retained_billable_s"] == sum(idle.values()) and summary["warm_pool_cost_usd"] > 0
    finally:
        clients.sim.close()
