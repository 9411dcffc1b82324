"""A search space as SageMaker AMT's ``ParameterRanges``, and back.

SageMaker has integer, continuous and categorical ranges, with no ``step``. A parameter with a step
(an int with ``step > 1``, or a float with any ``step``) therefore travels as the categorical list of
its grid values, so the service proposes exactly the values the space allows; a grid of more than
:data:`MAX_PER_KIND` values cannot travel and is refused, naming the parameter. Nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jupyter_hpo.exceptions import SearchSpaceError
from jupyter_hpo.space import SAGEMAKER_SCALING, CategoricalParam, FloatParam, IntParam, Param, SearchSpace

__all__ = ["MAX_PER_KIND", "check_ranges", "from_ranges", "grid_values", "to_ranges"]

#: SageMaker accepts at most this many ranges of each kind, and this many categorical values.
MAX_PER_KIND = 30

_KINDS = {"int": "IntegerParameterRanges", "float": "ContinuousParameterRanges",
          "categorical": "CategoricalParameterRanges"}


def _stepped(p: Param) -> bool:
    return (isinstance(p, IntParam) and p.step != 1) or (isinstance(p, FloatParam) and p.step is not None)


def _kind(p: Param) -> str:
    return "categorical" if _stepped(p) else p.kind


def grid_values(p: Param) -> list[str]:
    """The parameter's values as SageMaker's categorical strings (stepped numbers, or the choices)."""
    if isinstance(p, CategoricalParam):
        return [c if isinstance(c, str) else json.dumps(c) for c in p.choices]
    return [repr(v) if isinstance(v, float) else str(v) for v in p.values()]


def check_ranges(space: SearchSpace) -> None:
    """Raise :class:`SearchSpaceError` for what SageMaker tuning would reject."""
    conditional = [p.name for p in space.values() if p.when]
    if conditional:
        raise SearchSpaceError(
            "SageMaker AMT has no conditional parameters: it would set every parameter in every training job, so "
            f"`when` on {', '.join(map(repr, conditional))} cannot be honoured; use `backend: sagemaker` (jupyter-hpo's "
            "sampler, which honours `when`, runs each trial as a training job) or drop `when`.")
    counts = dict.fromkeys(_KINDS, 0)
    for p in space.values():
        counts[_kind(p)] += 1
        if _stepped(p) and p.n_values() > MAX_PER_KIND:
            raise SearchSpaceError(
                f"SageMaker has no `step` for {p.kind} ranges, so {p.name!r} would travel as its "
                f"{p.n_values()} grid values, but at most {MAX_PER_KIND} categorical values are allowed "
                "(use a larger step, or drop the step)."
            )
        if isinstance(p, CategoricalParam) and len(p.choices) > MAX_PER_KIND:
            raise SearchSpaceError(
                f"SageMaker allows at most {MAX_PER_KIND} values for categorical {p.name!r}, but got {len(p.choices)}."
            )
    for kind, n in counts.items():
        if n > MAX_PER_KIND:
            raise SearchSpaceError(f"SageMaker allows at most {MAX_PER_KIND} {kind} parameters, but got {n}.")


def to_ranges(space: SearchSpace) -> dict[str, list[dict[str, Any]]]:
    """SageMaker ``ParameterRanges`` (Min/Max and values as strings, as the API wants)."""
    check_ranges(space)
    ranges: dict[str, list[dict[str, Any]]] = {name: [] for name in _KINDS.values()}
    for p in space.values():
        kind = _KINDS[_kind(p)]
        if kind == "CategoricalParameterRanges":
            ranges[kind].append({"Name": p.name, "Values": grid_values(p)})
        else:
            low, high = (str(p.low), str(p.high)) if isinstance(p, IntParam) else (repr(p.low), repr(p.high))
            ranges[kind].append({"Name": p.name, "MinValue": low, "MaxValue": high,
                                 "ScalingType": SAGEMAKER_SCALING[p.scaling]})
    return {k: v for k, v in ranges.items() if v}


def from_ranges(ranges: Mapping[str, Any]) -> SearchSpace:
    """A space from SageMaker ``ParameterRanges`` (an existing tuning job's, for ``attach-amt``).

    A stepped parameter comes back as categorical values: SageMaker keeps no step to restore.
    """
    params: list[Param] = []
    for r in ranges.get("IntegerParameterRanges", []):
        params.append(IntParam(r["Name"], int(r["MinValue"]), int(r["MaxValue"]), scaling=r.get("ScalingType", "Auto")))
    for r in ranges.get("ContinuousParameterRanges", []):
        params.append(FloatParam(r["Name"], float(r["MinValue"]), float(r["MaxValue"]),
                                 scaling=r.get("ScalingType", "Auto")))
    for r in ranges.get("CategoricalParameterRanges", []):
        params.append(CategoricalParam(r["Name"], tuple(r["Values"])))
    return SearchSpace(params)
