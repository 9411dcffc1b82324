"""Optuna's tables as plain SQLAlchemy Core tables: what the store reads without Optuna's ORM, or Optuna at all,
and the one write it makes that way (a job's attributes, changed together: :func:`set_study_attrs`).

Listing jobs (a Jupyter server's first ``GET jobs``, ``jupyter hpo list``) reads a few columns of Optuna's tables.
Through Optuna it first imports Optuna, its ORM models and alembic and checks the schema (``RDBStorage``): about
a second before the first row. Here the same rows are read with plain queries on tables described below.

They describe the layout of Optuna's schema revision :data:`KNOWN_REVISION`. A store is read this way only when
its revision (``alembic_version``, one plain query) is that one and is the installed Optuna's head revision
(which Optuna's own check requires): else the store opens Optuna's storage at once, as before, and Optuna
says what is wrong (e.g. "please execute `optuna storage upgrade`"). ``tests/test_store_listing_fast.py``
fails when an Optuna with another head is installed, so these descriptions are checked against it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jupyter_hpo.records import COST_USD, FEASIBLE, INTERRUPTED, RERUN_OF, STARTUP_S, WARM

#: Optuna's schema revision whose tables are described here (Optuna 3.2 to at least 5.1)
KNOWN_REVISION = "v3.2.0.a"

_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*["\']?([^"\'\s]*)["\']?\s*$', re.MULTILINE)


@functools.lru_cache(maxsize=1)
def optuna_head() -> str | None:
    """The head schema revision of the installed Optuna, from its migration scripts' ``revision`` lines (what
    alembic reads, without importing Optuna or alembic); None when they cannot be read so."""
    try:
        spec = importlib.util.find_spec("optuna")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "storages" / "_rdb" / "alembic" / "versions"
    revisions, parents = set(), set()
    try:
        for script in folder.glob("*.py"):
            found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
            if found.get("revision"):
                revisions.add(found["revision"])
            if found.get("down_revision") not in (None, "", "None"):
                parents.add(found["down_revision"])
    except OSError:
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


@functools.lru_cache(maxsize=1)
def tables() -> SimpleNamespace:
    """The tables and columns the store reads, as Optuna's revision :data:`KNOWN_REVISION` lays them out.

    A trial's ``state`` and a value's ``value_type`` hold the names of Optuna's enums (``COMPLETE``, ``INF_POS``):
    read as text here, not as Optuna's enums.
    """
    import sqlalchemy as sa

    meta = sa.MetaData()

    def table(name: str, *columns: tuple[str, Any]) -> sa.Table:
        return sa.Table(name, meta, *(sa.Column(column, kind) for column, kind in columns))

    text, number, whole = sa.Text, sa.Float(precision=53), sa.Integer
    return SimpleNamespace(
        alembic_version=table("alembic_version", ("version_num", text)),
        studies=table("studies", ("study_id", whole), ("study_name", text)),
        study_user_attributes=table("study_user_attributes", ("study_user_attribute_id", whole),
                                    ("study_id", whole), ("key", text), ("value_json", text)),
        trials=table("trials", ("trial_id", whole), ("number", whole), ("study_id", whole), ("state", text)),
        trial_values=table("trial_values", ("trial_id", whole), ("objective", whole), ("value", number),
                           ("value_type", text)),
        trial_user_attributes=table("trial_user_attributes", ("trial_id", whole), ("key", text),
                                    ("value_json", text)),
        trial_params=table("trial_params", ("trial_id", whole), ("param_name", text), ("param_value", number),
                           ("distribution_json", text)),
    )


def stored_revision(engine: Any) -> str | None:
    """The store's Optuna schema revision, or None when it has none (no ``alembic_version`` table yet: a new
    database, which Optuna's storage creates). Any other database error is raised."""
    import sqlalchemy as sa

    version = tables().alembic_version
    try:
        with engine.connect() as con:
            return con.execute(sa.select(version.c.version_num)).scalar()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError) as e:
        if _missing_table(e):
            return None
        raise


def _missing_table(error: Exception) -> bool:
    """Whether a failed query failed because its table does not exist (SQLite, PostgreSQL, MySQL words)."""
    words = str(getattr(error, "orig", error)).lower()
    return "no such table" in words or "does not exist" in words or "doesn't exist" in words


def readable(revision: str | None) -> bool:
    """Whether a store of Optuna schema ``revision`` may be read with :func:`tables` and without Optuna's check:
    it is the revision described here and the installed Optuna's head (so Optuna's own check would pass)."""
    return revision == KNOWN_REVISION and optuna_head() == KNOWN_REVISION


def value_of(stored: float | None, kind: str) -> float | None:
    """A trial value as Optuna gives it back (``TrialValueModel.stored_repr_to_value``): infinities are
    stored as a kind and no number."""
    if kind == "INF_POS":
        return float("inf")
    if kind == "INF_NEG":
        return float("-inf")
    return stored


_FLOATS = {"FloatDistribution", "UniformDistribution", "LogUniformDistribution", "DiscreteUniformDistribution"}
_INTS = {"IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution"}


def param_value(internal: float, distribution_json: str) -> Any:
    """A parameter's value as Optuna gives it (``json_to_distribution(d).to_external_repr(internal)``): a float
    stays as it is, an int is made an int, a categorical value is its choice by index. A distribution of
    another kind is left to Optuna."""
    found = json.loads(distribution_json)
    kind = found.get("name") or {"float": "FloatDistribution", "int": "IntDistribution",
                                 "categorical": "CategoricalDistribution"}.get(found.get("type"))
    if kind in _FLOATS:
        return internal
    if kind in _INTS:
        return int(internal)
    if kind == "CategoricalDistribution":
        choices = found["attributes"]["choices"] if "name" in found else found["choices"]
        return choices[int(internal)]
    from optuna.distributions import json_to_distribution

    return json_to_distribution(distribution_json).to_external_repr(internal)


def _fetch(con: Any, statement: Any) -> list[tuple[Any, ...]]:
    """Every row of ``statement`` as the driver gives it (a tuple), for the queries of many rows.

    SQLAlchemy's rows cost about half of a first listing of a 10,000-trial job (90 of 190 ms on SQLite). The
    statement is run through SQLAlchemy (its error handling, with the values written into it: only numbers
    read from the store and this module's attribute keys) and fetched from the driver's cursor; a driver error
    while fetching is raised as SQLAlchemy raises it.
    """
    import sqlalchemy as sa

    sql = str(statement.compile(dialect=con.dialect, compile_kwargs={"literal_binds": True}))
    result = con.exec_driver_sql(sql)
    dbapi_error = con.dialect.loaded_dbapi.Error
    try:
        return list(result.cursor.fetchall())
    except dbapi_error as e:
        raise sa.exc.DBAPIError.instance(sql, None, e, dbapi_error) from e
    finally:
        result.close()


# -- what listing jobs reads -----------------------------------------------------------------------------
#: The trial user attributes a job's summary needs (``records.JobSummary``): read by :func:`summary_rows`.
SUMMARY_ATTRS = (WARM, STARTUP_S, INTERRUPTED, RERUN_OF, COST_USD, FEASIBLE)


def all_study_attrs(engine: Any) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every study's name, id and user attributes, in creation order, in two plain queries: ``{name: (study_id,
    attrs)}``, what Optuna's ``get_all_studies`` gives (``study_name``, ``_study_id``, ``user_attrs``).

    Optuna's ``get_all_studies`` builds an ORM object for each attribute, direction and study and decodes its
    system attributes too: 40-50 ms for 100 jobs on PostgreSQL, most of a ``GET jobs``. This reads the same rows
    in a few milliseconds.
    """
    import sqlalchemy as sa

    s, a = tables().studies, tables().study_user_attributes
    with engine.connect() as con:
        studies = _fetch(con, sa.select(s.c.study_id, s.c.study_name).order_by(s.c.study_id))
        attrs: dict[int, dict[str, Any]] = {study_id: {} for study_id, _ in studies}
        for study_id, key, value_json in _fetch(con, sa.select(a.c.study_id, a.c.key, a.c.value_json)
                                                .order_by(a.c.study_user_attribute_id)):
            if study_id in attrs:  # else a study created between the two queries: it is listed next time
                attrs[study_id][key] = json.loads(value_json)
    return {name: (study_id, attrs[study_id]) for study_id, name in studies}


def set_study_attrs(engine: Any, study_id: int, attrs: dict[str, Any],
                    expect: tuple[str, Any] | None = None) -> bool:
    """Set several user attributes of one study in one transaction, stored as Optuna's ``set_study_user_attr``
    stores each (``json.dumps`` of the value): a reader sees all of them changed or none.

    Optuna commits each attribute on its own, so a reader could see half a change: a job resumed (``status``
    ``pending``, ``runner`` cleared) read between the two commits showed ``pending`` with its old, dead runner,
    which is a stale job, and a ``wait()`` then returned at once.

    ``expect=(key, value)``: a compare-and-set. The attributes are set only if ``key`` still holds ``value`` (None:
    also when there is no such attribute), which the first statement checks and takes (a conditional update: a
    second writer with the same expectation waits for the first one's commit, then finds the value changed).
    Returns False, and sets nothing, when it did not hold.

    Raises:
        KeyError: no study has this id (it was deleted), as Optuna raises it.
    """
    import sqlalchemy as sa

    s, a = tables().studies, tables().study_user_attributes
    for attempt in (1, 2):
        try:
            with engine.begin() as con:
                if con.execute(sa.select(s.c.study_id).where(s.c.study_id == study_id)).first() is None:
                    raise KeyError(f"No study with study_id {study_id} exists.")  # as Optuna says it
                if expect is not None:
                    key, value = expect
                    taken = con.execute(sa.update(a).where(a.c.study_id == study_id, a.c.key == key,
                                                           a.c.value_json == json.dumps(value))
                                        .values(value_json=json.dumps(attrs.get(key, value)))).rowcount
                    if not taken and value is None and con.execute(sa.select(a.c.key).where(
                            a.c.study_id == study_id, a.c.key == key)).first() is None:
                        # None expects no such attribute (a job written before it had one): taken by adding it
                        # (a second writer's insert fails on the unique key, and its retry finds it taken)
                        con.execute(sa.insert(a).values(study_id=study_id, key=key,
                                                        value_json=json.dumps(attrs.get(key))))
                        taken = 1
                    if not taken:
                        return False
                for key, value in attrs.items():
                    value_json = json.dumps(value)
                    changed = con.execute(sa.update(a).where(a.c.study_id == study_id, a.c.key == key)
                                          .values(value_json=value_json)).rowcount
                    if not changed:
                        con.execute(sa.insert(a).values(study_id=study_id, key=key, value_json=value_json))
            return True
        except sa.exc.IntegrityError:  # another writer added one of these keys first: update it this time
            if attempt == 2:
                raise


def study_id_of(engine: Any, name: str) -> int | None:
    """The id of the study named ``name``, or None (Optuna's ``get_study_id_from_name`` raises KeyError)."""
    import sqlalchemy as sa

    s = tables().studies
    with engine.connect() as con:
        return con.execute(sa.select(s.c.study_id).where(s.c.study_name == name)).scalar()


def study_identity(engine: Any, study_id: int) -> tuple[str, str | None] | None:
    """Which job study ``study_id`` is now: its name and its ``created`` attribute as stored (JSON text; None
    without one), in one query; None when no study has this id. SQLite gives a new study the id (and its trials
    the trial ids) of a deleted one that was the newest, so an id alone does not tell two jobs apart."""
    import sqlalchemy as sa

    s, a = tables().studies, tables().study_user_attributes
    created = sa.and_(a.c.study_id == s.c.study_id, a.c.key == "created")
    with engine.connect() as con:
        row = con.execute(sa.select(s.c.study_name, a.c.value_json).select_from(s.outerjoin(a, created))
                          .where(s.c.study_id == study_id)).first()
    return None if row is None else (row[0], row[1])


def study_attrs(engine: Any, study_id: int) -> dict[str, Any]:
    """The user attributes of one study, as Optuna's ``get_study_user_attrs`` gives them.

    Raises:
        KeyError: no study has this id (it was deleted), as Optuna raises it.
    """
    import sqlalchemy as sa

    s, a = tables().studies, tables().study_user_attributes
    with engine.connect() as con:
        found = con.execute(sa.select(a.c.key, a.c.value_json).where(a.c.study_id == study_id)
                            .order_by(a.c.study_user_attribute_id)).all()
        if not found and con.execute(sa.select(s.c.study_id).where(s.c.study_id == study_id)).first() is None:
            raise KeyError(f"No study with study_id {study_id} exists.")
    return {key: json.loads(value_json) for key, value_json in found}


def summary_rows(engine: Any, study_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """What a job summary needs of each trial of ``study_ids``, in three plain queries: number, state, value and
    :data:`SUMMARY_ATTRS`, as ``{study_id: [row, ...]}`` ordered by number (each row keeps its ``trial_id``).

    Optuna builds a whole trial (parameters, attributes, intermediate values) as ORM objects: ~4 s for the
    10,000 trials of one job, which made a server's first ``GET jobs`` wait for every trial of every job.
    These rows take tens of milliseconds. ``tests/test_store.py`` checks the summaries made from them against
    those made from whole trials.
    """
    import sqlalchemy as sa

    if not study_ids:
        return {}
    t, v, a = tables().trials, tables().trial_values, tables().trial_user_attributes
    rows: dict[int, dict[str, Any]] = {}
    empty = {"value": None, **dict.fromkeys(SUMMARY_ATTRS)}
    with engine.connect() as con:  # one fetch each, not a fetch per row (10,000s of rows for a big job)
        found = _fetch(con, sa.select(t.c.trial_id, t.c.study_id, t.c.number, t.c.state)
                       .where(t.c.study_id.in_(study_ids)))
        for trial_id, study_id, number, state in found:
            rows[trial_id] = {"trial_id": trial_id, "study_id": study_id, "number": number, "state": state.lower(),
                              **empty}
        for trial_id, value, kind in _fetch(con, (
                sa.select(v.c.trial_id, v.c.value, v.c.value_type).join(t, v.c.trial_id == t.c.trial_id)
                .where(t.c.study_id.in_(study_ids), v.c.objective == 0))):
            if trial_id in rows:
                rows[trial_id]["value"] = value_of(value, kind)
        for trial_id, key, value_json in _fetch(con, (
                sa.select(a.c.trial_id, a.c.key, a.c.value_json).join(t, a.c.trial_id == t.c.trial_id)
                .where(t.c.study_id.in_(study_ids), a.c.key.in_(SUMMARY_ATTRS)))):
            if trial_id in rows:
                rows[trial_id][key] = _json_scalar(value_json)
    by_study: dict[int, list[dict[str, Any]]] = {study_id: [] for study_id in study_ids}
    for row in sorted(rows.values(), key=lambda r: r["number"]):
        by_study[row.pop("study_id")].append(row)
    return by_study


_JSON_WORDS = {"true": True, "false": False, "null": None}


def _json_scalar(text: str) -> Any:
    """``json.loads(text)``, quicker for the words and numbers summary attributes hold (a third of a big job's
    summary time went to the JSON decoder)."""
    if text in _JSON_WORDS:
        return _JSON_WORDS[text]
    try:
        return int(text)
    except ValueError:
        pass
    if text[:1] in "-0123456789NI":  # a number as json.dumps writes it (NaN, Infinity, -Infinity included)
        try:
            return float(text)
        except ValueError:
            pass
    return json.loads(text)


def trial_params(engine: Any, trial_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The parameters of ``trial_ids`` as Optuna gives them (``FrozenTrial.params``), in one query."""
    import sqlalchemy as sa

    p = tables().trial_params
    out: dict[int, dict[str, Any]] = {trial_id: {} for trial_id in trial_ids}
    if not trial_ids:
        return out
    with engine.connect() as con:
        for trial_id, name, value, dist in con.execute(
                sa.select(p.c.trial_id, p.c.param_name, p.c.param_value, p.c.distribution_json)
                .where(p.c.trial_id.in_(trial_ids))).all():
            out[trial_id][name] = param_value(value, dist)
    return out
