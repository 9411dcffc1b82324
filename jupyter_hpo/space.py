"""Search spaces: integer, continuous and categorical parameters, with their conversions.

A :class:`SearchSpace` is built from Python, from a dict or from YAML/JSON text, validated on
construction, and converted to Optuna distributions (for the local optimizer) and to SageMaker
``ParameterRanges`` (for the cloud backends).

Example:
    >>> space = SearchSpace.from_dict({
    ...     "max_depth": {"type": "int", "low": 2, "high": 8},
    ...     "eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "log"},
    ...     "booster": ["gbtree", "dart"],
    ... })
    >>> space["eta"].scaling
    'log'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Union

from jupyter_hpo._limits import MAX_CHOICES
from jupyter_hpo._limits import short_repr as _short
from jupyter_hpo._space_checks import (  # SCALINGS and SAGEMAKER_SCALING are re-exported from here
    _CHOICE_TYPES,
    SAGEMAKER_SCALING,
    SCALINGS,
    _check_name,
    _check_number,
    _check_range,
    _check_scaling,
    _check_when,
    _same_choice,
    _when_dict,
)
from jupyter_hpo.exceptions import SearchSpaceError

__all__ = [
    "IntParam",
    "FloatParam",
    "CategoricalParam",
    "Param",
    "SearchSpace",
    "SCALINGS",
    "SAGEMAKER_SCALING",
    "argument_text",
]

_REVERSE_PREFIX = "1-"
#: The most steps a float parameter's ``step`` may make of ``high - low``: past 2**53, floats no longer tell the
#: points apart (and Optuna's exact step arithmetic fails)
MAX_FLOAT_STEPS = 2**53


def argument_text(value: Any) -> str:
    """A value as a script's command line gets it (``--name TEXT``): ``str(value)``, but a negative float that
    Python writes in scientific notation (``-5.1e-05``) is written out (``-0.000051``, the same float), since
    argparse reads ``-5.1e-05`` as an option and refuses it."""
    text = str(value)
    if isinstance(value, float) and text.startswith("-") and "e" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text


@dataclass(frozen=True)
class IntParam:
    """An integer parameter in ``[low, high]`` (both included), every ``step``.

    Example:
        >>> IntParam("max_depth", 2, 10).to_dict()
        {'type': 'int', 'low': 2, 'high': 10}
    """

    name: str
    low: int
    high: int
    step: int = 1
    scaling: str = "linear"
    #: sampled only when every parent holds one of its values: ``{"booster": ("dart",)}``; None: always
    when: Any = None
    kind = "int"

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "when", _check_when(self.name, self.when))
        _check_number(self.name, "low", self.low, integer=True)
        _check_number(self.name, "high", self.high, integer=True)
        _check_number(self.name, "step", self.step, integer=True)
        object.__setattr__(self, "scaling", _check_scaling(self.name, self.scaling))
        if self.scaling == "reverse_log":
            raise SearchSpaceError(
                f"reverse-log scaling is for float parameters only, but {self.name!r} is an int."
            )
        _check_range(self.name, self.low, self.high, self.scaling)
        if self.step < 1:
            raise SearchSpaceError(f"`step` of {self.name!r} must be >= 1, but got step={self.step}.")
        if self.step != 1 and self.scaling == "log":
            raise SearchSpaceError(
                f"`step` must be 1 for log scaling of {self.name!r}, but got step={self.step}."
            )
        if (self.high - self.low) % self.step:
            raise SearchSpaceError(
                f"`high - low` must be a multiple of `step` for {self.name!r}, but got "
                f"low={self.low}, high={self.high}, step={self.step}."
            )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.step != 1:
            out["step"] = self.step
        if self.scaling != "linear":
            out["scaling"] = self.scaling
        return {**out, **_when_dict(self.when)}

    def values(self) -> list[int]:
        """All values of the parameter (for grid search)."""
        return list(range(self.low, self.high + 1, self.step))

    def n_values(self) -> int:
        """How many values :meth:`values` lists (counted, not listed)."""
        return (self.high - self.low) // self.step + 1

    def parse(self, text: Any) -> int:
        """Type a value back from its string form (SageMaker passes hyperparameters as strings)."""
        return int(float(text))


@dataclass(frozen=True)
class FloatParam:
    """A continuous parameter in ``[low, high]``, optionally on a ``step`` grid.

    ``reverse_log`` scaling samples ``1 - x`` on a log scale, which puts more trials close to 1
    (useful for momentum or a decay rate); it needs ``0 <= low < high < 1``.

    Example:
        >>> FloatParam("eta", 0.01, 0.3, scaling="log").to_dict()
        {'type': 'float', 'low': 0.01, 'high': 0.3, 'scaling': 'log'}
    """

    name: str
    low: float
    high: float
    scaling: str = "linear"
    step: float | None = None
    #: sampled only when every parent holds one of its values; None: always
    when: Any = None
    kind = "float"

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "when", _check_when(self.name, self.when))
        _check_number(self.name, "low", self.low, integer=False)
        _check_number(self.name, "high", self.high, integer=False)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        object.__setattr__(self, "scaling", _check_scaling(self.name, self.scaling))
        _check_range(self.name, self.low, self.high, self.scaling)
        if not math.isfinite(self.high - self.low):  # the samplers draw from low + (high - low) * u
            raise SearchSpaceError(f"`high - low` must be a finite number for {self.name!r}, but got low={self.low}, "
                                   f"high={self.high}.")
        if self.step is not None:
            _check_number(self.name, "step", self.step, integer=False)
            if self.step <= 0:
                raise SearchSpaceError(f"`step` of {self.name!r} must be > 0, but got step={self.step}.")
            if self.scaling in ("log", "reverse_log"):
                raise SearchSpaceError(
                    f"`step` cannot be combined with {self.scaling} scaling for {self.name!r}."
                )
            n = (self.high - self.low) / self.step
            if not n <= MAX_FLOAT_STEPS:  # more points than floats tell apart; Optuna's step arithmetic fails
                raise SearchSpaceError(
                    f"`(high - low) / step` must be at most 2**53 steps for {self.name!r}, but got "
                    f"low={self.low}, high={self.high}, step={self.step}."
                )
            if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
                raise SearchSpaceError(
                    f"`high - low` must be a multiple of `step` for {self.name!r}, but got "
                    f"low={self.low}, high={self.high}, step={self.step}."
                )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.scaling != "linear":
            out["scaling"] = self.scaling
        if self.step is not None:
            out["step"] = self.step
        return {**out, **_when_dict(self.when)}

    def values(self) -> list[float]:
        """All values on the ``step`` grid (grid search needs a step for float parameters)."""
        if self.step is None:
            raise SearchSpaceError(
                f"grid search needs a `step` for float parameter {self.name!r}, but it has none."
            )
        return [round(self.low + i * self.step, 12) for i in range(self.n_values())]

    def n_values(self) -> int:
        """How many values :meth:`values` lists (counted, not listed)."""
        if self.step is None:
            self.values()  # raises: no grid without a step
        return round((self.high - self.low) / self.step) + 1

    def parse(self, text: Any) -> float:
        return float(text)


@dataclass(frozen=True)
class CategoricalParam:
    """A parameter taking one of a list of ``choices`` (str, int, float, bool or None).

    Example:
        >>> CategoricalParam("booster", ["gbtree", "dart"]).to_dict()
        {'type': 'categorical', 'choices': ['gbtree', 'dart']}
    """

    name: str
    choices: tuple[Any, ...] = field(default_factory=tuple)
    #: sampled only when every parent holds one of its values; None: always
    when: Any = None
    kind = "categorical"

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "when", _check_when(self.name, self.when))
        # a mapping would give its keys and a set an arbitrary order: neither is a list of choices
        if isinstance(self.choices, (str, bytes, Mapping, AbstractSet)) or not isinstance(self.choices, Iterable):
            raise SearchSpaceError(
                f"`choices` of {self.name!r} must be a list, but got {self.choices!r}."
            )
        choices = tuple(self.choices)
        object.__setattr__(self, "choices", choices)
        if not choices:
            raise SearchSpaceError(f"`choices` of {self.name!r} must not be empty.")
        if len(choices) > MAX_CHOICES:
            raise SearchSpaceError(
                f"`choices` of {self.name!r} must hold at most {MAX_CHOICES:,} values, but got {len(choices):,}."
            )
        seen: dict[Any, Any] = {}
        for c in choices:
            if not isinstance(c, _CHOICE_TYPES) or (isinstance(c, float) and not math.isfinite(c)):
                raise SearchSpaceError(
                    f"each choice of {self.name!r} must be a str, int, finite float, bool or null, "
                    f"but got {_short(c)}."
                )
            if c in seen:  # one dict look-up: 1, 1.0 and True hash and compare equal
                first = seen[c]
                if type(first) is type(c):
                    raise SearchSpaceError(f"`choices` of {self.name!r} must be unique, but {_short(c)} repeats.")
                # the store (Optuna) records a choice by the position of the first equal one: True would be
                # recorded as 1, which is not what the trial ran
                raise SearchSpaceError(
                    f"`choices` of {self.name!r} must differ in value, but {_short(first)} and {_short(c)} are "
                    "equal in Python (1 == 1.0 == True, 0 == 0.0 == False), so the store could not record which "
                    "one a trial ran; keep one of them, or use strings."
                )
            seen[c] = c

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices), **_when_dict(self.when)}

    def values(self) -> list[Any]:
        return list(self.choices)

    def n_values(self) -> int:
        return len(self.choices)

    def parse(self, text: Any) -> Any:
        for c in self.choices:  # the value itself, its str() or its JSON text (as sent to SageMaker)
            if (type(c) is type(text) and c == text) or str(c) == str(text) or json.dumps(c) == str(text):
                return c
        raise SearchSpaceError(f"{text!r} is not one of the choices of {self.name!r}: {list(self.choices)}.")


Param = Union[IntParam, FloatParam, CategoricalParam]
_KINDS = {"int": IntParam, "integer": IntParam, "float": FloatParam, "continuous": FloatParam,
          "categorical": CategoricalParam}


def _param_from_dict(name: str, body: Any) -> Param:
    if isinstance(body, (list, tuple)):
        return CategoricalParam(name, tuple(body))
    if not isinstance(body, Mapping):
        raise SearchSpaceError(
            f"parameter {name!r} must be a mapping with a `type` (int, float, categorical) or a "
            f"list of choices, but got {body!r}."
        )
    body = dict(body)
    kind = body.pop("type", None)
    if kind is None:
        kind = "categorical" if "choices" in body else None
    if not isinstance(kind, str) or kind.lower() not in _KINDS:
        raise SearchSpaceError(
            f"`type` of {name!r} must be one of int, float, categorical, but got {kind!r}."
        )
    cls = _KINDS[kind.lower()]
    allowed = {"int": {"low", "high", "step", "scaling", "when"}, "float": {"low", "high", "step", "scaling", "when"},
               "categorical": {"choices", "when"}}[cls.kind]
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SearchSpaceError(
            f"unknown field(s) {', '.join(map(repr, unknown))} for {cls.kind} parameter {name!r}; "
            f"allowed: {', '.join(sorted(allowed))}."
        )
    required = {"low", "high"} if cls.kind != "categorical" else {"choices"}
    missing = sorted(required - set(body))
    if missing:
        raise SearchSpaceError(f"{cls.kind} parameter {name!r} needs {' and '.join(missing)}.")
    if cls is CategoricalParam:
        return CategoricalParam(name, body["choices"], when=body.get("when"))
    return cls(name, **body)


class SearchSpace(Mapping[str, Param]):
    """An ordered, validated set of parameters, keyed by name.

    Example:
        >>> space = SearchSpace([IntParam("max_depth", 2, 8), FloatParam("eta", 0.01, 0.3, "log")])
        >>> list(space)
        ['max_depth', 'eta']
        >>> SearchSpace.from_yaml(space.to_yaml()) == space
        True
    """

    def __init__(self, params: Iterable[Param] = ()) -> None:
        self._params: dict[str, Param] = {}
        for p in params:
            if not isinstance(p, (IntParam, FloatParam, CategoricalParam)):
                raise SearchSpaceError(f"a search space holds parameters, but got {p!r}.")
            if p.name in self._params:
                raise SearchSpaceError(f"parameter names must be unique, but {p.name!r} repeats.")
            self._params[p.name] = p
        self._order = self._check_conditions()

    def _check_conditions(self) -> tuple[Param, ...]:
        """Check each ``when`` against its parents; return the parameters with every parent before its children."""
        for p in self._params.values():
            for parent, values in p.when or ():
                q = self._params.get(parent)
                if q is None:
                    raise SearchSpaceError(
                        f"`when` of {p.name!r} names {parent!r}, which is not a parameter of the space "
                        f"({', '.join(self._params)}).")
                if not isinstance(q, CategoricalParam):
                    raise SearchSpaceError(
                        f"`when` of {p.name!r} names {parent!r}, a {q.kind} parameter; a condition's parent must "
                        "be categorical (its values are compared with the choices).")
                for v in values:
                    if not any(_same_choice(v, c) for c in q.choices):
                        raise SearchSpaceError(
                            f"`when` of {p.name!r} gives {parent!r} the value {_short(v)}, which is not one of its "
                            f"choices {list(q.choices)}.")
        order: dict[str, Param] = {}

        def visit(p: Param, path: tuple[str, ...]) -> None:
            if p.name in order:
                return
            if p.name in path:
                cycle = " -> ".join((*path[path.index(p.name):], p.name))
                raise SearchSpaceError(f"`when` of {p.name!r} depends on itself through its parents: {cycle}.")
            for parent, _ in p.when or ():
                visit(self._params[parent], (*path, p.name))
            order[p.name] = p

        for p in self._params.values():
            visit(p, ())
        return tuple(order.values())

    @property
    def conditional(self) -> bool:
        """Whether some parameter has a ``when`` (then trials sample only the active parameters)."""
        return any(p.when for p in self._params.values())

    def is_active(self, name: str, values: Mapping[str, Any]) -> bool:
        """Whether parameter ``name`` is sampled given the ``values`` of the others (an absent parent: inactive)."""
        return all(parent in values and any(_same_choice(values[parent], v) for v in allowed)
                   for parent, allowed in self._params[name].when or ())

    # -- Mapping -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and list(self._params.values()) == list(other._params.values())

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._params.values())!r})"

    # -- construction and serialisation ---------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Build from ``{name: {type, low, high, ...} | [choices]}``."""
        if isinstance(data, SearchSpace):
            return data
        if not isinstance(data, Mapping):
            raise SearchSpaceError(f"a search space must be a mapping of names to parameters, but got {data!r}.")
        if not data:
            raise SearchSpaceError("a search space needs at least one parameter, but got none.")
        return cls(_param_from_dict(_check_name(name), body) for name, body in data.items())

    @classmethod
    def from_yaml(cls, text: str, *, source: str | None = None, first_line: int = 1) -> SearchSpace:
        """Build from YAML (or JSON, which is YAML) text; loaded safely. A syntax error names ``source`` (a file,
        a cell) and the line, counting the text's first line as ``first_line``."""
        from jupyter_hpo._yaml import YAMLError, YAMLLimitError, load_yaml

        try:
            data = load_yaml(text, "a search space", source=source, first_line=first_line)
        except YAMLLimitError as e:
            raise SearchSpaceError(str(e)) from None
        except YAMLError as e:
            raise SearchSpaceError(f"the search space is not valid YAML: {e}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: p.to_dict() for name, p in self._params.items()}

    def to_yaml(self) -> str:
        from jupyter_hpo._yaml import dump_yaml

        return dump_yaml(self.to_dict(), sort_keys=False, default_flow_style=None)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    # -- Optuna --------------------------------------------------------------------------------
    def to_optuna(self) -> dict[str, Any]:
        """Optuna distributions keyed by the name the optimizer uses.

        A reverse-log parameter ``x`` is sampled as ``"1-x"`` on a log scale; :meth:`from_optuna`
        maps sampled values back. That name is what optuna-dashboard shows.
        """
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, Any] = {}
        for p in self._params.values():
            if isinstance(p, IntParam):
                out[p.name] = IntDistribution(p.low, p.high, step=p.step, log=p.scaling == "log")
            elif isinstance(p, FloatParam) and p.scaling == "reverse_log":
                out[_REVERSE_PREFIX + p.name] = FloatDistribution(1 - p.high, 1 - p.low, log=True)
            elif isinstance(p, FloatParam):
                out[p.name] = FloatDistribution(p.low, p.high, step=p.step, log=p.scaling == "log")
            else:
                out[p.name] = CategoricalDistribution(p.choices)
        return out

    def active(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without the parameters whose condition fails there (parents first); other keys kept."""
        out = {k: v for k, v in values.items() if k not in self._params}
        for p in self._order:
            if p.name in values and self.is_active(p.name, out):
                out[p.name] = values[p.name]
        return out

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample a conditional space define-by-run on an Optuna ``trial`` (from ``study.ask()``).

        Parents come before their children; a parameter whose condition fails is not suggested, so the
        trial's ``params`` hold only the active ones. Returns the values under this space's names.
        """
        dists = self.to_optuna()
        values: dict[str, Any] = {}
        for p in self._order:
            if not self.is_active(p.name, values):
                continue
            key = _REVERSE_PREFIX + p.name if isinstance(p, FloatParam) and p.scaling == "reverse_log" else p.name
            d = dists[key]
            if isinstance(p, CategoricalParam):
                v = trial.suggest_categorical(key, d.choices)
            elif isinstance(p, IntParam):
                v = trial.suggest_int(key, d.low, d.high, step=d.step, log=d.log)
            else:
                v = trial.suggest_float(key, d.low, d.high, step=d.step, log=d.log)
            values[p.name] = 1 - v if key != p.name else v
        return values

    def from_optuna(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Map values sampled from :meth:`to_optuna` back to this space's names and values.

        A conditional parameter absent from ``params`` (inactive in that trial) is absent from the result.
        """
        out: dict[str, Any] = {}
        for p in self._params.values():
            if p.when and (_REVERSE_PREFIX + p.name if isinstance(p, FloatParam) and p.scaling == "reverse_log"
                           else p.name) not in params:
                continue
            if isinstance(p, FloatParam) and p.scaling == "reverse_log":
                out[p.name] = 1 - params[_REVERSE_PREFIX + p.name]
            else:
                out[p.name] = params[p.name]
        return out

    def to_optuna_params(self, values: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
        """The inverse of :meth:`from_optuna`: this space's values under the optimizer's names (``partial``: those
        that ``values`` has, as for an earlier job's trial that lacks a parameter added since)."""
        out: dict[str, Any] = {}
        for p in self._params.values():
            if (p.when or partial) and p.name not in values:  # inactive in that trial, or not given
                continue
            if isinstance(p, FloatParam) and p.scaling == "reverse_log":
                out[_REVERSE_PREFIX + p.name] = 1 - values[p.name]
            else:
                out[p.name] = values[p.name]
        return out

    def grid(self) -> dict[str, list[Any]]:
        """Every parameter's values, for grid search (float parameters need a ``step``; no ``when``)."""
        self._no_conditions_for_grid()
        return {name: p.values() for name, p in self._params.items()}

    def grid_size(self) -> int:
        """The number of points of :meth:`grid`, counted without listing them (float parameters need a ``step``)."""
        self._no_conditions_for_grid()
        n = 1
        for p in self._params.values():
            n *= p.n_values()
        return n

    def _no_conditions_for_grid(self) -> None:
        conditional = [p.name for p in self._params.values() if p.when]
        if conditional:
            raise SearchSpaceError(
                "grid search lists every combination of every parameter, so it cannot take conditional parameters "
                f"(`when` on {', '.join(map(repr, conditional))}); use strategy bayesian or random, or drop `when`.")

    def parse(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Type values back from strings (``--name value`` or SageMaker's hyperparameters.json)."""
        return {n: self._params[n].parse(v) if n in self._params else v for n, v in values.items()}
