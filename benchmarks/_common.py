"""What the benchmark scripts share: progress lines, quantiles, a description of the machine, writing the result,
and a real MLflow tracking server (which tests/test_mlflow.py starts the same way)."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    """A timestamped progress line on stderr (the table and the JSON go to stdout and a file)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation between closest ranks; None when empty."""
    s = sorted(values)
    if not s:
        return None
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": pct(values, 0.5), "p95": pct(values, 0.95),
            "max": max(values) if values else None, "min": min(values) if values else None,
            "mean": statistics.fmean(values) if values else None}


def private_home(name: str) -> Path:
    """A fresh work folder for a run, whose ``home`` subfolder becomes this process's jupyter-hpo home (its own
    SQLite store, never a team's: ``$JUPYTER_HPO_STORE_URL`` is dropped); the caller removes the folder."""
    work = Path(tempfile.mkdtemp(prefix=f"jupyter-hpo-{name}-"))
    os.environ["JUPYTER_HPO_HOME"] = str(work / "home")
    os.environ.pop("JUPYTER_HPO_STORE_URL", None)
    return work


def target_line(t: dict[str, Any], value_format: str) -> str:
    """A goal's line in a report: ``target: value unit (PASS|FAIL, goal op threshold unit)``."""
    return (f"{t['target']}: {format(t['value'], value_format)} {t['unit']} ({'PASS' if t['pass'] else 'FAIL'}, "
            f"goal {t['op']} {t['threshold']:g} {t['unit']})")


def objective_start(r: dict[str, Any]) -> float | None:
    """When a trial record's objective started (None when the record cannot say). A warm trial: its dispatch
    (``started``) + ``startup_s``. A cold trial's ``startup_s`` counts from its worker's spawn, which can come
    before the dispatch (a new local job's first workers start with its runner), so then it is the earlier of that
    and ``completed - run_s`` (the store's record of its end, a few ms after the objective returned)."""
    if r.get("started") is None or r.get("startup_s") is None:
        return None
    start = float(r["started"] + r["startup_s"])
    if r.get("warm") is not True and r.get("completed") is not None and r.get("run_s") is not None:
        start = min(start, float(r["completed"] - r["run_s"]))
    return start


def publish(out: Path, result: dict[str, Any], report: str) -> int:
    """Write the result's JSON to ``out``, print the report and where it went; the script's exit code (0)."""
    write_result(out, result)
    print(report)
    print(f"wrote {out}")
    return 0


def quick_out(script: str) -> Path:
    """Where ``--quick`` writes its JSON unless ``--out`` is given: a temporary file, never ``results/``."""
    return Path(tempfile.gettempdir()) / f"jupyter-hpo-{script}-quick.json"


def apply_defaults(args: argparse.Namespace, full: dict[str, Any], quick: dict[str, Any]) -> argparse.Namespace:
    """Fill the options left unset (None) from ``quick`` when ``args.quick``, else from ``full``."""
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def machine_info(packages: tuple[str, ...]) -> dict[str, Any]:
    """Date, CPUs, memory, load, Python, the git commit (``-dirty`` if changed) and ``packages``' versions."""
    from importlib.metadata import PackageNotFoundError, version

    info: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": None, "memory_gb": None, "loadavg_at_start": list(os.getloadavg()),
        "platform": platform.platform(), "python": platform.python_version(), "git_commit": None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for pkg in packages:  # by metadata: importing a package here would warm a measured import
        try:
            info[pkg.replace("-", "_")] = version(pkg)
        except PackageNotFoundError:
            info[pkg.replace("-", "_")] = None
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info["git_commit"] = out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write a benchmark's result as indented JSON (creating its folder) and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# -- a real MLflow tracking server (benchmarks/mlflow_overhead.py and tests/test_mlflow.py) ------------------
#: MLflow's settings that keep a server and its clients from phoning home
MLFLOW_QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mlflow_server(root: Path, timeout: float = 180) -> tuple[subprocess.Popen[bytes], str]:
    """``mlflow server`` on a free port of 127.0.0.1 (SQLite backend store and artifacts under ``root``, its
    log in ``root/server.log``), in its own process group; ``(process, url)`` once ``/health`` answers.

    Raises:
        RuntimeError: it exited or did not answer within ``timeout`` s (the log's tail says why); it is stopped.
    """
    port = free_port()
    with (root / "server.log").open("wb") as log_file:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
             "--artifacts-destination", str(root / "artifacts")],
            cwd=root, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **MLFLOW_QUIET})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/health", timeout=2) as answer:
            if answer.status == 200:
                return proc, url
        time.sleep(0.2)
    stop_process_group(proc)
    raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-3000:]}")


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``proc``'s process group (started with ``start_new_session``), SIGKILL after 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
