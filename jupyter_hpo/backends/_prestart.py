"""A local job's workers boot while its runner is still starting.

A worker's boot (importing NumPy, pandas, scikit-learn, XGBoost... for the objective) takes about a second,
and the runner's own start (its imports, the store, the study) about half a second more. They need not wait for
each other: :func:`jupyter_hpo.api.launch` writes the pool's boot into the new job's folder (:func:`write`:
:data:`PRESTART_FILE`, the worker boot the local backend computes from the spec and how many workers), the
runner's first act, before its heavy imports, is :func:`spawn_from` (the file's path comes in
``$JUPYTER_HPO_PRESTART``), and the local backend then takes these workers (:func:`take`) as its first ones.

It is only a head start, never a second source of truth: the backend takes a worker only when the boot it
computes from the stored spec is exactly the file's (else it ends them and starts its own), and no more
than it can use. The file is read once and removed. :meth:`jupyter_hpo.api.Job.resume` writes it again for the
trials the resumed job has left, where its objective is on this machine. This module imports nothing heavy, so
the runner can call it first.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["ENV", "PRESTART_FILE", "spawn_from", "start_worker", "take", "write"]

PRESTART_FILE = "prestart.json"
#: how :func:`jupyter_hpo.runner.spawn_runner` tells the runner where the file is (the runner removes it
#: from its environment, so its workers and their trials do not see it)
ENV = "JUPYTER_HPO_PRESTART"
_MAX_WORKERS = 256

#: (the boot they were started with, [(process, connection, spawned at)]) until the backend takes them
_started: tuple[dict[str, Any], list[tuple[Any, Any, float]]] | None = None


def start_worker(boot: dict[str, Any], serial: int) -> tuple[Any, Any, float]:
    """Start one worker process (spawned, a daemon of this process) with ``boot``; returns (process, the
    runner's end of its pipe, when it was started)."""
    from jupyter_hpo.backends._worker import worker_main

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=worker_main, args=(child, boot), daemon=True, name=f"jupyter-hpo-worker-{serial}")
    spawned_at = time.time()
    process.start()
    child.close()
    return process, parent, spawned_at


def write(job_dir: Path, boot: dict[str, Any], count: int) -> bool:
    """Record the pool the job's runner may start first (``count`` workers with ``boot``); False when it cannot
    be written (a boot that is not JSON, a full disk): a head start is never worth failing a launch for."""
    path = job_dir / PRESTART_FILE
    try:
        path.write_text(json.dumps({"boot": boot, "count": count}), encoding="utf-8")
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    return True


def spawn_from(path: str) -> int:
    """Read and remove the file at ``path`` and start its workers; returns how many. A missing or malformed
    file starts none: the backend then starts its workers itself, as without a head start."""
    global _started
    try:
        text = Path(path).read_text(encoding="utf-8")
        os.unlink(path)
        data = json.loads(text)
    except (OSError, ValueError):
        return 0
    boot, count = (data.get("boot"), data.get("count")) if isinstance(data, dict) else (None, None)
    if (not isinstance(boot, dict) or isinstance(count, bool) or not isinstance(count, int)
            or not 0 < count <= _MAX_WORKERS):
        return 0
    _started = (boot, [start_worker(boot, i + 1) for i in range(count)])
    return count


def take(boot: dict[str, Any]) -> tuple[list[tuple[Any, Any, float]], list[tuple[Any, Any, float]]]:
    """The workers started with the runner, as (usable, not usable): usable when they were started with exactly
    ``boot`` (compared as JSON, as the file held it), else all are not usable. Each is handed out once."""
    global _started
    if _started is None:
        return [], []
    started, workers = _started
    _started = None
    return (workers, []) if json.loads(json.dumps(boot)) == started else ([], workers)
