"""Tests of jupyter_hpo.space: parameters, search spaces and their conversions."""

from __future__ import annotations

import json
import math
import re

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from jupyter_hpo.exceptions import HpoError, SearchSpaceError
from jupyter_hpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace


def raises(match: str):
    return pytest.raises(SearchSpaceError, match=match)


def mixed_space() -> SearchSpace:
    return SearchSpace([
        IntParam("depth", 2, 8),
        IntParam("trees", 10, 100, step=10),
        IntParam("leaves", 2, 256, scaling="log"),
        FloatParam("eta", 0.01, 0.3, scaling="log"),
        FloatParam("frac", 0.5, 1.0, step=0.25),
        FloatParam("momentum", 0.5, 0.999, scaling="reverse_log"),
        FloatParam("alpha", -1.0, 1.0),
        CategoricalParam("booster", ("gbtree", "dart", 3, 0.5, True, None)),
    ])


def test_error_types_subclass_value_error():
    assert issubclass(SearchSpaceError, ValueError) and issubclass(SearchSpaceError, HpoError)


# -- construction ------------------------------------------------------------------------------

def test_valid_params_and_defaults():
    p = IntParam("max_depth", 2, 10)
    assert (p.low, p.high, p.step, p.scaling, p.kind) == (2, 10, 1, "linear", "int")
    f = FloatParam("eta", 1, 3)
    assert (f.low, f.high, f.step, f.scaling, f.kind) == (1.0, 3.0, None, "linear", "float")
    assert isinstance(f.low, float) and isinstance(f.high, float)
    c = CategoricalParam("booster", ["gbtree", "dart"])
    assert c.choices == ("gbtree", "dart") and c.kind == "categorical"
    assert FloatParam("m", 0.0, 0.99, scaling="reverse_log").scaling == "reverse_log"
    assert IntParam("n", 0, 10, step=5).values() == [0, 5, 10]


@pytest.mark.parametrize("name", ["x", "_x", "X9", "a.b-c_d", "a" * 64])
def test_valid_names(name):
    assert IntParam(name, 0, 1).name == name


@pytest.mark.parametrize("name", ["", "1x", "-x", ".x", "a b", "a/b", "a" * 65, 5, None])
@pytest.mark.parametrize("make", [
    lambda n: IntParam(n, 0, 1), lambda n: FloatParam(n, 0, 1), lambda n: CategoricalParam(n, ["a"]),
])
def test_bad_names(make, name):
    with raises(r"parameter name must start .* but got " + re.escape(repr(name))):
        make(name)


@pytest.mark.parametrize("scaling, expected", [
    ("Auto", "auto"), ("LINEAR", "linear"), ("Logarithmic", "log"), ("logarithmic", "log"),
    ("log", "log"), (" Log ", "log"), ("ReverseLogarithmic", "reverse_log"),
    ("reverselogarithmic", "reverse_log"), ("reverselog", "reverse_log"), ("reverse-log", "reverse_log"),
    ("reverse_log", "reverse_log"),
])
def test_scaling_names_mapped(scaling, expected):
    assert FloatParam("x", 0.1, 0.9, scaling=scaling).scaling == expected
    if expected != "reverse_log":
        assert IntParam("n", 1, 9, scaling=scaling).scaling == expected


@pytest.mark.parametrize("scaling", ["cubic", "", None, 1, "Exponential"])
def test_unknown_scaling(scaling):
    with raises(r"`scaling` of 'x' must be one of linear, log, reverse_log, auto, but got " + re.escape(repr(scaling))):
        FloatParam("x", 0.1, 0.9, scaling=scaling)


@pytest.mark.parametrize("make, message", [
    (lambda: IntParam("x", 5, 5), "`low < high` must hold for 'x', but got low=5, high=5."),
    (lambda: IntParam("x", 6, 2), "`low < high` must hold for 'x', but got low=6, high=2."),
    (lambda: FloatParam("x", 1.0, 1.0), "`low < high` must hold for 'x', but got low=1.0, high=1.0."),
    (lambda: FloatParam("x", 2, -3), "`low < high` must hold for 'x', but got low=2.0, high=-3.0."),
    (lambda: IntParam("x", 0, 9, scaling="log"), "`low` must be > 0 for log scaling of 'x', but got low=0."),
    (lambda: IntParam("x", -2, 9, scaling="log"), "`low` must be > 0 for log scaling of 'x', but got low=-2."),
    (lambda: FloatParam("x", 0, 9, scaling="Logarithmic"),
     "`low` must be > 0 for log scaling of 'x', but got low=0.0."),
    (lambda: FloatParam("x", -0.5, 9, scaling="log"), "`low` must be > 0 for log scaling of 'x', but got low=-0.5."),
    (lambda: FloatParam("m", -0.1, 0.5, scaling="reverse_log"),
     "`0 <= low < high < 1` must hold for reverse-log scaling of 'm', but got low=-0.1, high=0.5."),
    (lambda: FloatParam("m", 0.5, 1, scaling="reverse_log"), "reverse-log scaling of 'm', but got low=0.5, high=1.0."),
    (lambda: FloatParam("m", 0.5, 1.5, scaling="reverse_log"),
     "reverse-log scaling of 'm', but got low=0.5, high=1.5."),
    (lambda: FloatParam("m", 0.2, 0.1, scaling="reverse_log"),
     "`low < high` must hold for 'm', but got low=0.2, high=0.1"),
    (lambda: IntParam("n", 0, 1, scaling="ReverseLogarithmic"),
     "reverse-log scaling is for float parameters only, but 'n' is an int."),
    (lambda: IntParam("n", 0, 10, step=0), "`step` of 'n' must be >= 1, but got step=0."),
    (lambda: IntParam("n", 0, 10, step=-1), "`step` of 'n' must be >= 1, but got step=-1."),
    (lambda: IntParam("n", 0, 10, step=3),
     "`high - low` must be a multiple of `step` for 'n', but got low=0, high=10, step=3."),
    (lambda: IntParam("n", 1, 9, step=2, scaling="log"), "`step` must be 1 for log scaling of 'n', but got step=2."),
    (lambda: FloatParam("x", 0, 1, step=0), "`step` of 'x' must be > 0, but got step=0."),
    (lambda: FloatParam("x", 0, 1, step=-0.1), "`step` of 'x' must be > 0, but got step=-0.1."),
    (lambda: FloatParam("x", 0.1, 0.9, scaling="log", step=0.1), "`step` cannot be combined with log scaling for 'x'."),
    (lambda: FloatParam("x", 0.1, 0.9, scaling="reverse_log", step=0.1),
     "`step` cannot be combined with reverse_log scaling for 'x'."),
])
def test_range_and_step_rules(make, message):
    with raises(re.escape(message)):
        make()


@pytest.mark.parametrize("field, kwargs, bad", [
    ("low", {"low": 1.5, "high": 3}, 1.5), ("high", {"low": 1, "high": 3.0}, 3.0),
    ("low", {"low": True, "high": 3}, True), ("high", {"low": 0, "high": "3"}, "3"),
    ("step", {"low": 0, "high": 4, "step": 2.0}, 2.0), ("step", {"low": 0, "high": 4, "step": True}, True),
    ("step", {"low": 0, "high": 4, "step": None}, None),
])
def test_int_fields_must_be_integers(field, kwargs, bad):
    with raises(re.escape(f"`{field}` of 'n' must be an integer, but got {bad!r}.")):
        IntParam("n", **kwargs)


@pytest.mark.parametrize("field, kwargs, bad", [
    ("low", {"low": math.nan, "high": 1}, math.nan), ("high", {"low": 0, "high": math.inf}, math.inf),
    ("low", {"low": -math.inf, "high": 1}, -math.inf), ("low", {"low": False, "high": 1}, False),
    ("high", {"low": 0, "high": True}, True), ("high", {"low": 0, "high": "1"}, "1"),
    ("step", {"low": 0, "high": 1, "step": math.nan}, math.nan), ("step", {"low": 0, "high": 1, "step": True}, True),
])
def test_float_fields_must_be_finite_numbers(field, kwargs, bad):
    with raises(re.escape(f"`{field}` of 'x' must be a finite number, but got {bad!r}.")):
        FloatParam("x", **kwargs)


def test_categorical_choice_types():
    c = CategoricalParam("c", ["a", 1, 2.5, False, None])
    assert c.choices == ("a", 1, 2.5, False, None)
    assert CategoricalParam("c", (x for x in "ab")).choices == ("a", "b")  # any iterable
    assert CategoricalParam("c", [1, "1", None, "true"]).choices == (1, "1", None, "true")


@pytest.mark.parametrize(("choices", "a", "b"), [
    ([1, 1.0], "1", "1.0"), ([1, True], "1", "True"), ([0, 0.0, False], "0", "0.0"), (["x", False, 0], "False", "0"),
])
def test_categorical_choices_equal_in_python_are_refused(choices, a, b):
    """Optuna records a choice by the first equal one: True would be stored as 1 although the trial ran True."""
    with raises(re.escape(f"`choices` of 'c' must differ in value, but {a} and {b} are equal in Python")):
        CategoricalParam("c", choices)


@pytest.mark.parametrize("choices", ["abc", b"ab", 5, None])
def test_categorical_choices_must_be_a_list(choices):
    with raises(re.escape(f"`choices` of 'c' must be a list, but got {choices!r}.")):
        CategoricalParam("c", choices)


def test_categorical_choices_not_empty():
    with raises(r"`choices` of 'c' must not be empty"):
        CategoricalParam("c", [])


@pytest.mark.parametrize("bad", [[1], {"a": 1}, math.nan, math.inf, object, (1, 2)])
def test_categorical_bad_choice_type(bad):
    with raises(r"each choice of 'c' must be .* but got " + re.escape(repr(bad))):
        CategoricalParam("c", ["ok", bad])


@pytest.mark.parametrize("choices, dup", [(["a", "b", "a"], "a"), ([1, 2, 1], 1), ([None, None], None)])
def test_categorical_unique(choices, dup):
    with raises(re.escape(f"`choices` of 'c' must be unique, but {dup!r} repeats.")):
        CategoricalParam("c", choices)


# -- from_dict / YAML / JSON ---------------------------------------------------------------------

def test_from_dict_all_kinds():
    space = SearchSpace.from_dict({
        "depth": {"type": "int", "low": 2, "high": 8},
        "trees": {"type": "Integer", "low": 10, "high": 100, "step": 10},
        "eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "Logarithmic"},
        "frac": {"type": "continuous", "low": 0, "high": 1, "step": 0.5},
        "booster": ["gbtree", "dart"],
        "kind": {"choices": ["a", "b"]},
        "mode": {"type": "CATEGORICAL", "choices": [1, 2]},
    })
    assert list(space) == ["depth", "trees", "eta", "frac", "booster", "kind", "mode"]
    assert len(space) == 7
    assert space["depth"] == IntParam("depth", 2, 8)
    assert space["trees"] == IntParam("trees", 10, 100, step=10)
    assert space["eta"] == FloatParam("eta", 0.01, 0.3, scaling="log")
    assert space["frac"] == FloatParam("frac", 0.0, 1.0, step=0.5)
    assert space["booster"] == CategoricalParam("booster", ("gbtree", "dart"))
    assert space["kind"].choices == ("a", "b") and space["mode"].choices == (1, 2)
    assert SearchSpace.from_dict(space) is space


@pytest.mark.parametrize("body, match", [
    (5, r"parameter 'x' must be a mapping with a `type` .* but got 5"),
    ("int", r"parameter 'x' must be a mapping .* but got 'int'"),
    ({"low": 1, "high": 2}, r"`type` of 'x' must be one of int, float, categorical, but got None"),
    ({"type": "bool"}, r"`type` of 'x' must be one of int, float, categorical, but got 'bool'"),
    ({"type": 3, "low": 1, "high": 2}, r"`type` of 'x' must be one of .* but got 3"),
    ({"type": "int", "low": 1, "high": 5, "max": 9},
     r"unknown field\(s\) 'max' for int parameter 'x'; allowed: high, low, scaling, step"),
    ({"type": "float", "low": 0, "high": 1, "choices": [1], "b": 2},
     r"unknown field\(s\) 'b', 'choices' for float parameter 'x'"),
    ({"type": "categorical", "choices": [1], "low": 0},
     r"unknown field\(s\) 'low' for categorical parameter 'x'; allowed: choices"),
    ({"type": "int", "low": 1}, r"int parameter 'x' needs high\."),
    ({"type": "float"}, r"float parameter 'x' needs high and low\."),
    ({"type": "categorical"}, r"categorical parameter 'x' needs choices\."),
    ({"type": "float", "low": 1, "high": 0}, r"`low < high` must hold for 'x', but got low=1.0, high=0.0"),
])
def test_from_dict_bad_parameter(body, match):
    with raises(match):
        SearchSpace.from_dict({"x": body})


@pytest.mark.parametrize("data, match", [
    ({}, r"needs at least one parameter, but got none"),
    (None, r"must be a mapping of names to parameters, but got None"),
    ([["a", "b"]], r"must be a mapping of names to parameters, but got \[\['a', 'b'\]\]"),
    ({"1bad": [1, 2]}, r"parameter name .* but got '1bad'"),
    ({3: [1, 2]}, r"parameter name .* but got 3"),
])
def test_from_dict_bad_space(data, match):
    with raises(match):
        SearchSpace.from_dict(data)


def test_duplicate_names_and_non_params():
    with raises(r"parameter names must be unique, but 'a' repeats"):
        SearchSpace([IntParam("a", 0, 1), FloatParam("a", 0, 1)])
    with raises(r"a search space holds parameters, but got \{'a': 1\}"):
        SearchSpace([{"a": 1}])


def test_dict_yaml_json_round_trips():
    space = mixed_space()
    d = space.to_dict()
    assert d["trees"] == {"type": "int", "low": 10, "high": 100, "step": 10}
    assert d["depth"] == {"type": "int", "low": 2, "high": 8}
    assert d["momentum"] == {"type": "float", "low": 0.5, "high": 0.999, "scaling": "reverse_log"}
    assert d["frac"] == {"type": "float", "low": 0.5, "high": 1.0, "step": 0.25}
    assert d["booster"] == {"type": "categorical", "choices": ["gbtree", "dart", 3, 0.5, True, None]}
    assert SearchSpace.from_dict(d) == space
    assert SearchSpace.from_yaml(space.to_yaml()) == space
    assert SearchSpace.from_yaml(space.to_json()) == space
    assert json.loads(space.to_json()) == d
    assert space != SearchSpace([IntParam("depth", 2, 8)]) and space != d


def test_from_yaml_and_json_text():
    text = ("depth: {type: int, low: 2, high: 8}\n"
            "eta:\n  type: float\n  low: 0.01\n  high: 0.3\n  scaling: log\n"
            "booster: [gbtree, dart]\n")
    space = SearchSpace.from_yaml(text)
    assert space == SearchSpace([IntParam("depth", 2, 8), FloatParam("eta", 0.01, 0.3, "log"),
                                 CategoricalParam("booster", ("gbtree", "dart"))])
    js = '{"x": {"type": "float", "low": -1, "high": 1}, "c": ["a", 2, null, true]}'
    expected = SearchSpace([FloatParam("x", -1, 1), CategoricalParam("c", ("a", 2, None, True))])
    assert SearchSpace.from_yaml(js) == expected


@pytest.mark.parametrize("text", [
    '{"lr": {"type": "float", "low": 1e-5, "high": 1e-1, "scaling": "log"}, "c": [1e-3, 1E-2, true]}',  # JSON
    "lr: {type: float, low: 1e-5, high: 1e-1, scaling: log}\nc: [1e-3, 1E-2, true]\n",  # YAML
])
def test_numbers_in_exponent_notation_are_numbers_in_yaml_and_json(text):
    """`1e-3` is a number in JSON and in YAML 1.2; PyYAML (YAML 1.1) read it as the string '1e-3', so a JSON
    body of `%%hpo space` gave trials the string '1e-3' and `low: 1e-5` was refused as not a number."""
    space = SearchSpace.from_yaml(text)
    assert space == SearchSpace([FloatParam("lr", 1e-5, 0.1, "log"), CategoricalParam("c", (0.001, 0.01, True))])
    assert [type(v) for v in space["c"].choices] == [float, float, bool]
    assert SearchSpace.from_yaml("c: ['1e-3', 1e3x, 1e]")["c"].choices == ("1e-3", "1e3x", "1e")  # still text
    texts = SearchSpace.from_dict({"c": ["1e-3", 1e-3, "1E5", "+2e1"]})
    assert SearchSpace.from_yaml(texts.to_yaml()) == texts  # the text written quoted, so it reads back as text


@pytest.mark.parametrize("text, match", [
    ("x: [1, 2", r"the search space is not valid YAML"),
    ("x: {type: int, low: 1: 2}", r"the search space is not valid YAML"),
    ("", r"must be a mapping of names to parameters, but got None"),
    ("- a\n- b\n", r"must be a mapping of names to parameters"),
    ("x: {type: int, low: 1, high: 1}", r"`low < high` must hold for 'x'"),
])
def test_from_yaml_errors(text, match):
    with raises(match):
        SearchSpace.from_yaml(text)


# -- Optuna ------------------------------------------------------------------------------------

def test_to_optuna_distributions():
    d = mixed_space().to_optuna()
    assert list(d) == ["depth", "trees", "leaves", "eta", "frac", "1-momentum", "alpha", "booster"]
    assert d["depth"] == IntDistribution(2, 8, log=False, step=1)
    assert d["trees"] == IntDistribution(10, 100, log=False, step=10)
    assert d["leaves"] == IntDistribution(2, 256, log=True, step=1)
    assert d["eta"] == FloatDistribution(0.01, 0.3, log=True)
    assert d["frac"] == FloatDistribution(0.5, 1.0, step=0.25)
    assert d["alpha"] == FloatDistribution(-1.0, 1.0)
    rev = d["1-momentum"]
    assert isinstance(rev, FloatDistribution) and rev.log and rev.step is None
    assert rev.low == pytest.approx(0.001) and rev.high == pytest.approx(0.5)
    assert isinstance(d["booster"], CategoricalDistribution)
    assert d["booster"].choices == ("gbtree", "dart", 3, 0.5, True, None)
    auto = SearchSpace([FloatParam("a", 1, 2, scaling="auto")]).to_optuna()["a"]
    assert auto == FloatDistribution(1.0, 2.0, log=False)


def test_optuna_name_mapping_is_inverse():
    space = mixed_space()
    values = {"depth": 3, "trees": 20, "leaves": 4, "eta": 0.1, "frac": 0.75, "momentum": 0.9,
              "alpha": 0.0, "booster": None}
    opt = space.to_optuna_params(values)
    assert set(opt) == set(space.to_optuna())
    assert opt["1-momentum"] == pytest.approx(0.1) and "momentum" not in opt
    back = space.from_optuna(opt)
    assert back == {**values, "momentum": pytest.approx(0.9)}
    assert space.from_optuna({**opt, "extra": 1}) == back  # unknown keys ignored


def test_sampling_with_optuna_random_sampler():
    space = mixed_space()
    dists = space.to_optuna()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    momentums = []
    for _ in range(60):
        trial = study.ask(fixed_distributions=dists)
        v = space.from_optuna(trial.params)
        assert list(v) == list(space)
        for name, p in space.items():
            if p.kind == "categorical":
                assert v[name] in p.choices
            else:
                assert p.low <= v[name] <= p.high
        assert v["trees"] % 10 == 0 and isinstance(v["depth"], int)
        assert v["frac"] in (0.5, 0.75, 1.0)
        back = space.to_optuna_params(v)
        assert set(back) == set(trial.params)
        assert back["1-momentum"] == pytest.approx(trial.params["1-momentum"])
        assert {k: x for k, x in back.items() if k != "1-momentum"} == {
            k: x for k, x in trial.params.items() if k != "1-momentum"}
        momentums.append(v["momentum"])
        study.tell(trial, 0.0)
    # reverse-log puts most samples close to 1: the median lies well above the range's midpoint
    assert sorted(momentums)[30] > (0.5 + 0.999) / 2


# -- grid / parse ------------------------------------------------------------------------------

def test_grid_values():
    space = SearchSpace([IntParam("n", 0, 10, step=5), FloatParam("x", 0, 1, step=0.25),
                         FloatParam("y", 0, 1, step=0.1), CategoricalParam("c", ("a", None))])
    g = space.grid()
    assert g["n"] == [0, 5, 10] and g["x"] == [0.0, 0.25, 0.5, 0.75, 1.0] and g["c"] == ["a", None]
    assert g["y"] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert IntParam("d", 2, 5).values() == [2, 3, 4, 5]


def test_grid_float_needs_step():
    with raises(r"grid search needs a `step` for float parameter 'x', but it has none"):
        SearchSpace([IntParam("n", 0, 2), FloatParam("x", 0, 1)]).grid()


def test_parse_strings():
    space = SearchSpace([IntParam("n", 0, 10), FloatParam("x", 0, 1),
                         CategoricalParam("c", ("a", 3, 0.5)), CategoricalParam("b", ("gbtree", "dart"))])
    out = space.parse({"n": "7", "x": "0.25", "c": "3", "b": "dart", "other": "keep"})
    assert out == {"n": 7, "x": 0.25, "c": 3, "b": "dart", "other": "keep"}
    assert isinstance(out["n"], int) and isinstance(out["x"], float)
    assert space.parse({"n": "4.0", "c": "0.5"}) == {"n": 4, "c": 0.5}
    assert space.parse({"n": 5, "c": "a"}) == {"n": 5, "c": "a"}
    with raises(r"'z' is not one of the choices of 'b': \['gbtree', 'dart'\]"):
        space.parse({"b": "z"})
    with pytest.raises(ValueError):
        space.parse({"n": "seven"})
