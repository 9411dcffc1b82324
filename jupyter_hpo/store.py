"""The store: every job and trial, in Optuna's RDB storage (SQLite by default, any SQLAlchemy URL).

A job is an Optuna study; a trial is an Optuna trial. What Optuna has no field for lives in user
attributes under the keys below, so optuna-dashboard can open the same database.

Every attribute key is defined once, in :mod:`jupyter_hpo.records`; ``docs/store.md`` says what each holds.

Parameters of reverse-log scaling are stored as ``"1-<name>"`` (see ``SearchSpace.to_optuna``).

Jobs are listed and read with plain queries on Optuna's tables (:mod:`jupyter_hpo._optuna_tables`); Optuna's
storage is opened when a write or a trial read first needs it (:mod:`jupyter_hpo._store_engine`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_hpo._liveness import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    STALE_ALIVE_AFTER_S,
    STALE_ENV,
    THIS_HOST,
    JobStatus,
    job_status,
    stale_after_s,
)
from jupyter_hpo._optuna_tables import (
    all_study_attrs,
    set_study_attrs,
    study_attrs,
    study_id_of,
    study_identity,
    summary_rows,
    trial_params,
)
from jupyter_hpo._store_db import (
    INSUFFICIENT_PRIVILEGE,
    MAX_BLOB_BYTES,
    RETRY_MAX_PAUSE_S,
    forget_study,
    get_blob,
    is_transient,
    put_blob,
    sqlstate,
    store_lock,
    trials_after,
    write_finished_trial,
    write_new_trial,
)
from jupyter_hpo._store_engine import StoreEngine, error_text, sqlite_file
from jupyter_hpo.exceptions import JobNotFoundError, JobStateError, SpecError, StoreError, StoreReadOnlyError
from jupyter_hpo.records import CONSTRAINT_VALUES, COST_USD, CREATED, ERROR, INTERRUPTED, PROVENANCE, SPEC, STARTUP_S

if TYPE_CHECKING:
    import datetime

    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.space import SearchSpace

#: Optuna's trial system attribute of its constraint values (``optuna.study._constrained_optimization``), which its
#: ``best_trial`` and samplers read
OPTUNA_CONSTRAINTS = "constraints"

# the status rules live in jupyter_hpo._liveness and are re-exported here, where callers have found them
__all__ = ["JobStatus", "Store", "default_home", "default_url", "error_text", "stale_after_s", "STALE_AFTER_S",
           "STALE_ALIVE_AFTER_S", "STALE_ENV", "HEARTBEAT_S", "SCHEMA_VERSION"]

#: The version of the job and trial attribute schema (docs/store.md). A job written with a newer one is refused
#: with a clear message rather than misread; a job without one was written before versioning (version 1).
SCHEMA_VERSION = 2

#: spec fields added since schema 1 (2026-12-05). A job that uses one is stamped 2, so that a jupyter-hpo that reads
#: schema 1 refuses it in one line (`upgrade jupyter-hpo to open it`) rather than misread it (several objectives
#: shown as one, infeasible trials taken for the best) or resume it into a runner that dies on an unknown field;
#: a job that uses none is stamped 1, and older versions still open it.
SINCE_SCHEMA_1 = ("objectives", "constraints", "warm_start", "tracking", "artifacts")


#: how many times a SQLite call that met SQLITE_PROTOCOL ("locking protocol") is tried again (about 3 s in all)
SQLITE_PROTOCOL_TRIES = 5


def schema_of(spec: Mapping[str, Any]) -> int:
    """The attribute schema a job of this spec (``TuningSpec.to_dict()``) needs its reader to know."""
    space = spec.get("space") if isinstance(spec.get("space"), Mapping) else {}
    if any(key in spec for key in SINCE_SCHEMA_1) or (spec.get("warm_pool") or {}).get("keep_alive_s") or \
            any(isinstance(p, Mapping) and p.get("when") for p in space.values()):
        return 2
    return 1

log = logging.getLogger("jupyter_hpo.store")
_T = TypeVar("_T")


def default_home() -> Path:
    """``$JUPYTER_HPO_HOME``, else ``HpoConfig.home`` (default ``~/.jupyter_hpo``)."""
    home = os.environ.get("JUPYTER_HPO_HOME")
    if not home:
        from jupyter_hpo.config import settings

        home = settings().home
    return Path(home).expanduser()


#: the file in a job's folder naming the store (its URL, as shown) whose job the folder holds
JOB_FOLDER_STORE = "store"


def sqlite_url(path: Path | str) -> str:
    """The SQLite URL of the file ``path``, quoted as SQLAlchemy reads it back: a folder ``100%41`` or ``run?v=2``
    put in a URL as it is named the store ``100A`` or ``run`` (``%`` decoded, ``?`` a query)."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def resolved_url(url: str) -> str:
    """A store URL as every process reads it alike: a SQLite file path starting with ``~``
    (``sqlite:///~/.jupyter_hpo/store.db``) with the home folder in its place (SQLAlchemy took ``~`` for a folder of
    that name in the working directory, so such a URL opened a new, empty store there), and a relative one made
    absolute from this working directory (a detached runner, started in the job's folder, opened a new store below
    it and died; ``resume`` from another folder did the same)."""
    path = sqlite_file(url)
    if path is None or path.is_absolute():
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=os.path.abspath(os.path.expanduser(path))).render_as_string(
        hide_password=False)


def default_url(home: Path | None = None) -> str:
    """``$JUPYTER_HPO_STORE_URL``, else ``HpoConfig.store_url``, else SQLite in the home directory."""
    url = os.environ.get("JUPYTER_HPO_STORE_URL")
    if not url and not os.environ.get("JUPYTER_HPO_HOME"):  # an explicit home means its own SQLite
        from jupyter_hpo.config import settings

        url = settings().store_url
    return url or sqlite_url((home or default_home()) / "store.db")


class Store(StoreEngine):
    """Jobs and trials in one database. Safe to open from many processes at once.

    Args:
        url: an SQLAlchemy URL; default :func:`default_url`.
        home: the directory for SQLite and per-job files; default :func:`default_home`.
        retry_s: on a server database, how long a call that failed because the database could not be
            reached (restarting, a dropped connection) is tried again, with pauses from 0.1 s doubling up
            to 2 s, each logged; 0 (the default, for clients): not at all. The runner passes
            :func:`~jupyter_hpo._store_db.retry_window_s` (60 s).
        application: how its connections to a server database show in ``pg_stat_activity``.

    Raises:
        StoreError: the database cannot be opened or created.

    Example:
        >>> store = Store("sqlite:///:memory:")  # doctest: +SKIP
    """

    def __init__(self, url: str | None = None, home: str | os.PathLike[str] | None = None, *,
                 retry_s: float = 0.0, application: str = "jupyter-hpo") -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.url = resolved_url(url or default_url(self.home))
        self.retry_s = retry_s
        self._application = application
        self._ids: dict[str, int] = {}
        self._spaces: dict[str, SearchSpace] = {}
        #: study id -> which study (name, ``created``) it was when its trials were read through Optuna's trial cache
        self._cache_holds: dict[int, tuple[str, Any]] = {}
        self._connect()

    def _call(self, what: str, attempt: Callable[[bool], _T]) -> _T:
        """``attempt(False)``, then ``attempt(True)`` again while it fails because a server database cannot
        be reached, for up to ``retry_s`` seconds (each retry logged). An attempt told it is a retry first
        checks whether the failed one took effect after all (its commit went through, its answer was lost).

        Raises:
            StoreError: the database stayed unreachable for ``retry_s`` seconds.
        """
        retry, deadline, pause, protocol = False, 0.0, 0.1, 0
        while True:
            try:
                return attempt(retry)
            except Exception as e:
                if self.url.startswith("sqlite") and "locking protocol" in str(e) and protocol < SQLITE_PROTOCOL_TRIES:
                    # SQLITE_PROTOCOL: another process stopped inside a WAL write (a runner frozen mid-write, which a
                    # stop then ends); SQLite calls it transient. A status read failed with the driver's traceback.
                    protocol += 1
                    time.sleep(0.2 * protocol)
                    retry = True
                    continue
                if self.url.startswith("sqlite") or not is_transient(e):
                    raise
                if self.retry_s <= 0:  # one line for the caller to say (the CLI printed the driver's traceback)
                    raise StoreError(f"the store at {self.shown_url} could not be reached ({what}): "
                                     f"{error_text(e)}") from None
                now = time.monotonic()
                if not retry:
                    deadline = now + self.retry_s
                elif now >= deadline:
                    log.error("the store at %s could not be reached for %g s (%s): gave up", self.shown_url,
                              self.retry_s, what)
                    raise StoreError(f"the store at {self.shown_url} could not be reached for {self.retry_s:g} s "
                                     f"({what}): {error_text(e)}") from None
                log.warning("%s: the store could not be reached (%s); retrying in %.1f s", what, error_text(e),
                            pause)
                time.sleep(max(0.0, min(pause, deadline - now)))
                retry, pause = True, min(pause * 2, RETRY_MAX_PAUSE_S)

    def _write_error(self, doing: str, e: BaseException) -> StoreError:
        """The one-line error for a failed write (``doing``: "cannot write job 'x' to"): a user who may only
        read the store is told so; an error that is already a StoreError (unreachable) is kept."""
        if isinstance(e, StoreError):
            return e
        if sqlstate(e) == INSUFFICIENT_PRIVILEGE:
            from sqlalchemy.engine import make_url

            user = make_url(self.url).username
            return StoreReadOnlyError(f"{doing} the store at {self.shown_url}: the store is read-only for user "
                                      f"{user!r} ({error_text(e)}).")
        return StoreError(f"{doing} the store at {self.shown_url}: {error_text(e)}")

    def job_dir(self, name: str) -> Path:
        """Per-job files (pickled objective, runner log). ``name`` is a validated job name."""
        from jupyter_hpo.spec import check_job_name

        return self.home / "jobs" / check_job_name(name)

    @property
    def in_memory(self) -> bool:
        """Whether the store is SQLite in memory (``sqlite://``): this process's alone, which no runner sees."""
        from sqlalchemy.engine import make_url

        parsed = make_url(self.url)
        return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")

    def _folder_owner(self, name: str) -> str | None:
        """Whose files job ``name``'s folder holds: None when it is missing or empty, else the URL (as shown) of
        the store its ``store`` file names, or "" when it names none (made before folders named their store, or
        not a folder that can be read)."""
        folder = self.job_dir(name)
        try:
            if not any(folder.iterdir()):
                return None
        except FileNotFoundError:
            return None
        except OSError:  # a file of that name, a folder that cannot be read: not this job's to use
            pass
        marker = folder / JOB_FOLDER_STORE
        try:
            return marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
        except OSError:
            return ""

    def _folder_taken_message(self, name: str, owner: str) -> str:
        return (f"job name {name!r} is taken on this machine: {self.job_dir(name)} holds the files (models, runner "
                f"log) of a job of that name in {f'the store at {owner}' if owner else 'another store'}; choose "
                f"another name, or remove that folder if its job is gone. Nothing was written.")

    def job_folder_taken(self, name: str) -> str | None:
        """Why job ``name`` may not be made in this store for its folder (one line), or None. Job folders are kept
        by home and name: a job of one store wrote its models into those of another store's job (``best_model()``
        returned the wrong model), and a launch refused as bad input deleted the other job's folder. A folder this
        store's own job of that name left (a launch cut short) is no bar, nor is one of a job this store holds
        (making it again is refused as such: "already exists")."""
        owner = self._folder_owner(name)
        if owner is None or owner == self.shown_url:
            return None
        try:
            self.study_id(name)
            return None  # this store's own job (made before folders named their store)
        except JobNotFoundError:
            pass
        return self._folder_taken_message(name, owner)

    def check_job_folder(self, name: str) -> None:
        """Raise :class:`JobStateError` when :meth:`job_folder_taken` says why job ``name`` may not be made."""
        why = self.job_folder_taken(name)
        if why is not None:
            raise JobStateError(why)

    def make_job_folder(self, name: str) -> Path:
        """Job ``name``'s folder, new and marked as this store's (for :meth:`check_job_folder`); called once the job
        exists in this store, so what an earlier launch of it into this store left there is removed first. A
        folder another store's job marked since the launch's :meth:`check_job_folder` is refused (the job's
        existing in this store no longer tells whose it is: only the folder's ``store`` file does)."""
        owner = self._folder_owner(name)
        if owner is not None and owner != self.shown_url:
            raise JobStateError(self._folder_taken_message(name, owner))
        folder = self.job_dir(name)
        if folder.is_dir():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / JOB_FOLDER_STORE).write_text(self.shown_url + "\n", encoding="utf-8")
        return folder

    # -- jobs ----------------------------------------------------------------------------------
    def create_job(self, name: str, spec: dict[str, Any], direction: str,
                   owner: dict[str, Any] | None = None) -> int:
        """Create the study of a new job, owned by ``owner`` (default: who runs this process, see
        :func:`jupyter_hpo.owners.identity`); raise :class:`JobStateError` if the name is taken."""
        import optuna

        from jupyter_hpo.owners import identity
        from jupyter_hpo.spec import check_job_name

        check_job_name(name)
        d = optuna.study.StudyDirection.MAXIMIZE if direction == "maximize" else optuna.study.StudyDirection.MINIMIZE
        try:
            study_id = self._storage.create_new_study([d], name)
        except optuna.exceptions.DuplicatedStudyError:
            raise JobStateError(f"a job named {name!r} already exists; choose another name.") from None
        except Exception as e:
            raise self._write_error(f"cannot create job {name!r} in", e) from None
        now = time.time()
        try:  # all at once: a reader (the sidebar's listing) never sees a job without its spec or status
            self._put_attrs(study_id, {"spec": spec, "backend": spec["backend"]["name"], "status": "pending",
                                       "created": now, "stop_requested": False, "schema": schema_of(spec),
                                       "owner": owner or identity()})
        except BaseException as e:  # a full disk, Ctrl-C: no half-created job (hidden, its name taken) is left
            try:
                self._storage.delete_study(study_id)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
            if not isinstance(e, Exception):
                raise
            raise self._write_error(f"cannot create job {name!r} in", e) from None
        return study_id

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold a lock on ``key`` that every process using this store shares (on PostgreSQL, on every machine; see
        :func:`~jupyter_hpo._store_db.store_lock`): e.g. a campaign's name while it is checked and its jobs made."""
        with store_lock(self.engine, self.url, key):
            yield

    def delete_job(self, name: str) -> None:
        self._storage.delete_study(self._same_job(name))
        self.forget(name)

    def study_id(self, name: str) -> int:
        """The study id of job ``name`` (ids never change, so they are remembered)."""
        if name in self._ids:
            return self._ids[name]
        try:  # a name from a command line in bytes its locale cannot decode (`show café` under LC_ALL=C): no job
            name.encode("utf-8")  # has it (job names are ASCII); the database driver failed with a traceback
        except UnicodeEncodeError:
            raise JobNotFoundError(f"no job named {name!r} in the store at {self.shown_url}.") from None
        if self._plain:
            found = self._call(f"finding job {name!r}", lambda _: study_id_of(self.engine, name))
            if found is None:
                raise JobNotFoundError(f"no job named {name!r} in the store at {self.shown_url}.")
            self._ids[name] = found
            return found
        import optuna

        try:
            study_id = self._call(f"finding job {name!r}", lambda _: self._storage.get_study_id_from_name(name))
        except (KeyError, optuna.exceptions.OptunaError):
            raise JobNotFoundError(f"no job named {name!r} in the store at {self.shown_url}.") from None
        self._ids[name] = study_id
        return study_id

    def job_names(self) -> list[str]:
        return list(self.all_job_attrs())

    def _by_id(self, name: str, what: str, read: Callable[[int], _T]) -> _T:
        """``read(study_id)`` of job ``name`` (through :meth:`_call`). A remembered id whose study is gone (deleted
        by another process: a launch that failed part-way, a store copy) is forgotten and the name looked up again:
        :class:`JobNotFoundError`, or the job of that name made since. Before, every read of such a job failed
        with Optuna's ``KeyError`` (a 500 in the REST API), even after a new job took the name. An id that another
        job took since (SQLite reuses the newest deleted study's) is found by :meth:`_same_job`."""
        study_id = self._same_job(name)
        try:
            return self._call(what, lambda _: read(study_id))
        except KeyError:
            self.forget(name)
        return self._call(what, lambda _: read(self.study_id(name)))

    def forget(self, name: str) -> None:
        """Forget what this store object remembers of job ``name``: its study id, its space, and the trials
        Optuna's cache holds under that id (SQLite gives a new study the id of a deleted one that was the newest,
        so a job made again under the same name could show the old job's trials)."""
        study_id = self._ids.pop(name, None)
        self._spaces.pop(name, None)
        if study_id is not None:
            self._cache_holds.pop(study_id, None)
            forget_study(self._storage, study_id)

    def _identity(self, study_id: int) -> tuple[str, Any] | None:
        """Which study ``study_id`` is now (its name and ``created``), or None when it was deleted."""
        if self._plain:
            return self._call("reading a job's identity", lambda _: study_identity(self.engine, study_id))
        backend = getattr(self._storage, "_backend", self._storage)  # Optuna's cache keeps a study's name for ever
        try:
            return self._call("reading a job's identity", lambda _: (
                backend.get_study_name_from_id(study_id),
                self._storage.get_study_user_attrs(study_id).get(CREATED)))
        except KeyError:
            return None

    def _same_job(self, name: str) -> int:
        """The study id of job ``name``, after making sure that what this object remembers under it is that job's.

        Optuna's trial cache never reads a finished trial again, and SQLite gives a new study the id (and its
        trials the trial ids) of a deleted one that was the newest: a server that had shown a job deleted since
        showed its trials as the first trials of the next job made, under any name. A job deleted (or deleted and
        made again) is forgotten here, and the cache of an id now another job's is dropped. One small query.
        """
        study_id = self.study_id(name)
        found = self._identity(study_id)
        if found is None or found[0] != name:  # deleted since this object looked it up: look up the name again
            self.forget(name)
            study_id = self.study_id(name)
            found = self._identity(study_id)
        if self._cache_holds.get(study_id, found) != found:
            forget_study(self._storage, study_id)
            self._spaces.pop(name, None)
        if found is not None:
            self._cache_holds[study_id] = found
        return study_id

    def job_attrs(self, name: str) -> dict[str, Any]:
        read = (lambda study_id: study_attrs(self.engine, study_id)) if self._plain else (
            lambda study_id: self._storage.get_study_user_attrs(study_id))
        attrs = dict(self._by_id(name, f"reading job {name!r}", read))
        if SPEC not in attrs:  # a study made with Optuna's own API in the same database: never read or written
            raise JobNotFoundError(f"{name!r} in the store at {self.shown_url} is an Optuna study without a job "
                                   "spec: made with Optuna's own API (open it with optuna.load_study), or a job "
                                   "being created this moment.")
        return check_schema(name, attrs)

    def all_job_attrs(self) -> dict[str, dict[str, Any]]:
        """Attributes of every job, in creation order, in two plain queries. A study without a job spec (made with
        Optuna's own API in the same database, or one being created this moment) is not a job: left out."""
        found = self._call("listing jobs", lambda _: all_study_attrs(self.engine)) if self._plain else None
        if found is None:  # Optuna's tables cannot be read that way: its own API
            studies = self._call("listing jobs", lambda _: self._storage.get_all_studies())
            found = {s.study_name: (s._study_id, dict(s.user_attrs)) for s in studies}
        self._ids = {name: study_id for name, (study_id, _) in found.items()}  # a deleted job's id is forgotten
        return {name: attrs for name, (_, attrs) in found.items() if SPEC in attrs}

    def set_job_attrs(self, name: str, **attrs: Any) -> None:
        """Set job attributes; a ``provenance`` record's package list goes to the blob table (see
        :func:`~jupyter_hpo.provenance.pack_packages`), so that listing jobs does not read it. Never another job's
        (:meth:`_same_job`): a handle to a deleted job stopped the job that took its study id."""
        study_id = self._same_job(name)
        if isinstance(attrs.get(PROVENANCE), dict) and isinstance(attrs[PROVENANCE].get("packages"), dict):
            from jupyter_hpo.provenance import pack_packages

            try:
                attrs[PROVENANCE] = pack_packages(attrs[PROVENANCE], lambda data: self._call(
                    f"keeping job {name!r}'s package list", lambda _: put_blob(self.engine, data)))
            except Exception as e:
                raise self._write_error(f"cannot write job {name!r} to", e) from None

        try:  # each attribute is set, not added: writing it twice (a retry) is harmless
            self._call(f"writing job {name!r}", lambda _: self._put_attrs(study_id, attrs))
        except Exception as e:
            raise self._write_error(f"cannot write job {name!r} to", e) from None

    def claim_job(self, name: str, expected: str | None, **attrs: Any) -> bool:
        """Set job attributes only if the job's stored ``status`` is still ``expected``, in one step (see
        :func:`~jupyter_hpo._optuna_tables.set_study_attrs`): of two users resuming or stopping one job at once,
        one takes it and the other is told (False, nothing written). The stored status of a job whose runner died
        is the one that runner last wrote (``running``): :meth:`watch_status` says ``stale``."""
        study_id = self._same_job(name)
        if not self._plain:  # Optuna's API commits each attribute on its own: a check, then the writes
            if self.job_attrs(name).get("status") != expected:
                return False
            self.set_job_attrs(name, **attrs)
            return True

        def attempt(retry: bool) -> bool:
            if retry and all(v == attrs[k] for k, v in study_attrs(self.engine, study_id).items() if k in attrs):
                return True  # the failed attempt's commit went through: this writer took the job
            return set_study_attrs(self.engine, study_id, attrs, expect=("status", expected))

        try:
            return bool(self._call(f"writing job {name!r}", attempt))
        except Exception as e:
            raise self._write_error(f"cannot write job {name!r} to", e) from None

    def _put_attrs(self, study_id: int, attrs: dict[str, Any]) -> None:
        """Set job attributes together: in one transaction when Optuna's tables are read plainly (a reader sees all
        of them changed or none, so a job resumed never reads as pending with its old runner, which is stale)."""
        if self._plain:
            set_study_attrs(self.engine, study_id, attrs)
            return
        # a store whose tables are not read plainly: Optuna commits each attribute on its own; the status last,
        # so a reader that sees the new status sees what goes with it (runner, heartbeat)
        for key in sorted(attrs, key=lambda k: k == "status"):
            self._storage.set_study_user_attr(study_id, key, attrs[key])

    def whole_provenance(self, record: dict[str, Any]) -> dict[str, Any]:
        """A job's ``provenance`` record with its package list read back from the blob table."""
        from jupyter_hpo.provenance import unpack_packages

        return unpack_packages(record, lambda digest: self._call(
            "reading a package list", lambda _: get_blob(self.engine, digest)))

    # -- files a job needs, in the store (a resume from another machine finds them there) ---------------
    def keep_objective(self, name: str, payload: bytes) -> None:
        """Keep job ``name``'s pickled objective in the store, by content; raise SpecError when too large."""
        if len(payload) > MAX_BLOB_BYTES:
            raise SpecError(f"a pickled objective must be at most {MAX_BLOB_BYTES:,} bytes to be kept in the "
                            f"store, but job {name!r}'s pickles to {len(payload):,} bytes: pass large data by path "
                            "(read it in the objective) rather than in its closure.")
        try:
            digest = self._call(f"keeping job {name!r}'s objective", lambda _: put_blob(self.engine, payload))
        except Exception as e:
            raise self._write_error(f"cannot write job {name!r} to", e) from None
        self.set_job_attrs(name, objective={"sha256": digest, "bytes": len(payload)})

    def restore_objective(self, name: str) -> Path | None:
        """Write job ``name``'s objective pickle into its folder here when it is missing or differs (a job
        launched or copied from another machine); return its path, or None for a job without one."""
        import hashlib

        ref = self.job_attrs(name).get("objective")
        if not isinstance(ref, dict):
            return None
        path = self.job_dir(name) / "objective.pkl"
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == ref["sha256"]:
            return path
        data = self._call(f"reading job {name!r}'s objective", lambda _: get_blob(self.engine, ref["sha256"]))
        if data is None:
            raise StoreError(f"job {name!r}'s objective (sha256 {ref['sha256'][:12]}...) is missing from the store "
                             f"at {self.shown_url}; launch the job again.")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".objective.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
        return path

    def keep_source(self, name: str, script: str) -> None:
        """Keep the folder of job ``name``'s script in the store, packed, by content (not the store's home)."""
        from jupyter_hpo._job_files import pack_folder

        folder = Path(script).parent
        data = pack_folder(folder, MAX_BLOB_BYTES, exclude=(self.home,))
        try:
            digest = self._call(f"keeping job {name!r}'s script folder", lambda _: put_blob(self.engine, data))
        except Exception as e:
            raise self._write_error(f"cannot write job {name!r} to", e) from None
        self.set_job_attrs(name, source={"sha256": digest, "bytes": len(data), "folder": str(folder)})

    def spec_here(self, name: str, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Job ``name``'s stored spec, its script moved to this machine's copy of the kept source folder when
        the original is not here (a job launched or copied from another machine)."""
        from jupyter_hpo._job_files import unpack_folder

        attrs = attrs if attrs is not None else self.job_attrs(name)
        spec, source = attrs["spec"], attrs.get("source")
        script = (spec.get("trial") or {}).get("script")
        if not isinstance(source, dict) or not script or Path(script).is_file():
            return spec
        here = self.job_dir(name) / f"source-{source['sha256'][:16]}"
        if not here.is_dir():
            data = self._call(f"reading job {name!r}'s script folder",
                              lambda _: get_blob(self.engine, source["sha256"]))
            if data is None:
                raise StoreError(f"job {name!r}'s script folder (sha256 {source['sha256'][:12]}...) is missing from "
                                 f"the store at {self.shown_url}; launch the job again.")
            if hashlib.sha256(data).hexdigest() != source["sha256"]:  # unpacking it was a traceback (EOFError)
                raise StoreError(f"job {name!r}'s script folder in the store at {self.shown_url} is damaged (its "
                                 f"content does not match its sha256 {source['sha256'][:12]}...); resume it where "
                                 f"the script is at {script}, or launch the job again.")
            unpack_folder(data, here)
        moved = here / Path(script).relative_to(source["folder"])
        return {**spec, "trial": {**spec["trial"], "script": str(moved)}}

    #: the job's status from its attributes (:func:`jupyter_hpo._liveness.job_status`)
    status_of = staticmethod(job_status)

    def watch_status(self, name: str, seconds: float | None = None) -> JobStatus:
        """The job's status, watched for up to ``seconds`` (default: the stale threshold for another machine,
        30 s) when it looks stale with a runner on another machine: a heartbeat that moves meanwhile shows the
        runner alive, whatever the two machines' clocks say. What ``resume``, ``stop`` and ``wait`` use before
        they treat a job as abandoned: only silence seen by this process's own clock proves a runner gone."""
        if seconds is None:
            seconds = stale_after_s(STALE_AFTER_S)
        attrs = self.job_attrs(name)
        status = self.status_of(attrs)
        runner = attrs.get("runner") or {}
        if status != JobStatus.STALE or runner.get("host") in (None, THIS_HOST):
            return status
        deadline = time.monotonic() + seconds
        first = attrs.get("heartbeat")
        while time.monotonic() < deadline:
            time.sleep(min(0.5, seconds))
            attrs = self.job_attrs(name)
            if attrs.get("heartbeat") != first or (attrs.get("runner") or {}) != runner:
                return self.status_of(attrs)
        return self.status_of(attrs)

    # -- trials: the store is their only reader and writer ----------------------------------------
    def trials(self, name: str, after: int = -1) -> list[FrozenTrial]:
        """Trials with ``number > after``; reads from the database only what is new or unfinished."""
        self._same_job(name)
        return self._trials_after(name, after)

    def _trials_after(self, name: str, after: int) -> list[FrozenTrial]:
        return self._by_id(name, f"reading job {name!r}'s trials",
                           lambda study_id: trials_after(self._storage, study_id, after))

    def trial_records(self, name: str, after: int = -1, space: SearchSpace | None = None) -> list[dict[str, Any]]:
        """Trials with ``number > after`` as :class:`~jupyter_hpo.records.TrialRecord` JSON dicts."""
        from jupyter_hpo.records import trial_record

        self._same_job(name)  # before its space is taken: a job made again under the name may have another
        if space is None:
            try:
                space = self._space(name)
            except KeyError:  # a job still being created (its spec is written just after it): no trial yet
                return []
        return [trial_record(t, space) for t in self._trials_after(name, after)]

    def summary_rows(self, names: list[str]) -> dict[str, list[dict[str, Any]]] | None:
        """For each job of ``names``, what its summary needs of each trial (``number``, ``state``, ``value``,
        ``warm``, ``startup_s``, ``interrupted``, ``cost_usd``, ``trial_id``), as a trial record has them, read
        in three queries for all the jobs together; None when Optuna's tables cannot be read that way."""
        import math

        if not self._plain:
            return None
        ids = {name: self.study_id(name) for name in names}
        by_study = self._call("reading trial figures", lambda _: summary_rows(self.engine, list(ids.values())))
        finite = {"value", STARTUP_S, COST_USD}  # as in a record: a NaN or infinite number is null
        out = {}
        for name, study_id in ids.items():
            rows = by_study[study_id]
            for row in rows:
                row[INTERRUPTED] = bool(row[INTERRUPTED])
                for key in finite:
                    if isinstance(row[key], float) and not math.isfinite(row[key]):
                        row[key] = None
            out[name] = rows
        return out

    def trial_params(self, trial_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The parameters of these trials (of any jobs) as Optuna has them (``FrozenTrial.params``), in one query."""
        if not self._plain:
            return {trial_id: dict(self._storage.get_trial(trial_id).params) for trial_id in trial_ids}
        return self._call("reading trial parameters", lambda _: trial_params(self.engine, trial_ids))

    def _space(self, name: str) -> SearchSpace:
        """The job's search space (read once: a job's space never changes)."""
        from jupyter_hpo.space import SearchSpace

        if name not in self._spaces:
            self._spaces[name] = SearchSpace.from_dict(self.job_attrs(name)["spec"]["space"])
        return self._spaces[name]

    def create_trial(self, name: str, template: FrozenTrial) -> int:
        """Add a trial to job ``name`` from ``template`` (state, params, attributes); return its trial id.

        Retried (see ``retry_s``), a creation whose commit went through although its answer was lost is
        found (same start time and parameters) rather than made twice.
        """
        study_id = self.study_id(name)

        def create(retry: bool) -> int:
            if retry:
                for t in trials_after(self._storage, study_id, -1):
                    if t.datetime_start == template.datetime_start and t.params == template.params:
                        return t._trial_id
            return write_new_trial(self.engine, study_id, template)

        return self._call(f"recording a trial of job {name!r}", create)

    def report(self, trial_id: int, step: int, value: float) -> None:
        """Record an intermediate value of a running trial."""
        self._call("recording an intermediate value",
                   lambda _: self._storage.set_trial_intermediate_value(trial_id, step, value))

    def finish_trial(self, trial_id: int, state: TrialState, value: float | None, attrs: dict[str, Any],
                     completed: datetime.datetime | None = None) -> None:
        """Write a trial's attributes, its value and its final state in one transaction (a finished trial
        cannot change any more): all of it or, when the database fails meanwhile, none of it.

        Retried (see ``retry_s``), a write whose commit went through although its answer was lost is not
        made twice. A trial's constraint values (``constraint_values``) are also written as Optuna's own
        ``constraints`` system attribute: ``optuna.load_study(...).best_trial`` then skips infeasible trials, as
        jupyter-hpo does (it named an infeasible trial best).
        """
        from optuna.trial import TrialState

        values = [value] if state == TrialState.COMPLETE else None
        system = ({OPTUNA_CONSTRAINTS: list(attrs[CONSTRAINT_VALUES])}
                  if isinstance(attrs.get(CONSTRAINT_VALUES), (list, tuple)) else None)
        self._call("recording a finished trial",
                   lambda retry: write_finished_trial(self.engine, trial_id, state, values, attrs, retry=retry,
                                                      completed=completed, system_attrs=system))

    def mark_interrupted(self, name: str) -> int:
        """Mark the job's running trials failed with ``interrupted`` (their runner is gone); return how many."""
        from optuna.trial import TrialState

        running = [t for t in self.trials(name) if t.state == TrialState.RUNNING]
        for t in running:
            self.finish_trial(t._trial_id, TrialState.FAIL, None,
                              {INTERRUPTED: True, ERROR: "interrupted: the runner stopped while it ran"})
        return len(running)


def check_schema(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` of job ``name`` when this version of jupyter-hpo can read them; else a clear JobStateError."""
    version = attrs.get("schema", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise JobStateError(f"job {name!r} was written by a newer jupyter-hpo (attribute schema {version!r}; this "
                            f"one reads up to {SCHEMA_VERSION}): upgrade jupyter-hpo to open it.")
    return attrs
