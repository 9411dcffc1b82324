"""AMT's Hyperband strategy on the simulated SageMaker: poor trials stop at a rung, the best runs to MaxResource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from jupyter_hpo.sagemaker import Clients, SageMakerOptions, validate_request
from jupyter_hpo.sagemaker.sim.hyperband import Bracket, Hyperband, brackets
from jupyter_hpo.sagemaker.tuning import tuning_job_request
from jupyter_hpo.spec import TuningSpec

SPACE = {
    "eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "log"},
    "max_depth": {"type": "int", "low": 2, "high": 8},
}
MAX_RESOURCE = 9
TRAIN = f"""\
import time
from jupyter_hpo import trial

p = trial.params()
score = 1.0 - abs(p["eta"] - 0.1) - 0.01 * p["max_depth"]
for epoch in range({MAX_RESOURCE}):
    time.sleep(0.1)  # 20 simulated seconds at speed 200
    trial.report(score * (1 - 0.5 ** (epoch + 1)), step=epoch)  # a poorer trial is poorer at every step
print(f"auc={{score:.6f}}")
"""


def score(params: dict[str, Any]) -> float:
    return 1.0 - abs(params["eta"] - 0.1) - 0.01 * params["max_depth"]


def spec_data(script: Path, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "trial": {"script": str(script)},
        "space": SPACE,
        "objective": {"metric": "auc", "direction": "maximize"},
        "seed": 3,
        "budget": {"max_trials": 12, "max_parallel": 2},
        "backend": {"name": "amt", "options": {"poll_s": 5, "simulate": {
            "speed": 200, "cold_startup_s": 20, "executor": "script"}}},
        **fields,
    }


@pytest.fixture
def run_on_sim(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Launch a job on the simulated AMT and run its runner here, keeping the simulation to ask it afterwards."""
    from jupyter_hpo import api
    from jupyter_hpo.runner._runner import Runner
    from jupyter_hpo.sagemaker import clients as sagemaker_clients

    made: list[Clients] = []
    make = sagemaker_clients.make_clients
    monkeypatch.setattr(sagemaker_clients, "make_clients", lambda opts: made.append(make(opts)) or made[-1])
    monkeypatch.setattr("jupyter_hpo.runner.spawn_runner", lambda *a, **k: None)
    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text(TRAIN)

    def run(name: str, **fields: Any) -> tuple[Any, Any]:
        job = api.launch(spec_data(script, name, **fields))
        assert Runner(job.store, job.name).run() == 0
        assert job.status.value == "completed", job.attrs.get("reason")
        (sm,) = [c.sagemaker for c in made if c.sim is not None]
        made.clear()
        return job, sm

    return run


def test_hyperband_stops_poor_trials_at_a_rung_and_runs_the_best_to_max_resource(run_on_sim, capsys) -> None:
    from jupyter_hpo import cli

    job, sm = run_on_sim("amt-hb", strategy="hyperband", hyperband={"min_resource": 1, "max_resource": MAX_RESOURCE})
    records = job.trial_records()
    pruned = [r for r in records if r["state"] == "pruned"]
    complete = [r for r in records if r["state"] == "complete"]
    assert len(records) == 12 and len(pruned) + len(complete) == 12
    assert pruned, "Hyperband stopped no trial"
    best = max(complete, key=lambda r: r["value"])
    assert best["value"] == pytest.approx(max(score(r["params"]) for r in records), abs=1e-6)
    assert len(best["intermediate"]) == MAX_RESOURCE  # the best trial ran every step
    for r in pruned:  # stopped at a rung below MaxResource, after at least MinResource steps; a poorer trial
        assert 1 <= len(r["intermediate"]) < MAX_RESOURCE
        assert score(r["params"]) < best["value"]

    # what the user sees: jupyter hpo show, and job.trials()
    assert cli.main(["show", "amt-hb", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["trials"]
    assert sorted((t["state"], len(t["intermediate"])) for t in shown) == \
        sorted((r["state"], len(r["intermediate"])) for r in records)
    assert job.trials()["state"].value_counts().to_dict() == {"pruned": len(pruned), "complete": len(complete)}

    # the simulated AMT ended them as it ends an Auto-stopped trial
    tuning = job.attrs["backend_summary"]["tuning_job"]
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
    assert desc["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Off"
    assert desc["TrainingJobStatusCounters"]["Stopped"] == len(pruned)
    assert desc["TrainingJobStatusCounters"]["Completed"] == len(complete)
    stopped = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning, StatusEquals="Stopped", MaxResults=100)["TrainingJobSummaries"]
    assert sorted(s["TrainingJobName"] for s in stopped) == sorted(r["worker"] for r in pruned)
    assert {sm.describe_training_job(TrainingJobName=s["TrainingJobName"])["SecondaryStatus"]
            for s in stopped} == {"Stopped"}


def test_bayesian_without_early_stopping_stops_nothing(run_on_sim) -> None:
    job, sm = run_on_sim("amt-bayes", strategy="bayesian", early_stopping="off")
    records = job.trial_records()
    assert len(records) == 12 and {r["state"] for r in records} == {"complete"}
    assert all(len(r["intermediate"]) == MAX_RESOURCE for r in records)
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job.attrs["backend_summary"]["tuning_job"])
    assert desc["TrainingJobStatusCounters"]["Stopped"] == 0


def test_brackets_and_rungs_follow_hyperband_with_a_reduction_factor_of_3() -> None:
    # MinResource 1, MaxResource 9: 9 trials judged at 1 and 3 steps, then 5 at 3, then 3 never
    assert brackets(1, 9) == [Bracket(9, (1, 3)), Bracket(5, (3,)), Bracket(3, ())]
    assert brackets(2, 20) == [Bracket(9, (2, 7)), Bracket(5, (7,)), Bracket(3, ())]
    assert brackets(1, 81)[0] == Bracket(81, (1, 3, 9, 27))
    assert brackets(5, 5) == brackets(5, 14) == [Bracket(1, ())]  # nothing to halve: no trial is stopped
    with pytest.raises(ValueError, match="MinResource <= MaxResource"):
        brackets(10, 9)


def test_a_trial_goes_on_from_a_rung_only_among_the_best_third_of_its_bracket_there() -> None:
    hb = Hyperband(1, 9, maximize=True)  # bracket 0 (the first 9 trials) judges at 1 and 3 steps

    def values(*vs: float) -> list[tuple[int, float]]:
        return [(1000 * (i + 1), v) for i, v in enumerate(vs)]

    # judged in the order they reached the rung: a (alone: goes on), then b (worse than a: 1 of 2 goes on)
    jobs = [("a", values(0.5)), ("b", values(0.4))]
    assert hb.check(jobs, running={"a", "b"}) == ["b"]
    # c is better than both; d, a finished trial, is not stopped but its value counts for e after it
    jobs += [("c", values(0.9)), ("d", values(0.8)), ("e", values(0.7))]
    assert hb.check(jobs, running={"a", "c", "e"}) == ["e"]
    # six values at rung 1 now: the best two go on, so f (fourth best) stops; rung 3 judges a, alone there
    jobs += [("f", values(0.6))]
    jobs[0] = ("a", values(0.5, 0.6, 0.7))
    assert hb.check(jobs, running={"a", "c", "f"}) == ["f"]
    assert hb.judged["a"] == 2 and hb.seen[(0, 3)] == [0.7]
    # a minimised objective: the lower value is the better one
    low = Hyperband(1, 9, maximize=False)
    assert low.check([("a", values(0.5)), ("b", values(0.4))], running={"a", "b"}) == []


def make_spec(tmp_path: Path, **fields: Any) -> TuningSpec:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    return TuningSpec.from_dict({**spec_data(script, "hb-request"), "backend": {"name": "amt", "options": {
        "role": "arn:aws:iam::123456789012:role/SageMakerRole", "region": "us-east-1", "s3_prefix": "s3://bucket/hpo",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:latest"}}, **fields})


def test_the_hyperband_request_validates_and_the_simulated_amt_checks_it(tmp_path: Path) -> None:
    from jupyter_hpo.sagemaker.sim import SimulatedSageMaker

    spec = make_spec(tmp_path, strategy="hyperband", hyperband={"min_resource": 1, "max_resource": 9})
    opts = SageMakerOptions.from_spec(spec)
    request = tuning_job_request(spec, opts, tuning_job_name="hb", code_uri=opts.code_uri(spec.name), entry="train.py")
    validate_request("CreateHyperParameterTuningJob", request)  # botocore's model and limits.py
    config = request["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    assert request["TrainingJobDefinition"]["Environment"] == {"JUPYTER_HPO_STEP_OBJECTIVE": "auc"}

    def create(name: str, strategy: str, hyperband: dict[str, int] | None, static: dict[str, str]) -> None:
        req = json.loads(json.dumps(request))
        req["HyperParameterTuningJobName"] = name
        req["HyperParameterTuningJobConfig"]["Strategy"] = strategy
        req["HyperParameterTuningJobConfig"].pop("StrategyConfig")
        if hyperband is not None:
            req["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": hyperband}
        req["TrainingJobDefinition"]["StaticHyperParameters"].update(static)
        sm.create_hyper_parameter_tuning_job(**req)

    with SimulatedSageMaker(cold_startup_s=20, training_s=40, executor="model") as sim:
        sm = sim.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(**request)
        create("hb-epochs", "Hyperband", {"MinResource": 1}, {"epochs": "30"})  # MaxResource from epochs
        for name, strategy, hyperband, static, match in [
            ("hb-none", "Hyperband", {"MinResource": 1}, {}, "MaxResource is required"),
            ("hb-big", "Hyperband", {"MinResource": 1, "MaxResource": 20_001}, {}, "MaxResource <= 20000"),
            ("hb-min", "Hyperband", {"MinResource": 10, "MaxResource": 9}, {}, "MinResource <= MaxResource"),
            ("bayes-hb", "Bayesian", {"MinResource": 1, "MaxResource": 9}, {}, "only for the Hyperband strategy"),
        ]:
            with pytest.raises(botocore.exceptions.ClientError, match=match):
                create(name, strategy, hyperband, static)
        assert {s["HyperParameterTuningJobName"] for s in sm.list_hyper_parameter_tuning_jobs()[
            "HyperParameterTuningJobSummaries"]} == {"hb", "hb-epochs"}
