"""The store's database: its SQLAlchemy engine, opened at once, and Optuna's storage, opened when first needed.

Listing jobs reads Optuna's tables with plain queries (:mod:`jupyter_hpo._optuna_tables`), so a process that only
lists (a Jupyter server's first ``GET jobs``, ``jupyter hpo list``) imports neither Optuna nor alembic and skips
Optuna's schema check: about a second. Only :mod:`jupyter_hpo.store` uses this module.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo._optuna_tables import optuna_head, readable, stored_revision
from jupyter_hpo._store_db import (
    ensure_blob_table,
    may_write,
    read_only_connection,
    schema_lock,
    server_engine_kwargs,
    sqlite_pragmas,
)
from jupyter_hpo._urls import masked_url
from jupyter_hpo.exceptions import StoreError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage, RDBStorage


def _not_a_fallback(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Caught an error from sqlalchemy")


def quiet_fallback_warning() -> None:
    """Drop Optuna's "Caught an error from sqlalchemy: ... Falling back to a slower alternative." warning.

    Optuna prints it when reading a study's trials fails, meaning a query with too many ``IN`` values, then reads
    them another way. With a server store that is restarting, the read fails for another reason, the second read
    fails too and the store reports that error in its own words (:func:`error_text`): the warning only added the
    driver's message and a fallback that did not happen to ``jupyter hpo launch``'s view of the job.
    """
    logger = logging.getLogger("optuna.storages._rdb.storage")
    if _not_a_fallback not in logger.filters:
        logger.addFilter(_not_a_fallback)


def error_text(error: BaseException) -> str:
    """The database's own words for a failed store call, on one line (e.g. "database or disk is full").

    Optuna wraps database errors in a generic "An exception is raised during the commit..." and
    SQLAlchemy adds the SQL; the driver's message at the bottom of the chain is what says why.
    """
    e: BaseException | None = error
    while e is not None:
        driver = getattr(e, "orig", None)  # SQLAlchemy's DBAPIError keeps the driver's exception
        if isinstance(driver, BaseException) or isinstance(e, sqlite3.Error):
            return (str(driver if driver is not None else e).strip().splitlines() or [type(e).__name__])[0]
        e = e.__cause__
    text = str(error).strip().splitlines()
    plain = isinstance(error, (OSError, StoreError)) or type(error).__module__.startswith("sqlalchemy")  # words suffice
    return text[0] if plain and text else f"{type(error).__name__}: {' '.join(text)}"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store's URL, as SQLAlchemy opens it (decoded: ``my%20store`` is the folder
    ``my store``; the folder ``my%20store`` was made beside it and the open failed); None for any other database,
    for memory, or for SQLite's URI form (``file:...?mode=ro&uri=true``), which is opened as given."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return None  # not a URL: opening it says so in its own words
    path = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path)


class StoreEngine:
    """How a :class:`~jupyter_hpo.store.Store` reaches its database (its base class): ``url`` and
    ``_application`` are set before :meth:`_connect`."""

    url: str
    _application: str

    def _connect(self) -> None:
        """Open the engine (and Optuna's storage when the plain reads do not fit the store)."""
        self._opening = threading.Lock()
        self._rdb: RDBStorage | None = None
        self._optuna: BaseStorage | None = None
        #: whether Optuna's tables are read with plain queries (:mod:`jupyter_hpo._optuna_tables`)
        self._plain = False
        self._engine_kwargs: dict[str, Any] = {}
        self._engine = self._open()

    def _open(self) -> Any:
        """The store's SQLAlchemy engine. Optuna's storage is opened later, when first needed (:attr:`storage`),
        when the store's Optuna schema is one whose tables are read with plain queries and this Optuna's own
        (one query): listing jobs then needs neither Optuna nor its schema check (about a second). Else it is
        opened now, as Optuna opens it (creating a new store's tables, or saying why it cannot)."""
        import sqlalchemy

        sqlite_path = self._sqlite_path()
        kwargs = self._engine_kwargs
        try:
            if sqlite_path is None:
                if not self.url.startswith("sqlite"):  # a server database (PostgreSQL): a small pool
                    kwargs.update(server_engine_kwargs(self._application))
                return self._engine_for(kwargs)
            if sqlite_path.exists() and not (may_write(sqlite_path) and may_write(sqlite_path.parent)):
                # a store we may read but not write (a colleague's, a read-only mount): listing still works
                from sqlalchemy.pool import NullPool

                kwargs.update(creator=functools.partial(read_only_connection, sqlite_path), poolclass=NullPool)
                return self._engine_for(kwargs, read_only=True)
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 60}
            with schema_lock(sqlite_path.parent):  # kernels and the CLI may create a new store at once
                con = sqlite3.connect(sqlite_path, timeout=30)
                try:  # WAL lets readers (kernel, sidebar) read while the runner writes
                    con.execute("PRAGMA journal_mode=WAL")
                finally:
                    con.close()
                return self._engine_for(kwargs)
        except (OSError, sqlite3.Error, sqlalchemy.exc.SQLAlchemyError) as e:
            raise StoreError(f"cannot open the store at {self.shown_url}: {error_text(e)}") from None
        except ValueError as e:  # SQLAlchemy's reading of a port that is not a number
            raise StoreError(f"cannot open the store at {self.shown_url}: not a URL SQLAlchemy can read "
                             f"({e}).") from None
        except ImportError as e:  # e.g. a PostgreSQL URL without its driver
            raise StoreError(f"cannot open the store at {self.shown_url}: a module it needs is not installed "
                             f"({e.__cause__ or e}).") from None

    def _engine_for(self, kwargs: dict[str, Any], read_only: bool = False) -> Any:
        """A new engine when the plain reads fit the store, else the engine of Optuna's storage, opened now."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url, **kwargs)
        sqlite_file = self._sqlite_path() is not None and not read_only
        if sqlite_file:
            sqlalchemy.event.listen(engine, "connect", sqlite_pragmas)
        self._plain = readable(stored_revision(engine))
        if not self._plain:
            engine.dispose()
            self._rdb = self._new_rdb(kwargs, skip_table_creation=read_only)
            engine = self._rdb.engine
            if sqlite_file:
                sqlalchemy.event.listen(engine, "connect", sqlite_pragmas)
                engine.dispose()
            self._plain = readable(stored_revision(engine))  # a store Optuna has just created, say
            self._optuna = self._cached(self._rdb)
        if not read_only:
            ensure_blob_table(engine)  # with Optuna's tables, so a grant on the schema's tables covers it
        return engine

    def _new_rdb(self, kwargs: dict[str, Any], **options: Any) -> RDBStorage:
        import optuna
        from optuna.storages import RDBStorage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        quiet_fallback_warning()
        return RDBStorage(self.url, engine_kwargs=dict(kwargs), **options)

    @staticmethod
    def _cached(rdb: RDBStorage) -> BaseStorage:
        import optuna

        return optuna.storages.get_storage(rdb)

    @property
    def _storage(self) -> BaseStorage:
        """Optuna's storage, opened on first use on the store's own engine (see :meth:`_open`)."""
        if self._optuna is None:
            with self._opening:
                if self._optuna is None:
                    self._optuna = self._open_storage()
        return self._optuna

    @_storage.setter
    def _storage(self, storage: BaseStorage) -> None:
        self._optuna = storage

    def _open_storage(self) -> BaseStorage:
        """Optuna's storage on this store, whose schema :meth:`_open` found fit: Optuna's schema check is
        skipped while it still is, and the storage uses the store's engine (its one pool of connections)."""
        import sqlalchemy
        from sqlalchemy import orm

        try:
            rdb = self._new_rdb(self._engine_kwargs, skip_table_creation=True,
                                skip_compatibility_check=readable(stored_revision(self._engine)))
        except (OSError, sqlite3.Error, sqlalchemy.exc.SQLAlchemyError) as e:
            raise StoreError(f"cannot open the store at {self.shown_url}: {error_text(e)}") from None
        rdb.engine.dispose()  # its own engine made the version checks; from now on it uses the store's
        rdb.engine = self._engine
        rdb.scoped_session = orm.scoped_session(orm.sessionmaker(bind=self._engine))
        self._rdb = rdb
        return self._cached(rdb)

    def _sqlite_path(self) -> Path | None:
        return sqlite_file(self.url)

    def close(self) -> None:
        """Close the store's database connections (a later call opens new ones)."""
        self._engine.dispose()

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine of the store's database."""
        return self._engine

    def optuna_schema(self) -> tuple[str, str]:
        """Optuna's schema version of this database, and the one this Optuna writes."""
        current, head = stored_revision(self._engine), optuna_head()
        if current is None or head is None:  # read as Optuna reads them
            _ = self.storage  # opens Optuna's storage, and with it ``_rdb``
            assert self._rdb is not None
            return self._rdb.get_current_version(), self._rdb.get_head_version()
        return current, head

    @property
    def storage(self) -> BaseStorage:
        """The Optuna storage (for ``optuna.load_study`` or optuna-dashboard)."""
        return self._storage

    @property
    def shown_url(self) -> str:
        """The store's URL for messages, with its secrets masked as ``***`` (:func:`~jupyter_hpo._urls.masked_url`)."""
        return masked_url(self.url)
