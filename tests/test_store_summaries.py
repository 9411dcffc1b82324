"""``jupyter hpo list`` / ``GET jobs`` summarize an ended job from a few figures per trial, not every trial read
whole (what made a server's first ``GET jobs`` take seconds): the summaries are the same as those made from
whole trials, for every kind of trial. Runs on SQLite and on PostgreSQL (``tests/postgres.py``)."""

from __future__ import annotations

import datetime
import math

import pytest

from jupyter_hpo import api, feed
from jupyter_hpo.store import Store

SPACE = {"lr": {"type": "float", "low": 1e-4, "high": 0.5, "scaling": "reverse_log"},
         "depth": {"type": "int", "low": 1, "high": 9}, "kind": {"type": "categorical", "choices": ["a", "b"]}}


def add_job(store: Store, name: str, direction: str, trials: list[dict], status: str = "completed") -> None:
    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.space import SearchSpace

    space = SearchSpace.from_dict(SPACE)
    spec = {"backend": {"name": "local"}, "objective": {"metric": "m", "direction": direction},
            "budget": {"max_trials": 10}, "space": SPACE}
    store.create_job(name, spec, direction)
    now = datetime.datetime.now()
    for i, t in enumerate(trials):
        params = space.to_optuna_params({"lr": 0.01 * (i + 1), "depth": i % 9 + 1, "kind": "ab"[i % 2]})
        state = TrialState[t.get("state", "COMPLETE")]
        store.create_trial(name, FrozenTrial(
            number=-1, state=state, value=t.get("value") if state == TrialState.COMPLETE else None,
            datetime_start=now, datetime_complete=now if state.is_finished() else None, params=params,
            distributions=space.to_optuna(), user_attrs=t.get("attrs", {}), system_attrs={}, intermediate_values={},
            trial_id=-1))
    store.set_job_attrs(name, status=status, ended=1.0 if status != "running" else None)


TRIALS = [
    {"value": 0.5, "attrs": {"warm": False, "startup_s": 2.0, "cost_usd": 0.25}},
    {"value": 0.9, "attrs": {"warm": True, "startup_s": 0.01, "cost_usd": 0.5}},
    {"value": 0.9, "attrs": {"warm": True, "startup_s": float("inf")}},  # a tie: the first stays best
    {"state": "PRUNED", "attrs": {"warm": True, "startup_s": 0.02}},
    {"state": "FAIL", "attrs": {"error": "boom", "warm": True}},
    {"state": "FAIL", "attrs": {"interrupted": True, "error": "interrupted"}},
    {"value": float("-inf"), "attrs": {"warm": True, "startup_s": 0.03}},
    {"value": 0.1},
]


def _feed_summary(store: Store, name: str) -> dict:
    f = feed.TrialFeed(api.Job(name, store))
    f.poll()
    return f.summary()


pytestmark = pytest.mark.usefixtures("fresh_summaries")


def add_jobs(store: Store, last: str = "live-job", last_status: str = "running") -> None:
    """Five jobs: ended with every kind of trial (maximized, minimized), failed, empty, and ``last`` with two."""
    add_job(store, "max-job", "maximize", TRIALS)
    add_job(store, "min-job", "minimize", TRIALS, status="stopped")
    add_job(store, "failed-job", "maximize", [{"state": "FAIL", "attrs": {"error": "x"}}], status="failed")
    add_job(store, "empty-job", "maximize", [])
    add_job(store, last, "maximize", TRIALS[:2], status=last_status)


def test_ended_jobs_are_summarized_as_from_whole_trials(store):
    add_jobs(store)

    listed = {j["name"]: j for j in api.list_jobs(store)}
    assert sorted(listed) == ["empty-job", "failed-job", "live-job", "max-job", "min-job"]
    for name, summary in listed.items():
        assert summary == _feed_summary(store, name), name
    top = listed["max-job"]
    assert (top["best"]["number"], top["best"]["value"]) == (1, 0.9)
    assert top["best"]["params"] == {"lr": pytest.approx(0.02), "depth": 2, "kind": "b"}, "in the space's own terms"
    assert (top["complete"], top["pruned"], top["failed"], top["interrupted"]) == (5, 1, 1, 1)
    assert (top["warm_starts"], top["cold_starts"], top["cost_usd"]) == (5, 1, 0.75)  # every trial started warm
    assert math.isclose(top["warm_startup_s"], 0.02)  # of those with a start-up time: the infinite one is missing
    assert (listed["min-job"]["best"]["number"], listed["min-job"]["best"]["value"]) == (7, 0.1), "-inf is null"


def test_an_ended_job_is_listed_without_reading_its_trials_whole(store, monkeypatch):
    add_job(store, "ended", "maximize", TRIALS)
    expected = _feed_summary(store, "ended")
    api._feeds.clear()

    def whole_trials(*args, **kwargs):
        raise AssertionError("an ended job's trials were read whole")

    fresh = Store(store.url, home=store.home)
    monkeypatch.setattr(fresh.storage, "get_all_trials", whole_trials)
    assert api.list_jobs(fresh) == [expected]
    fresh.set_job_attrs("ended", status="running")  # resumed: followed live again, every trial read
    monkeypatch.undo()
    assert api.list_jobs(fresh)[0]["status"] == "running"


def test_a_campaigns_summary_of_ended_jobs_reads_no_trial_whole(store, monkeypatch):
    """`campaign show` read every trial of every job of the campaign whole (784 statements for 60 jobs)."""
    from jupyter_hpo.campaign import Campaign
    from jupyter_hpo.records import CAMPAIGN

    for i, name in enumerate(("c-first", "c-second")):
        add_job(store, name, "maximize", TRIALS)
        store.set_job_attrs(name, **{CAMPAIGN: {"name": "camp", "index": i}})
    expected = [_feed_summary(store, n) for n in ("c-first", "c-second")]
    api._feeds.clear()

    def whole_trials(*args, **kwargs):
        raise AssertionError("an ended job's trials were read whole")

    fresh = Store(store.url, home=store.home)
    monkeypatch.setattr(fresh.storage, "get_all_trials", whole_trials)
    summary = Campaign("camp", fresh).summary()
    assert [j["name"] for j in summary["jobs"]] == ["c-first", "c-second"]
    assert summary["trials"] == sum(e["trials"] for e in expected)
    assert summary["best"]["value"] == max(e["best"]["value"] for e in expected)


def test_a_long_lived_process_keeps_the_trials_of_its_last_jobs_only(store, monkeypatch):
    """A Jupyter server (or a kernel) kept a reader and Optuna's copy of every trial of every job it had shown,
    for its whole life: about 6 KiB per trial, 0.6 GB for 100,000 trials opened over weeks."""
    for name in ("m0", "m1", "m2", "m3"):
        add_job(store, name, "maximize", TRIALS)
    api._feeds.clear()
    monkeypatch.setattr(api, "MAX_FEEDS", 2)
    first = {name: api.attach(name, store).summary() for name in ("m0", "m1", "m2", "m3")}
    assert [key[1] for key in api._feeds] == ["m2", "m3"]
    def cached(name: str) -> int:  # the trials Optuna's cached storage holds of the job in this process
        info = store.storage._studies.get(store.study_id(name))
        return len(info.trials) if info is not None else 0

    assert [cached(n) for n in ("m0", "m1", "m2", "m3")] == [0, 0, len(TRIALS), len(TRIALS)]
    assert api.attach("m0", store).summary() == first["m0"]  # read again from the store, the same
    assert [key[1] for key in api._feeds] == ["m3", "m0"]


@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


def test_a_jupyter_server_summarizes_the_ended_jobs_as_it_starts(store, request):
    from tests.conftest import wait_for

    add_job(store, "ended-before", "maximize", TRIALS)
    request.getfixturevalue("jp_serverapp")  # the server starts with the extension; no request is made
    wait_for(lambda: (store.url, "ended-before") in feed._ENDED, timeout=60)
    assert feed._ENDED[(store.url, "ended-before")][1] == _feed_summary(store, "ended-before")


def test_a_live_display_of_a_job_deleted_and_made_again_shows_the_new_job(store, home):
    """The dashboard and the sidebar follow a job with a feed. When the job was deleted (a launch that failed
    part-way) and a new one took its name, the feed kept the old job's trials and best, or failed on every read."""
    add_job(store, "again", "maximize", TRIALS[:2], status="running")
    watcher = Store(home=home)  # another process: the notebook's kernel, or the sidebar's server
    f = feed.TrialFeed(api.Job("again", watcher))
    f.poll()
    assert [r["value"] for r in f.sorted_records()] == [0.5, 0.9] and f.summary()["best"]["value"] == 0.9
    store.delete_job("again")
    add_job(store, "again", "maximize", [{"value": 0.3}])
    f.poll()
    assert [r["value"] for r in f.sorted_records()] == [0.3] and f.summary()["best"]["value"] == 0.3


def test_a_job_details_importance_is_that_of_the_job_now_under_its_name(store, home):
    """The server keeps a job's importance until a trial finishes; a job deleted and made again under its name with
    as many trials was shown the old job's importance."""
    from jupyter_hpo.analytics import importance_json, record_importance
    from jupyter_hpo.server import _handlers

    by_lr = [{"value": 0.1 * i} for i in range(8)]  # add_job's lr grows with the trial; kind alternates a, b
    by_kind = [{"value": float(i % 2)} for i in range(8)]
    server = Store(home=home)
    add_job(store, "again", "maximize", by_lr)
    job = api.Job("again", server)
    before = _handlers._importance(job, job.summary())
    store.delete_job("again")
    add_job(store, "again", "maximize", by_kind)
    job = api.Job("again", server)
    now = _handlers._importance(job, job.summary())
    assert now == importance_json(record_importance(job.trial_records(), job.attrs["spec"])) != before
