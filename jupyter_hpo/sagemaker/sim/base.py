"""What every simulated service shares: error responses, time formats, regexes, paging and filters."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import botocore.session
from botocore.utils import parse_to_aware_datetime

__all__ = [
    "ApiError",
    "SimulationError",
    "dt",
    "epoch",
    "in_window",
    "invalid",
    "ms",
    "paginate",
    "regex",
    "service_model",
    "sort_and_page",
]


class SimulationError(AssertionError):
    """Raised when the simulation produced a response that breaks the service model: a bug in the simulation."""


class ApiError(Exception):
    """An error response of the simulated service; botocore raises it as the modelled exception, if any."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def ms(t: float) -> int:
    return int(t * 1000)


def epoch(value: Any) -> float:
    return parse_to_aware_datetime(value).timestamp()


@functools.lru_cache(maxsize=256)
def regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.cache
def service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def paginate(items: list[Any], token: str | None, limit: int,
             code: str = "ValidationException") -> tuple[list[Any], str | None]:
    """One page of ``items`` after the offset in ``token``, and the token of the next page (None at the end)."""
    start = 0
    if token:
        match = re.fullmatch(r"sim-(\d+)", token)
        if match is None:
            raise ApiError(code, f"The pagination token {token!r} is invalid.")
        start = int(match.group(1))
    end = start + limit
    return items[start:end], (f"sim-{end}" if end < len(items) else None)


def sort_and_page(items: list[Any], p: dict[str, Any], keys: dict[str, Callable[[Any], Any]],
                  default_sort: str) -> tuple[list[Any], str | None]:
    """Sort by ``SortBy``/``SortOrder`` (default Ascending) and page by ``NextToken``/``MaxResults`` (10)."""
    items = sorted(items, key=keys[p.get("SortBy", default_sort)], reverse=p.get("SortOrder") == "Descending")
    return paginate(items, p.get("NextToken"), p.get("MaxResults", 10))


def in_window(created: float, modified: float, p: dict[str, Any]) -> bool:
    """Whether the times pass the ``CreationTime*`` and ``LastModifiedTime*`` filters of a List call."""
    checks = [("CreationTimeAfter", created, 1), ("CreationTimeBefore", created, -1),
              ("LastModifiedTimeAfter", modified, 1), ("LastModifiedTimeBefore", modified, -1)]
    return all((t - epoch(p[name])) * sign > 0 for name, t, sign in checks if name in p)
