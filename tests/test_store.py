"""The store: Optuna's RDB storage over SQLite, job attributes, derived status, incremental reads."""

from __future__ import annotations

import datetime
import os
import sqlite3
import threading
import time

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from jupyter_hpo.exceptions import JobNotFoundError, JobStateError, SpecError, StoreError
from jupyter_hpo.store import STALE_AFTER_S, JobStatus, Store

SPEC = {"backend": {"name": "local"}, "objective": {"direction": "maximize"}}


def add_trial(store: Store, name: str, state: TrialState, value: float | None = None) -> int:
    template = FrozenTrial(
        number=-1, state=state, value=value, datetime_start=datetime.datetime.now(),
        datetime_complete=datetime.datetime.now() if state.is_finished() else None,
        params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, user_attrs={"worker": "local-1"},
        system_attrs={}, intermediate_values={}, trial_id=-1,
    )
    return store.storage.create_new_trial(store.study_id(name), template_trial=template)


def test_the_default_store_is_sqlite_in_wal_mode_under_home(store, home):
    assert store.url == f"sqlite:///{home / 'store.db'}"
    con = sqlite3.connect(home / "store.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_url_from_the_environment_wins(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("JUPYTER_HPO_STORE_URL", url)
    assert Store(home=tmp_path / "h").url == url
    assert (tmp_path / "team.db").exists()


def test_jobs_and_their_attributes_round_trip(store):
    store.create_job("job-a", SPEC, "maximize")
    store.set_job_attrs("job-a", status="running", heartbeat=123.0)
    attrs = store.job_attrs("job-a")
    assert attrs["spec"] == SPEC and attrs["backend"] == "local" and attrs["status"] == "running"
    assert attrs["stop_requested"] is False and attrs["created"] <= time.time()
    assert list(store.all_job_attrs()) == ["job-a"]


def test_a_resumed_job_never_reads_as_stale_while_its_attributes_change(store):
    """A stop and a resume each change several attributes at once; a reader (another process: its own Store) must
    see all of a change or none. Read half-way, a resume (status pending, runner cleared) showed pending with the
    old, dead runner: stale, so a ``wait()`` right after a resume returned "stale" (a campaign test's flake)."""
    import threading

    store.create_job("job-a", SPEC, "maximize")
    dead = {"pid": 2**22 + 12345, "host": os.uname().nodename, "started": 1.0}  # no such process
    stopped = {"status": "stopped", "reason": "stopped on request", "runner": dead, "stop_requested": True}
    resumed = {"status": "pending", "reason": "", "runner": {}, "stop_requested": False}
    store.set_job_attrs("job-a", **stopped)
    reader, seen, done = Store(store.url, home=store.home), [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            attrs = reader.job_attrs("job-a")
            seen.append((Store.status_of(attrs).value, attrs["stop_requested"]))

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        for _ in range(150):
            store.set_job_attrs("job-a", **resumed, heartbeat=time.time())
            store.set_job_attrs("job-a", **stopped)
    finally:
        done.set()
        thread.join()
    assert len(seen) > 100, "the reader read while the writes went on"
    consistent = {("stopped", True), ("pending", False)}
    assert set(seen) <= consistent, f"half-changed reads: {sorted(set(seen) - consistent)}"
    # new attributes are added in the same transaction, and a deleted job's are refused as before
    store.set_job_attrs("job-a", status="running", fresh_key={"n": 1})
    assert reader.job_attrs("job-a")["fresh_key"] == {"n": 1}
    assert optuna.load_study(study_name="job-a", storage=store.url).user_attrs["fresh_key"] == {"n": 1}


@pytest.mark.parametrize("plain", [True, False])
def test_a_job_deleted_by_another_process_is_not_found_and_its_name_can_be_taken_again(store, home, plain):
    """A reader remembers each job's study id. When another process deleted the job (a launch that failed part-way,
    a store copy), every read failed with Optuna's KeyError (a 500 in the REST API), and went on failing after a
    new job took the name; the sidebar and dashboard never learnt the job was gone."""
    reader = Store(home=home)
    reader._plain = plain  # Optuna's tables read plainly, or through Optuna's API (a newer Optuna)
    store.create_job("doomed", SPEC, "maximize")
    add_trial(store, "doomed", TrialState.COMPLETE, 0.1)
    assert [t.value for t in reader.trials("doomed")] == [0.1] and reader.job_attrs("doomed")["spec"] == SPEC
    store.delete_job("doomed")
    with pytest.raises(JobNotFoundError, match="no job named 'doomed'"):
        reader.trials("doomed")
    with pytest.raises(JobNotFoundError, match="no job named 'doomed'"):
        reader.job_attrs("doomed")
    store.create_job("doomed", SPEC, "maximize")  # the name taken again: the new job is read, not the old
    add_trial(store, "doomed", TrialState.COMPLETE, 0.9)
    assert [t.value for t in reader.trials("doomed")] == [0.9]
    store.delete_job("doomed")
    assert "doomed" not in reader.all_job_attrs()
    with pytest.raises(JobNotFoundError):
        reader.job_attrs("doomed")


@pytest.mark.parametrize("plain", [True, False])
@pytest.mark.parametrize("again", ["under another name", "under the same name"])
def test_a_reader_never_shows_a_deleted_jobs_trials_as_those_of_the_job_made_after_it(store, home, plain, again):
    """SQLite gives a new study the id of a deleted one that was the newest, and its trials the deleted trials'
    ids; Optuna's trial cache never reads a finished trial again. A server that had shown a job, deleted since by
    another process, showed its trials as the next job's first trials (a sidebar showed the wrong best, and the
    best's model path of another trial). The reader reads nothing in between."""
    reader = Store(home=home)
    reader._plain = plain
    spec = {**SPEC, "space": {"x": {"type": "float", "low": 0, "high": 1}}}
    store.create_job("first", spec, "maximize")
    for value in (0.5, 0.25):
        add_trial(store, "first", TrialState.COMPLETE, value)
    assert [t.value for t in reader.trials("first")] == [0.5, 0.25]
    assert [r["value"] for r in reader.trial_records("first")] == [0.5, 0.25]
    store.delete_job("first")
    name = "second" if again == "under another name" else "first"
    store.create_job(name, spec, "maximize")
    for value in (0.1, 0.2, 0.3):
        add_trial(store, name, TrialState.COMPLETE, value)
    assert [t.value for t in reader.trials(name)] == [0.1, 0.2, 0.3]
    assert [r["value"] for r in reader.trial_records(name, after=0)] == [0.2, 0.3]
    assert [r["value"] for r in reader.trial_records(name)] == [0.1, 0.2, 0.3]


@pytest.mark.parametrize("plain", [True, False], ids=["plain reads", "optuna reads"])
def test_a_handle_to_a_deleted_job_never_reads_writes_or_deletes_the_job_that_took_its_id(store, home, plain):
    """SQLite gives a new study the id of a deleted one that was the newest. A long-lived process (a notebook, the
    server) that had looked job 'first' up read the next job's status and space as first's, and its
    ``stop()`` and ``delete_job("first")`` stopped or deleted that job."""
    holder = Store(home=home)
    holder._plain = plain
    store.create_job("first", SPEC, "maximize")
    store.set_job_attrs("first", note="I am first")
    assert holder.job_attrs("first")["note"] == "I am first"
    store.delete_job("first")
    store.create_job("second", SPEC, "maximize")
    store.set_job_attrs("second", note="I am second")
    for act in (lambda: holder.job_attrs("first"), lambda: holder.set_job_attrs("first", stop_requested=True),
                lambda: holder.delete_job("first")):
        with pytest.raises(JobNotFoundError, match="no job named 'first'"):
            act()
    attrs = store.job_attrs("second")
    assert attrs["note"] == "I am second" and attrs["stop_requested"] is False
    assert holder.job_attrs("second")["note"] == "I am second"


def test_without_plain_tables_a_resume_writes_the_status_last(store, monkeypatch):
    """A store whose Optuna schema is not the one read plainly (a newer Optuna) writes through Optuna, one commit
    per attribute: the status goes last, so a reader that sees a resumed job pending sees its old runner gone."""
    import threading

    store.create_job("job-a", SPEC, "maximize")
    dead = {"pid": 2**22 + 12345, "host": os.uname().nodename, "started": 1.0}
    stopped = {"status": "stopped", "runner": dead}
    store.set_job_attrs("job-a", **stopped)
    monkeypatch.setattr(store, "_plain", False)
    reader, seen, done = Store(store.url, home=store.home), [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(Store.status_of(reader.job_attrs("job-a")).value)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        for _ in range(100):
            store.set_job_attrs("job-a", status="pending", reason="", runner={}, heartbeat=time.time())
            store.set_job_attrs("job-a", status="stopped")  # back, one attribute at a time, never stale on the way
            store.set_job_attrs("job-a", runner=dead)
    finally:
        done.set()
        thread.join()
    assert "pending" in seen and "stale" not in seen, sorted(set(seen))


def test_a_sqlite_url_with_a_tilde_opens_the_store_in_the_home_folder(tmp_path, monkeypatch):
    """`sqlite:///~/.jupyter_hpo/store.db` (the README's form) opened a new, empty store in a folder named `~` of
    the working directory, and `jupyter hpo --store URL list` said "no jobs yet"."""
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.chdir(tmp_path)
    Store(home=tmp_path / "me" / ".jupyter_hpo").create_job("mine", SPEC, "maximize")
    for url in ("sqlite:///~/.jupyter_hpo/store.db", "sqlite+pysqlite:///~/.jupyter_hpo/store.db"):
        opened = Store(url, home=tmp_path / "elsewhere")
        assert opened.job_names() == ["mine"] and opened.url.endswith(f"///{tmp_path}/me/.jupyter_hpo/store.db")
    assert not (tmp_path / "~").exists()


def test_a_sqlite_url_with_an_encoded_space_opens_the_folder_it_names(tmp_path, monkeypatch):
    """SQLAlchemy reads `sqlite:///my%20store/store.db` as the folder `my store`, as `store copy` did; the store
    made the folder `my%20store` beside it, set its journal mode on a file there, and then failed to open."""
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///my%20store/store.db", f"sqlite+pysqlite:///{tmp_path}/my%20store/store.db"):
        store = Store(url, home=tmp_path / "elsewhere")
        store.create_job(f"job-{len(store.job_names())}", SPEC, "maximize")
        store.close()
    assert sorted(Store("sqlite:///my store/store.db", home=tmp_path).job_names()) == ["job-0", "job-1"]
    assert not (tmp_path / "my%20store").exists()
    with sqlite3.connect(tmp_path / "my store" / "store.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # readers and the runner at once


def test_duplicate_and_unknown_jobs_are_clear_errors(store):
    store.create_job("job-a", SPEC, "maximize")
    with pytest.raises(JobStateError, match="a job named 'job-a' already exists"):
        store.create_job("job-a", SPEC, "maximize")
    with pytest.raises(JobNotFoundError, match="no job named 'nope'"):
        store.job_attrs("nope")


@pytest.mark.parametrize("name", ["../escape", "a/b", "x" * 64, "", "white space"])
def test_job_names_cannot_escape_the_store(store, name):
    with pytest.raises(SpecError, match="`name` must be 1-63 letters"):
        store.job_dir(name)
    with pytest.raises(SpecError):
        store.create_job(name, SPEC, "maximize")


def test_status_is_stale_when_the_runner_is_gone(store):
    alive = {"status": "running", "heartbeat": time.time(), "runner": {"pid": os.getpid(), "host": os.uname().nodename}}
    assert Store.status_of(alive) == JobStatus.RUNNING
    gone = {**alive, "runner": {"pid": 2**22 + 12345, "host": os.uname().nodename}}
    assert Store.status_of(gone) == JobStatus.STALE
    late = {**alive, "heartbeat": time.time() - STALE_AFTER_S - 1}
    assert Store.status_of(late) == JobStatus.RUNNING, "on this machine a live process is not stale"
    silent = {**late, "runner": {"pid": 1234, "host": "another-machine"}}
    assert Store.status_of(silent) == JobStatus.STALE, "elsewhere, a heartbeat older than 30 s is"
    assert Store.status_of({**silent, "status": "completed"}) == JobStatus.COMPLETED
    assert JobStatus.STALE.is_finished() and not JobStatus.RUNNING.is_finished()


def test_a_second_reader_sees_only_new_and_changed_trials(store, home):
    store.create_job("job-a", SPEC, "maximize")
    reader = Store(home=home)
    first = add_trial(store, "job-a", TrialState.COMPLETE, 0.1)
    running = add_trial(store, "job-a", TrialState.RUNNING)
    assert [t.number for t in reader.trials("job-a")] == [0, 1]
    store.storage.set_trial_state_values(running, TrialState.COMPLETE, [0.7])
    add_trial(store, "job-a", TrialState.COMPLETE, 0.3)
    new = reader.trials("job-a", after=0)
    assert [(t.number, t.state, t.value) for t in new] == [(1, TrialState.COMPLETE, 0.7), (2, TrialState.COMPLETE, 0.3)]
    assert reader.trials("job-a", after=2) == []
    assert first != running


def test_newer_trials_come_from_the_cache_by_number_and_match_the_whole_list(store, home, monkeypatch):
    store.create_job("job-a", SPEC, "maximize")
    reader = Store(home=home)
    ids = [add_trial(store, "job-a", TrialState.COMPLETE, i / 10) for i in range(6)]
    running = add_trial(store, "job-a", TrialState.RUNNING)
    everything = reader.trials("job-a")
    # the poll of the newest trials must not sort the whole list (get_all_trials does): the cache is used
    monkeypatch.setattr(reader.storage, "get_all_trials", lambda *a, **k: pytest.fail("the whole list was read"))
    for after in range(9):
        assert reader.trials("job-a", after=after) == [t for t in everything if t.number > after]
    store.storage.set_trial_user_attr(running, "step", 3)  # an unfinished trial is read again
    store.storage.set_trial_state_values(running, TrialState.COMPLETE, [0.9])
    add_trial(store, "job-a", TrialState.COMPLETE, 0.2)
    newer = reader.trials("job-a", after=5)
    assert [(t.number, t.state, t.value, t.user_attrs.get("step")) for t in newer] == [
        (6, TrialState.COMPLETE, 0.9, 3), (7, TrialState.COMPLETE, 0.2, None)]
    assert len(ids) == 6


def test_newer_trials_without_optunas_cache_take_the_public_path(store, home, monkeypatch):
    store.create_job("job-a", SPEC, "maximize")
    for i in range(4):
        add_trial(store, "job-a", TrialState.COMPLETE, i / 10)
    reader = Store(home=home)
    monkeypatch.setattr(reader, "_storage", reader.storage._backend)  # a storage without the cache
    assert [t.number for t in reader.trials("job-a", after=1)] == [2, 3]
    assert reader.trials("job-a", after=3) == []


def test_optuna_can_open_a_job_as_a_study(store):
    store.create_job("job-a", SPEC, "maximize")
    add_trial(store, "job-a", TrialState.COMPLETE, 0.4)
    study = optuna.load_study(study_name="job-a", storage=store.url)
    assert study.best_value == 0.4 and study.user_attrs["backend"] == "local"
    assert study.trials[0].user_attrs["worker"] == "local-1"


def test_a_store_that_cannot_be_created_is_a_store_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the store at sqlite:///"):
        Store(home=blocker / "home")


def test_settings_come_from_jupyter_hpo_config_and_env_wins(tmp_path, monkeypatch):
    from jupyter_hpo import config

    folder = tmp_path / "jupyter-config"
    folder.mkdir()
    (folder / "jupyter_hpo_config.py").write_text(
        f"c.HpoConfig.home = {str(tmp_path / 'configured-home')!r}\n"
        f"c.HpoConfig.store_url = 'sqlite:///{tmp_path / 'configured.db'}'\n"
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(folder))
    monkeypatch.delenv("JUPYTER_HPO_HOME", raising=False)
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    config.settings.cache_clear()
    try:
        store = Store()
        assert store.home == tmp_path / "configured-home"
        assert store.url == f"sqlite:///{tmp_path / 'configured.db'}"
        monkeypatch.setenv("JUPYTER_HPO_HOME", str(tmp_path / "env-home"))
        assert Store().url == f"sqlite:///{tmp_path / 'env-home' / 'store.db'}"
    finally:
        config.settings.cache_clear()


def test_listing_jobs_reads_every_job_attribute_as_optunas_api_reads_it(store):
    for name in ("job-b", "job-a", "job-c"):  # listed in creation order, not by name
        store.create_job(name, SPEC, "maximize")
    store.set_job_attrs("job-a", status="completed", notes=[{"time": 1.5, "text": "é ✓"}], heartbeat=float("inf"))
    store.set_job_attrs("job-c", provenance={"seed": None, "code": {"sha256": "ab" * 32}})
    listed = store.all_job_attrs()
    assert list(listed) == ["job-b", "job-a", "job-c"]
    assert listed == {s.study_name: s.user_attrs for s in optuna.storages.RDBStorage(store.url).get_all_studies()}
    assert listed["job-a"]["notes"] == [{"time": 1.5, "text": "é ✓"}] and listed["job-a"]["heartbeat"] == float("inf")
    assert {name: store.study_id(name) for name in listed} == {
        s.study_name: s._study_id for s in store.storage.get_all_studies()}


def test_a_lock_on_a_key_is_shared_by_every_process_using_the_store(store, home):
    """What keeps two users from starting one campaign name at once: PostgreSQL's advisory lock on a team's store,
    ``flock`` beside a SQLite file. Another process holds it; this one waits until that one lets go."""
    import subprocess
    import sys
    import threading

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom jupyter_hpo.store import Store\n"
         f"with Store({store.url!r}, home={str(home)!r}).lock('campaign c'):\n"
         "    print('held', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert holder.stdout.readline().strip() == "held"
        taken = threading.Event()

        def take() -> None:
            with store.lock("campaign c"):
                taken.set()

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        assert not taken.wait(1.0), "taken while another process held it"
        holder.stdin.close()  # the holder lets go
        assert taken.wait(30), "never taken after the other process let go"
    finally:
        holder.kill()
        holder.wait()


def test_a_claim_expecting_no_status_takes_a_job_that_has_none_once(store):
    """A job written before its status was (an older version, a create cut short) has no ``status`` attribute: its
    runner's claim expecting None must take it (it matched no row, and the runner never started the job)."""
    import sqlalchemy as sa

    from jupyter_hpo._optuna_tables import tables

    store.create_job("old", SPEC, "maximize")
    a = tables().study_user_attributes
    with store.engine.begin() as con:
        con.execute(sa.delete(a).where(a.c.study_id == store.study_id("old"), a.c.key == "status"))
    assert "status" not in store.job_attrs("old")
    assert store.claim_job("old", None, status="running", reason="") is True
    assert store.job_attrs("old")["status"] == "running"
    assert store.claim_job("old", None, status="stopped") is False, "taken: no longer without a status"
    assert store.job_attrs("old")["status"] == "running"


def test_a_read_that_meets_sqlite_locking_protocol_is_tried_again(home, monkeypatch):
    """SQLITE_PROTOCOL ("locking protocol") is what a reader may meet while another process is stopped inside a
    WAL write: a runner frozen mid-write, which `stop` or `resume` then ends. `job.status` failed with the
    driver's traceback (the clean-clone CI met it); SQLite calls it transient, and the read is tried again. The
    fault is injected where the store reads a job's identity, with SQLite's own error."""
    import sqlalchemy

    from jupyter_hpo import store as store_module

    store = Store(home=home)  # SQLite's error: the default store
    store.create_job("job-a", {"backend": {"name": "local"}}, "maximize")
    store._plain = True  # noqa: SLF001 - the plain read of the job's identity, as a listing store does
    real, failures, here = store_module.study_identity, [], threading.get_ident()

    def flaky(engine, study_id):
        # only this test's reads fail: a thread an earlier test left in this process may read through the module
        if threading.get_ident() == here and engine is store.engine and len(failures) < 2:
            failures.append(1)
            raise sqlalchemy.exc.OperationalError("SELECT ...", {}, sqlite3.OperationalError("locking protocol"))
        return real(engine, study_id)

    monkeypatch.setattr(store_module, "study_identity", flaky)
    store.forget("job-a")
    assert store.job_attrs("job-a")["status"] == "pending" and len(failures) == 2
    failures.clear()
    monkeypatch.setattr(store_module, "SQLITE_PROTOCOL_TRIES", 1)  # one more than it allows: said, not hidden
    with pytest.raises(sqlalchemy.exc.OperationalError, match="locking protocol"):
        store._identity(store.study_id("job-a"))  # noqa: SLF001
