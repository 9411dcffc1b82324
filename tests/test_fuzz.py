"""Property-based tests of everything a user types: search spaces, specs (dict and YAML), magic arguments.

The property: every input is either accepted, or rejected with the project's own error type and a
message naming the field; never another exception. Accepted spaces behave (round trips, sampling).
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jupyter_hpo.exceptions import SearchSpaceError, SpecError
from jupyter_hpo.space import SearchSpace
from jupyter_hpo.spec import TuningSpec

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["log", "linear", "auto", "reverse_log", "Logarithmic", "int", "float", "categorical", ""]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
names = st.one_of(st.text(max_size=10), st.sampled_from(["x", "eta", "max_depth", "1-x", "a b", "<script>"]))
param_body = st.one_of(
    values,
    st.fixed_dictionaries({}, optional={
        "type": st.one_of(st.sampled_from(["int", "float", "categorical", "integer", "continuous", "bogus"]), values),
        "low": st.one_of(st.integers(-100, 100), st.floats(), values),
        "high": st.one_of(st.integers(-100, 100), st.floats(), values),
        "step": st.one_of(st.integers(-3, 10), st.floats(), values),
        "scaling": st.one_of(st.sampled_from(["linear", "log", "reverse_log", "auto", "Auto", "Logarithmic",
                                              "ReverseLogarithmic", "nope"]), values),
        "choices": st.one_of(st.lists(scalars, max_size=5), values),
        "bogus": values,
    }),
)
space_dicts = st.dictionaries(names, param_body, max_size=4)


def names_a_field(message: str) -> bool:
    """A rejection message names what is wrong: a quoted `field`, 'parameter' or value, or the section."""
    quoted = re.search(r"`[^`]+`|'[^']*'|\"[^\"]*\"", message)
    return bool(quoted) or any(word in message for word in ("search space", "a spec"))


@FUZZ
@given(space_dicts)
def test_any_space_dict_is_accepted_or_rejected_with_a_search_space_error(data):
    try:
        space = SearchSpace.from_dict(data)
    except SearchSpaceError as e:
        assert names_a_field(str(e)), str(e)
        return
    # accepted: it round-trips and converts both ways for the optimizer
    assert SearchSpace.from_dict(space.to_dict()) == space
    dists = space.to_optuna()
    assert set(space.from_optuna({k: _pick(d) for k, d in dists.items()})) == set(space)


def _pick(distribution):
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low


@FUZZ
@given(st.text(max_size=200))
def test_any_yaml_text_is_a_space_or_a_search_space_error(text):
    try:
        SearchSpace.from_yaml(text)
    except SearchSpaceError as e:
        assert str(e)


yaml_fragments = st.lists(st.sampled_from([
    "x: {type: float, low: 0, high: 1}\n", "x: [a, b]\n", "x: !!python/object/apply:os.system ['echo hi']\n",
    "y: {type: int, low: 1, high: 10, step: 3}\n", "  - a\n", "z: &a [1, 2]\nw: *a\n", "x: 1\nx: 2\n",
    "{", "]", ": :\n", "low: .nan\n", "- !!binary aGVsbG8=\n", "\t\n", "name: job\n", "space: {}\n",
    "trial: {script: nope.py}\n", "budget: {max_trials: -1}\n", "backend: sagemaker\n",
]), max_size=6).map("".join)


@FUZZ
@given(yaml_fragments)
def test_yaml_is_loaded_safely_and_errors_are_the_projects(text):
    for load, error in ((SearchSpace.from_yaml, SearchSpaceError), (TuningSpec.from_yaml, SpecError)):
        try:
            load(text)
        except error as e:
            assert str(e)


def objective(params):
    return 0.0


spec_dicts = st.fixed_dictionaries({}, optional={
    "name": st.one_of(names, values),
    "trial": st.one_of(values, st.fixed_dictionaries({"function": st.just(objective)}, optional={
        "timeout": values, "hyperparameters": values, "script": values})),
    "space": st.one_of(space_dicts, values, st.just({"x": {"type": "float", "low": 0, "high": 1}})),
    "objective": st.one_of(values, st.fixed_dictionaries({}, optional={
        "metric": st.one_of(names, values), "direction": st.one_of(st.sampled_from(["maximize", "minimize"]), values),
        "regex": st.one_of(st.sampled_from(["a=([0-9]+)", "(", "(a)(b)", "no group"]), values)})),
    "strategy": st.one_of(st.sampled_from(["bayesian", "random", "grid", "hyperband", "Grid"]), values),
    "seed": values,
    "budget": st.one_of(values, st.fixed_dictionaries({}, optional={
        "max_trials": values, "max_parallel": values, "max_runtime": values})),
    "completion": st.one_of(values, st.fixed_dictionaries({}, optional={"target": values, "patience": values})),
    "early_stopping": st.one_of(st.sampled_from(["off", "median", "kfold", "hyperband"]), values),
    "hyperband": st.one_of(values, st.fixed_dictionaries({}, optional={
        "min_resource": values, "max_resource": values, "reduction_factor": values})),
    "warm_pool": st.one_of(values, st.fixed_dictionaries({}, optional={
        "enabled": values, "max_trials_per_worker": values, "max_memory_mb": values})),
    "backend": st.one_of(st.sampled_from(["local", "sagemaker", "amt", "other"]), values),
    "max_consecutive_failures": values,
    "extra": values,
})


@FUZZ
@given(spec_dicts)
def test_any_spec_dict_is_accepted_or_rejected_with_a_spec_error_naming_the_field(data):
    try:
        spec = TuningSpec.from_dict(data)
    except SpecError as e:
        assert names_a_field(str(e)), str(e)
        return
    # accepted: its stored form is accepted again, unchanged
    again = TuningSpec.from_dict({**spec.to_dict(), "trial": {**spec.to_dict()["trial"], "function": objective}})
    assert again.to_dict() == spec.to_dict()


@FUZZ
@given(st.dictionaries(st.sampled_from(["role", "region", "image", "instance_type", "instance_count",
                                        "volume_size_gb", "keep_alive_s", "max_run_s", "s3_prefix", "inputs",
                                        "subnets", "security_group_ids", "spot", "instance_groups", "environment",
                                        "tags", "prices", "poll_s", "warm_wait_s", "warm_start", "nope"]),
                       values, max_size=5))
def test_any_sagemaker_options_are_accepted_or_rejected_with_a_spec_error(options):
    from jupyter_hpo.sagemaker import SageMakerOptions

    spec = TuningSpec.from_dict({"name": "f", "trial": {"function": objective},
                                 "space": {"x": {"type": "float", "low": 0, "high": 1}},
                                 "backend": {"name": "sagemaker", "options": options}})
    try:
        SageMakerOptions.from_spec(spec)
    except SpecError as e:
        assert "backend.options" in str(e) or "warm pools" in str(e), str(e)


# -- %hpo arguments ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_hpo.magics import HpoMagics

    ip = InteractiveShell.instance()
    ip.register_magics(HpoMagics(ip))
    yield ip
    ip.reset(new_session=False)


tokens = st.one_of(
    st.sampled_from(["launch", "space", "list", "status", "attach", "stop", "resume", "best", "compare", "help",
                     "estimate", "--max-trials", "--parallel", "-1", "0", "nan", "--backend", "sagemaker", "--name",
                     "../../etc/passwd", "'", '"', "--strategy", "grid", "--json", "--trials", "x", "--help"]),
    st.text(alphabet=string.printable, max_size=8),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(tokens, min_size=1, max_size=5).map(" ".join), st.one_of(st.none(), st.text(max_size=40)))
def test_magic_arguments_give_a_usage_error_or_a_result(shell, home_for_fuzz, line, cell):
    from IPython.core.error import UsageError
    from IPython.utils.capture import capture_output

    assume(not line.split()[0:1] == ["estimate"] or "--help" in line)  # a full estimate takes seconds
    try:
        with capture_output():
            if cell is None:
                shell.run_line_magic("hpo", line)
            else:
                shell.run_cell_magic("hpo", line, cell)
    except UsageError as e:
        assert str(e)
    # a launched job would need an objective in the namespace: none exists, so nothing may run
    from jupyter_hpo import api

    assert api.list_jobs() == []


@pytest.fixture(scope="module")
def home_for_fuzz(tmp_path_factory):
    import os

    from jupyter_hpo import api

    old = os.environ.get("JUPYTER_HPO_HOME")
    os.environ["JUPYTER_HPO_HOME"] = str(tmp_path_factory.mktemp("fuzz-home"))
    api._stores.clear()
    yield
    api._stores.clear()
    if old is None:
        os.environ.pop("JUPYTER_HPO_HOME", None)
    else:
        os.environ["JUPYTER_HPO_HOME"] = old
