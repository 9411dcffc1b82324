"""Campaigns: a credit job run inside a warm campaign, side by side with in-process Optuna and a standalone job.

All in one run, on the credit example (examples/credit_default/train.py, XGBoost with k-fold CV), each job
N trials (6; --quick: 2 of 2-fold CV), strategy random with one seed (so every job runs the same N
configurations), max_parallel 2, early stopping and patience off:

  standalone  jupyter_hpo.api.launch(...) of one job with a warm pool, then job.wait() (its own runner and pool)
  campaign    hpo.campaign([warm-up job, measured job]): the warm-up job (2 trials) starts the pool; the measured
              job takes it over warm. Its wall = its ``ended`` - its runner's start (both written by the runner).
  inprocess   optuna.create_study(sampler=RandomSampler(seed)).optimize(objective, n_trials=N, n_jobs=2),
              with train.py imported and the data loaded (trial.cached) before the clock starts, as in a warm pool

in R rounds (5; --quick: 2), each a standalone job, a campaign and an in-process run, so that all three see
the same load; the ratios are taken per round, and their medians reported. For each measured job, "launch -> first trial running": from the
moment the campaign runner starts the job (its runner's start) to its first objective starting (the trial's
dispatch + startup_s), and from the end of the job before it. Prints a table (medians, ratios, the goals as
pass/fail, the load average) and writes JSON.

    .venv/bin/python benchmarks/campaign.py                              # full run, ~4 minutes on 2 cores
    .venv/bin/python benchmarks/campaign.py --quick --out /tmp/c.json    # smoke run (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import apply_defaults, log, objective_start, quick_out, write_result
from overhead import (
    PARALLEL,
    SEED,
    _load_train_module,
    credit_spec,
    machine_info,
    reference_params,
    run_hpo,
    run_inprocess,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "campaign.json"
# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "standalone", "campaign", "inprocess", "ratios", "goals")
REPORT_HEADINGS = ("Credit job in a warm campaign", "Goals (from the issue)")
GOAL_CAMPAIGN_OVER_INPROCESS = 1.10
GOAL_LAUNCH_TO_FIRST_TRIAL_S = 0.3


def job_spec(spec: Any, name: str, n: int) -> dict[str, Any]:
    data = spec.to_dict()
    data.update(name=name, strategy="random", seed=SEED, early_stopping="off")
    data["budget"] = {**data["budget"], "max_trials": n, "max_parallel": PARALLEL}
    data["completion"] = {**(data.get("completion") or {}), "patience": None}
    data["warm_pool"] = {**(data.get("warm_pool") or {}), "enabled": True}
    return data


def run_campaign(spec: Any, n: int, tag: str) -> dict[str, Any]:
    """One campaign: a warm-up job of 2 trials, then the measured job of ``n``."""
    from jupyter_hpo.campaign import campaign
    from jupyter_hpo.records import REUSED_FROM

    names = [f"bench-camp-{tag}-warmup", f"bench-camp-{tag}-job"]
    specs = [job_spec(spec, names[0], PARALLEL), job_spec(spec, names[1], n)]
    p0 = time.perf_counter()
    c = campaign(specs, name=f"bench-camp-{tag}", keep_alive_s=120)
    status = c.wait(poll=0.05)
    total = time.perf_counter() - p0
    jobs, previous_end = [], None
    for job in c.jobs:
        attrs, recs = job.attrs, job.trial_records()
        started = float(attrs["runner"]["started"])
        first = min(s for s in map(objective_start, recs) if s is not None)
        raw = {t.number: t.user_attrs.get(REUSED_FROM) for t in job.raw_trials()}
        jobs.append({
            "name": job.name, "status": attrs["status"], "trials": len(recs),
            "complete": sum(r["state"] == "complete" for r in recs),
            "wall_s": float(attrs["ended"]) - started,
            "launch_to_first_trial_s": first - started,
            "previous_end_to_first_trial_s": None if previous_end is None else first - previous_end,
            "warm": sum(bool(r["warm"]) for r in recs), "reused": sum(v is not None for v in raw.values()),
            "startup_s": [r["startup_s"] for r in recs],
        })
        previous_end = float(attrs["ended"])
        log(f"campaign: {job.name}: {jobs[-1]['wall_s']:.2f} s, first trial running "
            f"{jobs[-1]['launch_to_first_trial_s']:.3f} s after its start, {jobs[-1]['warm']}/{len(recs)} warm")
    return {"status": status, "total_s": total, "warmup": jobs[0], "job": jobs[1]}


def campaign_figures(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    measured = [r["job"] for r in rounds]
    return {"rounds": rounds,
            "wall_median_s": statistics.median(j["wall_s"] for j in measured),
            "launch_to_first_trial_median_s": statistics.median(j["launch_to_first_trial_s"] for j in measured),
            "previous_end_to_first_trial_median_s": statistics.median(j["previous_end_to_first_trial_s"]
                                                                       for j in measured),
            "warm_share": sum(j["warm"] for j in measured) / sum(j["trials"] for j in measured),
            "reused_share": sum(j["reused"] for j in measured) / sum(j["trials"] for j in measured)}


def inprocess_runner(spec: Any, n: int) -> Any:
    """A function running the in-process Optuna workload once; returns its wall time."""
    static = dict(spec.trial.hyperparameters)
    ref = reference_params(spec.space, n)
    train = _load_train_module()

    def call(params: dict[str, Any]) -> float:
        argv: list[str] = []
        for k, v in {**static, **params}.items():
            argv += [f"--{k}", str(v)]
        return train.main(argv)

    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        call(ref[0])  # imports done and data cached (trial.cached) before the clock, as in a warm worker
    return lambda: run_inprocess(spec.space, call, n, enqueue=ref, silence=True)["wall_s"]


def print_report(result: dict[str, Any]) -> None:
    s, c, i, r = result["standalone"], result["campaign"], result["inprocess"], result["ratios"]
    load = result["machine"]["loadavg_at_start"]
    print(f"\nCredit job in a warm campaign ({result['settings']['trials']} trials, {PARALLEL} parallel; load average "
          f"at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, at end {result['loadavg_at_end'][0]:.2f})")
    print(f"  {'':<40} {'median wall':>11}  {'/ in-process, per round (median)':>34}")
    rows = [("standalone job (own runner and pool)", s["wall_median_s"], r["standalone_over_inprocess_per_round"],
             r["standalone_over_inprocess_per_round_median"]),
            ("job in a warm campaign", c["wall_median_s"], r["campaign_over_inprocess_per_round"],
             r["campaign_over_inprocess_per_round_median"]),
            ("in-process Optuna", i["wall_median_s"], [1.0] * len(i["walls_s"]), 1.0)]
    for label, wall, per_round, median in rows:
        print(f"  {label:<40} {wall:>9.2f} s  {', '.join(f'{x:.2f}' for x in per_round):>24} ({median:.2f}x)")
    print(f"  campaign jobs: warm share {100 * c['warm_share']:.0f}%, launch -> first trial running median "
          f"{c['launch_to_first_trial_median_s']:.3f} s (previous job's end -> it: "
          f"{c['previous_end_to_first_trial_median_s']:.3f} s)")
    print("\nGoals (from the issue)")
    for goal in result["goals"].values():
        print(f"  {goal['what']:<58} {goal['measured']:>8.3f} {'<=':>3} {goal['goal']:<5} "
              f"{'pass' if goal['met'] else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 trials of 2-fold CV, 2 campaign jobs")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {quick_out('campaign')})")
    ap.add_argument("--trials", type=int, default=None, help="trials per job (default 6; --quick: 2)")
    ap.add_argument("--repeats", type=int, default=None, help="rounds of a campaign and an in-process run (default 5)")
    args = apply_defaults(ap.parse_args(argv), full={"out": DEFAULT_OUT, "trials": 6, "repeats": 5},
                          quick={"out": quick_out("campaign"), "trials": 2, "repeats": 2})
    n, repeats = args.trials, args.repeats
    spec = credit_spec(2 if args.quick else None)

    home = Path(tempfile.mkdtemp(prefix="jupyter-hpo-bench-"))
    os.environ["JUPYTER_HPO_HOME"] = str(home)
    os.environ.pop("JUPYTER_HPO_STORE_URL", None)
    from jupyter_hpo import api

    api._stores.clear()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tag = str(os.getpid())
    try:
        api.open_store()
        result: dict[str, Any] = {
            "benchmark": "jupyter-hpo campaigns (benchmarks/campaign.py)", "quick": args.quick,
            "machine": machine_info(),
            "settings": {"trials": n, "repeats": repeats, "max_parallel": PARALLEL, "seed": SEED,
                         "strategy": "random", "early_stopping": "off", "folds": spec.trial.hyperparameters["folds"]},
        }
        inprocess = inprocess_runner(spec, n)
        rounds, walls, alone = [], [], []
        for i in range(repeats):
            log(f"round {i + 1}/{repeats}: a standalone job of {n} trials ...")
            alone.append(run_hpo(spec, warm=True, name=f"bench-standalone-{tag}-{i}", n=n, patience=None)["wall_s"])
            log(f"round {i + 1}/{repeats}: a campaign (warm-up job, then a job of {n} trials) ...")
            rounds.append(run_campaign(spec, n, f"{tag}-{i}"))
            log(f"round {i + 1}/{repeats}: in-process Optuna, {n} trials ...")
            walls.append(inprocess())
            log(f"round {i + 1}/{repeats}: campaign job {rounds[-1]['job']['wall_s']:.2f} s, in-process {walls[-1]:.2f} s")
        result["campaign"] = campaign_figures(rounds)
        result["inprocess"] = {"walls_s": walls, "wall_median_s": statistics.median(walls)}
        result["standalone"] = {"walls_s": alone, "wall_median_s": statistics.median(alone)}
        result["loadavg_at_end"] = list(os.getloadavg())
        base = result["inprocess"]["wall_median_s"]
        per_round = [r["job"]["wall_s"] / w for r, w in zip(rounds, walls)]
        alone_round = [a / w for a, w in zip(alone, walls)]
        result["ratios"] = {"campaign_over_inprocess": result["campaign"]["wall_median_s"] / base,
                            "campaign_over_inprocess_per_round": per_round,
                            "campaign_over_inprocess_per_round_median": statistics.median(per_round),
                            "standalone_over_inprocess": result["standalone"]["wall_median_s"] / base,
                            "standalone_over_inprocess_per_round": alone_round,
                            "standalone_over_inprocess_per_round_median": statistics.median(alone_round)}
        result["goals"] = {
            "campaign_over_inprocess": {
                "what": f"{n}-trial credit job in a warm campaign / in-process Optuna",
                "measured": result["ratios"]["campaign_over_inprocess_per_round_median"],
                "goal": GOAL_CAMPAIGN_OVER_INPROCESS,
                "met": result["ratios"]["campaign_over_inprocess_per_round_median"] <= GOAL_CAMPAIGN_OVER_INPROCESS},
            "launch_to_first_trial_s": {
                "what": "campaign job: launch -> first trial running, median (s)",
                "measured": result["campaign"]["launch_to_first_trial_median_s"], "goal": GOAL_LAUNCH_TO_FIRST_TRIAL_S,
                "met": result["campaign"]["launch_to_first_trial_median_s"] <= GOAL_LAUNCH_TO_FIRST_TRIAL_S},
        }
    finally:
        api._stores.clear()
        shutil.rmtree(home, ignore_errors=True)
    write_result(args.out, result)
    print_report(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
