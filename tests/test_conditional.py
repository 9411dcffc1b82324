"""Conditional parameters (``when:``): validation, the dict/YAML form, and whole jobs through a real runner and pool."""

from __future__ import annotations

import json
import math
import textwrap

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SearchSpaceError, SpecError
from jupyter_hpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace
from jupyter_hpo.store import JobStatus

SPACE_YAML = """
booster: [gbtree, dart, gblinear]
max_depth: {type: int, low: 2, high: 8, when: {booster: [gbtree, dart]}}
rate_drop: {type: float, low: 0.0, high: 0.5, when: {booster: dart}}
"""


def xgb_like(p):
    """Fails the trial if a parameter arrives whose condition does not hold, or one is missing whose does."""
    from jupyter_hpo import trial

    booster = p["booster"]
    if trial.params() != p:
        raise AssertionError(f"trial.params() {trial.params()} differs from params {p}")
    if ("rate_drop" in p) != (booster == "dart") or ("max_depth" in p) != (booster in ("gbtree", "dart")):
        raise AssertionError(f"condition broken: {sorted(p)} for booster {booster}")
    return {"gbtree": 0.5, "dart": 0.6 - p.get("rate_drop", 0.0), "gblinear": 0.2}[booster] + p.get("max_depth", 0) / 100


def check_records(job: api.Job) -> None:
    records = job.trial_records()
    assert len(records) == 16 and {r["state"] for r in records} == {"complete"}, [r["error"] for r in records]
    boosters = {r["params"]["booster"] for r in records}
    assert boosters == {"gbtree", "dart", "gblinear"}
    for r in records:
        booster = r["params"]["booster"]
        assert ("rate_drop" in r["params"]) == (booster == "dart"), r["params"]
        assert ("max_depth" in r["params"]) == (booster != "gblinear"), r["params"]
    df = job.trials()
    for _, row in df.iterrows():  # inactive: NaN in the table
        assert math.isnan(row["param_rate_drop"]) == (row["param_booster"] != "dart")
        assert math.isnan(row["param_max_depth"]) == (row["param_booster"] == "gblinear")


# -- the space -------------------------------------------------------------------------------------
def test_when_round_trips_through_dict_and_yaml():
    space = SearchSpace.from_yaml(SPACE_YAML)
    assert space.conditional
    assert space["rate_drop"].to_dict() == {"type": "float", "low": 0.0, "high": 0.5, "when": {"booster": "dart"}}
    assert space["max_depth"].to_dict()["when"] == {"booster": ["gbtree", "dart"]}
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert SearchSpace.from_yaml(space.to_yaml()) == space
    assert not SearchSpace.from_dict({"x": {"type": "float", "low": 0, "high": 1}}).conditional


def test_when_in_python_and_several_keys_must_all_hold():
    space = SearchSpace([CategoricalParam("a", ["x", "y"]), CategoricalParam("b", [1, 2]),
                         IntParam("k", 1, 3, when={"a": "x", "b": [2]}),
                         FloatParam("r", 0.1, 0.9, scaling="reverse_log", when={"a": ["y"]})])
    assert space.is_active("k", {"a": "x", "b": 2})
    assert not space.is_active("k", {"a": "x", "b": 1})
    assert not space.is_active("k", {"a": "y", "b": 2})
    assert space.from_optuna({"a": "y", "b": 1, "1-r": 0.5}) == {"a": "y", "b": 1, "r": 0.5}
    assert space.to_optuna_params({"a": "x", "b": 2, "k": 3}) == {"a": "x", "b": 2, "k": 3}


def test_a_conditional_parent_makes_its_children_inactive_whenever_it_is():
    import optuna

    space = SearchSpace.from_dict({
        "leaf": {"type": "float", "low": 0, "high": 1, "when": {"mode": "b"}},  # listed before its parents
        "mode": {"type": "categorical", "choices": ["a", "b"], "when": {"booster": "dart"}},
        "booster": ["gbtree", "dart"]})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        t = study.ask()
        values = space.suggest(t)
        study.tell(t, 0.0)
        assert space.from_optuna(t.params) == values
        seen.add(tuple(sorted(values)))
    assert seen == {("booster",), ("booster", "mode"), ("booster", "leaf", "mode")}


@pytest.mark.parametrize("body, message", [
    ({"b": {"type": "float", "low": 0, "high": 1, "when": {"nope": "x"}}},
     "`when` of 'b' names 'nope', which is not a parameter of the space"),
    ({"n": {"type": "int", "low": 1, "high": 3}, "b": {"type": "float", "low": 0, "high": 1, "when": {"n": 2}}},
     "`when` of 'b' names 'n', a int parameter; a condition's parent must be categorical"),
    ({"a": ["x", "y"], "b": {"type": "float", "low": 0, "high": 1, "when": {"a": "z"}}},
     "`when` of 'b' gives 'a' the value 'z', which is not one of its choices ['x', 'y']"),
    ({"a": {"type": "categorical", "choices": ["x", "y"], "when": {"b": "u"}},
      "b": {"type": "categorical", "choices": ["u", "v"], "when": {"a": "x"}}},
     "depends on itself through its parents"),
    ({"a": {"type": "categorical", "choices": ["x", "y"], "when": {"a": "x"}}},
     "`when` of 'a' must name other parameters, but it names 'a' itself"),
    ({"a": ["x"], "b": {"type": "float", "low": 0, "high": 1, "when": "a"}},
     "`when` of 'b' must be a non-empty mapping"),
    ({"a": ["x"], "b": {"type": "float", "low": 0, "high": 1, "when": {"a": []}}},
     "`when` of 'b' must give 'a' a choice or a non-empty list of choices"),
    ({"a": [1, 2], "b": {"type": "float", "low": 0, "high": 1, "when": {"a": "1"}}},
     "gives 'a' the value '1', which is not one of its choices [1, 2]"),
])
def test_bad_conditions_are_refused_in_one_line_naming_the_parameter(body, message):
    with pytest.raises(SearchSpaceError) as e:
        SearchSpace.from_dict(body)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_grid_search_over_a_conditional_space_is_refused(home):
    space = {"a": ["x", "y"], "k": {"type": "int", "low": 1, "high": 3, "when": {"a": "x"}}}
    with pytest.raises(SpecError, match="grid search .* cannot take conditional parameters .*'k'"):
        api.launch(objective=xgb_like, space=space, strategy="grid", name="grid-when")
    assert api.list_jobs() == []


def test_amt_refuses_a_conditional_space_and_creates_nothing(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('objective=1')\n")
    spec = {"name": "amt-when", "trial": {"script": str(script)}, "space": SearchSpace.from_yaml(SPACE_YAML).to_dict(),
            "backend": {"name": "amt", "options": {"simulate": {}}}}
    with pytest.raises(SpecError, match=r"SageMaker AMT has no conditional parameters.*'max_depth', 'rate_drop'"):
        api.launch(spec)
    assert api.list_jobs() == []


# -- whole jobs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["bayesian", "random", "hyperband"])
def test_a_yaml_conditional_space_runs_with_a_function_and_honours_each_condition(home, strategy):
    job = api.launch(objective=xgb_like, space=SearchSpace.from_yaml(SPACE_YAML), strategy=strategy, seed=3,
                     max_trials=16, max_parallel=2, name=f"cond-{strategy}")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    check_records(job)
    best = max(job.trial_records(), key=lambda r: r["value"])
    assert job.best["number"] == best["number"] and job.best["params"] == best["params"]


def test_a_script_gets_no_flag_for_an_inactive_parameter(home, tmp_path):
    log = tmp_path / "argv.jsonl"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import argparse, json, sys
        with open({str(log)!r}, "a") as f:
            f.write(json.dumps(sys.argv[1:]) + "\\n")
        ap = argparse.ArgumentParser()
        ap.add_argument("--booster", required=True)
        ap.add_argument("--max_depth", type=int)
        ap.add_argument("--rate_drop", type=float)
        a = ap.parse_args()
        print(f"objective={{0.5 + (a.rate_drop or 0) + (a.max_depth or 0) / 100}}")
    """))
    spec = tmp_path / "hpo.yaml"
    spec.write_text("name: cond-script\ntrial: {script: train.py}\nseed: 1\n"
                    "budget: {max_trials: 16, max_parallel: 2}\nspace:\n" + textwrap.indent(SPACE_YAML, "  "))
    job = api.launch(str(spec))
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    check_records(job)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 16
    for argv in calls:
        booster = argv[argv.index("--booster") + 1]
        assert ("--rate_drop" in argv) == (booster == "dart"), argv
        assert ("--max_depth" in argv) == (booster != "gblinear"), argv


# -- the builder widget ----------------------------------------------------------------------------
def test_the_builder_edits_a_condition_and_shows_the_core_message_on_its_row(home):
    from jupyter_hpo.widgets import SearchSpaceBuilder

    space = SearchSpace.from_yaml(SPACE_YAML)
    builder = SearchSpaceBuilder(space=space, objective="train.py")  # Launch enabled while the space is valid
    assert builder.space == space  # nothing dropped on the way through the rows
    assert SearchSpace.from_yaml(builder.yaml_text) == space
    row = next(r for r in builder.rows if r.name_text.value == "rate_drop")
    assert row.when_text.value == "booster: dart"
    row.when_text.value = "booster: dart, gblinear"
    assert builder.space["rate_drop"].to_dict()["when"] == {"booster": ["dart", "gblinear"]}
    row.when_text.value = "booster: linear"
    assert "`when` of 'rate_drop' gives 'booster' the value 'linear'" in row.message.value
    assert builder.launch_button.disabled
    with pytest.raises(SearchSpaceError, match="'linear', which is not one of its choices"):
        builder.space
    row.when_text.value = ""
    assert not builder.space["rate_drop"].when and not builder.launch_button.disabled


def test_the_builder_shows_and_takes_a_condition_on_a_choice_that_holds_a_semicolon(home):
    """`;` separates a condition's parents, so a choice holding one is shown quoted and read back whole; it was
    shown bare, and no way of typing it (quoted or not) was read as the core's space."""
    from jupyter_hpo.widgets import SearchSpaceBuilder

    space = SearchSpace.from_dict({"opt": ["sgd;nesterov", "adam", "it's"],
                                   "mom": {"type": "float", "low": 0.5, "high": 0.99, "when": {"opt": "sgd;nesterov"}},
                                   "eps": {"type": "float", "low": 0.1, "high": 1, "when": {"opt": ["it's", "adam"]}}})
    builder = SearchSpaceBuilder(space=space)
    assert builder.space == space
    rows = {r.name_text.value: r for r in builder.rows}
    assert rows["mom"].when_text.value == 'opt: "sgd;nesterov"' and rows["mom"].message.value == ""
    rows["mom"].high_text.value = "0.9"
    assert builder.space["mom"].high == 0.9  # an edit after it still reaches the space
    rows["mom"].when_text.value = "opt: 'sgd;nesterov', adam"
    assert builder.space["mom"].to_dict()["when"] == {"opt": ["sgd;nesterov", "adam"]}


def test_the_sagemaker_backend_runs_a_conditional_space_with_its_training_jobs(home, tmp_path):
    """The sagemaker backend samples with the runner, so `when` holds there too (on the simulated SageMaker)."""
    script = tmp_path / "src" / "train.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent("""
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("--booster", required=True)
        ap.add_argument("--max_depth", type=int)
        ap.add_argument("--rate_drop", type=float)
        a = ap.parse_args()
        assert (a.rate_drop is not None) == (a.booster == "dart") and (a.max_depth is not None) == (a.booster != "gblinear")
        print(f"auc={0.5 + (a.rate_drop or 0) + (a.max_depth or 0) / 100}")
    """))
    (tmp_path / "s3").mkdir()
    job = api.launch({
        "name": "cond-sm", "trial": {"script": str(script)}, "space": SearchSpace.from_yaml(SPACE_YAML).to_dict(),
        "objective": {"metric": "auc"}, "seed": 2, "budget": {"max_trials": 16, "max_parallel": 4},
        "backend": {"name": "sagemaker", "options": {
            "role": "arn:aws:iam::123456789012:role/SageMakerRole", "poll_s": 5,
            "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "simulate": {"executor": "script", "speed": 200, "s3_root": str(tmp_path / "s3")}}}})
    assert job.wait(timeout=300) == JobStatus.COMPLETED, job.attrs.get("reason")
    check_records(job)


def slow_xgb_like(p):
    import time

    time.sleep(0.3)
    return xgb_like(p)


def test_a_stopped_conditional_job_resumes_and_reruns_interrupted_trials_with_their_parameters(home):
    from tests.conftest import wait_for

    job = api.launch(objective=slow_xgb_like, space=SearchSpace.from_yaml(SPACE_YAML), seed=5, max_trials=16,
                     max_parallel=2, name="cond-resume")
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) >= 4, timeout=120)
    assert job.stop(timeout=60) == JobStatus.STOPPED
    interrupted = {r["number"]: r["params"] for r in job.trial_records() if r["interrupted"]}
    assert interrupted  # two trials in flight when the job stopped
    job.resume()
    assert job.wait(timeout=180) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    done = [r for r in records if not r["interrupted"]]
    assert len(done) == 16 and {r["state"] for r in done} == {"complete"}, [r["error"] for r in done]
    raw = {t.number: t for t in job.raw_trials()}
    for r in records:
        booster = r["params"]["booster"]
        assert ("rate_drop" in r["params"]) == (booster == "dart"), r["params"]
        assert ("max_depth" in r["params"]) == (booster != "gblinear"), r["params"]
    reruns = {raw[r["number"]].user_attrs.get("rerun_of"): r["params"] for r in done
              if raw[r["number"]].user_attrs.get("rerun_of") is not None}
    assert reruns == interrupted  # each interrupted trial ran again, once, with exactly its parameters


def test_the_sagemaker_plan_shows_only_the_active_parameters_of_its_first_point(tmp_path, monkeypatch):
    import yaml

    from tests.test_sagemaker_plan import GOLDEN

    for var in ("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", "SAGEMAKER_USER_CONFIG_OVERRIDE"):
        monkeypatch.setenv(var, str(tmp_path / "none.yaml"))
    data = yaml.safe_load((GOLDEN / "plain.yaml").read_text())
    data["space"] = {"booster": ["gbtree", "dart"], "eta": data["space"]["eta"],
                     "rate_drop": {"type": "float", "low": 0.1, "high": 0.5, "when": {"booster": "dart"}}}
    data["trial"]["script"] = str(GOLDEN / "src" / "train.py")
    request = api.plan(data)["requests"][1]["params"]
    tuned = {k: v for k, v in request["HyperParameters"].items() if k in data["space"]}
    assert tuned == {"booster": "gbtree", "eta": "0.01"}  # no rate_drop: gbtree is not dart
