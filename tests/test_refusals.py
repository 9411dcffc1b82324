"""Options that were accepted and silently ignored are refused at launch, in one line naming the field, the value
and what to do, and nothing is written to the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.spec import TuningSpec
from tests import objectives

SPACE = {"x": {"type": "float", "low": 0, "high": 2}}


def refused(spec: Any = None, **options: Any) -> str:
    """The one-line message ``api.launch`` refuses with; nothing written."""
    with pytest.raises(SpecError) as e:
        api.launch(spec, **options)
    text = str(e.value)
    assert "\n" not in text, text
    name = (spec or {}).get("name") if isinstance(spec, dict) else None
    name = options.get("name", name)
    assert name not in {j["name"] for j in api.list_jobs()}  # nothing written
    return text


def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text("print('auc=0.5')\n")
    return path


# -- 1. objectives= with metric=/direction=/regex= -------------------------------------------------------------------
OBJECTIVES = [{"metric": "objective", "direction": "maximize"}, {"metric": "calls", "direction": "minimize"}]


@pytest.mark.parametrize("first", ["objectives", "single"])
def test_objectives_with_a_single_objective_keyword_is_refused_in_either_order(home, first):
    """The single objective's keywords were dropped (``metric=`` first) or raised a bare TypeError (after)."""
    single = {"metric": "loss", "direction": "minimize"}
    options = {"objectives": OBJECTIVES, **single} if first == "objectives" else {**single, "objectives": OBJECTIVES}
    text = refused(objective=objectives.worker_identity, space=SPACE, max_trials=2, name="mo-clash", **options)
    assert "`objectives=[...]`" in text and "`metric=`, `direction=` cannot also be given" in text, text
    assert "metric='loss', direction='minimize'" in text and "put them in the objectives' dicts" in text, text
    if first == "objectives":  # the same job without the single-objective keywords runs
        job = api.launch(objective=objectives.worker_identity, space=SPACE, max_trials=2, name="mo-clash",
                         objectives=OBJECTIVES)
        assert job.wait(timeout=60).value == "completed"


# -- 2. warm_start with strategy: random -----------------------------------------------------------------------------
def test_warm_start_with_the_random_strategy_is_refused(home):
    """RandomSampler never looks at the earlier trials, yet the job noted that it took them."""
    assert api.launch(objective=objectives.quadratic, space=SPACE, max_trials=2, name="earlier").wait(
        timeout=60).value == "completed"
    text = refused(objective=objectives.quadratic, space=SPACE, max_trials=2, name="later", strategy="random",
                   warm_start=["earlier"])
    assert text.startswith("`warm_start` seeds a sampler that learns from earlier trials"), text
    assert "`strategy: random`" in text and "use bayesian or hyperband, or remove warm_start" in text, text
    assert "but got strategy 'random' with warm_start.from ['earlier']" in text, text
    job = api.launch(objective=objectives.quadratic, space=SPACE, max_trials=2, name="later", warm_start=["earlier"])
    assert job.wait(timeout=60).value == "completed"  # the same job with the default (bayesian) strategy runs


def test_the_grid_refusal_of_warm_start_no_longer_recommends_random():
    with pytest.raises(SpecError) as e:
        TuningSpec.from_dict({"name": "g", "trial": {"function": objectives.quadratic}, "strategy": "grid",
                              "space": {"x": {"type": "int", "low": 0, "high": 2}}, "warm_start": {"from": ["a"]}})
    assert "use bayesian or hyperband, but got strategy 'grid'" in str(e.value) and "random" not in str(e.value)


# -- 3. a fixed hyperparameter that is also tuned ---------------------------------------------------------------------
def test_a_fixed_hyperparameter_that_is_also_tuned_is_refused(home):
    """local/sagemaker let the tuned value win, amt dropped the fixed one: either way one was ignored."""
    spec = {"name": "fixed-and-tuned", "trial": {"function": objectives.quadratic,
                                                 "hyperparameters": {"x": 1.5, "depth": 3, "other": "a"}},
            "space": {**SPACE, "depth": {"type": "int", "low": 1, "high": 4}}, "budget": {"max_trials": 2}}
    text = refused(spec)
    assert "`trial.hyperparameters` must not fix a parameter that `space` tunes ('x', 'depth')" in text, text
    assert "remove it from trial.hyperparameters (or from space), but got x=1.5, depth=3" in text, text
    spec["trial"]["hyperparameters"] = {"other": "a"}
    assert api.launch(spec).wait(timeout=60).value == "completed"  # without the tuned ones it runs


# -- 5. hyperband settings no Hyperband uses --------------------------------------------------------------------------
@pytest.mark.parametrize("fields", [{}, {"early_stopping": "median"}, {"strategy": "random"}])
def test_hyperband_settings_without_a_hyperband_are_refused(home, fields):
    spec = {"name": "hb-unused", "trial": {"function": objectives.stepwise}, "space": SPACE,
            "budget": {"max_trials": 2}, "hyperband": {"min_resource": 2, "max_resource": 8}, **fields}
    text = refused(spec)
    assert "`hyperband` sets Hyperband's resources, but this job uses no Hyperband (strategy " in text, text
    assert f"early_stopping {fields.get('early_stopping', 'off')!r}" in text, text
    assert "use `strategy: hyperband`" in text and "but got hyperband min_resource=2, max_resource=8" in text, text
    if not fields:  # the defaults (what every stored spec carries) are not refused; with a Hyperband it runs
        spec["hyperband"] = {"min_resource": 1, "max_resource": None, "reduction_factor": 3}
        TuningSpec.from_dict(spec)
        spec["hyperband"] = {"min_resource": 2, "max_resource": 8}
        spec["early_stopping"] = "hyperband"
        assert api.launch(spec).wait(timeout=60).value == "completed"


def test_a_stored_spec_with_options_refused_since_still_loads(tmp_path):
    """A job launched before these refusals keeps loading (runner, resume, registry): they apply at launch only."""
    data = TuningSpec.from_dict({"name": "old", "trial": {"script": str(script(tmp_path))}, "space": SPACE,
                                 "strategy": "random"}).to_dict()
    data["trial"]["hyperparameters"] = {"x": 1}
    data["warm_start"] = {"from": ["older"]}
    data["hyperband"] = {"min_resource": 2, "max_resource": 8, "reduction_factor": 3}
    spec = TuningSpec.from_stored(data, tmp_path)
    assert spec.warm_start == ("older",) and spec.hyperband.max_resource == 8 and spec.trial.hyperparameters == {"x": 1}
    assert spec.replace(budget=spec.budget).stored  # and stays loadable when changed (resume, refit)
    with pytest.raises(SpecError, match="warm_start"):
        TuningSpec.from_dict(data)
