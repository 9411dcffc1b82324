"""``jupyter hpo``: launch, follow, list, show, stop and resume tuning jobs from a terminal.

Exit codes: 0 success, 1 the job failed, 2 bad input (a one-line reason on stderr).
Every ``--json`` output is strict JSON (``jupyter_hpo.records.dumps``): non-finite numbers are ``null``,
and the records' ``nonfinite`` field says what they were.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Collection
from typing import Any

from jupyter_hpo.exceptions import HpoError
from jupyter_hpo.records import (
    ERROR,
    INTERRUPTED,
    RERUN_OF,
    REUSED_FROM,
    RUN_S,
    STARTUP_S,
    WARM,
    _completed_value,
    better,
    dumps,
)

__all__ = ["main"]

_FINISHED = ("complete", "pruned", "fail")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jupyter hpo", description="Hyperparameter tuning on warm workers.")
    p.add_argument("--store", help="SQLAlchemy URL of the store (default: $JUPYTER_HPO_STORE_URL or "
                                   "SQLite in $JUPYTER_HPO_HOME, ~/.jupyter_hpo)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    launch = sub.add_parser("launch", help="launch a job from a YAML spec and follow its progress")
    launch.add_argument("spec", help="path of the YAML spec")
    launch.add_argument("--name", help="job name (overrides the spec's)")
    launch.add_argument("--max-trials", type=int, help="override budget.max_trials")
    launch.add_argument("--parallel", type=int, help="override budget.max_parallel")
    launch.add_argument("--no-warm-pool", action="store_true", help="a fresh process per trial")
    launch.add_argument("--keep-alive", type=float, metavar="S", help="keep the runner and its idle workers S "
                        "seconds after the job, for the next launch from this shell (warm_pool.keep_alive_s)")
    launch.add_argument("--backend", choices=("local", "sagemaker", "amt"), help="override the spec's backend")
    launch.add_argument("--detach", action="store_true", help="return once the job has started")
    launch.add_argument("--mlflow", action="store_true", help="log the job and its trials to MLflow (the spec's "
                                                              "tracking.mlflow, else MLFLOW_TRACKING_URI)")
    launch.add_argument("--json", action="store_true", help="print the result as JSON, no progress display")

    lst = sub.add_parser("list", help="list jobs")
    lst.add_argument("--json", action="store_true")
    mine = lst.add_mutually_exclusive_group()
    mine.add_argument("--mine", action="store_true", help="only the jobs I launched")
    mine.add_argument("--all", action="store_true", help="every job in the store, whoever launched it (default)")

    show = sub.add_parser("show", help="show a job: status, best trial, trials")
    show.add_argument("job")
    show.add_argument("--json", action="store_true")

    stop = sub.add_parser("stop", help="stop a job (running trials are re-run if it is resumed)")
    stop.add_argument("job")
    stop.add_argument("--force", action="store_true", help="stop it even if someone else launched it")

    resume = sub.add_parser("resume", help="resume a stopped job or one whose runner died")
    resume.add_argument("job")
    resume.add_argument("--max-trials", type=int, help="raise the budget (to continue a completed job)")
    resume.add_argument("--detach", action="store_true")
    resume.add_argument("--json", action="store_true")
    resume.add_argument("--force", action="store_true", help="resume it even if someone else launched it")

    refit = sub.add_parser("refit", help="run a finished job's best parameters once more with trial.is_refit() "
                                         "True, as the job JOB-refit (its trial saves the refit model)")
    refit.add_argument("job")
    refit.add_argument("--detach", action="store_true")
    refit.add_argument("--json", action="store_true")

    amt = sub.add_parser("attach-amt", help="mirror an existing SageMaker tuning job (AMT) into the store and "
                                            "follow it")
    amt.add_argument("tuning_job", help="the tuning job's name")
    amt.add_argument("--region", help="its AWS region (default: the AWS configuration's)")
    amt.add_argument("--profile", help="the AWS profile")
    amt.add_argument("--name", help="the jupyter-hpo job's name (default: the tuning job's)")
    amt.add_argument("--detach", action="store_true", help="return once the mirror has started")
    amt.add_argument("--json", action="store_true")

    from jupyter_hpo.sagemaker.doctor import add_doctor_parser
    from jupyter_hpo.sagemaker.plan import add_plan_parser

    add_plan_parser(sub)
    add_doctor_parser(sub)
    from jupyter_hpo._estimate_cli import add_estimate_arguments

    est = sub.add_parser("estimate", help="simulate a SageMaker campaign: wall time and cost without warm pools, "
                                          "with pools per job and with pools kept across jobs")
    add_estimate_arguments(est)

    from jupyter_hpo.store_cli import add_store_parser

    add_store_parser(sub)
    from jupyter_hpo.handoff_cli import add_handoff_parsers

    add_handoff_parsers(sub)
    from jupyter_hpo._campaign_cli import add_campaign_parser

    add_campaign_parser(sub)
    _store_after_command(sub)
    return p


def _store_after_command(sub: Any) -> None:
    """``--store`` also after a command (``jupyter hpo list --store URL``), at every level; given there, it
    wins over one given before the command. Each added option leaves the namespace alone when not given."""
    for command in sub.choices.values():
        if not any("--store" in a.option_strings for a in command._actions):
            command.add_argument("--store", default=argparse.SUPPRESS,
                                 help="SQLAlchemy URL of the store (as before the command)")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _store_after_command(action)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # text the locale cannot encode (an ASCII or Latin-1 one) is printed
        with contextlib.suppress(AttributeError, ValueError, OSError):  # escaped: it ended the command with a
            stream.reconfigure(errors="backslashreplace")  # UnicodeEncodeError, exit 1 ("the job failed")
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except HpoError as e:
        print(f"error: {_safe(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head -1`): as a program SIGPIPE ends, with no traceback
        _quiet_stdout()
        return BROKEN_PIPE


#: the exit code when the output's reader closed it early (``| head``): 128 + SIGPIPE, as a shell reports a program
#: that signal ended (1 reads as "the job failed")
BROKEN_PIPE = 141


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail on the closed pipe again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _broken_pipe() -> None:  # rich's own answer is SystemExit(1), which reads as a failed job
    _quiet_stdout()
    raise BrokenPipeError


def _cmd_launch(args: argparse.Namespace) -> int:
    from jupyter_hpo import api

    options: dict[str, Any] = {}
    if args.name:
        options["name"] = args.name
    if args.max_trials is not None:
        options["max_trials"] = args.max_trials
    if args.parallel is not None:
        options["max_parallel"] = args.parallel
    if args.no_warm_pool:
        options["warm_pool"] = False
    if args.keep_alive is not None:
        options["keep_alive_s"] = args.keep_alive
    if args.backend:
        options["backend"] = args.backend
    if args.mlflow:
        options["tracking"] = {"mlflow": {}}
    job = api.launch(args.spec, store=args.store, **options)
    return _after_start(job, args)


def _cmd_resume(args: argparse.Namespace) -> int:
    from jupyter_hpo import api
    from jupyter_hpo.owners import check_may_act

    job = api.attach(args.job, store=args.store)
    check_may_act(job.name, job.attrs, "resume", args.force)
    # the trials it had: the view prints only the new ones (it reprinted all of them, each with today's count);
    # read only for the view (a detached or --json resume prints none, and a long job's trials take a while)
    followed = not (args.detach or args.json)
    seen = {t.number for t in job.raw_trials() if t.state.is_finished()} if followed else set()
    job = job.resume(max_trials=args.max_trials)
    return _after_start(job, args, f"job {job.name} resumed", seen=seen)


def _cmd_refit(args: argparse.Namespace) -> int:
    from jupyter_hpo import api

    from jupyter_hpo.records import REFIT

    parent = api.attach(args.job, store=args.store)
    before = parent.attrs.get(REFIT)
    child = parent.refit()
    # asked again, refit returns the job's refit (unless it failed or was stopped): it did not launch one
    again = f"job {child.name} is the refit of job {parent.name} already" if child.name == before else None
    return _after_start(child, args, again)


#: the job statuses the CLI's exit code reports as failure (1): failed, or its runner died ("stale")
_FAILED = ("failed", "stale")


def _after_start(job: Any, args: argparse.Namespace, again: str | None = None,
                 seen: Collection[int] = ()) -> int:
    """Wait for, follow or leave a job just started; ``again``: what to say instead when it was not started now
    (a refit asked again, a resume); ``seen``: its trials that ended before (not printed again)."""
    if args.detach:
        if args.json:
            print(dumps({"name": job.name, "status": job.status.value}))
        else:
            print(f"{again or f'job {job.name} started'}; follow it with: jupyter hpo show {job.name}")
        return 0
    try:
        if args.json:
            status = job.wait()
            print(dumps(job.summary()))
            return 1 if status.value in _FAILED else 0
        return follow(job, headline=again, seen=seen)
    except KeyboardInterrupt:  # outside the view's own Ctrl-C (waiting for --json, or before the view began): the
        # job goes on, as a detach says (it was exit 130 and not a word, and a launch again met "already exists")
        print(f"\n{detached_line('job', job.name, 'show')}", file=sys.stderr if args.json else sys.stdout)
        return 0


def detached_line(kind: str, name: str, show: str) -> str:
    """What Ctrl-C prints while following a job or a campaign: it goes on, and how to see or stop it."""
    command = "jupyter hpo" + (" campaign" if kind == "campaign" else "")
    return f"detached; {kind} {name} goes on. `{command} {show} {name}` or `{command} stop {name}`"


def _cmd_list(args: argparse.Namespace) -> int:
    from jupyter_hpo import api
    from jupyter_hpo.store_cli import job_owners

    jobs = api.list_jobs(args.store)
    who = job_owners(api.open_store(args.store))  # name -> (owner, mine)
    others = 0
    if args.mine:
        others = len(jobs)
        jobs = [j for j in jobs if who.get(j["name"], ("", True))[1]]
        others -= len(jobs)
    if args.json:
        print(dumps(jobs))
        return 0
    from rich.table import Table

    table = Table("job", "status", "owner", "backend", "trials", "best", "warm/cold", "saved", "cost", "created",
                  "campaign")
    for j in jobs:
        # every cell that holds text from the store through _safe: a study named with escape sequences (any
        # writer of a shared store can make one) cleared the screen or set the terminal's title
        table.add_row(_safe(j["name"]), _safe(j["status"]), _safe(who.get(j["name"], ("", True))[0]),
                      _safe(j["backend"] or ""), f"{_done(j)}/{j['max_trials']}",
                      _fmt(j["best"]["value"]) if j["best"] else "-", f"{j['warm_starts']}/{j['cold_starts']}",
                      _secs(j["startup_saved_s"]), _usd(j["cost_usd"]), _when(j["created"]),
                      _safe(j["campaign"]["name"] if j["campaign"] else "-"))
    if jobs:
        _console().print(table)
    elif others:  # not "no jobs yet": the store has jobs, of other users
        print(f"no jobs of yours; the store holds {others} of other users (`jupyter hpo list` shows every job)")
    else:
        print("no jobs yet: launch one with `jupyter hpo launch SPEC.yaml`")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from jupyter_hpo import api
    from jupyter_hpo.analytics import MIN_TRIALS_FOR_IMPORTANCE, importance_json, record_importance
    from jupyter_hpo.records import SPEC

    job = api.attach(args.job, store=args.store)
    summary = job.summary()
    records = job.trial_records()
    found = record_importance(records, job.attrs.get(SPEC))
    if args.json:
        from jupyter_hpo.provenance import job_provenance

        provenance = {k: v for k, v in job_provenance(job).items() if k != "spec"}
        print(dumps({"job": summary, "spec": job.spec, "trials": records, "pareto": summary["pareto"],
                     "importance": importance_json(found), "provenance": provenance}))
        return 0
    console = _console()
    console.print(_summary_text(summary))
    from jupyter_hpo.mlflow_tracking import status_line

    for line in [*(f"note: {n}" for n in summary["notes"]), status_line(job.attrs)]:
        if line:
            console.print(_safe(line))
    counted = found.complete + found.pruned
    if found.shares:  # each parameter's share, largest first, then what they rest on
        console.print("importance:")
        width = max(len(_safe(name)) for name in found.shares)
        for name, share in found.shares.items():
            console.print(f"  {_safe(name):<{width}}  {share * 100:5.1f}%")
        console.print(f"  {found.note}")
    elif counted < MIN_TRIALS_FOR_IMPORTANCE:
        console.print(f"importance: not yet (needs {MIN_TRIALS_FOR_IMPORTANCE} trials with a value or fold scores; "
                      f"{counted} so far)")
    else:
        console.print(f"importance: not yet ({found.note})")
    console.print(_trial_table(records, summary, limit=None))
    from jupyter_hpo.provenance import job_provenance, provenance_lines
    from jupyter_hpo.refit import refit_line

    for line in [refit_line(job), *provenance_lines(job_provenance(job))]:
        if line:
            console.print(_safe(line))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    from jupyter_hpo import api
    from jupyter_hpo.owners import check_may_act

    job = api.attach(args.job, store=args.store)
    check_may_act(job.name, job.attrs, "stop", args.force)
    status = job.stop(wait=True)
    print(_safe(f"job {job.name}: {status.value} ({job.attrs.get('reason', '')})"))
    return 0


def _cmd_store(args: argparse.Namespace) -> int:
    from jupyter_hpo.store_cli import cmd_store

    return cmd_store(args)


def _cmd_attach_amt(args: argparse.Namespace) -> int:
    from jupyter_hpo import api

    from jupyter_hpo.exceptions import BackendError

    try:
        job = api.attach_amt(args.tuning_job, region=args.region, profile=args.profile, name=args.name,
                             store=args.store)
    except BackendError as e:  # AWS unreachable or refusing: not bad input (exit 2 is for a typo)
        print(f"error: {_safe(e)}", file=sys.stderr)
        return 1
    return _after_start(job, args)


def _cmd_estimate(args: argparse.Namespace) -> int:
    from jupyter_hpo._estimate_cli import print_estimate

    return print_estimate(args, _console(), dumps, _safe)


_COMMANDS = {"launch": _cmd_launch, "list": _cmd_list, "show": _cmd_show, "stop": _cmd_stop, "resume": _cmd_resume,
             "estimate": _cmd_estimate, "attach-amt": _cmd_attach_amt, "store": _cmd_store, "refit": _cmd_refit}


def _cmd_plan(args: argparse.Namespace) -> int:
    from jupyter_hpo.sagemaker.plan import cmd_plan

    return cmd_plan(args)


_COMMANDS["plan"] = _cmd_plan


def _cmd_campaign(args: argparse.Namespace) -> int:
    from jupyter_hpo._campaign_cli import cmd_campaign

    return cmd_campaign(args)


_COMMANDS["campaign"] = _cmd_campaign


def _cmd_doctor(args: argparse.Namespace) -> int:
    from jupyter_hpo.sagemaker.doctor import doctor_command

    return doctor_command(args)


_COMMANDS["doctor"] = _cmd_doctor


def _cmd_handoff(args: argparse.Namespace) -> int:
    from jupyter_hpo.handoff_cli import cmd_export, cmd_register

    return cmd_register(args) if args.command == "register" else cmd_export(args)


_COMMANDS.update(register=_cmd_handoff, export=_cmd_handoff)


# -- progress display ------------------------------------------------------------------------------
def watch(poll_state: Callable[[], tuple[Any, bool]], live_view: Callable[[Any], Any],
          log_lines: Callable[[Any], None], interval: float, header: str, detached: str) -> Any | None:
    """Poll until the work ends: drawn live on a terminal, logged line by line otherwise.

    Args:
        poll_state: reads the state; returns it and whether the work has ended.
        live_view: a state as a rich renderable (a terminal).
        log_lines: prints what is new in a state (a log or a pipe).
        interval: seconds between polls.
        header: printed first in a log (a terminal shows the live view instead).
        detached: printed when Ctrl-C detaches (the work goes on).

    Returns:
        The last state, or None when Ctrl-C detached.
    """
    console = _console()
    try:
        if console.is_terminal:
            from rich.live import Live

            with Live(console=console, refresh_per_second=4, transient=False) as live:
                while True:
                    state, done = poll_state()
                    live.update(live_view(state))
                    if done:
                        return state
                    time.sleep(interval)
        console.print(header, highlight=False)
        while True:
            state, done = poll_state()
            log_lines(state)
            if done:
                return state
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print(f"\n{detached}")
        return None


#: how long ``follow`` goes on showing a job while its store cannot be reached (then one line, exit 2)
FOLLOW_OUTAGE_S = 60.0


def follow(job: Any, poll: float = 0.5, headline: str | None = None, seen: Collection[int] = ()) -> int:
    """Show a job's progress until it ends (Ctrl-C detaches; the job goes on). Returns the exit code.
    ``headline``: the first line's start (default: the job was launched); ``seen``: trials not to print (a
    resumed job's earlier ones)."""
    from jupyter_hpo.api import TrialFeed

    from jupyter_hpo.exceptions import StoreError

    console = _console()
    started = time.time()
    feed = TrialFeed(job)
    printed: set[int] = set(seen)
    # the job's notes print as they come (a launch's own, the warm start's, a report dropped), a resume's earlier
    # ones excepted
    said = {n.get("text") for n in job.attrs.get("notes") or [] if isinstance(n, dict)} if seen else set()
    shown: float | None = None  # the best value a line has shown: never of a trial not printed yet
    best_of_seen = bool(seen)  # a resume: its earlier trials' best is the best shown so far, taken once
    outage: list[float] = []  # when the store stopped answering, while it does not

    def poll_state() -> tuple[dict[str, Any], bool]:
        try:
            feed.poll()
        except StoreError as e:  # a server database restarting: the job's runner retries, and so does this view
            if not feed.attrs or (outage and time.monotonic() - outage[0] > FOLLOW_OUTAGE_S):
                raise
            if not outage:
                outage.append(time.monotonic())
                console.print(f"note: {_safe(e)}; still following (the job's runner retries too)", highlight=False,
                              soft_wrap=True)  # one line, as the trial lines: it was folded mid-sentence
            return feed.summary(), False
        if outage:
            console.print(f"note: the store answers again after {time.monotonic() - outage.pop():.0f} s",
                          highlight=False, soft_wrap=True)
        summary = feed.summary()
        return summary, summary["status"] not in ("pending", "running", "stopping")

    def log_lines(summary: dict[str, Any]) -> None:  # one line per finished trial
        nonlocal shown, best_of_seen
        # trials that ended within one poll: each line counts and bests only what is printed up to it (every
        # line of the batch had the count and best of the batch's end, a best no line had shown yet)
        for note in summary.get("notes") or []:
            if note not in said:
                said.add(note)
                console.print(f"note: {_safe(note)}", highlight=False, soft_wrap=True)
        if best_of_seen:
            best_of_seen = False
            for rec in feed.sorted_records():
                if rec["number"] in seen and better(_completed_value(rec), shown, summary["direction"]):
                    shown = rec["value"]
        new = [rec for rec in feed.sorted_records() if rec["state"] in _FINISHED and rec["number"] not in printed]
        for i, rec in enumerate(new):
            printed.add(rec["number"])
            if summary["best"] and summary["best"]["number"] in printed:  # the job's own rule (several objectives)
                shown = summary["best"]["value"]
            elif better(_completed_value(rec), shown, summary["direction"]):
                shown = rec["value"]
            console.print(_trial_line(rec, summary, ahead=len(new) - 1 - i, best=shown), highlight=False,
                          soft_wrap=True)

    summary = watch(poll_state, lambda s: _live_view(s, feed.sorted_records(), started), log_lines, poll,
                    f"{headline or f'job {job.name} launched'}; trials print as they finish",
                    detached_line("job", job.name, "show"))
    if summary is None:
        return 0
    console.print(_summary_text(summary), highlight=False, soft_wrap=True)
    if summary["best"]:
        console.print("best parameters:", highlight=False)
        for k, v in summary["best"]["params"].items():
            console.print(f"  {k}: {_fmt(v)}", highlight=False)
    return 1 if summary["status"] in _FAILED else 0


def _console() -> Any:
    """A rich console that prints text as text: no markup (a value ``"[/red]"`` is printed as it is), no
    emoji codes, no highlighting; when output goes to a file or a pipe, wide enough not to fold table cells."""
    from rich.console import Console

    options = {"markup": False, "emoji": False, "highlight": False}
    console = Console(**options)
    if not console.is_terminal:
        console = Console(width=160, **options)
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    return console


# control characters other than tab and newline, which a trial's text must not send to the terminal
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0)]}


def _safe(text: Any) -> str:
    """Text from a user or a trial as printable text: control characters (escape sequences) shown as ``\\xNN``."""
    return str(text).translate(_CONTROL)


def _done(s: dict[str, Any]) -> int:
    return s["complete"] + s["pruned"] + s["failed"]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.5g}" if math.isfinite(v) else str(v)
    return _safe(v)


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def _usd(v: float | None) -> str:
    """A cost in dollars to the hundredth of a cent (a small simulated job costs cents); ``-`` when unknown."""
    return "-" if v is None else f"${v:.4f}"


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _seconds(value: float | None, places: int) -> str:
    """A trial's start-up or run time, or ``-`` when it has none (a trial interrupted before it started, a
    SageMaker trial not yet described): ``0.000`` said it had started in no time."""
    return "-" if value is None else f"{value:.{places}f}"


def _trial_line(rec: dict[str, Any], summary: dict[str, Any], ahead: int = 0, best: float | None = None) -> str:
    """A finished trial's line; ``ahead``: trials of the same poll printed after it (not counted in its
    ``done``); ``best``: the best trial printed up to it."""
    start = "warm" if rec[WARM] else "cold" if rec[WARM] is not None else "-"
    value = _fmt(rec["value"]) if rec["value"] is not None else "-"
    shown = _fmt(best) if best is not None else "-"
    line = (f"trial {rec['number']:>3} {_state(rec):<8} {summary['metric']}={value:<8} {start} start "
            f"{_seconds(rec[STARTUP_S], 3)} s, ran {_seconds(rec[RUN_S], 1)} s | "
            f"done {_done(summary) - ahead}/{summary['max_trials']} best {shown}")
    if rec[ERROR]:
        line += f" | {rec[ERROR]}"
    return _safe(line)


def _summary_text(s: dict[str, Any]) -> str:
    best = (f"best {s['metric']} {_fmt(s['best']['value'])} (trial {s['best']['number']})" if s["best"] else
            "no feasible trial" if s.get("complete")  # complete trials, all infeasible
            else "no complete trial" if s["pruned"] or s["failed"] else "no result yet")
    saved = ""
    if s["startup_saved_s"] is not None:
        saved = (f"; warm starts {s['warm_starts']} (start-up {s['warm_startup_s']:.3f} s vs cold "
                 f"{s['cold_startup_s']:.2f} s), start-up saved {_secs(s['startup_saved_s'])}")
    if s.get("pareto") is not None:  # several objectives: the front, and what the best means
        goals = ", ".join(f"{o['metric']} {o['direction'][:3]}" for o in s["objectives"])
        best = (f"Pareto front ({goals}): trials {', '.join(map(str, s['pareto'])) or 'none yet'}"
                + (f"; its best {s['metric']} {_fmt(s['best']['value'])} (trial {s['best']['number']})"
                   if s["best"] else ""))
    cost = "" if s.get("cost_usd") is None else f"; cost {_usd(s['cost_usd'])}"
    left = s.get("reruns_left") or 0
    interrupted = (f", {s['interrupted']} interrupted" + (f" ({left} to re-run on resume)" if left else "")
                   if s.get("interrupted") else "")
    # a stale job's trials that were running when its runner died: interrupted on resume
    running = f", {s['running']} running" if s.get("running") else ""
    return _safe(f"job {s['name']}: {s['status']} ({s['reason'] or _no_reason(s['status'])}); trials "
                 f"{_done(s)}/{s['max_trials']}: {s['complete']} complete, {s['pruned']} pruned, {s['failed']} failed"
                 f"{interrupted}{running}; {best}{saved}{cost}")


def _no_reason(status: str) -> str:
    """What a summary line says of a job without a recorded reason."""
    if status == "stale":
        return "its runner is gone: `jupyter hpo resume` goes on"
    return "in progress" if status in ("pending", "running", "stopping") else "no reason recorded"


def _state(r: dict[str, Any]) -> str:
    """A trial's state as the dashboard and the sidebar show it: an interrupted trial (Optuna's ``fail``, run again
    on resume) is ``interrupted``, not a failure; the trial that runs it again says so (``complete (re-run of 3)``)."""
    state = "interrupted" if r["state"] == "fail" and r.get(INTERRUPTED) else r["state"]
    return state if r.get(RERUN_OF) is None else f"{state} (re-run of {r[RERUN_OF]})"


def _start(r: dict[str, Any]) -> str:
    """How a trial's worker started: ``warm``, ``cold``, or ``warm (from JOB)`` on a worker handed over from JOB."""
    start = "warm" if r[WARM] else "cold" if r[WARM] is not None else "-"
    return _safe(f"{start} (from {r[REUSED_FROM]})") if r.get(REUSED_FROM) else start


def _cell(r: dict[str, Any], path: str, value: Any) -> str:
    """A number of trial record ``r`` as the table shows it: ``nan``, ``inf`` or ``-inf`` when it was one (JSON has
    null for them, and the record's ``nonfinite`` says which), ``-`` when there is none."""
    if value is not None:
        return _fmt(value)
    return (r.get("nonfinite") or {}).get(path) or "-"


def _trial_table(records: list[dict[str, Any]], summary: dict[str, Any], limit: int | None) -> Any:
    from rich.table import Table

    rows = records[-limit:] if limit else records
    metrics = list(dict.fromkeys(m for r in rows for m in r.get("metrics") or {}))  # each other metric: a column
    table = Table("#", "state", _safe(summary["metric"] or "value"), *map(_safe, metrics), "start", "start-up s",
                  "run s", "params / error")
    for r in rows:
        detail = _safe(r[ERROR] or ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items()))
        if r.get("feasible") is False:  # broke a constraint: never the best
            detail = _safe(f"infeasible: {'; '.join(r['violations'])}; ") + detail
        other = [_cell(r, f"metrics.{m}", (r.get("metrics") or {}).get(m)) for m in metrics]
        table.add_row(str(r["number"]), _state(r), _cell(r, "value", r["value"]), *other,
                      _start(r), _seconds(r[STARTUP_S], 3), _seconds(r[RUN_S], 1),
                      detail if limit is None or len(detail) <= 90 else detail[:89] + "…")
    return table


def _live_view(s: dict[str, Any], records: list[dict[str, Any]], started: float) -> Any:
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    done, total = _done(s), s["max_trials"] or 1
    head = Text.assemble(
        (f"{s['name']} ", "bold"), (f"[{s['status']}] ", "cyan"),
        f"{done}/{total} done, {s['running']} running, {s['failed']} failed, {s['pruned']} pruned, "
        f"{time.time() - started:.0f} s elapsed",
    )
    best = _safe(f"best {s['metric']} {_fmt(s['best']['value'])} (trial {s['best']['number']})"
                 if s["best"] else "best: none yet")
    warm = (f"warm starts {s['warm_starts']}, cold {s['cold_starts']}"
            + (f", start-up saved {_secs(s['startup_saved_s'])}" if s["startup_saved_s"] is not None else ""))
    return Group(head, ProgressBar(total=total, completed=done, width=60), Text(best), Text(warm),
                 _trial_table(records, s, limit=8))



if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
