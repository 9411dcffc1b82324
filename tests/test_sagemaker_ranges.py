"""A search space as SageMaker AMT's ParameterRanges: types, scalings, steps and AWS's limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo.exceptions import SearchSpaceError, SpecError
from jupyter_hpo.sagemaker.ranges import check_ranges, from_ranges, to_ranges
from jupyter_hpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace


def raises(match: str):
    return pytest.raises(SearchSpaceError, match=match)


def test_to_sagemaker():
    space = SearchSpace([
        IntParam("depth", 2, 8), IntParam("leaves", 2, 256, scaling="log"), IntParam("trees", 10, 30, step=10),
        FloatParam("eta", 0.01, 0.3, scaling="log"), FloatParam("m", 0.5, 0.99, scaling="reverse_log"),
        FloatParam("a", -1, 1, scaling="auto"), CategoricalParam("c", ("x", 3, 0.5, True, None)),
    ])
    r = to_ranges(space)
    assert r["IntegerParameterRanges"] == [
        {"Name": "depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Linear"},
        {"Name": "leaves", "MinValue": "2", "MaxValue": "256", "ScalingType": "Logarithmic"},
    ]
    assert r["ContinuousParameterRanges"] == [
        {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"},
        {"Name": "m", "MinValue": "0.5", "MaxValue": "0.99", "ScalingType": "ReverseLogarithmic"},
        {"Name": "a", "MinValue": "-1.0", "MaxValue": "1.0", "ScalingType": "Auto"},
    ]
    assert r["CategoricalParameterRanges"] == [
        {"Name": "trees", "Values": ["10", "20", "30"]},
        {"Name": "c", "Values": ["x", "3", "0.5", "true", "null"]},
    ]
    only_cat = to_ranges(SearchSpace([CategoricalParam("c", ("a", "b"))]))
    assert only_cat == {"CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "b"]}]}
    assert list(to_ranges(SearchSpace([FloatParam("x", 0, 1)]))) == ["ContinuousParameterRanges"]


def test_from_sagemaker_round_trip():
    space = SearchSpace([
        IntParam("depth", 2, 8), IntParam("leaves", 2, 256, scaling="log"),
        FloatParam("eta", 0.01, 0.3, scaling="log"), FloatParam("m", 0.5, 0.99, scaling="reverse_log"),
        FloatParam("a", -1, 1, scaling="auto"), CategoricalParam("c", ("gbtree", "dart")),
    ])
    assert from_ranges(to_ranges(space)) == space
    int_range = {"Name": "n", "MinValue": "1", "MaxValue": "4"}
    no_scaling = from_ranges({"IntegerParameterRanges": [int_range]})
    assert no_scaling == SearchSpace([IntParam("n", 1, 4, scaling="auto")])
    with raises(r"`low < high` must hold for 'n'"):
        from_ranges({"IntegerParameterRanges": [{"Name": "n", "MinValue": "4", "MaxValue": "1"}]})


@pytest.mark.parametrize("params, match", [
    ([IntParam(f"i{k}", 0, 1) for k in range(31)], r"SageMaker allows at most 30 int parameters, but got 31"),
    ([FloatParam(f"f{k}", 0, 1) for k in range(31)], r"SageMaker allows at most 30 float parameters, but got 31"),
    ([CategoricalParam(f"c{k}", ["a"]) for k in range(31)], r"at most 30 categorical parameters, but got 31"),
    ([CategoricalParam("c", range(31))], r"SageMaker allows at most 30 values for categorical 'c', but got 31"),
    ([IntParam("n", 0, 60, step=2)], r"no `step` for int ranges, so 'n' would travel as its 31 grid values, "
                                     r"but at most 30 categorical values are allowed"),
])
def test_sagemaker_limits(params, match):
    space = SearchSpace(params)
    with raises(match):
        check_ranges(space)
    with raises(match):
        to_ranges(space)


def test_sagemaker_limits_at_the_maximum_pass():
    space = SearchSpace([IntParam(f"i{k}", 0, 1) for k in range(29)] + [CategoricalParam("c", range(30)),
                                                                        IntParam("n", 0, 58, step=2)])
    check_ranges(space)
    r = to_ranges(space)
    assert len(r["IntegerParameterRanges"]) == 29
    assert [len(x["Values"]) for x in r["CategoricalParameterRanges"]] == [30, 30]


def test_a_float_step_travels_as_its_grid_values_and_they_parse_back_as_floats():
    space = SearchSpace([FloatParam("x", -1.0, 1.0, step=0.5), FloatParam("eta", 0.01, 0.3)])
    r = to_ranges(space)
    assert r["CategoricalParameterRanges"] == [{"Name": "x", "Values": ["-1.0", "-0.5", "0.0", "0.5", "1.0"]}]
    assert [c["Name"] for c in r["ContinuousParameterRanges"]] == ["eta"]  # no step: a continuous range
    # what SageMaker hands the trial (strings) comes back as the space's own values
    assert [space.parse({"x": v})["x"] for v in r["CategoricalParameterRanges"][0]["Values"]] == space["x"].values()


def test_a_float_step_with_too_many_values_is_refused_naming_it():
    with raises(r"no `step` for float ranges, so 'x' would travel as its 41 grid values, but at most 30"):
        to_ranges(SearchSpace([FloatParam("x", 0.0, 1.0, step=0.025)]))


def test_the_amt_backend_sends_a_float_step_and_its_trials_get_only_grid_values(home: Path, tmp_path: Path) -> None:
    """A job on simulated AMT with ``step: 0.5`` gets only -1, -0.5, 0, 0.5 and 1 (it once got x=-0.7313)."""
    from jupyter_hpo import api

    script = tmp_path / "code" / "train.py"
    script.parent.mkdir()
    script.write_text("from jupyter_hpo import trial\np = trial.params()\nprint(f\"score={-p['x'] ** 2:.6f}\")\n")
    spec: dict[str, Any] = {
        "name": "float-step", "trial": {"script": str(script)},
        "space": {"x": {"type": "float", "low": -1.0, "high": 1.0, "step": 0.5}},
        "objective": {"metric": "score", "direction": "maximize"}, "strategy": "random", "seed": 1,
        "budget": {"max_trials": 6, "max_parallel": 2},
        "backend": {"name": "amt", "options": {"poll_s": 5, "simulate": {"speed": 200, "executor": "script",
                                                                         "cold_startup_s": 20, "training_s": 10}}},
    }
    job = api.launch(spec)
    assert job.wait(timeout=60).value == "completed", job.attrs.get("reason")
    xs = [r["params"]["x"] for r in job.trial_records()]
    assert len(xs) == 6 and set(xs) <= {-1.0, -0.5, 0.0, 0.5, 1.0}, xs
    assert all(isinstance(x, float) for x in xs)


def test_a_float_step_too_fine_for_amt_is_refused_at_launch(home: Path, tmp_path: Path) -> None:
    from jupyter_hpo import api

    script = tmp_path / "train.py"
    script.write_text("print('score=1')\n")
    spec = {"name": "fine-step", "trial": {"script": str(script)},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.01}},
            "objective": {"metric": "score", "direction": "maximize"},
            "backend": {"name": "amt", "options": {"simulate": {}}}}
    with pytest.raises(SpecError, match=r"'x' would travel as its 101 grid values, but at most 30"):
        api.launch(spec)
    assert "fine-step" not in {j["name"] for j in api.list_jobs()}  # nothing half-created
