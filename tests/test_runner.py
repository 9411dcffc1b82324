"""Whole jobs: a detached runner process, the local pool and the store, through jupyter_hpo.api."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import JobStateError, SpecError
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import REPO, wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}


def launch(**kw: Any) -> api.Job:
    kw.setdefault("space", X)
    kw.setdefault("seed", 0)
    return api.launch(**kw)


def states(job: api.Job) -> list[str]:
    return [r["state"] for r in job.trial_records()]


def test_a_job_runs_its_budget_and_finds_the_optimum(home):
    job = launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": -3, "high": 3}},
                 max_trials=25, name="quad")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "budget of 25 trials reached"
    df = job.trials()
    assert len(df) == 25 and set(df["state"]) == {"complete"}
    assert abs(job.best["params"]["x"] - 1.0) < 0.5
    assert job.best["value"] == df["value"].max()
    summary = job.summary()
    assert summary["warm_starts"] == 23 and summary["cold_starts"] == 2
    assert summary["startup_saved_s"] > 0


@pytest.mark.parametrize("strategy", ["bayesian", "random", "grid", "hyperband"])
def test_each_strategy_finishes_a_small_job(home, strategy):
    space = {"x": {"type": "float", "low": 0, "high": 1, "step": 0.25}, "k": {"type": "int", "low": 1, "high": 2}}
    job = launch(objective=objectives.stepwise, space={"x": space["x"], "k": space["k"]}, strategy=strategy,
                 max_trials=12, name=f"s-{strategy}")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    expected = 10 if strategy == "grid" else 12  # the grid has 5 x 2 points
    assert len(records) == expected
    assert all(r["state"] in ("complete", "pruned") for r in records)
    if strategy == "grid":
        assert len({(r["params"]["x"], r["params"]["k"]) for r in records}) == 10, "each grid point once"


def test_objective_failures_are_recorded_per_trial_and_the_job_goes_on(home):
    modes = ["ok", "raise", "exit", "segfault", "nan", "inf", "string", "none", "long"]
    job = launch(objective=objectives.faulty, space={"mode": modes}, strategy="grid", max_trials=9,
                 max_consecutive_failures=10, name="faults")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    by_mode = {r["params"]["mode"]: r for r in job.trial_records()}
    assert set(by_mode) == set(modes)
    assert by_mode["ok"]["state"] == "complete" and by_mode["ok"]["value"] == 1.0
    expected = {
        "raise": "ValueError: bad things happened in the trial",
        "exit": "worker process died (exit code 3)",
        "segfault": "worker process died (killed by signal SIGSEGV)",
        "nan": "the objective returned nan, not a finite number",
        "inf": "the objective returned inf, not a finite number",
        "string": "the objective returned 'high', not a number",
        "none": "the objective returned None, not a number",
    }
    for mode, error in expected.items():
        assert by_mode[mode]["state"] == "fail", mode
        assert error in by_mode[mode]["error"], (mode, by_mode[mode]["error"])
    # an error cut to 300 characters ends in "…", where it was cut (it read as the whole message)
    long = by_mode["long"]["error"]
    assert long.startswith("RuntimeError: CUDA out of memory. Tried") and len(long) == 300 and long.endswith("\u2026")


def test_consecutive_failures_fail_the_job_with_the_reason(home):
    job = launch(objective=objectives.always_fails, max_trials=20, max_consecutive_failures=3, max_parallel=1,
                 name="doomed")
    assert job.wait(timeout=60) == JobStatus.FAILED
    reason = job.attrs["reason"]
    assert reason.startswith("3 trials failed in a row (max_consecutive_failures=3); last error: RuntimeError: always fails")
    assert states(job) == ["fail"] * 3


def test_target_value_ends_the_job_early(home):
    job = launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}}, target=0.3,
                 max_trials=200, hyperparameters={"sleep": 0.01}, strategy="random", name="target")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.attrs["reason"].startswith("target 0.3 reached")
    assert len(job.trial_records()) < 200 and job.best["value"] >= 0.3


def test_patience_ends_a_job_without_improvement(home):
    job = launch(objective=lambda p: 1.0, max_trials=100, patience=5, max_parallel=1, name="flat")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "no improvement in the last 5 trials"
    assert len(job.trial_records()) == 6


def pruned_but_the_first(p):
    """Trial with ``i`` 0 completes (1.0); every other one is pruned by the trial itself."""
    from jupyter_hpo import trial

    if p["i"]:
        raise trial.TrialPruned("not this one")
    return 1.0


def test_a_resume_counts_patience_in_the_order_trials_finished_not_their_numbers(home, tmp_path):
    """With 2 trials at a time, trial 0 ran long and finished best after faster trials that each improved: the
    resume replayed the trials by number, read those as trials without improvement, and ended the job at once
    ("no improvement in the last 3 trials"), its budget unspent and its interrupted trials never run again;
    and every later resume was refused."""
    (tmp_path / "hold").touch()
    job = launch(objective=objectives.arrival, max_trials=16, patience=3, max_parallel=2, name="late-best",
                 direction="minimize", hyperparameters={"dir": str(tmp_path)})
    wait_for(lambda: job.summary()["complete"] >= 5, timeout=60)
    (tmp_path / "hold").unlink()
    wait_for(lambda: (tmp_path / "first-done").exists() and job.summary()["complete"] >= 7, timeout=60)
    assert job.stop(timeout=60) == JobStatus.STOPPED
    stopped = job.summary()["complete"]
    assert stopped < 16 and job.best["value"] < 0
    job.resume()
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "budget of 16 trials reached", job.attrs["reason"]
    assert job.summary()["complete"] == 16


def test_patience_counts_pruned_trials_as_trials_without_improvement(home):
    """With pruning on, most trials that do not improve are pruned: patience never fired while they were."""
    job = launch(objective=pruned_but_the_first, space={"i": list(range(12))}, strategy="grid", seed=1,
                 max_trials=12, patience=3, max_parallel=1, name="patient")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "no improvement in the last 3 trials"
    records = sorted(job.trial_records(), key=lambda r: r["number"])
    states = [r["state"] for r in records]
    assert states[-3:] == ["pruned"] * 3 and len(records) < 12, states


def test_max_runtime_interrupts_running_trials(home):
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.6}, max_runtime=2, max_trials=100,
                 name="clock")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert job.attrs["reason"] == "max_runtime of 2 s reached"
    records = job.trial_records()
    assert 2 <= len(records) < 20
    assert all(r["state"] in ("complete", "fail") for r in records)
    assert all(r["interrupted"] for r in records if r["state"] == "fail")


def test_median_pruning_stops_poor_trials(home):
    job = launch(objective=objectives.stepwise, early_stopping="median", strategy="random", max_trials=30,
                 max_parallel=1, name="median")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    pruned = [r for r in records if r["state"] == "pruned"]
    complete = [r for r in records if r["state"] == "complete"]
    assert pruned, "some poor trials were pruned"
    assert all(len(r["intermediate"]) < 5 for r in pruned)
    assert max(r["params"]["x"] for r in pruned) < max(r["params"]["x"] for r in complete)


def test_hyperband_prunes(home):
    job = launch(objective=objectives.stepwise, strategy="hyperband", max_trials=30, max_parallel=1,
                 hyperband={"min_resource": 1, "max_resource": 5}, name="hb")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert "pruned" in states(job)


def _seed_where_grid_starts_with(space: dict[str, list[str]], first: str) -> int:
    """A seed for which the grid sampler proposes ``first`` before anything else."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    (name, choices), = space.items()
    for seed in range(100):
        study = optuna.create_study(sampler=optuna.samplers.GridSampler(space, seed=seed))
        if study.ask({name: CategoricalDistribution(choices)}).params[name] == first:
            return seed
    raise AssertionError("no seed found")


def test_kfold_pruning_stops_a_poor_model_before_its_last_fold(home):
    space = {"features": ["signal", "noise-a", "noise-b", "noise-c"]}
    job = launch(objective=objectives.kfold_auc, space=space, strategy="grid", early_stopping="kfold", max_parallel=1,
                 max_trials=4, seed=_seed_where_grid_starts_with(space, "signal"), name="kfold")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    signal_trial = next(r for r in records if r["params"]["features"] == "signal")
    assert signal_trial["state"] == "complete" and signal_trial["value"] > 0.8
    assert len(signal_trial["intermediate"]) == 5 and signal_trial["fold_mean"] == pytest.approx(signal_trial["value"])
    later = [r for r in records if r["number"] > signal_trial["number"]]
    assert later and all(r["state"] == "pruned" and len(r["intermediate"]) < 5 for r in later)


def test_a_bad_spec_leaves_no_job_behind(home):
    with pytest.raises(SpecError, match=r"`low` must be > 0 for log scaling of 'eta', but got low=0"):
        api.launch(objective=objectives.quadratic, space={"eta": {"type": "float", "low": 0, "high": 1, "scaling": "log"}})
    with pytest.raises(SpecError, match="`strategy` must be one of"):
        api.launch(objective=objectives.quadratic, space=X, strategy="genetic")
    with pytest.raises(SpecError, match="`trial.script` must be an existing file"):
        api.launch(objective="no/such/script.py", space=X)
    with pytest.raises(SpecError, match="`trial` is required"):
        api.launch(space=X)
    # each of these passed, then failed the runner (NumPy, Optuna): the job sat pending, then "stale", saying nothing
    with pytest.raises(SpecError, match=r"`seed` must be an integer from 0 to 4294967295, but got 4294967296"):
        api.launch(objective=objectives.quadratic, space=X, seed=2**32)
    with pytest.raises(SpecError, match=r"`high - low` must be a finite number for 'x'"):
        api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": -1e308, "high": 1e308}})
    with pytest.raises(SpecError, match=r"`\(high - low\) / step` must be at most 2\*\*53 steps for 'x'"):
        api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1, "step": 1e-30}})
    # a mapping gave its keys as the choices, its values dropped without a word
    with pytest.raises(SpecError, match=r"`choices` of 'k' must be a list, but got \{'a': 1, 'b': 2\}"):
        api.launch(objective=objectives.quadratic, space={**X, "k": {"type": "categorical", "choices": {"a": 1, "b": 2}}})
    assert api.list_jobs() == []
    assert not (home / "jobs").exists() or not any((home / "jobs").iterdir())


def test_a_runner_that_cannot_start_fails_its_job_with_the_reason(home):
    """A stored spec that a runner cannot run (here a seed an older version let through): the runner's process
    ended with a traceback in runner.log, and the job stayed pending, then read as stale, with no reason."""
    from jupyter_hpo.spec import TuningSpec

    spec = TuningSpec.from_dict({"name": "cannot-start", "trial": {"function": "tests.objectives:quadratic"},
                                 "space": X, "budget": {"max_trials": 2}})
    job = api._start(spec, api.open_store(), run=False)
    job.store.set_job_attrs(job.name, spec={**job.spec, "seed": 2**40})
    done = subprocess.run([sys.executable, "-m", "jupyter_hpo.runner", job.name], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 1
    assert job.status == JobStatus.FAILED and job.attrs["ended"] is not None
    assert job.attrs["reason"] == ("the runner could not start: SpecError: `seed` must be an integer from 0 to "
                                   "4294967295, but got 1099511627776.")


def test_a_duplicate_name_is_refused_and_the_first_job_kept(home):
    first = launch(objective=objectives.quadratic, max_trials=3, name="same")
    with pytest.raises(JobStateError, match="a job named 'same' already exists"):
        launch(objective=objectives.quadratic, max_trials=3, name="same")
    assert first.wait(timeout=60) == JobStatus.COMPLETED
    assert len(first.trial_records()) == 3


def test_stop_interrupts_and_resume_completes_the_budget(home):
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.5}, max_trials=8, name="stopme")
    wait_for(lambda: sum(s == "complete" for s in states(job)) >= 2, timeout=60)
    with pytest.raises(JobStateError, match="cannot be resumed while its runner runs"):
        job.resume()
    assert job.stop(timeout=30) == JobStatus.STOPPED
    assert job.attrs["reason"] == "stopped on request"
    assert "running" not in states(job)
    before = {r["number"]: r for r in job.trial_records() if r["state"] == "complete"}
    job.resume()
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = job.trial_records()
    assert sum(r["state"] == "complete" for r in records) == 8
    for num, rec in before.items():  # nothing completed was lost or changed
        assert records[num]["value"] == rec["value"] and records[num]["state"] == "complete"


def test_a_smaller_new_budget_is_refused_when_it_would_leave_interrupted_trials_never_re_run(home):
    """`resume(max_trials=3)` of a job stopped with 2 complete and 2 interrupted trials re-ran one of them and
    completed: the other was never re-run, and `show` still said "2 interrupted (run again on resume)"."""
    from tests.test_cli import hpo

    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 2.0}, max_trials=8, max_parallel=2,
                 name="reruns")
    wait_for(lambda: states(job).count("complete") >= 2 and states(job).count("running") == 2, timeout=60)
    assert job.stop(timeout=30) == JobStatus.STOPPED
    records = job.trial_records()
    done = sum(r["state"] == "complete" for r in records)
    interrupted = [r["number"] for r in records if r["interrupted"]]
    assert len(interrupted) == 2 and all(r["rerun_of"] is None for r in records)
    summary = job.summary()
    assert (summary["interrupted"], summary["reruns_left"]) == (2, 2)
    shown = hpo(home, "--store", job.store.url, "show", "reruns").stdout
    assert "2 interrupted (2 to re-run on resume);" in shown
    refused = (rf"job 'reruns' has run {done} trial\(s\) and has 2 interrupted trial\(s\) to re-run, so "
               rf"max_trials={done + 1} leaves some never re-run; pass at least {done + 2}\.")
    with pytest.raises(JobStateError, match=refused):
        job.resume(max_trials=done + 1)
    assert job.status == JobStatus.STOPPED
    job.resume(max_trials=done + 2)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = job.trial_records()
    assert sorted(r["rerun_of"] for r in records if r["rerun_of"] is not None) == interrupted
    assert sum(r["state"] == "complete" for r in records) == done + 2
    assert (job.summary()["interrupted"], job.summary()["reruns_left"]) == (2, 0)
    shown = hpo(home, "--store", job.store.url, "show", "reruns").stdout
    assert "2 interrupted;" in shown and "to re-run" not in shown


def test_resume_after_kill_9_of_the_runner_loses_and_repeats_nothing(home):
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.4}, max_trials=10, max_parallel=2,
                 name="killed")
    wait_for(lambda: sum(s == "complete" for s in states(job)) >= 3 and "running" in states(job), timeout=60)
    pid = job.attrs["runner"]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)
    before = {r["number"]: r for r in job.trial_records() if r["state"] == "complete"}
    running = [r for r in job.trial_records() if r["state"] == "running"]
    assert running, "trials were running when the runner died"
    job.resume()
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    records = job.trial_records()
    complete = [r for r in records if r["state"] == "complete"]
    assert len(complete) == 10, "the budget completes"
    for num, rec in before.items():
        assert records[num]["value"] == rec["value"]
    interrupted = [r for r in records if r["interrupted"]]
    assert {r["number"] for r in interrupted} == {r["number"] for r in running}
    rerun_params = [r["params"] for r in complete if r["number"] > max(before)]
    for r in interrupted:  # re-run with the same parameters
        assert r["params"] in rerun_params
    values = [r["value"] for r in complete]
    assert len(set(values)) == len(values), "no trial was repeated"


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_two_users_resuming_one_job_at_once_start_one_runner_and_the_other_is_told(home, tmp_path, monkeypatch,
                                                                                   how):
    """Both resumes read the job as resumable, then both started a runner (their runner locks are files in each
    user's own home): the second runner marked the first one's trials interrupted, the first then failed the job
    for a while, and the job ran more trials than its budget."""
    import threading

    from jupyter_hpo.store import Store

    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.4}, max_trials=8, max_parallel=2,
                 name="contested")
    wait_for(lambda: states(job).count("complete") >= 2, timeout=60)
    if how == "stopped":
        assert job.stop(timeout=30) == JobStatus.STOPPED
    else:
        os.kill(job.attrs["runner"]["pid"], signal.SIGKILL)
        assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)
    both_read = threading.Barrier(2, timeout=30)
    checked = api._check_tuning_job_resumable
    # each resume has read the job as resumable and checked it before either writes: the race, every time
    monkeypatch.setattr(api, "_check_tuning_job_resumable", lambda *a: (checked(*a), both_read.wait()))
    other = api.attach("contested", Store(job.store.url, home=tmp_path / "bobs-home"))
    outcomes: list[Any] = []

    def resume(handle: Any) -> None:
        try:
            outcomes.append(handle.resume())
        except JobStateError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=resume, args=(h,)) for h in (job, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    refused = [o for o in outcomes if isinstance(o, JobStateError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert str(refused[0]).startswith("job 'contested' changed while this resume was under way: it is ")
    assert str(refused[0]).endswith("; nothing was done.")
    assert job.wait(timeout=90) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    assert sum(r["state"] == "complete" for r in records) == 8, "the budget, not more"
    assert [r["error"] for r in records if r["state"] == "fail" and not r["interrupted"]] == []


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_resumed_grid_job_runs_each_point_once(home, parallel):
    """A grid job stopped midway ran points again on resume and never ran others, and still said "completed"."""
    # seconds of trials left when it is stopped, however late a loaded machine sees the first ones end
    job = launch(objective=objectives.sleepy, space={"x": list(range(8))}, hyperparameters={"sleep": 1.0},
                 strategy="grid", seed=0, max_trials=8, max_parallel=parallel, name=f"grid-resume-{parallel}")
    wait_for(lambda: sum(s == "complete" for s in states(job)) >= 2, timeout=60)
    assert job.stop(timeout=30) == JobStatus.STOPPED
    job.resume()
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    done = sorted(r["params"]["x"] for r in job.trial_records() if r["state"] == "complete")
    assert done == list(range(8)), job.trial_records()


def test_a_job_that_failed_on_consecutive_failures_resumes_once_the_cause_is_mended(home, tmp_path):
    broken = tmp_path / "broken"
    broken.touch()

    def objective(p):
        if os.path.exists(p["flag"]):
            raise RuntimeError("the data is not there yet")
        return float(p["x"])

    job = launch(objective=objective, space={"x": {"type": "float", "low": 0, "high": 1}},
                 hyperparameters={"flag": str(broken)}, max_trials=6, max_consecutive_failures=3, max_parallel=1,
                 name="mended")
    assert job.wait(timeout=60) == JobStatus.FAILED and job.attrs["reason"].startswith("3 trials failed in a row")
    broken.unlink()
    job.resume()  # the failures before the resume do not count towards the next 3 in a row
    assert job.wait(timeout=60) == JobStatus.COMPLETED, job.attrs["reason"]
    assert sum(r["state"] == "complete" for r in job.trial_records()) == 3


def test_a_trial_that_raises_keyboardinterrupt_fails_with_its_traceback_and_the_worker_goes_on(home):
    """The worker ignores SIGINT (the runner decides when it stops), so a KeyboardInterrupt comes from the trial's
    code. It killed the worker: the trial said only "worker process died (exit code 1)", its traceback in
    runner.log alone, and the next trial started cold."""
    def objective(p):
        if p["x"] == 0:
            raise KeyboardInterrupt("the training library gave up")
        return float(p["x"])

    job = launch(objective=objective, space={"x": [0, 1, 2]}, strategy="grid", max_parallel=1, max_trials=3,
                 name="kbint")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    records = {r["params"]["x"]: r for r in job.trial_records()}
    assert records[0]["state"] == "fail" and records[0]["error"] == "KeyboardInterrupt: the training library gave up"
    failed = next(t for t in job.raw_trials() if t.number == records[0]["number"])
    assert "in objective\nKeyboardInterrupt: the training library gave up" in failed.user_attrs["traceback"]
    assert all(records[x]["state"] == "complete" for x in (1, 2))
    assert len({r["worker"] for r in records.values()}) == 1, "one worker ran the three trials"


def test_a_notebook_style_closure_travels_to_the_workers(home):
    offset = 10.0

    def objective(p):
        return p["x"] + offset

    job = launch(objective=objective, max_trials=3, name="closure")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert all(r["value"] >= 10 for r in job.trial_records())


def test_a_job_without_a_status_attribute_is_run(home):
    """A job written before its status was (an older version, a create cut short) shows as pending: its runner must
    take it, as the campaign and kept runners do (it refused it as "kept changing", and the job never ran)."""
    import sqlalchemy as sa

    from jupyter_hpo._optuna_tables import tables
    from jupyter_hpo.spec import TuningSpec

    store = api.open_store()
    spec = TuningSpec.from_dict({"name": "no-status", "space": {"x": {"type": "float", "low": 0, "high": 1}},
                                 "trial": {"function": objectives.quadratic}, "budget": {"max_trials": 2}})
    job = api._start(spec, store, run=False)
    with store.engine.begin() as con:
        con.execute(sa.delete(tables().study_user_attributes).where(
            tables().study_user_attributes.c.study_id == store.study_id("no-status"),
            tables().study_user_attributes.c.key == "status"))
    assert job.status == JobStatus.PENDING
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.runner", "no-status"], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert job.status == JobStatus.COMPLETED and job.summary()["complete"] == 2


def test_stopping_a_job_whose_runner_died_marks_it_stopped(home):
    job = launch(objective=objectives.sleepy, hyperparameters={"sleep": 0.5}, max_trials=50, name="orphaned")
    wait_for(lambda: "running" in states(job), timeout=60)
    reserve = home / "jobs" / "orphaned" / ".reserve"
    assert reserve.is_file()  # the runner's 2 MB for a full disk
    os.kill(job.attrs["runner"]["pid"], signal.SIGKILL)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)
    assert job.stop() == JobStatus.STOPPED
    assert job.attrs["reason"] == "stopped (its runner had died)"
    assert not reserve.exists(), "the dead runner's reserve stayed, for nothing"
    records = job.trial_records()
    assert "running" not in {r["state"] for r in records}
    assert any(r["interrupted"] for r in records)


def test_the_store_writer_applies_every_queued_write_before_it_closes(monkeypatch):
    """A backlog that takes longer than one wait is still applied in full (the soak test lost trials here)."""
    import time as _time

    from jupyter_hpo.runner import _writer

    monkeypatch.setattr(_writer, "STUCK_S", 0.2)
    writer = _writer.StoreWriter(store=None, study_id=0)
    writer.start()
    applied = []
    for i in range(40):  # 40 x 20 ms = 0.8 s of writes, four times the wait
        writer.put(lambda i=i: (_time.sleep(0.02), applied.append(i)))
    writer.close()
    assert applied == list(range(40)) and writer.error is None


def test_a_stuck_store_ends_the_writer_with_an_error(monkeypatch):
    import threading

    from jupyter_hpo.runner import _writer

    monkeypatch.setattr(_writer, "STUCK_S", 0.2)
    writer = _writer.StoreWriter(store=None, study_id=0)
    writer.start()
    release = threading.Event()
    writer.put(release.wait)  # a write that never returns (until the test releases it)
    writer.put(lambda: None)
    writer.close()
    assert isinstance(writer.error, TimeoutError) and "not applied in 0.2 s" in str(writer.error)
    release.set()


def test_a_trials_completion_time_is_when_it_ended_not_when_the_writer_got_to_it(home, monkeypatch):
    """The store stamped `datetime_complete` when the runner's writer thread wrote the trial, up to 64 queued
    writes later: a 10 ms trial read as 200-360 ms in every duration (optuna-dashboard's, the records')."""
    import time

    from jupyter_hpo.runner._runner import Runner
    from jupyter_hpo.spec import TuningSpec
    from jupyter_hpo.store import Store

    spec = TuningSpec.from_dict({"name": "timed", "trial": {"function": "tests.objectives:quadratic"},
                                 "space": X, "budget": {"max_trials": 4, "max_parallel": 1}})
    job = api._start(spec, api.open_store(), run=False)
    finish = Store.finish_trial

    def slow_finish(self, *args, **kwargs):  # a slow store: each finished trial waits 0.6 s to be written
        time.sleep(0.6)
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(Store, "finish_trial", slow_finish)
    assert Runner(job.store, job.name).run() == 0
    trials = job.raw_trials()
    assert len(trials) == 4
    for t in trials:  # start-up and run, with room for the runner's own work: not the writer's 0.6 s per trial
        took = (t.datetime_complete - t.datetime_start).total_seconds()
        assert took < t.user_attrs["startup_s"] + t.user_attrs["run_s"] + 0.5, (t.number, took, t.user_attrs)
