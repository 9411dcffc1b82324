"""Field checks of search-space parameters: names, scalings, numbers, ranges and ``when`` conditions.
Each raises :class:`SearchSpaceError` naming the parameter; :mod:`jupyter_hpo.space` uses them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from jupyter_hpo._limits import short_repr as _short
from jupyter_hpo.exceptions import SearchSpaceError

#: Scalings a numeric parameter accepts; ``auto`` is sampled linearly here and left to SageMaker there.
SCALINGS = ("linear", "log", "reverse_log", "auto")
#: SageMaker's names of the scalings (its ``ScalingType``), also accepted as aliases here.
SAGEMAKER_SCALING = {
    "auto": "Auto",
    "linear": "Linear",
    "log": "Logarithmic",
    "reverse_log": "ReverseLogarithmic",
}
_SCALING_ALIASES = {
    **{v.lower(): k for k, v in SAGEMAKER_SCALING.items()},
    **{k: k for k in SCALINGS},
    "reverselog": "reverse_log",
    "reverse-log": "reverse_log",
    "logarithmic": "log",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
_CHOICE_TYPES = (str, int, float, bool, type(None))


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SearchSpaceError(
            "a parameter name must start with a letter or '_' and hold at most 64 letters, digits, "
            f"'_', '-' or '.', but got {name!r}."
        )
    return name


def _check_scaling(name: str, scaling: Any) -> str:
    key = str(scaling).strip().lower() if isinstance(scaling, str) else None
    if key not in _SCALING_ALIASES:
        raise SearchSpaceError(
            f"`scaling` of {name!r} must be one of {', '.join(SCALINGS)}, but got {scaling!r}."
        )
    return _SCALING_ALIASES[key]


def _check_number(name: str, field_name: str, value: Any, integer: bool) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise SearchSpaceError(f"`{field_name}` of {name!r} must be {kind}, but got {value!r}.")
    return value


def _check_range(name: str, low: float, high: float, scaling: str) -> None:
    if not low < high:
        raise SearchSpaceError(f"`low < high` must hold for {name!r}, but got low={low}, high={high}.")
    if scaling == "log" and low <= 0:
        raise SearchSpaceError(
            f"`low` must be > 0 for log scaling of {name!r}, but got low={low}."
        )
    if scaling == "reverse_log" and not (0 <= low < high < 1):
        raise SearchSpaceError(
            f"`0 <= low < high < 1` must hold for reverse-log scaling of {name!r}, "
            f"but got low={low}, high={high}."
        )


def _check_when(name: str, when: Any) -> tuple[tuple[str, tuple[Any, ...]], ...] | None:
    """Normalise ``when`` (``{parent: value | [values]}``) to sorted ``((parent, (values...)), ...)``; None: always."""
    if when is None:
        return None
    if isinstance(when, tuple) and all(isinstance(c, tuple) and len(c) == 2 for c in when):
        when = dict(when)  # already normalised (a copy of a parameter)
    if not isinstance(when, Mapping) or not when:
        raise SearchSpaceError(
            f"`when` of {name!r} must be a non-empty mapping of parent parameters to a value or a list of values, "
            f"but got {_short(when)}."
        )
    out = []
    for parent, values in when.items():
        if parent == name:
            raise SearchSpaceError(f"`when` of {name!r} must name other parameters, but it names {name!r} itself.")
        if not isinstance(parent, str) or not _NAME.fullmatch(parent):
            raise SearchSpaceError(f"`when` of {name!r} must name parameters, but got {_short(parent)}.")
        vals = tuple(values) if isinstance(values, (list, tuple)) else (values,)
        if not vals or not all(isinstance(v, _CHOICE_TYPES) for v in vals):
            raise SearchSpaceError(
                f"`when` of {name!r} must give {parent!r} a choice or a non-empty list of choices, "
                f"but got {_short(values)}."
            )
        out.append((parent, vals))
    return tuple(sorted(out, key=lambda c: c[0]))


def _when_dict(when: tuple[tuple[str, tuple[Any, ...]], ...] | None) -> dict[str, Any]:
    """``when`` in the dict form (one value unwrapped), under the key ``when``; {} for an unconditional parameter."""
    if not when:
        return {}
    return {"when": {parent: vals[0] if len(vals) == 1 else list(vals) for parent, vals in when}}


def _same_choice(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
