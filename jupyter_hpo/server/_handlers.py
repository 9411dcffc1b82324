"""REST handlers of the server extension: parse, call ``jupyter_hpo.api``, answer JSON.

Every handler needs Jupyter's authentication (and, for POST, its XSRF check, which
``APIHandler`` enforces). Errors are mapped in one place: unknown job 404, bad input 400,
wrong state 409, always ``{"reason": ...}``. Answers are strict JSON (``jupyter_hpo.records.dumps``:
non-finite numbers are ``null``, and the records' ``nonfinite`` field says what they were).

The store is a database (SQLite by default, which waits up to its busy timeout while a runner writes), so
every call into the core, and the JSON encoding of its answer, runs in the server's thread-pool executor:
a slow read holds one request, never the server's event loop (kernels, terminals, other requests).

Owners: a request acts for :func:`jupyter_hpo.owners.requester` (the server's user; on a JupyterHub server, the
Hub user who sent it). ``GET jobs`` answers who that is (``me``), and ``?mine=1`` keeps that user's jobs. Stopping
or resuming another user's job needs ``{"force": true}`` in the body (else 409 naming the owner), and is refused
(403) when ``HpoExtension.allow_acting_on_others_jobs`` is False; every stop and resume records who did it
(``stopped_by``/``resumed_by``, with ``"via": "rest"``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.ioloop import IOLoop

from jupyter_hpo import api, owners, records
from jupyter_hpo.exceptions import HpoError, JobNotFoundError, JobStateError, StoreError

__all__ = ["handlers", "JOB_NAME", "ROOT"]

#: a job name in a route: the rule of ``jupyter_hpo.spec.check_job_name`` (no '/', no '.', no '%')
JOB_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9\-]{0,62})"
_STATUS = {JobNotFoundError: 404, JobStateError: 409, StoreError: 503}
#: ``api.open_store`` caches one store per URL; handlers open it from executor threads, one at a time
_OPEN_STORE = threading.Lock()
#: the values of a boolean query parameter (``?mine=1``)
_BOOL = {"1": True, "true": True, "0": False, "false": False}
#: the longest body a stop or resume may have (it holds at most ``{"force": true}``)
_MAX_BODY = 1024


class _Base(APIHandler):
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        if status_code == 405:  # RFC 9110: say which methods the route has
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"reason": reason}))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The methods this route implements."""
        return [m for m in ("GET", "POST") if getattr(cls, m.lower()) is not getattr(web.RequestHandler, m.lower())]

    async def reply(self, fn: Callable[[], Any]) -> None:
        """Call the core in the executor (off the event loop) and answer its result as JSON, or the mapped error."""
        try:
            body = await IOLoop.current().run_in_executor(None, lambda: records.dumps(fn()))
        except HpoError as e:
            status = next((code for cls, code in _STATUS.items() if isinstance(e, cls)), 400)
            raise web.HTTPError(status, str(e)) from None
        self.finish(body)

    @property
    def store(self) -> Any:
        """The store (opened on first use); read it only inside a function given to ``reply``."""
        with _OPEN_STORE:
            return self.settings["jupyter_hpo_store"]()

    @property
    def me(self) -> dict[str, Any]:
        """Who the request acts for (:func:`jupyter_hpo.owners.requester`)."""
        user = self.current_user
        return owners.requester(getattr(user, "username", None) if user is not None and self._names_users() else None)

    def _names_users(self) -> bool:
        """Whether the server's identity provider says who sent a request (JupyterHub's does): Jupyter's own
        providers (token, password) name nobody, and make up a random anonymous name per client, which would make
        a Hub user's own jobs someone else's when their server runs with a token."""
        from jupyter_server.auth.identity import IdentityProvider, LegacyIdentityProvider, PasswordIdentityProvider

        return type(self.identity_provider) not in (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)


class _Action(_Base):
    """Stop or resume: the body is empty or ``{"force": <bool>}``; someone else's job needs force and the setting."""

    action = ""

    def json_body(self, example: str) -> dict[str, Any] | None:
        """The body parsed as a JSON object, or None when it is empty; a 400 when it is too long, not JSON, nested
        too deeply for the parser (a RecursionError would be a 500), or JSON but not an object (``null`` too, which
        is not an empty body). The message shows ``example``, a body the route takes."""
        body = self.request.body or b""
        if not body.strip():
            return None
        if len(body) > _MAX_BODY:
            raise web.HTTPError(400, f"the body must be at most {_MAX_BODY} bytes, but got {len(body)}.")
        try:
            data = json.loads(body)
        except RecursionError:
            raise web.HTTPError(400, f"the body must be a JSON object such as {example}, but it is nested too "
                                     f"deeply to read.") from None
        except ValueError:
            raise web.HTTPError(400, f"the body must be a JSON object such as {example}.") from None
        if not isinstance(data, dict):
            kind = "null" if data is None else type(data).__name__
            raise web.HTTPError(400, f"the body must be a JSON object such as {example}, but got {kind}.")
        return data

    def force(self) -> bool:
        """``force`` of a body that is empty or ``{"force": <bool>}``."""
        data = self.json_body('{"force": true}')
        if data is None:
            return False
        unknown = sorted(set(data) - {"force"})
        if unknown:
            raise web.HTTPError(400, f"the body may hold only `force`, but got {', '.join(map(repr, unknown))}.")
        force = data.get("force", False)
        if not isinstance(force, bool):
            raise web.HTTPError(400, f"`force` must be true or false, but got {force!r}.")
        return force

    def check(self, job: Any, me: dict[str, Any], force: bool) -> None:
        """Let the requester act on ``job``, or raise: 403 when the server allows nobody to act on others' jobs,
        409 (JobStateError) when it is someone else's and ``force`` was not given."""
        owner = job.attrs.get(records.OWNER)
        if owners.is_mine(owner, me):
            return
        if not self.settings.get("jupyter_hpo_allow_others", True):
            raise web.HTTPError(403, f"this server does not let anyone {self.action} another user's job "
                                     f"(HpoExtension.allow_acting_on_others_jobs is False): job {job.name!r} belongs "
                                     f"to {owners.owner_text(owner)}.")
        owners.check_may_act(job.name, job.attrs, self.action, force, me=me, flag='{"force": true}')


class JobsHandler(_Base):
    """``GET jobs[?mine=1]``: the job summaries, who the requester is (``me``), and the summary of each campaign
    listed (``summarize_campaign``, the rules ``jupyter hpo campaign show`` uses, so the sidebar computes none).
    With ``mine``, a campaign is listed when one of the requester's jobs is in it, still summarized from all its
    jobs."""

    @web.authenticated
    async def get(self) -> None:
        # also allowed: Jupyter's token in the URL, and the cache-buster JupyterLab's ServerConnection appends to a
        # request (a bare number with no value, ``jobs?1796438641599``)
        unknown = sorted(k for k, v in self.request.query_arguments.items()
                         if k not in ("mine", "token") and not (k.isdigit() and v == [b""]))
        if unknown:
            raise web.HTTPError(400, f"`GET jobs` takes only `mine`, but got {', '.join(map(repr, unknown))}.")
        raw = self.get_query_argument("mine", "0")
        if raw.lower() not in _BOOL:
            raise web.HTTPError(400, f"`mine` must be 1, 0, true or false, but got {raw!r}.")
        mine = _BOOL[raw.lower()]
        me = self.me

        def jobs() -> dict[str, Any]:
            from jupyter_hpo.campaign import summarize_campaigns

            every = api.list_jobs(self.store)
            listed = [j for j in every if owners.is_mine(j[records.OWNER], me)] if mine else every
            # a campaign is summarized from all its jobs, also those `mine` leaves out
            return {"jobs": listed, "campaigns": summarize_campaigns(every, listed), "me": records.owner_json(me)}

        await self.reply(jobs)


#: (store URL, job) -> (when the job was made and its finished-trial counts, its importance): a detail asked again
#: while no trial has finished since does not read every trial again (a 10,000-trial job takes about a second);
#: a job deleted and made again under the name is another job, whatever its counts
_IMPORTANCE: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}
_IMPORTANCE_MAX = 256


def _importance(job: Any, summary: dict[str, Any]) -> Any:
    from jupyter_hpo.analytics import importance_json, record_importance

    key = (job.store.url, job.name)
    stamp = (summary.get("created"), *(int(summary.get(k) or 0) for k in ("complete", "pruned", "failed", "trials")))
    hit = _IMPORTANCE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    found = importance_json(record_importance(job.trial_records(), job.attrs.get(records.SPEC)))
    if len(_IMPORTANCE) >= _IMPORTANCE_MAX:
        _IMPORTANCE.clear()
    _IMPORTANCE[key] = (stamp, found)
    return found


class JobHandler(_Base):
    @web.authenticated
    async def get(self, name: str) -> None:
        def detail() -> dict[str, Any]:
            from jupyter_hpo.provenance import job_provenance

            job = api.attach(name, self.store)
            provenance = job_provenance(job)
            summary = job.summary()
            return {"job": summary, "spec": provenance.pop("spec"), "provenance": provenance,
                    "importance": _importance(job, summary)}

        await self.reply(detail)


class TrialsHandler(_Base):
    @web.authenticated
    async def get(self, name: str) -> None:
        raw = self.get_query_argument("after", "-1")
        try:
            after = int(raw)
        except ValueError:
            raise web.HTTPError(400, f"`after` must be an integer trial number, but got {raw!r}.") from None
        if after < -1:
            raise web.HTTPError(400, f"`after` must be >= -1, but got {after}.")
        await self.reply(lambda: {"trials": api.attach(name, self.store).trial_records(after=after)})


class StopHandler(_Action):
    action = "stop"

    @web.authenticated
    async def post(self, name: str) -> None:
        force, me = self.force(), self.me

        def stop() -> dict[str, Any]:
            job = api.attach(name, self.store)
            if job.status.is_finished() and job.status.value != "stale":
                raise JobStateError(f"job {name!r} is already {job.status.value}.")
            self.check(job, me, force)
            job.stop(wait=False, by=owners.stamp(me, via="rest"))
            return {"job": job.summary()}

        await self.reply(stop)


class ResumeHandler(_Action):
    action = "resume"

    @web.authenticated
    async def post(self, name: str) -> None:
        force, me = self.force(), self.me

        def resume() -> dict[str, Any]:
            job = api.attach(name, self.store)
            self.check(job, me, force)
            return {"job": job.resume(by=owners.stamp(me, via="rest")).summary()}

        await self.reply(resume)


class NotFoundHandler(_Base):
    """Anything else under the API root (e.g. a name that is not a job name): a JSON 404, after auth."""

    @web.authenticated
    async def get(self, rest: str) -> None:
        raise web.HTTPError(404, "no such jupyter-hpo API route (job names are 1-63 letters, digits or '-', "
                                 "starting with a letter or digit).")

    post = get


ROOT = "/jupyter-hpo/api"


def handlers() -> list[tuple[str, type[APIHandler]]]:
    """The route table (the server prepends its base URL); the last entry catches everything else."""
    from jupyter_hpo.server._campaigns import campaign_handlers
    from jupyter_hpo.server._handoff import RefitHandler, RegisterHandler

    return [
        (f"{ROOT}/jobs", JobsHandler),
        (f"{ROOT}/jobs/{JOB_NAME}", JobHandler),
        (f"{ROOT}/jobs/{JOB_NAME}/trials", TrialsHandler),
        (f"{ROOT}/jobs/{JOB_NAME}/stop", StopHandler),
        (f"{ROOT}/jobs/{JOB_NAME}/resume", ResumeHandler),
        (f"{ROOT}/jobs/{JOB_NAME}/refit", RefitHandler),
        (f"{ROOT}/jobs/{JOB_NAME}/register", RegisterHandler),
        *campaign_handlers(),
        (f"{ROOT}(?P<rest>/.*)?", NotFoundHandler),
    ]
