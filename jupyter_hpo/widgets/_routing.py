"""Where the kernel runs what a widget's front end sends: in the subshell the front end sent it to.

JupyterLab 4.4+ and Notebook 7 send comm messages to a kernel subshell they create (one per comm target, the
``commsOverSubshells`` setting), so that a widget's handler runs while the main shell is busy with a cell.
ipykernel 7.4 then re-routes each incoming ``comm_msg``/``comm_close`` of a comm to the subshell of the
message the kernel last published on that comm *from* (``Comm._reply_subshell_for``), so that kernel code
waiting for a front-end reply gets it on its own loop.

For a widget that publishes from a background thread (the dashboard's poll thread), that "last parent" is
whatever the kernel last handled: often a comm message of the page's subshell. When the page is reloaded or
closed, JupyterLab deletes that subshell, and from then on every message of the new page to the widget is
re-routed to a subshell that no longer exists and dropped ("Cannot handle comm_msg ...: Unknown
subshell_id"): Stop, hello, Refit, a builder's edits. Nothing in our widgets waits for a front-end reply, so
they opt out: each message runs in the subshell its page addressed, which that page keeps alive.
"""

from __future__ import annotations

from typing import Any


def _sender_subshell(_data: Any, default: str | None) -> str | None:
    return default


def route_to_sender(*widgets: Any) -> None:
    """Make the kernel handle each widget's incoming messages (and its children's) in the sender's subshell.

    A no-op for a widget without a comm (closed) and with a kernel that does not re-route (ipykernel < 7.4).
    """
    todo = list(widgets)
    seen: set[int] = set()
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        comm = getattr(widget, "comm", None)
        if comm is not None and hasattr(comm, "_reply_subshell_for"):
            comm._reply_subshell_for = _sender_subshell
        todo.extend(getattr(widget, "children", ()) or ())
