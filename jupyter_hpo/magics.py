"""``%hpo`` and ``%%hpo``: the notebook's front door to :mod:`jupyter_hpo.api`.

``%load_ext jupyter_hpo`` registers them. ``%hpo SUBCOMMAND ...`` routes to one small function per
subcommand: it parses its arguments (argparse that raises ``UsageError``), resolves names in the user
namespace, calls one ``api`` function and returns a value the notebook displays. Every ``HpoError``
of the core is translated here, once, into a ``UsageError`` carrying the core's message, so the
notebook shows one line instead of a traceback. Nothing heavy (optuna, pandas, widgets) is imported
until a subcommand needs it, so loading the extension stays fast.

Example (three notebook cells)::

    %load_ext jupyter_hpo

    %%hpo space space
    x: {type: float, low: -3, high: 3}

    job = %hpo launch objective --max-trials 20 --minimize
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import keyword
import os
import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_hpo.exceptions import HpoError

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_hpo.api import Job
    from jupyter_hpo.space import SearchSpace

__all__ = ["HpoMagics", "load_ipython_extension"]


class _HelpShown(Exception):
    """Raised after ``--help`` printed a subcommand's usage: there is nothing more to do."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` with a short message instead of printing and exiting."""

    def __init__(self, command: str, description: str) -> None:
        super().__init__(prog=f"%hpo {command}", description=description, allow_abbrev=False)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise UsageError((message or f"{self.prog}: invalid arguments").strip())
        raise _HelpShown


# -- arguments of each subcommand ----------------------------------------------------------------
def _launch_arguments(p: _Parser) -> None:
    from jupyter_hpo.spec import EARLY_STOPPING, STRATEGIES

    p.epilog = "With %%hpo launch, the cell body is a YAML spec (the CLI's schema) and these options override it."
    p.add_argument("objective", nargs="?", metavar="OBJECTIVE",
                   help="a function (or script-path string) in the namespace, a script path, or a YAML spec file "
                        "(.yaml/.yml: launched as `jupyter hpo launch SPEC` does, these options overriding it)")
    p.add_argument("--space", metavar="NAME", help="a SearchSpace or dict in the namespace (default: `space`)")
    p.add_argument("--strategy", choices=STRATEGIES, help="how to pick the next trial (default: bayesian)")
    p.add_argument("--max-trials", type=int, metavar="N", help="trials in total")
    p.add_argument("--parallel", type=int, metavar="P", help="trials at once")
    direction = p.add_mutually_exclusive_group()
    direction.add_argument("--maximize", dest="direction", action="store_const", const="maximize",
                           help="maximise the metric (the default)")
    direction.add_argument("--minimize", dest="direction", action="store_const", const="minimize")
    p.add_argument("--metric", metavar="NAME", help="the metric's name (a key an objective's dict returns)")
    p.add_argument("--backend", metavar="NAME", help="where trials run (default: local)")
    p.add_argument("--name", metavar="JOB", help="the job's name (default: generated)")
    p.add_argument("--no-warm-pool", action="store_true", help="a fresh process per trial (the cold baseline)")
    p.add_argument("--keep-alive", type=float, metavar="S", help="keep the runner and its idle workers S seconds "
                   "after the job, for the next launch from this kernel (warm_pool.keep_alive_s)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds a trial may run")
    p.add_argument("--early-stopping", choices=EARLY_STOPPING, help="stop poor trials early (default: off)")
    p.add_argument("--seed", type=int, metavar="N", help="seed of the strategy, for a repeatable search")
    p.add_argument("--warm-start", action="append", metavar="JOB",
                   help="seed the strategy with an earlier job's complete trials (repeat for several jobs)")
    p.add_argument("--mlflow", action="store_true",
                   help="log the job and its trials to MLflow (the spec's tracking.mlflow, else MLFLOW_TRACKING_URI)")


def _space_arguments(p: _Parser) -> None:
    p.add_argument("name", metavar="NAME", help="the variable that holds the search space")


def _job_argument(p: _Parser) -> None:
    p.add_argument("job", nargs="?", metavar="JOB", help="a job name or a Job variable (default: this kernel's "
                                                         "last launched or attached job)")


def _required_job_argument(p: _Parser) -> None:
    p.add_argument("job", metavar="JOB", help="a job name or a Job variable")


_FORCE_HELP = "{} it even if someone else launched it (as the CLI's --force; who did is recorded)"


def _stop_arguments(p: _Parser) -> None:
    _job_argument(p)
    p.add_argument("--force", action="store_true", help=_FORCE_HELP.format("stop"))


def _resume_arguments(p: _Parser) -> None:
    _job_argument(p)
    p.add_argument("--max-trials", type=int, metavar="N", help="a new budget (to continue a completed job)")
    p.add_argument("--force", action="store_true", help=_FORCE_HELP.format("resume"))


# -- subcommands: parsed arguments in, names resolved, one api call, a value out -------------------
_LAUNCH_OPTIONS = {"strategy": "strategy", "max_trials": "max_trials", "parallel": "max_parallel",
                   "direction": "direction", "metric": "metric", "backend": "backend", "name": "name",
                   "timeout": "timeout", "early_stopping": "early_stopping", "seed": "seed",
                   "warm_start": "warm_start", "keep_alive": "keep_alive_s"}


def _launch(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Job:
    from jupyter_hpo import api

    spec: Any = None if cell is None else m.spec_from_body(cell)
    if spec is None and _is_spec_file(args.objective, m.shell.user_ns):  # `%hpo launch tuning.yaml`, as the CLI
        if args.space is not None:
            raise UsageError(f"{args.objective} is a spec, which has its own `space`: drop --space {args.space} "
                             "(or change the spec).")
        if not os.path.isfile(os.path.expanduser(args.objective)):  # no shell expands `~` in a notebook
            raise UsageError(f"no spec file {args.objective!r} (from {os.getcwd()}).")
        spec, args.objective = args.objective, None
    elif spec is None and args.objective is None:
        raise UsageError("%hpo launch needs an OBJECTIVE: a function or a script path (or use %%hpo launch "
                         "with a YAML spec in the cell).")
    objective = None if args.objective is None else m.objective(args.objective)
    if args.space is not None:
        space = m.space_variable(args.space)
    elif spec is None or (isinstance(spec, dict) and "space" not in spec and "space" in m.shell.user_ns):
        space = m.space_variable("space")  # the default: a variable named `space`
    else:
        space = None  # the body's (or, if it has none, the core says that `space` is required)
    options = {key: getattr(args, attr) for attr, key in _LAUNCH_OPTIONS.items() if getattr(args, attr) is not None}
    if args.no_warm_pool:
        options["warm_pool"] = False
    if args.mlflow:
        options["tracking"] = {"mlflow": {}}
    earlier = m.last_job
    job = api.launch(spec, objective=objective, space=space, **options)
    _say_if_still_running(earlier)
    return m.show(job)


def _say_if_still_running(name: str | None) -> None:
    """A launch cell run again starts a second job: say so when this kernel's last job still runs (it went on,
    unseen, its dashboard gone with the cell's output)."""
    from jupyter_hpo import api

    if name is None:
        return
    try:
        status = api.attach(name).status
    except HpoError:  # deleted since, or the store cannot say: nothing to add
        return
    if status.is_active():
        print(f"note: job {name}, this kernel's last, is still {status.value}; this launch runs beside it "
              f"(`%hpo stop {name}` stops it, `%hpo attach {name}` shows it).")


def _is_spec_file(token: str | None, ns: Mapping[str, Any]) -> bool:
    """OBJECTIVE names a YAML spec file, not a variable of the namespace."""
    return token is not None and token not in ns and token.lower().endswith((".yaml", ".yml"))


def _space(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> None:
    if not args.name.isidentifier() or keyword.iskeyword(args.name):
        raise UsageError(f"%hpo space: NAME must be a Python variable name, but got {args.name!r}.")
    if cell is None:
        m.open_builder(args.name)
    else:
        m.shell.user_ns[args.name] = _parse_space(cell)


def _list(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
    from jupyter_hpo import api

    return _summary_frame(api.list_jobs())


def _status(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
    from jupyter_hpo import api

    return api.attach(m.job_name(args.job)).summary()


def _attach_arguments(p: _Parser) -> None:
    _required_job_argument(p)
    p.add_argument("--amt", action="store_true", help="JOB is a SageMaker tuning job (AMT) to mirror into the store")
    p.add_argument("--region", metavar="REGION", help="with --amt: the tuning job's AWS region")
    p.add_argument("--profile", metavar="PROFILE", help="with --amt: the AWS profile")


def _attach(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Job:
    from jupyter_hpo import api

    if args.amt:
        return m.show(api.attach_amt(args.job, region=args.region, profile=args.profile))
    if args.region or args.profile:
        raise UsageError("%hpo attach: --region and --profile go with --amt (a SageMaker tuning job).")
    return m.show(api.attach(m.job_name(args.job)))


def _stop(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Job:
    from jupyter_hpo import api
    from jupyter_hpo.owners import check_may_act

    job = api.attach(m.job_name(args.job))
    check_may_act(job.name, job.attrs, "stop", args.force)  # another user's job needs --force, as in the CLI
    job.stop(wait=True)
    return job


def _resume(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Job:
    from jupyter_hpo import api
    from jupyter_hpo.owners import check_may_act

    job = api.attach(m.job_name(args.job))
    check_may_act(job.name, job.attrs, "resume", args.force)
    return m.show(job.resume(max_trials=args.max_trials))


def _best_arguments(p: _Parser) -> None:
    _job_argument(p)
    p.add_argument("--load", action="store_true", help="return the model instead: the refit's if the job was "
                                                       "refit, else the best trial's (trial.save_model)")


def _best(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Any:
    from jupyter_hpo import api

    job = api.attach(m.job_name(args.job))
    if args.load:
        return job.best_model()
    best = job.best
    if best is None:
        from jupyter_hpo.records import no_best

        print(f"job {job.name} has {no_best(job.trial_records(), job.status.value)}.")
    return best


def _refit_arguments(p: _Parser) -> None:
    _job_argument(p)
    p.add_argument("--wait", action="store_true", help="return once the refit has finished")


def _refit(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Job:
    from jupyter_hpo import api

    job = api.attach(m.job_name(args.job)).refit(wait=args.wait)
    return job if args.wait else m.show(job)


def _compare_arguments(p: _Parser) -> None:
    p.add_argument("jobs", nargs="*", metavar="JOB", help="job names or Job variables")
    p.add_argument("--campaign", metavar="NAME", help="compare the jobs of this campaign (with its summary)")


def _compare(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> pd.DataFrame:
    from IPython.display import display

    from jupyter_hpo import api

    if args.campaign is not None:
        if args.jobs:
            raise UsageError(f"%hpo compare --campaign {args.campaign} takes no job names (it compares the "
                             f"campaign's jobs), but got {' '.join(args.jobs)}.")
        from jupyter_hpo.widgets import CampaignView

        view = CampaignView(args.campaign)
        names = list(view.names)
    elif not args.jobs:
        raise UsageError("%hpo compare needs job names (JOB1 JOB2 ...) or --campaign NAME.")
    else:
        from jupyter_hpo.widgets import CompareView

        names = [m.job_name(token) for token in args.jobs]
        view = CompareView(*names)
    result = api.compare(*names)
    display(view)
    return _summary_frame([r["summary"] for r in result.values()])


def _estimate_arguments(p: _Parser) -> None:
    from jupyter_hpo._estimate_cli import add_estimate_arguments

    add_estimate_arguments(p)


def _estimate(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Any:
    from jupyter_hpo import api
    from jupyter_hpo._estimate_cli import estimate_frame, estimate_inputs, with_spec_notes

    result = with_spec_notes(api.estimate(**estimate_inputs(args)), args.spec)
    if args.json:
        return result
    for note in result["notes"]:  # what the spec sets that the figures leave out, above the table
        print(f"note: {note}")
    return estimate_frame(result)


class _Command(NamedTuple):
    run: Callable[[HpoMagics, argparse.Namespace, str | None], Any]
    summary: str
    arguments: Callable[[_Parser], None] | None = None
    takes_body: bool = False

    def parser(self, name: str) -> _Parser:
        p = _Parser(name, self.summary)
        if self.arguments is not None:
            self.arguments(p)
        return p


_COMMANDS: dict[str, _Command] = {
    "launch": _Command(_launch, "start a tuning job and show its live dashboard (%%hpo launch: a YAML spec "
                                "in the cell body)", _launch_arguments, takes_body=True),
    "space": _Command(_space, "define a search space from the cell body (%%hpo space NAME: YAML, JSON or a "
                              "dict), or edit one in a builder (%hpo space NAME)", _space_arguments, takes_body=True),
    "list": _Command(_list, "all jobs, newest first (a DataFrame)"),
    "status": _Command(_status, "a job's summary: status, counts, best trial", _job_argument),
    "attach": _Command(_attach, "show the live dashboard of a job launched earlier, from any kernel (--amt: "
                                "of an existing SageMaker tuning job)", _attach_arguments),
    "stop": _Command(_stop, "stop a job (its running trials are re-run if you resume it)", _stop_arguments),
    "resume": _Command(_resume, "continue a stopped job, or one whose runner died", _resume_arguments),
    "best": _Command(_best, "the best trial: number, value, params (--load: its model, or the refit's)",
                     _best_arguments),
    "refit": _Command(_refit, "run the best parameters once more with trial.is_refit() True, as the job "
                              "<JOB>-refit (its model: %hpo best JOB --load)", _refit_arguments),
    "compare": _Command(_compare, "compare jobs (or --campaign NAME: a campaign's jobs): best-so-far curves and a "
                                  "table of summaries", _compare_arguments),
    "estimate": _Command(_estimate, "simulate a SageMaker campaign: wall time and cost without warm pools, "
                                    "with pools per job and across jobs (--json: the full result)", _estimate_arguments),
}



def _plan(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Any:
    from jupyter_hpo import api
    from jupyter_hpo.sagemaker.plan import format_plan

    result = api.plan(args.spec, backend=args.backend)
    if args.json:
        return result
    print(format_plan(result))
    return None


def _plan_arguments(p: _Parser) -> None:
    from jupyter_hpo.sagemaker.plan import add_plan_arguments

    add_plan_arguments(p)


_COMMANDS["plan"] = _Command(_plan, "the SageMaker requests a spec would send, validated, without calling AWS "
                                    "(--json: as a dict)", _plan_arguments)


def _campaign_arguments(p: _Parser) -> None:
    from jupyter_hpo.campaign import DEFAULT_KEEP_ALIVE_S

    p.add_argument("specs", nargs="+", metavar="SPEC", help="the jobs' YAML specs, in order (or show|stop|resume NAME)")
    p.add_argument("--parallel-jobs", type=int, default=1, metavar="N", help="jobs run at the same time (default 1)")
    p.add_argument("--name", help="the campaign's name (default campaign-<6 hex>)")
    p.add_argument("--keep-alive", type=float, default=DEFAULT_KEEP_ALIVE_S, metavar="S",
                   help=f"seconds idle workers wait for the next job (default {DEFAULT_KEEP_ALIVE_S:g}; 0: none kept, and "
                        "sagemaker jobs' warm pools are not handed on)")
    p.add_argument("--force", action="store_true", help="with stop|resume: act on it even if someone else's "
                                                        "jobs are in it (who did is recorded)")


def _campaign(m: HpoMagics, args: argparse.Namespace, cell: str | None) -> Any:
    from jupyter_hpo.campaign import DEFAULT_KEEP_ALIVE_S, attach_campaign, campaign

    action = args.specs[0]
    if action in ("show", "stop", "resume") and not os.path.isfile(action):
        if len(args.specs) != 2:
            raise UsageError(f"%hpo campaign {action} takes one campaign name, but got {len(args.specs) - 1}.")
        given = [f for f, v in (("--parallel-jobs", args.parallel_jobs != 1), ("--name", args.name),
                                ("--keep-alive", args.keep_alive != DEFAULT_KEEP_ALIVE_S)) if v]
        if given:
            raise UsageError(f"%hpo campaign {action} takes no {', '.join(given)} (set when a campaign is launched).")
        if args.force and action == "show":
            raise UsageError("%hpo campaign show takes no --force (it is for stop and resume).")
        c = attach_campaign(args.specs[1])
        if action == "show":
            return c.summary()
        c.check_may_act(action, args.force)  # another user's jobs need --force, as in the CLI
        if action == "stop":
            c.stop(wait=True)
            return c.summary()
        c = c.resume()
        for note in c.notes:  # a job left as it was: its resume would run nothing
            print(note)
    else:
        if args.force:
            raise UsageError("%hpo campaign takes --force with stop and resume only, not when launching.")
        c = campaign(args.specs, parallel_jobs=args.parallel_jobs, name=args.name, keep_alive_s=args.keep_alive)
    from IPython.display import display

    from jupyter_hpo.widgets import CampaignView

    display(CampaignView(c.name, c.store))  # the campaign as a group: its summary and its jobs' curves, live
    for job in c.jobs:  # each job's live dashboard, as %hpo launch shows one
        m.show(job)
    return c


_COMMANDS["campaign"] = _Command(_campaign, "run several YAML specs as one campaign that hands its warm workers "
                                            "from job to job (show|stop|resume NAME: the campaign)",
                                 _campaign_arguments)


def _help_text() -> str:
    width = max(map(len, _COMMANDS))
    lines = [f"  {name:<{width}}  {command.summary}" for name, command in _COMMANDS.items()]
    return "\n".join(["usage: %hpo SUBCOMMAND [options]   (%hpo SUBCOMMAND --help for its options)", "",
                      "subcommands:", *lines, f"  {'help':<{width}}  this list"])


# -- helpers ---------------------------------------------------------------------------------------
#: a cell body's name in a YAML error; its line numbers count the `%%hpo` line as line 1, as the notebook shows them
_CELL = "the %%hpo cell"


def _check_cell_size(cell: str) -> None:
    """Refuse a body beyond the spec file's limit, counted as the file's is, in UTF-8 bytes: counted in characters,
    a cell of 1.2 MB in 'é' passed, and one too long was reported as invalid YAML."""
    from jupyter_hpo._limits import MAX_SPEC_BYTES

    size = len(cell.encode("utf-8", "surrogatepass"))
    if size > MAX_SPEC_BYTES:
        raise UsageError(f"a %%hpo cell must be at most {MAX_SPEC_BYTES:,} bytes, but it has {size:,}.")


def _parse_space(text: str) -> SearchSpace:
    """A search space from YAML, JSON or a Python dict literal; the core validates it."""
    from jupyter_hpo.space import SearchSpace

    if not text.strip():
        raise UsageError("%%hpo space NAME needs a body: the parameters, in YAML, JSON or a dict literal.")
    try:
        literal = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        literal = None
    if isinstance(literal, Mapping):
        _not_a_spec_section(literal)
        return SearchSpace.from_dict(literal)
    from jupyter_hpo._yaml import load_yaml

    data = None
    with contextlib.suppress(Exception):  # not YAML, or beyond a limit: from_yaml says so in its own words
        data = load_yaml(text, source=_CELL, first_line=2)
    _not_a_spec_section(data)
    return SearchSpace.from_yaml(text, source=_CELL, first_line=2)


def _not_a_spec_section(data: Any) -> None:
    """A spec's ``space:`` section pasted whole: said as such (it was "`type` of 'space' must be one of ...")."""
    if isinstance(data, Mapping) and list(data) == ["space"] and isinstance(data["space"], Mapping) \
            and "type" not in data["space"]:
        raise UsageError("%%hpo space NAME takes the parameters themselves, as under a spec's `space:`: drop the "
                         "`space:` line and its indent (or launch a whole spec with %%hpo launch).")


_SUMMARY_COLUMNS = ("status", "metric", "direction", "trials", "max_trials", "complete", "pruned", "failed",
                    "best", "best_trial", "warm_starts", "cold_starts", "startup_saved_s", "created")


def _summary_frame(summaries: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per job (indexed by name) with the columns a reader compares jobs by."""
    import datetime

    import pandas as pd

    rows = [{**{k: s.get(k) for k in _SUMMARY_COLUMNS}, "name": s["name"],
             "best": s["best"]["value"] if s["best"] else None,
             "best_trial": s["best"]["number"] if s["best"] else None,
             "created": datetime.datetime.fromtimestamp(s["created"]) if s.get("created") else None}
            for s in summaries]
    return pd.DataFrame(rows, columns=["name", *_SUMMARY_COLUMNS]).set_index("name")


@magics_class
class HpoMagics(Magics):
    """The ``%hpo`` / ``%%hpo`` magics; ``last_job`` is the job this kernel launched or attached last."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.last_job: str | None = None

    @line_cell_magic
    def hpo(self, line: str, cell: str | None = None) -> Any:
        """Hyperparameter tuning from the notebook: ``%hpo help`` lists the subcommands.

        ``%hpo launch objective --max-trials 20``, ``%%hpo space NAME`` (YAML body), ``%hpo list``,
        ``%hpo status``, ``%hpo attach JOB``, ``%hpo stop``, ``%hpo resume``, ``%hpo best [--load]``,
        ``%hpo refit``, ``%hpo compare JOB1 JOB2``.
        """
        try:
            words = shlex.split(line)
        except ValueError as e:
            raise UsageError(f"%hpo: cannot read the line: {e}.") from None
        if not words or words[0] in ("help", "-h", "--help"):
            return self._help(words[1:])
        command = _COMMANDS.get(words[0])
        if command is None:
            raise UsageError(f"unknown subcommand {words[0]!r}; valid: {', '.join([*_COMMANDS, 'help'])}.")
        if cell is not None and not command.takes_body:
            raise UsageError(f"%%hpo {words[0]} takes no cell body; write it as a line magic: %hpo {words[0]}.")
        if cell is not None:
            _check_cell_size(cell)
        try:
            return command.run(self, command.parser(words[0]).parse_args(words[1:]), cell)
        except _HelpShown:
            return None
        except HpoError as e:  # the one place core errors become the notebook's short message
            raise UsageError(str(e)) from None

    def _help(self, words: list[str]) -> None:
        if words and words[0] in _COMMANDS:
            _COMMANDS[words[0]].parser(words[0]).print_help()
        else:
            print(_help_text())

    # -- namespace resolution (front-door parsing) ---------------------------------------------------
    def objective(self, token: str) -> Any:
        """OBJECTIVE: a callable or path string from the namespace, else a script path literal."""
        ns = self.shell.user_ns
        if token in ns:
            value = ns[token]
            if callable(value) or isinstance(value, (str, os.PathLike)):
                return value
            raise UsageError(f"`{token}` is a {type(value).__name__}, not a function or a script path.")
        if token.isidentifier() and not os.path.isfile(token):
            raise UsageError(f"no function or script named {token!r} in the namespace; define it first, "
                             "or give a script path.")
        return token

    def space_variable(self, name: str) -> Mapping[str, Any]:
        ns = self.shell.user_ns
        if name not in ns:
            raise UsageError(f"no search space named {name!r} in the namespace; define it with "
                             f"%%hpo space {name}, or pass --space NAME.")
        if not isinstance(ns[name], Mapping):
            raise UsageError(f"`{name}` is a {type(ns[name]).__name__}, not a SearchSpace or a dict.")
        return ns[name]

    def spec_from_body(self, cell: str) -> dict[str, Any]:
        """The cell's YAML spec, with ``trial.function`` and ``space`` names taken from the namespace."""
        from jupyter_hpo._yaml import YAMLError, YAMLLimitError, load_yaml

        try:
            data = load_yaml(cell, source=_CELL, first_line=2)
        except YAMLLimitError as e:  # valid YAML beyond a limit (an alias bomb): said as the file's is, not as bad YAML
            raise UsageError(str(e)) from None
        except YAMLError as e:
            raise UsageError(f"the spec is not valid YAML: {e}") from None
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise UsageError(f"the cell body must be a YAML mapping of spec fields, but got {data!r}.")
        data = dict(data)
        trial = data.get("trial")
        if isinstance(trial, Mapping) and isinstance(trial.get("function"), str) and trial["function"].isidentifier():
            fn = self.shell.user_ns.get(trial["function"])
            if not callable(fn):
                raise UsageError(f"`trial.function`: no function named {trial['function']!r} in the namespace.")
            data["trial"] = {**trial, "function": fn}
        if isinstance(data.get("space"), str):
            data["space"] = self.space_variable(data["space"])
        return data

    def job_name(self, token: str | None) -> str:
        """JOB: a job name or a Job variable; omitted, the job this kernel launched or attached last."""
        if token is None:
            if self.last_job is None:
                raise UsageError("no job launched or attached in this kernel yet; name one (see %hpo list).")
            return self.last_job
        from jupyter_hpo.api import Job

        value = self.shell.user_ns.get(token)
        return value.name if isinstance(value, Job) else token

    # -- display -------------------------------------------------------------------------------------
    def show(self, job: Job) -> Job:
        """Display the job's live dashboard, remember it as the last job, and return it."""
        from IPython.display import display

        self.last_job = job.name
        try:
            from jupyter_hpo.widgets import Dashboard
        except ImportError as e:  # the job runs already: hand it back, and say why there is no dashboard
            print(f"note: no live dashboard ({e}); job {job.name} runs on: `%hpo status` or `jupyter hpo show "
                  f"{job.name}` show its progress.")
            return job
        board = Dashboard(job)
        display(board)
        board.start()  # live even when the next cell keeps the kernel busy
        return job

    def open_builder(self, name: str) -> None:
        """Display a builder for the space ``name``; ``name`` always holds the builder's last valid space."""
        ns = self.shell.user_ns
        current = ns.get(name)
        if current is not None and not isinstance(current, Mapping):
            raise UsageError(f"`{name}` is a {type(current).__name__}, not a SearchSpace or a dict.")
        from IPython.display import display

        from jupyter_hpo.widgets import SearchSpaceBuilder

        builder = SearchSpaceBuilder(space=current)

        def store_back(_change: object = None) -> None:
            with contextlib.suppress(HpoError):  # an invalid edit keeps the last valid space
                ns[name] = builder.space

        store_back()
        # the builder has no change event of its own; its YAML preview changes with every edit
        builder.yaml_preview.observe(store_back, names="value")
        display(builder)


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%hpo`` and ``%%hpo`` (``%load_ext jupyter_hpo``)."""
    ipython.register_magics(HpoMagics)
