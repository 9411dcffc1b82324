"""REST API latency with a realistic store: 100 jobs plus one job of 10,000 trials.

Prints a table and writes JSON. Goals (issue 4): ``GET jobs`` p95 <= 100 ms; ``GET jobs/{name}/trials?after=N``
returning the 10 newest trials of the 10,000-trial job p95 <= 20 ms.

    .venv/bin/python benchmarks/rest_api.py [--trials 10000] [--jobs 100] [--requests 100]
    .venv/bin/python benchmarks/rest_api.py --quick --out /tmp/rest.json    # smoke run (CI), ~15 s

The JSON's top-level keys are RESULT_KEYS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import apply_defaults, quick_out  # noqa: E402 - benchmarks/ is on sys.path

# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("date", "quick", "cpus", "python", "jobs", "trials_in_big_job", "requests", "routes")
REPORT_HEADINGS = ("route", "first ms", "p95 ms", "GET jobs", "GET jobs/big/trials?after=")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "rest_api.json"
FULL = {"jobs": 100, "trials": 10_000, "requests": 100, "out": str(DEFAULT_OUT)}
QUICK = {"jobs": 3, "trials": 50, "requests": 5, "out": str(quick_out("rest_api"))}


def fill_store(home: Path, n_jobs: int, n_trials: int) -> None:
    """Write the jobs straight through Optuna's storage (what a runner would have written)."""
    os.environ["JUPYTER_HPO_HOME"] = str(home)
    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.store import Store

    store = Store(home=home)
    spec = {"backend": {"name": "local"}, "objective": {"metric": "auc", "direction": "maximize"},
            "budget": {"max_trials": n_trials}, "space": {"x": {"type": "float", "low": 0, "high": 1}}}

    def add(name: str, count: int) -> None:
        study_id = store.create_job(name, spec, "maximize")
        store.set_job_attrs(name, status="completed", ended=time.time())
        now = datetime.datetime.now()
        for i in range(count):
            store.storage.create_new_trial(study_id, template_trial=FrozenTrial(
                number=-1, state=TrialState.COMPLETE, value=(i % 97) / 97, datetime_start=now, datetime_complete=now,
                params={"x": (i % 89) / 89}, distributions={"x": FloatDistribution(0, 1)},
                user_attrs={"worker": "local-1", "warm": i > 1, "startup_s": 0.001, "run_s": 1.0},
                system_attrs={}, intermediate_values={0: 0.5, 1: 0.6}, trial_id=-1))

    for j in range(n_jobs):
        add(f"job-{j:03d}", 5)
    add("big", n_trials)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - t0) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: {jobs} jobs, {trials} trials, {requests} requests (unless given); the "
                             "temporary store is removed at the end".format(**QUICK))
    parser.add_argument("--jobs", type=int, default=None, help=f"small jobs (default: {FULL['jobs']})")
    parser.add_argument("--trials", type=int, default=None, help=f"trials of the big job (default: {FULL['trials']})")
    parser.add_argument("--requests", type=int, default=None, help=f"requests per route (default: {FULL['requests']})")
    parser.add_argument("--home", help="reuse a store filled by an earlier run (skips the fill)")
    parser.add_argument("--out", default=None,
                        help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {QUICK['out']})")
    return apply_defaults(parser.parse_args(argv), FULL, QUICK)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = prepare_home(args)
    try:
        measure(args, home)
    finally:
        if args.quick and not args.home:
            shutil.rmtree(home, ignore_errors=True)
    return 0


def prepare_home(args: argparse.Namespace) -> Path:
    """The store to measure: the one in ``--home`` if filled earlier, else a new one filled now."""
    if args.home and (Path(args.home) / "store.db").exists():
        home = Path(args.home)
        print(f"reusing the store in {home}")
    else:
        home = Path(args.home or tempfile.mkdtemp(prefix="hpo-bench-rest-"))
        t0 = time.perf_counter()
        fill_store(home, args.jobs, args.trials)
        print(f"store filled in {time.perf_counter() - t0:.0f} s: {args.jobs} jobs + 1 job of {args.trials} trials")
    return home


def measure(args: argparse.Namespace, home: Path) -> None:
    """Start ``jupyter server`` on the store in ``home``, time the routes, print the table and write the JSON."""
    port, token = free_port(), "bench-token"
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={home}",
         "--ServerApp.jpserver_extensions={'jupyter_hpo': True}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/jupyter-hpo/api"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first_jobs = timed_get(f"{base}/jobs", token)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        after = args.trials - 11
        first_trials = timed_get(f"{base}/jobs/big/trials?after={after}", token)
        jobs_ms = [timed_get(f"{base}/jobs", token) for _ in range(args.requests)]
        trials_ms = [timed_get(f"{base}/jobs/big/trials?after={after}", token) for _ in range(args.requests)]
    finally:
        server.terminate()
        server.wait(timeout=20)

    rows = [
        ("GET jobs", first_jobs, jobs_ms, 100.0),
        (f"GET jobs/big/trials?after={after} (10 trials)", first_trials, trials_ms, 20.0),
    ]
    result = {"date": datetime.date.today().isoformat(), "quick": args.quick, "cpus": os.cpu_count(),
              "python": platform.python_version(), "jobs": args.jobs, "trials_in_big_job": args.trials,
              "requests": args.requests, "routes": {}}
    print(f"\n{'route':<48} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'goal p95':>9}  ok")
    for name, first, values, goal in rows:
        p50, p95 = statistics.median(values), percentile(values, 95)
        ok = p95 <= goal
        print(f"{name:<48} {first:>9.1f} {p50:>8.1f} {p95:>8.1f} {goal:>9.0f}  {'yes' if ok else 'NO'}")
        result["routes"][name] = {"first_ms": first, "p50_ms": p50, "p95_ms": p95, "goal_p95_ms": goal, "ok": ok}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
