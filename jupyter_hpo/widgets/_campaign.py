"""CampaignView: a campaign's jobs as one group, its summary above their best-so-far curves, followed live.

It is a :class:`~jupyter_hpo.widgets.CompareView` of the campaign's jobs (``dashboard.js`` with
``mode="campaign"``) plus the campaign's summary (:meth:`jupyter_hpo.campaign.Campaign.summary`): jobs,
trials, warm share, start-up saved, cost, and the best job and trial. While the campaign runs, a daemon thread
reads both again every ``interval`` seconds and stops after the read that sees it end.
"""

from __future__ import annotations

import threading
from typing import Any

import traitlets as t

from jupyter_hpo.records import json_safe
from jupyter_hpo.store import Store
from jupyter_hpo.widgets._compare import CompareView

__all__ = ["CampaignView"]


class CampaignView(CompareView):
    """A campaign's summary and its jobs' best-so-far curves, updated while it runs.

    Args:
        name: the campaign's name.
        store: a :class:`jupyter_hpo.store.Store` or URL; default :func:`jupyter_hpo.api.open_store`.
        interval: seconds between reads while the campaign runs (> 0).
        follow: read again while the campaign runs (False: one read; call :meth:`refresh`).

    Raises:
        JobNotFoundError: no job of the store belongs to a campaign of that name.
        ValueError: ``interval`` is not a positive number.

    Example:
        >>> from jupyter_hpo.widgets import CampaignView
        >>> CampaignView("credit-campaign")  # doctest: +SKIP
    """

    mode = t.Unicode("campaign", help="Which view dashboard.js draws: 'campaign' here.").tag(sync=True)
    campaign = t.Dict(help="The campaign's summary (Campaign.summary(), strict JSON): name, status, metric, "
                      "direction, jobs, trials, complete, warm_starts, cold_starts, warm_share, startup_saved_s, "
                      "cost_usd and best {job, number, value, params}.").tag(sync=True)

    def __init__(self, name: str, store: Store | str | None = None, *, interval: float = 1.0, follow: bool = True,
                 **kwargs: Any) -> None:
        from jupyter_hpo import api
        from jupyter_hpo.campaign import attach_campaign

        self._done = threading.Event()
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
            raise ValueError(f"`interval` must be a positive number of seconds, but got {interval!r}.")
        st = store if isinstance(store, Store) else api.open_store(store)
        self._campaign = attach_campaign(name, st)
        self.interval = float(interval)
        super().__init__(*self._campaign.job_names, store=st, campaign=self._summary(), **kwargs)
        if follow and self.campaign.get("status") == "running":
            threading.Thread(target=self._follow, name=f"hpo-campaign-{name}", daemon=True).start()

    def _summary(self) -> dict[str, Any]:
        return json_safe(self._campaign.summary())[0]

    def refresh(self) -> None:
        """Read the campaign's summary and its jobs' curves again."""
        jobs, summary = self._read(), self._summary()
        with self.hold_sync():
            self.jobs, self.campaign = jobs, summary

    def close(self) -> None:
        self._done.set()
        super().close()

    def _follow(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # a store briefly unreachable: try again at the next interval
                continue
            if self.campaign.get("status") != "running":
                return
