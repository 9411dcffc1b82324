"""A real PostgreSQL for the tests, and the store tests run on SQLite and on PostgreSQL.

Registered by ``tests/conftest.py`` as a pytest plugin. The session fixture ``postgres_server`` starts a
throwaway cluster (Debian's PostgreSQL: ``initdb`` and ``pg_ctl`` run as the ``postgres`` OS user, since
PostgreSQL refuses to run as root) on a free loopback port and removes it at the end. Each test gets a
fresh database, copied from a template that already holds Optuna's schema (a copy takes milliseconds;
creating the schema takes a second).

Every test in the modules of :data:`BOTH_STORES` that uses the ``home`` or ``store`` fixture runs twice,
``[sqlite]`` and ``[postgresql]``: for PostgreSQL, ``$JUPYTER_HPO_STORE_URL`` names the test's database, so
the kernel-side API, the runner processes it starts and the Jupyter server all use it. The tests of
:data:`SQLITE_ONLY` are about SQLite itself and run once.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: test modules whose every store-using test runs on both stores
BOTH_STORES = {"test_store.py", "test_store_records.py", "test_runner.py", "test_server.py",
               "test_store_summaries.py"}
#: tests about SQLite itself (its file, its pragmas, its default place): they run on SQLite only
SQLITE_ONLY = {
    "test_the_default_store_is_sqlite_in_wal_mode_under_home",  # the SQLite file and its WAL journal
    "test_a_store_that_cannot_be_created_is_a_store_error",     # a SQLite file under a non-directory
    "test_a_read_that_meets_sqlite_locking_protocol_is_tried_again",  # SQLite's SQLITE_PROTOCOL
}
STORE_KINDS = ("sqlite", "postgresql")
USER = "hpo"
#: a role that must give its password (every other role is trusted on this loopback-only cluster)
PASSWORD_USER, PASSWORD = "hpo_pw", "pw-0f3c9a-test"


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's programs (``.ci/run`` installs the ``postgresql`` package)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is needed for the store tests, but /usr/lib/postgresql/*/bin/initdb is "
                           "missing: apt-get install -y postgresql")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway cluster: ``url(db)`` names a database, ``new_database()`` makes a fresh one."""

    folder: Path
    port: int
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    #: the server's options (``pg_ctl -o``), kept for :meth:`start` after a :meth:`stop`
    options: str = ""

    def url(self, database: str, user: str = USER, password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the cluster's superuser (autocommit: CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname=database, autocommit=True) as con:
            cur = con.execute(statement)
            return list(cur.fetchall()) if cur.description else []

    def new_database(self) -> str:
        """A fresh database holding Optuna's empty schema; returns its URL."""
        name = f"t{os.getpid()}_{next(self._numbers)}"
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "template_hpo"')
        return self.url(name)

    def pg_ctl(self, *args: str) -> None:
        _as_postgres(str(postgres_bin() / "pg_ctl"), "-D", str(self.folder / "data"), *args)

    def start(self) -> None:
        """Start the server (again, after :meth:`stop`) with its options, on its port; return once it accepts."""
        self.pg_ctl("-o", self.options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are ended, as by an administrator; ``immediate``: as a crash)."""
        self.pg_ctl("-m", mode, "-w", "stop")


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=120)


def start_cluster() -> PostgresServer:
    folder = Path(tempfile.mkdtemp(prefix="hpo-pg-"))
    shutil.chown(folder, "postgres")
    _as_postgres(str(postgres_bin() / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", USER,
                 "--no-sync", "-E", "UTF8")
    hba = folder / "data" / "pg_hba.conf"  # the password role's rule first: the first matching line wins
    hba.write_text(f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
    server = PostgresServer(folder, free_port())
    # durability is not what these tests are about: no fsync makes every commit a fraction of a millisecond
    server.options = (f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                      "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
    server.start()
    server.sql('CREATE DATABASE "template_hpo"')
    server.sql(f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    _create_schema(server.url("template_hpo"))
    return server


def _create_schema(url: str) -> None:
    from jupyter_hpo.store import Store

    store = Store(url, home=tempfile.gettempdir())
    store.close()  # a template may have no open connection when it is copied


def stop_cluster(server: PostgresServer) -> None:
    try:
        server.pg_ctl("-m", "immediate", "stop")
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_cluster()
    try:
        yield server
    finally:
        stop_cluster(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty store database on the test cluster."""
    return postgres_server.new_database()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if Path(str(metafunc.definition.fspath)).name not in BOTH_STORES or metafunc.function.__name__ in SQLITE_ONLY:
        return
    if {"home", "store"} & set(metafunc.fixturenames):
        metafunc.parametrize("store_kind", STORE_KINDS, indirect=True)


@pytest.fixture(autouse=True)
def store_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` (the default), or ``postgresql``: then the test's store is a fresh PostgreSQL database."""
    kind = getattr(request, "param", None)
    if kind is None:
        return "sqlite"
    # what this process saw of runners' heartbeats must not carry over from the same test on the other store
    from jupyter_hpo import _liveness

    request.getfixturevalue("monkeypatch").setattr(_liveness, "HEARTBEATS", _liveness.Heartbeats())
    if kind == "postgresql":
        request.getfixturevalue("home")  # the home fixture clears the URL: set it after
        url = request.getfixturevalue("postgres_url")
        request.getfixturevalue("monkeypatch").setenv("JUPYTER_HPO_STORE_URL", url)
    return kind
