"""CompareView: best-so-far curves of several jobs, against trials finished and against wall time.

It reuses ``dashboard.js`` with ``mode="compare"``. The curves come from :func:`jupyter_hpo.api.compare`
and are reduced to the points where the best value changed (plus the last one), so the synced state
stays small however many trials the jobs ran.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

from jupyter_hpo import api
from jupyter_hpo.store import Store
from jupyter_hpo.widgets._dashboard import HERE
from jupyter_hpo.widgets._routing import route_to_sender

__all__ = ["CompareView", "compact_curve"]

_SUMMARY_KEYS = ("name", "status", "metric", "direction", "trials", "complete", "failed", "pruned", "best",
                 "startup_saved_s")


def compact_curve(curve: list[dict[str, Any]]) -> list[list[Any]]:
    """``[[index, elapsed_s, best, number], ...]`` where the best value changed, plus the last point.

    Args:
        curve: :func:`jupyter_hpo.api.best_so_far` output.
    """
    out: list[list[Any]] = []
    for i, p in enumerate(curve):
        if p["best"] is None:
            continue
        if not out or p["best"] != out[-1][2] or i == len(curve) - 1:
            out.append([p["index"], round(p["elapsed_s"], 3), p["best"], p["number"]])
    return out


class CompareView(anywidget.AnyWidget):
    """Overlay the best-so-far curves of several jobs (against trial count and against wall time).

    Args:
        *names: job names (at least one).
        store: a :class:`jupyter_hpo.store.Store` or URL; default :func:`jupyter_hpo.api.open_store`.

    Raises:
        ValueError: no name was given.
        JobNotFoundError: one of the jobs does not exist.

    Example:
        >>> from jupyter_hpo.widgets import CompareView
        >>> CompareView("run-1", "run-2")  # doctest: +SKIP
    """

    _esm = HERE / "dashboard.js"
    _css = HERE / "dashboard.css"

    mode = t.Unicode("compare", help="Which view dashboard.js draws: 'compare' here.").tag(sync=True)
    jobs = t.List(t.Dict(), help="Per job: name, status, metric, direction, trials, complete, failed, pruned, "
                  "best, startup_saved_s and curve ([[index, elapsed_s, best, number], ...], change points only)."
                  ).tag(sync=True)

    def __init__(self, *names: str, store: Store | str | None = None, **kwargs: Any) -> None:
        if not names:
            raise ValueError("CompareView needs at least one job name, but got none.")
        self.names = names
        self._store = store
        super().__init__(jobs=self._read(), **kwargs)
        route_to_sender(self)

    def _read(self) -> list[dict[str, Any]]:
        data = api.compare(*self.names, store=self._store)
        return [{**{k: entry["summary"].get(k) for k in _SUMMARY_KEYS}, "curve": compact_curve(entry["curve"])}
                for entry in data.values()]

    def refresh(self) -> None:
        """Read the jobs again (the view does not follow them live)."""
        self.jobs = self._read()
