"""Warm start: ``warm_start: {from: [JOB, ...]}`` seeds a job's sampler with earlier jobs' complete trials."""

from __future__ import annotations

import re
from typing import Any

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for


def minimal(**kw: Any) -> dict[str, Any]:
    return {"name": "new", "trial": {"function": objectives.quadratic},
            "space": {"x": {"type": "float", "low": 0, "high": 1}}, **kw}


@pytest.mark.parametrize("value, names", [
    ({"from": ["a", "b", "a"]}, ("a", "b")), (["a"], ("a",)), ("a", ("a",)), (None, ()), ({"from": None}, ()),
])
def test_warm_start_names_earlier_jobs(value: Any, names: tuple[str, ...]):
    spec = TuningSpec.from_dict(minimal(warm_start=value))
    assert spec.warm_start == names
    again = TuningSpec.from_dict(spec.to_dict())
    assert again.warm_start == names
    assert ("warm_start" in spec.to_dict()) == bool(names)


@pytest.mark.parametrize("value, message", [
    ({"from": [1]}, "`warm_start.from` must be a list of job names, but got [1]."),
    ({"from": ["a b"]}, "`warm_start.from` must be a list of job names (1-63 letters, digits or '-'), but got 'a b'."),
    ({"from": ["new"]}, "`warm_start.from` must name earlier jobs, not this job, but got 'new'."),
    ({"jobs": ["a"]}, "unknown field(s) `warm_start.jobs`; allowed in `warm_start`: from."),
    (3, "`warm_start.from` must be a list of job names, but got 3."),
])
def test_bad_warm_start_is_refused(value: Any, message: str):
    with pytest.raises(SpecError, match=re.escape(message)):
        TuningSpec.from_dict(minimal(warm_start=value))


def test_warm_start_is_refused_for_grid_and_amt():
    with pytest.raises(SpecError, match=r"does not work with `strategy: grid`.*but got strategy 'grid'"):
        TuningSpec.from_dict(minimal(warm_start=["a"], strategy="grid",
                                     space={"x": {"type": "int", "low": 0, "high": 3}}))
    with pytest.raises(SpecError, match=r"the amt backend does not use; use `backend.options.warm_start"):
        TuningSpec.from_dict(minimal(warm_start=["a"], backend="amt"))


def test_a_warm_start_from_a_missing_job_writes_nothing(home):
    with pytest.raises(SpecError, match=re.escape("`warm_start.from` must name jobs in the store, but got 'gone', "
                                                  "which is not one.")):
        api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                   warm_start=["gone"], name="seeded")
    assert api.list_jobs() == []


def test_a_job_is_seeded_with_the_earlier_jobs_trials_that_fit_its_space(home):
    first = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": -3, "high": 3}},
                       strategy="random", seed=1, max_trials=10, name="first")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    xs = [r["params"]["x"] for r in first.trial_records() if r["state"] == "complete"]
    fit = sum(0 <= x <= 3 for x in xs)
    assert 0 < fit < len(xs) == 10  # the seed gives trials on both sides of 0

    # the range shrinks to [0, 3] and a parameter is added: trials with x < 0 are skipped, the others taken
    second = api.launch(objective=objectives.quadratic, seed=2, max_trials=4, name="second", warm_start=["first"],
                        space={"x": {"type": "float", "low": 0, "high": 3}, "y": {"type": "int", "low": 1, "high": 4}})
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    summary = second.summary()
    assert summary["seeded"] == fit and summary["trials"] == 4  # seeded trials are not the job's own
    assert second.attrs["seeded_skipped"] == 10 - fit
    assert any(f"warm start: {fit} complete trial(s) taken from first; {10 - fit} skipped" in n
               for n in summary["notes"]), summary["notes"]
    assert first.summary()["seeded"] == 0


def test_a_resumed_job_keeps_the_trials_its_start_took_when_the_earlier_job_ran_on(home):
    """A resume seeded the sampler again from the earlier job as it was then and rewrote ``seeded``: 4 trials
    taken at the start became 7 once the earlier job had run 3 more, and the dashboard's marks changed with it."""
    x = {"x": {"type": "float", "low": 0, "high": 1}}
    first = api.launch(objective=objectives.sleepy, space=x, hyperparameters={"sleep": 0.0}, strategy="random",
                       seed=1, max_trials=4, name="earlier")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    second = api.launch(objective=objectives.sleepy, space=x, hyperparameters={"sleep": 0.3}, max_trials=8,
                        max_parallel=1, name="later", warm_start=["earlier"])
    wait_for(lambda: second.summary()["complete"] >= 2, timeout=60)
    assert second.stop(timeout=30) == JobStatus.STOPPED
    taken = {"earlier": [0, 1, 2, 3]}
    assert (second.summary()["seeded"], second.attrs["seeded_trials"]) == (4, taken)
    first.resume(max_trials=7)  # the earlier job runs on: 3 more complete trials
    assert first.wait(timeout=120) == JobStatus.COMPLETED and first.summary()["complete"] == 7
    second.resume()
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert (second.summary()["seeded"], second.attrs["seeded_trials"]) == (4, taken)
    assert sum("warm start: 4 complete trial(s) taken from earlier" in n for n in second.summary()["notes"]) == 1


def test_a_resume_says_so_when_the_trials_its_start_took_were_too_many_to_list(home):
    """Above ``SEEDED_TRIALS_MAX`` seeded trials their list is not kept: a resume takes the earlier jobs' trials as
    they are now, and says so (its seeded figures stay those of its start)."""
    from jupyter_hpo.runner._warm_start import SEEDED_TRIALS_MAX

    x = {"x": {"type": "float", "low": 0, "high": 1}}
    first = api.launch(objective=objectives.sleepy, space=x, hyperparameters={"sleep": 0.0}, max_trials=3,
                       name="source")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    second = api.launch(objective=objectives.sleepy, space=x, hyperparameters={"sleep": 0.3}, max_trials=6,
                        max_parallel=1, name="many", warm_start=["source"])
    wait_for(lambda: second.summary()["complete"] >= 1, timeout=60)
    assert second.stop(timeout=30) == JobStatus.STOPPED
    second.store.set_job_attrs("many", seeded_trials=None)  # as a job that took over SEEDED_TRIALS_MAX has it
    second.resume()
    assert second.wait(timeout=120) == JobStatus.COMPLETED and second.summary()["seeded"] == 3
    assert any(f"the 3 trials taken at the start were too many to list (over {SEEDED_TRIALS_MAX})" in n
               for n in second.summary()["notes"]), second.summary()["notes"]


def seeded(spec: dict[str, Any]) -> tuple[list[Any], int, list[str]]:
    """What ``spec``'s warm start puts in a fresh study: its trials, the number skipped, the notes."""
    import optuna

    from jupyter_hpo.runner._warm_start import seed_from_jobs

    parsed, notes = TuningSpec.from_dict(spec), []
    study = optuna.create_study(direction=parsed.objective.direction)
    _, skipped = seed_from_jobs(api.open_store(), parsed, study, parsed.space.to_optuna(), notes.append)
    return study.trials, skipped, notes


@pytest.mark.parametrize("before, after", [("linear", "reverse_log"), ("reverse_log", "log")])
def test_a_parameter_whose_scaling_changed_is_the_same_parameter(home, before, after):
    """``reverse_log`` samples ``1 - x``, under another name: the earlier trials' x was dropped (taken without it,
    or all skipped as having no parameter in the new space)."""
    def x(scaling: str, low: float = 0.01) -> dict[str, Any]:
        return {"x": {"type": "float", "low": low, "high": 0.99, **({} if scaling == "linear" else
                                                                    {"scaling": scaling})}}
    first = api.launch(objective=objectives.quadratic, space=x(before), strategy="random", seed=1, max_trials=6,
                       name="first")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    xs = [r["params"]["x"] for r in first.trial_records()]
    trials, skipped, _ = seeded(minimal(space=x(after), warm_start=["first"]))
    assert skipped == 0 and len(trials) == 6
    name = "1-x" if after == "reverse_log" else "x"
    got = [1 - t.params[name] if after == "reverse_log" else t.params[name] for t in trials]
    assert got == pytest.approx(xs)
    narrowed, skipped, _ = seeded(minimal(space=x(after, low=0.5), warm_start=["first"]))
    assert (len(narrowed), skipped) == (sum(v >= 0.5 for v in xs), sum(v < 0.5 for v in xs))


def test_seeded_trials_carry_the_new_jobs_constraints(home):
    """With constraints, a seeded trial is feasible or not by what it returned: they all went in as feasible, so
    the earlier job's best (infeasible) trials led the sampler, and a warm-started job could end with none
    feasible."""
    kw = {"objective": objectives.loss_and_size, "space": {"x": {"type": "float", "low": 0, "high": 1}},
          "metric": "loss", "direction": "minimize", "max_parallel": 1, "seed": 0}
    first = api.launch(strategy="random", max_trials=8, name="first", **kw)
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    xs = [r["params"]["x"] for r in first.trial_records()]
    assert any(v > 0.5 for v in xs) and any(v <= 0.5 for v in xs)
    spec = minimal(space=kw["space"], objective={"metric": "loss", "direction": "minimize"}, warm_start=["first"],
                   constraints={"size": {"max": 0.5}, "calibration": {"max": 0.1}})
    trials, _, _ = seeded(spec)
    from jupyter_hpo.records import CONSTRAINT_VALUES
    expected = [(pytest.approx(v - 0.5), 1.0) for v in xs]  # calibration: not returned, so broken
    assert [t.system_attrs["constraints"] for t in trials] == expected
    assert [tuple(t.user_attrs[CONSTRAINT_VALUES]) for t in trials] == expected
    # end to end: the warm-started job finds feasible trials, and its best is one
    second = api.launch(max_trials=12, name="second", warm_start=["first"], constraints={"size": {"max": 0.5}}, **kw)
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    assert second.best["params"]["x"] <= 0.5 and sum(r["feasible"] for r in second.trial_records()) >= 4


def test_a_job_with_another_direction_takes_nothing_and_says_why(home):
    first = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                       strategy="random", seed=1, max_trials=3, name="maxi")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    second = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                        direction="minimize", max_trials=2, name="mini", warm_start="maxi")
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    summary = second.summary()
    assert summary["seeded"] == 0
    assert any("job 'maxi' optimises 'objective' (maximize), not 'objective' (minimize); nothing taken" in n
               for n in summary["notes"]), summary["notes"]


def test_hpo_launch_warm_start_seeds_from_the_named_jobs(home):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from jupyter_hpo.magics import HpoMagics

    first = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                       strategy="random", seed=1, max_trials=3, name="earlier")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    shell = InteractiveShell.instance()
    shell.register_magics(HpoMagics(shell))
    shell.push({"quadratic": objectives.quadratic, "sp": {"x": {"type": "float", "low": 0, "high": 1}}})
    try:
        with capture_output():
            job = shell.run_line_magic("hpo", "launch quadratic --space sp --max-trials 2 --name later "
                                              "--warm-start earlier")
        assert job.spec["warm_start"] == {"from": ["earlier"]}
        assert job.wait(timeout=120) == JobStatus.COMPLETED
        assert job.summary()["seeded"] == 3
    finally:
        shell.reset(new_session=False)
