"""How soon a local job's first trials start and finish after ``launch()``, with and without the head start.

A new local job's runner starts its workers first thing, before its own imports, so that their boot (importing
the script's NumPy, pandas, scikit-learn, XGBoost) overlaps the runner's start (``jupyter_hpo.backends._prestart``).
This measures what that saves, side by side in one run, launch by launch interleaved:

  head_start      the product as it is
  no_head_start   the same jobs with the head start left out (the launching process writes no prestart file,
                  so the runner starts its workers when its pool starts, as before)

Each job is the credit example (``examples/credit_default``: its script, space and settings), 2 trials, 2 at a
time, so both workers are cold. Figures per launch: when the first trial's objective started and when the first
trial finished (seconds after ``launch()`` was called), the job's wall time, when the runner began its job loop
(after its imports, the store and the study) and the cold trials' start-up (a worker's whole start, from its spawn
to the objective starting); medians per arm, and the median of the paired savings (no_head_start minus head_start,
launch by launch).

    .venv/bin/python benchmarks/first_trial.py                             # 12 launches per arm, about 2 minutes
    .venv/bin/python benchmarks/first_trial.py --quick --out /tmp/f.json   # smoke run (CI): 2 per arm, 1,500 rows
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, log, machine_info, objective_start, pct, private_home, publish, quick_out, target_line
from time_to_quality import EXAMPLE, data_file, example_spec

RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "arms", "paired", "targets")
REPORT_HEADINGS = ("first trials of a local job", "saved by the head start")
ARMS = ("head_start", "no_head_start")
FULL_LAUNCHES, QUICK_LAUNCHES, QUICK_ROWS = 12, 2, 1500
#: the goal: the head start makes the first trial start sooner, launch by launch (the median paired saving)
TARGET_SAVING_S = 0.0


def job_spec(data: Path | None) -> dict[str, Any]:
    """The credit example's spec (time_to_quality's), 2 trials 2 at a time, on ``data`` if given."""
    spec = example_spec()
    spec["trial"]["script"] = str(EXAMPLE / spec["trial"]["script"])
    if data is not None:
        spec["trial"]["hyperparameters"]["data"] = str(data)
    spec.update(budget={"max_trials": 2, "max_parallel": 2}, completion={}, seed=0)
    return spec


def launch_once(spec: dict[str, Any], arm: str, i: int) -> dict[str, Any]:
    """One launch of the job: when its first trial started and finished, after ``launch()`` was called."""
    from jupyter_hpo import api
    from jupyter_hpo.backends._local import LocalBackend

    s = json.loads(json.dumps(spec))
    s["name"] = f"first-trial-{arm.replace('_', '-')}-{i}-{time.time_ns() % 10**9}"
    original = LocalBackend.write_prestart
    if arm == "no_head_start":  # what the runner did before: no file, its pool starts the workers
        LocalBackend.write_prestart = classmethod(lambda cls, *args, **kwargs: None)  # type: ignore[method-assign]
    try:
        t0 = time.time()
        job = api.launch(s)
    finally:
        LocalBackend.write_prestart = original  # type: ignore[method-assign]
    status = job.wait(poll=0.02)
    wall = time.time() - t0
    records = job.trial_records()
    starts = [s for s in map(objective_start, records) if s is not None]
    done = [r for r in records if r["completed"] is not None]
    attrs = job.attrs
    summary = attrs.get("backend_summary") or {}
    cold = [r["startup_s"] for r in records if r["warm"] is False and r["startup_s"] is not None]
    return {"job": job.name, "status": status.value, "trials": len(records),
            "first_start_s": min(starts) - t0 if starts else None,
            "first_done_s": min(r["completed"] for r in done) - t0 if done else None,
            "wall_s": wall, "prestarted_workers": summary.get("prestarted_workers"),
            # the runner's own start: from launch() to its job's loop beginning (its imports, the store, the study)
            "runner_s": float((attrs.get("runner") or {})["started"]) - t0,
            # a cold trial's start-up: its worker's whole start, from spawn to the objective starting
            "worker_start_s": pct(cold, 0.5)}


def report(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    lines = [f"first trials of a local job: the credit example, {s['rows'] or 30000} rows, 2 trials 2 at a time; "
             f"{s['launches']} launches per arm, interleaved; load at start {m['loadavg_at_start'][0]:.1f} on "
             f"{m['cpu_count']} CPUs", "",
             f"{'arm':<15}{'first trial started, s':>24}{'first trial done, s':>21}{'job, s':>9}"
             f"{'workers started first':>23}{'runner started, s':>19}{'worker start, s':>17}"]
    for arm, a in result["arms"].items():
        lines.append(f"{arm:<15}{a['first_start_s']:>24.2f}{a['first_done_s']:>21.2f}{a['wall_s']:>9.2f}"
                     f"{a['prestarted_workers']:>23}{a['runner_s']:>19.2f}{a['worker_start_s']:>17.2f}")
    p = result["paired"]
    lines += ["", f"saved by the head start, median of the paired launches: first trial started "
                  f"{p['first_start_s']:+.2f} s sooner ({p['sooner']} of {p['pairs']} launches sooner), first trial "
                  f"done {p['first_done_s']:+.2f} s, job {p['wall_s']:+.2f} s", ""]
    lines += [target_line(t, "+.2f") for t in result["targets"]]
    return "\n".join(lines)


def launch_settings(argv: list[str] | None, script: str, description: str) -> tuple[bool, int, int, Path] | None:
    """The options of a benchmark of launches (this one, ``kept_runner.py``): (quick, launches per arm, rows, the
    JSON's path); None once a bad value has been said on stderr."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: {QUICK_LAUNCHES} launches per arm on {QUICK_ROWS:,} rows")
    ap.add_argument("--launches", type=int, default=None, help=f"launches per arm ({FULL_LAUNCHES})")
    ap.add_argument("--rows", type=int, default=None, help="subsample the data to N rows (0: all 30,000)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"JSON output (default results/{script}.json; with --quick a temporary file)")
    args = ap.parse_args(argv)
    n = args.launches if args.launches is not None else (QUICK_LAUNCHES if args.quick else FULL_LAUNCHES)
    rows = args.rows if args.rows is not None else (QUICK_ROWS if args.quick else 0)
    if n < 1 or rows < 0:
        print(f"{script}: --launches must be at least 1 and --rows at least 0", file=sys.stderr)
        return None
    out = args.out or (quick_out(script) if args.quick else REPO / "benchmarks" / "results" / f"{script}.json")
    return args.quick, n, rows, out


def medians(runs: dict[str, list[dict[str, Any]]], keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Each arm's median of each figure."""
    out: dict[str, dict[str, float]] = {}
    for arm, rs in runs.items():
        out[arm] = {}
        for key in keys:
            value = pct([r[key] for r in rs], 0.5)
            assert value is not None
            out[arm][key] = value
    return out


def paired_savings(slow: list[dict[str, Any]], fast: list[dict[str, Any]], keys: tuple[str, ...],
                   sooner: str) -> dict[str, Any]:
    """The medians of ``slow`` minus ``fast``, launch by launch, and in how many pairs ``sooner`` was sooner."""
    paired: dict[str, Any] = {key: pct([b[key] - a[key] for a, b in zip(fast, slow)], 0.5) for key in keys}
    paired.update(pairs=len(fast), sooner=sum(b[sooner] > a[sooner] for a, b in zip(fast, slow)))
    return paired


def main(argv: list[str] | None = None) -> int:
    settings = launch_settings(argv, "first_trial", __doc__.splitlines()[0])
    if settings is None:
        return 2
    quick, n, rows, out = settings
    work = private_home("first-trial")
    machine = machine_info(("optuna", "xgboost-cpu", "pandas", "scikit-learn"))
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    try:
        spec = job_spec(data_file(rows, work) if rows else None)
        for i in range(n):
            for arm in (ARMS if i % 2 == 0 else ARMS[::-1]):  # alternate which arm goes first
                runs[arm].append(launch_once(spec, arm, i))
                r = runs[arm][-1]
                log(f"{i + 1}/{n} {arm}: first trial started {r['first_start_s']:.2f} s, done "
                    f"{r['first_done_s']:.2f} s, {r['status']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad = [r for rs in runs.values() for r in rs if r["status"] != "completed" or r["first_start_s"] is None]
    if bad:
        print(f"first_trial: {len(bad)} launch(es) did not complete: {bad[0]}", file=sys.stderr)
        return 1

    med = medians(runs, ("first_start_s", "first_done_s", "wall_s", "runner_s", "worker_start_s"))
    arms = {arm: {**med[arm], "prestarted_workers": max(r["prestarted_workers"] or 0 for r in runs[arm]),
                  "runs": runs[arm]} for arm in ARMS}
    paired = paired_savings(runs["no_head_start"], runs["head_start"], ("first_start_s", "first_done_s", "wall_s"),
                            "first_start_s")
    value = paired["first_start_s"]
    result = {
        "benchmark": "first trials of a local job (benchmarks/first_trial.py)", "quick": quick,
        "machine": machine, "settings": {"launches": n, "rows": rows, "trials": 2, "max_parallel": 2},
        "arms": arms, "paired": paired,
        "targets": [{"target": "first trial started sooner with the head start, median paired saving",
                     "value": value, "op": ">", "threshold": TARGET_SAVING_S, "unit": "s",
                     "pass": value is not None and value > TARGET_SAVING_S}],
    }
    return publish(out, result, report(result))


if __name__ == "__main__":
    sys.exit(main())
