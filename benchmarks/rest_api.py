"""REST API latency and runner overhead with a realistic store: 100 jobs plus one job of 10,000 trials.

Measured on SQLite and, with ``--store postgresql``, on PostgreSQL too, side by side in one run (a throwaway
cluster started the way the tests start theirs, ``tests/postgres.py``: Debian's PostgreSQL, run as the
``postgres`` OS user), with the ratios PostgreSQL / SQLite. Each store gets the same jobs, then a fresh
``jupyter server`` on it. Prints a table and writes JSON. Goals (issues 4 and 14), on each store:

- the first ``GET jobs`` after the server starts (100 jobs, one of 10,000 trials): <= 1 s;
- ``GET jobs`` p95 <= 100 ms; ``GET jobs/{name}/trials?after=N`` (the 10 newest of 10,000) p95 <= 20 ms;
- runner overhead per trial, median <= 20 ms: a job of trivial trials on the warm pool (2 in parallel),
  each trial's slot idle time before it starts, as ``benchmarks/overhead.py`` measures it.

    .venv/bin/python benchmarks/rest_api.py [--store sqlite|postgresql] [--trials 10000] [--jobs 100]
    .venv/bin/python benchmarks/rest_api.py --quick --out /tmp/rest.json    # smoke run (CI), ~15 s per store

The JSON's top-level keys are RESULT_KEYS; ``routes`` holds SQLite's route figures (as before PostgreSQL
was measured), ``stores`` every store's figures, ``ratios`` PostgreSQL / SQLite.
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
from typing import Any

from _common import REPO, apply_defaults, quick_out  # noqa: E402 - benchmarks/ is on sys.path
from overhead import slot_gaps  # noqa: E402 - the same overhead definition as benchmarks/overhead.py

# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("date", "quick", "cpus", "load_average", "python", "jobs", "trials_in_big_job", "requests", "routes",
               "stores", "ratios")
REPORT_HEADINGS = ("store", "route", "first ms", "p95 ms", "GET jobs", "GET jobs/big/trials?after=",
                   "first GET jobs after start", "runner overhead per trial", "one trial written")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "rest_api.json"
FULL = {"jobs": 100, "trials": 10_000, "requests": 100, "runner_trials": 200, "out": str(DEFAULT_OUT)}
QUICK = {"jobs": 3, "trials": 50, "requests": 5, "runner_trials": 10, "out": str(quick_out("rest_api"))}
GOALS_MS = {"first": 1000.0, "jobs": 100.0, "trials": 20.0, "runner": 20.0}
PARALLEL = 2


def trivial(params: dict[str, Any]) -> float:
    """The runner-overhead job's objective: returns at once (workers get it cloudpickled by value)."""
    return float(params["x"]) ** 2


def fill_store(url: str, home: Path, n_jobs: int, n_trials: int) -> None:
    """Write the jobs through the store, one transaction per trial (as a runner writes them)."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.store import Store

    from jupyter_hpo.provenance import collect

    store = Store(url, home=home)
    spec = {"backend": {"name": "local"}, "objective": {"metric": "auc", "direction": "maximize"},
            "budget": {"max_trials": n_trials}, "space": {"x": {"type": "float", "low": 0, "high": 1}}}
    # every job's provenance as its runner records it (this interpreter's ~5 KB package list among it)
    provenance = collect({"cwd": str(home)}, spec, home / "jobs" / "none")

    def add(name: str, count: int) -> None:
        store.create_job(name, spec, "maximize")
        store.set_job_attrs(name, status="completed", ended=time.time(), provenance=provenance)
        now = datetime.datetime.now()
        for i in range(count):
            store.create_trial(name, FrozenTrial(
                number=-1, state=TrialState.COMPLETE, value=(i % 97) / 97, datetime_start=now, datetime_complete=now,
                params={"x": (i % 89) / 89}, distributions={"x": FloatDistribution(0, 1)},
                user_attrs={"worker": "local-1", "warm": i > 1, "startup_s": 0.001, "run_s": 1.0},
                system_attrs={}, intermediate_values={0: 0.5, 1: 0.6}, trial_id=-1))

    for j in range(n_jobs):
        add(f"job-{j:03d}", 5)
    add("big", n_trials)
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - t0) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: {jobs} jobs, {trials} trials, {requests} requests, {runner_trials} runner "
                             "trials (unless given); the temporary stores are removed at the end".format(**QUICK))
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                        help="sqlite (default): SQLite only; postgresql: PostgreSQL and SQLite side by side, with "
                             "the ratios (needs Debian's PostgreSQL, as the tests do)")
    parser.add_argument("--jobs", type=int, default=None, help=f"small jobs (default: {FULL['jobs']})")
    parser.add_argument("--trials", type=int, default=None, help=f"trials of the big job (default: {FULL['trials']})")
    parser.add_argument("--requests", type=int, default=None, help=f"requests per route (default: {FULL['requests']})")
    parser.add_argument("--runner-trials", type=int, default=None,
                        help=f"trials of the runner-overhead job (default: {FULL['runner_trials']})")
    parser.add_argument("--home", help="SQLite: reuse a store filled by an earlier run (skips the fill); "
                                       "PostgreSQL's store is always filled anew")
    parser.add_argument("--out", default=None,
                        help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {QUICK['out']})")
    return apply_defaults(parser.parse_args(argv), FULL, QUICK)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_start = os.getloadavg()  # other work on the machine: the figures depend on it
    stores: dict[str, dict[str, Any]] = {}
    home = prepare_sqlite(args)
    try:
        stores["sqlite"] = measure_store(args, f"sqlite:///{home / 'store.db'}", home)
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    if args.store == "postgresql":
        stores["postgresql"] = measure_postgresql(args)
    report(args, stores)
    return 0


def prepare_sqlite(args: argparse.Namespace) -> Path:
    """SQLite's store: the one in ``--home`` if filled earlier, else a new one filled now."""
    if args.home and (Path(args.home) / "store.db").exists():
        home = Path(args.home)
        print(f"reusing the store in {home}")
        return home
    home = Path(args.home or tempfile.mkdtemp(prefix="hpo-bench-rest-"))
    fill_timed("sqlite", f"sqlite:///{home / 'store.db'}", home, args)
    return home


def measure_postgresql(args: argparse.Namespace) -> dict[str, Any]:
    """The same on a throwaway PostgreSQL cluster (``tests/postgres.py``), removed at the end."""
    sys.path.insert(0, str(REPO))
    from tests.postgres import start_cluster, stop_cluster

    server = start_cluster()
    home = Path(tempfile.mkdtemp(prefix="hpo-bench-rest-pg-"))
    try:
        url = server.new_database()
        fill_timed("postgresql", url, home, args)
        return measure_store(args, url, home)
    finally:
        stop_cluster(server)
        shutil.rmtree(home, ignore_errors=True)


def fill_timed(kind: str, url: str, home: Path, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    fill_store(url, home, args.jobs, args.trials)
    print(f"{kind} store filled in {time.perf_counter() - t0:.0f} s: {args.jobs} jobs + 1 job of {args.trials} trials")


def measure_store(args: argparse.Namespace, url: str, home: Path) -> dict[str, Any]:
    """REST latencies on a fresh server, then the runner's overhead and its trial writes on the same store."""
    figures = measure_rest(args, url, home)
    figures["runner"] = measure_runner(args, url, home)
    figures["trial_writes"] = measure_writes(url, home, args.runner_trials)
    return figures


def measure_writes(url: str, home: Path, n: int) -> dict[str, Any]:
    """What recording one trial costs the runner's store writer: created when dispatched, finished with the
    attributes a trivial trial gets, in-process. Side by side, alternating trial by trial: the store's path (one
    transaction each) and Optuna's storage API as the store used it before (an attribute per transaction)."""
    import sqlalchemy as sa
    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.store import Store

    store = Store(url, home=home)
    name = f"writes-{os.getpid()}"
    study_id = store.create_job(name, {"backend": {"name": "local"}}, "minimize")
    store.study_id(name)  # looked up once and remembered, as the runner does: not counted per trial
    commits = [0]
    sa.event.listen(store.engine, "commit", lambda _con: commits.__setitem__(0, commits[0] + 1))
    finish = {"startup_s": 0.0004, "run_s": 0.00002, "pid": 1234}

    def template() -> FrozenTrial:
        return FrozenTrial(number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
                           datetime_complete=None, params={"x": 0.5}, distributions={"x": FloatDistribution(-1, 1)},
                           user_attrs={"worker": "local-1", "warm": True, "seed": 7}, system_attrs={},
                           intermediate_values={}, trial_id=-1)

    def ours() -> None:
        trial_id = store.create_trial(name, template())
        store.finish_trial(trial_id, TrialState.COMPLETE, 0.25, finish)

    def optunas() -> None:
        trial_id = store.storage.create_new_trial(study_id, template_trial=template())
        for key, value in finish.items():
            store.storage.set_trial_user_attr(trial_id, key, value)
        store.storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [0.25])

    times: dict[str, list[float]] = {"store": [], "optuna": []}
    counted: dict[str, int] = {"store": 0, "optuna": 0}
    for _ in range(n):
        for kind, write in (("store", ours), ("optuna", optunas)):
            before, t0 = commits[0], time.perf_counter()
            write()
            times[kind].append((time.perf_counter() - t0) * 1000)
            counted[kind] += commits[0] - before
    store.delete_job(name)
    store.close()
    out = {kind: {"p50_ms": statistics.median(ms), "p90_ms": percentile(ms, 90), "commits_per_trial": counted[kind] / n}
           for kind, ms in times.items()}
    out["optuna_over_store_p50"] = out["optuna"]["p50_ms"] / out["store"]["p50_ms"]
    return out


def measure_rest(args: argparse.Namespace, url: str, home: Path) -> dict[str, Any]:
    """Start ``jupyter server`` on the store, time the routes (the first request of all on its own)."""
    port, token = free_port(), "bench-token"
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_HPO_STORE_URL"}
    env.update(JUPYTER_HPO_HOME=str(home), JUPYTER_HPO_STORE_URL=url)
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={home}",
         "--ServerApp.jpserver_extensions={'jupyter_hpo': True}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/jupyter-hpo/api"
    try:
        deadline = time.monotonic() + 60
        while True:  # until the server listens: the first request it answers is the first it gets
            try:
                sent = time.perf_counter()
                first_jobs = timed_get(f"{base}/jobs", token)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        after = args.trials - 11
        first_trials = timed_get(f"{base}/jobs/big/trials?after={after}", token)
        jobs_ms = [timed_get(f"{base}/jobs", token) for _ in range(args.requests)]
        trials_ms = [timed_get(f"{base}/jobs/big/trials?after={after}", token) for _ in range(args.requests)]
    finally:
        server.terminate()
        server.wait(timeout=20)
    return {"routes": {
        "GET jobs": route(first_jobs, jobs_ms, GOALS_MS["jobs"]),
        f"GET jobs/big/trials?after={after} (10 trials)": route(first_trials, trials_ms, GOALS_MS["trials"]),
    }, "first_get_jobs_ms": first_jobs, "first_get_jobs_ok": first_jobs <= GOALS_MS["first"],
        # from starting `jupyter server` to the first request it accepted (the first GET jobs is timed from there)
        "server_listening_ms": (sent - started) * 1000}


def route(first: float, values: list[float], goal: float) -> dict[str, Any]:
    p95 = percentile(values, 95)
    return {"first_ms": first, "p50_ms": statistics.median(values), "p95_ms": p95, "goal_p95_ms": goal,
            "ok": p95 <= goal}


def measure_runner(args: argparse.Namespace, url: str, home: Path) -> dict[str, Any]:
    """A job of trivial trials on the warm pool: the median idle time of a trial's slot before it starts."""
    from jupyter_hpo import api
    from jupyter_hpo.store import Store

    store = Store(url, home=home)
    t0 = time.time()
    job = api.launch(objective=trivial, space={"x": {"type": "float", "low": -1, "high": 1}},
                     name=f"runner-overhead-{os.getpid()}", strategy="random", seed=0, max_trials=args.runner_trials,
                     max_parallel=PARALLEL, store=store)
    status = job.wait(timeout=600, poll=0.05)
    records = [r for r in job.trial_records() if r["run_s"] is not None and r["startup_s"] is not None]
    store.delete_job(job.name)  # the store keeps its 100 jobs + 1 for a later run (--home)
    spans = [(r["started"] + r["startup_s"], r["started"] + r["startup_s"] + r["run_s"]) for r in records]
    gaps = sorted(slot_gaps(t0, spans, PARALLEL))[PARALLEL:]  # the first per slot waits for the pool to start
    median = statistics.median(gaps) * 1000 if gaps else float("nan")
    store.close()
    return {"status": status.value, "trials": len(records), "overhead_median_ms": median,
            "overhead_p90_ms": percentile(gaps, 90) * 1000 if gaps else None, "goal_median_ms": GOALS_MS["runner"],
            "ok": median <= GOALS_MS["runner"]}


def report(args: argparse.Namespace, stores: dict[str, dict[str, Any]]) -> None:
    print(f"\n{'store':<11} {'route':<48} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'goal':>9}  ok")
    for kind, fig in stores.items():
        for name, r in fig["routes"].items():
            print(f"{kind:<11} {name:<48} {r['first_ms']:>9.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
                  f"{'p95 ' + format(r['goal_p95_ms'], '.0f'):>9}  {'yes' if r['ok'] else 'NO'}")
        print(f"{kind:<11} {'first GET jobs after start':<48} {fig['first_get_jobs_ms']:>9.1f} {'':>8} {'':>8} "
              f"{'<= ' + format(GOALS_MS['first'], '.0f'):>9}  {'yes' if fig['first_get_jobs_ok'] else 'NO'}")
        print(f"{kind:<11} {'server start -> listening':<48} "
              f"{fig['server_listening_ms']:>9.1f}")
        w = fig["trial_writes"]
        print(f"{kind:<11} {'one trial written (create + finish): store':<48} {'':>9} {w['store']['p50_ms']:>8.2f} "
              f"{'':>8} {'':>9}  {w['store']['commits_per_trial']:.0f} commits")
        print(f"{kind:<11} {'  the same through Optuna, an attribute at a time':<48} {'':>9} "
              f"{w['optuna']['p50_ms']:>8.2f} {'':>8} {'':>9}  {w['optuna']['commits_per_trial']:.0f} commits "
              f"({w['optuna_over_store_p50']:.1f}x)")
        run = fig["runner"]
        print(f"{kind:<11} {'runner overhead per trial (' + str(run['trials']) + ' trials)':<48} {'':>9} "
              f"{run['overhead_median_ms']:>8.2f} {'':>8} {'p50 ' + format(GOALS_MS['runner'], '.0f'):>9}  "
              f"{'yes' if run['ok'] else 'NO'}")
    ratios = ratios_of(stores)
    if ratios:
        print("\npostgresql / sqlite: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    load = {"start": list(args.load_start), "end": list(os.getloadavg())}  # 1, 5 and 15-minute averages
    print(f"load average at the start {args.load_start[0]:.1f}, at the end {load['end'][0]:.1f} "
          f"(15-minute {load['end'][2]:.1f}), {os.cpu_count()} cpus")
    result = {"date": datetime.date.today().isoformat(), "quick": args.quick, "cpus": os.cpu_count(),
              "load_average": load, "python": platform.python_version(), "jobs": args.jobs, "trials_in_big_job": args.trials,
              "requests": args.requests, "routes": stores["sqlite"]["routes"], "stores": stores,
              "ratios": {"postgresql_over_sqlite": ratios} if ratios else {}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


def ratios_of(stores: dict[str, dict[str, Any]]) -> dict[str, float]:
    """PostgreSQL's figures over SQLite's, measured in the same run (empty without PostgreSQL)."""
    if "postgresql" not in stores:
        return {}
    pg, lite = stores["postgresql"], stores["sqlite"]
    out = {"first GET jobs": pg["first_get_jobs_ms"] / lite["first_get_jobs_ms"]}
    for name in lite["routes"]:
        out[f"{name.split('?')[0]} p95"] = pg["routes"][name]["p95_ms"] / lite["routes"][name]["p95_ms"]
    out["runner overhead median"] = pg["runner"]["overhead_median_ms"] / lite["runner"]["overhead_median_ms"]
    out["trial write p50"] = pg["trial_writes"]["store"]["p50_ms"] / lite["trial_writes"]["store"]["p50_ms"]
    return out


if __name__ == "__main__":
    sys.exit(main())
