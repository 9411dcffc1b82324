"""Listing jobs reads Optuna's tables with plain queries: no Optuna import, no Optuna schema check (what made a
Jupyter server's first ``GET jobs`` wait about a second). Optuna's storage is opened when something needs it, on
the store's one engine. The listing is the one Optuna's own API gives; a store of another Optuna schema is opened
by Optuna, which says what to do. Runs on SQLite and on PostgreSQL (``tests/postgres.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_hpo import _optuna_tables, api, feed
from jupyter_hpo.exceptions import JobStateError
from jupyter_hpo.store import SCHEMA_VERSION, Store
from tests.test_store_summaries import TRIALS, add_job, add_jobs

LISTER = """
import json, sys
from jupyter_hpo import api
from jupyter_hpo.exceptions import JobStateError
store = api.open_store(sys.argv[1])
listed = api.list_jobs(store)
imported = sorted(m for m in ("optuna", "alembic") if m in sys.modules)
try:
    store.job_attrs("newer")
    refused = None
except JobStateError as e:
    refused = str(e)
trials = [t["number"] for t in api.attach("short-job", store).trial_records()]  # Optuna's storage, opened now
print(json.dumps({"listed": listed, "imported_while_listing": imported, "refused": refused, "trials": trials,
                  "optuna_now": "optuna" in sys.modules}))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, home: Path) -> str:
    """A new store's URL: SQLite under the test's home, or a fresh PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{home / 'store.db'}"


pytestmark = pytest.mark.usefixtures("fresh_summaries")


def fill(url: str, home: Path) -> None:
    store = Store(url, home=home)
    add_jobs(store, "short-job", "stopped")
    store.close()


def add_newer(url: str, home: Path) -> None:
    """A job written by a jupyter-hpo of a newer attribute schema."""
    store = Store(url, home=home)
    add_job(store, "newer", "maximize", TRIALS[:1])
    store.set_job_attrs("newer", schema=SCHEMA_VERSION + 1)
    store.close()


def through_optuna(url: str, home: Path) -> list[dict]:
    """The listing as Optuna's API reads it: every study and every trial through Optuna's storage."""
    store = Store(url, home=home)
    store._plain = False
    api._feeds.clear()
    feed._ENDED.clear()
    try:
        return api.list_jobs(store)
    finally:
        store.close()


def test_the_listing_equals_optunas_and_needs_neither_optuna_nor_its_schema_check(url, home):
    fill(url, home)
    expected = through_optuna(url, home)
    assert [j["name"] for j in expected] == ["short-job", "empty-job", "failed-job", "min-job", "max-job"]
    add_newer(url, home)  # listed (it has ended), but refused when read as one job
    run = subprocess.run([sys.executable, "-c", LISTER, url], check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "JUPYTER_HPO_HOME": str(home)})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [j for j in out["listed"] if j["name"] != "newer"] == json.loads(json.dumps(expected))
    assert out["imported_while_listing"] == []
    assert out["refused"] == (f"job 'newer' was written by a newer jupyter-hpo (attribute schema {SCHEMA_VERSION + 1}; "
                              f"this one reads up to {SCHEMA_VERSION}): upgrade jupyter-hpo to open it.")
    assert out["trials"] == [0, 1] and out["optuna_now"]


def test_reading_and_writing_through_optuna_after_a_plain_listing_works_on_the_stores_engine(url, home):
    fill(url, home)
    store = Store(url, home=home, application="listing-fast-test")
    listed = {j["name"]: j for j in api.list_jobs(store)}
    assert listed["max-job"]["best"]["number"] == 1
    store.set_job_attrs("short-job", status="completed", ended=2.0)  # a write: Optuna's storage is opened
    assert store.storage.get_study_user_attrs(store.study_id("short-job"))["status"] == "completed"
    assert store.job_attrs("short-job")["ended"] == 2.0
    assert [t.number for t in store.trials("max-job")] == list(range(len(TRIALS)))
    assert store.engine is store.storage._backend.engine, "Optuna's storage uses the store's engine and pool"
    assert store.optuna_schema() == (_optuna_tables.KNOWN_REVISION, _optuna_tables.KNOWN_REVISION)
    if url.startswith("postgresql"):  # one connection pool: used one call at a time, it holds one connection
        import sqlalchemy as sa

        with sa.create_engine(url).connect() as con:
            held = con.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                       "'listing-fast-test'")).scalar()
        assert held == 1
    store.close()


@pytest.mark.parametrize(("revision", "advice"), [("v3.0.0.d", "optuna storage upgrade"),
                                                  ("v99.0.0.a", "pip install -U optuna")])
def test_a_store_of_another_optuna_schema_is_opened_by_optuna_which_says_what_to_do(url, home, revision, advice):
    fill(url, home)
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    engine.dispose()
    with pytest.raises(RuntimeError, match=f"no longer compatible with the table schema.*{advice}"):
        Store(url, home=home)


def test_a_job_of_a_newer_attribute_schema_is_refused_by_a_store_that_reads_plainly(url, home):
    fill(url, home)
    add_newer(url, home)
    store = Store(url, home=home)
    with pytest.raises(JobStateError, match=r"job 'newer' was written by a newer jupyter-hpo"):
        store.job_attrs("newer")
    assert store.job_attrs("max-job")["schema"] == 1  # a plain job: the oldest schema reads it
    store.close()


def test_the_tables_described_are_the_installed_optunas():
    """Fails when an Optuna with another schema is installed: check the plain reads against its tables."""
    import optuna
    from optuna.storages._rdb import models

    assert _optuna_tables.optuna_head() == _optuna_tables.KNOWN_REVISION, optuna.__version__
    for table in vars(_optuna_tables.tables()).values():
        if table.name == "alembic_version":
            continue
        optunas = models.BaseModel.metadata.tables[table.name]
        assert set(table.c.keys()) <= set(optunas.c.keys()), table.name


@pytest.mark.parametrize("distribution", [
    '{"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": false, "step": null}}',
    '{"name": "IntDistribution", "attributes": {"low": 1, "high": 9, "log": false, "step": 1}}',
    '{"name": "CategoricalDistribution", "attributes": {"choices": ["a", null, 2, true]}}',
    '{"name": "UniformDistribution", "attributes": {"low": 0.0, "high": 1.0}}',
    '{"name": "LogUniformDistribution", "attributes": {"low": 0.001, "high": 1.0}}',
    '{"name": "DiscreteUniformDistribution", "attributes": {"low": 0.0, "high": 1.0, "q": 0.25}}',
    '{"name": "IntUniformDistribution", "attributes": {"low": 0, "high": 9, "step": 1}}',
    '{"name": "IntLogUniformDistribution", "attributes": {"low": 1, "high": 64, "step": 1}}',
    '{"type": "float", "low": 0.0, "high": 1.0}', '{"type": "int", "low": 0, "high": 3}',
    '{"type": "categorical", "choices": ["x", "y", "z"]}',
])
def test_parameters_read_plainly_are_what_optuna_gives(distribution):
    from optuna.distributions import json_to_distribution

    for internal in (0.0, 1.0, 2.0, 0.25):
        try:
            expected = json_to_distribution(distribution).to_external_repr(internal)
        except IndexError:
            continue
        got = _optuna_tables.param_value(internal, distribution)
        assert got == expected and type(got) is type(expected), (distribution, internal)
