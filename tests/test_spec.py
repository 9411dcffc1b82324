"""Tests of jupyter_hpo.spec: the tuning-job spec and its validation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from jupyter_hpo.exceptions import HpoError, SearchSpaceError, SpecError
from jupyter_hpo.space import FloatParam, IntParam, SearchSpace
from jupyter_hpo.spec import (
    Budget, Completion, Hyperband, Objective, TrialDef, TuningSpec, WarmPool, check_job_name,
)

SPACE = {"x": {"type": "float", "low": -1, "high": 1}}


def objective_fn(params):
    return -params["x"] ** 2


def raises(match: str):
    return pytest.raises(SpecError, match=match)


def minimal(**extra):
    return {"name": "demo", "trial": {"function": objective_fn}, "space": SPACE, **extra}


@pytest.fixture
def script(tmp_path: Path) -> Path:
    p = tmp_path / "train.py"
    p.write_text("print('auc=0.5')\n")
    return p


def test_error_types():
    assert issubclass(SpecError, ValueError) and issubclass(SpecError, HpoError)
    assert not issubclass(SpecError, SearchSpaceError)


# -- valid specs -------------------------------------------------------------------------------

def test_minimal_dict_defaults():
    spec = TuningSpec.from_dict(minimal())
    assert spec.name == "demo" and spec.trial.function is objective_fn and spec.trial.script is None
    assert spec.space == SearchSpace([FloatParam("x", -1, 1)])
    assert spec.strategy == "bayesian" and spec.seed is None
    assert spec.budget == Budget(max_trials=20, max_parallel=2, max_runtime=None)
    assert spec.early_stopping == "off" and spec.pruner_kind == "off"
    assert spec.backend == "local" and spec.backend_options == {}
    assert spec.warm_pool.enabled is True and spec.warm_pool == WarmPool()
    assert spec.objective == Objective("objective", "maximize", None)
    assert spec.completion == Completion(None, None) and spec.hyperband == Hyperband(1, None, 3)
    assert spec.max_consecutive_failures == 5
    assert spec.trial.hyperparameters == {} and spec.trial.timeout is None


def test_default_name_from_function():
    spec = TuningSpec.from_dict({"trial": {"function": objective_fn}, "space": SPACE})
    assert re.fullmatch(r"objective-fn-[0-9a-f]{6}", spec.name)


def test_full_dict(script):
    spec = TuningSpec.from_dict({
        "name": "full-job-1",
        "objective": {"metric": "val_auc", "direction": "Minimize", "regex": r"AUC (\S+)"},
        "trial": {"script": str(script), "hyperparameters": {"epochs": 3}, "timeout": 60},
        "space": {"depth": {"type": "int", "low": 2, "high": 8}, "booster": ["gbtree", "dart"]},
        "strategy": "HYPERBAND", "seed": 0,
        "budget": {"max_trials": 50, "max_parallel": 4, "max_runtime": 3600},
        "completion": {"target": 0.95, "patience": 10},
        "early_stopping": "hyperband",
        "hyperband": {"min_resource": 2, "max_resource": 27, "reduction_factor": 3},
        "warm_pool": {"enabled": True, "max_trials_per_worker": 100, "max_memory_mb": 2048},
        "backend": {"name": "sagemaker", "options": {"instance_type": "ml.m5.large"}},
        "max_consecutive_failures": 3,
    })
    assert spec.objective == Objective("val_auc", "minimize", r"AUC (\S+)")
    assert spec.trial.script == str(script.resolve()) and spec.trial.function is None
    assert spec.trial.hyperparameters == {"epochs": 3} and spec.trial.timeout == 60.0
    assert list(spec.space) == ["depth", "booster"]
    assert (spec.strategy, spec.seed, spec.pruner_kind) == ("hyperband", 0, "hyperband")
    assert spec.budget == Budget(50, 4, 3600.0) and isinstance(spec.budget.max_runtime, float)
    assert spec.completion == Completion(0.95, 10)
    assert spec.hyperband == Hyperband(2, 27, 3)
    assert spec.warm_pool == WarmPool(True, 100, 2048.0)
    assert spec.backend == "sagemaker" and spec.backend_options == {"instance_type": "ml.m5.large"}
    assert spec.max_consecutive_failures == 3


def test_a_worker_trial_limit_without_a_warm_pool_is_refused_not_ignored():
    """Without a warm pool every trial gets a fresh process: `max_trials_per_worker` could never take effect."""
    with pytest.raises(SpecError) as e:
        TuningSpec.from_dict({"trial": {"function": objective_fn}, "space": SPACE,
                              "warm_pool": {"enabled": False, "max_trials_per_worker": 10}})
    assert str(e.value) == ("`warm_pool.max_trials_per_worker` needs `warm_pool.enabled: true` (without a warm pool "
                            "every trial gets a fresh process, so a worker runs one trial), but got 10.")
    assert TuningSpec.from_dict({"trial": {"function": objective_fn}, "space": SPACE,  # the memory bound still holds
                                 "warm_pool": {"enabled": False, "max_memory_mb": 512}}).warm_pool.max_memory_mb == 512


def test_from_yaml_early_stopping_off_and_backend_string(script):
    text = f"""
name: yaml-job
trial: {{script: {script}}}
space:
  lr: {{type: float, low: 0.001, high: 0.1, scaling: log}}
early_stopping: off
backend: AMT
budget: {{max_trials: 7}}
"""
    spec = TuningSpec.from_yaml(text)
    assert spec.early_stopping == "off" and spec.backend == "amt" and spec.budget.max_trials == 7
    assert spec.space["lr"].scaling == "log"
    median = TuningSpec.from_yaml(text.replace("early_stopping: off", "early_stopping: Median"))
    assert median.early_stopping == "median"
    assert TuningSpec.from_dict(minimal(early_stopping=None)).early_stopping == "off"


def test_from_file_resolves_script_from_yaml_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "train.py").write_text("print('loss=1')\n")
    (folder / "job.yaml").write_text("name: file-job\ntrial: {script: src/train.py}\nspace: {n: [1, 2]}\n")
    monkeypatch.chdir(tmp_path)  # the script is not relative to the working directory
    spec = TuningSpec.from_file(folder / "job.yaml")
    assert spec.trial.script == str((folder / "src" / "train.py").resolve())
    assert spec.name == "file-job"
    with raises(r"spec file '.*nope\.yaml' does not exist"):
        TuningSpec.from_file(folder / "nope.yaml")


def test_to_dict_round_trip_script(script):
    spec = TuningSpec.from_dict({
        "name": "rt", "trial": {"script": str(script), "hyperparameters": {"a": 1}, "timeout": 5},
        "space": {"n": {"type": "int", "low": 1, "high": 9, "step": 2}, "m": {"type": "float", "low": 0.5,
                  "high": 0.99, "scaling": "reverse_log"}, "c": ["a", None]},
        "objective": {"metric": "loss", "direction": "minimize"}, "strategy": "random", "seed": 3,
        "completion": {"patience": 4}, "early_stopping": "median",
        "backend": {"name": "local", "options": {"k": "v"}}, "warm_pool": {"max_memory_mb": 512},
    })
    d = spec.to_dict()
    assert d["trial"] == {"hyperparameters": {"a": 1}, "timeout": 5.0, "script": str(script.resolve())}
    assert d["backend"] == {"name": "local", "options": {"k": "v"}} and d["early_stopping"] == "median"
    assert TuningSpec.from_dict(d) == spec


def test_to_dict_writes_a_keep_alive_only_when_one_is_set():
    """As every field added since the first release: a stored `warm_pool.keep_alive_s: 0` made an older
    jupyter-hpo sharing the store refuse the job as having an unknown field when it resumed it (its runner died
    at start, the job hung pending), though the job used no keep-alive."""
    plain = TuningSpec.from_dict(minimal()).to_dict()
    assert "keep_alive_s" not in plain["warm_pool"] and TuningSpec.from_dict(plain).warm_pool.keep_alive_s == 0
    kept = TuningSpec.from_dict(minimal(warm_pool={"keep_alive_s": 60})).to_dict()
    assert kept["warm_pool"]["keep_alive_s"] == 60 and TuningSpec.from_dict(kept).warm_pool.keep_alive_s == 60


def test_to_dict_names_function():
    d = TuningSpec.from_dict(minimal()).to_dict()
    assert d["trial"]["function"] == f"{__name__}:objective_fn"


def test_function_references(tmp_path):
    (tmp_path / "obj.py").write_text("def f(p):\n    return p['x']\nvalue = 3\n")
    spec = TuningSpec.from_dict(minimal(trial={"function": "obj.py:f"}), base_dir=tmp_path)
    assert spec.trial.function({"x": 4}) == 4
    assert TuningSpec.from_dict(minimal(trial={"function": "math:sqrt"})).trial.function is math.sqrt
    (tmp_path / "job.yaml").write_text("trial: {function: 'obj.py:f'}\nspace: {x: [1]}\n")
    assert TuningSpec.from_file(tmp_path / "job.yaml").trial.function({"x": 2}) == 2


@pytest.mark.parametrize("ref, match", [
    ("obj.py:value", r"`trial.function` must name a callable, but got 'obj.py:value'"),
    ("obj.py:missing", r"`trial.function` must name a callable, but got 'obj.py:missing'"),
    ("none.py:f", r"`trial.function` must name an existing file, but got 'none.py:f'"),
    ("broken.py:f", r"`trial.function` 'broken.py:f' could not be loaded: ZeroDivisionError"),
    ("math:pi", r"`trial.function` must name a callable, but got 'math:pi'"),
    ("no_such_module_xyz:f", r"'no_such_module_xyz:f' could not be loaded: ModuleNotFoundError"),
    ("math", r"`trial.function` must be a callable or 'file.py:name' / 'module:name', but got 'math'"),
    ("a:b:c", r"must be a callable or 'file.py:name' / 'module:name', but got 'a:b:c'"),
    (5, r"`trial.function` must be a callable .* but got 5"),
])
def test_bad_function_references(tmp_path, ref, match):
    (tmp_path / "obj.py").write_text("value = 3\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    with raises(match):
        TuningSpec.from_dict(minimal(trial={"function": ref}), base_dir=tmp_path)


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "demo", "Job-2", "9lives", "a" * 63])
def test_valid_job_names(name):
    assert check_job_name(name) == name
    assert TuningSpec.from_dict(minimal(name=name)).name == name


@pytest.mark.parametrize("name", ["../x", "a/b", "has space", "a" * 64, "-x", "under_score", "a.b", 5, None])
def test_bad_job_names(name):
    with raises(r"`name` must be 1-63 letters, digits or '-'.* but got " + re.escape(repr(name))):
        check_job_name(name)
    if name is not None:
        with raises(r"`name` must be 1-63 .* but got " + re.escape(repr(name))):
            TuningSpec.from_dict(minimal(name=name))


# -- structure ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, match", [
    (minimal(spaces={}, zz=1), r"unknown field\(s\) `spaces`, `zz`; allowed: artifacts, backend, budget, completion"),
    (minimal(budget={"max_trial": 3}), r"unknown field\(s\) `budget.max_trial`; allowed in `budget`: "
                                       r"max_parallel, max_runtime, max_trials"),
    (minimal(trial={"function": objective_fn, "args": 1}), r"unknown field\(s\) `trial.args`; allowed in `trial`"),
    (minimal(objective={"name": "x"}), r"unknown field\(s\) `objective.name`"),
    (minimal(completion={"goal": 1}), r"`completion.goal`"),
    (minimal(hyperband={"eta": 3}), r"`hyperband.eta`"),
    (minimal(warm_pool={"size": 3}), r"`warm_pool.size`"),
    (minimal(backend={"name": "local", "region": "x"}), r"`backend.region`; allowed in `backend`: name, options"),
    (minimal(budget=[1]), r"`budget` must be a mapping, but got \[1\]"),
    (minimal(trial="train.py"), r"`trial` must be a mapping, but got 'train.py'"),
    ({"name": "a", "trial": {"function": objective_fn}}, r"`space` is required"),
    ({"name": "a", "space": SPACE}, r"`trial` is required: a `function` or a `script`"),
    (minimal(space={}), r"`space`: a search space needs at least one parameter"),
    (minimal(space={"x": {"type": "int", "low": 2, "high": 1}}), r"`space`: `low < high` must hold for 'x'"),
    ([1, 2], r"a spec must be a mapping of fields, but got \[1, 2\]"),
])
def test_structure_errors(data, match):
    with raises(match):
        TuningSpec.from_dict(data)


@pytest.mark.parametrize("text, match", [
    ("name: [a", r"the spec is not valid YAML"),
    ("- a\n", r"a spec must be a mapping of fields"),
    ("name: a\nspace: {x: [1]}\ntrial: {}\n", r"`trial` needs exactly one of .* function=None, script=None"),
])
def test_yaml_errors(text, match):
    with raises(match):
        TuningSpec.from_yaml(text)


def test_trial_function_xor_script(script, tmp_path):
    with raises(r"`trial` needs exactly one of `trial.function` .* but got function=.*objective_fn.*, script="):
        TuningSpec.from_dict(minimal(trial={"function": objective_fn, "script": str(script)}))
    with raises(r"function=None, script=None"):
        TrialDef()
    missing = str(tmp_path / "missing.py")
    with raises(r"`trial.script` must be an existing file, but got " + re.escape(repr(missing))):
        TrialDef(script=missing)
    with raises(r"`trial.script` must be an existing file, but got '.*/missing\.py'"):
        TuningSpec.from_dict(minimal(trial={"script": "missing.py"}), base_dir=tmp_path)
    with raises(r"`trial.script` must be an existing file"):
        TrialDef(script=str(tmp_path))  # a folder is not a file
    with raises(r"`trial.script` must be a path, but got 5"):
        TrialDef(script=5)
    with raises(r"`trial.function` must be callable, but got 'f'"):
        TrialDef(function="f")
    with raises(r"`trial.hyperparameters` must be a mapping, but got \[1\]"):
        TrialDef(function=objective_fn, hyperparameters=[1])
    assert TrialDef(script=script).script == str(script.resolve())  # a PathLike is fine


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan, True, "10"])
def test_trial_timeout(timeout):
    with raises(r"`trial.timeout` must be a positive number, but got " + re.escape(repr(timeout))):
        TrialDef(function=objective_fn, timeout=timeout)
    assert TrialDef(function=objective_fn, timeout=2).timeout == 2.0


# -- budget and friends ------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["max_trials", "max_parallel"])
@pytest.mark.parametrize("bad", [0, -3, True, False, 2.0, "5", None])
def test_budget_ints(field, bad):
    with raises(re.escape(f"`budget.{field}` must be a positive integer, but got {bad!r}.")):
        TuningSpec.from_dict(minimal(budget={field: bad}))


@pytest.mark.parametrize("bad", [0, -1.5, math.inf, math.nan, True, "60"])
def test_budget_max_runtime(bad):
    with raises(r"`budget.max_runtime` must be a positive number, but got " + re.escape(repr(bad))):
        Budget(max_runtime=bad)
    assert Budget(max_runtime=0.5).max_runtime == 0.5


@pytest.mark.parametrize("target", [math.inf, -math.inf, math.nan, True, "0.9"])
def test_completion_target_finite(target):
    with raises(r"`completion.target` must be a finite number, but got " + re.escape(repr(target))):
        Completion(target=target)
    assert Completion(target=-2).target == -2


@pytest.mark.parametrize("patience", [0, -1, 1.5, True])
def test_completion_patience(patience):
    with raises(r"`completion.patience` must be a positive integer, but got " + re.escape(repr(patience))):
        TuningSpec.from_dict(minimal(completion={"patience": patience}))


@pytest.mark.parametrize("kwargs, match", [
    ({"enabled": "yes"}, r"`warm_pool.enabled` must be true or false, but got 'yes'"),
    ({"enabled": 1}, r"`warm_pool.enabled` must be true or false, but got 1"),
    ({"max_trials_per_worker": 0}, r"`warm_pool.max_trials_per_worker` must be a positive integer, but got 0"),
    ({"max_trials_per_worker": 2.5}, r"`warm_pool.max_trials_per_worker` must be a positive integer, but got 2.5"),
    ({"max_memory_mb": -1}, r"`warm_pool.max_memory_mb` must be a positive number, but got -1"),
    ({"max_memory_mb": math.inf}, r"`warm_pool.max_memory_mb` must be a positive number, but got inf"),
])
def test_warm_pool(kwargs, match):
    with raises(match):
        TuningSpec.from_dict(minimal(warm_pool=kwargs))


@pytest.mark.parametrize("kwargs, match", [
    ({"min_resource": 5, "max_resource": 2}, r"`hyperband.min_resource <= hyperband.max_resource` must hold, "
                                             r"but got min_resource=5, max_resource=2"),
    ({"min_resource": 0}, r"`hyperband.min_resource` must be a positive integer, but got 0"),
    ({"max_resource": -1}, r"`hyperband.max_resource` must be a positive integer, but got -1"),
    ({"reduction_factor": 1}, r"`hyperband.reduction_factor` must be an integer >= 2, but got 1"),
    ({"reduction_factor": 2.0}, r"`hyperband.reduction_factor` must be an integer >= 2, but got 2.0"),
    ({"reduction_factor": True}, r"`hyperband.reduction_factor` must be an integer >= 2, but got True"),
])
def test_hyperband(kwargs, match):
    with raises(match):
        TuningSpec.from_dict(minimal(hyperband=kwargs))
    assert Hyperband(3, 3).max_resource == 3


@pytest.mark.parametrize("bad", [0, -2, True, 1.0])
def test_max_consecutive_failures(bad):
    with raises(r"`max_consecutive_failures` must be a positive integer, but got " + re.escape(repr(bad))):
        TuningSpec.from_dict(minimal(max_consecutive_failures=bad))


# -- objective ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"direction": "max"}, r"`objective.direction` must be one of maximize, minimize, but got 'max'"),
    ({"direction": 1}, r"`objective.direction` must be one of .* but got 1"),
    ({"metric": "1auc"}, r"`objective.metric` must be a name of .* but got '1auc'"),
    ({"metric": "val auc"}, r"`objective.metric` must be a name .* but got 'val auc'"),
    ({"metric": ""}, r"`objective.metric` must be a name .* but got ''"),
    ({"metric": 5}, r"`objective.metric` must be a name .* but got 5"),
    ({"regex": "auc=([0-9"}, r"`objective.regex` must be a valid regular expression \(.*\), but got 'auc=\(\[0-9'"),
    ({"regex": 5}, r"`objective.regex` must be a valid regular expression .* but got 5"),
    ({"regex": r"auc=\S+"}, r"`objective.regex` must have exactly one capture group \(the value\), but got"),
    ({"regex": r"(auc)=(\S+)"}, r"`objective.regex` must have exactly one capture group"),
])
def test_objective_errors(kwargs, match):
    with raises(match):
        TuningSpec.from_dict(minimal(objective=kwargs))


def test_objective_valid():
    assert Objective("val-auc:x.y_1", "MAXIMIZE").direction == "maximize"
    assert Objective(regex=r"score (?:is )?(\d+)").pattern == r"score (?:is )?(\d+)"


@pytest.mark.parametrize("line, value", [
    ("auc=0.8123", "0.8123"), ("auc: 0.8", "0.8"), ("auc=1e-3", "1e-3"), ("epoch 3 auc = -2.5E+2", "-2.5E+2"),
    ("auc=.5", ".5"), ("val-auc=0.7", "0.7"), ("auc=nan", "nan"), ("auc=-inf", "-inf"),
    # other languages' spellings (R, Java, JavaScript, Julia): found, so the trial fails as "not finite"
    ("auc=NaN", "NaN"), ("auc: -Inf", "-Inf"), ("auc=Infinity", "Infinity"), ("auc=-INF", "-INF"),
])
def test_default_pattern_matches(line, value):
    m = re.search(Objective(metric="auc").pattern, line)
    assert m is not None and m.group(1) == value
    assert float(m.group(1)) == float(value) or math.isnan(float(value))


@pytest.mark.parametrize("line", ["xauc=0.5", "val_auc=0.5", "auc 0.5", "auc=", "AUC=0.5"])
def test_default_pattern_does_not_match(line):
    assert re.search(Objective(metric="auc").pattern, line) is None


def test_default_pattern_escapes_metric():
    pattern = Objective(metric="val.loss").pattern
    assert re.search(pattern, "val.loss=0.25").group(1) == "0.25"
    assert re.search(pattern, "valXloss=0.25") is None


# -- strategy, early stopping, backend, seed ---------------------------------------------------

@pytest.mark.parametrize("field, bad, choices", [
    ("strategy", "tpe", "bayesian, random, grid, hyperband"), ("strategy", 3, "bayesian"),
    ("early_stopping", "asha", "off, median, hyperband, kfold"), ("early_stopping", True, "off"),
    ("backend", "aws", "local, sagemaker, amt"), ("backend", 1, "local"),
])
def test_unknown_choices(field, bad, choices):
    with raises(re.escape(f"`{field}` must be one of {choices}") + r".*, but got " + re.escape(repr(bad))):
        TuningSpec.from_dict(minimal(**{field: bad}))


def test_backend_mapping_name_checked():
    with raises(r"`backend` must be one of local, sagemaker, amt, but got 'k8s'"):
        TuningSpec.from_dict(minimal(backend={"name": "k8s"}))
    assert TuningSpec.from_dict(minimal(backend={"options": None})).backend == "local"


@pytest.mark.parametrize("seed", [-1, True, 1.5, "3"])
def test_seed(seed):
    with raises(r"`seed` must be an integer from 0 to 4294967295, but got " + re.escape(repr(seed))):
        TuningSpec.from_dict(minimal(seed=seed))
    assert TuningSpec.from_dict(minimal(seed=0)).seed == 0


@pytest.mark.parametrize("early", ["median", "kfold"])
def test_hyperband_strategy_rejects_other_early_stopping(early):
    with raises(r"the hyperband strategy does its own early stopping, .* but got " + repr(early)):
        TuningSpec.from_dict(minimal(strategy="hyperband", early_stopping=early))
    ok = TuningSpec.from_dict(minimal(strategy="hyperband"))
    assert ok.pruner_kind == "hyperband" and ok.early_stopping == "off"
    assert TuningSpec.from_dict(minimal(early_stopping=early)).pruner_kind == early


def test_grid_strategy_needs_float_steps():
    with raises(r"`space`: grid search needs a `step` for float parameter 'x', but it has none"):
        TuningSpec.from_dict(minimal(strategy="grid"))
    spec = TuningSpec.from_dict(minimal(strategy="grid", space={"x": {"type": "float", "low": 0, "high": 1,
                                                                      "step": 0.5}, "n": [1, 2]}))
    assert spec.strategy == "grid" and spec.space.grid() == {"x": [0.0, 0.5, 1.0], "n": [1, 2]}


def test_direct_construction_checks():
    space = SearchSpace([IntParam("n", 1, 3)])
    trial = TrialDef(function=objective_fn)
    spec = TuningSpec(name="direct", trial=trial, space=space)
    assert spec.strategy == "bayesian" and spec.replace(seed=4).seed == 4
    with raises(r"`space` must be a SearchSpace, but got \{'n': \[1, 2\]\}"):
        TuningSpec(name="direct", trial=trial, space={"n": [1, 2]})
    with raises(r"`backend_options` must be a mapping, but got 'x'"):
        TuningSpec(name="direct", trial=trial, space=space, backend_options="x")
    with raises(r"`seed` must be an integer from 0 to 4294967295, but got -5"):
        spec.replace(seed=-5)


def test_a_regex_for_a_function_trial_is_refused_not_ignored():
    """A function's return value is its metric: a regex that could never be used is refused in one line."""
    message = ("`objective.regex` finds the metric in a script's output, but the trial is a function, whose return "
               "value is the metric; remove it (or use `trial.script`), but got " + repr(r"auc=(\S+)") + ".")
    with pytest.raises(SpecError, match="^" + re.escape(message) + "$"):
        TuningSpec.from_dict({"trial": {"function": objective_fn}, "space": SPACE,
                              "objective": {"metric": "auc", "regex": r"auc=(\S+)"}})
    assert TuningSpec.from_dict({"trial": {"function": objective_fn}, "space": SPACE,
                                 "objective": {"metric": "auc"}}).objective.regex is None


def test_a_stored_spec_with_a_worker_trial_limit_and_no_warm_pool_still_loads(tmp_path):
    """Jobs launched before the refusal keep loading (show, resume): the rule is checked at launch only."""
    data = {"name": "old-job", "trial": {"function": "tests.objectives:quadratic"}, "space": SPACE,
            "warm_pool": {"enabled": False, "max_trials_per_worker": 10}}
    spec = TuningSpec.from_stored(data, tmp_path)
    assert spec.warm_pool == WarmPool(False, 10, None)


def test_the_default_metric_regex_reads_what_the_readme_says():
    """README, "A script trial": ``auc=0.78`` or ``auc: 0.78``, also inside a longer line, not ``auc_train=``."""
    spec = TuningSpec.from_dict(minimal(objective={"metric": "auc", "direction": "maximize"}))
    pattern = re.compile(spec.objective.pattern)
    found = {line: pattern.findall(line) for line in ("auc=0.78", "auc: 0.78", "val auc: 0.78", "train auc: 0.99",
                                                       "auc_train=0.5", "train_auc=0.5", "fold 2 auc=-1e-3")}
    assert found == {"auc=0.78": ["0.78"], "auc: 0.78": ["0.78"], "val auc: 0.78": ["0.78"],
                     "train auc: 0.99": ["0.99"], "auc_train=0.5": [], "train_auc=0.5": [],
                     "fold 2 auc=-1e-3": ["-1e-3"]}


def test_the_readmes_reference_spec_is_valid_as_written(tmp_path):
    """The annotated spec in the README ("The spec (YAML)") had a script trial with constraints, which the README
    itself says are refused for a script."""
    import re

    import yaml

    from tests.conftest import REPO

    block = re.search(r"```yaml\n(name: credit-xgb .*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    (tmp_path / "train.py").write_text("print('auc=0.5')\n")
    spec = TuningSpec.from_dict(yaml.safe_load(block), base_dir=tmp_path)
    assert spec.name == "credit-xgb" and spec.trial.script.endswith("train.py") and "rate_drop" in spec.space


def test_the_sagemaker_examples_amt_variant_is_what_its_comment_says(tmp_path):
    """examples/credit_default/sagemaker.yaml: "or amt ... (then drop keep_alive_s)" was refused for its
    early_stopping: kfold; the comment now names both changes, and with both the spec is an amt one."""
    import yaml

    from tests.conftest import EXAMPLE

    text = (EXAMPLE / "sagemaker.yaml").read_text()
    assert "early_stopping: median or off" in text
    from jupyter_hpo import api

    data = yaml.safe_load(text)
    data["trial"]["script"] = str(EXAMPLE / data["trial"]["script"])
    data["backend"]["name"] = "amt"
    data["backend"]["options"].pop("keep_alive_s", None)
    with pytest.raises(SpecError, match="`early_stopping: kfold` is not available on the amt backend"):
        api.plan(data)
    data["early_stopping"] = "median"
    assert api.plan(data)["backend"] == "amt"


def test_yaml_merge_keys_share_a_parameters_fields_and_may_override_them():
    """`<<: *base` is standard YAML (yaml.safe_load reads it); the repeated-key check built the merge key itself
    and refused every spec using one with PyYAML's internal tag name."""
    spec = TuningSpec.from_yaml(
        "trial: {function: 'tests.objectives:quadratic'}\n"
        "space:\n"
        "  x: &unit {type: float, low: 0.01, high: 2}\n"
        "  y: {<<: *unit, scaling: log, low: 0.1}\n")
    assert spec.space.to_dict()["y"] == {"type": "float", "low": 0.1, "high": 2, "scaling": "log"}
    # a preset that merges another, merged in turn: the inner merge rewrote the preset's node in place, which then
    # read as repeating the key it overrides ("the key 'high' appears twice")
    nested = TuningSpec.from_yaml(
        "trial: {function: 'tests.objectives:quadratic'}\nspace:\n  a: &unit {type: float, low: 0.01, high: 2}\n"
        "  b: &wide {<<: *unit, high: 20}\n  c: {<<: *wide, scaling: log}\n")
    assert nested.space.to_dict()["c"] == {"type": "float", "low": 0.01, "high": 20, "scaling": "log"}
    assert nested.space.to_dict()["b"] == {"type": "float", "low": 0.01, "high": 20}
    import yaml

    from jupyter_hpo._yaml import load_yaml

    deeper = ("sleep: 0.1\npresets:\n  small: &small {layers: 2, width: 64, dropout: 0.1}\n"
              "  wide: &wide {<<: *small, width: 256}\nmodel: {<<: *wide, dropout: 0.2}\n")
    assert load_yaml(deeper) == yaml.safe_load(deeper)
    with pytest.raises(SpecError, match=r"the key 'low' appears twice"):  # among a mapping's own keys: refused
        TuningSpec.from_yaml("trial: {function: 'tests.objectives:quadratic'}\nspace:\n"
                             "  x: &unit {type: float, low: 0.01, high: 2}\n  y: {<<: *unit, low: 0.1, low: 0.2}\n")


@pytest.mark.parametrize("value", ["2024-01-01", "!!binary aGk=", "!!set {a, b}"])
def test_a_static_hyperparameter_json_cannot_hold_is_refused_naming_it(value):
    """A YAML date as a static hyperparameter was refused by the store ("cannot create job ... in the store:
    TypeError: Object of type date is not JSON serializable"), naming no field."""
    with pytest.raises(SpecError, match=r"^`trial.hyperparameters.cutoff` must be text, a number, true/false, null, "
                                        r"or a list or mapping of them \(the spec is kept as JSON; quote a date"):
        TuningSpec.from_yaml("trial:\n  function: 'tests.objectives:quadratic'\n  hyperparameters:\n"
                             f"    cutoff: {value}\nspace: {{x: [1, 2]}}\n")
    quoted = TuningSpec.from_yaml("trial: {function: 'tests.objectives:quadratic', hyperparameters: {cutoff: "
                                  "'2024-01-01'}}\nspace: {x: [1, 2]}\n")
    assert quoted.trial.hyperparameters == {"cutoff": "2024-01-01"}
