"""``jupyter hpo campaign``: run several job specs as one campaign, follow it, show, stop and resume it.

    jupyter hpo campaign SPEC... [--parallel-jobs N] [--name NAME] [--keep-alive S] [--detach] [--json]
    jupyter hpo campaign show NAME [--json]
    jupyter hpo campaign stop NAME [--detach] [--json] [--force]
    jupyter hpo campaign resume NAME [--detach] [--json] [--force]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from jupyter_hpo.exceptions import SpecError

__all__ = ["add_campaign_parser", "cmd_campaign", "follow_campaign"]

_ACTIONS = ("show", "stop", "resume")


def add_campaign_parser(sub: Any) -> None:
    from jupyter_hpo.campaign import DEFAULT_KEEP_ALIVE_S

    p = sub.add_parser("campaign", help="run several job specs as one campaign that hands its warm workers from "
                                        "job to job; or `campaign show|stop|resume NAME`")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="the jobs' YAML specs, in order (or show|stop|resume NAME)")
    p.add_argument("--parallel-jobs", type=int, default=1, help="how many jobs run at the same time (default 1)")
    p.add_argument("--name", help="the campaign's name (default campaign-<6 hex>)")
    p.add_argument("--keep-alive", type=float, default=DEFAULT_KEEP_ALIVE_S,
                   help=f"seconds idle workers wait for the next job (default {DEFAULT_KEEP_ALIVE_S:g}; 0: none kept, and "
                        "sagemaker jobs' warm pools are not handed on)")
    p.add_argument("--detach", action="store_true", help="return once the campaign has started")
    p.add_argument("--json", action="store_true", help="print the campaign summary as JSON, no progress display")
    p.add_argument("--force", action="store_true",
                   help="`campaign stop|resume`: act even if someone else launched one of its jobs")


def _refuse_launch_options(args: argparse.Namespace, action: str) -> None:
    from jupyter_hpo.campaign import DEFAULT_KEEP_ALIVE_S

    given = [flag for flag, set_ in (("--parallel-jobs", args.parallel_jobs != 1), ("--name", args.name is not None),
                                     ("--keep-alive", args.keep_alive != DEFAULT_KEEP_ALIVE_S)) if set_]
    if given:
        raise SpecError(f"`campaign {action}` takes no {', '.join(given)} (they are set when a campaign is launched).")


def cmd_campaign(args: argparse.Namespace) -> int:
    from jupyter_hpo.campaign import attach_campaign, campaign
    from jupyter_hpo.records import dumps

    first = args.specs[0]
    if first in _ACTIONS and not os.path.isfile(first):
        if len(args.specs) != 2:
            raise SpecError(f"`campaign {first}` takes one campaign name, but got {len(args.specs) - 1}.")
        _refuse_launch_options(args, first)
        if args.force and first == "show":
            raise SpecError("`campaign show` takes no --force (it is for `campaign stop|resume`).")
        if args.detach and first == "show":
            raise SpecError("`campaign show` takes no --detach (it is for launching, `campaign stop|resume`).")
        c = attach_campaign(args.specs[1], store=args.store)
        if first == "show":
            summary = c.summary()
            print(dumps(summary) if args.json else summary_text(summary))
            return 0
        c.check_may_act(first, args.force)  # another user's job needs --force, as `jupyter hpo stop|resume JOB`
        if first == "stop":  # --detach: ask, and return without waiting for its jobs to stop
            status = c.stop(wait=not args.detach)
            print(dumps(c.summary()) if args.json else f"campaign {c.name}: {status}")
            return 0
        c = c.resume()
        for note in c.notes:  # a job left as it was: its resume would run nothing
            print(note, file=sys.stderr if args.json else sys.stdout)
    else:
        if args.force:
            raise SpecError("launching a campaign takes no --force (it is for `campaign stop|resume`).")
        c = campaign(args.specs, parallel_jobs=args.parallel_jobs, name=args.name, keep_alive_s=args.keep_alive,
                     store=args.store)
    if args.detach:
        print(dumps({"name": c.name, "jobs": c.job_names}) if args.json
              else f"campaign {c.name} {'resumed' if first == 'resume' else 'started'} "
                   f"({len(c.resumed) if first == 'resume' else len(c.job_names)} jobs); follow it with: "
                   f"jupyter hpo campaign show {c.name}")
        return 0
    try:
        if args.json:
            status = c.wait()
            print(dumps(c.summary()))
            return 1 if status in ("failed", "stale") else 0
        return follow_campaign(c)
    except KeyboardInterrupt:  # outside the view's own Ctrl-C: the campaign goes on, as a detach says
        from jupyter_hpo.cli import detached_line

        print(f"\n{detached_line('campaign', c.name, 'show')}", file=sys.stderr if args.json else sys.stdout)
        return 0


def summary_text(s: dict[str, Any]) -> str:
    from jupyter_hpo.cli import _fmt, _safe, _secs

    lines = [(f"campaign {s['name']}: {s['status']}; {len(s['jobs'])} jobs ({s['done']} done), {s['trials']} trials "
              f"({s['complete']} complete)")]
    if s["warm_share"] is not None:
        lines.append(f"warm starts {s['warm_starts']}/{s['warm_starts'] + s['cold_starts']} "
                     f"({100 * s['warm_share']:.0f}%), start-up saved {_secs(s['startup_saved_s'])}")
    if s.get("cost_usd") is not None:
        lines.append(f"cost ${s['cost_usd']:.2f} (SageMaker training and idle warm pools)")
    if s["best"]:
        lines.append(f"best: job {s['best']['job']} trial {s['best']['number']} value {_fmt(s['best']['value'])}")
    for j in s["jobs"]:
        best = _fmt(j["best"]["value"]) if j["best"] else "-"
        lines.append(f"  {j['name']}: {j['status']}, {j['trials']} trials, warm {j['warm_starts']}/"
                     f"{j['warm_starts'] + j['cold_starts']}, best {best}")
    return _safe("\n".join(lines))


def follow_campaign(c: Any, poll: float = 0.5) -> int:
    """Show the campaign's progress until it ends (Ctrl-C detaches; the campaign goes on). Returns the exit code."""
    from rich.text import Text

    from jupyter_hpo.cli import _console, detached_line, watch

    console = _console()
    said: dict[str, str] = {}

    def poll_state() -> tuple[dict[str, Any], bool]:
        s = c.summary()
        return s, s["status"] != "running"

    def log_lines(s: dict[str, Any]) -> None:  # one line each time a job changes status
        for j in s["jobs"]:
            if said.get(j["name"]) != j["status"]:
                said[j["name"]] = j["status"]
                console.print(f"job {j['name']}: {j['status']} ({j['trials']} trials)", highlight=False)

    s = watch(poll_state, lambda s: Text(summary_text(s)), log_lines, poll,
              f"campaign {c.name} launched: {', '.join(c.job_names)}",
              detached_line("campaign", c.name, "show"))
    if s is None:
        return 0
    console.print(summary_text(s), highlight=False, soft_wrap=True)
    return 1 if s["status"] in ("failed", "stale") else 0
