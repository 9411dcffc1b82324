"""The notebook widgets, through their state: builder, live dashboard, compare view (real jobs, no browser)."""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import ipywidgets
import optuna
import pytest
import traitlets
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from jupyter_hpo import api
from jupyter_hpo.exceptions import JobNotFoundError, SearchSpaceError, StoreError
from jupyter_hpo.runner.handle import RunnerHandle
from jupyter_hpo.space import CategoricalParam, FloatParam, IntParam, SearchSpace
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets import CompareView, Dashboard, SearchSpaceBuilder
from jupyter_hpo.widgets._builder import format_choices, parse_choices
from jupyter_hpo.widgets._dashboard import HERE, MAX_POINTS, MAX_STEPS, MIN_SEND_GAP_S, downsample, param_importance
from tests import objectives
from tests.conftest import REPO, wait_for

X = {"x": {"type": "float", "low": -3, "high": 3}}
XSS = "<script>alert(1)</script>"
EVERY_KIND = SearchSpace([
    IntParam("depth", 2, 8),
    IntParam("leaves", 1, 1024, scaling="log"),
    IntParam("batch", 16, 128, step=16),
    FloatParam("eta", 0.001, 0.3, scaling="log"),
    FloatParam("momentum", 0.5, 0.999, scaling="reverse_log"),
    FloatParam("dropout", 0.0, 0.5, step=0.1),
    FloatParam("alpha", -1.0, 1.0),
    FloatParam("gamma", 0.0, 2.0, scaling="auto"),
    CategoricalParam("booster", ("gbtree", "dart")),
    CategoricalParam("odd", ("1", 7, 2.5, True, None, "true", "", "a, b", 'say "hi"', " padded")),
])



def capture(widget: Dashboard, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Messages the widget sends to the front end, each with the time and the thread that sent it."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(
        {**content, "_at": time.monotonic(), "_thread": threading.current_thread().name}))
    return sent


def core_error(make: Any) -> str:
    with pytest.raises(SearchSpaceError) as info:
        make()
    return str(info.value)


def finished_job(**kw: Any) -> api.Job:
    kw.setdefault("space", X)
    kw.setdefault("seed", 0)
    job = api.launch(**kw)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    return job


# -- SearchSpaceBuilder: valid use ---------------------------------------------------------------
def test_an_existing_space_fills_the_rows_and_comes_back_unchanged(home):
    builder = SearchSpaceBuilder(space=EVERY_KIND, objective=objectives.quadratic)
    assert [r.name_text.value for r in builder.rows] == list(EVERY_KIND)
    eta = builder.rows[3]
    assert (eta.kind_dropdown.value, eta.low_text.value, eta.high_text.value, eta.scaling_dropdown.value) == (
        "float", "0.001", "0.3", "log")
    assert builder.rows[2].step_text.value == "16" and builder.rows[0].step_text.value == ""
    assert builder.rows[8].choices_text.value == "gbtree, dart"
    assert builder.rows[8].low_text.layout.display == "none" and builder.rows[8].choices_text.layout.display is None
    assert builder.space == EVERY_KIND
    assert builder.message.value.endswith("10 parameters, valid") and not builder.launch_button.disabled
    assert all(r.message.value == "" for r in builder.rows)


def test_the_builder_accepts_the_dict_form_and_starts_with_one_valid_row(home):
    assert SearchSpaceBuilder(space=EVERY_KIND.to_dict()).space == EVERY_KIND
    empty = SearchSpaceBuilder()
    assert len(empty.rows) == 1
    assert empty.space == SearchSpace([FloatParam("param_1", 0.0, 1.0)])


def test_choices_are_typed_and_quoted_text_stays_text():
    assert parse_choices("gbtree, 3, 0.5, 1e-3, true, False, null, none") == [
        "gbtree", 3, 0.5, 0.001, True, False, None, None]
    quoted = parse_choices('"1", \'true\', "a, b", "", "say \\"hi\\"", it\'s')
    assert quoted == ["1", "true", "a, b", "", 'say "hi"', "it's"]
    assert parse_choices("a, , b,") == ["a", "b"] and parse_choices("   ") == []
    choices = list(EVERY_KIND["odd"].choices)
    assert parse_choices(format_choices(choices)) == choices
    assert [type(c) for c in parse_choices(format_choices(choices))] == [type(c) for c in choices]


def test_yaml_and_python_previews_parse_back_to_the_same_space(home):
    builder = SearchSpaceBuilder(space=EVERY_KIND)
    assert SearchSpace.from_yaml(builder.yaml_text) == EVERY_KIND
    namespace: dict[str, Any] = {}
    exec(builder.python_text, namespace)  # noqa: S102 - the code the preview shows
    assert namespace["space"] == EVERY_KIND
    assert "SearchSpace.from_dict({" in builder.python_text
    assert html.escape(builder.yaml_text) in builder.yaml_preview.value
    assert html.escape(builder.python_text) in builder.python_preview.value


def test_rows_are_added_and_removed_and_the_space_follows(home):
    builder = SearchSpaceBuilder(space={"x": {"type": "float", "low": 0, "high": 1}})
    builder.add_button.click()
    row = builder.rows[-1]
    assert row.name_text.value == "param_1"
    row.name_text.value = "booster"
    row.kind_dropdown.value = "categorical"
    assert row.choices_text.layout.display is None and row.low_text.layout.display == "none"
    row.choices_text.value = "gbtree, dart"
    assert builder.space == SearchSpace([FloatParam("x", 0, 1), CategoricalParam("booster", ("gbtree", "dart"))])
    assert "booster:" in builder.yaml_text
    builder.rows[0].remove_button.click()
    assert [r.name_text.value for r in builder.rows] == ["booster"]
    assert builder.space == SearchSpace([CategoricalParam("booster", ("gbtree", "dart"))])


def test_launch_creates_a_job_and_shows_its_dashboard(home):
    builder = SearchSpaceBuilder(space=X, objective=objectives.quadratic, max_trials=3, name="from-builder")
    builder.launch_button.click()
    assert builder.launch_message.value == ""
    assert isinstance(builder.job, api.Job) and builder.job.name == "from-builder"
    assert builder.output.children == (builder.dashboard,) and builder.dashboard.job_name == "from-builder"
    assert builder.job.wait(timeout=60) == JobStatus.COMPLETED
    assert builder.job.spec["space"] == SearchSpace.from_dict(X).to_dict()


# -- SearchSpaceBuilder: errors shown inline -------------------------------------------------------
@pytest.mark.parametrize(("edit", "make"), [
    ({"low_text": "5", "high_text": "1"}, lambda: FloatParam("lr", 5, 1)),
    ({"low_text": "0", "scaling_dropdown": "log"}, lambda: FloatParam("lr", 0, 1, scaling="log")),
    ({"kind_dropdown": "int", "low_text": "0.5"}, lambda: IntParam("lr", 0.5, 1)),
    ({"kind_dropdown": "categorical", "choices_text": ""}, lambda: CategoricalParam("lr", ())),
    ({"name_text": "1st"}, lambda: SearchSpace.from_dict({"1st": [1]})),
], ids=["bad-range", "log-low-0", "int-not-integer", "empty-choices", "bad-name"])
def test_a_bad_row_shows_the_core_message_inline(home, edit, make):
    builder = SearchSpaceBuilder(space={"lr": {"type": "float", "low": 0.1, "high": 1}})
    row = builder.rows[0]
    for control, value in edit.items():
        getattr(row, control).value = value
    text = core_error(make)
    assert text in row.message.value and text in builder.message.value
    assert builder.launch_button.disabled
    assert "the preview appears once the space is valid" in builder.yaml_preview.value
    with pytest.raises(SearchSpaceError, match=re.escape(text)):
        _ = builder.space
    row.name_text.value, row.kind_dropdown.value, row.low_text.value = "lr", "float", "0.1"
    row.high_text.value, row.scaling_dropdown.value = "1", "linear"
    assert row.message.value == "" and builder.space == SearchSpace([FloatParam("lr", 0.1, 1)])


def test_duplicate_names_are_reported_by_the_core(home):
    builder = SearchSpaceBuilder(space=X)
    builder.add_row(name="x", kind="int", low="1", high="3")
    text = core_error(lambda: SearchSpace([FloatParam("x", -3, 3), IntParam("x", 1, 3)]))
    assert text == "parameter names must be unique, but 'x' repeats."
    assert builder.rows[0].message.value == "" and text in builder.rows[1].message.value
    assert text in builder.message.value
    with pytest.raises(SearchSpaceError, match="'x' repeats"):
        _ = builder.space


def test_an_empty_builder_says_a_space_needs_a_parameter(home):
    builder = SearchSpaceBuilder(space=X)
    builder.rows[0].remove_button.click()
    assert builder.rows == []
    assert "a search space needs at least one parameter" in builder.message.value
    with pytest.raises(SearchSpaceError, match="at least one parameter"):
        _ = builder.space


def test_launch_with_a_bad_option_shows_the_core_error_and_creates_nothing(home):
    builder = SearchSpaceBuilder(space=X, objective=objectives.quadratic, strategy="genetic")
    builder.launch_button.click()
    assert "`strategy` must be one of bayesian, random, grid, hyperband, but got 'genetic'." in (
        builder.launch_message.value)
    assert builder.job is None and builder.output.children == () and api.list_jobs() == []
    builder.objective = None
    builder.launch_options = {}
    assert builder.launch() is None
    assert "`trial` is required" in builder.launch_message.value and api.list_jobs() == []
    builder.rows[0].high_text.value = "-5"
    assert builder.launch() is None and "`low < high` must hold for 'x'" in builder.launch_message.value


def test_an_invalid_space_given_to_the_builder_raises_the_core_error():
    with pytest.raises(SearchSpaceError, match="`low < high` must hold for 'x'"):
        SearchSpaceBuilder(space={"x": {"type": "float", "low": 1, "high": 0}})


# -- Dashboard ------------------------------------------------------------------------------------
def test_a_finished_job_shows_counts_best_and_warm_pool_savings(home):
    job = finished_job(objective=objectives.quadratic, max_trials=8, max_parallel=2, name="quad")
    dash = Dashboard(job)
    dash.refresh()
    s = dash.summary
    assert (dash.job_name, dash.status, s["status"]) == ("quad", "completed", "completed")
    assert (s["done"], s["max_trials"], s["complete"], s["failed"], s["running"]) == (8, 8, 8, 0, 0)
    assert s["best"] == job.best and s["elapsed_s"] > 0 and s["eta_s"] is None
    rows = dash.rows
    assert [r["number"] for r in rows] == list(range(8))
    assert sum(r["warm"] is True for r in rows) == s["warm_starts"] == 8 - 2
    assert sum(r["warm"] is False for r in rows) == s["cold_starts"] == 2
    assert s["startup_saved_s"] > 0 and s["cold_startup_s"] > s["warm_startup_s"]
    assert all(r["startup_s"] is not None for r in rows)
    assert set(dash.importance) == {"x"} and dash.importance_note == "From 8 complete trials."
    assert dash.space == {"x": {"type": "float", "low": -3.0, "high": 3.0}}


def test_a_failed_trial_carries_its_error_in_its_row(home):
    job = finished_job(objective=objectives.faulty, space={"mode": ["ok", "raise"]}, strategy="grid", max_trials=2,
                       name="faults")
    dash = Dashboard(job)
    by_mode = {r["params"]["mode"]: r for r in dash.rows}
    assert by_mode["raise"]["state"] == "fail" and by_mode["raise"]["value"] is None
    assert by_mode["raise"]["error"] == "ValueError: bad things happened in the trial"
    assert by_mode["ok"]["error"] is None and by_mode["ok"]["value"] == 1.0
    assert (dash.summary["failed"], dash.summary["complete"], dash.summary["best"]["value"]) == (1, 1, 1.0)


def test_hello_gets_a_full_snapshot_and_the_saved_state_stays_small(home, monkeypatch):
    job = finished_job(objective=objectives.quadratic, space={**X, "k": ["a", "b"]}, max_trials=12, name="snap")
    dash = Dashboard(job)
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    (snapshot,) = sent
    assert snapshot["type"] == "snapshot" and snapshot["plot"] is None and snapshot["seeded"] == []
    assert snapshot["trials"] == dash.rows and len(snapshot["trials"]) == 12
    assert set(snapshot["trials"][0]) == {"number", "state", "value", "params", "warm", "startup_s", "reused_from", "run_s",
                                          "error", "fold_mean", "fold_std", "interrupted", "rerun_of", "feasible",
                                          "violations", "metrics", "steps", "started", "completed"}
    assert dash._thread is None, "no polling for a finished job"
    dash._handle_custom_msg({"type": "hello"}, [])  # a reloaded page
    assert [m["type"] for m in sent] == ["snapshot", "snapshot"] and sent[1]["trials"] == snapshot["trials"]
    assert set(dash.importance) == {"x", "k"} and sum(dash.importance.values()) == pytest.approx(1, abs=1e-3)
    state = dash.get_state()
    size = len(json.dumps(state))
    assert size < 1_000_000
    small = {k: v for k, v in state.items() if k not in ("_esm", "_css")}
    assert "trials" not in state and len(json.dumps(small)) < 4000, "no trial rows in the synced state"
    dash._handle_custom_msg({"type": "no-such-type"}, [])
    assert len(sent) == 2


def test_deltas_carry_only_changed_rows_at_most_twice_a_second(home, monkeypatch):
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.3}, max_trials=10, max_parallel=2, name="live")
    dash = Dashboard(job, interval=0.1)
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    assert dash._thread is not None and dash._thread.is_alive()
    wait_for(lambda: any(r["state"] == "running" for r in dash.rows), timeout=60)
    dash.refresh()
    dash.refresh()
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    wait_for(lambda: not dash._thread.is_alive(), timeout=10)  # the thread ends with the job
    assert sent[0]["type"] == "snapshot" and all(m["type"] == "delta" for m in sent[1:]) and len(sent) > 2
    seen = {r["number"]: r for r in sent[0]["trials"]}
    for msg in sent[1:]:
        numbers = [r["number"] for r in msg["trials"]]
        assert msg["trials"] and len(numbers) == len(set(numbers))
        for row in msg["trials"]:
            assert seen.get(row["number"]) != row, f"trial {row['number']} was sent again unchanged"
            seen[row["number"]] = row
    assert seen == {r["number"]: r for r in dash.rows} and len(seen) == 10, "the front end ends up with every row"
    by_thread = [m for m in sent if m["_thread"].startswith("hpo-dashboard")]
    for before, msg in itertools.pairwise(sent):
        if msg in by_thread[:-1]:  # the last one, when the job has finished, is not held back
            assert msg["_at"] - before["_at"] >= MIN_SEND_GAP_S - 0.02
    assert dash.status == "completed" and dash.summary["done"] == 10


def stopped_job_dashboard(name: str, monkeypatch: Any, parallel: int = 1, trials: int = 8,
                          done: int = 1) -> tuple[api.Job, Dashboard, list]:
    """A job of 0.3 s trials stopped after ``done`` complete ones, its dashboard (a view said hello) and what the
    dashboard sends; the watcher of ended dashboards looks every 0.2 s."""
    from jupyter_hpo.widgets import _dashboard

    monkeypatch.setattr(_dashboard, "ENDED_WATCH_S", 0.2)
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.3}, max_trials=trials, max_parallel=parallel, name=name)
    wait_for(lambda: job.summary()["complete"] >= done, timeout=60)
    assert job.stop(timeout=30) == JobStatus.STOPPED
    dash = Dashboard(job, interval=0.1)
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    return job, dash, sent


def assert_caught_up(dash: Dashboard, sent: list, before: int, trials: int = 8) -> None:
    """The dashboard shows the job completed with all its trials, more than ``before``, and its view got them."""
    wait_for(lambda: dash.status == "completed" and dash.summary["complete"] == trials, timeout=30)
    assert dash.summary["complete"] > before
    rows = {r["number"]: r for m in sent for r in m["trials"]}
    assert sum(r["state"] == "complete" for r in rows.values()) == trials, "the view got the new trials"
    dash.close()


def test_a_dashboard_of_a_stopped_job_follows_it_again_when_it_is_resumed_elsewhere(home, monkeypatch):
    """Resumed from the sidebar (or the CLI, or another kernel), the job ran on while the notebook's dashboard of it
    still said "stopped", with its Stop button off: its polling thread had ended with the job."""
    # 18 trials left, 2 at a time: the resumed job runs for about 3 s, which a loaded machine's watcher (one look
    # every 0.2 s) catches while it runs (a job that ends between two looks: the next test)
    job, dash, sent = stopped_job_dashboard("resumed-elsewhere", monkeypatch, parallel=2, trials=20, done=2)
    assert dash.status == "stopped" and dash._thread is None, "no polling for an ended job"
    done = dash.summary["complete"]
    api.attach("resumed-elsewhere", api.open_store()).resume()  # as the sidebar's Resume does, in the server
    wait_for(lambda: dash.status == "running", timeout=30)
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert_caught_up(dash, sent, done, trials=20)


def test_a_dashboard_catches_up_with_a_job_resumed_and_ended_between_two_looks(home, monkeypatch):
    """A resumed job that ran and ended again before the watcher looked (a short job; it looks every 5 s) was
    never seen: its dashboard said "stopped" with the old count for good."""
    from jupyter_hpo.widgets import _dashboard

    job, dash, sent = stopped_job_dashboard("quick-again", monkeypatch)
    before = dash.summary["complete"]
    with _dashboard._ended_lock:  # the watcher cannot look meanwhile: the whole run falls between two looks
        api.attach("quick-again", api.open_store()).resume()
        assert job.wait(timeout=60) == JobStatus.COMPLETED
        assert dash.status == "stopped"
    assert_caught_up(dash, sent, before)


def test_the_watch_for_resumes_goes_on_through_a_failed_read(home, monkeypatch):
    """One store error while the watcher read a resumed job ended the one thread that watches every ended
    dashboard of the kernel: this dashboard, and every other, stayed "stopped" for good."""
    from jupyter_hpo.widgets import _dashboard

    job, dash, _ = stopped_job_dashboard("watch-flaky", monkeypatch, trials=6)
    real, calls = dash._feed.poll, []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("the store at ... could not be reached (reading trials): connection closed")
        return real(*a, **k)

    monkeypatch.setattr(dash._feed, "poll", flaky)
    api.attach("watch-flaky", api.open_store()).resume()
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    wait_for(lambda: dash.status == "completed" and dash.summary["complete"] == 6, timeout=30)
    assert len(calls) > 1 and _dashboard._ended_thread.is_alive()
    dash.close()


def test_the_stop_message_stops_a_running_job(home):
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=40, max_parallel=2, name="stop-me")
    dash = Dashboard(job)
    wait_for(lambda: dash.refresh() is not None and dash.summary["complete"] > 0 and dash.summary["running"] > 0,
             timeout=60)
    assert dash.summary["stop_requested"] is False
    dash._handle_custom_msg({"type": "stop"}, [])
    assert dash.summary["stop_requested"] is True  # the front end shows "Stopping..." from here
    # the store may for one poll show a trial marked interrupted but still running; the next poll settles it
    wait_for(lambda: dash.refresh() is not None and dash.status == "stopped" and dash.summary["running"] == 0,
             timeout=60)
    assert job.status == JobStatus.STOPPED and dash.summary["status"] == "stopped"
    interrupted = [r for r in dash.rows if r["interrupted"]]
    assert interrupted and all(r["state"] == "fail" for r in interrupted)
    assert dash.summary["done"] == sum(r["state"] in ("complete", "fail") for r in dash.rows) - len(interrupted)
    assert 0 < dash.summary["done"] < 40


def test_a_stop_request_is_answered_with_its_id_and_a_failed_one_says_why(home, monkeypatch):
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=40, max_parallel=1, name="stop-reply")
    dash = Dashboard(job)
    sent = capture(dash, monkeypatch)

    def refuse(*_args: Any, **_kw: Any) -> None:
        raise StoreError("cannot write job 'stop-reply' to the store at /x: disk I/O error")

    monkeypatch.setattr(job.store, "set_job_attrs", refuse)  # a store that cannot be written ...
    monkeypatch.setattr(RunnerHandle, "signal", lambda self, runner=None: False)  # ... nor the runner reached
    dash._handle_custom_msg({"type": "stop", "id": 3}, [])
    assert sent[-1] == {**sent[-1], "type": "stop-reply", "id": 3, "ok": False}
    assert "disk I/O error" in sent[-1]["error"] and "disk I/O error" in dash.error
    assert job.status.is_active() and not job.attrs.get("stop_requested")

    monkeypatch.undo()
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "stop", "id": 4}, [])
    assert [m for m in sent if m["type"] == "stop-reply"][0] == {**sent[-1], "type": "stop-reply", "id": 4,
                                                                  "ok": True, "error": ""}
    assert job.wait(timeout=60) == JobStatus.STOPPED and dash.error == ""


@pytest.mark.parametrize("keep_alive_s", [0, 20])  # 20: a runner kept for the next launch, signalled as well
def test_a_runner_is_stopped_even_when_the_store_cannot_take_the_request(home, monkeypatch, keep_alive_s):
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=40, max_parallel=1, name="stop-unwritable",
                     keep_alive_s=keep_alive_s)
    wait_for(lambda: job.summary()["running"] > 0, timeout=60)
    real = job.store.set_job_attrs

    def refuse(name: str, **attrs: Any) -> None:
        if "stop_requested" in attrs:
            raise StoreError("cannot write job 'stop-unwritable' to the store: database is locked")
        real(name, **attrs)

    monkeypatch.setattr(job.store, "set_job_attrs", refuse)
    assert job.stop(wait=False) in (JobStatus.RUNNING, JobStatus.STOPPED)
    monkeypatch.undo()
    assert job.wait(timeout=60) == JobStatus.STOPPED
    assert "SIGTERM" in job.attrs["reason"] and job.summary()["complete"] < 40
    assert job.attrs["runner"].get("shared") == ("kept" if keep_alive_s else None)
    if keep_alive_s:  # the kept runner waits for the next launch: it ends on SIGTERM
        os.kill(job.attrs["runner"]["pid"], signal.SIGTERM)


def test_a_dashboard_whose_job_was_made_again_under_its_name_shows_the_new_job_alone(home, monkeypatch):
    """Deleted (``jupyter hpo delete``) and launched again under the same name while displayed: the display kept
    the old job's rows above the new job's trial count, and its space; a view now gets a whole new snapshot."""
    from jupyter_hpo.store import Store

    old = finished_job(objective=objectives.quadratic, max_trials=6, name="again")
    dash = Dashboard(old)
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    assert [r["number"] for r in sent[-1]["trials"]] == list(range(6)) and list(dash.space) == ["x"]
    mark = len(sent)
    Store(home=home).delete_job("again")
    y = {"y": {"type": "int", "low": 1, "high": 3}}
    finished_job(objective=objectives.quadratic, space={**X, **y}, max_trials=2, name="again")
    dash.refresh()
    # the view's first message with the new job's rows replaces its rows (a snapshot), whether the dashboard's
    # own poll or this refresh sent it (the poll may see the new job while it runs: the CI met that order)
    with_rows = [m for m in sent[mark:] if "trials" in m]  # an empty snapshot (the new job had none yet) counts
    assert with_rows and with_rows[0]["type"] == "snapshot", [m["type"] for m in sent[mark:]]
    view: dict[int, dict[str, Any]] = {}  # what the view shows: a snapshot replaces its rows, a delta updates them
    for m in with_rows:
        rows = {r["number"]: r for r in m["trials"]}
        view = rows if m["type"] == "snapshot" else {**view, **rows}
    assert sorted(view) == [0, 1] and all(set(r["params"]) == {"x", "y"} for r in view.values())
    assert list(dash.space) == ["x", "y"] and dash.summary["trials"] == 2 and [r["number"] for r in dash.rows] == [0, 1]


def test_a_displayed_dashboard_streams_whole_snapshots_until_a_view_says_hello(home, monkeypatch):
    # a kernel busy running the next cell answers the view's hello only when that cell ends
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=12, max_parallel=2, name="busy-kernel")
    # 3 s of trials: snapshots go at most every 0.5 s, and at 0.2 s a loaded run ended after its second
    dash = Dashboard(job, interval=0.1)
    sent = capture(dash, monkeypatch)
    dash.start()
    wait_for(lambda: len(sent) >= 3, timeout=60)
    assert all(m["type"] == "snapshot" for m in sent)
    for before, msg in itertools.pairwise(sent):  # each one has every row the previous one had, and more
        assert {r["number"] for r in before["trials"]} <= {r["number"] for r in msg["trials"]}
        assert msg["_at"] - before["_at"] >= MIN_SEND_GAP_S - 0.02
    dash._handle_custom_msg({"type": "hello"}, [])
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    wait_for(lambda: not dash._thread.is_alive(), timeout=10)
    last = max(i for i, m in enumerate(sent) if m["type"] == "snapshot")  # the answer to hello
    after = sent[last:]
    assert all(m["type"] == "delta" for m in after[1:])
    rows = {r["number"]: r for m in after for r in m["trials"]}
    assert len(rows) == 12 and all(r["state"] == "complete" for r in rows.values())


def test_hellos_from_several_pages_and_start_at_once_start_one_polling_thread(home, monkeypatch):
    # each page's hello runs in its own kernel subshell thread, beside start() in the main one
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=40, max_parallel=1, name="many-pages")
    dash = Dashboard(job, interval=0.1)
    capture(dash, monkeypatch)
    callers = 8
    barrier = threading.Barrier(callers)

    def call(i: int) -> None:
        barrier.wait()
        dash.start() if i == 0 else dash._handle_custom_msg({"type": "hello"}, [])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    pollers = [t for t in threading.enumerate() if t.name == "hpo-dashboard-many-pages"]
    assert len(pollers) == 1, pollers
    job.stop(wait=True)


def test_closing_the_dashboard_stops_its_polling_thread(home, monkeypatch):
    job = api.launch(objective=objectives.sleepy, space={"x": {"type": "float", "low": 0, "high": 1}},
                     hyperparameters={"sleep": 0.5}, max_trials=40, max_parallel=1, name="closing")
    dash = Dashboard(job, interval=0.1)
    capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    thread = dash._thread
    assert thread.is_alive()
    dash.close()
    assert not thread.is_alive() and dash.comm is None
    job.stop(timeout=60)


def test_a_thousand_rows_are_downsampled_below_the_cap_keeping_what_matters():
    def row(n: int) -> dict[str, Any]:
        state = "fail" if n % 50 == 7 else "pruned" if n % 9 == 4 else "complete"
        value = None if state != "complete" else (n % 97) / 97 + (2.0 if n == 613 else 0.0)
        return {"number": n, "state": state, "value": value, "params": {"x": n % 97}}

    rows = [row(n) for n in range(1200)] + [{"number": 1200, "state": "running", "value": None, "params": {}}]
    drawn = downsample(rows, "maximize")
    numbers = [r["number"] for r in drawn]
    assert len(drawn) <= MAX_POINTS and numbers == sorted(numbers)
    assert 613 in numbers, "the best trial is drawn"
    assert 1199 in numbers and 1200 not in numbers, "the latest finished trial is, a running one is not"
    assert any(r["state"] == "fail" for r in drawn)
    again = {r["number"] for r in downsample(rows + [row(1201)], "maximize")}
    assert len(again & set(numbers)) >= 0.9 * len(numbers), "the drawn trials stay the same as trials arrive"
    assert len(downsample(rows, "minimize", cap=100)) <= 100
    assert len(downsample(rows[:300], "maximize")) == 300 - sum(r["state"] == "running" for r in rows[:300])


def test_importance_favours_the_parameter_that_drives_the_objective():
    rows = [{"number": i, "state": "complete", "value": float(i % 10) + 0.01 * (i % 3),
             "params": {"lr": float(i % 10), "noise": (i * 7919) % 13, "kind": "ab"[i % 2]}} for i in range(40)]
    space = {"lr": {"type": "float", "low": 0, "high": 10}, "noise": {"type": "int", "low": 0, "high": 12},
             "kind": ["a", "b"]}
    imp = param_importance(rows, space)
    assert next(iter(imp)) == "lr" and imp["lr"] > 0.6 and sum(imp.values()) == pytest.approx(1, abs=1e-3)
    assert param_importance(rows[:4], space) == {}


def test_a_job_name_with_markup_is_carried_as_plain_text(home, monkeypatch):
    # the core refuses such names, but the store is a plain Optuna database that other tools write to
    store = api.open_store()
    study = optuna.create_study(study_name=XSS, storage=store.storage, direction="maximize")
    for key, value in {"spec": {"space": {"x": {"type": "float", "low": 0, "high": 1}},
                                "objective": {"metric": "auc", "direction": "maximize"}, "budget": {"max_trials": 2}},
                       "status": "completed", "backend": "local"}.items():
        study.set_user_attr(key, value)
    dash = Dashboard(XSS)
    assert dash.job_name == XSS and dash.summary["name"] == XSS and dash.rows == []  # 0 trials
    assert dash.summary["done"] == 0 and dash.summary["best"] is None
    study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.2}, distributions={"x": FloatDistribution(0, 1)},
                                 user_attrs={"error": '<img src=x onerror="alert(2)">'}))
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    assert sent[0]["trials"][0]["error"] == '<img src=x onerror="alert(2)">'
    assert json.loads(json.dumps(dash.get_state()))["job_name"] == XSS
    # the front end (labextension/src/dashboard.ts, built by `jlpm build` into the module anywidget loads)
    # never parses strings as HTML, and the built module is small and loads nothing at run time
    source = (REPO / "labextension" / "src" / "dashboard.ts").read_text()
    js = (HERE / "dashboard.js").read_text()
    for code in (source, js):
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", code)
    assert len(js.encode()) < 60_000
    assert js.startswith("// Built by `jlpm build` from labextension/src/dashboard.ts")
    assert "export default { render }" in js
    assert not re.search(r"^\s*import[\s{*'\"]|^\s*export\s[^;]*\bfrom\s*['\"]|\brequire\s*\(", js, re.MULTILINE)


def test_a_markup_choice_reaches_the_rows_verbatim(home):
    job = finished_job(objective=objectives.quadratic, space={**X, "label": [XSS, "plain"]}, max_trials=4,
                       name="markup")
    dash = Dashboard(job)
    assert {r["params"]["label"] for r in dash.rows} <= {XSS, "plain"}
    assert dash.space["label"]["choices"] == [XSS, "plain"]


def test_a_job_of_1200_trials_keeps_messages_bounded_and_state_small(home, monkeypatch):
    job = finished_job(objective=objectives.quadratic, max_trials=2, name="big")
    template = job.trial_records()[0]  # a real record; the job then reports 1,200 trials like it
    records = [{**template, "number": n, "state": "fail" if n % 40 == 3 else "complete",
                "value": None if n % 40 == 3 else -((n % 97) / 97 - 0.5) ** 2 + (1.0 if n == 777 else 0.0),
                "error": "RuntimeError: boom" if n % 40 == 3 else None, "params": {"x": (n % 97) / 16 - 3},
                "intermediate": {str(step): step / 150 for step in range(150)}} for n in range(1200)]
    monkeypatch.setattr(job, "trial_records", lambda after=-1: [r for r in records if r["number"] > after])
    dash = Dashboard(job)
    sent = capture(dash, monkeypatch)
    dash._handle_custom_msg({"type": "hello"}, [])
    snapshot = sent[0]
    assert len(snapshot["trials"]) == 1200 and dash.summary["done"] == 1200 and dash.summary["failed"] == 30
    assert len(snapshot["plot"]) <= MAX_POINTS and 777 in snapshot["plot"] and 1199 in snapshot["plot"]
    assert max(len(r["steps"]) for r in snapshot["trials"]) <= MAX_STEPS
    assert snapshot["trials"][0]["steps"][-1] == [149, 149 / 150], "the last step is kept"
    assert len(json.dumps(snapshot)) < 5_000_000
    assert len(json.dumps(dash.get_state())) < 100_000, "no trial rows in the synced state"
    assert list(dash.importance) == ["x"]
    started = time.monotonic()
    assert dash.refresh() == [] and time.monotonic() - started < 1.0, "a poll with nothing new is cheap"
    assert len(sent) == 1, "nothing changed, nothing sent"


def test_dashboard_errors(home):
    with pytest.raises(JobNotFoundError, match="no job named 'nope'"):
        Dashboard("nope")
    job = finished_job(objective=objectives.quadratic, max_trials=1, name="one")
    one = Dashboard(job)
    assert [r["number"] for r in one.rows] == [0] and one.summary["best"]["number"] == 0
    with pytest.raises(traitlets.TraitError, match="`interval` must be > 0 seconds, but got 0"):
        Dashboard(job, interval=0)


# -- CompareView ----------------------------------------------------------------------------------
def test_compare_view_overlays_best_so_far_of_several_jobs(home):
    a = finished_job(objective=objectives.quadratic, max_trials=6, name="run-a")
    b = finished_job(objective=objectives.quadratic, max_trials=4, name="run-b", strategy="random")
    view = CompareView("run-a", "run-b")
    assert view.mode == "compare" and [j["name"] for j in view.jobs] == ["run-a", "run-b"]
    for entry, job, n in zip(view.jobs, (a, b), (6, 4), strict=True):
        curve = entry["curve"]
        assert curve[-1][0] == n and curve[-1][2] == job.best["value"] == entry["best"]["value"]
        bests = [p[2] for p in curve]
        assert bests == sorted(bests), "best so far never gets worse (maximize)"
        assert all(later[1] >= earlier[1] for earlier, later in itertools.pairwise(curve))
    with pytest.raises(JobNotFoundError, match="no job named 'nope'"):
        CompareView("run-a", "nope")
    with pytest.raises(ValueError, match="needs at least one job name"):
        CompareView()


def test_importing_jupyter_hpo_does_not_import_the_widgets():
    code = ("import sys, jupyter_hpo; jupyter_hpo.launch; jupyter_hpo.SearchSpace; "
            "print(sorted(m for m in ('anywidget', 'ipywidgets', 'jupyter_hpo.widgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
