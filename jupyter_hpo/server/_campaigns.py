"""REST handlers that stop and resume a campaign as a whole (``POST campaigns/{name}/stop`` and ``.../resume``).

A campaign's jobs are checked as ``POST jobs/{name}/stop`` checks one job: when any of them belongs to another
user, the request needs ``{"force": true}`` (else 409 naming that job's owner), and it is refused (403) when
``HpoExtension.allow_acting_on_others_jobs`` is False. Stopping a campaign that is not running (nor stale) is a
409; so is resuming one that runs or has completed every job (``Campaign.resume`` says which). Both answer
``{"campaign": <Campaign.summary()>}``.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from jupyter_hpo import owners
from jupyter_hpo.exceptions import JobStateError
from jupyter_hpo.server._handlers import ROOT, _Action

__all__ = ["CAMPAIGN_NAME", "campaign_handlers"]

#: a campaign name in a route: the rule of ``jupyter_hpo.campaign`` (letters, digits, '.', '_', '-')
CAMPAIGN_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,99})"


class _CampaignAction(_Action):
    def check_all(self, campaign: Any, me: dict[str, Any], force: bool) -> None:
        """Let the requester act on every job of ``campaign``, or raise as for one job (403 or 409)."""
        for job in campaign.jobs:
            self.check(job, me, force)


class CampaignStopHandler(_CampaignAction):
    action = "stop"

    @web.authenticated
    async def post(self, name: str) -> None:
        force, me = self.force(), self.me

        def stop() -> dict[str, Any]:
            from jupyter_hpo.campaign import attach_campaign

            campaign = attach_campaign(name, self.store)
            status = campaign.status
            if status not in ("running", "stale"):
                raise JobStateError(f"campaign {name!r} is already {status}.")
            self.check_all(campaign, me, force)
            campaign.stop(wait=False, by=owners.stamp(me, via="rest"))
            return {"campaign": campaign.summary()}

        await self.reply(stop)


class CampaignResumeHandler(_CampaignAction):
    action = "resume"

    @web.authenticated
    async def post(self, name: str) -> None:
        force, me = self.force(), self.me

        def resume() -> dict[str, Any]:
            from jupyter_hpo.campaign import attach_campaign

            campaign = attach_campaign(name, self.store)
            self.check_all(campaign, me, force)
            return {"campaign": campaign.resume(by=owners.stamp(me, via="rest")).summary()}

        await self.reply(resume)


def campaign_handlers() -> list[tuple[str, type[_Action]]]:
    """The campaign routes, for the route table (before its catch-all)."""
    return [
        (f"{ROOT}/campaigns/{CAMPAIGN_NAME}/stop", CampaignStopHandler),
        (f"{ROOT}/campaigns/{CAMPAIGN_NAME}/resume", CampaignResumeHandler),
    ]
