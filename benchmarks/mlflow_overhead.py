"""What MLflow logging adds to the runner's trial loop, side by side, in one run.

The same trivial job (a module-level objective that returns at once; strategy random, max_parallel 2) runs
in four arms, interleaved in rounds so that a busy machine disturbs them alike:

  off     no MLflow tracking
  server  tracking: {mlflow: ...} to a real `mlflow server` (SQLite backend, local artifacts, 127.0.0.1)
  down    the same to a port where nothing listens (the server is down)
  slow    the same through a proxy that holds each of the server's answers for SLOW_S seconds

The per-trial loop time is the idle gap of the trial's slot (benchmarks/overhead.py's slot_gaps: from the
previous trial's end on that slot to this trial's start: finishing, storing, sampling and dispatching).
The table shows each arm's median and p90 gap, the difference of its median from ``off`` (the issue's
target: MLflow adds <= 5 ms to the median), how many trials reached MLflow, and how long the runner took
from the last trial's end to the job's end (it gives the MLflow thread up to CLOSE_GRACE_S to finish).
It also times the hook the runner's writer calls per trial (``RunnerTracking.trial_stored``) in-process.

    .venv/bin/python benchmarks/mlflow_overhead.py                            # full run, ~5 minutes on 2 cores
    .venv/bin/python benchmarks/mlflow_overhead.py --quick --out /tmp/m.json  # smoke run (CI), ~1-2 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import (
    MLFLOW_QUIET,
    free_port,
    machine_info,
    pct,
    quick_out,
    start_mlflow_server,
    stop_process_group,
    write_result,
)
from _common import log as _log
from overhead import slot_gaps

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "mlflow_overhead.json"
# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "arms", "rounds", "hook", "targets")
REPORT_HEADINGS = ("Per-trial loop time", "Targets (from the issue)")
ARMS = ("off", "server", "down", "slow")
PARALLEL = 2
SLOW_S = 0.5
TARGET_ADDED_MEDIAN_MS = 5.0
SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0}}


def trivial_objective(params: dict[str, Any]) -> float:
    return float(params["x"]) ** 2


# -- a slow way to the server ------------------------------------------------------------------------------
class SlowProxy:
    """Forwards to the server, holding each chunk of its answers for ``delay`` seconds."""

    def __init__(self, target: str, delay: float) -> None:
        self.target, self.delay = int(target.rsplit(":", 1)[1]), delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.delay), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                time.sleep(delay)
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


# -- one job ----------------------------------------------------------------------------------------------
def run_job(name: str, n: int, uri: str | None, client: Any) -> dict[str, Any]:
    from jupyter_hpo import api

    tracking = {"mlflow": {"tracking_uri": uri, "experiment": "bench"}} if uri else None
    t0 = time.time()
    job = api.launch(objective=trivial_objective, space=SPACE, name=name, strategy="random", seed=0,
                     max_trials=n, max_parallel=PARALLEL, **({"tracking": tracking} if tracking else {}))
    status = job.wait(timeout=600, poll=0.05)
    recs = job.trial_records()
    spans = [(r["started"] + r["startup_s"], r["started"] + r["startup_s"] + r["run_s"]) for r in recs
             if r["started"] is not None and r["startup_s"] is not None and r["run_s"] is not None]
    gaps = [g * 1000 for g in slot_gaps(t0, spans, PARALLEL)[PARALLEL:]]  # not each slot's first: start-up
    attrs = job.attrs
    last = max(r["completed"] for r in recs)
    logged = None
    if client is not None and uri is not None:
        exp = client.get_experiment_by_name("bench")
        logged = len(client.search_runs([exp.experiment_id], max_results=5000,
                                        filter_string=f"tags.`jupyter_hpo.job` = '{name}' and "
                                                      "tags.`jupyter_hpo.kind` = 'trial'")) if exp else 0
    return {"status": status.value, "complete": sum(r["state"] == "complete" for r in recs), "gaps_ms": gaps,
            "end_after_last_trial_s": attrs["ended"] - last, "logged": logged,
            "notes": [nt["text"] for nt in attrs.get("notes") or []]}


def time_hook(calls: int) -> dict[str, Any]:
    """What the hook costs the runner's writer per trial: ``trial_stored`` puts a wake-up without waiting."""
    from jupyter_hpo.mlflow_tracking import RunnerTracking
    from jupyter_hpo.spec import MlflowTracking

    class _Spec:
        mlflow = MlflowTracking(tracking_uri="http://127.0.0.1:9", experiment="x", run_name="x")

    tracking = RunnerTracking(_Spec())
    tracking._thread = threading.current_thread()  # as if started; no thread drains the queue here
    t = time.perf_counter()
    for i in range(calls):
        tracking.trial_stored(i)
    per_call = (time.perf_counter() - t) / calls
    return {"calls": calls, "per_call_us": per_call * 1e6, "queue_bound": tracking._wake.maxsize,
            "queued": tracking._wake.qsize()}


# -- summary, table ---------------------------------------------------------------------------------------
def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    arms = {}
    base = statistics.median([g for r in rounds for g in r["off"]["gaps_ms"]])
    for arm in ARMS:
        gaps = [g for r in rounds for g in r[arm]["gaps_ms"]]
        med = statistics.median(gaps)
        per_round = [statistics.median(r[arm]["gaps_ms"]) - statistics.median(r["off"]["gaps_ms"]) for r in rounds]
        arms[arm] = {"gaps": len(gaps), "median_ms": med, "p90_ms": pct(gaps, 0.9), "added_median_ms": med - base,
                     "added_per_round_ms": per_round, "added_median_of_rounds_ms": statistics.median(per_round),
                     "trials": sum(r[arm]["complete"] for r in rounds),
                     "logged": None if arm in ("off", "down") else sum(r[arm]["logged"] or 0 for r in rounds),
                     "end_after_last_trial_s": max(r[arm]["end_after_last_trial_s"] for r in rounds),
                     "last_note": (rounds[-1][arm]["notes"] or [""])[-1]}
    return arms


def targets(arms: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [(f"MLflow adds to the median per-trial loop time ({arm})", arms[arm]["added_median_ms"])
            for arm in ("server", "down", "slow")]
    return [{"target": t, "value": v, "op": "<=", "threshold": TARGET_ADDED_MEDIAN_MS, "unit": "ms",
             "pass": v <= TARGET_ADDED_MEDIAN_MS} for t, v in rows]


def print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    m = result["machine"]
    s = result["settings"]
    console.print(f"[bold]MLflow logging overhead[/] {'(quick) ' if result['quick'] else ''}{m['date']}  "
                  f"{m['cpu_count']} CPUs, Python {m['python']}, MLflow {m['mlflow']}, commit {m['git_commit']}")
    t = Table(title=f"Per-trial loop time: {s['trials_per_job']} trivial trials per job, max_parallel {PARALLEL}, "
                    f"{s['rounds']} round(s) of the 4 arms")
    for col in ("arm", "gaps", "median ms", "p90 ms", "added to median ms", "added, median of rounds ms", "trials",
                "in MLflow", "job end after last trial s"):
        t.add_column(col, justify="left" if col == "arm" else "right")
    for arm, d in result["arms"].items():
        t.add_row(arm, str(d["gaps"]), f"{d['median_ms']:.2f}", f"{d['p90_ms']:.2f}", f"{d['added_median_ms']:+.2f}",
                  f"{d['added_median_of_rounds_ms']:+.2f}",
                  str(d["trials"]), "-" if d["logged"] is None else str(d["logged"]),
                  f"{d['end_after_last_trial_s']:.2f}")
    console.print(t)
    console.print("  added = the arm's median gap minus off's: over all gaps, and the median of the rounds' differences "
                  "(each round runs the 4 arms one after another, so load that drifts between rounds cancels)")
    for r_i, r in enumerate(result["rounds"]):
        console.print(f"  round {r_i + 1}: median ms " + ", ".join(
            f"{arm} {statistics.median(r[arm]['gaps_ms']):.2f}" for arm in ARMS))
    h = result["hook"]
    console.print(f"  the writer's hook per trial (RunnerTracking.trial_stored): {h['per_call_us']:.2f} us a call "
                  f"({h['calls']} calls; a full queue of {h['queue_bound']} drops the wake-up, never waits)")
    for arm in ("down", "slow"):
        console.print(f"  {arm}: last note: {result['arms'][arm]['last_note'][:140]}")
    t = Table(title="Targets (from the issue)")
    for col in ("target", "measured", "required", "result"):
        t.add_column(col, justify="left" if col == "target" else "right")
    for row in result["targets"]:
        t.add_row(row["target"], f"{row['value']:+.2f} ms", f"<= {row['threshold']:.0f} ms",
                  "[green]PASS[/]" if row["pass"] else "[red]FAIL[/]")
    console.print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round of 8 trials per arm (checks that it "
                                                          "works; not for the target)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {quick_out('mlflow_overhead')})")
    ap.add_argument("--trials", type=int, default=None, help="trials per job (default 60; --quick 8)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of the 4 arms (default 3; --quick 1)")
    args = ap.parse_args(argv)
    args.out = args.out or (quick_out("mlflow_overhead") if args.quick else DEFAULT_OUT)
    n = args.trials or (8 if args.quick else 60)
    n_rounds = args.rounds or (1 if args.quick else 3)
    os.environ.update(MLFLOW_QUIET)
    home = Path(tempfile.mkdtemp(prefix="jupyter-hpo-bench-mlflow-"))
    os.environ["JUPYTER_HPO_HOME"] = str(home / "hpo")
    os.environ.pop("JUPYTER_HPO_STORE_URL", None)
    (home / "server").mkdir()
    from jupyter_hpo import api

    api._stores.clear()
    api.open_store()
    proc, url = start_mlflow_server(home / "server")
    proxy = SlowProxy(url, SLOW_S)
    down = f"http://127.0.0.1:{free_port()}"
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(url)
        uris = {"off": None, "server": url, "down": down, "slow": proxy.url}
        rounds = []
        for r in range(n_rounds):
            rounds.append({})
            for arm in ARMS:
                _log(f"round {r + 1}/{n_rounds}: {arm}")
                rounds[-1][arm] = run_job(f"{arm}-{r}", n, uris[arm], client if arm != "down" else None)
        arms = summarize(rounds)
        result = {
            "benchmark": "MLflow logging overhead (benchmarks/mlflow_overhead.py)", "quick": args.quick,
            "machine": machine_info(("jupyter-hpo", "optuna", "mlflow")),
            "settings": {"trials_per_job": n, "rounds": n_rounds, "max_parallel": PARALLEL, "slow_s": SLOW_S,
                         "server": "mlflow server, SQLite backend, local artifacts, 127.0.0.1, 1 worker"},
            "arms": arms, "rounds": rounds, "hook": time_hook(20_000), "targets": targets(arms)}
    finally:
        proxy.close()
        stop_process_group(proc)
        api._stores.clear()
        shutil.rmtree(home, ignore_errors=True)
    write_result(args.out, result)
    print_tables(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
