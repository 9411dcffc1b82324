"""Several objectives: the spec, its refusals (one line each, nothing written), and the trial columns."""

from __future__ import annotations

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.spec import TuningSpec

SPACE = {"x": {"type": "float", "low": 0, "high": 1}}
TWO = [{"metric": "auc", "direction": "maximize"}, {"metric": "train_s", "direction": "minimize"}]


def tradeoff(p):
    """The higher x, the better the AUC and the longer the training: every x is a trade-off."""
    return {"auc": p["x"], "train_s": p["x"] ** 2, "size_mb": 10 * p["x"]}


def _data(**more):
    return {"name": "mo", "trial": {"function": tradeoff}, "space": SPACE, "objective": TWO, **more}


def test_several_objectives_in_yaml_round_trip_and_the_first_is_the_objective(tmp_path):
    (tmp_path / "objective.py").write_text("def f(p):\n    return {'auc': p['x'], 'train_s': p['x']}\n")
    spec = TuningSpec.from_yaml("trial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                                "objective: [{metric: auc, direction: maximize}, {metric: train_s, direction: "
                                "minimize}]\n", base_dir=tmp_path)
    assert spec.multi_objective
    assert [(o.metric, o.direction) for o in spec.all_objectives] == [("auc", "maximize"), ("train_s", "minimize")]
    assert (spec.objective.metric, spec.objective.direction) == ("auc", "maximize")
    stored = spec.to_dict()
    assert stored["objectives"] == TWO and stored["objective"]["metric"] == "auc"
    again = TuningSpec.from_dict({**stored, "trial": {"function": tradeoff}})
    assert again.objectives == spec.objectives
    single = TuningSpec.from_dict({**_data(), "objective": {"metric": "auc"}})
    assert not single.multi_objective and [o.metric for o in single.all_objectives] == ["auc"]
    assert "objectives" not in single.to_dict()


def test_launch_takes_objectives_and_a_constraint_with_them(home):
    spec = TuningSpec.from_dict(_data(constraints={"size_mb": {"max": 5}}))
    assert spec.multi_objective and [c.metric for c in spec.constraints] == ["size_mb"]
    job = api.launch(objective=tradeoff, space=SPACE, objectives=TWO, max_trials=1, name="kw")
    job.wait(timeout=120)
    assert job.spec["objectives"] == TWO


@pytest.mark.parametrize("objective, message", [
    ([{"metric": "auc", "goal": "max"}, {"metric": "train_s"}],
     "unknown field(s) `objective[0].goal`; allowed in each of several objectives: direction, metric."),
    ([{"metric": "auc"}, {"metric": "auc", "direction": "minimize"}],
     "`objective` lists metric 'auc' twice; each objective must be a different metric"),
    ([{"metric": "auc"}, {"metric": "train_s", "direction": "down"}],
     "`objective[1].direction` must be one of maximize, minimize, but got 'down'."),
    ([{"metric": "auc", "direction": "maximize"}],
     "`objective` lists one objective; use the single form `objective: {metric: auc, direction: maximize}`"),
    ([], "`objective` must list at least two objectives"),
    (["auc", "train_s"], "`objective[0]` must be a mapping of metric and direction, but got 'auc'."),
    ([{"direction": "maximize"}, {"metric": "train_s"}], "`objective[0].metric` is required"),
    ([{"metric": "a b"}, {"metric": "train_s"}], "`objective[0].metric` must be a name of letters"),
])
def test_bad_objective_lists_are_refused_in_one_line_and_nothing_is_written(home, objective, message):
    with pytest.raises(SpecError) as e:
        api.launch(_data(objective=objective))
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    with pytest.raises(SpecError) as e:
        api.launch(objective=tradeoff, space=SPACE, objectives=objective, name="kw")
    assert message in str(e.value)
    assert api.list_jobs() == []


@pytest.mark.parametrize("more, message", [
    ({"early_stopping": "kfold"}, "`early_stopping: kfold` prunes trials, which Optuna cannot do with several "
                                  "objectives (auc, train_s); use `early_stopping: off`"),
    ({"early_stopping": "median"}, "`early_stopping: median` prunes trials"),
    ({"strategy": "hyperband"}, "`strategy: hyperband` prunes trials"),
    ({"completion": {"target": 0.9}}, "`completion.target` follows one value, but the job has several objectives"),
    ({"completion": {"patience": 5}}, "`completion.patience` follows one value"),
])
def test_what_needs_one_value_is_refused_with_several_objectives(home, more, message):
    with pytest.raises(SpecError) as e:
        api.launch(_data(**more))
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert api.list_jobs() == []


def test_warm_start_and_a_script_are_refused_with_several_objectives(home, tmp_path):
    first = api.launch(objective=tradeoff, space=SPACE, metric="auc", max_trials=1, name="earlier")
    first.wait(timeout=120)
    with pytest.raises(SpecError, match=r"^`warm_start.from` seeds a sampler with earlier trials' single values, "
                                        r"not several objectives \(auc, train_s\)"):
        api.launch(_data(warm_start={"from": ["earlier"]}))
    script = tmp_path / "train.py"
    script.write_text("print('auc=1')\n")
    with pytest.raises(SpecError, match=r"a script's output gives only one metric"):
        api.launch(_data(trial={"script": str(script)}))
    assert [j["name"] for j in api.list_jobs()] == ["earlier"]


def test_the_amt_backend_refuses_several_objectives_at_launch(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('auc=1')\n")
    with pytest.raises(SpecError) as e:
        api.launch(_data(trial={"script": str(script)}, backend={"name": "amt", "options": {"simulate": {}}}))
    assert str(e.value) == ("SageMaker AMT tunes a single objective metric, so several objectives (auc, train_s) "
                            "cannot be honoured; use `backend: sagemaker` or the local backend.")
    assert api.list_jobs() == []


def test_the_cli_launch_refuses_a_bad_objective_list_in_one_line(home, tmp_path):
    from tests.test_cli import hpo

    (tmp_path / "objective.py").write_text("def f(p):\n    return {'auc': p['x'], 'train_s': p['x']}\n")
    spec = tmp_path / "mo.yaml"
    spec.write_text("name: cli-mo\ntrial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                    "objective: [{metric: auc, direction: maximize}, {metric: auc, direction: minimize}]\n")
    out = hpo(home, "launch", str(spec), "--json")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: `objective` lists metric 'auc' twice; each objective must be a different metric, but got "
        "['auc', 'auc']."]
    assert api.list_jobs() == []
