"""Following a job's trials incrementally: what the live displays (CLI, dashboard, sidebar) read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_hpo.records import improvements, summarize
from jupyter_hpo.store import JobStatus, Store

if TYPE_CHECKING:
    from jupyter_hpo.api import Job

__all__ = ["TrialFeed", "ended_summaries"]


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
        new_attrs = attrs if attrs is not None else self.job.attrs
        if self.attrs and new_attrs.get("created") != self.attrs.get("created"):  # the job was made again: the
            self.records.clear()  # trials read are another job's (its name was freed, and taken again)
            self.job.store.forget(self.job.name)
            self.job._space = None  # noqa: SLF001 - and the space the job object read is the old job's
            new_attrs = self.job.attrs
        unfinished = [n for n, r in self.records.items() if r["state"] not in self._FINISHED]
        after = min(unfinished, default=max(self.records, default=-1) + 1) - 1
        changed = []
        for rec in self.job.trial_records(after=after):
            if self.records.get(rec["number"]) != rec:
                self.records[rec["number"]] = rec
                changed.append(rec)
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


#: ``(store URL, job) -> (attrs, summary)`` of ended jobs summarized by :func:`ended_summaries` in this process
_ENDED: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
_ENDED_STATES = (JobStatus.COMPLETED, JobStatus.STOPPED, JobStatus.FAILED)


def ended_summaries(store: Store, attrs_by_name: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The summaries of the jobs in ``attrs_by_name`` that have ended, without reading their trials whole.

    An ended job's trials no longer change (a resume changes its status first), so its summary needs only a
    few figures per trial (:meth:`Store.summary_rows`, read for all such jobs at once) and the best trial's
    parameters; it is kept until the job's attributes change. What a server's first ``GET jobs`` needs:
    building every trial of every job took seconds. Active jobs are left out: a :class:`TrialFeed` follows them.
    """
    out: dict[str, dict[str, Any]] = {}
    todo: dict[str, dict[str, Any]] = {}
    for name, attrs in attrs_by_name.items():
        if Store.status_of(attrs) not in _ENDED_STATES:
            continue
        kept = _ENDED.get((store.url, name))
        if kept is not None and kept[0] == attrs:
            out[name] = kept[1]
        else:
            todo[name] = attrs
    rows_by_name = store.summary_rows(list(todo)) if todo else {}
    if rows_by_name is None:  # Optuna's tables could not be read so: the callers read whole trials
        return out
    best: dict[str, dict[str, Any]] = {}
    for name, rows in rows_by_name.items():
        direction = ((todo[name].get("spec") or {}).get("objective") or {}).get("direction", "maximize")
        better = improvements(rows, "maximize" if direction == "maximize" else "minimize")
        for row in rows:
            row["params"] = None
        if better:
            best[name] = better[-1]  # type: ignore[assignment] - one of ``rows``
    params = store.trial_params([row["trial_id"] for row in best.values()])  # the best trials' only
    for name, rows in rows_by_name.items():
        attrs = todo[name]
        if name in best:
            best[name]["params"] = _in_space(attrs, params[best[name]["trial_id"]])
        out[name] = summarize(name, attrs, rows)
        _ENDED[(store.url, name)] = (attrs, out[name])
    return out


def _in_space(attrs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's parameters under the job's space's own names and values, as in a trial record."""
    from jupyter_hpo.space import SearchSpace

    try:
        return SearchSpace.from_dict(attrs["spec"]["space"]).from_optuna(params)
    except (KeyError, TypeError):  # as a record does when the space does not fit
        return params
