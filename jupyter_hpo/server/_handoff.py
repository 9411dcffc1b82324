"""REST handlers that hand a job's result on: ``POST jobs/{name}/refit`` and ``POST jobs/{name}/register``.

* ``refit``: body empty or ``{"force": true}``; starts :func:`jupyter_hpo.refit.refit` (a job ``<name>-refit``, or
  the current one when it is already refitting the same best trial) and answers ``{"job": <its summary>}``, which
  the sidebar then polls like any job.
* ``register``: body ``{"to": "mlflow", "model_name": NAME, "tracking_uri"?: "http(s)://..."}`` or
  ``{"to": "sagemaker", "group": GROUP, "region"?: REGION}``, each with an optional ``"force"``; registers the
  refit's (or best trial's) model as ``jupyter hpo register JOB --mlflow``/``--sagemaker`` does and answers
  ``{"registry", "job", "uri", "notes", "details"}``; a failure is the one line the CLI prints, as the reason.

Both act on the job as stop and resume do: another user's job needs ``force`` (else 409 naming the owner) and is
refused (403) when ``HpoExtension.allow_acting_on_others_jobs`` is False (:meth:`_Action.check`). The work runs
in the server's executor (``reply``), never on the event loop. A key the body does not take, or one given for the
other destination, is refused (400) before anything happens, never ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tornado import web

from jupyter_hpo import api
from jupyter_hpo.server._handlers import _MAX_BODY, _Action

__all__ = ["RefitHandler", "RegisterHandler"]

#: what each destination takes besides ``to`` and ``force``: key -> required
DESTINATIONS: dict[str, dict[str, bool]] = {
    "mlflow": {"model_name": True, "tracking_uri": False},
    "sagemaker": {"group": True, "region": False},
}
_MAX_TEXT = 256
#: an AWS region name (us-east-1, eu-central-2, us-gov-west-1, cn-north-1)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
#: over REST the tracking server is an HTTP(S) URL: no file or database store named by request text
_TRACKING = re.compile(r"https?://[^\s/?#]+([/?#]\S*)?")


class RefitHandler(_Action):
    """``POST jobs/{name}/refit``: the body is empty or ``{"force": <bool>}`` (another user's job)."""

    action = "refit"

    @web.authenticated
    async def post(self, name: str) -> None:
        force, me = self.force(), self.me

        def refit() -> dict[str, Any]:
            job = api.attach(name, self.store)
            self.check(job, me, force)
            return {"job": job.refit(wait=False).summary()}

        await self.reply(refit)


class RegisterHandler(_Action):
    """``POST jobs/{name}/register``: see the module docstring for the body."""

    action = "register"

    def body(self) -> dict[str, Any]:
        """The validated body: ``to``, the destination's keys and ``force``; a 400 naming what is wrong."""
        raw = self.request.body or b""
        if len(raw) > _MAX_BODY:
            raise web.HTTPError(400, f"the body must be at most {_MAX_BODY} bytes, but got {len(raw)}.")
        example = '{"to": "mlflow", "model_name": "credit-model"}'
        try:
            data = json.loads(raw) if raw.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise web.HTTPError(400, f"the body must be a JSON object such as {example}.")
        to = data.get("to")
        if not isinstance(to, str) or to not in DESTINATIONS:
            raise web.HTTPError(400, f"`to` must be one of {', '.join(map(repr, DESTINATIONS))}, but got {to!r}.")
        keys = DESTINATIONS[to]
        for key in sorted(set(data) - {"to", "force"} - set(keys)):
            other = next((d for d, k in DESTINATIONS.items() if key in k), None)
            where = f"applies to `to: {other}` only, not {to}" if other else "is not a key of the body"
            raise web.HTTPError(400, f"`{key}` {where}; `to: {to}` takes {', '.join(f'`{k}`' for k in keys)} "
                                     "and `force`.")
        force = data.get("force", False)
        if not isinstance(force, bool):
            raise web.HTTPError(400, f"`force` must be true or false, but got {force!r}.")
        out: dict[str, Any] = {"to": to, "force": force}
        for key, required in keys.items():
            value = data.get(key)
            if value is None:
                if required:
                    raise web.HTTPError(400, f"`to: {to}` needs `{key}`.")
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
                raise web.HTTPError(400, f"`{key}` must be a non-empty string of at most {_MAX_TEXT} characters, "
                                         f"but got {value!r}.")
            out[key] = value
        if "region" in out and not _REGION.fullmatch(out["region"]):
            raise web.HTTPError(400, f"`region` must be an AWS region such as us-east-1, but got {out['region']!r}.")
        if "tracking_uri" in out and not _TRACKING.fullmatch(out["tracking_uri"]):
            raise web.HTTPError(400, "`tracking_uri` must be an http:// or https:// URL of an MLflow tracking server, "
                                     f"but got {out['tracking_uri']!r} (a file or database store is set on the "
                                     "server with MLFLOW_TRACKING_URI).")
        return out

    @web.authenticated
    async def post(self, name: str) -> None:
        body, me = self.body(), self.me

        def register() -> dict[str, Any]:
            job = api.attach(name, self.store)
            self.check(job, me, body["force"])
            return registered(job, body)

        await self.reply(register)


def registered(job: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Register ``job``'s model as ``body`` says (validated); the answer of ``POST jobs/{name}/register``."""
    if body["to"] == "mlflow":
        from jupyter_hpo.mlflow_tracking import register_model

        uri = register_model(job, body["model_name"], tracking_uri=body.get("tracking_uri"))
        return {"registry": "mlflow", "job": job.name, "uri": uri, "notes": [],
                "details": {"model": body["model_name"]}}
    from jupyter_hpo.sagemaker.registry import register_sagemaker

    result = register_sagemaker(job, body["group"], region=body.get("region"))
    return {"registry": "sagemaker", "job": job.name, "uri": result["model_package_arn"],
            "notes": list(result.get("notes") or []), "details": result}

