"""Live-update latency of the dashboard and the notebook's responsiveness, with a real kernel.

Three figures, each against a goal:

  1. trial completion -> dashboard: a job streams to its dashboard (``%hpo launch`` in a real ipykernel);
     this script plays the front end (it sends the widget ``{"type": "hello"}`` over its comm) and, for
     every trial row that arrives finished for the first time, takes its receive time (time.time())
     minus the trial's ``completed`` timestamp from the store.                       goal: p95 <= 1 s
  2. extra latency of a trivial cell (``1+1``, execute_request -> execute_reply) while a job streams to
     a dashboard, vs. with no job running (N=50 each).                  goal: p95 extra <= 100 ms
  3. ``import jupyter_hpo`` and ``%load_ext jupyter_hpo``, each in a fresh Python process (median of 5).
     goal: <= 0.5 s each; ``import jupyter_hpo.widgets`` is reported too (no goal).

It prints a table and writes JSON (figures, goals, machine, CPU used by other processes during each
phase). See benchmarks/README.md.

    .venv/bin/python benchmarks/live_updates.py                 # about a minute
    .venv/bin/python benchmarks/live_updates.py --trials 120 --cells 100
    .venv/bin/python benchmarks/live_updates.py --quick --out /tmp/live.json    # smoke run (CI), ~20 s

The JSON's top-level keys are RESULT_KEYS.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import apply_defaults, log as _log, machine_info, quick_out, stats  # noqa: E402 - on sys.path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "live_updates.json"
# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("benchmark", "quick", "machine", "goals_definition", "imports", "imports_load", "kernel", "goals")
REPORT_HEADINGS = ("Trial completed -> row at the front end", "1+1 execute_request -> execute_reply",
                   "Imports, fresh Python process", "Goals")
FULL = {"trials": 60, "cells": 50, "import_runs": 5, "out": DEFAULT_OUT}
# --quick: 20 trials (about 3 s of trials) keep the job running well past the hello on a busy machine
QUICK = {"trials": 20, "cells": 5, "import_runs": 1, "out": quick_out("live_updates")}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FINISHED = ("complete", "pruned", "fail")

# goals
GOAL_LATENCY_P95_S = 1.0
GOAL_CELL_EXTRA_P95_MS = 100.0
GOAL_IMPORT_S = 0.5
GOAL_LOAD_EXT_S = 0.5

OBJECTIVE_CELL = """\
import random, time

def quick(params):
    time.sleep(random.uniform(0.2, 0.4))
    return params["x"]

space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
"""


# -- CPU accounting: ours vs. the rest of the machine ---------------------------------------------
class CpuMonitor:
    """Samples, every ``period`` s, the machine's busy CPU time and the CPU time of our processes.

    Ours: this process and every process whose ``JUPYTER_HPO_HOME`` is the benchmark's temporary home
    (the kernel, the runners and their workers). Each process's last sampled CPU time is kept, so one
    that exits between samples still counts up to its last sample. ``foreign`` = busy - ours: what
    other work on the machine took during a phase.
    """

    def __init__(self, home: Path, period: float = 0.25) -> None:
        import psutil

        self.psutil = psutil
        self.home = str(home)
        self.period = period
        self.known: dict[tuple[int, float], bool] = {}
        self.cpu: dict[tuple[int, float], float] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="cpu-monitor", daemon=True)
        self.me = os.getpid()

    @staticmethod
    def _busy() -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    def _is_ours(self, p: Any) -> bool:
        if p.pid == self.me:
            return True
        try:
            return p.environ().get("JUPYTER_HPO_HOME") == self.home
        except (self.psutil.Error, OSError):
            return False

    def sample(self) -> None:
        for p in self.psutil.process_iter(["create_time"]):
            key = (p.pid, p.info["create_time"] or 0.0)
            ours = self.known.get(key)
            if ours is None:
                ours = self.known[key] = self._is_ours(p)
            if ours:
                try:
                    t = p.cpu_times()
                    with self.lock:
                        self.cpu[key] = t.user + t.system
                except (self.psutil.Error, OSError):
                    pass

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - accounting must never break the benchmark
                pass

    def start(self) -> CpuMonitor:
        self.sample()
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)

    def mark(self) -> dict[str, Any]:
        self.sample()
        with self.lock:
            own = dict(self.cpu)
        return {"t": time.perf_counter(), "busy": self._busy(), "own": own, "loadavg": os.getloadavg()[0]}

    def between(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        wall = b["t"] - a["t"]
        own = sum(v - a["own"].get(k, 0.0) for k, v in b["own"].items())
        busy = b["busy"] - a["busy"]
        cores = os.cpu_count() or 1
        foreign = max(0.0, busy - own)
        return {"wall_s": round(wall, 3), "own_cpu_s": round(own, 3), "machine_busy_cpu_s": round(busy, 3),
                "foreign_cpu_s": round(foreign, 3),
                "foreign_share_of_capacity": round(foreign / (wall * cores), 4) if wall > 0 else None,
                "own_share_of_capacity": round(own / (wall * cores), 4) if wall > 0 else None,
                "loadavg_1m_end": round(b["loadavg"], 2)}


# -- a real kernel, driven over ZMQ ---------------------------------------------------------------
class Kernel:
    """An ipykernel started with jupyter_client; one thread reads iopub and stamps every message."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.comm_msgs: dict[str, queue.Queue] = {}  # comm_id -> (recv time, content)
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.idle: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.reader = threading.Thread(target=self._read_iopub, name="iopub-reader", daemon=True)
        self.reader.start()

    def _read_iopub(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.kc.iopub_channel.get_msg(timeout=0.1)
            except queue.Empty:
                continue
            except Exception:  # noqa: BLE001 - the channel closed at shutdown
                if self._stop.is_set():
                    return
                continue
            now = time.time()
            kind = msg["header"]["msg_type"]
            content = msg["content"]
            parent = (msg.get("parent_header") or {}).get("msg_id")
            if kind == "comm_msg":
                q = self.comm_msgs.get(content.get("comm_id"))
                if q is not None:
                    q.put((now, content.get("data") or {}, len(json.dumps(content))))
                continue
            with self.lock:
                if kind in ("stream", "display_data", "execute_result", "error") and parent in self.outputs:
                    self.outputs[parent].append({"type": kind, **content})
                elif kind == "status" and content.get("execution_state") == "idle" and parent in self.idle:
                    self.idle[parent].set()

    def _shell_reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no execute_reply within {timeout} s")
            try:
                reply = self.kc.shell_channel.get_msg(timeout=left)
            except queue.Empty:
                continue
            if (reply.get("parent_header") or {}).get("msg_id") == msg_id:
                return reply

    def run(self, code: str, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Execute ``code``; wait for its reply and its last output; return its outputs. Raises on error."""
        with self.lock:
            msg = self.kc.session.msg("execute_request", {
                "code": code, "silent": False, "store_history": True, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": True})
            msg_id = msg["header"]["msg_id"]
            self.outputs[msg_id] = []
            self.idle[msg_id] = threading.Event()
        self.kc.shell_channel.send(msg)
        reply = self._shell_reply(msg_id, timeout)
        self.idle[msg_id].wait(timeout)
        with self.lock:
            outputs = self.outputs.pop(msg_id)
            self.idle.pop(msg_id)
        if reply["content"].get("status") != "ok":
            c = reply["content"]
            raise RuntimeError(f"cell failed: {c.get('ename')}: {c.get('evalue')}\n{code}")
        return outputs

    def round_trip(self, code: str = "1+1", timeout: float = 60.0) -> float:
        """Seconds from sending an execute_request to receiving its execute_reply."""
        msg = self.kc.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        t0 = time.perf_counter()
        self.kc.shell_channel.send(msg)
        self._shell_reply(msg["header"]["msg_id"], timeout)
        return time.perf_counter() - t0

    def watch_comm(self, comm_id: str) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        self.comm_msgs[comm_id] = q
        return q

    def send_comm(self, comm_id: str, data: dict[str, Any]) -> float:
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        t = time.time()
        self.kc.shell_channel.send(msg)
        return t

    def shutdown(self) -> None:
        self._stop.set()
        self.reader.join(timeout=2)
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=False)


def printed(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("text", "") for o in outputs if o["type"] == "stream" and o.get("name") == "stdout")


def widget_model_ids(outputs: list[dict[str, Any]]) -> list[str]:
    return [o["data"][WIDGET_VIEW]["model_id"] for o in outputs
            if o["type"] in ("display_data", "execute_result") and WIDGET_VIEW in (o.get("data") or {})]


# -- phases -------------------------------------------------------------------------------------------
class Stream:
    """Collects one dashboard's custom messages and turns them into per-trial latencies."""

    def __init__(self, q: queue.Queue, hello_at: float) -> None:
        self.q = q
        self.hello_at = hello_at
        self.first_finished: dict[int, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.last_finished_at: float | None = None

    def drain(self, timeout: float) -> None:
        try:
            recv, data, size = self.q.get(timeout=timeout)
        except queue.Empty:
            return
        self._take(recv, data, size)
        while True:
            try:
                recv, data, size = self.q.get_nowait()
            except queue.Empty:
                return
            self._take(recv, data, size)

    def _take(self, recv: float, data: dict[str, Any], size: int) -> None:
        if data.get("method") != "custom":
            return
        content = data.get("content") or {}
        kind = content.get("type")
        if kind not in ("snapshot", "delta"):
            return
        rows = content.get("trials") or []
        self.messages.append({"type": kind, "recv": recv, "rows": len(rows), "bytes": size})
        for row in rows:
            if row.get("state") in FINISHED and row["number"] not in self.first_finished:
                completed = row.get("completed")
                self.first_finished[row["number"]] = {
                    "number": row["number"], "state": row["state"], "via": kind, "recv": recv,
                    "completed": completed, "latency_s": None if completed is None else recv - completed,
                    "before_hello": completed is not None and completed < self.hello_at}
                self.last_finished_at = recv

    def result(self) -> dict[str, Any]:
        rows = sorted(self.first_finished.values(), key=lambda r: r["number"])
        counted = [r["latency_s"] for r in rows if r["latency_s"] is not None and not r["before_hello"]]
        deltas = [m for m in self.messages if m["type"] == "delta"]
        gaps = [b["recv"] - a["recv"] for a, b in zip(self.messages, self.messages[1:], strict=False)]
        return {
            "latency_s": stats(counted),
            "rows_finished": len(rows),
            "rows_counted": len(counted),
            "rows_completed_before_hello": sum(r["before_hello"] for r in rows),
            "rows_without_completed": sum(r["latency_s"] is None for r in rows),
            "rows_via_snapshot": sum(r["via"] == "snapshot" for r in rows),
            "messages": {"snapshots": sum(m["type"] == "snapshot" for m in self.messages), "deltas": len(deltas),
                         "rows_per_delta_mean": statistics.fmean([m["rows"] for m in deltas]) if deltas else None,
                         "bytes_per_delta_mean": statistics.fmean([m["bytes"] for m in deltas]) if deltas else None,
                         "gap_between_messages_s": stats(gaps)},
            "trials": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "recv"}
                       for r in rows],
        }


def launch_and_hello(k: Kernel, name: str, trials: int, parallel: int) -> tuple[str, Stream, float]:
    """``job = %hpo launch ...`` (which displays the dashboard); say hello to that dashboard at once."""
    t0 = time.time()
    outputs = k.run(f"job = %hpo launch quick --max-trials {trials} --parallel {parallel} --name {name}")
    ids = widget_model_ids(outputs)
    if len(ids) != 1:
        raise RuntimeError(f"expected one dashboard from %hpo launch, got {ids!r}: {outputs!r}")
    model_id = ids[0]
    q = k.watch_comm(model_id)
    hello_at = k.send_comm(model_id, {"method": "custom", "content": {"type": "hello"}})
    return model_id, Stream(q, hello_at), hello_at - t0


def follow(stream: Stream, trials: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(stream.first_finished) < trials and time.monotonic() < deadline:
        stream.drain(0.2)
    stream.drain(0.5)  # stragglers


def cell_loop(k: Kernel, n: int, rng: random.Random, gap: tuple[float, float],
              during: Stream | None = None) -> list[dict[str, Any]]:
    """``n`` round trips of ``1+1``, a random pause between them; optionally draining a stream as we go."""
    out = []
    for _ in range(n):
        pause = rng.uniform(*gap)
        end = time.monotonic() + pause
        while time.monotonic() < end:
            if during is not None:
                during.drain(max(0.0, min(0.02, end - time.monotonic())))
            else:
                time.sleep(max(0.0, end - time.monotonic()))
        sent = time.time()
        rtt = k.round_trip("1+1")
        out.append({"sent": sent, "rtt_s": rtt})
        if during is not None:
            during.drain(0.0)
    return out


def job_status(k: Kernel) -> str:
    return printed(k.run("print(job.status.value)")).strip()


def bench_kernel(home: Path, workdir: Path, monitor: CpuMonitor, trials: int, parallel: int, cells: int,
                 seed: int) -> dict[str, Any]:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    rng = random.Random(seed)
    gap = (0.03, 0.15)
    result: dict[str, Any] = {"settings": {
        "trials": trials, "parallel": parallel, "objective": "time.sleep(uniform(0.2, 0.4)); return x",
        "strategy": "default (bayesian)", "warm_pool": "default (on)", "front_door": "%hpo launch (displays the "
        "Dashboard; its model_id is read from the display_data)", "dashboard_interval_s": "default",
        "cells": cells, "pause_between_cells_s": list(gap)}}

    _log("starting a kernel ...")
    t0 = time.perf_counter()
    k = Kernel(workdir, env)
    result["kernel_start_s"] = time.perf_counter() - t0
    try:
        out = k.run("import time as _t\n_t0 = _t.perf_counter()\n%load_ext jupyter_hpo\n"
                    "print(_t.perf_counter() - _t0)")
        result["load_ext_in_kernel_s"] = float(printed(out).strip())
        k.run(OBJECTIVE_CELL)
        out = k.run("import jupyter_hpo.widgets._dashboard as _d\nprint(_d.Dashboard.interval.default_value, "
                    "_d.MIN_SEND_GAP_S)")
        interval, gap_s = (float(x) for x in printed(out).split())
        result["settings"]["dashboard_interval_s"] = interval
        result["settings"]["dashboard_min_send_gap_s"] = gap_s
        for _ in range(5):  # warm-up, not counted
            k.round_trip("1+1")

        # (2a) first half of the baseline: no job running
        _log(f"baseline: {cells // 2} x 1+1, no job ...")
        m0 = monitor.mark()
        base = cell_loop(k, cells // 2, rng, gap)
        load_base1 = monitor.between(m0, monitor.mark())

        # (1) latency: a job streams to a dashboard; the kernel is otherwise idle
        _log(f"latency: job of {trials} trials, parallel {parallel} ...")
        m0 = monitor.mark()
        model_id, stream, launch_s = launch_and_hello(k, "live-latency", trials, parallel)
        follow(stream, trials, timeout=60 + trials * 2)
        load_latency = monitor.between(m0, monitor.mark())
        latency = stream.result()
        latency.update(model_id=model_id, launch_cell_s=launch_s, job_status=job_status(k), load=load_latency)
        _log(f"latency: {latency['rows_counted']} rows, p50 {latency['latency_s']['p50']:.3f} s, "
             f"p95 {latency['latency_s']['p95']:.3f} s ({latency['job_status']})")

        # (2b) cells while a second job streams to its dashboard
        _log(f"streaming: {cells} x 1+1 while a job of {trials} trials streams ...")
        m0 = monitor.mark()
        _, stream2, _ = launch_and_hello(k, "live-cells", trials, parallel)
        deadline = time.monotonic() + 60
        while not any(m["type"] == "delta" for m in stream2.messages):  # the dashboard is live and deltas flow
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard sent no delta within 60 s of hello")
            stream2.drain(0.2)
        busy = cell_loop(k, cells, rng, gap, during=stream2)
        cells_done_at = time.time()
        follow(stream2, trials, timeout=60 + trials * 2)
        load_busy = monitor.between(m0, monitor.mark())
        streaming_latency = stream2.result()
        ended = stream2.last_finished_at or float("inf")
        overlapped = sum(c["sent"] + c["rtt_s"] <= ended for c in busy)
        streaming_latency.update(job_status=job_status(k), load=load_busy)
        _log(f"streaming: {overlapped}/{cells} cells ran while the job streamed")

        # (2a) second half of the baseline, after both jobs have ended
        _log(f"baseline: {cells - cells // 2} x 1+1, no job ...")
        m0 = monitor.mark()
        base += cell_loop(k, cells - cells // 2, rng, gap)
        load_base2 = monitor.between(m0, monitor.mark())

        base_ms = [c["rtt_s"] * 1000 for c in base]
        busy_ms = [c["rtt_s"] * 1000 for c in busy]
        sb, sj = stats(base_ms), stats(busy_ms)
        result["latency"] = latency
        result["latency_while_cells_run"] = streaming_latency
        result["cells"] = {
            "baseline_ms": sb, "streaming_ms": sj,
            "extra_p50_ms": sj["p50"] - sb["p50"], "extra_p95_ms": sj["p95"] - sb["p95"],
            "streaming_cells_overlapping_job": overlapped,
            "streaming_cells_finished_before_job_end_s": ended - cells_done_at,
            "baseline_rtt_ms": [round(x, 3) for x in base_ms], "streaming_rtt_ms": [round(x, 3) for x in busy_ms],
            "load": {"baseline_before": load_base1, "streaming": load_busy, "baseline_after": load_base2},
        }
    finally:
        _log("shutting the kernel down ...")
        k.shutdown()
    return result


# -- (3) imports in fresh processes -------------------------------------------------------------------
CASES = {
    "import jupyter_hpo": ("", "import jupyter_hpo"),
    "%load_ext jupyter_hpo": ("from IPython.core.interactiveshell import InteractiveShell\n"
                              "shell = InteractiveShell.instance()",
                              "shell.run_line_magic('load_ext', 'jupyter_hpo')"),
    "import jupyter_hpo.widgets": ("", "import jupyter_hpo.widgets"),
    "import jupyter_hpo.widgets (ipykernel loaded)": ("import ipykernel.ipkernel", "import jupyter_hpo.widgets"),
}
MARK = "@@BENCH-MARK@@"
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _case_code(setup: str, stmt: str, mark: bool = False) -> str:
    lines = [setup, "import sys, time"]
    if mark:
        lines.append(f"sys.stderr.write({MARK!r} + '\\n')")
    lines += ["t0 = time.perf_counter()", stmt, "print('ELAPSED', time.perf_counter() - t0)"]
    return "\n".join(lines)


def time_case(setup: str, stmt: str, runs: int, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    times, walls = [], []
    for _ in range(runs):
        p0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _case_code(setup, stmt)], capture_output=True, text=True,
                             env=env, cwd=cwd, timeout=120, check=True)
        walls.append(time.perf_counter() - p0)
        times.append(float(re.search(r"ELAPSED (\S+)", out.stdout).group(1)))
    # one more run under -X importtime (not timed): where the time goes
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", _case_code(setup, stmt, mark=True)],
                         capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=True)
    entries = []
    after = False
    for line in out.stderr.splitlines():
        if line.strip() == MARK:
            after = True
            continue
        m = _IMPORTTIME.match(line)
        if after and m:
            entries.append({"module": m.group(4), "self_ms": int(m.group(1)) / 1000,
                            "cumulative_ms": int(m.group(2)) / 1000, "depth": len(m.group(3)) // 2})
    top_level = [e for e in entries if e["depth"] == min((x["depth"] for x in entries), default=0)]
    return {"runs_s": times, "median_s": statistics.median(times), "min_s": min(times),
            "process_wall_median_s": statistics.median(walls),
            "modules_imported": len(entries),
            "importtime_total_ms": sum(e["self_ms"] for e in entries),
            "top_level_ms": sorted(({"module": e["module"], "cumulative_ms": e["cumulative_ms"]} for e in top_level),
                                   key=lambda e: -e["cumulative_ms"])[:10],
            "slowest_self_ms": sorted(({"module": e["module"], "self_ms": e["self_ms"]} for e in entries),
                                      key=lambda e: -e["self_ms"])[:10],
            "heavy": sorted(({"module": e["module"], "cumulative_ms": e["cumulative_ms"]} for e in entries
                             if e["depth"] <= 2), key=lambda e: -e["cumulative_ms"])[:12]}


def bench_imports(home: Path, workdir: Path, runs: int) -> dict[str, Any]:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    out = {}
    for name, (setup, stmt) in CASES.items():
        _log(f"imports: {name} x {runs} ...")
        out[name] = time_case(setup, stmt, runs, env, workdir)
        _log(f"imports: {name}: median {out[name]['median_s']:.3f} s")
    return out


# -- report ---------------------------------------------------------------------------------------------
def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    k, imp = result["kernel"], result["imports"]
    rows = [
        ("trial completed -> dashboard, p95", k["latency"]["latency_s"]["p95"], GOAL_LATENCY_P95_S, "s"),
        ("1+1 cell while a job streams: extra p95", k["cells"]["extra_p95_ms"], GOAL_CELL_EXTRA_P95_MS, "ms"),
        ("import jupyter_hpo (fresh process, median)", imp["import jupyter_hpo"]["median_s"], GOAL_IMPORT_S, "s"),
        ("%load_ext jupyter_hpo (fresh process, median)", imp["%load_ext jupyter_hpo"]["median_s"],
         GOAL_LOAD_EXT_S, "s"),
    ]
    return [{"goal": n, "value": v, "op": "<=", "threshold": th, "unit": u, "pass": v is not None and v <= th}
            for n, v, th, u in rows]


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else fmt.format(v)


def print_report(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    m = result["machine"]
    console.print(f"[bold]jupyter-hpo live updates[/]  {m['date']}  {m['cpu_count']} CPUs ({m['cpu_model']}), "
                  f"Python {m['python']}, ipykernel {m['ipykernel']}, commit {m['git_commit']}, "
                  f"load average at start {m['loadavg_at_start'][0]:.2f}")
    k = result["kernel"]
    s = k["settings"]
    lat, lat2 = k["latency"], k["latency_while_cells_run"]

    t = Table(title=f"Trial completed -> row at the front end (job of {s['trials']} trials, parallel "
                    f"{s['parallel']}, dashboard poll {s['dashboard_interval_s']} s)")
    for col in ("condition", "rows", "p50 s", "p95 s", "max s", "deltas", "rows/delta", "gap between msgs p50 s"):
        t.add_column(col, justify="left" if col == "condition" else "right")
    for label, d in (("kernel idle", lat), ("while 1+1 cells run", lat2)):
        ls, msgs = d["latency_s"], d["messages"]
        t.add_row(label, f"{d['rows_counted']}/{d['rows_finished']}", _f(ls["p50"], "{:.3f}"),
                  _f(ls["p95"], "{:.3f}"), _f(ls["max"], "{:.3f}"), str(msgs["deltas"]),
                  _f(msgs["rows_per_delta_mean"], "{:.1f}"), _f(msgs["gap_between_messages_s"]["p50"], "{:.3f}"))
    console.print(t)

    c = k["cells"]
    t = Table(title="1+1 execute_request -> execute_reply")
    for col in ("condition", "n", "p50 ms", "p95 ms", "max ms", "foreign CPU"):
        t.add_column(col, justify="left" if col == "condition" else "right")
    lb = c["load"]
    foreign_base = max(lb["baseline_before"]["foreign_share_of_capacity"] or 0,
                       lb["baseline_after"]["foreign_share_of_capacity"] or 0)
    for label, d, fr in (("no job (half before, half after)", c["baseline_ms"], foreign_base),
                         ("job streaming to a dashboard", c["streaming_ms"],
                          lb["streaming"]["foreign_share_of_capacity"])):
        t.add_row(label, str(d["n"]), _f(d["p50"], "{:.2f}"), _f(d["p95"], "{:.2f}"), _f(d["max"], "{:.2f}"),
                  _f(fr, "{:.0%}"))
    t.add_row("extra (streaming - no job)", "", _f(c["extra_p50_ms"], "{:+.2f}"), _f(c["extra_p95_ms"], "{:+.2f}"),
              "", "")
    console.print(t)
    console.print(f"  {c['streaming_cells_overlapping_job']}/{c['streaming_ms']['n']} streaming cells finished "
                  f"before the job's last trial reached the front end")

    t = Table(title="Imports, fresh Python process (median of runs; the statement alone)")
    for col in ("statement", "median s", "min s", "process wall s", "heaviest imports (cumulative ms)"):
        t.add_column(col, justify="left" if col in ("statement", "heaviest imports (cumulative ms)") else "right")
    for name, d in result["imports"].items():
        heavy = ", ".join(f"{e['module']} {e['cumulative_ms']:.0f}" for e in d["heavy"][:4])
        t.add_row(name, f"{d['median_s']:.3f}", f"{d['min_s']:.3f}", f"{d['process_wall_median_s']:.3f}", heavy)
    console.print(t)
    console.print(f"  %load_ext jupyter_hpo in the benchmark's kernel (first cell): {k['load_ext_in_kernel_s']:.3f} s")

    loads = {"baseline (before)": lb["baseline_before"], "latency job": lat["load"], "streaming job": lb["streaming"],
             "baseline (after)": lb["baseline_after"]}
    worst = max(loads.items(), key=lambda kv: kv[1]["foreign_share_of_capacity"] or 0)
    note = ("[yellow]other processes used the CPUs: figures are disturbed[/]"
            if (worst[1]["foreign_share_of_capacity"] or 0) > 0.05 else "the machine was otherwise idle")
    console.print("CPU used by other processes (share of the machine): " + ", ".join(
        f"{n} {v['foreign_share_of_capacity']:.0%}" for n, v in loads.items()) + f" - {note}")

    t = Table(title="Goals")
    for col in ("goal", "measured", "required", "result"):
        t.add_column(col, justify="left" if col == "goal" else "right")
    for row in result["goals"]:
        fmt = "{:.3f} s" if row["unit"] == "s" else "{:.1f} ms"
        t.add_row(row["goal"], _f(row["value"], fmt), f"<= {fmt.format(row['threshold'])}",
                  "[green]PASS[/]" if row["pass"] else "[red]FAIL[/]")
    console.print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: {trials} trials per job, {cells} cells, {import_runs} import run (unless given)"
                    .format(**QUICK))
    ap.add_argument("--trials", type=int, default=None, help=f"trials per job (default: {FULL['trials']})")
    ap.add_argument("--parallel", type=int, default=2, help="max_parallel of each job (default: 2)")
    ap.add_argument("--cells", type=int, default=None,
                    help=f"1+1 round trips per condition (default: {FULL['cells']})")
    ap.add_argument("--import-runs", type=int, default=None,
                    help=f"fresh processes per import figure (default: {FULL['import_runs']})")
    ap.add_argument("--seed", type=int, default=0, help="seed of the pauses between cells")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {QUICK['out']})")
    ap.add_argument("--keep-home", action="store_true", help="keep the temporary JUPYTER_HPO_HOME (runner logs)")
    args = apply_defaults(ap.parse_args(argv), FULL, QUICK)

    tmp = Path(tempfile.mkdtemp(prefix="jupyter-hpo-live-"))
    home, workdir = tmp / "home", tmp / "work"
    home.mkdir()
    workdir.mkdir()
    _log(f"JUPYTER_HPO_HOME={home}")
    monitor = CpuMonitor(home).start()
    try:
        result: dict[str, Any] = {
            "benchmark": "jupyter-hpo live updates (benchmarks/live_updates.py)",
            "quick": args.quick,
            "machine": machine_info(("jupyter-hpo", "optuna", "ipykernel", "jupyter_client", "ipywidgets",
                                     "anywidget", "psutil")),
            "goals_definition": {
                "latency_p95_s": GOAL_LATENCY_P95_S, "cell_extra_p95_ms": GOAL_CELL_EXTRA_P95_MS,
                "import_s": GOAL_IMPORT_S, "load_ext_s": GOAL_LOAD_EXT_S},
        }
        m0 = monitor.mark()
        result["imports"] = bench_imports(home, workdir, args.import_runs)
        result["imports_load"] = monitor.between(m0, monitor.mark())
        result["kernel"] = bench_kernel(home, workdir, monitor, args.trials, args.parallel, args.cells, args.seed)
        result["goals"] = goals(result)
        result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    finally:
        monitor.stop()
        if args.keep_home:
            _log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_report(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
