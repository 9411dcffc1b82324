"""How the store writes a trial: in one transaction when it is created and one when it finishes, on SQLite and
on a real PostgreSQL, and still a plain Optuna trial that Optuna's own API reads back exactly as it reads a trial
written through Optuna's per-attribute path. A failure inside the transaction leaves nothing half-written; a
PostgreSQL connection dropped inside it is retried and the trial is written once.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading

import optuna
import pytest
import sqlalchemy as sa
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from jupyter_hpo import store as store_module
from jupyter_hpo.store import Store

SPEC = {"backend": {"name": "local"}, "objective": {"direction": "minimize"}}
DISTRIBUTIONS = {"lr": FloatDistribution(1e-4, 1.0, log=True), "depth": IntDistribution(2, 10),
                 "booster": CategoricalDistribution(["gbtree", "dart", None])}
PARAMS = {"lr": 0.0123, "depth": 7, "booster": "dart"}
START = {"worker": "local-1", "warm": True, "seed": 42}
FINISH = {"startup_s": 0.004, "run_s": 1.25, "fold_scores": [0.7, 0.71], "metrics": {"auc": 0.7}, "warm": False,
          "note": "é ✓"}


@pytest.fixture(params=["sqlite", "postgresql"])
def kind_store(request: pytest.FixtureRequest, tmp_path) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store(url, home=tmp_path, retry_s=60)
    store.create_job("job", SPEC, "minimize")
    yield store
    store.close()


def running(**attrs: object) -> FrozenTrial:
    return FrozenTrial(number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
                       datetime_complete=None, params=dict(PARAMS), distributions=dict(DISTRIBUTIONS),
                       user_attrs={**START, **attrs}, system_attrs={}, intermediate_values={}, trial_id=-1)


def through_optuna(store: Store, template: FrozenTrial, reports: dict[int, float], state: TrialState,
                   value: float | None, attrs: dict[str, object]) -> int:
    """The same trial written the way Optuna's storage API writes it: an attribute per call."""
    storage = store.storage
    trial_id = storage.create_new_trial(store.study_id("job"), template_trial=template)
    for step, v in reports.items():
        storage.set_trial_intermediate_value(trial_id, step, v)
    for key, v in attrs.items():
        storage.set_trial_user_attr(trial_id, key, v)
    storage.set_trial_state_values(trial_id, state, [value] if state == TrialState.COMPLETE else None)
    return trial_id


def through_store(store: Store, template: FrozenTrial, reports: dict[int, float], state: TrialState,
                  value: float | None, attrs: dict[str, object]) -> int:
    trial_id = store.create_trial("job", template)
    for step, v in reports.items():
        store.report(trial_id, step, v)
    store.finish_trial(trial_id, state, value, attrs)
    return trial_id


def read_back(store: Store) -> list[FrozenTrial]:
    """The job's trials as Optuna's public API reads them, from a storage of its own (not our process's cache)."""
    return optuna.load_study(study_name="job", storage=store.url).trials


def same_trial(ours: FrozenTrial, theirs: FrozenTrial) -> None:
    assert ours.state == theirs.state
    assert ours.values == theirs.values
    assert ours.params == theirs.params and ours.distributions == theirs.distributions
    assert ours.user_attrs == theirs.user_attrs and ours.system_attrs == theirs.system_attrs
    assert ours.intermediate_values == theirs.intermediate_values
    assert isinstance(ours.datetime_start, datetime.datetime) and isinstance(ours.datetime_complete,
                                                                             datetime.datetime)
    assert ours.datetime_start <= ours.datetime_complete


@pytest.mark.parametrize("state, value", [(TrialState.COMPLETE, 0.25), (TrialState.PRUNED, None),
                                          (TrialState.FAIL, None)])
def test_optuna_reads_a_trial_the_store_wrote_as_one_written_through_its_own_api(kind_store, state, value):
    reports = {0: 0.5, 1: 0.375, 3: float("inf")}
    attrs = {**FINISH, "error": "boom"} if state == TrialState.FAIL else FINISH
    ours_template = running()
    theirs_id = through_optuna(kind_store, running(), reports, state, value, attrs)
    ours_id = through_store(kind_store, ours_template, reports, state, value, attrs)
    theirs, ours = read_back(kind_store)
    assert (theirs._trial_id, ours._trial_id) == (theirs_id, ours_id) and (theirs.number, ours.number) == (0, 1)
    same_trial(ours, theirs)
    assert ours.user_attrs == {**START, **attrs}  # "warm" of the start replaced by the one at the finish
    assert ours.intermediate_values == reports
    assert ours.value == value
    assert ours.datetime_start == ours_template.datetime_start
    # the store's own reads (the sidebar's records) see the same trial
    assert [t.state for t in kind_store.trials("job")] == [state, state]


def test_a_finished_trial_copied_whole_reads_back_as_it_was(kind_store):
    """``store copy`` hands create_trial whole finished trials: every field arrives, in Optuna's forms."""
    now = datetime.datetime.now().replace(microsecond=123000)
    template = FrozenTrial(number=7, state=TrialState.COMPLETE, value=-math.inf, datetime_start=now,
                           datetime_complete=now + datetime.timedelta(seconds=3), params=dict(PARAMS),
                           distributions=dict(DISTRIBUTIONS), user_attrs={**START, **FINISH},
                           system_attrs={"fixed_params": {"depth": 7}}, intermediate_values={0: 1.5, 2: math.nan},
                           trial_id=-1)
    kind_store.create_trial("job", template)
    (back,) = read_back(kind_store)
    assert back.number == 0 and back.state == TrialState.COMPLETE and back.value == -math.inf
    assert (back.datetime_start, back.datetime_complete) == (template.datetime_start, template.datetime_complete)
    assert back.params == PARAMS and back.distributions == DISTRIBUTIONS
    assert back.user_attrs == template.user_attrs and back.system_attrs == template.system_attrs
    assert back.intermediate_values[0] == 1.5 and math.isnan(back.intermediate_values[2])


def test_trials_created_from_two_stores_at_once_get_distinct_numbers(kind_store):
    from concurrent.futures import ThreadPoolExecutor

    stores = [Store(kind_store.url, home=kind_store.home) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            ids = [i for part in pool.map(lambda s: [s.create_trial("job", running()) for _ in range(15)], stores)
                   for i in part]
    finally:
        for s in stores:
            s.close()
    assert sorted(t.number for t in read_back(kind_store)) == list(range(30))
    assert len(set(ids)) == 30


def count_commits(store: Store) -> list[int]:
    commits = [0]
    sa.event.listen(store.engine, "commit", lambda _con: commits.__setitem__(0, commits[0] + 1))
    return commits


def test_a_trial_is_created_in_one_transaction_and_finished_in_one(kind_store):
    kind_store.study_id("job")  # looked up once per job and remembered, as a runner does
    commits = count_commits(kind_store)
    trial_id = kind_store.create_trial("job", running())
    assert commits == [1]
    kind_store.finish_trial(trial_id, TrialState.COMPLETE, 0.5, FINISH)
    assert commits == [2]
    (back,) = read_back(kind_store)
    assert back.state == TrialState.COMPLETE and back.user_attrs == {**START, **FINISH}


def fail_on(store: Store, table: str, error: Exception) -> list[int]:
    """Make the next statement that writes ``table`` raise ``error`` (once); return a list that counts hits."""
    hits = [0]

    def before(_con, _cursor, statement, *_args):
        if not hits[0] and statement.lstrip().upper().startswith("INSERT INTO " + table.upper()):
            hits[0] += 1
            raise error

    sa.event.listen(store.engine, "before_cursor_execute", before)
    return hits


def test_a_failure_inside_the_finishing_transaction_leaves_the_trial_as_it_was(kind_store):
    trial_id = kind_store.create_trial("job", running())
    kind_store.report(trial_id, 0, 0.9)
    hits = fail_on(kind_store, "trial_user_attributes", RuntimeError("disk full"))
    with pytest.raises(RuntimeError, match="disk full"):
        kind_store.finish_trial(trial_id, TrialState.COMPLETE, 0.5, FINISH)
    assert hits == [1]
    (back,) = read_back(kind_store)
    assert back.state == TrialState.RUNNING and back.datetime_complete is None and back.value is None
    assert back.user_attrs == START and back.intermediate_values == {0: 0.9}
    kind_store.finish_trial(trial_id, TrialState.COMPLETE, 0.5, FINISH)  # the runner's next attempt
    (back,) = read_back(kind_store)
    assert back.state == TrialState.COMPLETE and back.value == 0.5 and back.user_attrs == {**START, **FINISH}


def test_a_failure_inside_the_creating_transaction_leaves_no_trial(kind_store):
    fail_on(kind_store, "trial_user_attributes", RuntimeError("disk full"))
    with pytest.raises(RuntimeError, match="disk full"):
        kind_store.create_trial("job", running())
    assert read_back(kind_store) == []
    kind_store.create_trial("job", running())
    assert [t.number for t in read_back(kind_store)] == [0]


def test_a_finished_trial_cannot_be_finished_again(kind_store):
    trial_id = kind_store.create_trial("job", running())
    kind_store.finish_trial(trial_id, TrialState.COMPLETE, 0.5, FINISH)
    with pytest.raises(RuntimeError, match="has already finished"):
        kind_store.finish_trial(trial_id, TrialState.FAIL, None, {"error": "late"})
    (back,) = read_back(kind_store)
    assert back.state == TrialState.COMPLETE and "error" not in back.user_attrs


def rows_of(store: Store, table: str, trial_id: int) -> int:
    with store.engine.connect() as con:
        return con.execute(sa.text(f"SELECT count(*) FROM {table} WHERE trial_id = :t"), {"t": trial_id}).scalar()


def test_a_connection_dropped_inside_the_finishing_transaction_is_retried_and_written_once(
        postgres_server, postgres_url, tmp_path, caplog):
    import psycopg

    store = Store(postgres_url, home=tmp_path, retry_s=60)
    store.create_job("job", SPEC, "minimize")
    trial_id = store.create_trial("job", running())
    seen_meanwhile: list[tuple[str, int]] = []

    def drop(con, _cursor, statement, *_args):
        if seen_meanwhile or not statement.lstrip().upper().startswith("INSERT INTO TRIAL_USER_ATTRIBUTES"):
            return
        # what another client sees while the transaction is open: the trial as it was
        with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as other:
            seen_meanwhile.append(other.execute(
                "SELECT state::text, (SELECT count(*) FROM trial_values WHERE trial_id = %s) FROM trials "
                "WHERE trial_id = %s", (trial_id, trial_id)).fetchone())
        pid = con.connection.dbapi_connection.info.backend_pid
        postgres_server.sql(f"SELECT pg_terminate_backend({pid})")  # as an administrator ends a session

    sa.event.listen(store.engine, "before_cursor_execute", drop)
    with caplog.at_level(logging.WARNING, logger="jupyter_hpo.store"):
        store.finish_trial(trial_id, TrialState.COMPLETE, 0.5, FINISH)
    assert seen_meanwhile == [("RUNNING", 0)], "nothing of the finish is visible before its commit"
    assert "recording a finished trial: the store could not be reached" in caplog.text
    (back,) = read_back(store)
    assert back.state == TrialState.COMPLETE and back.value == 0.5 and back.user_attrs == {**START, **FINISH}
    assert rows_of(store, "trial_values", trial_id) == 1
    assert rows_of(store, "trial_user_attributes", trial_id) == len({**START, **FINISH})
    store.close()


def test_a_finish_whose_commit_went_through_but_whose_answer_was_lost_is_not_written_twice(
        postgres_url, tmp_path, monkeypatch, caplog):
    store = Store(postgres_url, home=tmp_path, retry_s=60)
    store.create_job("job", SPEC, "minimize")
    trial_id = store.create_trial("job", running())
    write, calls, here = store_module.write_finished_trial, [], threading.get_ident()

    def lost_answer(*args, **kwargs):
        if threading.get_ident() != here:  # a thread an earlier test left in this process writes as it did
            return write(*args, **kwargs)
        calls.append(kwargs["retry"])
        written = write(*args, **kwargs)
        if len(calls) == 1:  # committed; then the connection drops before the answer arrives
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"),
                                          connection_invalidated=True)
        return written

    monkeypatch.setattr(store_module, "write_finished_trial", lost_answer)
    with caplog.at_level(logging.WARNING, logger="jupyter_hpo.store"):
        store.finish_trial(trial_id, TrialState.COMPLETE, 0.5, FINISH)
    assert calls == [False, True] and "retrying" in caplog.text
    (back,) = read_back(store)
    assert back.state == TrialState.COMPLETE and back.value == 0.5 and back.user_attrs == {**START, **FINISH}
    assert rows_of(store, "trial_values", trial_id) == 1
    store.close()


def test_a_connection_dropped_inside_the_creating_transaction_is_retried_and_creates_one_trial(
        postgres_server, postgres_url, tmp_path, caplog):
    store = Store(postgres_url, home=tmp_path, retry_s=60)
    store.create_job("job", SPEC, "minimize")
    dropped = []

    def drop(con, _cursor, statement, *_args):
        if not dropped and statement.lstrip().upper().startswith("INSERT INTO TRIAL_USER_ATTRIBUTES"):
            dropped.append(con.connection.dbapi_connection.info.backend_pid)
            postgres_server.sql(f"SELECT pg_terminate_backend({dropped[0]})")

    sa.event.listen(store.engine, "before_cursor_execute", drop)
    template = running()
    with caplog.at_level(logging.WARNING, logger="jupyter_hpo.store"):
        trial_id = store.create_trial("job", template)
    assert len(dropped) == 1 and "recording a trial of job 'job': the store could not be reached" in caplog.text
    (back,) = read_back(store)  # one trial, whole: the dropped attempt left nothing
    assert back._trial_id == trial_id and back.number == 0 and back.state == TrialState.RUNNING
    assert back.params == PARAMS and back.user_attrs == START and back.datetime_start == template.datetime_start
    store.close()
