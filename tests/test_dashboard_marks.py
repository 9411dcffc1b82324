"""What the dashboard's rows carry for its marks: the trials that seeded a warm-started job (those the runner took,
even after their job gained more), and each trial's feasibility, broken constraints and extra metrics."""

from __future__ import annotations

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets import Dashboard
from jupyter_hpo.widgets._dashboard import seeded_rows
from tests import objectives



def latency_objective(p):
    return {"objective": p["x"], "latency_ms": 10 * p["x"], "size_mb": 2.0}


def test_the_seeded_trials_are_those_the_runner_took_with_the_new_space_s_parameters(home):
    first = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": -3, "high": 3}},
                       strategy="random", seed=1, max_trials=10, name="first")
    assert first.wait(timeout=120) == JobStatus.COMPLETED
    # the range shrinks to [0, 3] and a parameter is added: trials with x < 0 do not fit
    second = api.launch(objective=objectives.quadratic, seed=2, max_trials=3, name="second", warm_start=["first"],
                        space={"x": {"type": "float", "low": 0, "high": 3}, "y": {"type": "int", "low": 1, "high": 4}})
    assert second.wait(timeout=120) == JobStatus.COMPLETED
    fit = [r for r in first.trial_records() if r["state"] == "complete" and 0 <= r["params"]["x"] <= 3]
    seeded = seeded_rows(second)
    assert len(seeded) == second.summary()["seeded"] == len(fit) > 0
    assert seeded == [{"job": "first", "number": r["number"], "value": r["value"], "params": {"x": r["params"]["x"]}}
                      for r in fit]
    assert seeded_rows(first) == []
    assert second.attrs["seeded_trials"] == {"first": [r["number"] for r in fit]}  # the runner's own record

    # the earlier job gains trials afterwards: the marks stay the trials that seeded the second job
    assert first.resume(max_trials=20).wait(timeout=120) == JobStatus.COMPLETED
    assert sum(r["state"] == "complete" and 0 <= r["params"]["x"] <= 3 for r in first.trial_records()) > len(fit)
    assert seeded_rows(second) == seeded
    # a job that recorded no list (an older jupyter-hpo, or too many): the runner's rule is applied again, now
    second.store.set_job_attrs("second", seeded_trials=None)
    fits_now = [r for r in first.trial_records() if r["state"] == "complete" and 0 <= r["params"]["x"] <= 3]
    assert [(s["job"], s["number"]) for s in seeded_rows(second)] == [("first", r["number"]) for r in fits_now]
    second.store.set_job_attrs("second", seeded_trials={"first": [r["number"] for r in fit]})
    sent = []
    dash = Dashboard(second)
    dash.send = lambda content, buffers=None: sent.append(content)
    dash._handle_custom_msg({"type": "hello"}, [])
    assert sent[0]["seeded"] == seeded and len(sent[0]["trials"]) == 3


def test_rows_carry_feasibility_violations_and_extra_metrics(home):
    job = api.launch(objective=latency_objective, space={"x": [0.2, 0.8]}, strategy="grid", max_trials=2,
                     name="limits", constraints={"latency_ms": {"max": 5}})
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    by_x = {r["params"]["x"]: r for r in Dashboard(job).rows}
    assert (by_x[0.2]["feasible"], by_x[0.2]["violations"]) == (True, [])
    assert by_x[0.8]["feasible"] is False and by_x[0.8]["violations"] == ["latency_ms=8 > max 5"]
    assert by_x[0.8]["metrics"] == {"latency_ms": 8.0, "size_mb": 2.0}
