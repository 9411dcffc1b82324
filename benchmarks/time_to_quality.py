"""Time to quality on the credit workload: how soon each way of tuning reaches a hard AUC target.

Arms, run side by side and interleaved seed by seed (the order rotates with the seed), 2 trials at a time, on
the example's search space (``examples/credit_default/tuning.yaml``, 5-fold stratified CV of XGBoost):

* ``jhpo``: the example's settings (strategy bayesian, warm pool) with ``early_stopping: kfold`` (the paired k-fold
  pruner), the example script as a script trial, launched with ``jupyter_hpo.api.launch``;
* ``jhpo_fast``: the same with ``early_stopping: kfold_fast`` (the paired rule from fold 1, risk 0.2), which is
  what the example sets: jupyter-hpo's defaults (``defaults_arm``: the arm with the example's ``early_stopping``);
* ``jhpo_wilcoxon``: the same with ``early_stopping: kfold_wilcoxon`` (Optuna's Wilcoxon pruner);
* ``jhpo_fast_kept``: ``jhpo_fast`` launched into a kept runner (``warm_pool.keep_alive_s``), as a notebook's
  second and later launches are: a 2-trial warm-up launch before the first seed (not counted) leaves a runner with
  its workers, the data read and XGBoost imported, as the in-process arms have them before their clock starts;
* ``optuna_median``: Optuna in-process, ``optimize(n_jobs=2)``, ``TPESampler(seed)``, ``MedianPruner()`` over
  the folds' running mean;
* ``optuna``: the same without pruning (every trial's 5 fold scores are kept for the false-prune replay).

The target is the median, over seeds, of the best AUC ``optuna_median`` reaches after its trials. For each arm
and seed: the wall time from launch (start-up included) until its best-so-far reaches the target; a run that
never does counts as its full time (and is reported). The false-prune rate replays every ``optuna`` run (trials
completed, pruning decisions only recorded): at each trial's folds 2..4 the pruner is asked, with the trials
completed before it in the study; a pruned trial is *false* when its final value beat the best-so-far.

    .venv/bin/python benchmarks/time_to_quality.py                 # 10 seeds x 40 trials per arm: hours
    .venv/bin/python benchmarks/time_to_quality.py --seeds 3        # fewer seeds
    .venv/bin/python benchmarks/time_to_quality.py --arms jhpo,jhpo_fast,optuna_median,optuna   # some arms
    .venv/bin/python benchmarks/time_to_quality.py --seeds 8 --first-seed 12 --out /tmp/b.json  # more seeds, then
    .venv/bin/python benchmarks/time_to_quality.py --report results/time_to_quality.json /tmp/b.json --out /tmp/all.json
    .venv/bin/python benchmarks/time_to_quality.py --quick --out /tmp/ttq.json   # smoke run, < 90 s

``--budget-s T`` measures the same time to target with an equal wall-clock budget instead of 40 trials per arm:
every run goes on until its best reaches a fixed target (``--target AUC``, or by default the recorded 40-trial
result's, ``--target-from RESULT``) or T seconds pass, and one that never reaches it counts as T. jupyter-hpo's arms
end through the product's own ``completion.target`` and ``budget.max_runtime``; Optuna's through a callback that
stops the study at the target and ``timeout=T`` (a trial still running at T stops before its next fold). Arms:
``optuna_median`` and the defaults' arm unless ``--arms`` names more; the JSON goes to
``results/time_to_quality_budget.json``:

    .venv/bin/python benchmarks/time_to_quality.py --budget-s 90 --seeds 12 --arms jhpo,jhpo_fast,optuna_median

With Optuna 5, ``TPESampler(seed)`` is multivariate TPE with a constant liar and 10 start-up trials: the very
sampler jupyter-hpo's ``bayesian`` builds for 30+ trials, so ``jhpo`` and ``optuna_median`` differ in the pruner and in
how trials run, not in the search. ``--samplers`` compares sampler settings instead (``SAMPLERS``), in-process and
deterministic: each seed's runs ask 2 trials at a time and evaluate them one after the other with the paired k-fold
pruner; a run's cost is the CPU time of its fold fits (load-independent), so arms of one seed are paired exactly:

    nice -n 19 .venv/bin/python benchmarks/time_to_quality.py --samplers default,startup5 --seeds 10 --out /tmp/s.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, apply_defaults, log, machine_info, pct, quick_out

from jupyter_hpo.pruners import FAST

RESULT_KEYS = ("benchmark", "quick", "machine", "settings", "target", "arms", "defaults_arm",
               "speedup_vs_optuna_median", "speedup_interval", "speedups", "false_prune_rate", "false_prune", "runs")
REPORT_HEADINGS = ("time to quality", "false-prune rate", "speedup vs Optuna TPE + MedianPruner")
ARMS = ("jhpo", "jhpo_fast", "jhpo_wilcoxon", "jhpo_fast_kept", "optuna_median", "optuna")
#: the early_stopping setting of each jupyter-hpo arm (the defaults' arm is the first with the example's)
JHPO_ARMS = {"jhpo": "kfold", "jhpo_fast": "kfold_fast", "jhpo_wilcoxon": "kfold_wilcoxon",
             "jhpo_fast_kept": "kfold_fast"}
#: the arms that launch into a kept runner, and its keep-alive: longer than the other arms' runs between two of
#: this arm's
KEPT_ARMS = ("jhpo_fast_kept",)
KEEP_ALIVE_S = 900
#: one environment per arm, so that a launch of another arm never takes the kept runner
ARM_VARIABLE = "JUPYTER_HPO_BENCH_ARM"
#: the arms every run needs besides the defaults' (default_arm()): the target comes from optuna_median, the
#: false-prune replay from optuna
NEEDED_ARMS = ("optuna_median", "optuna")
EXAMPLE = REPO / "examples" / "credit_default"
FULL = {"seeds": 10, "trials": 40, "rows": 0}
QUICK = {"seeds": 1, "trials": 6, "rows": 1500}
#: --budget-s: the jupyter-hpo arms' budget.max_trials, so that only the target and max_runtime end a run
BUDGET_MAX_TRIALS = 100_000
RECORDED = REPO / "benchmarks" / "results" / "time_to_quality.json"
BOOT = 2000


# -- data and the in-process objective ---------------------------------------------------------------
def load_train() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("credit_train", EXAMPLE / "train.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def data_file(rows: int, workdir: Path) -> Path:
    """The credit CSV, or a random subsample of ``rows`` rows of it (quick mode)."""
    train = load_train()
    if not rows:
        return Path(train.DATA)
    import pandas as pd

    df = pd.read_csv(train.DATA)
    sub = df.sample(n=min(rows, len(df)), random_state=0)
    path = workdir / "credit-sample.csv"
    sub.to_csv(path, index=False)
    return path


def example_spec() -> dict[str, Any]:
    from jupyter_hpo._yaml import load_yaml

    return load_yaml((EXAMPLE / "tuning.yaml").read_text(encoding="utf-8"))


def suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """The example's space as Optuna suggestions (same names, ranges, steps and log scaling)."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        log_ = p.get("scaling") == "log"
        if p["type"] == "int":
            out[name] = trial.suggest_int(name, p["low"], p["high"], step=p.get("step", 1), log=log_)
        else:
            out[name] = trial.suggest_float(name, p["low"], p["high"], step=p.get("step"), log=log_)
    return out


class CreditCV:
    """The example script's work in-process: the same model, folds and static hyperparameters."""

    def __init__(self, path: Path, static: dict[str, Any]) -> None:
        from sklearn.model_selection import StratifiedKFold

        self.X, self.y = load_train().load(str(path))
        self.splits = list(StratifiedKFold(n_splits=int(static["folds"]), shuffle=True, random_state=0)
                           .split(self.X, self.y))
        self.nthread = int(static.get("nthread", 1))

    def fold(self, p: dict[str, Any], i: int) -> float:
        import xgboost as xgb
        from sklearn.metrics import roc_auc_score

        tr, va = self.splits[i]
        model = xgb.XGBClassifier(
            n_estimators=p["num_round"], max_depth=p["max_depth"], learning_rate=p["eta"],
            min_child_weight=p["min_child_weight"], subsample=p["subsample"],
            colsample_bytree=p["colsample_bytree"], reg_lambda=p["reg_lambda"],
            tree_method="hist", n_jobs=self.nthread, random_state=0,
        )
        model.fit(self.X[tr], self.y[tr])
        return float(roc_auc_score(self.y[va], model.predict_proba(self.X[va])[:, 1]))


# -- the arms -------------------------------------------------------------------------------------------
def run_optuna(cv: CreditCV, space: dict[str, Any], seed: int, trials: int | None, prune: bool,
               budget_s: float | None = None, target: float | None = None) -> dict[str, Any]:
    """One Optuna run: ``trials`` trials, or (``budget_s``) until a trial reaches ``target`` or the budget is spent,
    as jupyter-hpo's ``completion.target`` and ``budget.max_runtime`` end its runs (running trials finish at the
    target and are interrupted, unrecorded, at the budget)."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    events: list[dict[str, Any]] = []
    lock = threading.Lock()
    t0 = time.time()

    def objective(trial: Any) -> float:
        p = suggest(trial, space)
        scores: list[float] = []
        for i in range(len(cv.splits)):
            if budget_s is not None and time.time() - t0 > budget_s:
                raise optuna.TrialPruned()  # interrupted by the budget: not an event
            scores.append(cv.fold(p, i))
            trial.report(sum(scores) / len(scores), i)  # the folds' running mean
            if prune and trial.should_prune():
                with lock:
                    events.append({"t": time.time() - t0, "state": "pruned", "value": None, "folds": scores})
                raise optuna.TrialPruned()
        value = sum(scores) / len(scores)
        with lock:
            events.append({"t": time.time() - t0, "state": "complete", "value": value, "folds": scores})
        return value

    pruner = optuna.pruners.MedianPruner() if prune else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)

    def stop_at_target(study: Any, trial: Any) -> None:
        if target is not None and trial.state == TrialState.COMPLETE and trial.value >= target:
            study.stop()

    study.optimize(objective, n_trials=None if budget_s is not None else trials, timeout=budget_s, n_jobs=2,
                   callbacks=[stop_at_target])
    return {"wall_s": time.time() - t0, "events": events}


def run_jhpo(spec: dict[str, Any], data: Path | None, seed: int, trials: int | None, early: str,
             budget_s: float | None = None, target: float | None = None, arm: str = "") -> dict[str, Any]:
    """One jupyter-hpo run of the example: ``trials`` trials, or (``budget_s``) with the product's own
    ``completion.target`` and ``budget.max_runtime``: until a trial reaches ``target`` or the budget is spent. A
    run of a kept arm (``KEPT_ARMS``) keeps its runner for the next; ``runner_pid`` tells which runner ran it."""
    from jupyter_hpo import api

    s = json.loads(json.dumps(spec))
    s.update(name=f"ttq-{early.replace('_', '-')}-{seed}-{random.randrange(16**6):06x}", seed=seed,
             early_stopping=early, completion={})
    s["trial"]["script"] = str(EXAMPLE / s["trial"]["script"])
    if data is not None:
        s["trial"]["hyperparameters"]["data"] = str(data)
    s["budget"] = {"max_trials": trials, "max_parallel": 2}
    if budget_s is not None:
        s["budget"].update(max_trials=BUDGET_MAX_TRIALS, max_runtime=budget_s)
        s["completion"] = {"target": target}
    if arm in KEPT_ARMS:
        s["warm_pool"] = {**s.get("warm_pool", {}), "keep_alive_s": KEEP_ALIVE_S}
    os.environ[ARM_VARIABLE] = arm
    t0 = time.time()
    job = api.launch(s)
    status = job.wait(poll=0.05)
    wall = time.time() - t0
    events = [{"t": r["completed"] - t0, "state": r["state"], "value": r["value"],
               "folds": [r["intermediate"][k] for k in sorted(r["intermediate"], key=int)]}
              for r in job.trial_records() if r["completed"] is not None]
    return {"wall_s": wall, "status": str(status.value if hasattr(status, "value") else status),
            "events": sorted(events, key=lambda e: e["t"]), "runner_pid": (job.attrs.get("runner") or {}).get("pid")}


def warm_up(spec: dict[str, Any], data: Path | None, arm: str) -> int | None:
    """The kept arm's warm-up: a 2-trial launch that leaves its runner (not counted); that runner's pid."""
    log(f"{arm}: a 2-trial warm-up launch starts the kept runner (not counted)")
    return run_jhpo(spec, data, 10_000, 2, JHPO_ARMS[arm], arm=arm)["runner_pid"]


# -- sampler replay (--samplers) -----------------------------------------------------------------------
SAMPLERS: dict[str, dict[str, Any]] = {  # TPESampler keyword arguments; "default" = jupyter-hpo's for 30+ trials
    "default": {"multivariate": True, "constant_liar": True, "n_startup_trials": 10},
    "startup5": {"multivariate": True, "constant_liar": True, "n_startup_trials": 5},
    "ei64": {"multivariate": True, "constant_liar": True, "n_startup_trials": 10, "n_ei_candidates": 64},
    "univariate": {"multivariate": False, "constant_liar": False, "n_startup_trials": 10},
    "gp": {"gp": True, "n_startup_trials": 10},  # Optuna's GPSampler instead of TPE (needs torch)
}
#: pruner settings replayed with the default sampler: PairedFoldPruner keyword arguments, or "median" for Optuna's
#: MedianPruner() over the folds' running mean (the benchmark's optuna_median arm)
PRUNERS: dict[str, dict[str, Any] | str] = {
    "median": "median",
    "risk10": {"risk": 0.1},
    "fold1": {"min_folds": 1},
    "risk10_fold1": {"risk": 0.1, "min_folds": 1},
    "kfold_fast": FAST,  # early_stopping: kfold_fast
    "risk30_fold1": {"risk": 0.3, "min_folds": 1},
    "risk40_fold1": {"risk": 0.4, "min_folds": 1},
    "risk30_fold1_s3": {"risk": 0.3, "min_folds": 1, "n_startup_trials": 3},
}


def replay_setting(name: str) -> tuple[dict[str, Any], dict[str, Any] | str] | None:
    """A replay's (TPESampler keywords, pruner settings), or None for an unknown name. A name of ``SAMPLERS`` runs
    with the ``kfold`` pruner, one of ``PRUNERS`` with the default sampler, and ``PRUNER+SAMPLER`` both named."""
    pruner_name, _, sampler_name = name.partition("+")
    if sampler_name:
        if pruner_name in PRUNERS and sampler_name in SAMPLERS:
            return SAMPLERS[sampler_name], PRUNERS[pruner_name]
        return None
    if name in SAMPLERS:
        return SAMPLERS[name], {}
    if name in PRUNERS:
        return SAMPLERS["default"], PRUNERS[name]
    return None


def make_sampler(kwargs: dict[str, Any], seed: int) -> Any:
    """``TPESampler(seed, **kwargs)``, or Optuna's ``GPSampler`` for a setting with ``"gp": True`` (it takes only
    ``n_startup_trials``; pruned trials are not in its model, running ones are, by its batch acquisition)."""
    import optuna

    kw = dict(kwargs)
    if kw.pop("gp", False):
        return optuna.samplers.GPSampler(seed=seed, **kw)
    return optuna.samplers.TPESampler(seed=seed, **kw)


def needs_torch(settings: dict[str, dict[str, Any]]) -> list[str]:
    """The settings that use the GP sampler, when torch is not installed (Optuna's GPSampler needs it)."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return []
    return [n for n, s in settings.items() if isinstance(s["sampler"], dict) and s["sampler"].get("gp")]


def replay_sampler(cv: CreditCV, space: dict[str, Any], name: str, seed: int, trials: int) -> dict[str, Any]:
    """One deterministic run: 2 trials asked at a time, each evaluated fold by fold, with the sampler and pruner
    that ``name`` sets (a sampler setting, a pruner setting or ``PRUNER+SAMPLER``; see :func:`replay_setting`)."""
    import optuna

    from jupyter_hpo.pruners import PairedFoldPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setting = replay_setting(name)
    assert setting is not None, name
    sampler_kwargs, pruning = setting
    pruner = optuna.pruners.MedianPruner() if pruning == "median" else PairedFoldPruner(**pruning)
    study = optuna.create_study(direction="maximize", pruner=pruner, sampler=make_sampler(sampler_kwargs, seed))
    k, out = len(cv.splits), []
    while len(out) < trials:
        batch = [study.ask() for _ in range(min(2, trials - len(out)))]
        for t, p in [(t, suggest(t, space)) for t in batch]:
            scores: list[float] = []
            cost = 0.0
            for i in range(k):
                c0 = time.process_time()
                scores.append(cv.fold(p, i))
                cost += time.process_time() - c0
                t.report(sum(scores) / len(scores) if pruning == "median" else scores[-1], i)
                if i < k - 1 and t.should_prune():
                    break
            done = len(scores) == k
            value = sum(scores) / k if done else None
            study.tell(t, value, state=None if done else optuna.trial.TrialState.PRUNED)
            out.append({"state": "complete" if done else "pruned", "value": value, "folds": scores, "cost_s": cost})
    return {"sampler": name, "seed": seed, "trials": out}


def sampler_names(arg: str) -> dict[str, dict[str, Any]] | None:
    """The settings ``--samplers`` names, each as ``{"sampler": ..., "pruner": ...}`` in the order given, or None
    (said on stderr) when one is unknown."""
    settings = {n: replay_setting(n) for n in arg.split(",")}
    unknown = [n for n, setting in settings.items() if setting is None]
    if unknown:
        print(f"--samplers: unknown {', '.join(unknown)}; the names are {', '.join(sorted(SAMPLERS))} (sampler "
              f"settings), {', '.join(sorted(PRUNERS))} (pruner settings) and PRUNER+SAMPLER (both, e.g. "
              "kfold_fast+startup5)", file=sys.stderr)
        return None
    return {n: {"sampler": setting[0], "pruner": setting[1]} for n, setting in settings.items() if setting}


def sampler_replay(args: argparse.Namespace, cv: CreditCV, space: dict[str, Any], out: Path) -> int:
    settings = sampler_names(args.samplers)
    if settings is None:
        return 2
    names = list(settings)
    runs: list[dict[str, Any]] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in names:
            runs.append(replay_sampler(cv, space, name, seed, args.trials))
            log(f"seed {seed} {name}: best {best_value({'events': runs[-1]['trials']})}")
            write(out, {"benchmark": "time_to_quality --samplers",
                        "samplers": settings,
                        "settings": {"trials": args.trials, "rows": len(cv.y)}, "runs": runs})
    print(replay_report(runs, names))
    print(f"wrote {out}")
    return 0


def replay_report(runs: list[dict[str, Any]], names: list[str]) -> str:
    """Per sampler: best after all trials, and CPU seconds to the target (the first sampler's median best)."""
    by = {n: {r["seed"]: r for r in runs if r["sampler"] == n} for n in names}
    seeds = sorted(set.intersection(*(set(v) for v in by.values())))
    if not seeds:
        return "no seed with every sampler"
    best = {n: [best_value({"events": by[n][s]["trials"]}) or 0.0 for s in seeds] for n in names}
    target = median(best[names[0]])
    lines = [f"{len(seeds)} seeds; target AUC {target:.5f} (median best of {names[0]})"]
    base: list[float] | None = None
    for n in names:
        ttt, hit = [], 0
        for s in seeds:
            c = 0.0
            for t in by[n][s]["trials"]:
                c += t["cost_s"]
                if t["value"] is not None and t["value"] >= target:
                    hit += 1
                    break
            ttt.append(c)
        wins = sum(b > a for a, b in zip(best[names[0]], best[n]))
        base = ttt if base is None else base
        lo, hi = boot_speedup(base, ttt, random.Random(0))  # the same resamples for every setting
        folds = sum(len(t["folds"]) for s in seeds for t in by[n][s]["trials"])
        lines.append(f"  {n:<12} best median {median(best[n]):.5f}, reached {hit}/{len(seeds)}, CPU s to target median "
                     f"{median(ttt):.1f}: {median(base) / median(ttt):.2f}x as soon as {names[0]} (95% interval "
                     f"{lo:.2f}-{hi:.2f}); beat {names[0]}'s best on {wins}/{len(seeds)} seeds; "
                     f"{folds / len(seeds):.0f} folds per run")
    return "\n".join(lines)


# -- figures --------------------------------------------------------------------------------------------
def best_value(run: dict[str, Any]) -> float | None:
    values = [e["value"] for e in run["events"] if e["state"] == "complete" and e["value"] is not None]
    return max(values) if values else None


def folds_to(run: dict[str, Any], target: float, budget_s: float | None = None) -> int:
    """How many folds the run's trials had finished when its best first reached ``target`` (counting the trials
    completed by then, in completion order); all its folds (within ``budget_s``) if never."""
    folds = 0
    for e in sorted(run["events"], key=lambda e: e["t"]):
        if budget_s is not None and e["t"] > budget_s:
            break
        folds += len(e["folds"])
        if e["state"] == "complete" and e["value"] is not None and e["value"] >= target:
            break
    return folds


def time_to(run: dict[str, Any], target: float, budget_s: float | None = None) -> tuple[float, bool]:
    """When the run's best-so-far first reached ``target`` (within ``budget_s`` of its launch, if given); its full
    wall time if never, or the budget when there is one."""
    for e in sorted(run["events"], key=lambda e: e["t"]):
        if budget_s is not None and e["t"] > budget_s:
            break
        if e["state"] == "complete" and e["value"] is not None and e["value"] >= target:
            return e["t"], True
    return (run["wall_s"] if budget_s is None else budget_s), False


def median(values: list[float]) -> float:
    return pct(values, 0.5)  # type: ignore[return-value]


def boot_interval(values: list[float], rng: random.Random) -> list[float]:
    """A 95% bootstrap interval of the median over seeds."""
    meds = sorted(median([rng.choice(values) for _ in values]) for _ in range(BOOT))
    return [pct(meds, 0.025), pct(meds, 0.975)]  # type: ignore[list-item]


def boot_speedup(base: list[float], arm: list[float], rng: random.Random) -> list[float]:
    """A 95% bootstrap interval of median(base) / median(arm), resampling seeds (paired)."""
    idx = range(len(base))
    ratios = []
    for _ in range(BOOT):
        pick = [rng.choice(idx) for _ in idx]
        ratios.append(median([base[i] for i in pick]) / median([arm[i] for i in pick]))
    ratios.sort()
    return [pct(ratios, 0.025), pct(ratios, 0.975)]  # type: ignore[list-item]


def replay(runs: list[dict[str, Any]], make: Any) -> dict[str, Any]:
    """Pruning decisions on complete runs, recorded only: how many pruned trials would have beaten the best."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruned = false = trials = folds_saved = folds_total = 0
    pruned_at: dict[int, int] = {}
    for run in runs:
        study = optuna.create_study(direction="maximize", pruner=make())
        best = None
        for e in sorted(run["events"], key=lambda e: e["t"]):
            folds, trials = e["folds"], trials + 1
            folds_total += len(folds)
            for n in range(getattr(study.pruner, "min_folds", 2), len(folds)):  # from the first fold it may prune
                t = create_trial(state=TrialState.RUNNING, intermediate_values=dict(enumerate(folds[:n])),
                                 params={}, distributions={})
                t.number = len(study.trials)
                if study.pruner.prune(study, t):
                    pruned, folds_saved = pruned + 1, folds_saved + len(folds) - n
                    pruned_at[n] = pruned_at.get(n, 0) + 1
                    false += best is not None and e["value"] > best
                    break
            study.add_trial(create_trial(value=e["value"], intermediate_values=dict(enumerate(folds)),
                                         params={}, distributions={}))
            best = e["value"] if best is None else max(best, e["value"])
    return {"trials": trials, "pruned": pruned, "false_prunes": false, "paired_sd": [paired_sd(r) for r in runs],
            "false_prune_rate": false / pruned if pruned else 0.0, "pruned_after_fold": pruned_at,
            "folds_saved_fraction": folds_saved / folds_total if folds_total else 0.0}


def paired_sd(run: dict[str, Any]) -> float | None:
    """The pooled within-trial sd of every complete trial's fold scores minus the run's best trial's."""
    from jupyter_hpo.pruners import _pooled_spread_of

    done = [e for e in run["events"] if e["state"] == "complete" and e["value"] is not None]
    if len(done) < 2:
        return None
    best = max(done, key=lambda e: e["value"])
    rows = [[a - b for a, b in zip(e["folds"], best["folds"])] for e in done if e is not best]
    return _pooled_spread_of(rows)


# -- main -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 6 trials, 1,500 rows")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per arm (10; quick 1)")
    ap.add_argument("--trials", type=int, default=None, help="trials per run (40; quick 6)")
    ap.add_argument("--rows", type=int, default=None, help="subsample the data to N rows (0: all 30,000)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--arms", default=None,
                    help=f"comma-separated arms to run, from {', '.join(ARMS)} (default all; always with "
                         f"{', '.join(NEEDED_ARMS)} and the arm of the example's early_stopping; with --budget-s: "
                         f"default and always optuna_median and the example's arm)")
    ap.add_argument("--budget-s", type=float, default=None, metavar="SECONDS",
                    help="an equal wall-clock budget for every arm instead of a number of trials: each run goes on "
                         "until its best reaches the target or the budget is spent (then its time is the budget)")
    ap.add_argument("--target", type=float, default=None, metavar="AUC", help="with --budget-s: the target AUC")
    ap.add_argument("--target-from", type=Path, default=None, metavar="RESULT",
                    help="with --budget-s: the target of a saved 40-trial result (default "
                         "results/time_to_quality.json); its rows must be this run's")
    ap.add_argument("--samplers", default=None, help=f"compare TPE or pruner settings instead: names from "
                                                     f"{sorted(SAMPLERS)} (sampler), {sorted(PRUNERS)} (pruner) "
                                                     f"or PRUNER+SAMPLER")
    ap.add_argument("--first-seed", type=int, default=0, help="the first seed (0)")
    ap.add_argument("--replays", type=Path, nargs="+", default=None, metavar="RESULT",
                    help="with --samplers: print the report of saved replays (their JSON) instead of running them")
    ap.add_argument("--report", type=Path, nargs="+", default=None, metavar="RESULT",
                    help="print the report of saved results (their runs merged, e.g. of two seed ranges), and "
                         "with --out write the merged result")
    ap.add_argument("--reprune", type=Path, default=None, metavar="RESULT",
                    help="only the false-prune replay, of every k-fold pruner, on the optuna runs of a saved result")
    args = ap.parse_args(argv)
    usage_error = ("--replays goes with --samplers (the settings whose saved replays to report)"
                   if args.replays and not args.samplers else budget_usage_error(args))
    if usage_error:
        print(f"time_to_quality: {usage_error}", file=sys.stderr)
        return 2
    args = apply_defaults(args, FULL, QUICK)
    if args.samplers and args.replays:  # the report of saved replays, runs of several files merged
        settings = sampler_names(args.samplers)
        if settings is None:
            return 2
        saved = [r for path in args.replays for r in json.loads(path.read_text(encoding="utf-8"))["runs"]]
        print(replay_report(saved, list(settings)))
        return 0
    if args.samplers and args.reprune:  # the false-prune replay of the paired rule's named settings
        settings = sampler_names(args.samplers)
        if settings is None:
            return 2
        return reprune_settings(args.reprune, settings)
    if args.samplers:  # said before the data is read
        settings = sampler_names(args.samplers)
        gp = needs_torch(settings) if settings else []
        if gp:
            print(f"--samplers: {', '.join(gp)} use Optuna's GPSampler, which needs torch, and it is not installed: "
                  "pip install torch (a CPU build is enough)", file=sys.stderr)
        if settings is None or gp:
            return 2
    if args.report:
        return merged_report(args.report, args.out)
    if args.reprune:
        saved = json.loads(args.reprune.read_text(encoding="utf-8"))["runs"]["optuna"]
        print(f"false-prune rate of each pruner, replayed on the {len(saved)} optuna runs of {args.reprune}")
        print("\n".join(false_prune_lines(false_prunes(saved))))
        return 0
    budget = args.budget_s is not None
    needed, why = needed_arms(budget)
    arms = [a.strip() for a in (args.arms or ",".join(needed if budget else ARMS)).split(",") if a.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    missing = [a for a in needed if a not in arms]
    if unknown or missing:
        print(f"time_to_quality: --arms: unknown {', '.join(unknown)}" if unknown else
              f"time_to_quality: --arms must include {', '.join(missing)} ({why})", file=sys.stderr)
        return 2
    arms = [a for a in ARMS if a in arms]
    name = "time_to_quality_budget" if budget else "time_to_quality"
    out = args.out or (quick_out(name) if args.quick else REPO / "benchmarks" / "results" / f"{name}.json")
    os.environ.setdefault("JUPYTER_HPO_HOME", tempfile.mkdtemp(prefix="jupyter-hpo-ttq-"))
    machine = machine_info(("optuna", "xgboost-cpu", "scikit-learn"))  # the examples extra's XGBoost wheel
    workdir = Path(tempfile.mkdtemp(prefix="ttq-data-"))
    data = data_file(args.rows, workdir)
    spec = example_spec()
    static = dict(spec["trial"]["hyperparameters"])
    cv = CreditCV(data, static)
    if args.samplers:
        return sampler_replay(args, cv, spec["space"], args.out or Path(tempfile.gettempdir()) / "ttq-samplers.json")
    target: dict[str, Any] | None = None
    if budget:
        target = budget_target(args, len(cv.y))
        if isinstance(target, str):
            print(f"time_to_quality: {target}", file=sys.stderr)
            return 2
    goal = target["auc"] if target is not None else None
    log(f"{args.seeds} seeds x {len(arms)} arms x " + (f"up to {args.budget_s:g} s (target AUC {goal:.5f})" if budget
                                                        else f"{args.trials} trials")
        + f", {len(cv.y)} rows, {static['folds']} folds; load {os.getloadavg()[0]:.1f}")

    def run_arm(arm: str, seed: int) -> dict[str, Any]:
        trials = None if budget else args.trials
        if arm in JHPO_ARMS:
            return run_jhpo(spec, data if args.rows else None, seed, trials, JHPO_ARMS[arm], args.budget_s, goal,
                            arm)
        return run_optuna(cv, spec["space"], seed, trials, arm == "optuna_median", args.budget_s, goal)

    def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        if target is not None:
            return summarise_budget(runs, args, machine, len(cv.y), static, target)
        return summarise(runs, args, machine, len(cv.y), static)

    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in arms}
    kept = {arm: warm_up(spec, data if args.rows else None, arm) for arm in arms if arm in KEPT_ARMS}
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            order = arms[seed % len(arms):] + arms[:seed % len(arms)]
            for arm in order:
                load = os.getloadavg()[0]
                run = run_arm(arm, seed)
                run.update(seed=seed, arm=arm, load_at_start=load, best=best_value(run),
                           pruned=sum(e["state"] == "pruned" for e in run["events"]))
                if arm in kept:
                    run["in_kept_runner"] = run["runner_pid"] == kept[arm]
                runs[arm].append(run)
                log(f"seed {seed} {arm}: {run['wall_s']:.1f} s, {len(run['events'])} trials, best {run['best']}, "
                    f"pruned {run['pruned']}" + (f", in the kept runner: {run['in_kept_runner']}" if arm in kept
                                                  else ""))
            if seed + 1 < args.first_seed + args.seeds:  # what the seeds so far give, in case a run is cut short
                partial = summary(runs)
                partial["settings"]["seeds_done"] = seed + 1 - args.first_seed
                write(out.with_suffix(".partial.json"), partial)
    finally:
        os.environ.pop(ARM_VARIABLE, None)
        for pid in kept.values():
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)  # the kept runner leaves now, with its workers
    result = summary(runs)
    print(report_budget(result) if budget else report(result))
    write(out, result)
    print(f"wrote {out}")
    return 0


def needed_arms(budget: bool) -> tuple[tuple[str, ...], str]:
    """The arms a run or a report needs, and what for: with an equal budget the baseline and the defaults' arm;
    otherwise also ``optuna``, whose complete runs the false-prune replay uses."""
    if budget:
        return (default_arm(), "optuna_median"), "the baseline and the defaults"
    return (default_arm(), *NEEDED_ARMS), "the target, the false-prune replay and the defaults"


def budget_usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the options of an equal-budget run (``--budget-s``), or None."""
    if args.budget_s is None:
        return ("--target and --target-from go with --budget-s" if args.target is not None or args.target_from
                else None)
    if not args.budget_s > 0:
        return f"--budget-s must be a positive number of seconds, not {args.budget_s:g}"
    if args.trials is not None:
        return "--trials: a run with --budget-s has no trial limit (it ends at the target or the budget)"
    if args.samplers or args.report or args.reprune:
        return "--budget-s runs the arms; it does not go with --samplers, --report or --reprune"
    if args.target is not None and args.target_from:
        return "--target and --target-from: give one"
    return None


def budget_target(args: argparse.Namespace, rows: int) -> dict[str, Any] | str:
    """The target of an equal-budget run: ``--target``, or that of a saved 40-trial result (``--target-from``,
    default the recorded one) with its false-prune rate; an error message if that result does not fit."""
    if args.target is not None:
        return {"auc": args.target, "definition": "given with --target", "false_prune_rate": None}
    path = args.target_from or RECORDED
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        auc, their_rows = float(saved["target"]["auc"]), int(saved["settings"]["rows"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"--target-from {path}: not a saved time_to_quality result ({type(e).__name__}: {e})"
    if their_rows != rows:
        return (f"--target-from {path}: its target was set on {their_rows} rows, this run has {rows} "
                f"(give --rows {their_rows}, or --target)")
    seeds, trials = saved["settings"]["seeds"], saved["settings"]["trials"]
    return {"auc": auc, "definition": f"median best AUC of Optuna TPE + MedianPruner after {trials} trials, over "
                                      f"{seeds} seeds ({path.name})",
            "source": path.name, "false_prune_rate": saved.get("false_prune_rate"),
            "false_prune_source": f"{path.name}: the defaults' pruner replayed on its complete optuna runs"}


def merged_report(paths: list[Path], out: Path | None) -> int:
    """The report of saved results, summarised again from their runs (several files: their runs merged, so
    seed ranges run apart make one result). The first file's machine is kept, with every file's in ``merged``."""
    saved = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    first = saved[0]
    budget = "budget_s" in first["settings"]
    keys = ("budget_s", "rows", "folds") if budget else ("trials", "rows", "folds")
    if any(tuple(r["settings"].get(k) for k in keys) != tuple(first["settings"][k] for k in keys)
           or budget and r["target"]["auc"] != first["target"]["auc"] for r in saved):
        print(f"time_to_quality: --report: the results differ in {', '.join(keys)}"
              + (" or target" if budget else ""), file=sys.stderr)
        return 2
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in saved:
        for arm, rs in r["runs"].items():
            runs.setdefault(arm, []).extend(rs)
    needed, why = needed_arms(budget)
    missing = [a for a in needed if a not in runs]
    if missing:
        print(f"time_to_quality: --report: no runs of {', '.join(missing)} ({why}: the arm of the example's "
              f"early_stopping)", file=sys.stderr)
        return 2
    seeds = [run["seed"] for run in runs["optuna_median"]]
    if len(set(seeds)) != len(seeds) or any(len(rs) != len(seeds) for rs in runs.values()):
        print("time_to_quality: --report: each seed must be run once, by every arm", file=sys.stderr)
        return 2
    args = argparse.Namespace(seeds=len(seeds), trials=first["settings"].get("trials"), quick=first["quick"],
                              budget_s=first["settings"].get("budget_s"))
    rows, static = first["settings"]["rows"], {"folds": first["settings"]["folds"]}
    result = (summarise_budget(runs, args, first["machine"], rows, static, first["target"]) if budget
              else summarise(runs, args, first["machine"], rows, static))
    if len(saved) > 1:
        result["merged"] = [{"file": p.name, "seeds": sorted({run["seed"] for run in r["runs"]["optuna_median"]}),
                             "machine": r["machine"]} for p, r in zip(paths, saved)]
    print(report_budget(result) if budget else report(result))
    if out is not None:
        write(out, result)
        print(f"wrote {out}")
    return 0


def write(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")


def summarise(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace, machine: dict[str, Any],
              rows: int, static: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(0)
    bests = [r["best"] for r in runs["optuna_median"] if r["best"] is not None]
    target = median(bests)
    arms = {arm: arm_figures(rs, target, rng) for arm, rs in runs.items()}
    speedups = speedups_of(arms)
    default = default_arm()
    false_prune = false_prunes(runs["optuna"])
    return {
        "benchmark": "time_to_quality", "quick": bool(args.quick), "machine": machine,
        "settings": {"seeds": args.seeds, "trials": args.trials, "rows": rows, "parallel": 2,
                     "folds": static["folds"], "bootstrap": BOOT},
        "target": {"auc": target, "definition": "median over seeds of optuna_median's best AUC after its trials",
                   "optuna_median_bests": bests},
        "arms": arms,
        "defaults_arm": default,
        "speedup_vs_optuna_median": speedups[default]["speedup"],
        "speedup_interval": speedups[default]["interval"],
        "speedups": speedups,
        "false_prune_rate": false_prune[JHPO_ARMS[default]]["false_prune_rate"],
        "false_prune": false_prune,
        "runs": runs,
    }


def arm_figures(rs: list[dict[str, Any]], target: float, rng: random.Random,
                budget_s: float | None = None) -> dict[str, Any]:
    """One arm's time to ``target`` over its runs (median, bootstrap interval, how many reached it) and more."""
    times = [time_to(r, target, budget_s) for r in rs]
    secs = [t for t, _ in times]
    folds = [folds_to(r, target, budget_s) for r in rs]
    firsts = [min(r["events"], key=lambda e: e["t"], default=None) for r in rs]
    figures = {"median_s": median(secs), "interval_s": boot_interval(secs, rng), "times_s": secs,
               "reached": sum(ok for _, ok in times), "runs": len(rs),
               "wall_s": [r["wall_s"] for r in rs], "best": [r["best"] for r in rs],
               "pruned": [r["pruned"] for r in rs], "trials_run": [len(r["events"]) for r in rs],
               "folds_to_target": folds, "first_trial_s": [e and e["t"] for e in firsts],
               "s_per_fold": [pace(t, f, e) for t, f, e in zip(secs, folds, firsts)]}
    if any("in_kept_runner" in r for r in rs):  # a kept arm: how many of its runs the kept runner ran
        figures["in_kept_runner"] = sum(bool(r.get("in_kept_runner")) for r in rs)
    return figures


def kept_lines(r: dict[str, Any]) -> list[str]:
    """For each kept arm, how many of its runs ran in the runner its warm-up left."""
    return [f"{arm}: {a['in_kept_runner']} of {a['runs']} runs in the kept runner (keep-alive {KEEP_ALIVE_S} s)"
            for arm, a in r["arms"].items() if "in_kept_runner" in a]


def pace(time_to_target: float, folds_to_target: int, first: dict[str, Any] | None) -> float | None:
    """The wall seconds per fold from a run's first finished trial (``first``, its event) to its target (or its
    end): how fast its folds went by, 2 at a time, once it was running; None if too few trials finished to tell."""
    if first is None:
        return None
    folds = folds_to_target - len(first["folds"])
    return (time_to_target - first["t"]) / folds if folds > 0 else None


def speedups_of(arms: dict[str, Any]) -> dict[str, Any]:
    """Each jupyter-hpo arm's median time to target against optuna_median's, with a paired bootstrap interval."""
    base = arms["optuna_median"]["times_s"]
    return {arm: {"speedup": median(base) / median(a["times_s"]),
                  "interval": boot_speedup(base, a["times_s"], random.Random(1))}
            for arm, a in arms.items() if arm in JHPO_ARMS}  # the same resamples for every arm


def summarise_budget(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace, machine: dict[str, Any],
                     rows: int, static: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The figures of an equal-budget run: every arm's time to the fixed ``target``, capped at the budget."""
    rng = random.Random(0)
    arms = {arm: arm_figures(rs, target["auc"], rng, args.budget_s) for arm, rs in runs.items()}
    speedups = speedups_of(arms)
    default = default_arm()
    return {
        "benchmark": "time_to_quality --budget-s", "quick": bool(args.quick), "machine": machine,
        "settings": {"seeds": args.seeds, "budget_s": args.budget_s, "rows": rows, "parallel": 2,
                     "folds": static["folds"], "bootstrap": BOOT},
        "target": target,
        "arms": arms,
        "defaults_arm": default,
        "speedup_vs_optuna_median": speedups[default]["speedup"],
        "speedup_interval": speedups[default]["interval"],
        "speedups": speedups,
        "false_prune_rate": target.get("false_prune_rate"),
        "runs": runs,
    }


def speedup_lines(r: dict[str, Any]) -> list[str]:
    """Each jupyter-hpo arm's speedup against Optuna TPE + MedianPruner, the defaults' marked with the goal."""
    lines = []
    for arm, sp in r["speedups"].items():
        lo, hi = sp["interval"]
        goal = " (the defaults; goal 1.5x)" if arm == r["defaults_arm"] else ""
        lines.append(f"speedup vs Optuna TPE + MedianPruner, {arm}: {sp['speedup']:.2f}x "
                     f"(95% interval {lo:.2f}-{hi:.2f}){goal}")
    return lines


def report_budget(r: dict[str, Any]) -> str:
    s, target = r["settings"], r["target"]
    lines = [f"time to quality with an equal budget: {s['seeds']} seeds, every arm until its best reaches the "
             f"target or {s['budget_s']:g} s pass (then its time is {s['budget_s']:g} s), {s['rows']} rows, "
             f"{s['folds']}-fold CV, 2 trials at a time; load at start {r['machine']['loadavg_at_start'][0]:.1f} "
             f"on {r['machine']['cpu_count']} CPUs",
             f"target AUC {target['auc']:.5f} ({target['definition']})", "",
             f"{'arm':<15}{'median s':>10}{'95% interval':>20}{'reached':>9}{'trials run':>12}{'pruned':>8}"
             f"{'folds to target':>17}"]
    for arm, a in r["arms"].items():
        lo, hi = a["interval_s"]
        lines.append(f"{arm:<15}{a['median_s']:>10.1f}{f'{lo:.1f}-{hi:.1f}':>20}{a['reached']:>5}/{a['runs']:<3}"
                     f"{median([float(n) for n in a['trials_run']]):>12.1f}"
                     f"{median([float(p) for p in a['pruned']]):>8.1f}"
                     f"{median([float(f) for f in a['folds_to_target']]):>17.1f}")
    lines.append("")
    for arm, a in r["arms"].items():
        firsts, rates = [t for t in a["first_trial_s"] if t is not None], [x for x in a["s_per_fold"] if x]
        rate = median(rates) if rates else None
        lines.append(f"{arm}: first trial finished {median(firsts):.1f} s after launch, then {rate:.3f} s per fold "
                     f"(medians)" if firsts and rate is not None else f"{arm}: no trial finished")
    lines += kept_lines(r)
    lines.append("")
    lines += speedup_lines(r)
    rate = r["false_prune_rate"]
    lines.append("false-prune rate: not measured (the target was given with --target)" if rate is None else
                 f"false-prune rate of the defaults' pruner: {100 * rate:.1f}% ({target['false_prune_source']})")
    return "\n".join(lines)


def default_arm() -> str:
    """The arm that runs jupyter-hpo's defaults: the example's ``early_stopping``."""
    early = example_spec().get("early_stopping", "off")
    return next(arm for arm, kind in JHPO_ARMS.items() if kind == early)


def false_prunes(complete_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The false-prune replay (:func:`replay`) of each k-fold pruner on runs whose trials all ran every fold."""
    import warnings

    from optuna.pruners import WilcoxonPruner

    from jupyter_hpo.pruners import PairedFoldPruner

    warnings.filterwarnings("ignore", message="WilcoxonPruner is experimental")
    return {"kfold": replay(complete_runs, PairedFoldPruner),
            "kfold_fast": replay(complete_runs, lambda: PairedFoldPruner(**FAST)),
            "kfold_wilcoxon": replay(complete_runs, lambda: WilcoxonPruner(p_threshold=0.1, n_startup_steps=2))}


def reprune_settings(path: Path, settings: dict[str, dict[str, Any]]) -> int:
    """``--samplers NAMES --reprune RESULT``: the false-prune replay of the named settings of the paired k-fold rule
    (``PRUNERS``; the sampler part of a name plays no part, as the replay asks no sampler)."""
    from jupyter_hpo.pruners import PairedFoldPruner

    other = [n for n, s in settings.items() if not isinstance(s["pruner"], dict)]
    if other:
        print(f"--reprune replays settings of the paired k-fold rule; {', '.join(other)} is not one (the "
              f"settings: {', '.join(n for n, s in PRUNERS.items() if isinstance(s, dict))})", file=sys.stderr)
        return 2
    saved = json.loads(path.read_text(encoding="utf-8"))["runs"]["optuna"]
    print(f"false-prune rate of each setting, replayed on the {len(saved)} optuna runs of {path}")
    print("\n".join(false_prune_lines({n: replay(saved, lambda kw=s["pruner"]: PairedFoldPruner(**kw))
                                        for n, s in settings.items()})))
    return 0


def false_prune_lines(false_prune: dict[str, Any]) -> list[str]:
    return [f"  {name:<15} {f['false_prunes']}/{f['pruned']} pruned trials would have beaten the best "
            f"= {100 * f['false_prune_rate']:.1f}%; pruned after fold {f['pruned_after_fold']}; "
            f"{100 * f['folds_saved_fraction']:.0f}% of {f['trials']} trials' folds saved"
            for name, f in false_prune.items()]


def report(r: dict[str, Any]) -> str:
    s = r["settings"]
    head = (f"time to quality: {s['seeds']} seeds x {s['trials']} trials, {s['rows']} rows, {s['folds']}-fold CV, "
            f"2 trials at a time; load at start {r['machine']['loadavg_at_start'][0]:.1f} "
            f"on {r['machine']['cpu_count']} CPUs")
    lines = [head,
             f"target AUC {r['target']['auc']:.5f} (median best of Optuna TPE + MedianPruner)", "",
             f"{'arm':<15}{'median s':>10}{'95% interval':>20}{'reached':>9}{'median wall s':>15}{'pruned':>8}"]
    for arm, a in r["arms"].items():
        lo, hi = a["interval_s"]
        lines.append(f"{arm:<15}{a['median_s']:>10.1f}{f'{lo:.1f}-{hi:.1f}':>20}{a['reached']:>5}/{a['runs']:<3}"
                     f"{median(a['wall_s']):>15.1f}{median([float(p) for p in a['pruned']]):>8.1f}")
    lines += kept_lines(r)
    lines.append("")
    lines += speedup_lines(r)
    lines += ["",
              "false-prune rate (replayed on the complete optuna runs; goal < 5%)"]
    lines += false_prune_lines(r["false_prune"])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
