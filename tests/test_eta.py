"""The dashboard's elapsed time and ETA (``analytics.timing``) on fixed trial timelines."""

from __future__ import annotations

import pytest

from jupyter_hpo.analytics import timing


def row(started: float, completed: float | None, state: str = "complete") -> dict:
    return {"state": state, "started": started, "completed": completed, "interrupted": False}


def test_the_eta_is_the_pace_of_the_trials_times_the_trials_left():
    rows = [row(0, 10), row(10, 20), row(20, 30)]  # 3 trials of 10 s, one after another
    t = timing({"status": "running", "created": 0, "max_trials": 10}, rows, now=30)
    assert t["done"] == 3 and t["elapsed_s"] == 30 and t["eta_s"] == pytest.approx(70)


def test_parallel_trials_count_their_shared_time_once():
    rows = [row(0, 10), row(0, 10), row(10, 20), row(10, 20)]  # 2 at a time: 4 trials in 20 s
    t = timing({"status": "running", "created": 0, "max_trials": 8}, rows, now=20)
    assert t["eta_s"] == pytest.approx(20)


def test_a_job_stopped_for_an_hour_and_resumed_is_not_given_the_hour_as_work():
    """3 trials of 1 s, stopped for an hour, resumed a second ago: 7 trials left take about 7 s, not 2.7 h."""
    rows = [row(0, 1), row(1, 2), row(2, 3), row(3603, None, state="running")]
    t = timing({"status": "running", "created": 0, "max_trials": 10}, rows, now=3604)
    assert t["elapsed_s"] == 3604  # the time since launch stays what it is
    assert t["eta_s"] == pytest.approx(4 / 3 * 7)


def test_the_eta_is_at_most_what_max_runtime_leaves_of_the_run():
    rows = [row(float(i), i + 1.0) for i in range(100)]
    t = timing({"status": "running", "created": 0, "max_trials": 1000}, rows, now=101, max_runtime=120, run_started=0)
    assert t["eta_s"] == pytest.approx(19)
    unbounded = timing({"status": "running", "created": 0, "max_trials": 1000}, rows, now=101)
    assert unbounded["eta_s"] == pytest.approx(900)


def test_no_eta_for_an_ended_job_or_before_a_trial_finished():
    assert timing({"status": "completed", "created": 0, "ended": 5, "max_trials": 3}, [row(0, 5)], now=9)["eta_s"] \
        is None
    assert timing({"status": "running", "created": 0, "max_trials": 3}, [row(0, None, "running")], now=9)["eta_s"] \
        is None
