"""Ending a process together with every process it started.

A local worker leads its own session and process group (``os.setsid()`` at the start of
``worker_main``), so whatever a trial starts -- ``subprocess.Popen``, a multiprocessing child, a
shell pipeline -- is in the worker's group unless it made a group of its own. Ending a process tree
(:func:`end_process_tree`) ends:

* the root process and its process group, if the root leads one;
* every descendant of the root (found through parent links with psutil) and every process group a
  descendant leads, so children that changed their group (``start_new_session=True``) go too;
* the descendants found before a worker was told to exit (``also``), with their descendants: once
  the worker has exited they have a new parent and could not be found from it.

Everything is first frozen with SIGSTOP (a frozen process cannot start more) and looked at again, at
most :data:`ROUNDS` times, then killed with SIGKILL. Only the root, its descendants and the groups
they lead are signalled: psutil checks that a pid still names the process found (not a reused pid),
and neither this process nor its own group is ever signalled. Out of reach: a process that both left
the group and lost its parent link before it was found (a daemon's double fork: re-parented to init).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from typing import Any

__all__ = ["descendants", "end_process_tree"]

#: How many times the tree is looked at again for processes started while it was being frozen.
ROUNDS = 3


def descendants(pid: int) -> list[Any]:
    """The descendants of ``pid`` now (psutil processes), e.g. to end them after ``pid`` exits by itself:
    they are re-parented then, and can no longer be found from it."""
    import psutil

    try:
        return _descendants(psutil.Process(pid))
    except psutil.Error:
        return []


def end_process_tree(pid: int, also: Iterable[Any] = ()) -> list[int]:
    """SIGKILL ``pid``, its descendants and the process groups they lead; returns the pids signalled.

    ``also``: processes found earlier with :func:`descendants` (each is signalled only if it is still the
    process found). The caller must know that ``pid`` still names the process it means (e.g. its own
    unreaped child).
    """
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return []
    roots = [root, *also]  # a process found earlier may have been re-parented since: searched from too
    tree: dict[int, Any] = {p.pid: p for p in roots}
    stop = getattr(signal, "SIGSTOP", None)
    for _ in range(ROUNDS):
        if stop is not None:
            for proc in list(tree.values()):
                _signal(proc, stop)
        found = {p.pid: p for r in roots for p in _descendants(r) if p.pid not in tree}
        if not found:
            break
        tree.update(found)
    for proc in tree.values():
        _signal(proc, signal.SIGKILL)
    return sorted(tree)


def _descendants(root: Any) -> list[Any]:
    import psutil

    try:
        return list(root.children(recursive=True))
    except psutil.Error:
        return []


def _signal(proc: Any, sig: int) -> None:
    """Signal ``proc`` and the process group it leads (if any, and not ours)."""
    import psutil

    if proc.pid in (0, os.getpid()):
        return
    with contextlib.suppress(psutil.Error, OSError):
        if not proc.is_running():  # gone, or its pid now names another process
            return
        if hasattr(os, "killpg") and os.getpgid(proc.pid) == proc.pid != os.getpgrp():
            os.killpg(proc.pid, sig)
        proc.send_signal(sig)  # psutil refuses a reused pid
