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
