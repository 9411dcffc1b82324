"""Following a job's trials incrementally: what the live displays (CLI, dashboard, sidebar) read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_hpo.records import summarize
from jupyter_hpo.store import JobStatus, Store

if TYPE_CHECKING:
    from jupyter_hpo.api import Job

__all__ = ["TrialFeed"]


class TrialFeed:
    """Follows one job's trials incrementally: each :meth:`poll` reads only trials that are new or were
    still unfinished, and returns those that changed. What live displays (CLI, dashboard, sidebar) use.

    Example:
        >>> feed = TrialFeed(jupyter_hpo.api.attach("credit-xgb"))  # doctest: +SKIP
        >>> changed = feed.poll(); feed.summary()["complete"]  # doctest: +SKIP
    """

    _FINISHED = ("complete", "pruned", "fail")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.records: dict[int, dict[str, Any]] = {}
        self.attrs: dict[str, Any] = {}
        self._summary: dict[str, Any] | None = None

    def poll(self, attrs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Read what changed since the last poll; return the changed trial records, by number.

        ``attrs``, when the caller has just read the job's attributes, saves reading them again.
        """
        unfinished = [n for n, r in self.records.items() if r["state"] not in self._FINISHED]
        after = min(unfinished, default=max(self.records, default=-1) + 1) - 1
        changed = []
        for rec in self.job.trial_records(after=after):
            if self.records.get(rec["number"]) != rec:
                self.records[rec["number"]] = rec
                changed.append(rec)
        new_attrs = attrs if attrs is not None else self.job.attrs
        if changed or new_attrs != self.attrs:
            self._summary = None
        self.attrs = new_attrs
        return changed

    def settled(self, attrs: dict[str, Any]) -> bool:
        """True when the job had ended before the last poll and nothing about it changed since."""
        if attrs != self.attrs or not self.records and not attrs.get("ended"):
            return False
        ended = JobStatus(attrs.get("status", "pending")) in (JobStatus.COMPLETED, JobStatus.STOPPED, JobStatus.FAILED)
        return ended and all(r["state"] in self._FINISHED for r in self.records.values())

    def summary(self) -> dict[str, Any]:
        """The job's summary from what has been read so far (no extra query)."""
        if self._summary is None or self._summary["status"] != Store.status_of(self.attrs).value:
            self._summary = summarize(self.job.name, self.attrs, [self.records[n] for n in sorted(self.records)])
        return self._summary

    def sorted_records(self) -> list[dict[str, Any]]:
        return [self.records[n] for n in sorted(self.records)]
