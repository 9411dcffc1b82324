"""What the store records is what the trial ran and reported: out-of-range steps, non-UTF-8 scripts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from jupyter_hpo import api, trial
from jupyter_hpo.exceptions import JobNotFoundError
from jupyter_hpo.store import JobStatus

X = {"x": {"type": "float", "low": 0, "high": 1}}


def huge_step_on_the_second_trial(p):
    trial.report(0.5, step=0)
    if trial.params()["x"] == 0.5:
        trial.report(0.25, step=2**63)
    return p["x"]


def test_a_report_step_out_of_range_fails_that_trial_only_with_the_rule(home):
    job = api.launch(objective=huge_step_on_the_second_trial, space={"x": {"type": "categorical",
                     "choices": [0.25, 0.5, 0.75]}}, strategy="grid", max_trials=3, name="huge-step")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = {r["params"]["x"]: r for r in job.trial_records()}
    assert records[0.5]["state"] == "fail"
    assert f"`step` must be an integer from 0 to {2**31 - 1}, but got {2**63}" in records[0.5]["error"]
    assert records[0.25]["state"] == records[0.75]["state"] == "complete"
    assert records[0.25]["intermediate"] == {"0": 0.5}


def reports_a_step_twice_and_a_nan(p):
    trial.report(0.9, step=0)
    trial.report(0.0, step=0)  # the same step again
    trial.report(float("nan"), step=1)
    trial.report(0.7, step=2)
    return p["x"]


def test_a_repeated_step_keeps_its_first_value_and_a_nan_is_said_not_recorded(home):
    """Optuna's pruner keeps a step's first value; the store kept the last, so what the user saw was not what the
    pruner had used; a NaN report vanished without a word."""
    job = api.launch(objective=reports_a_step_twice_and_a_nan, space=X, max_trials=2, max_parallel=1,
                     name="reports")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert [r["intermediate"] for r in job.trial_records()] == [{"0": 0.9, "2": 0.7}] * 2
    notes = [n["text"] for n in job.attrs["notes"]]
    assert notes.count("trial 0 reported step 0 twice: the first value is kept (the one the pruner uses), later "
                       "ones are not recorded (said once per job)") == 1
    assert notes.count("trial 0 reported nan at step 1: a report that is not a finite number is not recorded, and "
                       "the pruner does not see it (said once per job)") == 1
    assert len(notes) == 2


@pytest.mark.parametrize("step", [-1, 2**31, 1.5, "two", True])
def test_report_refuses_a_bad_step_outside_a_trial_too(step):
    with pytest.raises(ValueError, match="`step` must be an integer from 0 to 2147483647"):
        trial.report(0.5, step=step)


def test_report_takes_the_largest_step_and_integral_floats():
    trial.report(0.5, step=2**31 - 1)
    trial.report(0.5, step=3.0)


def test_a_latin1_script_with_a_coding_line_runs(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_bytes(textwrap.dedent("""\
        # -*- coding: latin-1 -*-
        import argparse
        from jupyter_hpo import trial
        NAME = "Gauß-Modell für Kredit"
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        a = p.parse_args()
        print(f"{NAME}: objective={a.x * 2}")
    """).encode("latin-1"))
    job = api.launch(objective=str(script), space=X, max_trials=2, name="latin1")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    assert [r["state"] for r in records] == ["complete", "complete"], [r["error"] for r in records]
    assert all(r["value"] == pytest.approx(2 * r["params"]["x"], rel=1e-6) for r in records)


def test_a_job_whose_every_trial_failed_has_failed_and_the_cli_exits_1(home):
    import subprocess
    import sys

    from tests import objectives

    job = api.launch(objective=objectives.always_fails, space=X, max_trials=3, name="all-failed")
    assert job.wait(timeout=120) == JobStatus.FAILED
    assert job.attrs["reason"].startswith("no trial completed (budget of 3 trials reached); last error: ")
    assert "always fails" in job.attrs["reason"]
    show = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "resume", "all-failed", "--max-trials", "4"],
                          capture_output=True, text=True, timeout=180)
    assert show.returncode == 1, show.stdout + show.stderr
    assert "no trial completed" in show.stdout


def test_a_study_without_a_job_spec_is_no_job(home, tmp_path):
    """A study made with Optuna's own API in the store's database (or a job caught between its creation and its
    spec's write) is not listed, and no front door reads or writes it: it was listed as a pending job with the
    wrong direction, and a stop wrote jupyter-hpo's attributes into it."""
    import optuna

    store = api.open_store()
    study = optuna.create_study(study_name="plain", storage=store.url, direction="minimize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert api.list_jobs() == []
    with pytest.raises(JobNotFoundError, match=r"'plain' in the store at .* is an Optuna study without a job spec"):
        api.Job("plain").stop()
    cli = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "stop", "plain"], capture_output=True, text=True,
                         timeout=60)
    assert cli.returncode == 2 and "is an Optuna study without a job spec" in cli.stderr, cli.stdout + cli.stderr
    assert optuna.load_study(study_name="plain", storage=store.url).user_attrs == {}, "nothing written into it"
