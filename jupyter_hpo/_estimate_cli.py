"""``jupyter hpo estimate`` and ``%hpo estimate``: their options (the fields of
:class:`~jupyter_hpo.estimate.CampaignInputs`), the table and the notebook's frame."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

__all__ = ["add_estimate_arguments", "estimate_frame", "estimate_inputs", "print_estimate", "with_spec_notes"]


#: what a spec gives the estimate when its options are not given (option -> CampaignInputs field)
_FROM_SPEC = ("trials", "parallel", "instance_type", "instance_count", "keep_alive_s", "backend", "price_per_hour")


def add_estimate_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``jupyter hpo estimate`` and ``%hpo estimate``; every default is CampaignInputs' (or, with a
    SPEC, the spec's: its budget, backend and instances)."""
    from jupyter_hpo.estimate import CampaignInputs

    d = CampaignInputs()
    p.add_argument("spec", nargs="?", default=None,
                   help="a job spec (YAML): its budget, backend (sagemaker or amt) and instances replace the defaults; "
                        "options given here win")
    p.add_argument("--measure", action="store_true",
                   help="with SPEC: time one trial of it on the local backend (a throwaway store) as --training-s")
    p.add_argument("--jobs", type=int, default=d.jobs, help=f"tuning jobs, one after another (default {d.jobs})")
    p.add_argument("--trials", type=int, default=None, help=f"trials per job (default {d.trials})")
    p.add_argument("--parallel", type=int, default=None,
                   help=f"trials at once = warm pools (default {d.parallel})")
    p.add_argument("--training-s", type=float, default=None,
                   help=f"mean training time of a trial (default {d.training_s:g})")
    p.add_argument("--training-cv", type=float, default=d.training_cv,
                   help=f"its coefficient of variation (default {d.training_cv:g})")
    p.add_argument("--cold-startup-s", type=float, default=d.cold_startup_s,
                   help=f"provisioning new instances, not billed (default {d.cold_startup_s:g})")
    p.add_argument("--image-pull-s", type=float, default=d.image_pull_s,
                   help=f"the image download on new instances, billed (default {d.image_pull_s:g})")
    p.add_argument("--warm-startup-s", type=float, default=d.warm_startup_s,
                   help=f"start-up on a warm pool (default {d.warm_startup_s:g})")
    p.add_argument("--download-s", type=float, default=d.download_s,
                   help=f"data download per trial (default {d.download_s:g})")
    p.add_argument("--upload-s", type=float, default=d.upload_s, help=f"model upload per trial (default {d.upload_s:g})")
    p.add_argument("--proposal-s", type=float, default=d.proposal_s,
                   help=f"the optimizer's time to propose a trial (default {d.proposal_s:g})")
    p.add_argument("--instance-type", default=None, help=f"default {d.instance_type}")
    p.add_argument("--instance-count", type=int, default=None, help=f"default {d.instance_count}")
    p.add_argument("--price", type=float, help="USD per instance-hour (default: the built-in price table)")
    p.add_argument("--keep-alive-s", type=int, default=None,
                   help=f"warm-pool keep-alive; 0: no warm pools, and only that way is estimated "
                        f"(default {d.keep_alive_s})")
    p.add_argument("--warm-pool-quota", type=int, default=None,
                   help="the account's warm pools per instance type (default: no limit; AWS starts it at 0)")
    p.add_argument("--instance-quota", type=int, default=None,
                   help="training instances of the type at once, warm pools included (default: no limit)")
    p.add_argument("--poll-s", type=float, default=d.poll_s,
                   help=f"the scheduler's status poll interval (default {d.poll_s:g})")
    p.add_argument("--backend", choices=("sagemaker", "amt"), default=None,
                   help="sagemaker: no warm pools, pools per job and pools across jobs side by side; amt: SageMaker "
                        "Automatic Model Tuning with and without reusing its instances (default sagemaker)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def estimate_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """CampaignInputs' fields from the parsed options: the options given, then the SPEC's, then the defaults.

    Raises:
        SpecError: a spec that cannot be read, ``--measure`` without a spec, or a measured trial that failed.
    """
    from jupyter_hpo.exceptions import SpecError

    given = {"jobs": args.jobs, "trials": args.trials, "parallel": args.parallel, "training_s": args.training_s,
             "training_cv": args.training_cv, "cold_startup_s": args.cold_startup_s, "image_pull_s": args.image_pull_s,
             "warm_startup_s": args.warm_startup_s, "download_s": args.download_s, "upload_s": args.upload_s,
             "proposal_s": args.proposal_s, "instance_type": args.instance_type, "instance_count": args.instance_count,
             "price_per_hour": args.price, "keep_alive_s": args.keep_alive_s, "warm_pool_quota": args.warm_pool_quota,
             "instance_quota": args.instance_quota, "poll_s": args.poll_s, "seed": args.seed, "backend": args.backend}
    if args.keep_alive_s is not None and args.backend == "amt":  # it was accepted and did nothing
        raise SpecError("`--keep-alive-s` sets the sagemaker backend's warm pools; AMT keeps none of its own "
                        "(its instance reuse is the `amt` arm of the estimate), so it cannot be given with "
                        f"`--backend amt`, but got --keep-alive-s {args.keep_alive_s}.")
    if args.measure and args.spec is None:
        raise SpecError("`--measure` times one trial of a SPEC: give the spec's path.")
    if args.measure and args.training_s is not None:
        raise SpecError("give either `--training-s` or `--measure`, not both.")
    if args.spec is not None:
        for key, value in spec_inputs(args.spec).items():
            if given.get(key) is None:
                given[key] = value
        if args.measure:
            given["training_s"] = measure_training_s(args.spec)
    return {k: v for k, v in given.items() if v is not None or k in ("price_per_hour", "warm_pool_quota",
                                                                        "instance_quota")}


def spec_inputs(path: str) -> dict[str, Any]:
    """What a job spec says about its campaign: budget, backend and (for sagemaker/amt) instances and keep-alive.

    A ``local`` spec is estimated as if on the ``sagemaker`` backend with its default instances. A ``sagemaker``
    spec without warm pools (``keep_alive_s: 0`` or ``warm_pool: {enabled: false}``) gives keep-alive 0: it is
    estimated as it runs, every trial cold. A spot spec is refused: spot prices and interruptions vary and are
    not modelled, so any figure would be the on-demand one under another name.

    Raises:
        SpecError: the spec sets ``spot: true``.
    """
    from jupyter_hpo.exceptions import SpecError
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_file(path)
    out: dict[str, Any] = {"trials": spec.budget.max_trials, "parallel": spec.budget.max_parallel,
                           "backend": "amt" if spec.backend == "amt" else "sagemaker"}
    if spec.backend in ("sagemaker", "amt"):
        opts = SageMakerOptions.from_spec(spec)
        if opts.spot:
            raise SpecError(f"{path} sets `backend.options.spot: true`, and spot prices and interruptions are not "
                            "modelled: estimate a copy of the spec without it (on demand).")
        out.update(instance_type=opts.instance_type, instance_count=opts.instance_count,
                   price_per_hour=opts.prices.get(opts.instance_type))
        if spec.backend == "sagemaker":
            out["keep_alive_s"] = opts.keep_alive_s if spec.warm_pool.enabled else 0
    return out


def spec_notes(path: str) -> list[str]:
    """What the spec at ``path`` sets that the estimate does not model, one note each: every job is estimated
    running all its trials in full, so with these its figures are an upper bound. (Before, they were dropped
    without a word: a spec with `max_runtime: 600` was estimated at 1.5 h per job.)"""
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_file(path)
    notes = []
    if spec.budget.max_runtime is not None:
        notes.append(f"the spec's `budget.max_runtime` ({spec.budget.max_runtime:g} s) is not modelled: each job is "
                     f"estimated running all its trials, and one that would run longer stops at "
                     f"{spec.budget.max_runtime:g} s, with fewer trials, time and cost")
    rules = [f"{k} {v:g}" for k, v in (("target", spec.completion.target), ("patience", spec.completion.patience))
             if v is not None]
    if rules:
        notes.append(f"the spec's `completion` ({', '.join(rules)}) is not modelled: each job is estimated running "
                     "all its trials, and the rule may end it sooner")
    if spec.pruner_kind != "off":
        notes.append(f"the spec's early stopping ({spec.pruner_kind}) is not modelled: every trial is estimated at "
                     "its whole training time, and a stopped one ends sooner")
    return notes


def measure_training_s(path: str) -> float:
    """Seconds one trial of the spec at ``path`` runs on the local backend, in a throwaway store (its
    ``run_s``, start-up excluded); the spec's own backend is not contacted."""
    import tempfile

    from jupyter_hpo import api
    from jupyter_hpo.exceptions import SpecError
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_file(path)
    data = spec.to_dict()
    if spec.trial.function is not None:
        data["trial"]["function"] = spec.trial.function
    data.update(name=f"{spec.name[:40]}-measure", backend={"name": "local"},
                budget={"max_trials": 1, "max_parallel": 1}, early_stopping="off")
    # no runner kept (a spec's keep-alive left one serving the deleted store), its files in the throwaway folder
    data["warm_pool"] = {**(data.get("warm_pool") or {}), "keep_alive_s": 0}
    with tempfile.TemporaryDirectory(prefix="jupyter-hpo-measure-") as home:
        from jupyter_hpo.store import Store, sqlite_url

        job = api.launch(data, store=Store(sqlite_url(f"{home}/store.db"), home=home))
        try:
            job.wait(timeout=data["trial"].get("timeout") or 3600)
        finally:  # a timed-out wait or Ctrl-C: its runner ends before its folder goes
            if job.status.is_active():
                job.stop(timeout=30)
        records = job.trial_records()
    if not records or records[0]["state"] != "complete" or not records[0].get("run_s"):
        error = records[0].get("error") if records else "no trial ran"
        raise SpecError(f"could not time a trial of {path} on the local backend ({error}); "
                        "give `--training-s` instead.")
    return float(records[0]["run_s"])


def print_estimate(args: argparse.Namespace, console: Any, dumps: Any, safe: Any) -> int:
    """``jupyter hpo estimate``: a table of the three ways (or ``--json``), then the notes of each."""
    from jupyter_hpo.estimate import COLUMNS, estimate, format_estimate

    busy = console.status("simulating the campaign three ways on the simulated SageMaker (virtual clock)...",
                          spinner="dots") if not args.json and console.is_terminal else contextlib.nullcontext()
    with busy:
        result = with_spec_notes(estimate(**estimate_inputs(args)), args.spec)
    if args.json:
        print(dumps(result))
        return 0
    from rich.table import Table

    table = Table("", *(COLUMNS[name] for name in result["arms"]), title="SageMaker campaign estimate")
    for row in format_estimate(result):
        table.add_row(*row)
    console.print(table)
    if args.spec is not None:
        i = result["inputs"]
        console.print(safe(f"from {args.spec}: {i['trials']} trials, {i['parallel']} at once, backend {i['backend']}, "
                           f"{i['instance_count']} x {i['instance_type']}; training "
                           f"{i['training_s']:.1f} s per trial"
                           + (" (measured: one trial on the local backend)" if args.measure else "")))
    for name in result["arms"]:
        for note in result["arms"][name]["notes"]:
            console.print(safe(f"note ({COLUMNS[name]}): {note}"))
    for note in result["notes"]:
        console.print(safe(f"note: {note}"))
    return 0


def with_spec_notes(result: dict[str, Any], spec: str | None) -> dict[str, Any]:
    """``result`` with ``notes``: what the spec sets that the estimate does not model (:func:`spec_notes`)."""
    return {**result, "notes": spec_notes(spec) if spec is not None else []}


def estimate_frame(result: dict[str, Any]) -> Any:
    """``%hpo estimate``'s table as a DataFrame: a row per figure, a column per way."""
    import pandas as pd

    from jupyter_hpo.estimate import COLUMNS, format_estimate

    rows = format_estimate(result)
    return pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows],
                        columns=[COLUMNS[name] for name in result["arms"]])
