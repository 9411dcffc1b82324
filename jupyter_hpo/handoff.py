"""A request to register a job's model, as the REST API (``POST jobs/{name}/register``) and the dashboard's
Register form send it: checked in one place, then carried out as ``jupyter hpo register`` does.

The request is ``{"to": "mlflow", "model_name": NAME, "tracking_uri"?: "http(s)://..."}`` or
``{"to": "sagemaker", "group": GROUP, "region"?: REGION}``, with ``force`` (another user's job) where the front
door takes it. A key of the other destination, or any other key, is refused, never ignored. The tracking URI is
an HTTP(S) URL: a file or database store is never named by a request (it is MLflow's own setting,
``MLFLOW_TRACKING_URI``, where the request is handled).

Example:
    >>> check_register_request({"to": "mlflow", "model_name": "credit-model"})
    {'to': 'mlflow', 'force': False, 'model_name': 'credit-model'}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jupyter_hpo.exceptions import SpecError

__all__ = ["DESTINATIONS", "REQUEST_EXAMPLE", "check_register_request", "model_text", "register"]

#: what each destination takes besides ``to`` and ``force``: key -> required
DESTINATIONS: dict[str, dict[str, bool]] = {
    "mlflow": {"model_name": True, "tracking_uri": False},
    "sagemaker": {"group": True, "region": False},
}
_MAX_TEXT = 256
#: control characters and every character Python or JavaScript regular expressions count as white space, spelled
#: out: ``\s`` differs between the two (Python's holds U+001C-U+001F and U+0085, JavaScript's U+FEFF), and the
#: server and openapi.yaml (whose patterns use JavaScript's syntax) must agree on every string
_BLANK = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
_CONTROL = r"\x00-\x1f\x7f-\x9f"
#: the pattern each text key must match in full; openapi.yaml has the same patterns (a test compares them)
PATTERNS: dict[str, str] = {
    # MLflow refuses '/' and ':' in a registered model's name; a name needs one visible character
    "model_name": rf"[^/:{_CONTROL}]*[^/:{_BLANK}][^/:{_CONTROL}]*",
    "tracking_uri": rf"https?://[^{_BLANK}/?#]+([/?#][^{_BLANK}]*)?",
    # botocore's pattern for a model package group (ModelPackageGroupName)
    "group": r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    # an AWS region name (us-east-1, eu-central-2, us-gov-west-1, cn-north-1)
    "region": r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}",
}
_WHAT = {"model_name": "a name of visible characters without '/' or ':'",
         "tracking_uri": "an http:// or https:// URL of an MLflow tracking server",
         "group": "a model package group name: 1-63 letters, digits and '-', starting and ending with a letter or "
                  "digit",
         "region": "an AWS region such as us-east-1"}
_HINT = {"tracking_uri": " (a file or database store is set on the server with MLFLOW_TRACKING_URI)"}
#: a register request, shown in the messages that refuse a malformed one
REQUEST_EXAMPLE = '{"to": "mlflow", "model_name": "credit-model"}'


def model_text(metric: str, value: float, trial: int, *, best_trial: int | None = None,
               refit_job: str | None = None, refit_value: float | None = None,
               show: Callable[[float], str] = lambda v: f"{v:.6g}") -> str:
    """What a registered model is, in words, the same in MLflow, SageMaker's registry and the CLI: the trial's
    score as the job tuned it (cross-validated for the credit example), and for a refit also what the refit run
    reported of itself, said as such (in-sample for the credit example: not the model's score).

    Example:
        >>> model_text("auc", 0.78, 1, refit_job="credit-refit", refit_value=0.775)
        'refit run (credit-refit) of trial 1 (auc=0.78 as tuned; the refit run reported 0.775 of itself)'
        >>> model_text("auc", 0.78, 1, best_trial=1)
        'best trial 1 (auc=0.78)'
    """
    if refit_job is not None:
        return (f"refit run ({refit_job}) of trial {trial} ({metric}={show(value)} as tuned; the refit run "
                f"reported {show(refit_value) if refit_value is not None else 'no value'} of itself)")
    return f"{'best ' if trial == best_trial else ''}trial {trial} ({metric}={show(value)})"


def check_register_request(data: Any, *, force: bool = True) -> dict[str, Any]:
    """The request, checked: ``{"to", "force", <the destination's keys given>}``.

    Args:
        data: the request as sent (parsed JSON).
        force: whether ``force`` is a key the front door takes.

    Raises:
        SpecError: what is wrong with it, in one line.
    """
    if not isinstance(data, dict):
        raise SpecError(f"the body must be a JSON object such as {REQUEST_EXAMPLE}.")
    to = data.get("to")
    if not isinstance(to, str) or to not in DESTINATIONS:
        raise SpecError(f"`to` must be one of {', '.join(map(repr, DESTINATIONS))}, but got {to!r}.")
    keys = DESTINATIONS[to]
    extra = {"force"} if force else set()
    for key in sorted(set(data) - {"to"} - extra - set(keys)):
        other = next((d for d, k in DESTINATIONS.items() if key in k), None)
        where = f"applies to `to: {other}` only, not {to}" if other else "is not a key of the body"
        takes = ", ".join(f"`{k}`" for k in keys) + (" and `force`" if force else "")
        raise SpecError(f"`{key}` {where}; `to: {to}` takes {takes}.")
    value = data.get("force", False)
    if not isinstance(value, bool):
        raise SpecError(f"`force` must be true or false, but got {value!r}.")
    out: dict[str, Any] = {"to": to, "force": value}
    for key, required in keys.items():
        value = data.get(key)
        if value is None:
            if required:
                raise SpecError(f"`to: {to}` needs `{key}`.")
            continue
        if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
            raise SpecError(f"`{key}` must be a non-empty string of at most {_MAX_TEXT} characters, but got {value!r}.")
        if not re.fullmatch(PATTERNS[key], value):
            raise SpecError(f"`{key}` must be {_WHAT[key]}, but got {value!r}{_HINT.get(key, '')}.")
        out[key] = value
    return out


def register(job: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Register ``job``'s refit (or best) model as the checked ``request`` says.

    Returns:
        ``{"registry", "job", "uri", "notes", "details"}``: ``uri`` is MLflow's ``models:/NAME/VERSION`` or the
        SageMaker model package's ARN; ``details`` what ``jupyter hpo register --json`` prints.

    Raises:
        HpoError: what ``jupyter hpo register`` prints as its one-line error.
    """
    if request["to"] == "mlflow":
        from jupyter_hpo.mlflow_tracking import register_model

        uri = register_model(job, request["model_name"], tracking_uri=request.get("tracking_uri"))
        return {"registry": "mlflow", "job": job.name, "uri": uri, "notes": [],
                "details": {"model": request["model_name"]}}
    from jupyter_hpo.sagemaker.registry import register_sagemaker

    result = register_sagemaker(job, request["group"], region=request.get("region"))
    return {"registry": "sagemaker", "job": job.name, "uri": result["model_package_arn"],
            "notes": list(result.get("notes") or []), "details": result}
