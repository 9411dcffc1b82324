"""Store faults as a user meets them: launchers racing on one store, a read-only store, a full disk.

Each test checks what a user would: the job's outcome, that no finished trial is missing from the
store (numbers contiguous), that the reason is recorded in words, and that the database is intact.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import StoreError
from jupyter_hpo.store import JobStatus, Store
from tests import objectives
from tests.conftest import REPO, wait_for

X = {"x": {"type": "float", "low": -3, "high": 3}}


def integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


# -- many launchers at once on one store ------------------------------------------------------------

# a kernel's worth of launches: everything imported first, then 3 jobs at the signal
KERNEL = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import jupyter_hpo.runner, jupyter_hpo.backends, optuna.storages, cloudpickle
    from jupyter_hpo import api
    from tests import objectives
    ready, go, prefix = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    ready.touch()
    while not go.exists():
        time.sleep(0.001)
    for i in range(3):
        job = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": -3, "high": 3}},
                         max_trials=20, max_parallel=2, seed=i, name=f"{prefix}-{i}")
        print("launched", job.name, flush=True)
""")

# `python -m jupyter_hpo.cli launch SPEC --detach`, its imports done before the signal
CLI = textwrap.dedent("""
    import runpy, sys, time
    from pathlib import Path
    import jupyter_hpo.cli, jupyter_hpo.api, jupyter_hpo.runner, jupyter_hpo.backends, optuna.storages
    ready, go = Path(sys.argv.pop(1)), Path(sys.argv.pop(1))
    ready.touch()
    while not go.exists():
        time.sleep(0.001)
    sys.modules.pop("jupyter_hpo.cli")
    runpy.run_module("jupyter_hpo.cli", run_name="__main__", alter_sys=True)
""")


class SidebarPoller(threading.Thread):
    """What the sidebar does: list the jobs, then fetch each job's trials numbered above the last seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.polls = 0
        self.jobs: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[int, dict[str, Any]]] = {}

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for summary in api.list_jobs():
                    self.jobs[summary["name"]] = summary
                    seen = self.records.setdefault(summary["name"], {})
                    unfinished = [n for n, r in seen.items() if r["state"] == "running"]
                    after = min(unfinished, default=max(seen, default=-1) + 1) - 1
                    for rec in api.Job(summary["name"]).trial_records(after=after):
                        seen[rec["number"]] = rec
                self.polls += 1
        except BaseException as e:  # noqa: BLE001 - the test reports it
            self.error = e

    def all_done(self, n: int) -> bool:
        if self.error is not None:
            raise AssertionError(f"the sidebar's poll failed: {self.error!r}")
        done = [s for s in self.jobs.values() if JobStatus(s["status"]).is_finished()]
        return len(self.jobs) == n and len(done) == n


def test_two_kernels_and_the_cli_launch_at_once_while_the_sidebar_polls(home, tmp_path):
    (tmp_path / "objective.py").write_text("def f(p):\n    return -(p['x'] - 1.0) ** 2\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    procs: dict[str, subprocess.Popen[str]] = {}
    for kernel in ("kernel-a", "kernel-b"):
        procs[kernel] = subprocess.Popen(
            [sys.executable, "-c", KERNEL, str(ready / kernel), str(go), kernel], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    for i in range(2):
        spec = tmp_path / f"cli-{i}.yaml"
        spec.write_text(f"name: cli-{i}\ntrial: {{function: 'objective.py:f'}}\nspace: {{x: {X['x']}}}\n"
                        f"budget: {{max_trials: 20, max_parallel: 2}}\nseed: {i}\n".replace("'", '"'))
        procs[f"cli-{i}"] = subprocess.Popen(
            [sys.executable, "-c", CLI, str(ready / f"cli-{i}"), str(go), "launch", str(spec), "--detach"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    wait_for(lambda: len(list(ready.iterdir())) == len(procs), timeout=60)
    assert not home.exists(), "the store is created by the racing launchers themselves"

    go.touch()
    poller = SidebarPoller()
    poller.start()
    outputs = {name: p.communicate(timeout=120) for name, p in procs.items()}
    for name, (out, err) in outputs.items():
        assert procs[name].returncode == 0, (name, out, err)
        assert "locked" not in out + err and "Traceback" not in err, (name, out, err)
        said = [f"launched {name}-{i}" for i in range(3)] if name.startswith("kernel") else [f"job {name} started"]
        assert all(line in out for line in said), (name, out)
    names = [f"kernel-{k}-{i}" for k in "ab" for i in range(3)] + ["cli-0", "cli-1"]
    try:
        wait_for(lambda: poller.all_done(len(names)), timeout=120, interval=0.2)
    finally:
        poller.stop.set()
        poller.join(timeout=30)
    assert poller.error is None, poller.error
    assert sorted(poller.jobs) == sorted(names)

    store = Store(home=home)
    for name in names:
        job = api.Job(name, store)
        assert job.status == JobStatus.COMPLETED, (name, job.attrs.get("reason"))
        assert job.attrs["reason"] == "budget of 20 trials reached"
        records = job.trial_records()
        assert [r["number"] for r in records] == list(range(20)), name
        assert {r["state"] for r in records} == {"complete"}, name
        assert sorted(poller.records[name]) == list(range(20)), f"the sidebar missed trials of {name}"
        assert all(r["state"] == "complete" for r in poller.records[name].values())
        log = (home / "jobs" / name / "runner.log").read_text()
        assert "locked" not in log and "Traceback" not in log, log
    assert integrity(home / "store.db") == "ok"
    assert poller.polls > 10


# -- a store the user may not write -----------------------------------------------------------------

NOBODY = 65534


@pytest.fixture
def reachable_home(monkeypatch: pytest.MonkeyPatch):
    """A ``JUPYTER_HPO_HOME`` another user can reach (pytest's ``tmp_path`` is private to its owner)."""
    top = Path(tempfile.mkdtemp(prefix="hpo-readonly-"))
    top.chmod(0o755)
    home = top / "home"
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(home))
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    api._stores.clear()
    yield home
    api._stores.clear()
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chmod(Path(folder) / name, 0o755)
    shutil.rmtree(top)


@contextmanager
def without_write_access(home: Path) -> Iterator[None]:
    """The store as a user who may read it but not write it (a colleague's store, a read-only mount).

    Its files are made read-only. chmod does not stop root, so as root the block runs with the
    effective uid of ``nobody``, to whom the files belong to someone else: the kernel itself refuses
    the writes, as it would for any user. Only the effective ids change, so they can be restored.
    """
    modes = {path: path.stat().st_mode for path in [home, *home.rglob("*")]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    root = os.geteuid() == 0
    opened = _let_others_traverse_to_the_libraries() if root else {}
    if root:
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
    api._stores.clear()
    try:
        yield
    finally:
        if root:
            os.seteuid(0)
            os.setegid(0)
        api._stores.clear()
        for path, mode in {**modes, **opened}.items():
            path.chmod(mode)


def _let_others_traverse_to_the_libraries() -> dict[Path, int]:
    """Opening a store reads Optuna's migration scripts; a CI clone may sit in a private (0700) folder,
    which ``nobody`` could not enter. Let others traverse the folders above the libraries (restored after)."""
    import optuna

    changed: dict[Path, int] = {}
    for folder in reversed(Path(optuna.__file__).resolve().parents):
        mode = folder.stat().st_mode
        if not mode & 0o001:
            changed[folder] = mode
            folder.chmod(mode | 0o001)
    return changed


def close_connections() -> None:
    """Close this process's connections to the store, as a kernel that exits would."""
    for store in api._stores.values():
        store.storage._backend.engine.dispose()


def test_a_store_the_user_may_not_write_refuses_a_launch_clearly_and_still_lists(reachable_home, capsys):
    # imported before the uid changes, as in a running kernel (the interpreter's files may be private to root)
    import cloudpickle  # noqa: F401
    import jupyter_hpo.backends._local  # noqa: F401
    from jupyter_hpo import cli

    home = reachable_home
    kept = api.launch(objective=objectives.quadratic, space=X, max_trials=3, max_parallel=1, name="kept")
    assert kept.wait(timeout=60) == JobStatus.COMPLETED
    close_connections()
    wait_for(lambda: not (home / "store.db-shm").exists(), timeout=10)  # no writer at work: no WAL files
    (home.parent / "objective.py").write_text("def f(p):\n    return p['x']\n")
    spec = home.parent / "refused.yaml"
    spec.write_text("name: refused-cli\ntrial: {function: 'objective.py:f'}\n"
                    "space: {x: {type: float, low: 0, high: 1}}\n")
    url = f"sqlite:///{home / 'store.db'}"

    with without_write_access(home):
        assert [j["name"] for j in api.list_jobs()] == ["kept"]
        assert api.list_jobs()[0]["complete"] == 3
        with pytest.raises(StoreError) as refused:
            api.launch(objective=objectives.quadratic, space=X, max_trials=3, name="refused")
        assert str(refused.value) == (f"cannot create job 'refused' in the store at {url}: "
                                      "attempt to write a readonly database")
        assert cli.main(["launch", str(spec), "--detach"]) == 2
        assert capsys.readouterr().err == (f"error: cannot create job 'refused-cli' in the store at {url}: "
                                           "attempt to write a readonly database\n")
        assert cli.main(["list", "--json"]) == 0
        assert [j["name"] for j in json.loads(capsys.readouterr().out)] == ["kept"]

    owner = Store(home=home)  # now while someone who may write has the store open (its WAL files exist)
    assert owner.job_names() == ["kept"] and (home / "store.db-shm").exists()
    with without_write_access(home):
        assert [j["name"] for j in api.list_jobs()] == ["kept"]
        with pytest.raises(StoreError, match="attempt to write a readonly database"):
            api.launch(objective=objectives.quadratic, space=X, max_trials=3, name="refused")
    owner.storage._backend.engine.dispose()

    store = Store(home=home)
    assert store.job_names() == ["kept"], "nothing half-created"
    assert sorted(p.name for p in (home / "jobs").iterdir()) == ["kept"]
    assert integrity(home / "store.db") == "ok"


# -- the disk fills up while a job runs ---------------------------------------------------------------

# Loaded by the runner alone (it is the only process started with HPO_TEST_STORE_FULL_AFTER_PAGES, which
# it takes out of the environment its workers inherit): every connection it opens may grow the database
# by that many pages beyond its size at the runner's first connection, then SQLite itself answers
# SQLITE_FULL, "database or disk is full", exactly as when the file system has no room left.
DISK_FULL = textwrap.dedent("""
    import os

    _extra = os.environ.pop("HPO_TEST_STORE_FULL_AFTER_PAGES", None)
    if _extra is not None:
        import sqlalchemy

        _cap = []

        def _cap_pages(dbapi_connection, _record):
            cur = dbapi_connection.cursor()
            if not _cap:
                _cap.append(cur.execute("PRAGMA page_count").fetchone()[0] + int(_extra))
            cur.execute(f"PRAGMA max_page_count={_cap[0]}")
            cur.close()

        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", _cap_pages)
""")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_full_disk_stops_the_running_job_cleanly_and_keeps_what_was_written(home, tmp_path, monkeypatch):
    fault = tmp_path / "fault"
    fault.mkdir()
    (fault / "sitecustomize.py").write_text(DISK_FULL)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fault), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HPO_TEST_STORE_FULL_AFTER_PAGES", "6")  # room for provenance and a few trials
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.05}, max_trials=500, max_parallel=2, name="disk-full")
    monkeypatch.delenv("HPO_TEST_STORE_FULL_AFTER_PAGES")

    runner = wait_for(lambda: (job.attrs.get("runner") or {}).get("pid"), timeout=60)
    workers: set[int] = set()
    seen: dict[int, dict[str, Any]] = {}  # what a user saw finished while the job ran
    deadline = time.monotonic() + 90
    while not job.status.is_finished():
        assert time.monotonic() < deadline, f"the job did not end: {job.attrs}"
        try:
            workers.update(p.pid for p in psutil.Process(runner).children(recursive=True))
        except psutil.NoSuchProcess:
            pass
        seen.update((r["number"], r) for r in job.trial_records() if r["state"] != "running")
        time.sleep(0.05)

    assert job.status == JobStatus.FAILED
    reason = job.attrs["reason"]  # the failed write may be a trial's or the job's (which names the store)
    assert reason.startswith("the store could not be written: ") and reason.endswith("database or disk is full")
    wait_for(lambda: not alive(runner), timeout=30)
    assert workers and wait_for(lambda: not any(alive(pid) for pid in workers), timeout=30), "workers are gone"
    assert integrity(home / "store.db") == "ok"
    records = job.trial_records()
    assert [r["number"] for r in records] == list(range(len(records)))
    assert 5 <= len(records) < 500, f"the store filled up after some trials, not after {len(records)}"
    for number, rec in seen.items():  # nothing a user had seen is lost or changed
        assert records[number] == rec
    unfinished = [r["number"] for r in records if r["state"] == "running"]
    assert len(unfinished) <= 2, "at most the trials that were running when the disk filled"
    log = (home / "jobs" / "disk-full" / "runner.log").read_text()
    assert "ERROR the store could not be written: database or disk is full" in log

    # once there is room again, resume finishes the job; the trials cut short are run again
    job.resume(max_trials=len(records) + 3)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    after = job.trial_records()
    assert [r["number"] for r in after] == list(range(len(after)))
    assert [r["number"] for r in after if r["interrupted"]] == unfinished
    assert sum(r["state"] == "complete" for r in after) == len(records) + 3, "the budget completes"
    assert all(after[number] == rec for number, rec in seen.items())
    assert integrity(home / "store.db") == "ok"


@contextmanager
def store_full() -> Iterator[None]:
    """In this process, SQLite may not grow the store beyond its size at the first new connection."""
    import sqlalchemy

    cap: list[int] = []

    def cap_pages(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        if not cap:
            cap.append(cur.execute("PRAGMA page_count").fetchone()[0])
        cur.execute(f"PRAGMA max_page_count={cap[0]}")
        cur.close()

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", cap_pages)
    api._stores.clear()  # a fresh store: new connections
    try:
        yield
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "connect", cap_pages)
        api._stores.clear()


def test_a_launch_on_a_full_disk_is_a_store_error_and_leaves_no_job(home):
    assert api.list_jobs() == []  # the store exists
    space = {"choice": [f"option-{i:04d}" for i in range(600)]}  # a spec of some 10 KB: it needs new pages
    with store_full():
        with pytest.raises(StoreError) as full:
            api.launch(objective=objectives.quadratic, space=space, max_trials=1, name="too-big")
        assert str(full.value) == (f"cannot create job 'too-big' in the store at sqlite:///{home / 'store.db'}: "
                                   "database or disk is full")
        assert api.list_jobs() == [], "reading works on a full disk, and nothing is half-created"
    assert not (home / "jobs" / "too-big").exists()
    assert integrity(home / "store.db") == "ok"
    # the name is free (an objective that runs with this space: a job with no completed trial has failed)
    job = api.launch(objective=objectives.worker_identity, space=space, max_trials=1, name="too-big")
    assert job.wait(timeout=60) == JobStatus.COMPLETED


# -- a store URL that cannot be opened ------------------------------------------------------------

@pytest.mark.parametrize("kind, reason", [
    ("folder", "unable to open database file"),
    ("not-a-database", "file is not a database"),
    ("no-driver", "a module it needs is not installed (import of psycopg2 halted; None in sys.modules)."),
    ("unknown-dialect", "Can't load plugin: sqlalchemy.dialects:nosuchdb"),
])
def test_a_store_url_that_cannot_be_opened_is_a_store_error_naming_it(home, tmp_path, monkeypatch, capsys,
                                                                      kind, reason):
    from jupyter_hpo import cli

    (tmp_path / "folder.db").mkdir()
    (tmp_path / "notes.db").write_text("shopping list\n")
    url = {"folder": f"sqlite:///{tmp_path / 'folder.db'}", "not-a-database": f"sqlite:///{tmp_path / 'notes.db'}",
           "no-driver": "postgresql+psycopg2://hpo@localhost:1/hpo", "unknown-dialect": "nosuchdb://host/db"}[kind]
    monkeypatch.setenv("JUPYTER_HPO_STORE_URL", url)
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # not installed, even where it is
    with pytest.raises(StoreError) as opened:
        api.launch(objective=objectives.quadratic, space=X, max_trials=3, name="nowhere")
    assert str(opened.value).startswith(f"cannot open the store at {url}: {reason}")
    assert "\n" not in str(opened.value)
    assert cli.main(["list"]) == 2
    assert capsys.readouterr().err == f"error: {opened.value}\n"
    assert not (home / "jobs").exists()
    assert (tmp_path / "notes.db").read_text() == "shopping list\n", "a file that is not a store is left alone"


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://alice@127.0.0.1:1/hpo?password=s3cret-pw",
     "postgresql+psycopg://alice@127.0.0.1:1/hpo?password=***"),
    # libpq's keywords as query parameters, the password among them (any case: masked all the same)
    ("postgresql+psycopg:///hpo?host=127.0.0.1&port=1&user=alice&PASSWORD=s3cret-pw",
     "postgresql+psycopg:///hpo?host=127.0.0.1&port=1&user=alice&PASSWORD=***"),
    # the password of the client's SSL key, which libpq also reads from the URL (it was shown as it was)
    ("postgresql+psycopg://alice@127.0.0.1:1/hpo?sslpassword=s3cret-pw",
     "postgresql+psycopg://alice@127.0.0.1:1/hpo?sslpassword=***"),
    # a port that is not a number: SQLAlchemy's ValueError came out as a traceback, and the password was not masked
    ("postgresql+psycopg://alice:s3cret-pw@127.0.0.1:5432x/hpo", "postgresql+psycopg://alice:***@127.0.0.1:5432x/hpo"),
    # a password with / or ? in it, which SQLAlchemy and psycopg take as written: shown whole for a while
    ("postgresql+psycopg://alice:s3cret-pw/x@127.0.0.1:1/hpo", "postgresql+psycopg://alice:***@127.0.0.1:1/hpo"),
    ("postgresql+psycopg://alice:s3cret-pw?x@127.0.0.1:1/hpo", "postgresql+psycopg://alice:***@127.0.0.1:1/hpo"),
])
def test_a_password_in_the_urls_query_never_shows_in_a_message(home, monkeypatch, capsys, url, shown):
    from jupyter_hpo import cli

    monkeypatch.setenv("JUPYTER_HPO_STORE_URL", url)
    with pytest.raises(StoreError) as opened:  # port 1: nothing listens, so the store cannot be opened
        api.launch(objective=objectives.quadratic, space=X, max_trials=3, name="nowhere")
    assert str(opened.value).startswith(f"cannot open the store at {shown}: ")
    for command in (["list"], ["show", "nowhere"], ["store", "info"]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot open the store at {shown}: ") and "s3cret-pw" not in err


def test_a_password_in_the_store_url_never_shows_in_a_message(home, monkeypatch):
    url = "postgresql+psycopg2://hpo:s3cret-pw@localhost:1/hpo"
    monkeypatch.setenv("JUPYTER_HPO_STORE_URL", url)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(StoreError) as opened:
        api.launch(objective=objectives.quadratic, space=X, max_trials=3, name="nowhere")
    assert "s3cret-pw" not in str(opened.value)
    assert str(opened.value).startswith("cannot open the store at postgresql+psycopg2://hpo:***@localhost:1/hpo: ")
