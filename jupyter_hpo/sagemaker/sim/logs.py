"""CloudWatch Logs, simulated: the training-job log group, its streams and their events."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from jupyter_hpo.sagemaker.sim.base import ApiError, ms, paginate

__all__ = ["LOG_GROUP", "LogEvent", "LogStore", "Stream"]

#: The log group SageMaker writes training-job logs to.
LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@dataclass
class LogEvent:
    timestamp: int  # ms
    message: str


@dataclass
class Stream:
    name: str
    created: int  # ms
    events: list[LogEvent] = field(default_factory=list)

    def append(self, t: float, message: str) -> None:
        self.events.append(LogEvent(ms(t), message))

    def truncate(self, t: float) -> None:
        """Forget the lines that were due after ``t`` (the job stopped then)."""
        self.events = [e for e in self.events if e.timestamp <= ms(t)]

    def visible(self, now: float) -> list[LogEvent]:
        return [e for e in self.events if e.timestamp <= ms(now)]


class LogStore:
    """The CloudWatch Logs side: the training-job log group, which exists once it has a stream."""

    def __init__(self, region: str, account: str) -> None:
        self.streams: dict[str, Stream] = {}
        self._arn = f"arn:aws:logs:{region}:{account}:log-group:{LOG_GROUP}"

    def create_stream(self, name: str, t: float) -> Stream:
        stream = self.streams[name] = Stream(name, ms(t))
        return stream

    def _check_group(self, p: dict[str, Any]) -> None:
        if ("logGroupName" in p) == ("logGroupIdentifier" in p):
            raise ApiError("InvalidParameterException", "Specify exactly one of logGroupName and logGroupIdentifier.")
        group = p.get("logGroupName") or p["logGroupIdentifier"].split(":log-group:")[-1].removesuffix(":*")
        if group != LOG_GROUP or not self.streams:
            raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")

    def _stream(self, p: dict[str, Any]) -> Stream:
        self._check_group(p)
        if p["logStreamName"] not in self.streams:
            raise ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
        return self.streams[p["logStreamName"]]

    def describe_log_streams(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeLogStreams: prefix filter, ordering by name or last event, ``nextToken`` paging (limit 50)."""
        self._check_group(p)
        prefix, order = p.get("logStreamNamePrefix", ""), p.get("orderBy", "LogStreamName")
        if prefix and order == "LastEventTime":
            raise ApiError("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = [s for s in self.streams.values() if s.name.startswith(prefix)]
        if order == "LogStreamName":
            streams.sort(key=lambda s: s.name, reverse=p.get("descending", False))
        else:
            streams.sort(key=lambda s: max([s.created] + [e.timestamp for e in s.visible(now)]),
                         reverse=p.get("descending", False))
        page, token = paginate(streams, p.get("nextToken"), p.get("limit", 50), "InvalidParameterException")
        out: dict[str, Any] = {"logStreams": [self._describe(s, now) for s in page]}
        if token:
            out["nextToken"] = token
        return out

    def _describe(self, stream: Stream, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"logStreamName": stream.name, "creationTime": stream.created, "storedBytes": 0,
                               "arn": f"{self._arn}:log-stream:{stream.name}"}
        events = stream.visible(now)
        if events:
            out.update(firstEventTimestamp=events[0].timestamp, lastEventTimestamp=events[-1].timestamp,
                       lastIngestionTime=events[-1].timestamp)
        return out

    def get_log_events(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """GetLogEvents with the service's token semantics.

        ``f/<n>`` reads forward from event n; ``b/<n>`` reads the events before n. Without a token the read
        starts at the head (``startFromHead``) or ends at the tail. A forward read that finds nothing new
        returns the token it was given.
        """
        start, end = p.get("startTime", 0), p.get("endTime", math.inf)
        events = [e for e in self._stream(p).visible(now) if start <= e.timestamp < end]
        limit, token = p.get("limit", 10_000), p.get("nextToken")
        if token:
            match = re.fullmatch(r"([fb])/(\d{56})", token)
            if match is None:
                raise ApiError("InvalidParameterException", "The specified nextToken is invalid.")
            forward, index = match.group(1) == "f", int(match.group(2))
        else:
            forward, index = bool(p.get("startFromHead")), 0 if p.get("startFromHead") else len(events)
        lo, hi = (index, max(index, min(index + limit, len(events)))) if forward else (max(0, index - limit), index)
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.timestamp}
                           for e in events[lo:hi]],
                "nextForwardToken": f"f/{hi:056d}", "nextBackwardToken": f"b/{lo:056d}"}

    def filter_log_events(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """FilterLogEvents across streams; ``filterPattern`` is a list of terms that must all occur."""
        self._check_group(p)
        names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix", "")
        if names and prefix:
            raise ApiError("InvalidParameterException", "Specify logStreamNames or logStreamNamePrefix, not both.")
        terms = [term.strip('"') for term in p.get("filterPattern", "").split()]
        start, end = p.get("startTime", 0), p.get("endTime", math.inf)
        rows = [(e, s, i) for s in self.streams.values() if s.name.startswith(prefix) and (not names or s.name in names)
                for i, e in enumerate(s.visible(now))
                if start <= e.timestamp < end and all(term in e.message for term in terms)]
        rows.sort(key=lambda row: (row[0].timestamp, row[1].name, row[2]))
        page, token = paginate(rows, p.get("nextToken"), p.get("limit", 10_000), "InvalidParameterException")
        out: dict[str, Any] = {"events": [{"logStreamName": s.name, "timestamp": e.timestamp, "message": e.message,
                                           "ingestionTime": e.timestamp, "eventId": f"{s.name}:{i}"}
                                          for e, s, i in page]}
        if token:
            out["nextToken"] = token
        return out
