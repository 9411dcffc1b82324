"""Soak: one job of many short trials on the local warm pool, watched by a dashboard and a sidebar.

One job of N trials (default 2,000) of a cheap objective (it sleeps a few ms) on 2 warm workers, in a
fresh ``JUPYTER_HPO_HOME``. While it runs, in this one process:

  memory     every ~0.5 s, psutil's RSS of the runner (the job's ``runner`` pid) and of each worker (its
             ``spawn_main`` children), and of this process (which hosts the dashboard) and the server;
  dashboard  a ``Dashboard(job)`` whose own update thread runs (this script says ``hello`` as a front end
             would); latency = when the widget sends a trial's row finished - the trial's
             ``datetime_complete`` in the store;
  sidebar    a real ``jupyter server`` on 127.0.0.1 with a token, polled as the sidebar's model does
             (every 1 s: ``GET jobs``, then ``GET jobs/<job>/trials?after=<afterFor(held)>``);
             latency = the duration of each request.

Start and end are the first and the last W seconds between the first and the last trial's completion
(``datetime_complete``), W = min(60 s, a third of that span); for the workers' memory, of the span in which
the trials ran (the workers exit when the last one has run). At the end: every trial accounted for (N
trials numbered 0..N-1, all complete), memory growth (median of the end window - median of the start
window), and latency p50/p95 at the end vs the start with their ratio. Prints a table and writes JSON;
see benchmarks/README.md.

    .venv/bin/python benchmarks/soak.py                   # 2,000 trials, about 2 minutes on 2 cores
    .venv/bin/python benchmarks/soak.py --trials 300 --json-out /tmp/soak.json    # tests/test_soak.py
    .venv/bin/python benchmarks/soak.py --quick --out /tmp/soak.json               # smoke run (CI), ~20 s

The JSON's top-level keys are RESULT_KEYS; the exit code is 1 when an accounting check fails.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _common import apply_defaults, log as _log, machine_info, objective_start, quick_out, stats  # noqa: E402 - on sys.path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "soak.json"
FINISHED = ("complete", "pruned", "fail")
JOB = "soak"
TOKEN = "soak-token"
SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
MAX_WINDOW_S = 60.0
# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "job", "checks", "dashboard", "sidebar", "store_lag_s",
               "memory", "load", "raw")
REPORT_HEADINGS = ("Every trial accounted for", "Responsiveness: start window vs end window", "Memory (RSS")
FULL = {"trials": 2000, "sample_every": 0.5, "out": DEFAULT_OUT}
# --quick: enough memory samples for the start and end windows
QUICK = {"trials": 100, "sample_every": 0.1, "out": quick_out("soak")}


def soak_objective(params: dict[str, Any]) -> float:
    """The trial: sleep ``sleep_ms`` (a static hyperparameter), return a number (pickled by value)."""
    time.sleep(params["sleep_ms"] / 1000)
    return (params["x"] - 0.5) ** 2


# -- small helpers --------------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _busy_cpu_s() -> float:
    """The whole machine's busy CPU seconds so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# -- the jupyter server, and a client that polls it as the sidebar's model does -------------------------
class Server:
    """``jupyter server`` with the extension on a free loopback port, token auth."""

    def __init__(self, home: Path, log_path: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
             f"--IdentityProvider.token={TOKEN}", "--allow-root", f"--ServerApp.root_dir={home}",
             "--ServerApp.jpserver_extensions={'jupyter_hpo': True}"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}/jupyter-hpo/api"

    def get(self, route: str) -> tuple[int | None, float, Any]:
        """GET ``route`` under the API root: (status or None when unreachable, duration in ms, JSON body)."""
        request = urllib.request.Request(f"{self.base}/{route}", headers={"Authorization": f"token {TOKEN}"})
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body, status = response.read(), response.status
        except urllib.error.HTTPError as e:
            return e.code, (time.perf_counter() - t0) * 1000, None
        except OSError:
            return None, (time.perf_counter() - t0) * 1000, None
        return status, (time.perf_counter() - t0) * 1000, json.loads(body)

    def wait_ready(self, timeout: float = 90.0) -> float:
        t0 = time.monotonic()
        while self.get("jobs")[0] != 200:
            if time.monotonic() - t0 > timeout or self.process.poll() is not None:
                raise RuntimeError(f"jupyter server did not answer within {timeout:g} s (see its log)")
            time.sleep(0.2)
        return time.monotonic() - t0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


def after_for(held: dict[int, dict[str, Any]]) -> int:
    """The sidebar's ``afterFor``: just below the smallest running trial, else the largest number held."""
    running = [n for n, r in held.items() if r["state"] == "running"]
    return min(running) - 1 if running else max(held, default=-1)


class Sidebar(threading.Thread):
    """Polls like ``labextension/src/model.ts`` while a job is active: ``jobs``, then the job's new trials."""

    def __init__(self, server: Server, every: float) -> None:
        super().__init__(name="soak-sidebar", daemon=True)
        self.server, self.every = server, every
        self.requests: list[dict[str, Any]] = []
        self.held: dict[int, dict[str, Any]] = {}
        self.seen: dict[int, float] = {}  # trial number -> when the sidebar first held it finished
        self.stop_event = threading.Event()

    def _request(self, route: str, kind: str) -> Any:
        t = time.time()
        status, ms, body = self.server.get(route)
        self.requests.append({"t": round(t, 3), "route": kind, "status": status, "ms": round(ms, 3),
                              "n": len(next(iter(body.values()))) if isinstance(body, dict) else None})
        return body if status == 200 else None

    def poll(self) -> bool:
        """One poll; True once the job has ended and every trial is held finished."""
        jobs = self._request("jobs", "jobs")
        job = next((j for j in (jobs or {}).get("jobs", []) if j["name"] == JOB), None)
        if job is None:
            return False
        fresh = self._request(f"jobs/{JOB}/trials?after={after_for(self.held)}", "trials")
        now = time.time()
        for r in (fresh or {}).get("trials", []):
            self.held[r["number"]] = r
            if r["state"] in FINISHED:
                self.seen.setdefault(r["number"], now)
        ended = job["status"] in ("completed", "stopped", "failed")
        return ended and len(self.held) >= job["trials"] and all(r["state"] in FINISHED for r in self.held.values())

    def run(self) -> None:
        while not self.stop_event.is_set():
            if self.poll():
                return
            self.stop_event.wait(self.every)


# -- memory (and CPU) of the runner, the workers, this process and the server ---------------------------
class Sampler(threading.Thread):
    """Every ``period`` s: RSS of the runner, of each of its worker processes, of this process and the server."""

    def __init__(self, runner_pid: int, server_pid: int, period: float) -> None:
        import psutil

        super().__init__(name="soak-sampler", daemon=True)
        self.psutil, self.period = psutil, period
        self.runner = psutil.Process(runner_pid)
        self.fixed = {"dashboard_process": psutil.Process(os.getpid()), "server": psutil.Process(server_pid)}
        self.workers: dict[int, Any] = {}
        self.cpu: dict[int, float] = {}  # last CPU seconds seen per pid (a process that exits keeps its last)
        self.samples: list[dict[str, Any]] = []
        self.stop_event = threading.Event()

    def _measure(self, proc: Any) -> float | None:
        try:
            with proc.oneshot():
                rss, cpu = proc.memory_info().rss, proc.cpu_times()
        except self.psutil.Error:
            return None
        self.cpu[proc.pid] = cpu.user + cpu.system
        return round(rss / 2**20, 2)

    def _find_workers(self) -> None:
        try:
            children = self.runner.children(recursive=True)
        except self.psutil.Error:
            return
        for child in children:
            if child.pid not in self.workers:
                try:
                    if "spawn_main" in " ".join(child.cmdline()):  # not multiprocessing's resource tracker
                        self.workers[child.pid] = child
                except self.psutil.Error:
                    pass

    def sample(self) -> None:
        self._find_workers()
        sample: dict[str, Any] = {"t": round(time.time(), 3), "runner": self._measure(self.runner)}
        sample.update({name: self._measure(proc) for name, proc in self.fixed.items()})
        sample["workers"] = {str(pid): mb for pid, proc in self.workers.items() if (mb := self._measure(proc))}
        sample["own_cpu_s"] = round(sum(self.cpu.values()), 2)
        sample["busy_cpu_s"] = round(_busy_cpu_s(), 2)
        self.samples.append(sample)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.period)


# -- the dashboard, with its own update thread ---------------------------------------------------------
class DashboardWatch:
    """A ``Dashboard(job)`` told ``hello``: its thread polls the store and sends deltas, which are recorded."""

    def __init__(self, job: Any, interval: float) -> None:
        from jupyter_hpo.widgets import Dashboard

        self.dash = Dashboard(job, interval=interval)
        self.sent: dict[int, float] = {}  # trial number -> when its row was first sent finished
        self.messages: list[dict[str, Any]] = []
        self.polls: list[tuple[float, float]] = []  # (time, duration in ms) of each poll of the widget
        poll = self.dash._poll

        def timed_poll() -> list[dict[str, Any]]:
            t0 = time.perf_counter()
            try:
                return poll()
            finally:
                self.polls.append((time.time(), (time.perf_counter() - t0) * 1000))

        def record(content: dict[str, Any], buffers: Any = None) -> None:
            now = time.time()
            rows = content.get("trials", [])
            self.messages.append({"t": round(now, 3), "type": content.get("type"), "rows": len(rows)})
            for row in rows:
                if row["state"] in FINISHED:
                    self.sent.setdefault(row["number"], now)

        self.dash._poll = timed_poll  # the update thread calls self._poll(), then self.send(delta)
        self.dash.send = record
        self.hello_at = time.time()
        self.dash._handle_custom_msg({"type": "hello"}, [])  # what the front end sends when it renders

    def wait_done(self, timeout: float) -> bool:
        """Wait for the update thread to end (it does once the job has ended and every row is final)."""
        thread = self.dash._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()


# -- the run ------------------------------------------------------------------------------------------
def run_soak(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Start the server, launch the job, watch it to its end; return what was recorded."""
    from jupyter_hpo import api

    server = Server(home, home / "server.log")
    job = None
    try:
        _log(f"jupyter server ready in {server.wait_ready():.1f} s")
        t_launch = time.time()
        job = api.launch(objective=soak_objective, space=SPACE, name=JOB, max_trials=args.trials,
                         max_parallel=args.parallel, strategy=args.strategy, seed=0, early_stopping="off",
                         hyperparameters={"sleep_ms": args.sleep_ms})
        watch = DashboardWatch(job, args.dashboard_interval)
        sidebar = Sidebar(server, args.sidebar_every)
        sidebar.start()
        runner_pid = _wait_runner_pid(job)
        sampler = Sampler(runner_pid, server.process.pid, args.sample_every)
        sampler.start()
        _log(f"job {JOB!r}: {args.trials} trials, parallel {args.parallel}, runner pid {runner_pid}")
        status = _wait_with_progress(job, args.trials, args.timeout)
        t_end = time.time()
        _log(f"job {status.value} after {t_end - t_launch:.1f} s")
        settle = 60 if status.value == "completed" else 5  # an unfinished job's views never settle
        dashboard_done = watch.wait_done(settle)
        sidebar.join(settle)
        sidebar.stop_event.set()
        _wait_exit(sampler.runner, 30)
        sampler.stop_event.set()
        sampler.join(10)
        watch.dash.close()
        records = job.trial_records()
        return {"t_launch": t_launch, "t_end": t_end, "status": status.value, "reason": job.attrs.get("reason", ""),
                "records": records, "dashboard": watch, "dashboard_done": dashboard_done, "sidebar": sidebar,
                "samples": sampler.samples}
    finally:
        if job is not None and job.status.is_active():  # never leave a runner behind
            job.stop(wait=False)
        server.stop()


def _wait_runner_pid(job: Any, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while not (pid := (job.attrs.get("runner") or {}).get("pid")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the runner of {job.name!r} did not start within {timeout:g} s")
        time.sleep(0.05)
    return int(pid)


def _wait_with_progress(job: Any, n: int, timeout: float) -> Any:
    """Wait for the job to finish, logging progress; stop it after ``timeout`` s (its checks then fail)."""
    next_log = time.monotonic() + 15
    deadline = time.monotonic() + timeout
    while not (status := job.status).is_finished():
        if time.monotonic() > deadline:
            _log(f"the job is still {status.value} after {timeout:g} s: stopping it")
            return job.stop(timeout=60)
        if time.monotonic() > next_log:
            next_log += 15
            _log(f"... {job.summary()['complete']}/{n} trials complete")
        time.sleep(0.5)
    return status


def _wait_exit(proc: Any, timeout: float) -> None:
    import psutil

    try:
        proc.wait(timeout)
    except (psutil.Error, psutil.TimeoutExpired):
        pass


# -- analysis -----------------------------------------------------------------------------------------
def _window(times: list[float]) -> tuple[float, float, float]:
    """(first, last, W): the span of ``times`` and its window length, W = min(60 s, a third of the span)."""
    t0, t1 = min(times, default=0.0), max(times, default=0.0)
    return t0, t1, min(MAX_WINDOW_S, (t1 - t0) / 3)


def _split(items: list[tuple[float, float]], span: tuple[float, float, float]) -> dict[str, list[float]]:
    """Values of (time, value) pairs in the start window [t0, t0+w] and the end window [t1-w, t1]."""
    t0, t1, w = span
    return {"start": [v for t, v in items if t0 <= t <= t0 + w], "end": [v for t, v in items if t1 - w <= t <= t1]}


def _compare(items: list[tuple[float, float]], span: tuple[float, float, float], digits: int = 4) -> dict[str, Any]:
    """p50/p95 of the start and end windows and their ratio (end / start)."""
    out: dict[str, Any] = {}
    for key, values in _split(items, span).items():
        out[key] = {k: round(v, digits) if isinstance(v, float) else v for k, v in stats(values).items()}
    out["ratio_p50"] = ratio(out["end"]["p50"], out["start"]["p50"])
    out["ratio_p95"] = ratio(out["end"]["p95"], out["start"]["p95"])
    return out


def _growth(series: list[tuple[float, float]], span: tuple[float, float, float],
            done_at: list[float]) -> dict[str, Any]:
    """Median RSS (MB) of the start and end windows, the growth, and a fit of MB per 1,000 trials done."""
    parts = _split(series, span)
    if not parts["start"] or not parts["end"]:
        return {"start_mb": None, "end_mb": None, "growth_mb": None, "growth_pct": None, "samples": len(series)}
    start, end = statistics.median(parts["start"]), statistics.median(parts["end"])
    inside = [(bisect.bisect_right(done_at, t), v) for t, v in series if span[0] <= t <= span[1]]
    slope = None
    if len({x for x, _ in inside}) > 1:
        slope = statistics.linear_regression([x for x, _ in inside], [v for _, v in inside]).slope * 1000
    return {"start_mb": round(start, 2), "end_mb": round(end, 2), "growth_mb": round(end - start, 2),
            "growth_pct": round((end - start) / start * 100, 2), "max_mb": round(max(v for _, v in series), 2),
            "fit_mb_per_1000_trials": None if slope is None else round(slope, 3), "samples": len(series)}


def _memory(samples: list[dict[str, Any]], stored: tuple[float, float, float], ran: tuple[float, float, float],
            stored_at: list[float], ended_at: list[float]) -> dict[str, Any]:
    """Runner, this process and the server over the store's span; workers over the span their trials ran."""
    out: dict[str, Any] = {}
    for name in ("runner", "dashboard_process", "server"):
        out[name] = _growth([(s["t"], s[name]) for s in samples if s[name] is not None], stored, stored_at)
    pids = sorted({pid for s in samples for pid in s["workers"]}, key=int)
    out["workers"] = {pid: _growth([(s["t"], s["workers"][pid]) for s in samples if pid in s["workers"]],
                                   ran, ended_at) for pid in pids}
    out["workers_total"] = _growth([(s["t"], sum(s["workers"].values())) for s in samples if s["workers"]],
                                   ran, ended_at)
    out["windows"] = {"runner_s": round(stored[2], 2), "workers_s": round(ran[2], 2)}
    return out


def _load(samples: list[dict[str, Any]], a: float, b: float) -> dict[str, Any] | None:
    """CPU used by other processes between times a and b, as a share of the machine."""
    inside = [s for s in samples if a <= s["t"] <= b]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    wall, cores = last["t"] - first["t"], os.cpu_count() or 1
    own, busy = last["own_cpu_s"] - first["own_cpu_s"], last["busy_cpu_s"] - first["busy_cpu_s"]
    return {"own_share": round(own / (wall * cores), 3),
            "foreign_share": round(max(0.0, busy - own) / (wall * cores), 3)}


def _checks(raw: dict[str, Any], n: int) -> dict[str, Any]:
    records, watch, sidebar = raw["records"], raw["dashboard"], raw["sidebar"]
    states: dict[str, int] = {}
    for r in records:
        states[r["state"]] = states.get(r["state"], 0) + 1
    bad = [q for q in sidebar.requests if q["status"] != 200]
    rows = watch.dash.rows
    return {
        "job_completed": raw["status"] == "completed",
        "all_trials_accounted": sorted(r["number"] for r in records) == list(range(n)),
        "all_complete": states.get("complete", 0) == n,
        "none_failed": states.get("fail", 0) == 0,
        "dashboard_showed_every_row": sorted(watch.sent) == list(range(n)),
        "dashboard_final_rows_complete": len(rows) == n and all(r["state"] == "complete" for r in rows),
        "dashboard_thread_ended": raw["dashboard_done"],
        "rest_all_200": not bad and bool(sidebar.requests),
        "sidebar_held_every_trial": sorted(sidebar.held) == list(range(n))
        and all(r["state"] == "complete" for r in sidebar.held.values()),
        "states": states,
        "trials": len(records),
        "non_200": bad[:20],
    }


def _round(t: float | None) -> float | None:
    return None if t is None else round(t, 3)


def _ended(r: dict[str, Any]) -> float | None:
    """When the trial's objective returned: its start (``objective_start``) + run time."""
    start = objective_start(r)
    return None if start is None or r["run_s"] is None else start + r["run_s"]


def _rate(times: list[float], span: tuple[float, float, float]) -> dict[str, float | None]:
    """Events per second in the start and end windows."""
    parts = _split([(t, 1.0) for t in times], span)
    return {k: round(len(v) / span[2], 2) if span[2] else None for k, v in parts.items()}


def analyse(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    records, watch, sidebar, samples = raw["records"], raw["dashboard"], raw["sidebar"], raw["samples"]
    final = [r for r in records if r["completed"] is not None and _ended(r) is not None]
    stored_at, ended_at = sorted(r["completed"] for r in final), sorted(_ended(r) for r in final)
    stored, ran = _window(stored_at), _window(ended_at)

    def per_trial(seen: dict[int, float], since: Any) -> list[tuple[float, float]]:
        return [(r["completed"], seen[r["number"]] - since(r)) for r in final
                if r["number"] in seen and r["completed"] >= watch.hello_at]

    def in_store(r: dict[str, Any]) -> float:
        return r["completed"]

    routes = {kind: _compare([(q["t"], q["ms"]) for q in sidebar.requests if q["route"] == kind and q["status"] == 200],
                             stored, 2) for kind in ("jobs", "trials")}
    return {
        "job": {"status": raw["status"], "reason": raw["reason"], "wall_s": round(raw["t_end"] - raw["t_launch"], 2),
                "launch_to_first_trial_end_s": round(ran[0] - raw["t_launch"], 2),
                "trials_ran_s": round(ran[1] - ran[0], 2), "trials_stored_s": round(stored[1] - stored[0], 2),
                "window_s": round(stored[2], 2), "ran_per_s": _rate(ended_at, ran),
                "stored_per_s": _rate(stored_at, stored),
                "run_ms_p50": round(statistics.median(r["run_s"] for r in final) * 1000, 2) if final else None,
                "workers": sorted({r["worker"] for r in records if r["worker"]})},
        "checks": _checks(raw, args.trials),
        "dashboard": {"latency_s": _compare(per_trial(watch.sent, in_store), stored),
                      "end_to_end_s": _compare(per_trial(watch.sent, _ended), stored),
                      "poll_ms": _compare(watch.polls, stored, 2), "messages": len(watch.messages),
                      "rows_not_counted": len(records) - len(per_trial(watch.sent, in_store))},
        "sidebar": {"requests": len(sidebar.requests), "routes_ms": routes,
                    "latency_s": _compare(per_trial(sidebar.seen, in_store), stored)},
        "store_lag_s": _compare([(r["completed"], r["completed"] - _ended(r)) for r in final], stored),
        "memory": _memory(samples, stored, ran, stored_at, ended_at),
        "load": {"trials_stored": _load(samples, stored[0], stored[1]),
                 "start": _load(samples, stored[0], stored[0] + stored[2]),
                 "end": _load(samples, stored[1] - stored[2], stored[1]), "trials_ran": _load(samples, ran[0], ran[1])},
        "raw": {"samples": samples, "requests": sidebar.requests, "messages": watch.messages,
                "trials": [{"number": r["number"], "worker": r["worker"], "ended": _round(_ended(r)),
                            "completed": _round(r["completed"]), "dashboard_sent": _round(watch.sent.get(r["number"])),
                            "sidebar_seen": _round(sidebar.seen.get(r["number"]))} for r in records]},
    }


# -- report -------------------------------------------------------------------------------------------
def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else fmt.format(v)


def print_report(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=130)
    m, s, job, checks = result["machine"], result["settings"], result["job"], result["checks"]
    console.print(f"[bold]jupyter-hpo soak[/]  {m['date']}  {m['cpu_count']} CPUs, Python {m['python']}, "
                  f"commit {m['git_commit']}, load average at start {m['loadavg_at_start'][0]:.2f}")
    ran, stored = job["ran_per_s"], job["stored_per_s"]
    console.print(f"{s['trials']} trials of ~{s['sleep_ms']:g} ms, parallel {s['parallel']}, strategy {s['strategy']}: "
                  f"{job['status']} in {job['wall_s']:.1f} s. The trials ran in {job['trials_ran_s']:.1f} s "
                  f"({ran['start']} -> {ran['end']} /s) and reached the store over {job['trials_stored_s']:.1f} s "
                  f"({stored['start']} -> {stored['end']} /s). Start/end windows: the first and last "
                  f"{job['window_s']:.1f} s of the latter (workers' memory: of the former, "
                  f"{result['memory']['windows']['workers_s']:.1f} s).")

    t = Table(title="Every trial accounted for")
    t.add_column("check")
    t.add_column("result", justify="right")
    for key, value in checks.items():
        if isinstance(value, bool):
            t.add_row(key.replace("_", " "), "[green]yes[/]" if value else "[red]NO[/]")
    t.add_row("trial states", ", ".join(f"{k} {v}" for k, v in checks["states"].items()))
    console.print(t)

    t = Table(title="Responsiveness: start window vs end window (ratio = end / start)")
    for col in ("figure", "n start/end", "p50 start", "p50 end", "p95 start", "p95 end", "p50 ratio", "p95 ratio"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    dash, side = result["dashboard"], result["sidebar"]
    rows = [("trial in the store -> dashboard row sent (s)", dash["latency_s"], "{:.3f}"),
            ("trial in the store -> sidebar holds it (s)", side["latency_s"], "{:.3f}"),
            ("dashboard: one poll of the store (ms)", dash["poll_ms"], "{:.1f}"),
            ("sidebar: GET jobs (ms)", side["routes_ms"]["jobs"], "{:.1f}"),
            ("sidebar: GET jobs/<job>/trials?after=N (ms)", side["routes_ms"]["trials"], "{:.1f}"),
            ("objective returned -> trial in the store (s)", result["store_lag_s"], "{:.3f}"),
            ("objective returned -> dashboard row sent (s)", dash["end_to_end_s"], "{:.3f}")]
    for label, d, fmt in rows:
        t.add_row(label, f"{d['start']['n']}/{d['end']['n']}", _f(d["start"]["p50"], fmt), _f(d["end"]["p50"], fmt),
                  _f(d["start"]["p95"], fmt), _f(d["end"]["p95"], fmt), _f(d["ratio_p50"], "{:.2f}x"),
                  _f(d["ratio_p95"], "{:.2f}x"))
    console.print(t)

    t = Table(title="Memory (RSS, median of the window)")
    for col in ("process", "start MB", "end MB", "growth MB", "growth %", "fit MB/1000 trials", "max MB"):
        t.add_column(col, justify="left" if col == "process" else "right")
    mem = result["memory"]
    named = [("runner", mem["runner"])] + [(f"worker pid {pid}", d) for pid, d in mem["workers"].items()]
    named += [("workers, total", mem["workers_total"]), ("this process (dashboard)", mem["dashboard_process"]),
              ("jupyter server (sidebar)", mem["server"])]
    for label, d in named:
        t.add_row(label, _f(d["start_mb"], "{:.1f}"), _f(d["end_mb"], "{:.1f}"), _f(d["growth_mb"], "{:+.1f}"),
                  _f(d["growth_pct"], "{:+.1f}"), _f(d.get("fit_mb_per_1000_trials"), "{:+.2f}"),
                  _f(d.get("max_mb"), "{:.1f}"))
    console.print(t)
    load = result["load"]
    note = ", ".join(f"{k} {v['foreign_share']:.0%}" for k, v in load.items() if v)
    console.print(f"CPU used by other processes (share of the machine): {note}")


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: {QUICK['trials']} trials, memory sampled every {QUICK['sample_every']} s "
                         "(unless given)")
    ap.add_argument("--trials", type=int, default=None, help=f"trials in the job (default: {FULL['trials']})")
    ap.add_argument("--parallel", type=int, default=2, help="workers, max_parallel (default: 2)")
    ap.add_argument("--sleep-ms", type=float, default=5.0, help="how long each trial sleeps (default: 5 ms)")
    ap.add_argument("--strategy", default="random", help="the job's strategy (default: random; bayesian is TPE)")
    ap.add_argument("--dashboard-interval", type=float, default=0.5, help="the dashboard's poll interval (0.5 s)")
    ap.add_argument("--sidebar-every", type=float, default=1.0, help="the sidebar's poll interval (1 s)")
    ap.add_argument("--sample-every", type=float, default=None,
                    help=f"memory sampling period ({FULL['sample_every']} s)")
    ap.add_argument("--timeout", type=float, default=3600, help="stop the job after this many seconds (3600)")
    ap.add_argument("--json-out", "--out", dest="out", type=Path, default=None,
                    help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {QUICK['out']})")
    ap.add_argument("--keep-home", action="store_true", help="keep the temporary JUPYTER_HPO_HOME")
    return apply_defaults(ap.parse_args(argv), FULL, QUICK)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="jupyter-hpo-soak-"))
    home = tmp / "home"
    home.mkdir()
    os.environ["JUPYTER_HPO_HOME"] = str(home)
    os.environ.pop("JUPYTER_HPO_STORE_URL", None)
    _log(f"JUPYTER_HPO_HOME={home}")
    try:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        packages = ("jupyter-hpo", "optuna", "jupyter_server", "anywidget", "psutil")
        result: dict[str, Any] = {"benchmark": "jupyter-hpo soak (benchmarks/soak.py)", "quick": args.quick,
                                  "machine": machine_info(packages), "settings": settings}
        result.update(analyse(run_soak(args, home), args))
        result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    finally:
        if args.keep_home:
            _log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print_report(result)
    print(f"wrote {args.out}")
    failed = [k for k, v in result["checks"].items() if v is False]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
