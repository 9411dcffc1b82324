"""A team's store: two homes on one PostgreSQL, what a job needs kept in the store, schema versions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from pathlib import Path

import pytest

from jupyter_hpo import _store_db, api
from jupyter_hpo.exceptions import JobStateError, SpecError
from jupyter_hpo.store import SCHEMA_VERSION, JobStatus, Store
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}


def states(job: api.Job) -> list[str]:
    return [r["state"] for r in job.trial_records()]


def job_state(job: api.Job, home: Path) -> str:
    """What a test that waited in vain for a job reports: its status, its trials and the end of its runner log."""
    log = home / "jobs" / job.name / "runner.log"
    tail = log.read_text(errors="replace")[-4000:] if log.is_file() else "(no runner.log)"
    return (f"job {job.name}: {job.status.value} ({job.attrs.get('reason')!r}); trials: "
            f"{[(r['state'], r.get('error')) for r in job.trial_records()]}\nrunner.log:\n{tail}")


def test_a_job_launched_from_one_home_is_resumed_from_another_after_kill_9(tmp_path, postgres_url, monkeypatch):
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    home_a, home_b = tmp_path / "laptop", tmp_path / "studio"
    at_a = Store(postgres_url, home=home_a)
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.4}, max_trials=10,
                     max_parallel=2, seed=0, name="team-job", store=at_a)
    wait_for(lambda: sum(s == "complete" for s in states(job)) >= 3 and "running" in states(job), timeout=60)
    os.kill(job.attrs["runner"]["pid"], signal.SIGKILL)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)
    shutil.rmtree(home_a)  # nothing of the first home is needed any more: the laptop is gone

    from_b = api.attach("team-job", store=Store(postgres_url, home=home_b))
    assert [j["name"] for j in api.list_jobs(from_b.store)] == ["team-job"]
    before = {r["number"]: r for r in from_b.trial_records() if r["state"] == "complete"}
    running = {r["number"] for r in from_b.trial_records() if r["state"] == "running"}
    from_b.resume()
    assert from_b.wait(timeout=90) == JobStatus.COMPLETED, from_b.attrs.get("reason")
    records = from_b.trial_records()
    complete = [r for r in records if r["state"] == "complete"]
    assert len(complete) == 10, f"the budget completes: {[(r['state'], r['error']) for r in records]}"
    assert all(records[n]["value"] == r["value"] for n, r in before.items()), "nothing completed was lost"
    assert {r["number"] for r in records if r["interrupted"]} == running
    values = [r["value"] for r in complete]
    assert len(set(values)) == len(values), "no trial was repeated"
    assert (home_b / "jobs" / "team-job" / "objective.pkl").is_file()


def test_the_objective_is_kept_in_the_store_by_content(store):
    store.create_job("job-a", {"backend": {"name": "local"}}, "maximize")
    store.create_job("job-b", {"backend": {"name": "local"}}, "maximize")
    store.keep_objective("job-a", b"pickled bytes")
    store.keep_objective("job-b", b"pickled bytes")
    assert store.job_attrs("job-a")["objective"] == store.job_attrs("job-b")["objective"]
    assert _store_db.blob_stats(store.engine) == (1, len(b"pickled bytes")), "the same bytes are kept once"
    path = store.restore_objective("job-b")
    assert path == store.job_dir("job-b") / "objective.pkl" and path.read_bytes() == b"pickled bytes"
    path.write_bytes(b"changed on disk")
    assert store.restore_objective("job-b").read_bytes() == b"pickled bytes", "the store's copy wins"


def test_an_objective_too_large_for_the_store_is_refused_and_leaves_no_job(home, monkeypatch):
    monkeypatch.setattr("jupyter_hpo.store.MAX_BLOB_BYTES", 100)
    big = list(range(1000))

    def objective(p):
        return p["x"] + len(big)

    with pytest.raises(SpecError, match=r"a pickled objective must be at most 100 bytes to be kept in the store, "
                                        r"but job 'big''s pickles to [\d,]{4,} bytes"):
        api.launch(objective=objective, space=X, max_trials=1, name="big")
    assert api.list_jobs() == [] and not (Path(home) / "jobs" / "big").exists()


def test_a_job_written_by_a_newer_schema_is_refused_clearly(store):
    store.create_job("job-a", {"backend": {"name": "local"}}, "maximize")
    assert store.job_attrs("job-a")["schema"] == 1  # a plain job: the oldest schema reads it
    store.set_job_attrs("job-a", schema=SCHEMA_VERSION + 1)
    with pytest.raises(JobStateError, match=rf"job 'job-a' was written by a newer jupyter-hpo \(attribute schema "
                                            rf"{SCHEMA_VERSION + 1}; this one reads up to {SCHEMA_VERSION}\)"):
        store.job_attrs("job-a")


def test_two_users_on_one_postgres_see_owners_and_need_force_for_each_others_jobs(
        tmp_path, postgres_url, monkeypatch, capsys):
    from jupyter_hpo import cli

    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=40,
                     name="alices-job", store=Store(postgres_url, home=tmp_path / "alice"))
    owner = job.attrs["owner"]
    assert owner["jupyter"] == "alice" and owner["host"] == socket.gethostname() and owner["user"]
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)

    monkeypatch.setenv("JUPYTERHUB_USER", "bob")  # bob, from his own home
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(tmp_path / "bob"))
    assert cli.main(["--store", postgres_url, "list"]) == 0
    assert f"alice@{socket.gethostname()}" in capsys.readouterr().out
    assert cli.main(["--store", postgres_url, "list", "--mine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["--store", postgres_url, "list", "--mine"]) == 0  # not "no jobs yet": there are alice's
    assert capsys.readouterr().out == ("no jobs of yours; the store holds 1 of other users (`jupyter hpo list` "
                                       "shows every job)\n")
    assert cli.main(["--store", postgres_url, "stop", "alices-job"]) == 2
    assert capsys.readouterr().err == (
        f"error: only a job's owner may stop it without --force, but job 'alices-job' belongs to alice (launched on "
        f"{socket.gethostname()}); pass --force to stop it anyway (who did is recorded).\n")
    assert job.status == JobStatus.RUNNING and not job.attrs["stop_requested"]
    assert cli.main(["--store", postgres_url, "stop", "alices-job", "--force"]) == 0
    assert job.status == JobStatus.STOPPED and job.attrs["stopped_by"]["jupyter"] == "bob"
    assert cli.main(["--store", postgres_url, "resume", "alices-job", "--detach"]) == 2
    assert "only a job's owner may resume it without --force" in capsys.readouterr().err
    assert cli.main(["--store", postgres_url, "resume", "alices-job", "--detach", "--force"]) == 0
    assert job.attrs["resumed_by"]["jupyter"] == "bob" and job.attrs["owner"] == owner, "the owner stays alice"
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    assert job.stop(timeout=30) == JobStatus.STOPPED


def test_a_job_from_before_owners_is_anyones(store):
    from jupyter_hpo.owners import check_may_act, is_mine

    check_may_act("old", {}, "stop", force=False)  # no owner recorded: nothing to check
    assert is_mine(None) and not is_mine({"user": "someone-else-entirely", "host": "h"})
    with pytest.raises(JobStateError, match="belongs to carol; pass --force"):
        check_may_act("new", {"owner": {"user": "carol"}}, "resume", force=False)


SCRIPT = """
import argparse, time
from helper import SHIFT
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
a = p.parse_args()
time.sleep(0.4)
print(f"loss = {a.x + SHIFT:.6f}")
"""


def test_a_script_job_is_resumed_from_another_home_after_its_folder_is_gone(tmp_path, postgres_url, monkeypatch):
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / ".git" / "big-history").write_bytes(b"x" * 10_000)  # never packed
    (project / "train.py").write_text(SCRIPT)
    (project / "helper.py").write_text("SHIFT = 100.0\n")  # a module beside the script: it must travel too
    at_a = Store(postgres_url, home=tmp_path / "laptop")
    job = api.launch({"name": "script-team", "objective": {"metric": "loss", "direction": "minimize"},
                      "trial": {"script": str(project / "train.py")}, "space": X,
                      "budget": {"max_trials": 8, "max_parallel": 2}, "seed": 0}, store=at_a)
    wait_for(lambda: sum(s == "complete" for s in states(job)) >= 2 and "running" in states(job), timeout=60,
             why=lambda: job_state(job, tmp_path / "laptop"))
    os.kill(job.attrs["runner"]["pid"], signal.SIGKILL)
    assert wait_for(lambda: job.status == JobStatus.STALE, timeout=30)
    assert job.attrs["source"]["bytes"] < 10_000, "the .git folder was not packed"
    shutil.rmtree(project)
    shutil.rmtree(tmp_path / "laptop")

    from_b = api.attach("script-team", store=Store(postgres_url, home=tmp_path / "studio"))
    from_b.resume()
    assert from_b.wait(timeout=90) == JobStatus.COMPLETED, from_b.attrs.get("reason")
    complete = [r for r in from_b.trial_records() if r["state"] == "complete"]
    assert len(complete) == 8 and all(r["value"] == pytest.approx(r["params"]["x"] + 100, abs=1e-5) for r in complete)
    assert (tmp_path / "studio" / "jobs" / "script-team").is_dir()
    # and continued past its budget from there (the new budget was checked against the script's old path)
    from_b.resume(max_trials=10)
    assert from_b.wait(timeout=90) == JobStatus.COMPLETED, from_b.attrs.get("reason")
    assert sum(r["state"] == "complete" for r in from_b.trial_records()) == 10
    assert from_b.spec["trial"]["script"] == str(project / "train.py"), "the stored spec keeps the launch's path"


def test_a_script_folder_too_large_for_the_store_is_refused_clearly(home, tmp_path, monkeypatch):
    monkeypatch.setattr("jupyter_hpo.store.MAX_BLOB_BYTES", 1000)
    (tmp_path / "train.py").write_text(SCRIPT)
    (tmp_path / "data.bin").write_bytes(os.urandom(5000))
    with pytest.raises(SpecError, match=r"a script's folder must pack to at most 1,000 bytes to be kept in the "
                                        r"store, but '.*' holds more \(.* bytes read so far; the largest: "
                                        r"data.bin \(5,000 bytes\)"):
        api.launch(objective=str(tmp_path / "train.py"), space=X, max_trials=1, name="too-big")
    assert api.list_jobs() == []


def test_a_wrong_password_is_refused_with_every_password_masked(postgres_server, postgres_url, monkeypatch, capsys):
    from jupyter_hpo import cli
    from jupyter_hpo.exceptions import StoreError
    from tests.postgres import PASSWORD, PASSWORD_USER

    database = postgres_url.rsplit("/", 1)[1]
    good = postgres_server.url(database, user=PASSWORD_USER, password=PASSWORD)
    assert Store(good).job_names() == []
    bad = postgres_server.url(database, user=PASSWORD_USER, password="wrong-s3cret")
    with pytest.raises(StoreError) as refused:
        Store(bad)
    shown = f"postgresql+psycopg://{PASSWORD_USER}:***@127.0.0.1:{postgres_server.port}/{database}"
    assert str(refused.value).startswith(f"cannot open the store at {shown}: ")
    assert f'password authentication failed for user "{PASSWORD_USER}"' in str(refused.value)
    assert "wrong-s3cret" not in str(refused.value)
    monkeypatch.setenv("JUPYTER_HPO_STORE_URL", bad)
    assert cli.main(["store", "info"]) == 2
    err = capsys.readouterr().err
    assert shown in err and "wrong-s3cret" not in err
