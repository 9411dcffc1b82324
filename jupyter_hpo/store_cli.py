"""``jupyter hpo store info`` and ``jupyter hpo store copy``: what a store holds, and moving jobs between stores.

``info`` prints the store's kind, its location (any password masked), the schema versions (Optuna's and
jupyter-hpo's job attribute schema) and counts. ``copy SRC_URL DST_URL [JOB...]`` copies jobs (all of them
when none is named) with everything they need to be resumed from the destination: the job's attributes
and spec, every trial, and the pickled objective or packed script folder, e.g. from a laptop's SQLite to a
team's PostgreSQL.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from jupyter_hpo._store_db import blob_stats, get_blob, put_blob, trial_state_counts
from jupyter_hpo.exceptions import JobStateError, SpecError, StoreError
from jupyter_hpo.records import COPIED_FROM, dumps
from jupyter_hpo.store import SCHEMA_VERSION, Store, error_text

__all__ = ["add_store_parser", "cmd_store", "copy_jobs", "job_owners", "store_info"]


def add_store_parser(sub: Any) -> None:
    """Add ``store info`` and ``store copy`` to the CLI's sub-commands."""
    store = sub.add_parser("store", help="what the store holds (info), or copy jobs between stores (copy)")
    action = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    info = action.add_parser("info", help="the store's kind, location, schema versions and counts")
    info.add_argument("--json", action="store_true")
    copy = action.add_parser("copy", help="copy jobs (default: all) to another store, ready to be resumed there")
    copy.add_argument("src", metavar="SRC_URL", help="SQLAlchemy URL of the store to copy from")
    copy.add_argument("dst", metavar="DST_URL", help="SQLAlchemy URL of the store to copy to")
    copy.add_argument("jobs", metavar="JOB", nargs="*", help="the jobs to copy (default: every job)")
    copy.add_argument("--json", action="store_true")


def cmd_store(args: argparse.Namespace) -> int:
    if args.store_command == "info":
        if args.store is not None:  # a mistyped --store made an empty store there, and described it
            _check_source_exists(args.store, "--store", "nothing was created")
        info = store_info(Store(args.store))
        print(dumps(info) if args.json else _info_text(info))
        return 0
    _check_unique(args.jobs)  # before the stores are opened: opening a new SQLite store creates its file
    _check_source_exists(args.src)
    try:
        copied = copy_jobs(Store(args.src), Store(args.dst), args.jobs or None)
    except KeyboardInterrupt as e:
        print(e or "interrupted: nothing was copied", file=sys.stderr)
        return 130
    if args.json:
        print(dumps({"copied": copied}))
    else:
        print(f"copied {len(copied)} job(s): {', '.join(copied) or '-'}")
    return 0


def _check_source_exists(url: str, what: str = "SRC_URL", done: str = "nothing was copied") -> None:
    """A SQLite source that is not there is a typo: opening it made an empty store, and the copy said
    "copied 0 job(s)" (a server store that is not there fails to connect, in its own words)."""
    from jupyter_hpo._store_engine import sqlite_file
    from jupyter_hpo.store import resolved_url

    path = sqlite_file(resolved_url(url))
    if path is not None and not path.is_file():
        raise SpecError(f"{what} names no store: {path.resolve()} does not exist; {done}.")


def store_kind(url: str) -> str:
    """``sqlite``, ``postgresql``, ``mysql``...: the database behind a store URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def store_info(store: Store) -> dict[str, Any]:
    """The store's kind, location (password masked), schema versions and counts, as a JSON-able dict."""
    optuna_now, optuna_head = store.optuna_schema()
    attrs = store.all_job_attrs()
    statuses: Counter[str] = Counter(str(Store.status_of(a)) for a in attrs.values())
    schemas: Counter[str] = Counter(str(a.get("schema", 1)) for a in attrs.values())
    trials = store._call("counting the trials", lambda retry: trial_state_counts(store.engine, attrs))
    files, size = blob_stats(store.engine)
    return {
        "kind": store_kind(store.url), "location": store.shown_url,
        "schema": {"optuna": optuna_now, "optuna_head": optuna_head, "jobs": SCHEMA_VERSION,
                   "jobs_found": dict(schemas)},
        "jobs": len(attrs), "jobs_by_status": dict(statuses), "trials": sum(trials.values()),
        "trials_by_state": dict(trials), "files": files, "file_bytes": size,
    }


def _info_text(info: dict[str, Any]) -> str:
    def counts(c: dict[str, int]) -> str:
        return f" ({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})" if c else ""

    schema = info["schema"]
    found = ", ".join(f"{v} at {k}" for k, v in sorted(schema["jobs_found"].items())) or "no jobs"
    return "\n".join([
        f"kind      {info['kind']}",
        f"location  {info['location']}",
        (f"schema    optuna {schema['optuna']} (this Optuna writes {schema['optuna_head']}); "
         f"job attributes {schema['jobs']} (jobs: {found})"),
        f"jobs      {info['jobs']}{counts(info['jobs_by_status'])}",
        f"trials    {info['trials']}{counts(info['trials_by_state'])}",
        f"files     {info['files']} ({info['file_bytes']:,} bytes)",
    ])


def copy_jobs(src: Store, dst: Store, names: list[str] | None = None) -> list[str]:
    """Copy jobs ``names`` (default: all) from ``src`` to ``dst``; return the names copied.

    Each copy holds the job's attributes, every trial (numbers, states, values, parameters, attributes,
    intermediate values) and its pickled objective or packed script folder, so ``resume`` works from the
    destination alone.

    Raises:
        SpecError: a job is named more than once.
        JobNotFoundError: a named job is not in ``src``.
        JobStateError: a job is running (stop it first), or ``dst`` already has a job of that name.
    """
    names = list(names) if names else src.job_names()
    _check_unique(names)
    for name in names:  # check them all before copying any
        status = Store.status_of(src.job_attrs(name))
        if status.is_active():
            raise JobStateError(f"a job must not be running while it is copied, but {name!r} is {status}; "
                                "stop it first.")
        if name in dst.job_names():
            raise JobStateError(f"a job named {name!r} already exists in the store at {dst.shown_url}; "
                                "copy only jobs it does not have.")
    for i, name in enumerate(names):
        try:
            _copy_job(src, dst, name)
        except KeyboardInterrupt:  # Ctrl-C: said with what the destination holds (the jobs copied before it)
            raise KeyboardInterrupt(
                f"interrupted: job {name!r} was not copied (nothing of it is left in the store at {dst.shown_url})"
                + (f"; copied before it: {', '.join(names[:i])}" if i else "")) from None
    return names


def _check_unique(names: list[str]) -> None:
    """Refuse a job named twice: its second copy would find the first in the destination and fail half-way."""
    twice = [name for name, n in Counter(names).items() if n > 1]
    if twice:
        raise SpecError(f"each job to copy must be named once, but {', '.join(map(repr, twice))} "
                        f"{'is' if len(twice) == 1 else 'are'} named more than once; nothing was copied.")


def _copy_job(src: Store, dst: Store, name: str) -> None:
    attrs = src.job_attrs(name)
    if isinstance(attrs.get("provenance"), dict):  # its package list, from src's blob table into dst's
        attrs["provenance"] = src.whole_provenance(attrs["provenance"])
    (direction,) = src.storage.get_study_directions(src.study_id(name))
    dst.create_job(name, attrs["spec"], direction.name.lower())  # all or nothing of it, Ctrl-C too
    try:
        dst.set_job_attrs(name, **{k: v for k, v in attrs.items() if k != "objective"})
        trials = src.trials(name)
        for trial in trials:
            dst.create_trial(name, trial)
        # the folders its trials keep their models in are the source job's: a resume of the copy took them as its
        # own and, once its trials did better, deleted them (the source's best_model() failed)
        dst.set_job_attrs(name, **{COPIED_FROM: {"store": src.shown_url, "trials": len(trials)}})
        objective = _objective_bytes(src, name, attrs)
        if objective is not None:
            dst.keep_objective(name, objective)
        source = attrs.get("source")  # a script job's packed folder
        packed = get_blob(src.engine, source["sha256"]) if isinstance(source, dict) else None
        if packed is not None:
            put_blob(dst.engine, packed)
    except BaseException as e:  # Ctrl-C too: a half copy was listed as the source's status, and failed on resume
        dst.delete_job(name)  # no half-copied job is left behind
        if isinstance(e, (StoreError, JobStateError)) or not isinstance(e, Exception):
            raise
        raise StoreError(f"cannot copy job {name!r} to the store at {dst.shown_url}: {error_text(e)}") from None


def _objective_bytes(src: Store, name: str, attrs: dict[str, Any]) -> bytes | None:
    """The job's pickled objective: from the store, else (a job launched before objectives were kept
    there) from its folder in this home; None for a script job."""
    ref = attrs.get("objective")
    if isinstance(ref, dict):
        data = get_blob(src.engine, ref["sha256"])
        if data is not None:
            return data
    path = src.job_dir(name) / "objective.pkl"
    return path.read_bytes() if path.is_file() else None


def job_owners(store: Store) -> dict[str, tuple[str, bool]]:
    """Each job's owner as shown (``name@host``; ``""`` for a job from before owners) and whether it is mine."""
    from jupyter_hpo.owners import is_mine, owner_name

    shown: dict[str, tuple[str, bool]] = {}
    for name, attrs in store.all_job_attrs().items():
        owner = attrs.get("owner")
        host = owner.get("host") if isinstance(owner, dict) else None
        shown[name] = (f"{owner_name(owner)}@{host}" if host else owner_name(owner), is_mine(owner))
    return shown
