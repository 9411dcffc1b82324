"""What a script trial costs a warm worker on top of the script's own work.

A script trial runs in a warm worker as ``python script.py --name value`` would: before and after each trial the
worker drops the user's own modules from ``sys.modules``, so that the next trial imports them afresh, while
installed packages stay loaded. This measures that cost with a script that does no work but imports what a real
training script does (NumPy, pandas, scikit-learn, XGBoost: some 1,600 modules loaded), side by side in one run
with a module-level objective function that returns at once:

  script     a file that imports those packages, parses ``--x`` and prints ``value=<x>``
  function   a module-level objective ``f(params) -> params["x"]``

Both run as jobs of N trials (200; --quick: 6), 2 at a time, random search, on the local warm pool. Figures: the
warm trials' run time (the worker's clock from a trial's start to its end, so for a script with no work, the
script runner's own cost), median and p90 in ms, and each job's wall time.

    .venv/bin/python benchmarks/script_trials.py                            # about 10 s on 2 cores
    .venv/bin/python benchmarks/script_trials.py --quick --out /tmp/s.json  # smoke run (CI)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, log, machine_info, pct, private_home, publish, quick_out, target_line

RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "objectives", "targets")
REPORT_HEADINGS = ("script trials in a warm worker", "run time per warm trial")
FULL_TRIALS, QUICK_TRIALS = 200, 6
#: the goal for the script runner's own cost per trial: the warm pool's orchestration goal (README)
TARGET_SCRIPT_MEDIAN_MS = 20.0
SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
SCRIPT = '''
    """A training script with no work: the imports of a real one, its argument, its output line."""
    import argparse

    import numpy
    import pandas
    import sklearn.metrics
    import xgboost

    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    print(f"value={parser.parse_args().x}")
'''


def function_objective(params: dict[str, Any]) -> float:
    return float(params["x"])


def run_job(n: int, **options: Any) -> dict[str, Any]:
    """One job of ``n`` trials, 2 at a time; the warm trials' run times and the job's wall time."""
    from jupyter_hpo import api

    t0 = time.perf_counter()
    job = api.launch(name=f"script-trials-{time.time_ns() % 10**9}", strategy="random", seed=0,
                     early_stopping="off", max_trials=n, max_parallel=2, direction="maximize", space=SPACE,
                     **options)
    status = job.wait(poll=0.1)
    wall = time.perf_counter() - t0
    records = job.trial_records()
    warm = sorted(1000 * r["run_s"] for r in records if r["warm"] and r["run_s"] is not None)
    return {"status": status.value, "wall_s": wall, "trials": len(records),
            "complete": sum(r["state"] == "complete" for r in records), "warm_trials": len(warm),
            "run_median_ms": pct(warm, 0.5), "run_p90_ms": pct(warm, 0.9), "run_ms": warm}


def report(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    lines = [f"script trials in a warm worker: {s['trials']} trials per objective, 2 at a time; load at start "
             f"{m['loadavg_at_start'][0]:.1f} on {m['cpu_count']} CPUs", "",
             f"{'objective':<10}{'wall s':>9}{'warm trials':>13}{'run time per warm trial, median ms':>37}"
             f"{'p90 ms':>9}"]
    for name, o in result["objectives"].items():
        lines.append(f"{name:<10}{o['wall_s']:>9.2f}{o['warm_trials']:>13}{o['run_median_ms']:>37.1f}"
                     f"{o['run_p90_ms']:>9.1f}")
    lines.append("")
    lines += [target_line(t, ".1f") for t in result["targets"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_TRIALS} trials per objective")
    ap.add_argument("--trials", type=int, default=None, help=f"trials per objective ({FULL_TRIALS})")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON output (default results/script_trials.json; with --quick a temporary file)")
    args = ap.parse_args(argv)
    n = args.trials or (QUICK_TRIALS if args.quick else FULL_TRIALS)
    if n < 3:
        print("script_trials: --trials must be at least 3 (the first 2 start the workers)", file=sys.stderr)
        return 2
    out = args.out or (quick_out("script_trials") if args.quick else REPO / "benchmarks" / "results"
                       / "script_trials.json")
    work = private_home("script-trials")
    script = work / "project" / "noop.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent(SCRIPT).lstrip(), encoding="utf-8")
    machine = machine_info(("optuna", "xgboost-cpu", "pandas", "scikit-learn"))
    try:
        objectives = {}
        for name in ("script", "function"):
            log(f"{name}: {n} trials ...")
            options: dict[str, Any] = ({"objective": str(script), "metric": "value"} if name == "script"
                                       else {"objective": function_objective})
            objectives[name] = run_job(n, **options)
            log(f"{name}: {objectives[name]['wall_s']:.2f} s, {objectives[name]['status']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    value = objectives["script"]["run_median_ms"]
    result = {
        "benchmark": "script trials in a warm worker (benchmarks/script_trials.py)", "quick": args.quick,
        "machine": machine, "settings": {"trials": n, "max_parallel": 2, "strategy": "random"},
        "objectives": objectives,
        "targets": [{"target": "script runner's cost per warm trial, median", "value": value, "op": "<=",
                     "threshold": TARGET_SCRIPT_MEDIAN_MS, "unit": "ms",
                     "pass": value is not None and value <= TARGET_SCRIPT_MEDIAN_MS}],
    }
    return publish(out, result, report(result))


if __name__ == "__main__":
    sys.exit(main())
