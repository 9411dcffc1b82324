"""Options that were accepted and silently ignored are refused at launch, in one line naming the field, the value
and what to do, and nothing is written to the store."""

from __future__ import annotations

import re
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


# -- SageMaker backends (simulated) -----------------------------------------------------------------------------------
def sm_spec(tmp_path: Path, backend: str, name: str, options: dict[str, Any] | None = None,
            **fields: Any) -> dict[str, Any]:
    return {"name": name, "trial": {"script": str(script(tmp_path))},
            "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
            "objective": {"metric": "auc", "direction": "maximize"}, "budget": {"max_trials": 1},
            "backend": {"name": backend, "options": {"simulate": {"speed": 200, "training_s": 5}, **(options or {})}},
            **fields}


def runs(spec: dict[str, Any]) -> None:
    job = api.launch(spec)
    assert job.wait(timeout=60).value == "completed", job.attrs.get("reason")


# -- 4. grid on amt with max_trials below the grid ---------------------------------------------------------------------
def test_an_amt_grid_larger_than_max_trials_is_refused(home, tmp_path):
    """AMT's Grid takes no MaxNumberOfTrainingJobs: it ran all 6 points of a budget of 2."""
    spec = sm_spec(tmp_path, "amt", "amt-grid", strategy="grid",
                   space={"depth": {"type": "int", "low": 1, "high": 3}, "booster": ["gbtree", "dart"]},
                   budget={"max_trials": 2})
    text = refused(spec)
    assert "`strategy: grid` on the amt backend runs every one of the grid's 6 points" in text, text
    assert "set budget.max_trials to 6" in text and "but got budget.max_trials 2" in text, text
    spec["budget"] = {"max_trials": 6, "max_parallel": 3}
    runs(spec)  # the grid's size runs


# -- 6. trial.timeout above max_run_s --------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sagemaker", "amt"])
def test_a_trial_timeout_above_max_run_s_is_refused(home, tmp_path, backend):
    """It was cut to max_run_s (MaxRuntimeInSeconds) without a word."""
    spec = sm_spec(tmp_path, backend, f"timeout-{backend}", {"max_run_s": 600},
                   trial={"script": str(script(tmp_path)), "timeout": 900})
    text = refused(spec)
    assert "`trial.timeout` (900 s) is longer than `backend.options.max_run_s` (600 s)" in text, text
    assert "set backend.options.max_run_s to at least 900" in text and "or lower trial.timeout" in text, text
    spec["backend"]["options"]["max_run_s"] = 900
    runs(spec)  # a max_run_s that holds the timeout runs


def test_plan_refuses_the_grid_and_timeout_a_launch_refuses(tmp_path):
    """``jupyter hpo plan`` runs the checks a launch runs: the AMT grid's budget and the timeout above max_run_s."""
    grid = sm_spec(tmp_path, "amt", "plan-grid", strategy="grid", space={"booster": ["gbtree", "dart", "linear"]})
    with pytest.raises(SpecError, match=r"runs every one of the grid's 3 points .* but got budget.max_trials 1\."):
        api.plan(grid)
    for backend in ("sagemaker", "amt"):
        slow = sm_spec(tmp_path, backend, "plan-timeout", {"max_run_s": 60}, trial={"script": str(script(tmp_path)),
                                                                                     "timeout": 61.5})
        with pytest.raises(SpecError, match=r"`trial.timeout` \(61.5 s\) is longer than `backend.options.max_run_s` "
                                            r"\(60 s\).*at least 62 "):
            api.plan(slow)


# -- 7. options of the other SageMaker backend -----------------------------------------------------------------------
@pytest.mark.parametrize(("backend", "options"), [
    ("sagemaker", {"warm_start": {"parents": ["p1"], "type": "identical"}}),
    ("sagemaker", {"attach": "their-tuning-job"}),
    ("amt", {"spot_retries": 3}),
    ("amt", {"warm_wait_s": 30}),
    ("amt", {"keep_alive_s": 300}),
    ("amt", {"keep_alive_s": 600, "warm_wait_s": 30}),
])
def test_an_option_of_the_other_sagemaker_backend_is_refused(home, tmp_path, backend, options):
    spec = sm_spec(tmp_path, backend, f"other-{backend}", options)
    text = refused(spec)
    other = "amt" if backend == "sagemaker" else "sagemaker"
    assert all(f"`backend.options.{k}`:" in text and f"{k}={v!r}" in text for k, v in options.items()), text
    assert f"to the {other} backend, and this job runs on `{backend}`, which would ignore" in text, text
    assert f"(or use `backend: {other}`)" in text, text
    with pytest.raises(SpecError) as planned:  # `jupyter hpo plan` refuses what the launch refuses
        api.plan(spec)
    assert str(planned.value) == text
    if backend == "amt" and "keep_alive_s" in options and len(options) == 1:
        spec["backend"]["options"].pop("keep_alive_s")
        runs(spec)  # the same job without it runs


def test_a_plan_for_the_other_backend_says_which_options_it_does_not_send(tmp_path):
    """``plan(spec, backend=...)`` of a spec written for the other backend (as a pipeline's AMT step is built)
    refuses nothing that spec may hold, and says in a note each option that the plan does not send."""
    spec = sm_spec(tmp_path, "sagemaker", "plan-other", {"spot": True, "spot_retries": 2, "warm_wait_s": 30,
                                                          "keep_alive_s": 0})  # spot_retries takes spot
    notes = api.plan(spec, backend="amt")["notes"]
    for option in ("spot_retries", "warm_wait_s", "keep_alive_s"):
        assert any(n.startswith(f"backend.options.{option} is not sent:") and n.endswith("this plan is for amt.")
                   for n in notes), (option, notes)
    assert not any("is not sent" in n for n in api.plan(spec)["notes"])  # planned for its own backend: all sent
    amt = sm_spec(tmp_path, "amt", "plan-other-amt", {"warm_start": {"parents": ["p1"], "type": "identical"}})
    notes = api.plan(amt, backend="sagemaker")["notes"]
    assert any(n.startswith("backend.options.warm_start is not sent: AMT's WarmStartConfig") for n in notes), notes


def test_admin_defaults_and_simulation_defaults_do_not_trip_the_backend_only_refusal(home, tmp_path, monkeypatch):
    """Only what the spec gave counts: the defaults files and the simulator fill other options."""
    admin = tmp_path / "admin.yaml"
    admin.write_text("SageMaker:\n  TrainingJob:\n    RoleArn: arn:aws:iam::123456789012:role/Admin\n")
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(admin))
    for backend in ("sagemaker", "amt"):
        runs(sm_spec(tmp_path, backend, f"defaults-{backend}"))


# -- 8. warm_pool: {enabled: false} on amt ---------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["spec", "launch"])
def test_turning_the_warm_pool_off_on_amt_is_refused(home, tmp_path, how):
    spec = sm_spec(tmp_path, "amt", "amt-nopool")
    if how == "spec":
        spec["warm_pool"] = {"enabled": False}
        text = refused(spec)
    else:
        text = refused(spec, warm_pool=False)
    assert text.startswith("`warm_pool.enabled: false` turns off the warm pools"), text
    assert "this job runs on `amt`, where SageMaker AMT keeps no warm pools" in text and "remove it" in text, text
    runs(sm_spec(tmp_path, "amt", "amt-nopool"))  # without it the job runs


# -- 9. a launched spec with backend.options.attach ------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "named"), [
    ({"strategy": "random"}, "strategy 'random'"),
    ({"seed": 7}, "seed 7"),
    ({"early_stopping": "median"}, "early_stopping 'median'"),
    ({"trial": {"timeout": 300}}, "trial.timeout 300"),
    ({"trial": {"hyperparameters": {"num_round": 100}}}, "trial.hyperparameters {'num_round': 100}"),
    ({"options": {"spot": True}}, "backend.options.spot True"),
    ({"options": {"instance_type": "ml.c5.2xlarge", "instance_count": 2}},
     "backend.options.instance_type 'ml.c5.2xlarge', backend.options.instance_count 2"),
])
def test_what_an_attached_tuning_job_would_ignore_is_refused(home, tmp_path, fields, named):
    """``attach`` mirrors a tuning job that exists: prepare returned early and the rest was accepted, unused."""
    fields = dict(fields)
    options = {"attach": "their-tuning-job", **fields.pop("options", {})}
    spec = sm_spec(tmp_path, "amt", "mirror", options)
    spec["trial"].update(fields.pop("trial", {}))
    spec.update(fields)
    text = refused(spec)
    assert "`backend.options.attach: their-tuning-job` mirrors a tuning job that exists" in text, text
    assert f"would be ignored: {named}; remove them" in text, text
    assert "attach takes backend.options region, profile, simulate, poll_s, prices" in text, text
    assert "`jupyter hpo attach-amt their-tuning-job` (api.attach_amt)" in text, text


@pytest.mark.parametrize("form", ["yaml-list", "tuning-spec"])
def test_a_single_objective_keyword_on_a_spec_with_several_objectives_is_refused(home, form):
    """A spec listing several objectives, launched with ``metric=``: the list was silently replaced by one objective
    (the YAML form), or refused with a message about `objective` and `objectives` the user never wrote."""
    spec: Any = {"name": "mo-spec", "trial": {"function": objectives.worker_identity}, "space": SPACE,
                 "budget": {"max_trials": 2}, "objective": OBJECTIVES}
    if form == "tuning-spec":
        spec = TuningSpec.from_dict(spec)
    with pytest.raises(SpecError) as e:
        api.launch(spec, metric="calls")
    text = str(e.value)
    assert text == ("the spec has several objectives, so `metric=`, `direction=` and `regex=` cannot say which one "
                    "they change; edit the spec's objectives, or give `objectives=[...]` to replace them, but got "
                    "metric='calls'."), text
    assert "mo-spec" not in {j["name"] for j in api.list_jobs()}
    job = api.launch(spec)  # the same spec without the keyword runs, with both objectives
    assert job.wait(timeout=60).value == "completed" and len(job.spec["objectives"]) == 2


@pytest.mark.parametrize(("options", "message"), [
    ({"image": "1.dkr.ecr.us-east-1.amazonaws.com/mine:1", "framework": "xgboost"},
     "`backend.options.framework` and `backend.options.image` both name the training image, and `image` would be "
     "used: give one of them."),
    ({"image": "1.dkr.ecr.us-east-1.amazonaws.com/mine:1", "framework": "xgboost", "framework_version": "1.7-1"},
     "`backend.options.framework` and `backend.options.framework_version` and `backend.options.image` both name"),
    ({"framework_version": "1.7-1"},
     "`backend.options.framework_version` needs `backend.options.framework` (e.g. xgboost), whose image it picks."),
])
def test_a_framework_beside_an_image_or_a_version_without_a_framework_is_refused(home, tmp_path, options, message):
    """The image was used and the framework (and its version) silently unread: `plan` listed them as the spec's."""
    spec = sm_spec(tmp_path, "sagemaker", "images", options)
    assert refused(spec).startswith(message)
    with pytest.raises(SpecError, match=re.escape(message)):
        api.plan(spec)


def test_warm_pool_options_with_warm_pools_off_are_said_to_be_unused(home, tmp_path):
    """`warm_pool: {enabled: false}` turns the job into its cold baseline, keeping its warm-pool options in the
    spec: they were accepted and dropped without a word. The plan and the job's notes now say so."""
    spec = sm_spec(tmp_path, "sagemaker", "cold-base", {"keep_alive_s": 900, "warm_wait_s": 60},
                   warm_pool={"enabled": False})
    note = ("`warm_pool.enabled` is false: `backend.options.keep_alive_s` and `backend.options.warm_wait_s` are not "
            "used; no KeepAlivePeriodInSeconds is sent, and every trial starts cold.")
    plan = api.plan(spec)
    assert note in plan["notes"] and "KeepAlivePeriodInSeconds" not in plan["requests"][1]["params"]["ResourceConfig"]
    job = api.launch(spec)
    assert job.wait(timeout=60).value == "completed", job.attrs.get("reason")
    assert note in [n["text"] for n in job.attrs.get("notes") or []]


# -- 10. spot-only options without spot; a tag jupyter-hpo sets itself -----------------------------------------------
@pytest.mark.parametrize(("backend", "options"), [
    ("sagemaker", {"max_wait_s": 9000}),
    ("sagemaker", {"spot_retries": 3}),
    ("sagemaker", {"max_wait_s": 9000, "spot_retries": 3}),
    ("amt", {"max_wait_s": 9000}),
])
def test_a_spot_option_without_spot_is_refused(home, tmp_path, backend, options):
    """Without `spot: true` neither MaxWaitTimeInSeconds nor a spot retry is ever sent: they were accepted, unused."""
    spec = sm_spec(tmp_path, backend, f"nospot-{backend}", options)
    text = refused(spec)
    named = " and ".join(f"`backend.options.{k}`" for k in options)
    assert text.startswith(f"{named} {'apply' if len(options) > 1 else 'applies'} to spot training only"), text
    assert "set `backend.options.spot: true` or remove" in text, text
    with pytest.raises(SpecError) as planned:  # `jupyter hpo plan` refuses what the launch refuses
        api.plan(spec)
    assert str(planned.value) == text
    spec["backend"]["options"].update(spot=True, **({"keep_alive_s": 0} if backend == "sagemaker" else {}))
    body = api.plan(spec)["requests"][1]["params"]  # with spot they are taken
    if backend == "sagemaker" and "max_wait_s" in options:
        assert body["StoppingCondition"]["MaxWaitTimeInSeconds"] == 9000



@pytest.mark.parametrize("key", ["jupyter-hpo:job", "jupyter-hpo:trial"])
def test_a_tag_jupyter_hpo_sets_itself_is_refused(home, tmp_path, key):
    """jupyter-hpo tags every training job with its job and trial; a spec's tag of that key was overwritten."""
    spec = sm_spec(tmp_path, "sagemaker", "own-tag", {"tags": {key: "mine", "team": "risk"}})
    text = refused(spec)
    assert text.startswith(f"`backend.options.tags` must not set `{key}`"), text
    with pytest.raises(SpecError) as planned:
        api.plan(spec)
    assert str(planned.value) == text
    spec["backend"]["options"]["tags"] = {"team": "risk"}
    tags = {t["Key"]: t["Value"] for t in api.plan(spec)["requests"][1]["params"]["Tags"]}
    assert tags["team"] == "risk" and tags["jupyter-hpo:job"] == "own-tag"
