"""Launch after launch from one notebook: a fresh runner each time, or the runner an earlier job kept.

``warm_pool: {keep_alive_s: S}`` keeps a local job's runner and its idle workers after the job, and the next launch
from the same place runs in them (``jupyter_hpo.runner._linger``). This measures what that saves, side by side in
one run, launch by launch interleaved:

  fresh   the product's default: every launch starts a runner (with the head start of its workers)
  kept    every job asks for a 60 s keep-alive, so each launch runs in the runner the one before kept, on its
          workers (one launch before the measured ones starts it, and is not counted)

The arms launch from environments that differ in one variable, so a ``fresh`` launch never takes the ``kept``
runner. Each job is the credit example (``examples/credit_default``: its script, space and settings), 2 trials, 2 at
a time, as in ``first_trial.py``. Figures per launch, in seconds after ``launch()`` was called: when the first
trial's objective started, when the first trial finished, and when the job ended; medians per arm, and the medians
of the paired savings (fresh minus kept, launch by launch).

    .venv/bin/python benchmarks/kept_runner.py                             # 12 launches per arm, about 2 minutes
    .venv/bin/python benchmarks/kept_runner.py --quick --out /tmp/k.json   # smoke run (CI): 2 per arm, 1,500 rows
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log, machine_info, private_home, publish, target_line
from first_trial import job_spec, launch_once, launch_settings, medians, paired_savings
from time_to_quality import data_file

RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "arms", "paired", "targets")
REPORT_HEADINGS = ("launch after launch", "saved by the kept runner")
ARMS = ("fresh", "kept")
KEEP_ALIVE_S = 60
#: the goal: a launch into the kept runner finishes its job sooner than one that starts a runner (median paired)
TARGET_SAVING_S = 0.0
_ARM_VARIABLE = "JUPYTER_HPO_BENCH_ARM"  # one environment per arm: a launch takes only a runner of its own kind


def launch(spec: dict[str, Any], arm: str, i: int) -> dict[str, Any]:
    """One launch of ``arm``: first_trial.py's figures, plus which runner ran it."""
    from jupyter_hpo import api

    s = dict(spec, warm_pool={"keep_alive_s": KEEP_ALIVE_S if arm == "kept" else 0})
    os.environ[_ARM_VARIABLE] = arm
    r = launch_once(s, arm, i)
    job = api.attach(r["job"])
    attrs = job.attrs
    reused = {t["reused_from"] for t in job.trial_records()}
    return {**r, "runner_pid": (attrs.get("runner") or {}).get("pid"), "reused_workers": None not in reused}


def report(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    lines = [f"launch after launch from one notebook: the credit example, {s['rows'] or 30000} rows, 2 trials 2 at "
             f"a time; {s['launches']} launches per arm, interleaved; keep-alive {s['keep_alive_s']} s; load at "
             f"start {m['loadavg_at_start'][0]:.1f} on {m['cpu_count']} CPUs", "",
             f"{'arm':<8}{'first trial started, s':>24}{'first trial done, s':>21}{'job, s':>9}"
             f"{'launches in a kept runner':>27}{'on its workers':>16}"]
    for arm, a in result["arms"].items():
        lines.append(f"{arm:<8}{a['first_start_s']:>24.2f}{a['first_done_s']:>21.2f}{a['wall_s']:>9.2f}"
                     f"{a['in_kept_runner']:>27}{a['on_kept_workers']:>16}")
    p = result["paired"]
    lines += ["", f"saved by the kept runner, median of the paired launches: first trial started "
                  f"{p['first_start_s']:+.2f} s sooner, first trial done {p['first_done_s']:+.2f} s, job "
                  f"{p['wall_s']:+.2f} s ({p['sooner']} of {p['pairs']} jobs done sooner)", ""]
    lines += [target_line(t, "+.2f") for t in result["targets"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    settings = launch_settings(argv, "kept_runner", __doc__.splitlines()[0])
    if settings is None:
        return 2
    quick, n, rows, out = settings
    work = private_home("kept-runner")
    machine = machine_info(("optuna", "xgboost-cpu", "pandas", "scikit-learn"))
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    kept_pid = None
    try:
        spec = job_spec(data_file(rows, work) if rows else None)
        kept_pid = launch(spec, "kept", -1)["runner_pid"]  # starts the kept runner; not counted
        for i in range(n):
            for arm in (ARMS if i % 2 == 0 else ARMS[::-1]):  # alternate which arm goes first
                runs[arm].append(launch(spec, arm, i))
                r = runs[arm][-1]
                log(f"{i + 1}/{n} {arm}: first trial started {r['first_start_s']:.2f} s, done "
                    f"{r['first_done_s']:.2f} s, job {r['wall_s']:.2f} s, {r['status']}")
    finally:
        os.environ.pop(_ARM_VARIABLE, None)
        if kept_pid:
            with contextlib.suppress(OSError):
                os.kill(kept_pid, signal.SIGTERM)  # the kept runner leaves now, with its workers
        shutil.rmtree(work, ignore_errors=True)
    bad = [r for rs in runs.values() for r in rs if r["status"] != "completed" or r["first_start_s"] is None]
    if bad:
        print(f"kept_runner: {len(bad)} launch(es) did not complete: {bad[0]}", file=sys.stderr)
        return 1

    keys = ("first_start_s", "first_done_s", "wall_s")
    med = medians(runs, keys)
    arms = {arm: {**med[arm], "in_kept_runner": sum(r["runner_pid"] == kept_pid for r in runs[arm]),
                  "on_kept_workers": sum(r["reused_workers"] for r in runs[arm]), "runs": runs[arm]} for arm in ARMS}
    paired = paired_savings(runs["fresh"], runs["kept"], keys, "wall_s")
    value = paired["wall_s"]
    result = {
        "benchmark": "launch after launch from one notebook (benchmarks/kept_runner.py)", "quick": quick,
        "machine": machine, "settings": {"launches": n, "rows": rows, "trials": 2, "max_parallel": 2,
                                         "keep_alive_s": KEEP_ALIVE_S},
        "arms": arms, "paired": paired,
        "targets": [{"target": "a job in the kept runner done sooner than with a fresh runner, median paired saving",
                     "value": value, "op": ">", "threshold": TARGET_SAVING_S, "unit": "s",
                     "pass": value is not None and value > TARGET_SAVING_S
                     and arms["kept"]["in_kept_runner"] == n and arms["fresh"]["in_kept_runner"] == 0}],
    }
    return publish(out, result, report(result))


if __name__ == "__main__":
    sys.exit(main())
