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

from typing import Any

from tornado import web

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.handoff import REQUEST_EXAMPLE, check_register_request, register
from jupyter_hpo.server._handlers import _Action

__all__ = ["RefitHandler", "RegisterHandler"]


class RefitHandler(_Action):
    """``POST jobs/{name}/refit``: the body is empty or ``{"force": <bool>}`` (another user's job)."""

    action = "refit"

    @web.authenticated
    async def post(self, name: str) -> None:
        force, me = self.force(), self.me

        def refit() -> dict[str, Any]:
            job = api.attach(name, self.store)
            self.check(job, me, force)
            return {"job": job.refit(wait=False, by=me).summary()}  # the refit job is the requester's

        await self.reply(refit)


class RegisterHandler(_Action):
    """``POST jobs/{name}/register``: see the module docstring for the body."""

    action = "register"

    def body(self) -> dict[str, Any]:
        """The checked body (:func:`jupyter_hpo.handoff.check_register_request`); a 400 naming what is wrong."""
        data = self.json_body(REQUEST_EXAMPLE)
        try:
            return check_register_request(data)
        except SpecError as e:
            raise web.HTTPError(400, str(e)) from None

    @web.authenticated
    async def post(self, name: str) -> None:
        body, me = self.body(), self.me

        def registered() -> dict[str, Any]:
            job = api.attach(name, self.store)
            self.check(job, me, body["force"])
            return register(job, body)

        await self.reply(registered)

