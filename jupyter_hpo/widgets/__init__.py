"""Notebook widgets: a search-space builder, a live tuning dashboard, a comparison of jobs and a campaign view.

They only call :mod:`jupyter_hpo.api` and render. ``import jupyter_hpo`` does not import this package
(nor ipywidgets or anywidget).

Example:
    >>> from jupyter_hpo.widgets import Dashboard, SearchSpaceBuilder, CompareView
    >>> SearchSpaceBuilder({"x": {"type": "float", "low": 0, "high": 1}}).space["x"].low
    0.0
"""

from __future__ import annotations

from jupyter_hpo.widgets._builder import ParamRow, SearchSpaceBuilder
from jupyter_hpo.widgets._campaign import CampaignView
from jupyter_hpo.widgets._compare import CompareView
from jupyter_hpo.widgets._dashboard import Dashboard

__all__ = ["CampaignView", "CompareView", "Dashboard", "ParamRow", "SearchSpaceBuilder"]
