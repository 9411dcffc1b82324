"""How the store reaches its database: SQLite helpers, PostgreSQL pool settings, Optuna's trial cache.

Only :mod:`jupyter_hpo.store` uses this module. The one use of Optuna's private trial cache is
:func:`trials_after_from_cache`; it has a public-API fallback (it returns None and the caller reads
``get_all_trials``), and ``tests/test_store_records.py`` fails when Optuna changes what it relies on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

#: Connections one process keeps to a server database (PostgreSQL, MySQL). A runner uses two at most
#: (its trial loop and its writer thread), a Jupyter server a few (REST handlers run in a thread pool);
#: with a team of users each running a server and some runners, a small pool per process keeps the
#: server's ``max_connections`` (100 by default) out of reach. ``$JUPYTER_HPO_STORE_POOL`` overrides it.
POOL_SIZE = 2
POOL_OVERFLOW = 3
POOL_ENV = "JUPYTER_HPO_STORE_POOL"

#: How long a runner keeps retrying a store call that failed because a server database could not be
#: reached (restarting, a dropped connection, refusing connections): then the call fails, and with it
#: the job, whose reason says so. ``$JUPYTER_HPO_STORE_RETRY_S`` overrides it (0: no retry). Clients
#: (kernel, CLI, Jupyter server) do not wait: a failed call is reported at once.
RETRY_S = 60.0
RETRY_ENV = "JUPYTER_HPO_STORE_RETRY_S"
#: The longest pause between two attempts (the first is 0.1 s, then each doubles).
RETRY_MAX_PAUSE_S = 2.0
#: SQLSTATE classes of errors worth another attempt: connection exception (08), operator intervention
#: (57: shutdown, restart, "the database system is starting up"), insufficient resources (53: too many
#: connections), transaction rollback (40: deadlock, serialization).
_TRANSIENT_CLASSES = ("08", "57", "53", "40")
#: SQLSTATE of "permission denied" (a user granted SELECT only)
INSUFFICIENT_PRIVILEGE = "42501"


def server_engine_kwargs(application: str = "jupyter-hpo") -> dict[str, Any]:
    """SQLAlchemy engine settings for a server database: a small pool whose connections are checked
    before use (``pool_pre_ping``: a restarted server or a dropped connection costs one reconnect, not an
    error) and renewed every half hour (firewalls and poolers drop idle connections). Connections show as
    ``application`` in ``pg_stat_activity``."""
    size = POOL_SIZE
    try:
        size = max(1, int(os.environ.get(POOL_ENV, "")))
    except ValueError:
        pass
    return {"pool_size": size, "max_overflow": POOL_OVERFLOW, "pool_pre_ping": True, "pool_recycle": 1800,
            "pool_timeout": 60, "connect_args": {"application_name": application[:63]}}


def retry_window_s() -> float:
    """``$JUPYTER_HPO_STORE_RETRY_S`` when it is a number of seconds >= 0, else :data:`RETRY_S`."""
    try:
        value = float(os.environ.get(RETRY_ENV, ""))
    except ValueError:
        return RETRY_S
    return value if value >= 0 else RETRY_S


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of the database error behind ``error`` (psycopg 3 or psycopg2), if it has one."""
    e: BaseException | None = error
    while e is not None:
        driver = getattr(e, "orig", None)
        code = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
        if isinstance(code, str):
            return code
        e = e.__cause__ or e.__context__
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` comes from a server database that could not be reached or dropped the connection.

    A connection that failed to open carries no SQLSTATE (refused, reset, or rejected at log-in: the two
    cannot be told apart reliably, so both count); an error on an open connection does, and only the
    classes in :data:`_TRANSIENT_CLASSES` count. A refused permission, a constraint or bad data never does.
    """
    import sqlalchemy as sa

    e: BaseException | None = error
    while e is not None:
        if isinstance(e, sa.exc.DBAPIError):
            if e.connection_invalidated:
                return True
            if isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)):
                code = sqlstate(e)
                return code is None or code[:2] in _TRANSIENT_CLASSES
            return False
        e = e.__cause__ or e.__context__
    return False


def trials_after_from_cache(storage: BaseStorage, study_id: int, after: int) -> list[FrozenTrial] | None:
    """The trials numbered above ``after`` straight from Optuna's trial cache, or None without one.

    ``get_all_trials`` sorts the job's whole list on every call: ~4 ms of the ~6.5 ms a poll for the
    10 newest of 10,000 trials took (the sidebar's ``trials?after=N``). Optuna's ``_CachedStorage``
    holds the trials by number (``_studies[study_id].trials``), so the newest are found by look-up. It
    refreshes from the database exactly as ``get_all_trials`` does (new and unfinished trials only).
    This is Optuna's private structure (stable since Optuna 3.0): when it is not there, None, and the
    caller takes the public path.
    """
    refresh = getattr(storage, "_read_trials_from_remote_storage", None)
    studies, lock = getattr(storage, "_studies", None), getattr(storage, "_lock", None)
    if refresh is None or not isinstance(studies, dict) or lock is None:
        return None
    refresh(study_id)
    with lock:
        by_number = getattr(studies.get(study_id), "trials", None)
        if not isinstance(by_number, dict):
            return None
        newer, n = [], after + 1
        while n in by_number:  # numbers run 0, 1, 2, ...: walk up from after + 1
            newer.append(by_number[n])
            n += 1
        if len(by_number) != n:  # a gap in the numbers: look at every trial
            newer = sorted((t for k, t in by_number.items() if k > after), key=lambda t: t.number)
        return newer


def forget_study(storage: BaseStorage, study_id: int) -> None:
    """Drop study ``study_id``'s trials from Optuna's trial cache (see :func:`trials_after_from_cache`), which
    never reads a finished trial again: after the study was deleted, its id may be given to a new one."""
    studies, lock = getattr(storage, "_studies", None), getattr(storage, "_lock", None)
    if isinstance(studies, dict) and lock is not None:
        with lock:
            studies.pop(study_id, None)


def trials_after(storage: BaseStorage, study_id: int, after: int) -> list[FrozenTrial]:
    """Trials with ``number > after``: from the cache when there is one, else by the public API."""
    if after >= 0:
        newer = trials_after_from_cache(storage, study_id, after)
        if newer is not None:
            return newer
    trials = storage.get_all_trials(study_id, deepcopy=False)
    if after < 0:
        return list(trials)
    # trials come ordered by number, which runs 0, 1, 2...: slice rather than scan
    if len(trials) > after and trials[after].number == after:
        return list(trials[after + 1:])
    return [t for t in trials if t.number > after]


def write_new_trial(engine: Any, study_id: int, template: FrozenTrial) -> int:
    """Add a trial to study ``study_id`` from ``template`` in ONE transaction of a few statements, as Optuna's
    ``create_new_trial(study_id, template_trial=template)`` writes it (number, state, datetimes, values,
    parameters, user and system attributes, intermediate values); return its trial id.

    Optuna's own path reads the trial back before each parameter and attribute (a dozen statements through its
    ORM). Its check that a parameter keeps the distribution it had in earlier trials is left to the caller:
    the runner asks its sampler, whose study checks it. The study's row is locked first (as Optuna does), so
    trials created at once from several processes get distinct numbers.
    """
    import json

    import sqlalchemy as sa
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models as m

    t = m.TrialModel
    with engine.begin() as con:
        if con.engine.dialect.name != "sqlite":  # SQLite: the insert below takes the database's one write lock
            con.execute(sa.select(m.StudyModel.study_id).where(m.StudyModel.study_id == study_id).with_for_update())
        number = sa.select(sa.func.count()).select_from(t).where(t.study_id == study_id).scalar_subquery()
        trial_id = con.execute(sa.insert(t).values(
            number=number, study_id=study_id, state=template.state, datetime_start=template.datetime_start,
            datetime_complete=template.datetime_complete)).inserted_primary_key[0]
        values = template.values or []
        if values:
            con.execute(sa.insert(m.TrialValueModel), [
                dict(zip(("value", "value_type"), m.TrialValueModel.value_to_stored_repr(v)),
                     trial_id=trial_id, objective=objective) for objective, v in enumerate(values)])
        if template.params:
            con.execute(sa.insert(m.TrialParamModel), [
                {"trial_id": trial_id, "param_name": name,
                 "param_value": template.distributions[name].to_internal_repr(value),
                 "distribution_json": distribution_to_json(template.distributions[name])}
                for name, value in template.params.items()])
        for model, attrs in ((m.TrialUserAttributeModel, template.user_attrs),
                             (m.TrialSystemAttributeModel, template.system_attrs)):
            if attrs:
                con.execute(sa.insert(model), [{"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                                               for key, value in attrs.items()])
        if template.intermediate_values:
            v = m.TrialIntermediateValueModel
            con.execute(sa.insert(v), [
                dict(zip(("intermediate_value", "intermediate_value_type"), v.intermediate_value_to_stored_repr(x)),
                     trial_id=trial_id, step=step) for step, x in template.intermediate_values.items()])
    return int(trial_id)


def write_finished_trial(engine: Any, trial_id: int, state: Any, values: list[float] | None,
                         attrs: dict[str, Any], *, retry: bool = False, completed: Any = None,
                         system_attrs: dict[str, Any] | None = None) -> bool:
    """Finish trial ``trial_id`` in ONE transaction: its state and completion time, its values, its user
    attributes ``attrs`` and system attributes ``system_attrs`` (added or replaced), in Optuna's tables and forms,
    as Optuna's own ``set_trial_user_attr`` (one transaction per attribute) and ``set_trial_state_values`` would
    write them.

    On PostgreSQL a transaction costs a round trip and a commit, and Optuna's per-attribute path took a dozen
    of them per trial, more than the runner's writer could keep up with for short trials. Here the trial's
    row is updated first (only while it is unfinished: that also takes its lock), then the values are
    inserted and the attributes upserted, each in one statement; a failure anywhere leaves nothing written.

    ``completed``: when the trial ended (a naive local datetime, as Optuna stores it; default: now). The runner
    passes the moment its backend said so: stamped at the write, it included the writer's queue (a few hundred
    ms per trial here), and trial durations read too long.

    Returns True when written; False when ``retry`` and the trial is finished already (the failed attempt's
    commit went through, its answer was lost).

    Raises:
        KeyError: no such trial.
        optuna.exceptions.UpdateFinishedTrialError: the trial was finished already (and not ``retry``).
    """
    import datetime
    import json

    import sqlalchemy as sa
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages._rdb import models as m
    from optuna.trial import TrialState

    t = m.TrialModel
    unfinished = [s for s in TrialState if not s.is_finished()]
    with engine.begin() as con:
        updated = con.execute(sa.update(t).where(t.trial_id == trial_id, t.state.in_(unfinished))
                              .values(state=state, datetime_complete=completed or datetime.datetime.now()))
        if updated.rowcount != 1:
            found = con.execute(sa.select(t.state).where(t.trial_id == trial_id)).first()
            if found is None:
                raise KeyError(f"no trial with id {trial_id} in the store")
            if retry:
                return False
            raise UpdateFinishedTrialError(f"trial {trial_id} has already finished and cannot be updated.")
        if values:
            con.execute(sa.insert(m.TrialValueModel), [
                dict(zip(("value", "value_type"), m.TrialValueModel.value_to_stored_repr(v)),
                     trial_id=trial_id, objective=objective) for objective, v in enumerate(values)])
        if attrs:
            _upsert_attrs(con, m.TrialUserAttributeModel, trial_id,
                          {key: json.dumps(value) for key, value in attrs.items()})
        if system_attrs:
            _upsert_attrs(con, m.TrialSystemAttributeModel, trial_id,
                          {key: json.dumps(value) for key, value in system_attrs.items()})
    return True


def _upsert_attrs(con: Any, model: Any, trial_id: int, values_json: dict[str, str]) -> None:
    """Add or replace the attributes ``values_json`` of one trial: one statement on PostgreSQL and SQLite."""
    import sqlalchemy as sa

    rows = [{"trial_id": trial_id, "key": key, "value_json": v} for key, v in values_json.items()]
    dialect = con.engine.dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(model).values(rows)
        con.execute(stmt.on_conflict_do_update(index_elements=[model.trial_id, model.key],
                                               set_={"value_json": stmt.excluded.value_json}))
        return
    # another database (MySQL): update the keys the trial has, insert the others
    have = set(con.execute(sa.select(model.key).where(model.trial_id == trial_id, model.key.in_(list(values_json)))
                           ).scalars())
    for key in have:
        con.execute(sa.update(model).where(model.trial_id == trial_id, model.key == key)
                    .values(value_json=values_json[key]))
    new = [row for row in rows if row["key"] not in have]
    if new:
        con.execute(sa.insert(model), new)


def may_write(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that only reads ``path``, for a store in a folder we may not write.

    Reading a WAL database needs its ``-shm`` file, which only a writer can create: while one is at
    work (its ``-shm`` is there) the database is opened read-only; when none is, nothing changes the
    file, so it is opened as immutable. Each session gets a fresh connection, so a writer that starts
    later is seen from the next session on.
    """
    uri = f"file:{quote(str(path))}"
    con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, check_same_thread=False)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.Error:
        con.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)


#: The file beside a SQLite store that :func:`store_lock` locks.
LOCK_FILE = ".jupyter-hpo-campaigns.lock"  # its name from when campaign names alone took it


@contextmanager
def schema_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` while a process creates or checks the SQLite schema.

    Optuna creates tables and stamps the schema version in separate statements, so processes that
    open a new store at the same moment would fail with "table ... already exists" or a duplicate
    version. Where there is no ``flock`` (Windows, some network file systems), nothing is locked.
    """
    fd = None
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
    except (ImportError, OSError):
        pass  # unlocked: at worst a racing process fails to open a new store, as it would without us
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


@contextmanager
def store_lock(engine: Any, url: str, key: str) -> Iterator[None]:
    """Hold a lock on ``key`` that every process using the store at ``url`` shares: PostgreSQL's advisory lock on
    the key (a team's store), else ``flock`` on one file beside the SQLite database (one file for every key: what
    it guards takes a second). Where neither can be had (no ``flock``, an in-memory database), nothing is locked:
    a caller that needs more keeps a check of its own."""
    if url.startswith("postgresql"):
        import hashlib

        import sqlalchemy as sa

        number = int.from_bytes(hashlib.sha256(f"jupyter-hpo {key}".encode()).digest()[:8], "big", signed=True)
        with engine.connect() as con:
            con.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": number})
            try:
                yield
            finally:
                con.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": number})
        return
    fd = None
    try:
        import fcntl

        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            fd = os.open(Path(database).expanduser().resolve().parent / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except (ImportError, OSError, ValueError):
        pass  # unlocked, as a store on a file system without flock is
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# -- files a job needs, kept in the store by content (objective pickles, script folders) ----------------
#: The largest file the store keeps for a job (a pickled objective, a packed script folder).
MAX_BLOB_BYTES = 64 * 2**20
BLOB_TABLE = "jupyter_hpo_blobs"


def _blobs() -> Any:
    import sqlalchemy as sa

    return sa.Table(BLOB_TABLE, sa.MetaData(), sa.Column("sha256", sa.String(64), primary_key=True),
                    sa.Column("size", sa.BigInteger, nullable=False),
                    sa.Column("data", sa.LargeBinary, nullable=False))


def ensure_blob_table(engine: Any) -> None:
    """Create the blob table unless it exists; a user who may not create tables (a read-only reader) is left
    as is: it reads the table once a writer has made it."""
    import sqlalchemy as sa

    try:
        _blobs().create(engine, checkfirst=True)
    except sa.exc.SQLAlchemyError:  # no right to create it, or another process created it at the same moment
        pass


def put_blob(engine: Any, data: bytes) -> str:
    """Keep ``data`` in the store's blob table (created on first use) under its SHA-256; return the hash."""
    import hashlib

    import sqlalchemy as sa

    digest = hashlib.sha256(data).hexdigest()
    table = _blobs()
    try:
        table.create(engine, checkfirst=True)
    except sa.exc.SQLAlchemyError:  # another process created it at the same moment
        pass
    if get_blob(engine, digest) is not None:  # content-addressed: the same bytes are kept once
        return digest
    try:
        with engine.begin() as con:
            con.execute(table.insert().values(sha256=digest, size=len(data), data=data))
    except sa.exc.IntegrityError:  # the same bytes were stored meanwhile
        pass
    return digest


def get_blob(engine: Any, digest: str) -> bytes | None:
    """The bytes stored under ``digest``, or None (no such blob, or no blob table yet)."""
    import sqlalchemy as sa

    table = _blobs()
    if not sa.inspect(engine).has_table(BLOB_TABLE):
        return None
    with engine.connect() as con:
        row = con.execute(sa.select(table.c.data).where(table.c.sha256 == digest)).first()
    return None if row is None else bytes(row[0])


def trial_state_counts(engine: Any, names: Collection[str]) -> dict[str, int]:
    """How many trials the jobs ``names`` hold in each state (``complete``, ``pruned``, ...), in one grouped
    query: ``store info`` asked Optuna five times per job, and each time Optuna read all of the job's trials
    (4,566 statements, 4.9 s and 160 MB for a store of 300 jobs)."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models as m

    t, s = m.TrialModel, m.StudyModel
    wanted = set(names)
    counts: dict[str, int] = {}
    with engine.connect() as con:
        rows = con.execute(sa.select(s.study_name, t.state, sa.func.count()).join(s, s.study_id == t.study_id)
                           .group_by(s.study_name, t.state))
        for study, state, n in rows:
            if study in wanted and n:
                key = state.name.lower()
                counts[key] = counts.get(key, 0) + int(n)
    return counts


def blob_stats(engine: Any) -> tuple[int, int]:
    """How many blobs the store keeps, and their bytes in all."""
    import sqlalchemy as sa

    if not sa.inspect(engine).has_table(BLOB_TABLE):
        return 0, 0
    table = _blobs()
    with engine.connect() as con:
        n, size = con.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(table.c.size), 0))).one()
    return int(n), int(size)
