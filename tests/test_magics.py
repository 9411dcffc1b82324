"""``%hpo`` / ``%%hpo`` through a real IPython shell, on real jobs (runner and worker processes)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupyter_hpo import api
from jupyter_hpo.magics import HpoMagics
from jupyter_hpo.space import SearchSpace
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import REPO, wait_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SPACE = SearchSpace.from_dict({"x": {"type": "float", "low": 0, "high": 2}})
SUBCOMMANDS = ("launch", "space", "list", "status", "attach", "stop", "resume", "best", "refit", "compare", "estimate",
               "plan", "campaign", "help")


@pytest.fixture
def shell(home):
    """The test process's IPython shell with fresh ``%hpo`` magics and a namespace holding test objectives."""
    ip = InteractiveShell.instance()
    ip.register_magics(HpoMagics(ip))
    ip.push({"quadratic": objectives.quadratic, "sleepy": objectives.sleepy, "sp": SPACE, "number": 3})
    yield ip
    ip.reset(new_session=False)


def hpo(shell, line, cell=None):
    """Run ``%hpo line`` (or ``%%hpo line`` with ``cell``); return its value and what it displayed and printed."""
    with capture_output() as captured:
        value = shell.run_line_magic("hpo", line) if cell is None else shell.run_cell_magic("hpo", line, cell)
    return value, captured


def widget_views(captured):
    return [out.data[WIDGET_VIEW] for out in captured.outputs if WIDGET_VIEW in out.data]


def test_load_ext_registers_the_magics_without_importing_heavy_libraries():
    code = textwrap.dedent("""
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "jupyter_hpo")
        print(json.dumps({"line": "hpo" in ip.magics_manager.magics["line"],
                          "cell": "hpo" in ip.magics_manager.magics["cell"],
                          "heavy": sorted({"optuna", "pandas", "ipywidgets", "anywidget"} & set(sys.modules))}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == {"line": True, "cell": True, "heavy": []}


@pytest.mark.parametrize("line", ["", "help", "--help", "-h"])
def test_help_lists_every_subcommand_with_one_line_each(shell, line):
    value, captured = hpo(shell, line)
    assert value is None
    listed = [row.split()[0] for row in captured.stdout.splitlines() if row.startswith("  ")]
    assert listed == list(SUBCOMMANDS)


@pytest.mark.parametrize("line", ["launch --help", "help launch"])
def test_a_subcommand_help_shows_its_options(shell, line):
    value, captured = hpo(shell, line)
    assert value is None and captured.stdout.startswith("usage: %hpo launch")
    for option in ("--space NAME", "--max-trials N", "--parallel P", "--maximize", "--early-stopping", "--seed N"):
        assert option in captured.stdout


EXPECTED_SPACE = SearchSpace.from_dict({"depth": {"type": "int", "low": 2, "high": 8},
                                        "eta": {"type": "float", "low": 0.01, "high": 0.3, "scaling": "log"},
                                        "booster": ["gbtree", "dart"]})


@pytest.mark.parametrize("body", [
    ("depth: {type: int, low: 2, high: 8}\neta: {type: float, low: 0.01, high: 0.3, scaling: log}\n"
     "booster: [gbtree, dart]\n"),
    ('{"depth": {"type": "int", "low": 2, "high": 8}, "eta": {"type": "float", "low": 0.01, "high": 0.3, '
     '"scaling": "log"}, "booster": ["gbtree", "dart"]}'),
    ("{'depth': {'type': 'int', 'low': 2, 'high': 8}, 'eta': {'type': 'float', 'low': 0.01, 'high': 0.3,\n"
     "         'scaling': 'log'}, 'booster': ('gbtree', 'dart')}"),
], ids=["yaml", "json", "dict-literal"])
def test_space_cell_defines_a_search_space(shell, body):
    value, _ = hpo(shell, "space credit_space", body)
    assert value is None
    assert shell.user_ns["credit_space"] == EXPECTED_SPACE


@pytest.mark.parametrize(("line", "body", "message"), [
    ("space bad", "x: {type: float, low: 2, high: 1}", "`low < high` must hold for 'x', but got low=2.0, high=1.0."),
    ("space bad", "x: {type: float, low: 0.0, high: 1}\nx: [a, b]", "the key 'x' appears twice"),
    ("space bad", "x: [oops", "the search space is not valid YAML"),
    ("space bad", "  \n", "needs a body"),
    ("space bad", "space:\n  x: {type: float, low: 0, high: 1}\n", "takes the parameters themselves, as under a "
                                                                    "spec's `space:`: drop the `space:` line"),
    ("space bad", "{'space': {'x': [1, 2]}}", "takes the parameters themselves"),
    ("space 1st", "x: [a, b]", "NAME must be a Python variable name, but got '1st'"),
    ("space", "x: [a, b]", "the following arguments are required: NAME"),
])
def test_a_bad_space_cell_names_the_problem_and_defines_nothing(shell, line, body, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        hpo(shell, line, body)
    assert "bad" not in shell.user_ns


def builder_in(captured):
    from ipywidgets.widgets.widget import _instances

    (view,) = widget_views(captured)
    return _instances[view["model_id"]]


def test_space_line_opens_a_builder_whose_valid_edits_are_stored_back(shell):
    value, captured = hpo(shell, "space sp")
    builder = builder_in(captured)
    assert value is None and builder.space == SPACE
    builder.rows[0].high_text.value = "5"
    assert shell.user_ns["sp"] == SearchSpace.from_dict({"x": {"type": "float", "low": 0, "high": 5}})
    builder.add_row(name="k", kind="int", low="1", high="3")
    edited = SearchSpace.from_dict({"x": {"type": "float", "low": 0, "high": 5}, "k": {"type": "int", "low": 1,
                                                                                          "high": 3}})
    assert shell.user_ns["sp"] == edited
    builder.rows[1].low_text.value = "7"  # invalid (low > high): the variable keeps the last valid space
    assert shell.user_ns["sp"] == edited


def test_the_builder_of_space_line_asks_for_an_objective_before_it_launches(shell):
    """`%hpo space NAME`'s builder has no objective, and its Launch button was enabled: a click always failed with
    "`trial` is required". It is disabled, and says how to launch, until an objective is set."""
    from jupyter_hpo.widgets._builder import NO_OBJECTIVE

    _, captured = hpo(shell, "space sp")
    builder = builder_in(captured)
    assert builder.launch_button.disabled and builder.launch_message.value == NO_OBJECTIVE
    assert "%hpo launch OBJECTIVE --space NAME" in NO_OBJECTIVE
    builder.objective = objectives.quadratic
    assert not builder.launch_button.disabled and builder.launch_message.value == ""
    from jupyter_hpo.widgets import SearchSpaceBuilder

    trained = SearchSpaceBuilder(space=SPACE, model_trainer=object())  # a SageMaker ModelTrainer gives the trial
    assert not trained.launch_button.disabled and trained.launch_message.value == ""
    builder.launch_options.update(max_trials=2, name="from-builder")
    job = builder.launch()
    assert job is not None and job.wait(timeout=60) == JobStatus.COMPLETED and len(job.trial_records()) == 2


def test_space_line_for_a_new_name_defines_it_from_the_builder(shell):
    _, captured = hpo(shell, "space fresh")
    assert isinstance(shell.user_ns["fresh"], SearchSpace) and shell.user_ns["fresh"] == builder_in(captured).space


def test_line_launch_passes_every_option_shows_a_dashboard_and_returns_at_once(shell):
    job, captured = hpo(shell, "launch quadratic --space sp --max-trials 4 --parallel 2 --minimize --metric loss "
                               "--name line-job --strategy random --seed 3 --timeout 30 --early-stopping median "
                               "--no-warm-pool --backend local")
    assert isinstance(job, api.Job) and job.name == "line-job"
    assert not job.status.is_finished(), "the kernel is free while the job runs"
    assert len(widget_views(captured)) == 1, "the live dashboard is in the cell's output"
    spec = job.spec
    assert spec["objective"]["metric"] == "loss" and spec["objective"]["direction"] == "minimize"
    assert spec["budget"]["max_trials"] == 4 and spec["budget"]["max_parallel"] == 2
    assert (spec["strategy"], spec["seed"], spec["early_stopping"]) == ("random", 3, "median")
    assert spec["trial"]["timeout"] == 30 and spec["warm_pool"]["enabled"] is False
    assert spec["trial"]["function"] == "tests.objectives:quadratic"

    assert job.wait(timeout=120) == JobStatus.COMPLETED
    summary, _ = hpo(shell, "status")  # no JOB: the last job launched in this kernel
    assert summary["name"] == "line-job" and summary["complete"] == 4 and summary["cold_starts"] == 4
    best, _ = hpo(shell, "best line-job")
    assert best == job.best and set(best["params"]) == {"x"}
    assert best["value"] == min(r["value"] for r in job.trial_records()), "--minimize reached the optimizer"


def test_cell_launch_takes_function_and_space_names_from_the_namespace_and_options_override(shell):
    body = textwrap.dedent("""
        name: from-body
        objective: {metric: score, direction: maximize}
        trial: {function: quadratic}
        space: sp
        budget: {max_trials: 10, max_parallel: 2}
    """)
    job, captured = hpo(shell, "launch --max-trials 3 --name cell-job", body)
    assert job.name == "cell-job" and len(widget_views(captured)) == 1
    assert job.spec["budget"] == {"max_trials": 3, "max_parallel": 2, "max_runtime": None}
    assert job.spec["objective"]["metric"] == "score" and job.spec["space"] == SPACE.to_dict()
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert [r["state"] for r in job.trial_records()] == ["complete"] * 3
    assert job.best["value"] == max(objectives.quadratic(r["params"]) for r in job.trial_records())


def test_script_paths_resolve_from_the_current_directory(shell, tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent("""
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        print(f"loss={p.parse_args().x + 10:.6f}")
    """))
    monkeypatch.chdir(folder)
    cell = "objective: {metric: loss, direction: minimize}\ntrial: {script: train.py}\nspace: sp\n"
    from_cell, _ = hpo(shell, "launch --max-trials 2 --name script-cell", cell)
    from_line, _ = hpo(shell, "launch train.py --metric loss --minimize --max-trials 1 --name script-line --space sp")
    for job, n in ((from_cell, 2), (from_line, 1)):
        assert job.spec["trial"]["script"] == str(folder / "train.py")
        assert job.wait(timeout=120) == JobStatus.COMPLETED
        records = job.trial_records()
        assert len(records) == n and all(r["value"] == pytest.approx(r["params"]["x"] + 10) for r in records)


def test_line_launch_of_a_yaml_spec_launches_it_as_the_cli_does(shell, tmp_path, monkeypatch):
    """`%hpo launch tuning.yaml`, the CLI's idiom, took the spec file for a trial script: with a `space` variable
    in the namespace every trial failed with Python's SyntaxError on the YAML, and without one it asked for a
    search space. It launches the spec now, its options overriding it, and a YAML file given as a spec's
    `trial.script` is refused, nothing written."""
    (tmp_path / "train.py").write_text(textwrap.dedent("""
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        print(f"loss={p.parse_args().x + 10:.6f}")
    """))
    (tmp_path / "tuning.yaml").write_text("name: from-spec\nobjective: {metric: loss, direction: minimize}\n"
                                          "trial: {script: train.py}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                                          "budget: {max_trials: 5}\n")
    monkeypatch.chdir(tmp_path)
    shell.push({"space": SPACE})  # a `space` variable, as the audit's notebook had: the spec's own is taken
    job, shown = hpo(shell, "launch tuning.yaml --max-trials 2")
    assert job.name == "from-spec" and widget_views(shown)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    assert len(records) == 2 and all(r["state"] == "complete" for r in records), records
    assert all(0 <= r["params"]["x"] <= 1 and r["value"] == pytest.approx(r["params"]["x"] + 10) for r in records)
    for line, message in (("launch tuning.yaml --space sp", "tuning.yaml is a spec, which has its own `space`: "
                                                            "drop --space sp"),
                          ("launch other.yml --name x", "no spec file 'other.yml'")):
        with pytest.raises(UsageError, match=re.escape(message)):
            hpo(shell, line)
    with pytest.raises(UsageError, match=re.escape("`trial.script` must be a Python script, but got")):
        hpo(shell, "launch --name yaml-script", "trial: {script: tuning.yaml}\nspace: sp\n")
    assert [j["name"] for j in api.list_jobs()] == ["from-spec"]


def test_a_launch_cell_run_again_says_that_the_kernels_last_job_still_runs(shell):
    """Running a `%hpo launch` cell again started a second job without a word; the first went on unseen, its
    dashboard gone with the cell's output. The second launch now says so."""
    first, _ = hpo(shell, "launch sleepy --space sp --max-trials 40 --parallel 1 --name first")
    second, captured = hpo(shell, "launch sleepy --space sp --max-trials 1 --name second")
    assert "note: job first, this kernel's last, is still running; this launch runs beside it (`%hpo stop first`" \
        in captured.stdout or "note: job first, this kernel's last, is still pending" in captured.stdout, \
        captured.stdout
    first.stop()
    assert second.wait(timeout=60) == JobStatus.COMPLETED
    _, captured = hpo(shell, "launch quadratic --space sp --max-trials 1 --name third")  # the last one has ended
    assert "note: job" not in captured.stdout


def test_a_launch_whose_dashboard_cannot_load_still_hands_back_its_job(shell, monkeypatch):
    """The job starts before its dashboard is made: when the widgets could not be imported (a source checkout
    without the built front end), the cell ended in a traceback, `job` was never assigned and the job ran on with
    no handle. The job comes back, with one line saying why there is no dashboard."""
    monkeypatch.setitem(sys.modules, "jupyter_hpo.widgets", None)  # as an import that fails
    job, captured = hpo(shell, "launch quadratic --space sp --max-trials 2 --name no-board")
    assert job.name == "no-board" and not widget_views(captured)
    assert "note: no live dashboard (" in captured.stdout and "job no-board runs on" in captured.stdout
    assert job.wait(timeout=60) == JobStatus.COMPLETED and len(job.trial_records()) == 2


def test_stop_then_resume_with_a_larger_budget(shell):
    body = "trial: {function: sleepy, hyperparameters: {sleep: 0.3}}\nspace: sp\nbudget: {max_trials: 40}\n"
    job, _ = hpo(shell, "launch --name long --parallel 1", body)
    wait_for(lambda: job.summary()["complete"] >= 1, timeout=120)
    with pytest.raises(UsageError, match="job 'long' is running; it cannot be resumed while its runner runs"):
        hpo(shell, "resume")
    stopped, _ = hpo(shell, "stop")  # no JOB: the last job launched in this kernel
    assert stopped.name == "long" and stopped.status == JobStatus.STOPPED
    done = stopped.summary()["complete"]
    assert done < 40

    resumed, captured = hpo(shell, f"resume long --max-trials {done + 2}")
    assert resumed.name == "long" and len(widget_views(captured)) == 1
    assert resumed.wait(timeout=120) == JobStatus.COMPLETED
    assert resumed.summary()["complete"] == done + 2


ALICE = {"user": "alice", "host": "alices-laptop", "jupyter": None, "studio": None}


def refused_text(action: str, job: str) -> str:
    return (f"only a job's owner may {action} it without --force, but job {job!r} belongs to alice (launched on "
            f"alices-laptop); pass --force to {action} it anyway (who did is recorded).")


def test_another_users_job_or_campaign_needs_force_to_stop_or_resume_as_in_the_cli(shell, tmp_path, monkeypatch):
    """`%hpo stop`/`resume` and `%hpo campaign stop|resume` acted on anyone's job, where the CLI and the REST API
    refuse without --force."""
    from tests.test_campaign import write_specs

    body = "trial: {function: sleepy, hyperparameters: {sleep: 0.3}}\nspace: sp\nbudget: {max_trials: 40}\n"
    job, _ = hpo(shell, "launch --name hers --parallel 1", body)
    wait_for(lambda: job.summary()["complete"] >= 1, timeout=120)
    job.store.set_job_attrs("hers", owner=ALICE)
    with pytest.raises(UsageError, match=re.escape(refused_text("stop", "hers"))):
        hpo(shell, "stop hers")
    assert job.status == JobStatus.RUNNING, "nothing was stopped"
    stopped, _ = hpo(shell, "stop hers --force")
    assert stopped.status == JobStatus.STOPPED and stopped.attrs["stopped_by"]["user"] != "alice"
    with pytest.raises(UsageError, match=re.escape(refused_text("resume", "hers"))):
        hpo(shell, "resume hers")
    assert job.status == JobStatus.STOPPED
    resumed, _ = hpo(shell, "resume hers --force")
    assert resumed.status.is_active() and resumed.attrs["resumed_by"]["user"] != "alice"
    resumed.stop(wait=True)

    monkeypatch.chdir(tmp_path)
    write_specs(tmp_path, ["mine1", "hers2"], trials=12, sleep=1.0)
    c, _ = hpo(shell, "campaign mine1.yaml hers2.yaml --name shared")
    wait_for(lambda: api.attach("mine1").summary()["complete"] >= 1, timeout=120)
    c.store.set_job_attrs("hers2", owner=ALICE)
    with pytest.raises(UsageError, match=re.escape(refused_text("stop", "hers2"))):
        hpo(shell, "campaign stop shared")
    assert c.status == "running", "nothing was stopped"
    with pytest.raises(UsageError, match="--force with stop and resume only"):
        hpo(shell, "campaign mine1.yaml --force")
    hpo(shell, "campaign stop shared --force")
    assert c.status in ("stopped", "completed")


def test_best_of_a_job_whose_trials_all_broke_a_constraint_says_no_feasible_trial(shell):
    """It said "no complete trial yet (failed)" of a job whose two trials completed, which sent users looking for
    failures; the trials completed and broke a constraint, so there is no feasible trial (nor a best model)."""
    shell.push({"calibrated": objectives.calibrated})
    body = ("trial: {function: calibrated}\nspace: {x: {type: float, low: 0.6, high: 1}}\n"
            "constraints: {calibration_error: {max: 0.05}}\nbudget: {max_trials: 2, max_parallel: 1}\n")
    job, _ = hpo(shell, "launch --name all-infeasible", body)
    assert job.wait(timeout=120) == JobStatus.FAILED
    assert [r["state"] for r in job.trial_records()] == ["complete"] * 2
    best, captured = hpo(shell, "best all-infeasible")
    assert best is None
    assert captured.stdout == ("job all-infeasible has no feasible trial (failed): 2 complete trial(s) broke a "
                               "constraint.\n")
    with pytest.raises(UsageError, match=r"^job 'all-infeasible' has no feasible trial: 2 complete trial\(s\) broke a "
                                         r"constraint, so it has no best model\.$"):
        hpo(shell, "best all-infeasible --load")


def test_attach_shows_a_dashboard_for_a_job_launched_elsewhere(shell):
    launched = api.launch(objective=objectives.quadratic, space=SPACE, max_trials=2, name="elsewhere")
    launched.wait(timeout=120)
    job, captured = hpo(shell, "attach elsewhere")
    assert isinstance(job, api.Job) and job.name == "elsewhere" and len(widget_views(captured)) == 1
    summary, _ = hpo(shell, "status")  # the attached job is now this kernel's last job
    assert summary["status"] == "completed" and summary["complete"] == 2
    with pytest.raises(UsageError, match=r"job 'elsewhere' has completed .*pass a larger max_trials to continue it "
                                         r"\(.*`--max-trials N` in .*`%hpo resume`\)"):  # the magic's own words
        hpo(shell, "resume")


def test_list_and_compare_jobs_by_name_or_by_variable(shell):
    first = api.launch(objective=objectives.quadratic, space=SPACE, max_trials=3, name="first")
    first.wait(timeout=120)
    second = api.launch(objective=objectives.quadratic, space=SPACE, max_trials=2, name="second", strategy="random")
    second.wait(timeout=120)

    jobs, _ = hpo(shell, "list")
    assert list(jobs.index) == ["second", "first"]
    assert jobs.loc["first", "complete"] == 3 and jobs.loc["first", "status"] == "completed"
    assert jobs.loc["second", "best"] == second.best["value"]

    shell.push({"job1": first})
    table, captured = hpo(shell, "compare job1 second")
    assert list(table.index) == ["first", "second"] and len(widget_views(captured)) == 1
    assert table.loc["first", "best"] == first.best["value"] and table.loc["second", "trials"] == 2


@pytest.mark.parametrize(("line", "message"), [
    ("lanch quadratic", ("unknown subcommand 'lanch'; valid: launch, space, list, status, attach, stop, resume, "
                         "best, refit, compare, estimate, plan, campaign, help.")),
    ("launch", "%hpo launch needs an OBJECTIVE"),
    ("launch nothere --space sp", "no function or script named 'nothere' in the namespace"),
    ("launch number --space sp", "`number` is a int, not a function or a script path."),
    ("launch missing.py --space sp", "`trial.script` must be an existing file, but got 'missing.py'."),
    ("launch quadratic --space nope", "no search space named 'nope' in the namespace"),
    ("launch quadratic --space number", "`number` is a int, not a SearchSpace or a dict."),
    ("launch quadratic", ("no search space named 'space' in the namespace; define it with %%hpo space space, "
                          "or pass --space NAME.")),
    ("launch quadratic --space sp --bogus", "unrecognized arguments: --bogus"),
    ("launch quadratic --space sp --max-trials many", "argument --max-trials: invalid int value: 'many'"),
    ("launch quadratic --space sp --early-stopping sometimes", ("argument --early-stopping: invalid choice: "
                                                                "'sometimes'")),
    ("launch quadratic --space sp --maximize --minimize", "argument --minimize: not allowed with argument --maximize"),
    ("launch quadratic --space sp --max-trials 0", "`budget.max_trials` must be a positive integer, but got 0."),
    ("launch quadratic --space sp --name 'bad name'", "`name` must be 1-63 letters, digits or '-'"),
    ("launch quadratic --space sp --backend sagemaker", ("the sagemaker backend runs a training script in a "
                                                         "SageMaker container: give `trial.script`")),
    ("launch quadratic --space sp --backend cloud", "`backend` must be one of local, sagemaker, amt, but got 'cloud'"),
    ("launch 'unclosed", "%hpo: cannot read the line: No closing quotation."),
    ("status ghost", "no job named 'ghost' in the store"),
    ("best ghost", "no job named 'ghost' in the store"),
    ("stop ghost", "no job named 'ghost' in the store"),
    ("compare ghost", "no job named 'ghost' in the store"),
    ("status", "no job launched or attached in this kernel yet"),
    ("attach", "%hpo attach: the following arguments are required: JOB"),
    ("compare", "%hpo compare needs job names (JOB1 JOB2 ...) or --campaign NAME."),
    ("space number", "`number` is a int, not a SearchSpace or a dict."),
])
def test_bad_input_raises_a_short_usage_error_and_creates_no_job(shell, line, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        hpo(shell, line)
    assert api.list_jobs() == []


@pytest.mark.parametrize(("line", "cell", "message"), [
    ("launch", "trial: {function: quadratic}\nspace: sp\nbudgett: {max_trials: 3}\n",
     "unknown field(s) `budgett`; allowed:"),
    ("launch", "trial: {function: nowhere}\nspace: sp\n", "`trial.function`: no function named 'nowhere'"),
    ("launch", "trial: {function: quadratic}\nspace: {x: {type: float, low: 1, high: 0}}\n",
     "`space`: `low < high` must hold for 'x', but got low=1.0, high=0.0."),
    ("launch", "trial: {function: quadratic}\nspace: sp\nstrategy: hyperband\nearly_stopping: median\n",
     "the hyperband strategy does its own early stopping"),
    ("launch", "space: sp\n", "`trial` is required"),
    ("launch", "trial: {function: quadratic\n", "the spec is not valid YAML"),
    ("launch", "- trial\n- space\n", "the cell body must be a YAML mapping of spec fields"),
    ("launch --max-trials -1", "trial: {function: quadratic}\nspace: sp\n",
     "`budget.max_trials` must be a positive integer, but got -1."),
    ("list", "anything", "%%hpo list takes no cell body"),
])
def test_an_invalid_spec_cell_raises_the_cores_message_and_creates_no_job(shell, line, cell, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        hpo(shell, line, cell)
    assert api.list_jobs() == []


@pytest.mark.parametrize(("line", "cell", "message"), [
    ("launch", "trial: {function: quadratic}\nseed: 1\nspace: sp\nseed: 2\n",
     "the spec is not valid YAML: the key 'seed' appears twice (the %%hpo cell, line 5, column 1)"),
    ("launch", "trial: {function: quadratic}\nspace: sp\n  budget: 3\n",
     "the spec is not valid YAML: mapping values are not allowed here (the %%hpo cell, line 4, column 9)"),
    ("space bad", "x: [1,\n   2\n",
     "the search space is not valid YAML: expected ',' or ']', but got '<stream end>' (the %%hpo cell, line 4, "
     "column 1), while parsing a flow sequence that starts at line 2, column 4"),
], ids=["repeated key", "syntax error", "space cell"])
def test_a_cell_that_is_not_yaml_is_one_line_naming_the_cell_line(shell, line, cell, message):
    """The line counts the `%%hpo` line as 1, as the notebook numbers the cell's lines; PyYAML's own message spans
    4-7 lines and names "<unicode string>"."""
    with pytest.raises(UsageError) as raised:
        hpo(shell, line, cell)
    assert str(raised.value) == message
    assert api.list_jobs() == [] and "bad" not in shell.user_ns


@pytest.mark.parametrize(("line", "body", "size"), [
    ("launch", "trial: {function: quadratic}\nspace: sp\n# " + "é" * 600_000 + "\n", 1_200_042),
    ("space bad", "x: [1, 2]\n# " + "é" * 600_000 + "\n", 1_200_013),
    ("launch", "trial: {function: quadratic}\nspace: sp\n# " + "z" * 1_000_000 + "\n", 1_000_042),
], ids=["launch, 600,000 characters", "space, 600,000 characters", "launch, ASCII"])
def test_a_cell_is_limited_in_bytes_as_a_spec_file_is(shell, line, body, size):
    """The README's 1,000,000 bytes: a cell was counted in characters (1.2 MB of 'é' launched a job), and one too
    long was reported as "the spec is not valid YAML"."""
    with pytest.raises(UsageError) as raised:
        hpo(shell, line, body)
    assert str(raised.value) == f"a %%hpo cell must be at most 1,000,000 bytes, but it has {size:,}."
    assert api.list_jobs() == [] and "bad" not in shell.user_ns


def test_a_cell_beyond_a_yaml_limit_says_the_limit_not_invalid_yaml(shell):
    levels = "".join(f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 7))
    cell = "trial:\n  function: quadratic\n  hyperparameters:\n    a0: &a0 [x, x]\n" + levels + "space: sp\n"
    with pytest.raises(UsageError) as raised:
        hpo(shell, "launch", cell)
    assert str(raised.value) == ("`trial.hyperparameters.a5` must hold at most 100,000 values (counting each use of "
                                 "an alias as a copy), but it holds more.")
    assert api.list_jobs() == []


def test_line_launch_keep_alive_runs_the_next_launch_in_the_kept_runner(shell):
    import psutil

    first, _ = hpo(shell, "launch quadratic --space sp --max-trials 2 --name kept-1 --keep-alive 60")
    assert first.spec["warm_pool"]["keep_alive_s"] == 60
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    second, _ = hpo(shell, "launch quadratic --space sp --max-trials 2 --name kept-2 --keep-alive 0")
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    kept = first.attrs["runner"]["pid"]
    assert second.attrs["runner"]["pid"] == kept  # its workers too, unless a file beside the objective changed
    _, alive = psutil.wait_procs([psutil.Process(kept)] if psutil.pid_exists(kept) else [], timeout=15)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "it ends after the job that asked for 0 s"


def test_the_readmes_magics_example_runs_as_the_cells_it_shows(shell):
    """The README showed the three magics as one block, which fails as one cell: `%%hpo space` must be a cell's first
    line. Each of its code blocks runs here as a cell, after a cell that defines `objective` as the README says."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### In a notebook: `%hpo` magics and widgets\n", 1)[1].split("`%hpo launch` shows", 1)[0]
    cells = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(cells) == 3 and "an earlier cell" in section
    with capture_output():
        for cell in ["def objective(params):\n    return params['max_depth'] / 10 + params['eta']\n", *cells]:
            result = shell.run_cell(cell)
            assert result.success, (cell, result.error_before_exec or result.error_in_exec)
    job = shell.user_ns["job"]
    assert isinstance(shell.user_ns["credit_space"], SearchSpace)
    assert job.wait(timeout=180) == JobStatus.COMPLETED and job.summary()["complete"] == 40
