"""A team's load on one PostgreSQL: 4 runners and 2 Jupyter servers, each polled as the sidebar polls it.

4 jobs of 250 cheap trials (2 in parallel each: 8 worker processes) write 1,000 trials while two real
``jupyter server`` processes answer ``GET jobs`` and ``GET jobs/{name}/trials?after=N`` in a loop. Checked
as a user (or a DBA) would: every job completes its budget with trials 0..249 each exactly once, each
server's sidebar view ends with all 1,000 trials complete and never got an error, PostgreSQL counted no
deadlock, and the connections ``pg_stat_activity`` shows, sampled throughout, stay within the pools' bound:
at most ``POOL_SIZE + POOL_OVERFLOW`` (2 + 3 = 5) per process, whatever it does, so at most 5 x 7 for the 4
runners, the 2 servers and this test's own process; each runner's connections carry its job's name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from jupyter_hpo import _store_db, api
from jupyter_hpo.store import JobStatus, Store
from tests import objectives
from tests.conftest import REPO, wait_for
from tests.postgres import PostgresServer, free_port

X = {"x": {"type": "float", "low": -3, "high": 3}}
JOBS, TRIALS = 4, 250
PER_PROCESS = _store_db.POOL_SIZE + _store_db.POOL_OVERFLOW
TOKEN = "load-test-token"


def start_server(home: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real ``jupyter server`` with the extension, on the team's store; returns it and its API's base URL."""
    port = free_port()
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "JUPYTER_HPO_STORE_URL": url, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", "--allow-root", f"--ServerApp.root_dir={home}",
         "--ServerApp.jpserver_extensions={'jupyter_hpo': True}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}/jupyter-hpo/api"


def get(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class SidebarPoller(threading.Thread):
    """What the sidebar does, against one server: list the jobs, then each job's trials above the last seen."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.stop = base, threading.Event()
        self.error: BaseException | None = None
        self.status: dict[str, str] = {}
        self.seen: dict[str, dict[int, str]] = {}
        self.polls = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for job in get(f"{self.base}/jobs")["jobs"]:
                    seen = self.seen.setdefault(job["name"], {})
                    unfinished = [n for n, state in seen.items() if state == "running"]
                    after = min(unfinished, default=max(seen, default=-1) + 1) - 1
                    for trial in get(f"{self.base}/jobs/{job['name']}/trials?after={after}")["trials"]:
                        seen[trial["number"]] = trial["state"]
                    self.status[job["name"]] = job["status"]
                self.polls += 1
        except BaseException as e:  # noqa: BLE001 - the test reports it
            self.error = e

    def all_finished(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"the sidebar's poll failed: {self.error!r}")
        return len(self.status) == JOBS and all(JobStatus(s).is_finished() for s in self.status.values())


class ConnectionSampler(threading.Thread):
    """Every 0.2 s: the store database's sessions in ``pg_stat_activity``, counted per client process."""

    def __init__(self, server: PostgresServer, database: str) -> None:
        super().__init__(daemon=True)
        self.server, self.database, self.stop = server, database, threading.Event()
        self.samples: list[tuple[int, Counter[int]]] = []  # (sessions, sessions per client pid)
        self.names: dict[int, set[str]] = {}  # client pid -> application names seen
        self.error: BaseException | None = None

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(host="127.0.0.1", port=self.server.port, user="hpo", dbname="postgres",
                                 autocommit=True) as con:
                while not self.stop.wait(0.2):
                    # the sessions, between two looks at which process holds each client socket: a session is
                    # counted for its process only when both looks agree on one holder, else under -1 (a socket
                    # opened or closed meanwhile, or held for a moment by a child forked between fork and exec)
                    before = self._holders()
                    rows = con.execute("SELECT client_port, application_name FROM pg_stat_activity "
                                       "WHERE datname = %s AND pid <> pg_backend_pid()", (self.database,)).fetchall()
                    after = self._holders()
                    per_pid: Counter[int] = Counter()
                    for port, name in rows:
                        held = before.get(port, set())
                        pid = next(iter(held)) if len(held) == 1 and after.get(port) == held else -1
                        per_pid[pid] += 1
                        self.names.setdefault(pid, set()).add(name)
                    self.samples.append((len(rows), per_pid))
        except BaseException as e:  # noqa: BLE001 - the test reports it
            self.error = e

    def _holders(self) -> dict[int, set[int]]:
        """Client port -> the processes holding a TCP socket from it to the server."""
        held: dict[int, set[int]] = {}
        for c in psutil.net_connections(kind="tcp4"):
            if c.raddr and c.raddr.port == self.server.port and c.pid:
                held.setdefault(c.laddr.port, set()).add(c.pid)
        return held


def test_four_runners_and_two_servers_on_one_postgres_account_for_1000_trials(
        postgres_server, postgres_url, tmp_path, monkeypatch):
    home = tmp_path / "team"
    home.mkdir()  # the servers' root folder
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(home))
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    database = postgres_url.rsplit("/", 1)[1]
    store = Store(postgres_url, home=home)
    servers = [start_server(home, postgres_url) for _ in range(2)]
    sampler = ConnectionSampler(postgres_server, database)
    pollers: list[SidebarPoller] = []
    try:
        for _, base in servers:
            wait_for(lambda b=base: _answers(b), timeout=90, interval=0.2)
        sampler.start()
        jobs = [api.launch(objective=objectives.quadratic, space=X, max_trials=TRIALS, max_parallel=2, seed=i,
                           name=f"load-{i}", store=store) for i in range(JOBS)]
        pollers = [SidebarPoller(base) for _, base in servers]
        for poller in pollers:
            poller.start()
        for job in jobs:
            job.wait(timeout=240, poll=0.5)
        for poller in pollers:  # the sidebars see every job end
            wait_for(poller.all_finished, timeout=60, interval=0.2)
        runners = {job.attrs["runner"]["pid"]: job.name for job in jobs}
        server_pids = [proc.pid for proc, _ in servers]
    finally:
        sampler.stop.set()
        for poller in pollers:
            poller.stop.set()
        for poller in pollers:
            poller.join(timeout=60)  # started: made only after the servers answered
        if sampler.is_alive():
            sampler.join(timeout=30)
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            proc.wait(timeout=30)

    for job in jobs:
        assert job.status == JobStatus.COMPLETED, (job.name, job.attrs.get("reason"))
        records = job.trial_records()
        assert [r["number"] for r in records] == list(range(TRIALS)), f"{job.name}: every trial once"
        assert all(r["state"] == "complete" for r in records), job.name
    for poller in pollers:
        assert poller.error is None, poller.error
        complete = sum(state == "complete" for seen in poller.seen.values() for state in seen.values())
        assert complete == JOBS * TRIALS, f"the sidebar of {poller.base} ends with every trial complete"
    deadlocks = postgres_server.sql(f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{database}'")
    assert deadlocks == [(0,)]

    assert sampler.error is None, sampler.error
    # sampled during the load: a count of samples depends on the machine's speed (a loaded CI machine took 16 in
    # one run), sessions of several runners seen at once do not
    assert len(sampler.samples) >= 5, f"sampled throughout the run: {len(sampler.samples)} samples"
    together = max(sum(pid in runners for pid in per_pid) for _, per_pid in sampler.samples)
    assert together >= 2, f"no sample saw two runners' sessions at once ({len(sampler.samples)} samples)"
    peak_total = max(total for total, _ in sampler.samples)
    peak = Counter[int]()
    for _, per_pid in sampler.samples:
        for pid, n in per_pid.items():
            peak[pid] = max(peak[pid], n)
    processes = {*runners, *server_pids, os.getpid()}
    assert set(peak) - {-1} <= processes, "no other process connects to the store (workers never do)"
    assert all(peak[pid] <= PER_PROCESS for pid in processes), {pid: peak[pid] for pid in processes}
    assert peak_total <= PER_PROCESS * len(processes), peak_total
    for pid, name in runners.items():
        assert peak[pid] >= 1 and sampler.names[pid] == {f"jupyter-hpo runner {name}"}, (pid, sampler.names.get(pid))
    for pid in server_pids:  # each server held connections while it was polled
        assert peak[pid] >= 1 and sampler.names[pid] == {"jupyter-hpo"}, (pid, sampler.names.get(pid))


def _answers(base: str) -> bool:
    try:
        get(f"{base}/jobs")
        return True
    except OSError:
        return False
