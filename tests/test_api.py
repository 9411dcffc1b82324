"""The Python API: script trials, YAML specs, listing, attaching, resuming, detachment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import JobNotFoundError, JobStateError
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import REPO, wait_for

SCRIPT = '''
import argparse, sys
from jupyter_hpo import trial
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--shift", type=float, default=0)
p.add_argument("--mode", default="ok")
a = p.parse_args()
for step in range(3):
    trial.report(a.x + step, step)
if a.mode == "silent":
    print("nothing to see")
elif a.mode == "exit":
    print("giving up"); sys.exit(2)
else:
    print(f"epoch done\\nloss = {a.x + a.shift:.4f}")
'''


def write_spec(tmp_path: Path, body: str) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    spec = tmp_path / "tuning.yaml"
    spec.write_text(textwrap.dedent(body))
    return spec


def test_a_yaml_spec_with_a_script_trial_runs_in_warm_workers(home, tmp_path):
    spec = write_spec(tmp_path, """
        name: script-job
        objective: {metric: loss, direction: minimize}
        trial: {script: train.py, hyperparameters: {shift: 100}}
        space: {x: {type: float, low: 0, high: 1}}
        budget: {max_trials: 6, max_parallel: 2}
    """)
    job = api.launch(spec)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = job.trial_records()
    assert len(records) == 6 and all(r["state"] == "complete" for r in records)
    for r in records:  # the regex read the script's output; static hyperparameters reached it
        assert r["value"] == pytest.approx(r["params"]["x"] + 100, abs=1e-4)
        assert [round(v, 6) for v in r["intermediate"].values()] == [round(r["params"]["x"] + s, 6) for s in range(3)]
    assert sum(r["warm"] for r in records) == 4
    assert job.best["value"] == min(r["value"] for r in records)


@pytest.mark.parametrize(("mode", "error"), [
    ("silent", "no output line matched the objective regex"),
    ("exit", "the script exited with code 2; last output: giving up"),
])
def test_script_failures_say_why(home, tmp_path, mode, error):
    spec = write_spec(tmp_path, f"""
        objective: {{metric: loss}}
        trial: {{script: train.py, hyperparameters: {{mode: {mode}}}}}
        space: {{x: {{type: float, low: 0, high: 1}}}}
        budget: {{max_trials: 1}}
    """)
    job = api.launch(spec)
    job.wait(timeout=60)
    (record,) = job.trial_records()
    assert record["state"] == "fail" and record["error"].startswith(error)


@pytest.mark.parametrize(("body", "options"), [
    ("objective: {metric: loss, direction: minimize}\ntrial: {script: train.py}\n", {"space": "x"}),
    ("objective: {metric: loss, direction: minimize}\ntrial: {script: train.py}\nspace: {x: {type: float, low: 0, "
     "high: 1}}\nstrategy: grid\n", {"strategy": "random"}),
    ("space: {x: {type: float, low: 0, high: 1}}\n", {"objective": "quadratic"}),
], ids=["no space + space=", "grid + strategy=random", "no trial + objective="])
def test_keyword_options_complete_a_yaml_spec_file_as_they_would_a_dict(home, tmp_path, monkeypatch, body, options):
    """README: "Keyword options override the spec's values", whether the spec is a dict or a YAML path; the file
    was validated on its own first, so a YAML that the keywords complete was refused (`space` is required...)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT)
    (folder / "tuning.yaml").write_text(body + "budget: {max_trials: 2, max_parallel: 1}\n")
    monkeypatch.chdir(tmp_path)  # the script resolves from the YAML's folder, as without options
    given = {"x": {"x": {"type": "float", "low": 0, "high": 1}}, "quadratic": objectives.quadratic, "random": "random"}
    job = api.launch(folder / "tuning.yaml", max_trials=3, **{k: given[v] for k, v in options.items()})
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = job.trial_records()
    assert len(records) == 3 and all(r["state"] == "complete" for r in records)
    assert job.spec["strategy"] == options.get("strategy", "bayesian")
    if "objective" in options:
        assert [r["value"] for r in records] == pytest.approx([-((r["params"]["x"] - 1) ** 2) for r in records])
    else:
        assert job.spec["trial"]["script"] == str((folder / "train.py").resolve())
        assert [r["value"] for r in records] == pytest.approx([r["params"]["x"] for r in records], abs=1e-4)


def test_hyperparameters_option_merges_into_the_specs_as_warm_pool_does(home):
    """`hyperparameters={"folds": 3}` replaced the spec's whole trial.hyperparameters, so the trials lost `data`,
    while a `warm_pool` option merges key by key; both merge now, a key given winning."""
    spec = {"trial": {"hyperparameters": {"folds": 5, "data": "train.csv"}},
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "warm_pool": {"max_trials_per_worker": 50}, "budget": {"max_trials": 2, "max_parallel": 1}}
    job = api.launch(spec, objective=objectives.static_values, hyperparameters={"folds": 3}, max_memory_mb=4096,
                     name="merged")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.spec["trial"]["hyperparameters"] == {"folds": 3, "data": "train.csv"}
    assert job.spec["warm_pool"]["max_trials_per_worker"] == 50 and job.spec["warm_pool"]["max_memory_mb"] == 4096
    trials = job.trials()
    assert list(trials["metric_folds"]) == [3.0, 3.0] and list(trials["metric_has_data"]) == [1.0, 1.0]


def test_list_attach_and_the_stored_attributes(home):
    a = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 2}},
                   max_trials=3, name="first")
    a.wait(timeout=60)
    b = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 2}},
                   max_trials=2, name="second")
    b.wait(timeout=60)
    jobs = api.list_jobs()
    assert [j["name"] for j in jobs] == ["second", "first"]
    assert jobs[1]["complete"] == 3 and jobs[1]["status"] == "completed" and jobs[1]["backend"] == "local"
    assert api.attach("first").summary()["best"] == jobs[1]["best"]
    with pytest.raises(JobNotFoundError, match="no job named 'third'"):
        api.attach("third")
    study = optuna.load_study(study_name="first", storage=api.open_store().url)  # optuna-dashboard's view
    assert {"spec", "backend", "status", "runner", "heartbeat", "created", "ended"} <= set(study.user_attrs)
    assert {"worker", "warm", "startup_s", "run_s", "seed"} <= set(study.trials[0].user_attrs)


def test_a_completed_job_resumes_only_with_a_larger_budget(home):
    job = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 2}},
                     max_trials=2, name="more")
    job.wait(timeout=60)
    with pytest.raises(JobStateError, match="has completed .* pass a larger max_trials"):
        job.resume()
    job.resume(max_trials=5)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert len(job.trial_records()) == 5 and job.summary()["max_trials"] == 5


def test_a_failed_job_that_used_its_budget_is_not_resumed_for_nothing(home):
    """A plain resume of a job that failed after all its trials started a runner that ran none and wrote "no trial
    completed (budget of 2 trials reached)" over the reason that named the last error. It is refused as a
    completed job's is; a larger budget runs more."""
    job = api.launch(objective=objectives.always_fails, space={"x": {"type": "float", "low": 0, "high": 1}},
                     max_trials=2, max_parallel=1, name="spent")
    assert job.wait(timeout=60) == JobStatus.FAILED
    before = job.attrs
    assert "last error" in before["reason"], before["reason"]
    with pytest.raises(JobStateError, match=r"job 'spent' failed after all 2 trials of its budget \(.*last error.*\); "
                                            r"pass a larger max_trials to run more \(`max_trials=N`; "
                                            r"`--max-trials N` in `jupyter hpo resume` and `%hpo resume`\)\."):
        job.resume()
    after = job.attrs
    assert after["reason"] == before["reason"] and after["runner"] == before["runner"], "nothing started or changed"
    job.resume(max_trials=3)
    assert job.wait(timeout=60) == JobStatus.FAILED and len(job.trial_records()) == 3


def test_resume_refuses_a_budget_the_job_has_already_used(home):
    """`resume(max_trials=N)` with N at or below the trials the job counted started a runner for nothing and stored
    the smaller budget (the job showed 3 trials against a budget of 2); it is refused, and nothing changes."""
    job = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 2}},
                     max_trials=3, name="used")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    before = job.attrs
    for n in (2, 3):
        with pytest.raises(JobStateError, match=rf"job 'used' has already run 3 trial\(s\) of its budget, so "
                                                rf"max_trials={n} leaves none to run; pass a larger max_trials"):
            job.resume(max_trials=n)
    after = job.attrs
    assert job.status == JobStatus.COMPLETED and after["reason"] == before["reason"]
    assert after["runner"] == before["runner"], "no runner was started"
    assert job.summary()["max_trials"] == 3 and len(job.trial_records()) == 3


def test_a_grid_job_that_ran_every_point_is_not_resumed_for_nothing(home):
    """A grid runs each point once. Following the refusal's advice, `resume(max_trials=20)` of a 3-point grid job
    stored the budget, started a runner that ended at once ("budget of 3 trials reached") and said nothing; its
    summary showed a budget of 20 (and of 10 from launch). A grid job's budget is its points, when fewer."""
    grid = {"x": {"type": "int", "low": 0, "high": 2}}
    job = api.launch(objective=objectives.quadratic, space=grid, strategy="grid", max_trials=10, name="grid3")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.summary()["max_trials"] == 3 and len(job.trial_records()) == 3
    before = job.attrs
    for kwargs in ({}, {"max_trials": 20}):
        with pytest.raises(JobStateError, match=r"job 'grid3' has run all 3 points of its grid, and a grid job runs "
                                                r"each point once .* a resume has nothing to run"):
            job.resume(**kwargs)
    after = job.attrs
    assert after["runner"] == before["runner"] and after["spec"] == before["spec"], "nothing started or changed"

    # a grid job stopped with points left resumes, and runs exactly those
    wide = {"x": {"type": "int", "low": 0, "high": 5}}
    job = api.launch(objective=objectives.sleepy, space=wide, hyperparameters={"sleep": 0.3}, strategy="grid",
                     max_trials=50, max_parallel=1, name="grid6")
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) >= 2, timeout=60)
    job.stop()
    assert job.summary()["max_trials"] == 6
    job.resume(max_trials=100)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    done = [r for r in job.trial_records() if r["state"] == "complete"]
    assert sorted(r["params"]["x"] for r in done) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("rule", ["target", "patience"])
def test_a_job_that_ended_on_its_completion_rule_is_not_resumed_for_nothing(home, rule):
    """Its runner replayed the trials, found the rule met and ended before running one: `resume(max_trials=N)`
    started a runner that ran nothing and said nothing, and `resume()` advised a larger max_trials."""
    options = {"target": 0.5} if rule == "target" else {"patience": 2, "max_parallel": 1}
    job = api.launch(objective=lambda p: 1.0, space={"x": {"type": "float", "low": 0, "high": 1}}, max_trials=20,
                     name=f"ended-{rule}", **options)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    before = job.attrs
    assert before["reason"].startswith("target 0.5 reached" if rule == "target" else "no improvement in the last 2")
    for kwargs in ({}, {"max_trials": 40}):
        with pytest.raises(JobStateError, match=rf"job 'ended-{rule}' ended on its completion rule \(.*\), which "
                                                rf"would end it again at once.*warm_start: \{{from: \[ended-{rule}\]"):
            job.resume(**kwargs)
    after = job.attrs
    assert after["runner"] == before["runner"] and after["spec"] == before["spec"], "nothing started or changed"


def test_a_job_that_ran_out_of_time_resumes_for_another_max_runtime(home):
    """`budget.max_runtime` bounds each run of the runner: a resume runs the budget's trials left, for another
    max_runtime. It was refused with "pass a larger max_trials", though the budget had trials left."""
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.2}, max_runtime=6, max_trials=200, max_parallel=1, name="timed")
    # 6 s: room for a worker's cold start on a loaded machine (at 1.5 s a CI run completed no trial in time)
    assert job.wait(timeout=90) == JobStatus.COMPLETED and job.attrs["reason"] == "max_runtime of 6 s reached"
    first = sum(r["state"] == "complete" for r in job.trial_records())
    assert 0 < first < 200
    job.resume()
    assert job.wait(timeout=90) == JobStatus.COMPLETED and job.attrs["reason"] == "max_runtime of 6 s reached"
    assert sum(r["state"] == "complete" for r in job.trial_records()) > first


def test_a_stopped_job_resumes_with_its_own_budget_given_again(home):
    """Interrupted trials do not count (they run again), so a job stopped mid-way resumes with max_trials=its
    budget."""
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=6, max_parallel=2, name="midway")
    wait_for(lambda: sum(r["state"] == "complete" for r in job.trial_records()) >= 1, timeout=60)
    assert job.stop(timeout=30) == JobStatus.STOPPED
    assert sum(r["state"] == "complete" for r in job.trial_records()) < 6
    job.resume(max_trials=6)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert sum(r["state"] == "complete" for r in job.trial_records()) == 6


def test_reverse_log_parameters_come_back_in_their_own_range(home):
    job = api.launch(objective=lambda p: p["momentum"], space={"momentum": {"type": "float", "low": 0.5,
                     "high": 0.999, "scaling": "reverse_log"}}, max_trials=8, name="rlog")
    job.wait(timeout=60)
    values = [r["params"]["momentum"] for r in job.trial_records()]
    assert len(values) == 8 and all(0.5 <= v <= 0.999 for v in values)
    assert [r["value"] for r in job.trial_records()] == pytest.approx(values)
    assert "1-momentum" in job.raw_trials()[0].params, "stored under the optimizer's name"


def test_the_job_outlives_the_process_that_launched_it(home, tmp_path):
    code = textwrap.dedent("""
        import json, sys
        from jupyter_hpo import api
        from tests import objectives
        job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                         hyperparameters={"sleep": 0.3}, max_trials=6, name="orphan")
        print(json.dumps({"pid": __import__("os").getpid()}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "JUPYTER_HPO_HOME": str(home)}, check=True)
    launcher = int(out.stdout.strip().splitlines()[-1].split(":")[1].strip(" }"))
    job = api.attach("orphan")
    runner = wait_for(lambda: (job.attrs.get("runner") or {}).get("pid"), timeout=30)
    assert runner != launcher and os.getsid(runner) == runner, "the runner leads its own session"
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert len(job.trial_records()) == 6


def test_a_jobs_space_is_that_of_the_job_now_under_its_name(home):
    """A job's space is read once per process; a job deleted and made again under its name (with another space)
    was given the old job's space, and its trials' parameters converted with it."""
    from jupyter_hpo.store import Store

    store = Store(home=home)
    first, then = {"x": {"type": "float", "low": 0, "high": 1}}, {"k": {"type": "int", "low": 1, "high": 9}}
    store.create_job("again", {"backend": {"name": "local"}, "space": first}, "maximize")
    assert list(api.attach("again").space.to_dict()) == ["x"]
    store.delete_job("again")
    store.create_job("again", {"backend": {"name": "local"}, "space": then}, "maximize")
    assert list(api.attach("again").space.to_dict()) == ["k"]


@pytest.mark.parametrize("name", ["campaign", "estimate"])
def test_the_packages_functions_stay_functions_after_their_submodule_of_the_same_name_is_imported(name):
    """``hpo.campaign([...])`` and ``hpo.estimate(...)`` are functions (the README calls them), and modules of
    the same names exist: once anything imported the module (``%hpo campaign``, the campaign view, ``from
    jupyter_hpo.campaign import ...``), the call raised "'module' object is not callable"."""
    code = (f"import jupyter_hpo as hpo, sys\nfrom jupyter_hpo.{name} import __name__ as imported\n"
            f"print(type(hpo.{name}).__name__, sys.modules[imported].__name__)\n"
            f"from jupyter_hpo import {name}\nprint(type({name}).__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["function", f"jupyter_hpo.{name}", "function"], done.stderr
