"""``jupyter hpo estimate`` and ``%hpo estimate``: their options (the fields of
:class:`~jupyter_hpo.estimate.CampaignInputs`), the table and the notebook's frame."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

__all__ = ["add_estimate_arguments", "estimate_frame", "estimate_inputs", "print_estimate"]


def add_estimate_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``jupyter hpo estimate`` and ``%hpo estimate``; every default is CampaignInputs'."""
    from jupyter_hpo.estimate import CampaignInputs

    d = CampaignInputs()
    p.add_argument("--jobs", type=int, default=d.jobs, help=f"tuning jobs, one after another (default {d.jobs})")
    p.add_argument("--trials", type=int, default=d.trials, help=f"trials per job (default {d.trials})")
    p.add_argument("--parallel", type=int, default=d.parallel,
                   help=f"trials at once = warm pools (default {d.parallel})")
    p.add_argument("--training-s", type=float, default=d.training_s,
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
    p.add_argument("--instance-type", default=d.instance_type)
    p.add_argument("--instance-count", type=int, default=d.instance_count)
    p.add_argument("--price", type=float, help="USD per instance-hour (default: the built-in price table)")
    p.add_argument("--keep-alive-s", type=int, default=d.keep_alive_s,
                   help=f"warm-pool keep-alive (default {d.keep_alive_s})")
    p.add_argument("--warm-pool-quota", type=int, default=None,
                   help="the account's warm pools per instance type (default: no limit; AWS starts it at 0)")
    p.add_argument("--instance-quota", type=int, default=None,
                   help="training instances of the type at once, warm pools included (default: no limit)")
    p.add_argument("--poll-s", type=float, default=d.poll_s,
                   help=f"the scheduler's status poll interval (default {d.poll_s:g})")
    p.add_argument("--backend", choices=("sagemaker", "amt"), default=d.backend,
                   help="sagemaker: no warm pools, pools per job and pools across jobs side by side; amt: SageMaker "
                        "Automatic Model Tuning with and without reusing its instances (default sagemaker)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def estimate_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """CampaignInputs' fields from the parsed options."""
    return {"jobs": args.jobs, "trials": args.trials, "parallel": args.parallel, "training_s": args.training_s,
            "training_cv": args.training_cv, "cold_startup_s": args.cold_startup_s, "image_pull_s": args.image_pull_s,
            "warm_startup_s": args.warm_startup_s, "download_s": args.download_s, "upload_s": args.upload_s,
            "proposal_s": args.proposal_s, "instance_type": args.instance_type, "instance_count": args.instance_count,
            "price_per_hour": args.price, "keep_alive_s": args.keep_alive_s, "warm_pool_quota": args.warm_pool_quota,
            "instance_quota": args.instance_quota, "poll_s": args.poll_s, "seed": args.seed, "backend": args.backend}


def print_estimate(args: argparse.Namespace, console: Any, dumps: Any, safe: Any) -> int:
    """``jupyter hpo estimate``: a table of the three ways (or ``--json``), then the notes of each."""
    from jupyter_hpo.estimate import COLUMNS, estimate, format_estimate

    busy = console.status("simulating the campaign three ways on the simulated SageMaker (virtual clock)...",
                          spinner="dots") if not args.json and console.is_terminal else contextlib.nullcontext()
    with busy:
        result = estimate(**estimate_inputs(args))
    if args.json:
        print(dumps(result))
        return 0
    from rich.table import Table

    table = Table("", *(COLUMNS[name] for name in result["arms"]), title="SageMaker campaign estimate")
    for row in format_estimate(result):
        table.add_row(*row)
    console.print(table)
    for name in result["arms"]:
        for note in result["arms"][name]["notes"]:
            console.print(safe(f"note ({COLUMNS[name]}): {note}"))
    return 0


def estimate_frame(result: dict[str, Any]) -> Any:
    """``%hpo estimate``'s table as a DataFrame: a row per figure, a column per way."""
    import pandas as pd

    from jupyter_hpo.estimate import COLUMNS, format_estimate

    rows = format_estimate(result)
    return pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows],
                        columns=[COLUMNS[name] for name in result["arms"]])
