"""PostgreSQL faults as a team meets them: the server restarts or goes down for a while mid-job, an
administrator drops the runner's connections, a user granted SELECT only, a wrong or changed password.

Real PostgreSQL (the session's throwaway cluster of ``tests/postgres.py``, restarted and stopped here), real
runner processes. Each test checks what a user would: the job's outcome and reason, that every trial of the
budget is in the store exactly once (numbers 0..N-1, none interrupted or re-run), what the CLI prints, and
what the runner's log says.
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from jupyter_hpo import api, cli
from jupyter_hpo.store import JobStatus, Store
from tests import objectives
from tests.conftest import wait_for
from tests.postgres import PASSWORD, PASSWORD_USER, PostgresServer

X = {"x": {"type": "float", "low": 0, "high": 1}}
SPEC = "name: {name}\ntrial: {{function: 'objective.py:f'}}\nspace: {{x: {{type: float, low: 0, high: 1}}}}\n"


def launch(url: str, home: Path, name: str, max_trials: int, sleep: float = 0.05) -> api.Job:
    return api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": sleep}, max_trials=max_trials,
                      max_parallel=2, seed=0, name=name, store=Store(url, home=home))


def complete(job: api.Job) -> int:
    return sum(r["state"] == "complete" for r in job.trial_records())


def runner_log(home: Path, name: str) -> str:
    path = home / "jobs" / name / "runner.log"
    return path.read_text(errors="replace") if path.exists() else ""


def assert_every_trial_once(job: api.Job, n: int) -> None:
    """The budget completed: trials 0..n-1, each complete, none interrupted or run again."""
    records = job.trial_records()
    assert [r["number"] for r in records] == list(range(n)), "no trial lost, none recorded twice"
    assert [r["state"] for r in records] == ["complete"] * n, [(r["number"], r["state"], r["error"]) for r in records]
    assert not any(r["interrupted"] for r in records)
    values = [r["value"] for r in records]
    assert len(set(values)) == n, "no trial was repeated"


def drop_connections(server: PostgresServer, application: str) -> int:
    """End every session of ``application`` as an administrator would (``pg_terminate_backend``); how many."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=server.port, user="hpo", dbname="postgres", autocommit=True) as con:
        rows = con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                           (application,)).fetchall()
    return sum(bool(ok) for ok, in rows)


def test_a_job_goes_on_through_a_postgres_restart_and_an_outage_of_seconds(postgres_server, postgres_url, home,
                                                                          capsys):
    job = launch(postgres_url, home, "through-restarts", max_trials=60)
    wait_for(lambda: complete(job) >= 5, timeout=90)
    postgres_server.pg_ctl("-m", "fast", "-w", "restart")  # every session ends; the server is back in < 1 s
    wait_for(lambda: complete(job) >= 15, timeout=90)
    postgres_server.stop()
    try:  # down until the runner has met it: its next store call fails, and is retried
        wait_for(lambda: "the store could not be reached" in runner_log(home, job.name), timeout=30)
        assert cli.main(["--store", postgres_url, "list"]) == 2  # a client does not wait: one line
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot open the store at {postgres_url}: ") and err.count("\n") == 1, err
    finally:
        postgres_server.start()

    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    assert job.attrs["reason"] == "budget of 60 trials reached"
    assert_every_trial_once(job, 60)
    log = runner_log(home, job.name)
    assert "retrying in 0.1 s" in log and "gave up" not in log and "Traceback" not in log, log[-3000:]


def test_the_cli_following_a_job_goes_on_through_a_postgres_restart(postgres_server, postgres_url, home, tmp_path):
    """`jupyter hpo launch` (following the job) printed about 100 lines of chained driver tracebacks and exited 1,
    "the job failed", when PostgreSQL restarted, while the job itself went on."""
    import os
    import subprocess
    import sys
    import time

    (tmp_path / "objective.py").write_text("import time\ndef f(p):\n    time.sleep(0.2)\n    return p['x']\n")
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="followed") + "budget: {max_trials: 40, max_parallel: 2}\n")
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "JUPYTER_HPO_STORE_URL": postgres_url}
    cli_run = subprocess.Popen([sys.executable, "-m", "jupyter_hpo.cli", "launch", str(tmp_path / "spec.yaml")],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = Store(postgres_url, home=home)
    wait_for(lambda: "followed" in store.job_names(), timeout=60)
    job = api.attach("followed", store)
    wait_for(lambda: complete(job) >= 5, timeout=90)
    postgres_server.stop()  # down for a few polls of the CLI (every 0.5 s), then back
    time.sleep(2.0)
    postgres_server.start()
    out, _ = cli_run.communicate(timeout=180)
    assert cli_run.returncode == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "Falling back to a slower alternative" not in out, out  # Optuna's warning of a fallback that failed too
    assert "; still following (the job's runner retries too)" in out and "note: the store answers again" in out, out
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert_every_trial_once(job, 40)


def test_connections_dropped_by_an_administrator_cost_the_runner_nothing(postgres_server, postgres_url, home):
    job = launch(postgres_url, home, "dropped", max_trials=40)
    dropped = 0
    for round_ in range(1, 6):
        wait_for(lambda n=6 * round_: complete(job) >= n, timeout=90)
        dropped += drop_connections(postgres_server, "jupyter-hpo runner dropped")
    assert dropped >= 5, "each round dropped at least the runner's pooled connection"
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    assert_every_trial_once(job, 40)
    assert "gave up" not in runner_log(home, job.name)


def test_a_store_down_longer_than_the_bound_fails_the_job_with_the_reason(postgres_server, postgres_url, home,
                                                                          monkeypatch):
    monkeypatch.setenv("JUPYTER_HPO_STORE_RETRY_S", "3")  # the runner's bound (60 s unless set)
    # trials of 0.5 s: when the store goes down, both workers' trials are in it as running (with 0.05 s trials the
    # last write that went through could be a trial's end, with the next trial's start lost: none left running)
    job = launch(postgres_url, home, "outage", max_trials=150, sleep=0.5)
    wait_for(lambda: complete(job) >= 3, timeout=90)
    pid = job.attrs["runner"]["pid"]
    postgres_server.stop()
    try:
        wait_for(lambda: "gave up" in runner_log(home, job.name), timeout=60)
    finally:
        postgres_server.start()
    wait_for(lambda: not psutil.pid_exists(pid), timeout=60)

    assert job.status == JobStatus.FAILED
    reason = job.attrs["reason"]
    shown = postgres_url.replace("postgresql+psycopg://", "")
    assert f"{shown} could not be reached for 3 s" in reason and "Connection refused" in reason, reason
    assert "retrying in 0.1 s" in runner_log(home, job.name)
    assert complete(job) < 150
    # the trials its results never reached are interrupted (a failed job showed them running until a resume)
    states = [r["state"] for r in job.trial_records()]
    assert "running" not in states and job.summary()["running"] == 0, states
    assert any(r["interrupted"] for r in job.trial_records())

    job.resume()  # what a user does next: nothing recorded is lost, the budget completes
    assert job.wait(timeout=120) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    assert [r["number"] for r in records] == list(range(len(records)))
    assert sum(r["state"] == "complete" for r in records) == 150
    assert all(r["state"] == "complete" or r["interrupted"] for r in records), "a trial cut off is marked interrupted"


@pytest.fixture
def read_only_url(postgres_server: PostgresServer, postgres_url: str) -> str:
    """The test's database as ``hpo_reader``, a role granted SELECT only on the store's tables."""
    import psycopg

    database = postgres_url.rsplit("/", 1)[1]
    try:
        postgres_server.sql("CREATE ROLE hpo_reader LOGIN")
    except psycopg.errors.DuplicateObject:  # made by an earlier test of the session
        pass
    Store(postgres_url).close()  # the schema and the blob table exist before the grant
    postgres_server.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO hpo_reader", database=database)
    return postgres_server.url(database, user="hpo_reader")


def test_a_read_only_user_lists_and_shows_and_is_told_it_may_not_launch_or_stop(
        postgres_url, read_only_url, home, tmp_path, monkeypatch, capsys):
    job = launch(postgres_url, home, "watched", max_trials=200, sleep=0.2)
    wait_for(lambda: complete(job) >= 1, timeout=90)
    shown = read_only_url

    assert cli.main(["--store", read_only_url, "list", "--json"]) == 0
    assert [j["name"] for j in json.loads(capsys.readouterr().out)] == ["watched"]
    assert cli.main(["--store", read_only_url, "show", "watched"]) == 0
    assert "job watched: running" in capsys.readouterr().out

    (tmp_path / "objective.py").write_text("def f(p):\n    return p['x']\n")
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="refused"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--store", read_only_url, "launch", "spec.yaml", "--detach"]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot create job 'refused' in the store at {shown}: the store is read-only for user 'hpo_reader' "
        "(permission denied for table studies).\n")
    assert cli.main(["--store", read_only_url, "stop", "watched"]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot write job 'watched' to the store at {shown}: the store is read-only for user 'hpo_reader' "
        "(permission denied for table study_user_attributes).\n")
    assert job.status == JobStatus.RUNNING and not job.attrs["stop_requested"], "the refused stop stopped nothing"
    assert [j["name"] for j in api.list_jobs(Store(postgres_url))] == ["watched"], "nothing half-created"
    assert job.stop(timeout=60) == JobStatus.STOPPED  # its owner, who may write, can


def test_a_wrong_or_changed_password_is_never_shown(postgres_server, postgres_url, home, tmp_path, monkeypatch,
                                                    capsys):
    monkeypatch.setenv("JUPYTER_HPO_STORE_RETRY_S", "3")
    database = postgres_url.rsplit("/", 1)[1]
    good = postgres_server.url(database, user=PASSWORD_USER, password=PASSWORD)
    bad = postgres_server.url(database, user=PASSWORD_USER, password="wrong-s3cret")
    masked = f"postgresql+psycopg://{PASSWORD_USER}:***@127.0.0.1:{postgres_server.port}/{database}"
    (tmp_path / "objective.py").write_text("def f(p):\n    return p['x']\n")
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="never"))
    monkeypatch.chdir(tmp_path)
    for command in (["store", "info"], ["launch", "spec.yaml", "--detach"], ["list"], ["show", "never"]):
        assert cli.main(["--store", bad, *command]) == 2, command
        out, err = capsys.readouterr()
        assert err.startswith(f"error: cannot open the store at {masked}: ") and err.count("\n") == 1, (command, err)
        assert f'password authentication failed for user "{PASSWORD_USER}"' in err
        assert "wrong-s3cret" not in out + err, command

    # the password changes while a job runs: its runner cannot log in again
    job = launch(good, home, "rotated", max_trials=500)
    wait_for(lambda: complete(job) >= 3, timeout=90)
    runner = psutil.Process(job.attrs["runner"]["pid"])
    assert PASSWORD not in " ".join(runner.cmdline()), "the URL is not on the runner's command line, which anyone reads"
    try:
        postgres_server.sql(f"ALTER ROLE {PASSWORD_USER} PASSWORD 'rotated-pw-7e1'")
        assert drop_connections(postgres_server, "jupyter-hpo runner rotated") >= 1
        runner.wait(timeout=60)
    finally:
        postgres_server.sql(f"ALTER ROLE {PASSWORD_USER} PASSWORD '{PASSWORD}'")
    log = runner_log(home, "rotated")
    assert f"the store at {masked} could not be reached for 3 s" in log, log[-3000:]
    assert f'password authentication failed for user "{PASSWORD_USER}"' in log
    assert PASSWORD not in log and "rotated-pw-7e1" not in log
    assert job.status == JobStatus.STALE, "its end could not be recorded: the job shows its runner gone"



def test_a_trial_read_cut_by_an_outage_prints_no_fallback_warning(postgres_url, home, caplog, monkeypatch):
    """Optuna logs "Caught an error from sqlalchemy: <driver message>. Falling back to a slower alternative." when a
    trial read fails, and `jupyter hpo launch` printed it in its view of a job while PostgreSQL restarted: a long
    line about a fallback that failed too, before the view's own note. The read now fails with the store's error
    alone. Only an outage that begins between the two queries of Optuna's trial read meets it, so the connection
    is cut there: Optuna's own code runs, and the server's "terminating connection" comes back from both reads."""
    import sqlalchemy
    from sqlalchemy.orm import Query

    from jupyter_hpo.exceptions import StoreError

    job = launch(postgres_url, home, "read-cut", max_trials=4)
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    store = Store(postgres_url, home=home)
    assert len(store.trial_records("read-cut")) == 4  # Optuna's trial cache holds the job: reads are incremental
    plain_all = Query.all

    def cut(query: Query) -> list:
        if "ORDER BY trials.trial_id" in str(query.statement):
            raise sqlalchemy.exc.OperationalError("SELECT ...", {}, Exception("terminating connection"))
        return plain_all(query)

    monkeypatch.setattr(Query, "all", cut)
    caplog.clear()
    with pytest.raises(StoreError, match="terminating connection"):
        store.trial_records("read-cut", after=1)
    logged = [r.getMessage() for r in caplog.records]  # what Optuna's handler would print on stderr
    assert not any("Falling back" in m or "Caught an error from sqlalchemy" in m for m in logged), logged
    monkeypatch.setattr(Query, "all", plain_all)  # the connection is back
    assert [r["number"] for r in store.trial_records("read-cut", after=1)] == [2, 3]  # and reads again once it is up


def test_a_connection_the_pool_cannot_reset_is_one_line_in_the_runner_log(tmp_path):
    """A restart that lands while a connection is busy (psycopg's pipeline mode: "cannot exit pipeline mode while
    busy") made SQLAlchemy's pool log two chained tracebacks into runner.log, beside the store's one-line retry;
    the CI met it once (`-k postgres_restart`). The runner's log keeps the pool's words and the error's line."""
    import os
    import subprocess
    import sys

    probe = (
        "import logging\n"
        "from jupyter_hpo.runner.__main__ import main\n"
        f"main(['--store', 'sqlite:///{tmp_path}/store.db', 'no-such-job'])\n"  # the runner's logging, set up
        "try:\n"
        "    raise RuntimeError('sending query failed: cannot exit pipeline mode while busy\\nPQsendQuery...')\n"
        "except RuntimeError:\n"
        "    logging.getLogger('sqlalchemy.pool.impl.QueuePool').error('Exception during reset or similar',"
        " exc_info=True)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "JUPYTER_HPO_HOME": str(tmp_path / "home")})
    last = out.stderr.strip().splitlines()[-1]
    assert last.endswith("sqlalchemy.pool.impl.QueuePool ERROR Exception during reset or similar (RuntimeError: "
                         "sending query failed: cannot exit pipeline mode while busy)"), out.stderr[-2000:]
