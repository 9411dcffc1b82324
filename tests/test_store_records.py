"""The store is the only reader and writer of trial and job records; Optuna's private cache is used in one place."""

from __future__ import annotations

import datetime
import re
import threading
from pathlib import Path

import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from jupyter_hpo import _store_db
from jupyter_hpo.store import Store

PACKAGE = Path(__file__).resolve().parents[1] / "jupyter_hpo"
SPEC = {"backend": {"name": "local"}, "objective": {"direction": "maximize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}}
#: Optuna storage calls that change records: only the store may make them
_WRITES = re.compile(r"\.(create_new_trial|set_trial_\w+|set_study_user_attr|set_study_system_attr)\(")


def running_template(x: float) -> FrozenTrial:
    return FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
        datetime_complete=None, params={"x": x}, distributions={"x": FloatDistribution(0, 1)},
        user_attrs={"worker": "local-1"}, system_attrs={}, intermediate_values={}, trial_id=-1,
    )


def test_no_module_but_the_store_writes_optunas_storage():
    """strategies.py's grid sampler writes its own bookkeeping (which point a trial runs) into the study it samples
    for, the runner's in-memory study, as Optuna's grid sampler does; that is not the store, and it writes nothing
    else."""
    writes = {str(p.relative_to(PACKAGE)): set(_WRITES.findall(p.read_text(encoding="utf-8")))
              for p in PACKAGE.rglob("*.py")}
    writers = sorted(name for name, found in writes.items() if found)
    assert writers == ["store.py", "strategies.py"], f"only store.py may write trials and job attributes: {writers}"
    assert writes["strategies.py"] == {"set_trial_system_attr"}


def test_a_trial_is_created_reported_and_finished_through_the_store(store):
    store.create_job("job-a", SPEC, "maximize")
    first = store.create_trial("job-a", running_template(0.25))
    second = store.create_trial("job-a", running_template(0.5))
    store.report(first, 0, 0.1)
    store.report(first, 1, 0.2)
    store.finish_trial(first, TrialState.COMPLETE, 0.3, {"run_s": 1.5, "metrics": {"auc": 0.3}})
    store.finish_trial(second, TrialState.FAIL, None, {"error": "boom"})
    records = store.trial_records("job-a")
    assert [(r["number"], r["state"], r["value"]) for r in records] == [(0, "complete", 0.3), (1, "fail", None)]
    assert records[0]["params"] == {"x": 0.25} and records[0]["run_s"] == 1.5
    assert records[0]["intermediate"] == {"0": 0.1, "1": 0.2} and records[1]["error"] == "boom"
    assert [r["number"] for r in Store(home=store.home).trial_records("job-a", after=0)] == [1]


def test_interrupted_trials_are_finished_through_the_store(store):
    store.create_job("job-a", SPEC, "maximize")
    store.create_trial("job-a", running_template(0.25))
    assert store.mark_interrupted("job-a") == 1
    (t,) = store.trials("job-a")
    assert t.state == TrialState.FAIL and t.user_attrs["interrupted"] is True


def test_optunas_private_trial_cache_is_still_what_the_store_reads(store):
    """Fails when Optuna changes the structure :func:`trials_after_from_cache` relies on."""
    study_id = store.create_job("job-a", SPEC, "maximize")
    for x in (0.1, 0.2, 0.3):
        store.create_trial("job-a", running_template(x))
    storage = store.storage
    assert callable(getattr(storage, "_read_trials_from_remote_storage", None))
    assert isinstance(storage._lock, type(threading.Lock())) or hasattr(storage._lock, "__enter__")
    storage._read_trials_from_remote_storage(study_id)
    by_number = storage._studies[study_id].trials
    assert isinstance(by_number, dict) and sorted(by_number) == [0, 1, 2]
    assert all(isinstance(t, FrozenTrial) and t.number == n for n, t in by_number.items())
    cached = _store_db.trials_after_from_cache(storage, study_id, 0)
    assert cached is not None, "Optuna's trial cache is no longer found: the store polls the slow way"
    assert cached == list(storage.get_all_trials(study_id))[1:]


def test_without_the_cache_the_public_api_gives_the_same_trials(store):
    study_id = store.create_job("job-a", SPEC, "maximize")
    for x in (0.1, 0.2, 0.3, 0.4):
        store.create_trial("job-a", running_template(x))
    backend = store.storage._backend  # the RDB storage under the cache: no private cache there
    assert _store_db.trials_after_from_cache(backend, study_id, 1) is None
    assert [t.number for t in _store_db.trials_after(backend, study_id, 1)] == [2, 3]
    assert [t.number for t in _store_db.trials_after(store.storage, study_id, 1)] == [2, 3]
    assert _store_db.trials_after(backend, study_id, 3) == []


@pytest.mark.parametrize("value, size", [("", 2), ("5", 5), ("zero", 2), ("-3", 1)])
def test_a_server_databases_pool_is_small_and_checked(monkeypatch, value, size):
    monkeypatch.setenv(_store_db.POOL_ENV, value)
    kwargs = _store_db.server_engine_kwargs()
    assert kwargs["pool_size"] == size and kwargs["pool_pre_ping"] is True
