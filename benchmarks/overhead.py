"""Per-trial orchestration overhead of jupyter-hpo, side by side with in-process Optuna.

Three ways of running the same trials, all in one run:

  warm       jupyter_hpo.api.launch(..., warm_pool=True), then job.wait()
  cold       the same with warm_pool=False (a fresh worker process per trial)
  inprocess  optuna.create_study(sampler=RandomSampler(seed)).optimize(objective, n_trials=N, n_jobs=2)

on two workloads:

  trivial    a module-level objective that returns a float at once (N=200; --quick: 10), max_parallel 2
  credit     examples/credit_default/train.py (XGBoost, 5-fold CV; N=24; --quick: 2 with 2-fold CV), max_parallel 2

and prints a table (absolute figures and ratios, with the issue's targets as pass/fail) and
writes it all as JSON (top-level keys: RESULT_KEYS). See benchmarks/README.md for the definitions.

    .venv/bin/python benchmarks/overhead.py                               # full run, a few minutes on 2 cores
    .venv/bin/python benchmarks/overhead.py --quick --out /tmp/o.json     # smoke run (CI), 35-60 s
"""

from __future__ import annotations

import argparse
import heapq
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import log as _log
from _common import machine_info as common_machine_info
from _common import objective_start, quick_out, write_result

from jupyter_hpo._liveness import pid_alive

REPO = Path(__file__).resolve().parents[1]
CREDIT_DIR = REPO / "examples" / "credit_default"
CREDIT_SCRIPT = CREDIT_DIR / "train.py"
CREDIT_SPEC = CREDIT_DIR / "tuning.yaml"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "overhead.json"
# what the JSON and the printed report always hold (tests/test_benchmarks.py checks them after --quick)
RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "workloads", "targets")
REPORT_HEADINGS = ("Trivial objective", "Credit workload", "Targets (from the issue)")
QUICK_TRIVIAL_TRIALS = 10
QUICK_CREDIT_TRIALS = 2
QUICK_CREDIT_FOLDS = 2  # --quick overrides tuning.yaml's folds: 5, so its credit trials take under half the time

PARALLEL = 2
SEED = 0
POLL_S = 0.05
TRIVIAL_SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0}}

# the targets
TARGET_WARM_MEDIAN_MS = 20.0
TARGET_COLD_OVER_WARM = 1.4
TARGET_WARM_OVER_INPROCESS = 1.10

MODES = ("warm", "cold", "inprocess")
MODE_LABELS = {"warm": "(a) hpo warm pool", "cold": "(b) hpo cold", "inprocess": "(c) Optuna in-proc"}


def trivial_objective(params: dict[str, Any]) -> float:
    """The trivial workload: returns at once (workers get it cloudpickled by value)."""
    return float(params["x"]) ** 2


# -- helpers ------------------------------------------------------------------------------------
def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    idx = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[idx]


def slot_gaps(t0: float, spans: list[tuple[float, float]], parallel: int) -> list[float]:
    """Per-trial overhead: how long the trial's slot sat idle before the trial started.

    ``spans`` are (start, end) of each trial's objective. Trials are placed, in start order, on the
    slot that freed first (``parallel`` slots, all free at ``t0``); the gap between that slot's
    previous end (``t0`` for the first trial of a slot) and this trial's start is the time spent
    finishing the previous trial, asking for and dispatching this one and starting it.
    """
    free = [t0] * parallel
    heapq.heapify(free)
    gaps = []
    for start, end in sorted(spans):
        prev = heapq.heappop(free)
        gaps.append(start - prev)
        heapq.heappush(free, end)
    return gaps


def machine_info() -> dict[str, Any]:
    info = common_machine_info(("jupyter-hpo", "optuna", "numpy", "xgboost-cpu"))
    info["xgboost"] = info.pop("xgboost_cpu")
    info["niceness"] = os.nice(0) if hasattr(os, "nice") else None
    return info


def _cpu_snapshot() -> dict[str, float]:
    """CPU seconds so far: the whole machine's busy and steal time, and this process with its reaped children."""
    snap = {"busy": float("nan"), "steal": float("nan")}
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        snap = {"busy": (user + nice + system + irq + softirq) / hz, "steal": steal / hz}
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    snap["own"] = t.user + t.system + t.children_user + t.children_system
    snap["t"] = time.perf_counter()
    return snap


def _load(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """CPU used during one mode: by the benchmark (with the runner and workers it reaped) and by others."""
    wall = after["t"] - before["t"]
    own = after["own"] - before["own"]
    busy = after["busy"] - before["busy"]
    cores = os.cpu_count() or 1
    return {"own_cpu_s": own, "machine_busy_cpu_s": busy, "foreign_cpu_s": max(0.0, busy - own),
            "foreign_share_of_capacity": max(0.0, busy - own) / (wall * cores) if wall > 0 else None,
            "steal_cpu_s": after["steal"] - before["steal"], "loadavg_1m_end": os.getloadavg()[0]}


class _Discard:
    """A stdout that drops everything (the credit script prints its AUC; threads share sys.stdout)."""

    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


# -- jupyter-hpo modes (a) and (b) --------------------------------------------------------------
def run_hpo(spec_or_none: Any, *, warm: bool, name: str, n: int, **options: Any) -> dict[str, Any]:
    """Launch one job, wait for it and read every trial back from the store."""
    from jupyter_hpo import api

    cpu0 = _cpu_snapshot()
    t0 = time.time()
    p0 = time.perf_counter()
    job = api.launch(spec_or_none, name=name, strategy="random", seed=SEED, early_stopping="off", max_trials=n,
                     max_parallel=PARALLEL, warm_pool=warm, **options)
    status = job.wait(poll=POLL_S)
    records = job.trial_records()
    while sum(r["state"] != "running" for r in records) < n and job.status.is_finished():
        # the runner writes the job's end after its last trial, so this does not loop in practice
        if time.perf_counter() - p0 > 3600:
            break
        time.sleep(POLL_S)
        records = job.trial_records()
    wall = time.perf_counter() - p0
    t1 = t0 + wall
    attrs = job.attrs
    # let the runner process exit before the next mode starts (not timed)
    pid = (attrs.get("runner") or {}).get("pid")
    deadline = time.monotonic() + 30
    while pid and pid_alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # let the reaper thread collect it, so its CPU time is counted as ours
    load = _load(cpu0, _cpu_snapshot())
    return {"load": load, "status": status.value, "reason": attrs.get("reason", ""), "t0": t0, "t1": t1,
            "wall_s": wall, "records": records, "runner_started": (attrs.get("runner") or {}).get("started")}


def summarize_hpo(raw: dict[str, Any], n: int) -> dict[str, Any]:
    recs = raw["records"]
    done = [r for r in recs if r["run_s"] is not None and r["startup_s"] is not None and r["started"] is not None]
    # start of the objective: dispatch (the trial's datetime_start, taken by the runner right after handing it to
    # the backend) + startup_s (measured by the backend), for a cold trial at the latest its end - run_s
    starts = [objective_start(r) for r in done]
    spans = [(s, s + r["run_s"]) for s, r in zip(starts, done) if s is not None]
    run = [r["run_s"] for r in done]
    startup = [r["startup_s"] for r in done]
    gaps = slot_gaps(raw["t0"], spans, PARALLEL)
    last_end = max((e for _, e in spans), default=raw["t1"])
    first_start = min((s for s, _ in spans), default=raw["t0"])
    warm_flags = [r["warm"] for r in done]
    return {
        "status": raw["status"],
        "reason": raw["reason"],
        "load": raw["load"],
        "n_trials": n,
        "n_complete": sum(r["state"] == "complete" for r in recs),
        "n_failed": sum(r["state"] == "fail" for r in recs),
        "wall_s": raw["wall_s"],
        "run_mean_ms": _ms(statistics.fmean(run)) if run else None,
        "run_sum_s": sum(run),
        # the definition: wall x parallel / N - mean run time
        "overhead_mean_ms": _ms(raw["wall_s"] * PARALLEL / n - statistics.fmean(run)) if run else None,
        # per-trial idle gap of the trial's slot (see slot_gaps); its median is the steady state
        "overhead_median_ms": _ms(statistics.median(gaps)) if gaps else None,
        "overhead_p90_ms": _ms(_pct(gaps, 0.9)) if gaps else None,
        "overhead_max_ms": _ms(max(gaps)) if gaps else None,
        "startup_median_ms": _ms(statistics.median(startup)) if startup else None,
        "startup_mean_ms": _ms(statistics.fmean(startup)) if startup else None,
        "launch_to_runner_s": (raw["runner_started"] - raw["t0"]) if raw["runner_started"] else None,
        "launch_to_first_trial_s": first_start - raw["t0"],
        "last_trial_to_wait_return_s": raw["t1"] - last_end,
        "warm_starts": sum(1 for w in warm_flags if w),
        "cold_starts": sum(1 for w in warm_flags if w is False),
        "best_value": max((r["value"] for r in recs if r["value"] is not None), default=None),
        "params": [r["params"] for r in sorted(recs, key=lambda r: r["number"])],
        "trials": [{"number": r["number"], "state": r["state"], "worker": r["worker"], "warm": r["warm"],
                    "dispatch_s": round(r["started"] - raw["t0"], 4), "startup_s": round(r["startup_s"], 4),
                    "run_s": round(r["run_s"], 4), "value": r["value"], "params": r["params"]}
                   for r in sorted(done, key=lambda r: r["number"])],
    }


# -- Optuna in-process mode (c) -----------------------------------------------------------------
def _suggest_all(trial: Any, distributions: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, d in distributions.items():
        if isinstance(d, IntDistribution):
            out[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, FloatDistribution):
            out[name] = trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, d.choices)
        else:  # pragma: no cover
            raise TypeError(d)
    return out


def run_inprocess(space: Any, call: Any, n: int, *, enqueue: list[dict[str, Any]] | None = None,
                  silence: bool = False) -> dict[str, Any]:
    """``create_study(sampler=RandomSampler(seed)).optimize(objective, n_trials=n, n_jobs=2)``, in memory.

    ``call(params)`` is the work; its (start, end) is timed inside the Optuna objective. With
    ``enqueue``, those parameter sets are enqueued first, so the trials run exactly that work.
    """
    import optuna

    distributions = space.to_optuna()
    spans: list[tuple[float, float]] = []
    values: list[float] = []
    params_seen: list[dict[str, Any]] = []
    per_trial: list[dict[str, Any]] = []
    lock = threading.Lock()

    def objective(trial: optuna.Trial) -> float:
        params = space.from_optuna(_suggest_all(trial, distributions))
        start = time.time()
        value = call(params)
        end = time.time()
        with lock:
            spans.append((start, end))
            values.append(value)
            params_seen.append(params)
            per_trial.append({"number": trial.number, "thread": threading.get_ident(), "start": start,
                              "run_s": end - start, "value": value, "params": params})
        return value

    saved = sys.stdout
    cpu0 = _cpu_snapshot()
    t0 = time.time()
    p0 = time.perf_counter()
    if silence:
        sys.stdout = _Discard()
    try:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=SEED))
        for p in enqueue or []:
            study.enqueue_trial(space.to_optuna_params(p))
        study.optimize(objective, n_trials=n, n_jobs=PARALLEL)
    finally:
        sys.stdout = saved
    wall = time.perf_counter() - p0
    load = _load(cpu0, _cpu_snapshot())
    run = [e - s for s, e in spans]
    gaps = slot_gaps(t0, spans, PARALLEL)
    threads = sorted({t["thread"] for t in per_trial})
    return {
        "status": "completed",
        "load": load,
        "n_trials": n,
        "n_complete": sum(t.state.name == "COMPLETE" for t in study.trials),
        "n_failed": sum(t.state.name == "FAIL" for t in study.trials),
        "wall_s": wall,
        "run_mean_ms": _ms(statistics.fmean(run)) if run else None,
        "run_sum_s": sum(run),
        "overhead_mean_ms": _ms(wall * PARALLEL / n - statistics.fmean(run)) if run else None,
        "overhead_median_ms": _ms(statistics.median(gaps)) if gaps else None,
        "overhead_p90_ms": _ms(_pct(gaps, 0.9)) if gaps else None,
        "overhead_max_ms": _ms(max(gaps)) if gaps else None,
        "startup_median_ms": None,
        "launch_to_first_trial_s": min(s for s, _ in spans) - t0 if spans else None,
        "best_value": max(values) if values else None,
        "params": params_seen,
        "trials": [{"number": t["number"], "thread": threads.index(t["thread"]),
                    "start_s": round(t["start"] - t0, 4), "run_s": round(t["run_s"], 4), "value": t["value"],
                    "params": t["params"]} for t in sorted(per_trial, key=lambda t: t["number"])],
    }


# -- workloads ----------------------------------------------------------------------------------
def reference_params(space: Any, n: int) -> list[dict[str, Any]]:
    """The N configurations the runner's RandomSampler(seed) draws, asked one after another."""
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SEED))
    out = []
    for _ in range(n):
        t = study.ask(space.to_optuna())
        out.append(space.from_optuna(t.params))
        study.tell(t, 0.0)
    return out


def _key(p: dict[str, Any]) -> str:
    return json.dumps({k: round(v, 12) if isinstance(v, float) else v for k, v in sorted(p.items())})


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return sorted(map(_key, a)) == sorted(map(_key, b))


def d_trials(mode: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in mode.get("trials", []) if t.get("run_s") is not None and "params" in t]


def bench_trivial(n: int, tag: str) -> dict[str, Any]:
    from jupyter_hpo.space import SearchSpace

    space = SearchSpace.from_dict(TRIVIAL_SPACE)
    modes: dict[str, Any] = {}
    for mode in ("warm", "cold"):
        _log(f"trivial: {mode}, {n} trials ...")
        raw = run_hpo(None, warm=mode == "warm", name=f"bench-trivial-{mode}-{tag}", n=n,
                      objective=trivial_objective, space=TRIVIAL_SPACE, direction="maximize")
        modes[mode] = summarize_hpo(raw, n)
        _log(f"trivial: {mode}: {modes[mode]['wall_s']:.2f} s ({modes[mode]['status']})")
    _log(f"trivial: inprocess, {n} trials ...")
    modes["inprocess"] = run_inprocess(space, trivial_objective, n)
    _log(f"trivial: inprocess: {modes['inprocess']['wall_s']:.2f} s")
    for m in modes.values():
        m.pop("params", None)
        for t in m["trials"]:
            t.pop("params", None)
    w, c, i = modes["warm"], modes["cold"], modes["inprocess"]
    ratios = {
        "cold_over_warm_wall": c["wall_s"] / w["wall_s"],
        "warm_over_inprocess_wall": w["wall_s"] / i["wall_s"],
        "cold_over_warm_overhead_mean": c["overhead_mean_ms"] / w["overhead_mean_ms"],
        "warm_over_inprocess_overhead_mean": w["overhead_mean_ms"] / i["overhead_mean_ms"],
        "warm_over_inprocess_overhead_median": w["overhead_median_ms"] / i["overhead_median_ms"],
    }
    return {"description": "module-level objective returning a float at once; space x ~ U(-1, 1)",
            "n_trials": n, "max_parallel": PARALLEL, "modes": modes, "ratios": ratios}


def _load_train_module() -> Any:
    spec = importlib.util.spec_from_file_location("credit_default_train", CREDIT_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def credit_spec(folds: int | None) -> Any:
    """``tuning.yaml`` of the credit example, with its static ``folds`` replaced when ``folds`` is given."""
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_file(CREDIT_SPEC)
    if folds is None:
        return spec
    data = spec.to_dict()
    data["trial"]["hyperparameters"]["folds"] = folds
    return TuningSpec.from_dict(data)


def bench_credit(n: int, tag: str, folds: int | None = None) -> dict[str, Any]:
    from jupyter_hpo import trial as trial_api

    spec = credit_spec(folds)
    static = dict(spec.trial.hyperparameters)
    ref = reference_params(spec.space, n)
    # (c) imports the script (xgboost, sklearn, pandas) before its clock starts, as a notebook that
    # has them loaded would; the import is timed apart and reported as import_s
    p0 = time.perf_counter()
    train = _load_train_module()
    import_s = time.perf_counter() - p0

    modes: dict[str, Any] = {}
    for mode in ("warm", "cold"):
        _log(f"credit: {mode}, {n} trials ...")
        # patience off: every mode must run all N trials (the YAML's patience could end a job early)
        raw = run_hpo(spec, warm=mode == "warm", name=f"bench-credit-{mode}-{tag}", n=n, patience=None)
        modes[mode] = summarize_hpo(raw, n)
        _log(f"credit: {mode}: {modes[mode]['wall_s']:.1f} s ({modes[mode]['status']}: {modes[mode]['reason']})")

    def call(params: dict[str, Any]) -> float:
        argv: list[str] = []
        for k, v in {**static, **params}.items():
            argv += [f"--{k}", str(v)]
        return train.main(argv)

    trial_api._cache.clear()  # the data load is timed in (c) as it is in each worker of (a)/(b)
    _log(f"credit: inprocess, {n} trials ...")
    modes["inprocess"] = run_inprocess(spec.space, call, n, enqueue=ref, silence=True)
    modes["inprocess"]["import_s"] = import_s
    _log(f"credit: inprocess: {modes['inprocess']['wall_s']:.1f} s (+ {import_s:.1f} s import of train.py)")

    same = {m: _same(modes[m]["params"], ref) for m in MODES}
    for m in MODES:
        d = modes[m]
        d.pop("params", None)
        d["same_params_as_reference"] = same[m]
        # the trivial workload's figures, in seconds: overhead_mean_s = wall x parallel / N - mean run
        for k in ("run_mean", "overhead_mean", "overhead_median", "overhead_p90", "overhead_max"):
            v = d.pop(f"{k}_ms", None)
            d[f"{k}_s"] = None if v is None else v / 1000.0
        # wall time not explained by the trials' own run time (= overhead_mean_s x N / parallel)
        d["orchestration_s"] = d["wall_s"] - d["run_sum_s"] / PARALLEL
    w, c, i = modes["warm"], modes["cold"], modes["inprocess"]

    # The same configuration can run at quite different speeds in different modes on a busy or
    # shared machine (and threads share the GIL in-process). As a cross-check that is not swayed by
    # this, the wall time each mode would take with the same trial work: the sum over configurations
    # of the median of the three modes' run times, / parallel, plus the mode's own orchestration_s.
    runs: dict[str, dict[str, list[float]]] = {}
    for m in MODES:
        for t in d_trials(modes[m]):
            runs.setdefault(_key(t["params"]), {}).setdefault(m, []).append(t["run_s"])
    per_config = [statistics.median([v[m][0] for m in MODES]) for v in runs.values() if all(m in v for m in MODES)]
    work = sum(per_config) / PARALLEL if len(per_config) == n else None
    norm = None
    if work is not None:
        norm = {"common_work_s": work,
                "cold_over_warm_wall": (work + c["orchestration_s"]) / (work + w["orchestration_s"]),
                "warm_over_inprocess_wall": (work + w["orchestration_s"]) / (work + i["orchestration_s"])}
    spread = [max(v[m][0] for m in MODES) / min(v[m][0] for m in MODES)
              for v in runs.values() if all(m in v for m in MODES)]
    ratios = {
        "cold_over_warm_wall": c["wall_s"] / w["wall_s"],
        "warm_over_inprocess_wall": w["wall_s"] / i["wall_s"],
        "cold_over_inprocess_wall": c["wall_s"] / i["wall_s"],
        "warm_over_inprocess_wall_incl_import": w["wall_s"] / (i["wall_s"] + import_s),
        "cold_over_warm_run_sum": c["run_sum_s"] / w["run_sum_s"],
        "warm_over_inprocess_run_sum": w["run_sum_s"] / i["run_sum_s"],
        "normalised_to_common_work": norm,
        "same_config_run_time_spread_median": statistics.median(spread) if spread else None,
        "same_config_run_time_spread_max": max(spread) if spread else None,
    }
    return {"description": f"examples/credit_default/train.py (XGBoost, {static.get('folds')}-fold CV) as a script "
                           "trial, space of tuning.yaml, strategy random, early stopping off, patience off",
            "n_trials": n, "max_parallel": PARALLEL, "static_hyperparameters": static,
            "modes": modes, "ratios": ratios}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    triv, cred = result["workloads"]["trivial"], result["workloads"]["credit"]
    rows = [
        ("warm-pool median overhead per trial (trivial)", triv["modes"]["warm"]["overhead_median_ms"], "<=",
         TARGET_WARM_MEDIAN_MS, "ms"),
        ("credit: cold / warm wall time", cred["ratios"]["cold_over_warm_wall"], ">=", TARGET_COLD_OVER_WARM, "x"),
        ("credit: warm / in-process Optuna wall time", cred["ratios"]["warm_over_inprocess_wall"], "<=",
         TARGET_WARM_OVER_INPROCESS, "x"),
    ]
    out = []
    for name, value, op, threshold, unit in rows:
        ok = value is not None and (value <= threshold if op == "<=" else value >= threshold)
        out.append({"target": name, "value": value, "op": op, "threshold": threshold, "unit": unit, "pass": ok})
    return out


# -- output ---------------------------------------------------------------------------------------
def _f(v: Any, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    m = result["machine"]
    console.print(f"[bold]jupyter-hpo orchestration overhead[/]  {'(quick) ' if result['quick'] else ''}"
                  f"{m['date']}  {m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}, "
                  f"Optuna {m['optuna']}, commit {m['git_commit']}, nice {m.get('niceness')}")

    triv = result["workloads"]["trivial"]
    t = Table(title=f"Trivial objective: {triv['n_trials']} trials, max_parallel {triv['max_parallel']}")
    for col in ("mode", "wall s", "ovh median ms", "ovh mean ms", "ovh p90 ms", "startup median ms",
                "launch->1st trial s", "run mean ms"):
        t.add_column(col, justify="left" if col == "mode" else "right")
    for mode in MODES:
        d = triv["modes"][mode]
        t.add_row(MODE_LABELS[mode], _f(d["wall_s"], "{:.2f}"), _f(d["overhead_median_ms"], "{:.2f}"),
                  _f(d["overhead_mean_ms"], "{:.2f}"), _f(d["overhead_p90_ms"], "{:.2f}"),
                  _f(d["startup_median_ms"], "{:.2f}"), _f(d["launch_to_first_trial_s"], "{:.2f}"),
                  _f(d["run_mean_ms"], "{:.3f}"))
    console.print(t)
    console.print("  ovh = per-trial overhead: mean = wall x parallel / N - mean run time; median/p90 = per-trial "
                  "idle gap of the trial's slot (see benchmarks/README.md)")
    r = triv["ratios"]
    console.print(f"  ratios: cold/warm wall {r['cold_over_warm_wall']:.2f}x, overhead mean "
                  f"{r['cold_over_warm_overhead_mean']:.1f}x;  warm/in-process wall "
                  f"{r['warm_over_inprocess_wall']:.2f}x, overhead mean {r['warm_over_inprocess_overhead_mean']:.1f}x, "
                  f"median {r['warm_over_inprocess_overhead_median']:.1f}x")

    cred = result["workloads"]["credit"]
    t = Table(title=f"Credit workload (XGBoost {cred['static_hyperparameters'].get('folds')}-fold CV): "
                    f"{cred['n_trials']} trials, "
                    f"max_parallel {cred['max_parallel']}")
    for col in ("mode", "wall s", "vs warm", "ovh mean s", "ovh median s", "sum run s", "mean run s",
                "startup median s", "launch->1st trial s", "same params"):
        t.add_column(col, justify="left" if col == "mode" else "right")
    for mode in MODES:
        d = cred["modes"][mode]
        t.add_row(MODE_LABELS[mode], _f(d["wall_s"], "{:.1f}"),
                  _f(d["wall_s"] / cred["modes"]["warm"]["wall_s"], "{:.2f}x"), _f(d["overhead_mean_s"], "{:.2f}"),
                  _f(d["overhead_median_s"], "{:.3f}"), _f(d["run_sum_s"], "{:.1f}"), _f(d["run_mean_s"], "{:.2f}"),
                  _f(None if d["startup_median_ms"] is None else d["startup_median_ms"] / 1000, "{:.3f}"),
                  _f(d["launch_to_first_trial_s"], "{:.2f}"), "yes" if d["same_params_as_reference"] else "NO")
    console.print(t)
    r = cred["ratios"]
    console.print(f"  ratios: cold/warm wall {r['cold_over_warm_wall']:.2f}x;  warm/in-process wall "
                  f"{r['warm_over_inprocess_wall']:.2f}x ({r['warm_over_inprocess_wall_incl_import']:.2f}x counting "
                  f"in-process's {cred['modes']['inprocess']['import_s']:.1f} s import of train.py);  "
                  f"cold/in-process wall {r['cold_over_inprocess_wall']:.2f}x")
    norm = r["normalised_to_common_work"]
    if norm:
        console.print(f"  same configuration, run time max/min across modes: median "
                      f"{r['same_config_run_time_spread_median']:.2f}x, max "
                      f"{r['same_config_run_time_spread_max']:.2f}x;  normalised to common trial work "
                      f"({norm['common_work_s']:.1f} s): cold/warm {norm['cold_over_warm_wall']:.2f}x, "
                      f"warm/in-process {norm['warm_over_inprocess_wall']:.2f}x")

    busy = [(w, m, d["load"]["foreign_share_of_capacity"]) for w, wl in result["workloads"].items()
            for m, d in wl["modes"].items() if (d.get("load") or {}).get("foreign_share_of_capacity") is not None]
    worst = max(busy, key=lambda x: x[2], default=None)
    if worst is not None:
        note = ("[yellow]other processes used the CPUs: results are disturbed[/]" if worst[2] > 0.05
                else "the machine was otherwise idle")
        console.print(f"CPU used by other processes during a mode: at most {worst[2]:.1%} of the machine "
                      f"({worst[0]}, {worst[1]}) - {note}")

    t = Table(title="Targets (from the issue)")
    for col in ("target", "measured", "required", "result"):
        t.add_column(col, justify="left" if col == "target" else "right")
    for row in result["targets"]:
        fmt = "{:.2f} ms" if row["unit"] == "ms" else "{:.2f}x"
        t.add_row(row["target"], _f(row["value"], fmt), f"{row['op']} {fmt.format(row['threshold'])}",
                  "[green]PASS[/]" if row["pass"] else "[red]FAIL[/]")
    console.print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_TRIVIAL_TRIALS} trivial trials, "
                    f"{QUICK_CREDIT_TRIALS} credit trials of {QUICK_CREDIT_FOLDS}-fold CV (checks that it works; "
                    "not for the targets)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"JSON output (default: {DEFAULT_OUT}; with --quick: {quick_out('overhead')})")
    ap.add_argument("--trivial-trials", type=int, default=None, help="override N of the trivial workload")
    ap.add_argument("--credit-trials", type=int, default=None, help="override N of the credit workload")
    ap.add_argument("--keep-home", action="store_true", help="keep the temporary JUPYTER_HPO_HOME (to inspect logs)")
    args = ap.parse_args(argv)
    args.out = args.out or (quick_out("overhead") if args.quick else DEFAULT_OUT)
    n_trivial = args.trivial_trials or (QUICK_TRIVIAL_TRIALS if args.quick else 200)
    n_credit = args.credit_trials or (QUICK_CREDIT_TRIALS if args.quick else 24)

    home = Path(tempfile.mkdtemp(prefix="jupyter-hpo-bench-"))
    os.environ["JUPYTER_HPO_HOME"] = str(home)
    os.environ.pop("JUPYTER_HPO_STORE_URL", None)
    from jupyter_hpo import api

    api._stores.clear()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tag = str(os.getpid())
    try:
        api.open_store()  # create the store now, so no mode pays for it
        _log(f"JUPYTER_HPO_HOME={home}")
        result: dict[str, Any] = {
            "benchmark": "jupyter-hpo orchestration overhead (benchmarks/overhead.py)",
            "quick": args.quick,
            "machine": machine_info(),
            "settings": {"max_parallel": PARALLEL, "seed": SEED, "strategy": "random", "early_stopping": "off",
                         "wait_poll_s": POLL_S, "store": "SQLite in a temporary JUPYTER_HPO_HOME",
                         "inprocess_storage": "optuna in-memory"},
            "workloads": {},
        }
        result["workloads"]["trivial"] = bench_trivial(n_trivial, tag)
        result["workloads"]["credit"] = bench_credit(n_credit, tag, QUICK_CREDIT_FOLDS if args.quick else None)
        result["targets"] = targets(result)
    finally:
        api._stores.clear()
        if args.keep_home:
            _log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    write_result(args.out, result)
    print_tables(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
