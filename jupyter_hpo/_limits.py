"""The bounds on what a spec may hold, and the checks of spec fields that touch the machine.

Every input is bounded so that a bad or hostile spec is refused at validation time, with one line
naming the field and the rule, before anything is written to the store:

- the spec text: at most :data:`MAX_SPEC_BYTES`; after expanding YAML aliases, at most
  :data:`MAX_SPEC_NODES` nodes, :data:`MAX_SPEC_CHARS` characters of scalars and
  :data:`MAX_SPEC_DEPTH` levels of nesting (checked in :mod:`jupyter_hpo._yaml`, before the
  document is built);
- a categorical parameter: at most :data:`MAX_CHOICES` choices;
- a grid search: at most :data:`MAX_GRID_POINTS` points (the product of the parameters' numbers
  of values, computed without listing them);
- ``trial.script``: at most :data:`MAX_PATH_CHARS` characters, no NUL, a ``~user`` that exists,
  and a path that resolves (no symlink loop) to an existing file;
- ``backend.options.simulate`` (sagemaker and amt): known settings only, each in its range
  (:func:`check_simulate`).
"""

from __future__ import annotations

import errno
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_hpo.exceptions import SpecError

__all__ = [
    "MAX_CHOICES",
    "MAX_GRID_POINTS",
    "MAX_PATH_CHARS",
    "MAX_SPEC_BYTES",
    "MAX_SPEC_CHARS",
    "MAX_SPEC_DEPTH",
    "MAX_SPEC_NODES",
    "SIM_FIELDS",
    "SIM_MAX_DURATION_S",
    "SIM_SPEED",
    "check_script_path",
    "check_simulate",
    "short_repr",
]

#: Most bytes of a spec's text (a YAML file or a cell).
MAX_SPEC_BYTES = 1_000_000
#: Most YAML nodes (scalars, lists, mappings) in a spec once every alias is expanded.
MAX_SPEC_NODES = 100_000
#: Most characters of scalar text in a spec once every alias is expanded.
MAX_SPEC_CHARS = 1_000_000
#: Most levels of nested lists and mappings in a spec.
MAX_SPEC_DEPTH = 50
#: Most choices of one categorical parameter.
MAX_CHOICES = 10_000
#: Most points of a grid search (the grid sampler lists every point).
MAX_GRID_POINTS = 100_000
#: Most characters of a path (Linux's PATH_MAX).
MAX_PATH_CHARS = 4096
#: The range of ``simulate.speed``: simulated seconds per real second.
SIM_SPEED = (1.0, 10_000.0)
#: Longest simulated duration (a phase of a training job), in seconds: SageMaker's 28-day maximum run.
SIM_MAX_DURATION_S = 28 * 86400
_SIM_DURATIONS = ("cold_startup_s", "warm_startup_s", "download_s", "upload_s", "training_s")
_SIM_COUNTS = ("warm_pool_quota", "instance_limit", "spot_interruptions")
#: The settings ``backend.options.simulate`` accepts (the simulated SageMaker's arguments but
#: ``clock`` and ``region``, which come from ``speed`` and ``backend.options.region``).
SIM_FIELDS = frozenset({"speed", "executor", "metric_fn", "s3_root", "seed", "account", "spot_savings",
                        "kms_required_buckets",
                        *_SIM_DURATIONS, *_SIM_COUNTS})
_SIM = "backend.options.simulate"


def short_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)``, its middle cut out beyond ``limit`` characters (a message stays one readable line)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit - 30]}...{text[-20:]} ({len(text)} characters)"


def _fail(field_name: str, rule: str, value: Any) -> SpecError:
    return SpecError(f"`{field_name}` {rule}, but got {short_repr(value)}.")


# -- trial.script --------------------------------------------------------------------------------
def check_script_path(value: Any, field_name: str = "trial.script") -> str:
    """The absolute, resolved path of an existing script file, or a :class:`SpecError` naming the rule.

    Refuses (one line each) a path that is not text, holds a NUL, is longer than
    :data:`MAX_PATH_CHARS`, starts with ``~user`` for an unknown user, loops through symlinks, has a
    part too long for the file system, or is not an existing file.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise _fail(field_name, "must be a path", value)
    if "\0" in value:
        raise _fail(field_name, "must be a path without NUL characters", value)
    if len(value) > MAX_PATH_CHARS:
        raise SpecError(f"`{field_name}` must be a path of at most {MAX_PATH_CHARS} characters, but got one "
                        f"of {len(value)}: {short_repr(value, 60)}.")
    path = Path(value)
    if value.startswith("~"):
        try:
            path = path.expanduser()
        except RuntimeError:  # pathlib: no home directory for that user
            user = value[1:].split("/", 1)[0]
            raise _fail(field_name, f"must start with `~` or `~user` for a user with a home directory "
                                    f"(there is no user {user!r})", value) from None
    try:
        resolved = path.resolve()
        is_file = resolved.is_file()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise _fail(field_name, "must be an existing file, not a symlink loop", value) from None
    except (OSError, ValueError) as e:  # ELOOP on Python >= 3.13, ENAMETOOLONG for a part > NAME_MAX
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise _fail(field_name, f"must be an existing file ({reason})", value) from None
    if not is_file:
        if _loops(resolved):  # Python >= 3.13 resolves a loop without an error
            raise _fail(field_name, "must be an existing file, not a symlink loop", value)
        raise _fail(field_name, "must be an existing file", value)
    return str(resolved)


def _loops(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


# -- backend.options.simulate ----------------------------------------------------------------------
def _number(name: str, value: Any, low: float, high: float) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not low <= value <= high):
        raise _fail(f"{_SIM}.{name}", f"must be a number from {_plain(low)} to {_plain(high)}", value)


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def check_simulate(value: Any) -> None:
    """Raise :class:`SpecError` unless ``value`` is None or valid settings of the simulated SageMaker.

    The rules: a mapping of :data:`SIM_FIELDS`; ``speed`` a number in :data:`SIM_SPEED`; the
    durations (``*_s``) numbers from 0 to :data:`SIM_MAX_DURATION_S` (``training_s`` may also be a
    callable); ``executor`` ``model`` or ``script``; ``warm_pool_quota`` and ``instance_limit``
    null or integers >= 0; ``metric_fn`` null or a callable; ``s3_root`` a path (no NUL, at most
    :data:`MAX_PATH_CHARS` characters); ``seed`` an integer or a string; ``account`` 12 digits.
    """
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise _fail(_SIM, "must be a mapping of simulation settings (or absent)", value)
    unknown = sorted(str(k) for k in value if k not in SIM_FIELDS)
    if unknown:
        raise SpecError(f"unknown field(s) {', '.join(f'`{_SIM}.{u}`' for u in unknown)}; "
                        f"allowed: {', '.join(sorted(SIM_FIELDS))}.")
    _number("speed", value.get("speed", 1.0), *SIM_SPEED)
    _number("spot_savings", value.get("spot_savings", 0.7), 0.0, 0.99)
    for name in _SIM_DURATIONS:
        if name in value and not (name == "training_s" and callable(value[name])):
            _number(name, value[name], 0, SIM_MAX_DURATION_S)
    if value.get("executor", "model") not in ("model", "script"):
        raise _fail(f"{_SIM}.executor", "must be model or script", value["executor"])
    for name in _SIM_COUNTS:
        count = value.get(name)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise _fail(f"{_SIM}.{name}", "must be null or an integer >= 0", count)
    if value.get("metric_fn") is not None and not callable(value["metric_fn"]):
        raise _fail(f"{_SIM}.metric_fn", "must be a callable (Python only) or null", value["metric_fn"])
    _check_s3_root(value.get("s3_root"))
    buckets = value.get("kms_required_buckets", [])
    if not isinstance(buckets, (list, tuple)) or not all(isinstance(b, str) and b for b in buckets):
        raise _fail(f"{_SIM}.kms_required_buckets", "must be a list of bucket names", buckets)
    seed = value.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, str)):
        raise _fail(f"{_SIM}.seed", "must be an integer or a string", seed)
    account = value.get("account", "123456789012")
    if not isinstance(account, str) or not re.fullmatch(r"[0-9]{12}", account):
        raise _fail(f"{_SIM}.account", "must be an AWS account id, 12 digits as a string", account)


def _check_s3_root(root: Any) -> None:
    if root is None:
        return
    if isinstance(root, os.PathLike):
        root = os.fspath(root)
    if not isinstance(root, str) or not root.strip():
        raise _fail(f"{_SIM}.s3_root", "must be the path of a folder standing in for S3", root)
    if "\0" in root or len(root) > MAX_PATH_CHARS:
        raise _fail(f"{_SIM}.s3_root", f"must be a path without NUL of at most {MAX_PATH_CHARS} characters",
                    root)
