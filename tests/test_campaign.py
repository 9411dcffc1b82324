"""Campaigns (jupyter_hpo/campaign.py): several local jobs run as one unit by one real campaign runner process,
through the CLI and the Python API: order, parallel jobs, the campaign attribute and summary, stop and resume,
and specs refused before anything is created."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from jupyter_hpo import JobStatus, api
from jupyter_hpo.campaign import Campaign, attach_campaign, campaign
from jupyter_hpo.exceptions import JobStateError, SpecError
from jupyter_hpo.records import CAMPAIGN
from tests.conftest import wait_for
from tests.test_cli import hpo

OBJECTIVE = """
import time
def f(p):
    time.sleep(p.get("sleep", 0))
    return -(p["x"] - 0.3) ** 2
"""


def write_specs(folder: Path, names: list[str], trials: int = 3, sleep: float = 0.0, extra: str = "") -> list[Path]:
    (folder / "objective.py").write_text(OBJECTIVE)
    paths = []
    for name in names:
        path = folder / f"{name}.yaml"
        path.write_text(textwrap.dedent(f"""
            name: {name}
            trial: {{function: "objective.py:f", hyperparameters: {{sleep: {sleep}}}}}
            space: {{x: {{type: float, low: 0, high: 1}}}}
            budget: {{max_trials: {trials}}}
        """) + extra)
        paths.append(path)
    return paths


def test_cli_campaign_runs_its_jobs_in_order_and_shows_them(home, tmp_path):
    specs = write_specs(tmp_path, ["first", "second"])
    out = hpo(home, "campaign", *map(str, specs), "--name", "tune", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert [j["name"] for j in summary["jobs"]] == ["first", "second"]
    assert summary["status"] == "completed" and summary["trials"] == 6 and summary["complete"] == 6
    listed = {j["name"]: j for j in json.loads(hpo(home, "list", "--json").stdout)}
    assert [listed[n]["campaign"] for n in ("first", "second")] == [{"name": "tune", "index": 0},
                                                                    {"name": "tune", "index": 1}]
    # one job after the other: the second created its first trial after the first job had ended
    shown = {n: json.loads(hpo(home, "show", n, "--json").stdout) for n in ("first", "second")}
    assert min(t["started"] for t in shown["second"]["trials"]) >= shown["first"]["job"]["ended"]
    best_job = max(shown, key=lambda n: shown[n]["job"]["best"]["value"])
    assert summary["best"]["job"] == best_job
    assert summary["best"]["value"] == shown[best_job]["job"]["best"]["value"]
    text = hpo(home, "campaign", "show", "tune")
    assert text.returncode == 0 and "campaign tune: completed; 2 jobs (2 done), 6 trials" in text.stdout
    assert json.loads(hpo(home, "campaign", "show", "tune", "--json").stdout) == summary
    table = hpo(home, "list")
    assert "campaign" in table.stdout and "tune" in table.stdout


def test_parallel_jobs_run_at_the_same_time(home, tmp_path):
    specs = write_specs(tmp_path, ["p1", "p2"], trials=3, sleep=0.4)
    c = campaign(specs, parallel_jobs=2, name="both")
    assert c.wait(timeout=120) == "completed"
    spans = {}
    for job in c.jobs:
        recs = job.trial_records()
        spans[job.name] = (min(r["started"] for r in recs), max(r["completed"] for r in recs))
    (a0, a1), (b0, b1) = spans["p1"], spans["p2"]
    assert a0 < b1 and b0 < a1  # their trials overlapped in time
    assert all(j.attrs[CAMPAIGN]["parallel_jobs"] == 2 for j in c.jobs)


def test_an_invalid_spec_refuses_the_whole_campaign_and_creates_nothing(home, tmp_path):
    good = write_specs(tmp_path, ["good"])[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntrial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 1, high: 0}}\n")
    out = hpo(home, "campaign", str(good), str(bad), "--name", "nope")
    assert out.returncode == 2
    assert out.stderr.strip().startswith(f"error: campaign refused: {bad}: `space`: `low < high` must hold for 'x'")
    assert len(out.stderr.strip().splitlines()) == 1
    assert json.loads(hpo(home, "list", "--json").stdout) == []
    assert not (home / "campaigns" / "nope.log").exists()


def test_a_directory_given_as_a_spec_is_refused_as_a_directory(home, tmp_path, capsys):
    from jupyter_hpo import cli

    good = write_specs(tmp_path, ["good"])[0]
    folder = tmp_path / "adir"
    folder.mkdir()
    assert cli.main(["campaign", str(good), str(folder), "--name", "with-dir"]) == 2
    assert capsys.readouterr().err == (f"error: campaign refused: {folder}: {str(folder)!r} is a directory, not a "
                                       f"spec file; give the path of a job's YAML spec.\n")
    assert api.list_jobs() == [], "nothing is created"


@pytest.mark.parametrize(("specs_extra", "options", "message"), [
    ("backend: amt\n", {}, "campaigns run on the local and sagemaker backends, but its backend is 'amt'"),
    ("", {"parallel_jobs": 0}, "`parallel_jobs` must be an integer >= 1, but got 0."),
    ("", {"keep_alive_s": -1}, "`keep_alive_s` must be a number of seconds >= 0"),
    ("", {"name": "a b"}, "a campaign name must be"),
    ("", {"name": "camp\n"}, "a campaign name must be"),  # a final newline was taken: `$` matches before it
])
def test_bad_options_are_refused_and_nothing_is_created(home, tmp_path, specs_extra, options, message):
    specs = write_specs(tmp_path, ["j1"], extra=specs_extra)
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
                       .replace("`", "`")):
        campaign(specs, **options)
    assert api.list_jobs() == []


def test_two_jobs_of_one_name_or_a_taken_campaign_name_are_refused(home, tmp_path):
    [spec] = write_specs(tmp_path, ["twice"])
    # said as what it is: two specs of the campaign (it read as if the job were in the store)
    with pytest.raises(SpecError, match=r"campaign refused: .*twice\.yaml: an earlier spec of this campaign is "
                                        r"also named 'twice'"):
        campaign([spec, spec])
    assert api.list_jobs() == []
    campaign([spec], name="taken").wait(timeout=60)
    with pytest.raises(SpecError, match=r"twice\.yaml: a job named 'twice' already exists in the store"):
        campaign([spec], name="again")
    other = write_specs(tmp_path, ["other"])
    with pytest.raises(JobStateError, match="a campaign named 'taken' already exists"):
        campaign(other, name="taken")


def test_stop_and_resume_the_campaign_as_a_whole(home, tmp_path):
    specs = write_specs(tmp_path, ["s1", "s2"], trials=12, sleep=1.0)
    c = campaign(specs, name="halt")
    first = api.attach("s1")
    wait_for(lambda: any(r["state"] == "complete" for r in first.trial_records()), timeout=60)
    with pytest.raises(JobStateError, match="campaign 'halt' is running; it cannot be resumed"):
        c.resume()
    out = hpo(home, "campaign", "stop", "halt")
    assert out.returncode == 0 and out.stdout.strip() == "campaign halt: stopped", out.stdout + out.stderr
    assert first.status.value == "stopped"
    second = api.attach("s2")
    assert second.status.value == "stopped" and second.trial_records() == []
    assert "stopped with its campaign before it started" in second.attrs["reason"]
    out = hpo(home, "campaign", "resume", "halt", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed"
    assert [(j["name"], j["complete"]) for j in summary["jobs"]] == [("s1", 12), ("s2", 12)]
    again = hpo(home, "campaign", "resume", "halt")
    assert again.returncode == 2 and "has completed every job" in again.stderr
    # `stop --json` answers with the summary, as `show --json` (the option was accepted and ignored)
    out = hpo(home, "campaign", "stop", "halt", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "completed", out.stdout + out.stderr
    out = hpo(home, "campaign", "stop", "halt")  # one that is not running: its state, as `stop` of an ended job
    assert out.returncode == 0 and out.stdout.strip() == "campaign halt: completed", out.stdout + out.stderr


def test_a_campaign_resume_of_a_job_once_resumed_alone_is_not_read_stale_and_resumed_twice(home, tmp_path):
    """A job resumed alone keeps the pid of the runner that resume started (`spawned`); the campaign's resume left
    that dead pid, so the job read `stale` until the campaign's runner registered, and a `resume` of the job in
    that second was accepted: two runners drove it."""
    import socket
    import subprocess
    import sys

    specs = write_specs(tmp_path, ["w1", "w2"], trials=12, sleep=1.0)
    c = campaign(specs, name="twice")
    wait_for(lambda: any(r["state"] == "complete" for r in api.attach("w1").trial_records()), timeout=60)
    assert hpo(home, "campaign", "stop", "twice").returncode == 0
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    for name in ("w1", "w2"):  # as if each had been resumed alone once since: that runner's pid, dead now
        api.attach(name).store.set_job_attrs(name, spawned={"pid": gone, "host": socket.gethostname(), "time": 0.0})
    c.resume()
    assert all(api.attach(n).status in (JobStatus.PENDING, JobStatus.RUNNING) for n in ("w1", "w2"))
    with pytest.raises(JobStateError, match="cannot be resumed while its runner runs"):
        api.attach("w1").resume()
    assert hpo(home, "campaign", "stop", "twice").returncode == 0


def test_a_campaign_resume_leaves_a_failed_job_whose_budget_is_spent_as_it_was(home, tmp_path):
    """`jupyter hpo resume JOB` refuses such a job; the campaign's resume ran it again: it failed at once, with
    no word that nothing ran, and "no trial completed" replaced its last error."""
    (ok,) = write_specs(tmp_path, ["rf-ok"], trials=2)
    (tmp_path / "bad.py").write_text("def f(p):\n    raise RuntimeError(\"boom: bad column 'income'\")\n")
    bad = tmp_path / "rf-bad.yaml"
    bad.write_text("name: rf-bad\ntrial: {function: 'bad.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                   "budget: {max_trials: 2}\n")
    out = hpo(home, "campaign", str(ok), str(bad), "--name", "rf")
    assert out.returncode == 1, out.stdout + out.stderr
    before = api.attach("rf-bad").attrs
    assert before["status"] == "failed" and "boom: bad column 'income'" in before["reason"]
    out = hpo(home, "campaign", "resume", "rf")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: campaign 'rf' has nothing to resume: job 'rf-bad' failed after all 2 "
                                 "trials of its budget"), out.stderr
    after = api.attach("rf-bad").attrs
    assert (after["status"], after["reason"]) == ("failed", before["reason"]) and "resumed_by" not in after


def test_a_campaign_resume_runs_what_it_can_and_says_which_job_it_left_as_it_was(home, tmp_path):
    """Beside a job whose budget is spent, a job that failed early (its data was missing) is resumed: the
    campaign's resume runs it to the end and prints one note for the job it left, as `%hpo campaign` does."""
    (tmp_path / "bad.py").write_text("def f(p):\n    raise RuntimeError('boom')\n")
    (tmp_path / "late.py").write_text("import pathlib\n\ndef f(p):\n    pathlib.Path(__file__).with_name('data.csv')"
                                      ".read_text()\n    return p['x']\n")
    jobs = [("rf-bad", "bad", 2, ""), ("rf-late", "late", 6, "max_consecutive_failures: 1\n")]
    for name, source, trials, extra in jobs:
        (tmp_path / f"{name}.yaml").write_text(
            f"name: {name}\ntrial: {{function: '{source}.py:f'}}\nspace: {{x: {{type: float, low: 0, high: 1}}}}\n"
            f"budget: {{max_trials: {trials}}}\n{extra}")
    out = hpo(home, "campaign", str(tmp_path / "rf-bad.yaml"), str(tmp_path / "rf-late.yaml"), "--name", "rf")
    assert out.returncode == 1, out.stdout + out.stderr
    assert api.attach("rf-late").attrs["status"] == "failed" and len(api.attach("rf-late").trials()) < 6
    (tmp_path / "data.csv").write_text("income\n")  # the data is there now
    out = hpo(home, "campaign", "resume", "rf")
    notes = [line for line in out.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith("note: job rf-bad is not resumed: job 'rf-bad' failed after all 2 "
                                                   "trials of its budget (no trial completed"), out.stdout
    assert api.attach("rf-late").status == JobStatus.COMPLETED, out.stdout + out.stderr
    assert api.attach("rf-bad").attrs["status"] == "failed" and "resumed_by" not in api.attach("rf-bad").attrs


def test_two_campaigns_of_one_name_started_at_once_are_one_campaign_and_a_refusal(home, tmp_path, monkeypatch):
    """Two users starting campaign "camp2" at the same second both found the name free and both went on: one
    campaign of 4 interleaved jobs of two owners, whose stop or resume acted on the other user's jobs."""
    import sys
    import threading

    from jupyter_hpo.store import Store

    campaign_module = sys.modules["jupyter_hpo.campaign"]  # the package's `campaign` is the function

    both_checked = threading.Barrier(2, timeout=30)
    validate = campaign_module._validate
    # both have checked their specs and go for the name at the same moment, every time
    monkeypatch.setattr(campaign_module, "_validate", lambda *a: (validate(*a), both_checked.wait())[0])
    outcomes: dict[str, object] = {}

    def start(who: str) -> None:
        folder = tmp_path / who
        folder.mkdir()
        specs = write_specs(folder, [f"{who}-1", f"{who}-2"], trials=2)
        try:
            outcomes[who] = campaign(specs, name="camp2", store=Store(api.open_store().url, home=home)).name
        except JobStateError as e:
            outcomes[who] = str(e)

    threads = [threading.Thread(target=start, args=(who,)) for who in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    monkeypatch.setattr(campaign_module, "_validate", validate)
    assert sorted(outcomes.values()) == ["a campaign named 'camp2' already exists; choose another name.", "camp2"]
    winner = next(who for who, out in outcomes.items() if out == "camp2")
    c = attach_campaign("camp2")
    assert [j.name for j in c.jobs] == [f"{winner}-1", f"{winner}-2"], "the other's jobs were deleted"
    assert c.wait(timeout=120) == "completed"
    assert sorted(j["name"] for j in api.list_jobs()) == [f"{winner}-1", f"{winner}-2"]


def test_two_users_resuming_one_campaign_at_once_start_one_runner(home, tmp_path, monkeypatch):
    """Both resumes read the jobs as resumable and both spawned a campaign runner for them."""
    import threading

    from jupyter_hpo import owners
    from jupyter_hpo.store import Store

    c = campaign(write_specs(tmp_path, ["r1", "r2"], trials=6, sleep=0.3), name="twice")
    first = api.attach("r1")
    wait_for(lambda: any(r["state"] == "complete" for r in first.trial_records()), timeout=60)
    assert c.stop(wait=True, timeout=60) == "stopped"
    both_read, stamp = threading.Barrier(2, timeout=30), owners.stamp
    # each resume has read the jobs' statuses before either writes: the race, every time
    monkeypatch.setattr(owners, "stamp", lambda *a, **k: (stamp(*a, **k), both_read.wait())[0])
    spawned, spawn = [], Campaign._spawn
    monkeypatch.setattr(Campaign, "_spawn", lambda self, jobs: spawned.append(jobs) or spawn(self, jobs))
    outcomes: list = []

    def resume(store) -> None:
        try:
            outcomes.append(attach_campaign("twice", store).resume().name)
        except JobStateError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=resume, args=(Store(c.store.url, home=h),)) for h in (home, tmp_path / "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    monkeypatch.setattr(owners, "stamp", stamp)
    assert len(spawned) == 1, spawned
    refused = [o for o in outcomes if o != "twice"]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert refused[0].startswith("campaign 'twice' changed while this resume was under way (job 'r1' is ")
    assert refused[0].endswith("now); nothing was done.")
    assert c.wait(timeout=120) == "completed"
    assert [api.attach(n).summary()["complete"] for n in ("r1", "r2")] == [6, 6]


def test_a_campaign_with_another_users_job_needs_force_to_stop_or_resume(home, tmp_path, capsys):
    from jupyter_hpo import cli
    from jupyter_hpo.owners import identity, owner_name

    alice = {"user": "alice", "host": "alices-laptop", "jupyter": None, "studio": None}
    c = campaign(write_specs(tmp_path, ["mine1", "hers2"], trials=12, sleep=1.0), name="shared")
    first = api.attach("mine1")
    wait_for(lambda: any(r["state"] == "complete" for r in first.trial_records()), timeout=60)
    c.store.set_job_attrs("hers2", owner=alice)

    def refused(action: str) -> str:
        return (f"error: only a job's owner may {action} it without --force, but job 'hers2' belongs to alice "
                f"(launched on alices-laptop); pass --force to {action} it anyway (who did is recorded).\n")

    assert cli.main(["campaign", "stop", "shared"]) == 2
    assert capsys.readouterr().err == refused("stop")
    assert first.status.value == "running" and c.status == "running", "nothing was stopped"
    assert not any("stopped_by" in j.attrs for j in c.jobs)
    assert cli.main(["campaign", "show", "shared", "--force"]) == 2
    assert "`campaign show` takes no --force" in capsys.readouterr().err

    assert cli.main(["campaign", "stop", "shared", "--force"]) == 0
    assert c.status == "stopped"
    hers = api.attach("hers2")
    assert hers.attrs["owner"] == alice, "the owner stays alice"
    assert owner_name(hers.attrs["stopped_by"]) == owner_name(identity())

    assert cli.main(["campaign", "resume", "shared", "--detach"]) == 2
    assert capsys.readouterr().err == refused("resume")
    assert c.status == "stopped" and not any("resumed_by" in j.attrs for j in c.jobs), "nothing was resumed"
    assert cli.main(["campaign", "resume", "shared", "--detach", "--force"]) == 0
    assert owner_name(api.attach("hers2").attrs["resumed_by"]) == owner_name(identity())
    assert c.stop(wait=True, timeout=60) == "stopped", "the Python API does not check owners"


def test_show_an_unknown_campaign_and_actions_with_launch_options(home, tmp_path):
    out = hpo(home, "campaign", "show", "ghost")
    assert out.returncode == 2 and out.stderr.strip() == ("error: no campaign named 'ghost'; `jupyter hpo list` "
                                                          "shows each job's campaign.")
    out = hpo(home, "campaign", "show", "ghost", "--parallel-jobs", "2")
    assert out.returncode == 2 and "takes no --parallel-jobs" in out.stderr
    out = hpo(home, "campaign", "show", "ghost", "--detach")
    assert out.returncode == 2 and "`campaign show` takes no --detach" in out.stderr
    with pytest.raises(Exception, match="no campaign named"):
        attach_campaign("ghost")


def test_stopping_one_job_stops_it_alone_and_the_campaign_goes_on(home, tmp_path):
    specs = write_specs(tmp_path, ["one", "two"], trials=12, sleep=1.0)
    c = campaign(specs, name="goes-on")
    first = api.attach("one")
    wait_for(lambda: any(r["state"] == "complete" for r in first.trial_records()), timeout=60)
    out = hpo(home, "stop", "one")
    assert out.returncode == 0 and out.stdout.startswith("job one: stopped"), out.stdout + out.stderr
    assert c.wait(timeout=120) == "stopped"  # the worst of its jobs: one was stopped
    second = api.attach("two")
    assert second.status.value == "completed" and second.summary()["complete"] == 12, (
        second.attrs.get("reason"), second.attrs.get("stopped_by"), first.attrs.get("reason"))
    assert first.summary()["complete"] < 12


def test_stopping_a_job_that_has_not_started_stops_it_alone_and_the_campaign_goes_on(home, tmp_path):
    """The README: `jupyter hpo stop JOB` stops that job alone. For a job still waiting its turn, the stop went to
    the campaign's runner, which took it for a plain kill and stopped the running job and every waiting one."""
    # one runs for 12 s: the CLI's stop of two reaches it while it waits, even on a loaded machine
    specs = write_specs(tmp_path, ["one"], trials=12, sleep=1.0) + write_specs(tmp_path, ["two", "three"], trials=3)
    c = campaign(specs, name="waits")
    first = api.attach("one")
    wait_for(lambda: any(r["state"] == "complete" for r in first.trial_records()), timeout=60)
    out = hpo(home, "stop", "two")
    assert out.returncode == 0 and out.stdout.startswith("job two: stopped"), out.stdout + out.stderr
    assert api.attach("two").attrs["reason"] == "stopped before it started (its campaign goes on)"
    assert c.wait(timeout=120) == "stopped"  # the worst of its jobs: two was stopped
    assert [api.attach(n).status.value for n in ("one", "two", "three")] == ["completed", "stopped", "completed"]
    assert [api.attach(n).summary()["complete"] for n in ("one", "two", "three")] == [12, 0, 3]


class _Starting:
    """A job's Runner still being made (importing, reading its spec) when a stop arrives, then run."""

    made = None

    def __init__(self, store, name):
        self.name, self.signals, self.ran_after = name, [], None
        type(self).made = self
        assert _Starting.gate.wait(30)

    def _on_signal(self, signum, _frame):
        self.signals.append(signum)

    def run(self):
        self.ran_after = list(self.signals)


@pytest.mark.parametrize("asked", [True, False], ids=["just after jupyter hpo stop two", "alone"])
def test_a_plain_kill_while_a_jobs_runner_is_being_made_stops_the_whole_campaign(home, monkeypatch, asked):
    """A job whose turn has just come is neither waiting nor running with a runner: a plain kill did not stop it
    once its runner ran. And a kill just after a stop of one job (``Job.stop``, which writes a request and no
    longer signals a campaign's runner) was taken for that stop: the running jobs went on, billing."""
    import signal
    import threading

    from jupyter_hpo import _campaign_runner
    from jupyter_hpo.runner import _runner
    from jupyter_hpo.store import Store

    store = Store(home=home)
    spec = {"backend": {"name": "local"}, "objective": {"direction": "maximize"}, "space": {"x": [1, 2]}}
    for n in ("one", "two", "three"):
        store.create_job(n, spec, "maximize")
        store.set_job_attrs(n, **{CAMPAIGN: {"name": "c", "parallel_jobs": 2, "keep_alive_s": 0.0}})
    monkeypatch.setattr(_runner, "Runner", _Starting)
    _Starting.gate = threading.Event()
    runner = _campaign_runner._CampaignRunner(store, "c", ["one", "two", "three"])
    one = _Starting.__new__(_Starting)
    one.signals = []
    runner.running["one"] = (threading.current_thread(), one)
    runner.queue = ["two", "three"]
    runner._start(runner.queue.pop(0))  # two's Runner is being made
    if asked:
        store.set_job_attrs("two", stop_requested=True)  # what Job.stop writes
    runner._on_signal(signal.SIGTERM, None)
    _Starting.gate.set()
    thread = runner.running["two"][0]
    thread.join(30)
    two = _Starting.made
    assert runner.stopping and one.signals == [signal.SIGTERM]  # the whole campaign, two included
    assert two.ran_after == [signal.SIGTERM]


def test_a_job_stopped_with_its_campaign_as_its_runner_starts_stays_stopped(home, tmp_path, monkeypatch):
    """The campaign runner checks that a job is still pending, then makes its runner; a campaign stop between the
    two marked the job stopped, and the runner made it running again: the stop returned "stopped" while the job
    ran on (seen in CI as a REST stop just after a resume)."""
    import threading

    from jupyter_hpo.runner._runner import Runner

    monkeypatch.setattr(Campaign, "_spawn", lambda self, jobs: 0)  # no campaign runner: this test is it
    c = campaign(write_specs(tmp_path, ["s1", "s2"]), name="late-stop")
    first = api.attach("s1")
    runner = Runner(first.store, "s1")  # what the campaign runner makes once it has seen s1 pending
    assert c.stop(wait=False) == "stopped"
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(runner.run()))  # in a thread, as the campaign runs it
    thread.start()
    thread.join(60)
    assert codes == [0]
    assert first.status.value == "stopped" and first.attrs["reason"] == "stopped with its campaign before it started"
    assert first.trial_records() == [] and "runner" not in first.attrs, "the runner ran nothing and wrote nothing"
    assert c.status == "stopped"
def test_a_stop_of_a_campaign_job_that_ended_meanwhile_stops_nothing_else(home, tmp_path, monkeypatch):
    """``stop(one)`` read it running; it completed by itself before the stop signalled the campaign runner, which
    then found no job asking to stop, took the signal for a plain kill and stopped the whole campaign."""
    from jupyter_hpo.runner.handle import RunnerHandle

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    specs = write_specs(tmp_path / "a", ["one"], trials=2) + write_specs(tmp_path / "b", ["two"], trials=4, sleep=0.3)
    c = campaign(specs, name="ended-one")
    one = api.attach("one")
    wait_for(lambda: one.attrs.get("status") == "running", timeout=60)
    real_info = RunnerHandle.info

    def after_it_ended(self):  # the stop has read "running"; the job ends by itself before the rest of the stop
        wait_for(lambda: api.attach("two").attrs.get("status") == "running", timeout=60)
        return real_info(self)

    monkeypatch.setattr(RunnerHandle, "info", after_it_ended)
    one.stop(wait=False)
    monkeypatch.setattr(RunnerHandle, "info", real_info)
    assert c.wait(timeout=120) == "completed", [(j.name, j.attrs.get("reason")) for j in c.jobs]


def test_a_campaign_stop_as_a_job_starts_stops_it_as_a_running_job(home, tmp_path):
    """The stop read a job pending, then its runner took it: the stop's plain write marked the running job
    "stopped … before it started", and the stop returned at once while the job ran on (a resume then cleared
    its stop request, and two campaign runners ran)."""
    c = campaign(write_specs(tmp_path, ["p1", "p2"], trials=30, sleep=0.2), name="as-it-starts")
    store = c.store
    read = store.job_attrs
    armed = [True]

    def taken_after_the_read(name):
        attrs = read(name)
        if armed[0] and name == "p1" and attrs.get("status") == "pending":  # the stop's read: p1 is pending
            armed[0] = False
            wait_for(lambda: read("p1").get("status") == "running", timeout=60)  # its runner takes it now
        return attrs

    store.job_attrs = taken_after_the_read
    try:
        assert c.stop(wait=True, timeout=60) == "stopped"
    finally:
        del store.job_attrs
    assert not armed[0], "the stop read p1 pending"
    first = api.attach("p1")  # stopped by its runner, which the stop waited for
    assert first.status.value == "stopped" and first.attrs["reason"] == "stopped on request", first.attrs["reason"]
    assert all(r["state"] != "running" for r in first.trial_records())
    assert api.attach("p2").attrs["reason"] == "stopped with its campaign before it started"


def _job_summary(name: str, index: int, status: str, best: float | None = None) -> dict:
    """What ``api.list_jobs`` gives for a job of a campaign, with the figures a campaign's summary reads."""
    return {"name": name, "status": status, "reason": "", "metric": "auc", "direction": "maximize",
            "trials": 2, "complete": 2, "warm_starts": 1, "cold_starts": 1, "warm_startup_s": 0.1,
            "cold_startup_s": 1.1, "startup_saved_s": 1.0, "cost_usd": None,
            "best": None if best is None else {"number": 0, "value": best, "params": {}},
            CAMPAIGN: {"name": "c", "index": index}}


@pytest.mark.parametrize(("statuses", "status", "done"), [
    (["completed", "running", "pending"], "running", 1),
    (["completed", "stopping", "stale"], "running", 2),
    (["completed", "stale", "failed"], "stale", 3),  # a job whose runner is gone has ended, until resumed
    (["stopped", "completed", "completed"], "stopped", 3),
])
def test_a_campaigns_summary_counts_the_jobs_that_ended(statuses, status, done):
    """The sidebar and the notebook's campaign view show "jobs done/total" from this one count."""
    from jupyter_hpo.campaign import summarize_campaign

    jobs = [_job_summary(f"j{i}", i, s, best=0.7 + i / 100) for i, s in enumerate(statuses)]
    summary = summarize_campaign("c", jobs)
    assert (summary["status"], summary["done"], len(summary["jobs"])) == (status, done, 3)
    assert summary["best"]["job"] == "j2" and summary["warm_share"] == 0.5


def test_a_campaigns_start_up_saved_is_the_sum_of_its_jobs(home):
    """It was recomputed from a campaign-wide mean cold start-up: 4.4 s over rows of 1.0, 0.75 and 3.0 s."""
    from jupyter_hpo.campaign import summarize_campaign

    jobs = [{**_job_summary(f"j{i}", i, "completed"), "startup_saved_s": saved, "cold_startup_s": cold}
            for i, (saved, cold) in enumerate([(1.0, 1.1), (0.75, 0.8), (3.0, 3.2), (None, None)])]
    assert summarize_campaign("c", jobs)["startup_saved_s"] == pytest.approx(4.75)
    assert summarize_campaign("c", jobs[3:])["startup_saved_s"] is None


def test_a_job_warm_starts_from_an_earlier_job_of_its_campaign_when_they_run_one_at_a_time(home, tmp_path):
    """Refused before as "not a job in the store", though it was the campaign's own first job."""
    specs = write_specs(tmp_path, ["w1"], trials=4) + write_specs(tmp_path, ["w2"], trials=2,
                                                                 extra="warm_start: {from: [w1]}\n")
    c = campaign(specs, name="seeded-camp")
    assert c.wait(timeout=120) == "completed"
    second = api.attach("w2")
    assert second.summary()["seeded"] == 4 and second.attrs["seeded_trials"] == {"w1": [0, 1, 2, 3]}


@pytest.mark.parametrize("order, parallel, message", [
    (["w1", "w2"], 2, "`warm_start.from` names 'w1', an earlier job of this campaign, which may still run when this "
                      "one starts (parallel_jobs=2)"),
    (["w2", "w1"], 1, "`warm_start.from` names 'w1', a later job of this campaign, which has not run when this one "
                      "starts; put it before this job."),
])
def test_a_warm_start_from_a_job_of_the_campaign_that_may_not_have_run_is_refused(home, tmp_path, order, parallel,
                                                                                   message):
    paths = {"w1": write_specs(tmp_path, ["w1"])[0],
             "w2": write_specs(tmp_path, ["w2"], extra="warm_start: {from: [w1]}\n")[0]}
    with pytest.raises(SpecError) as e:
        campaign([paths[n] for n in order], parallel_jobs=parallel, name="bad-seed")
    assert message in str(e.value) and str(e.value).startswith("campaign refused: "), str(e.value)
    assert api.list_jobs() == []


def test_a_campaign_stop_that_cannot_be_written_signals_its_runner_which_stops_it_all(home, tmp_path, monkeypatch):
    """The stop requests could not be written (a store briefly locked): the stop raised and every job went on,
    though a signal to the campaign's runner on this machine stops the whole campaign, as asked."""
    from jupyter_hpo.exceptions import StoreError

    c = campaign(write_specs(tmp_path, ["u1", "u2"], trials=12, sleep=1.0), name="unwritable")
    wait_for(lambda: any(r["state"] == "complete" for r in api.attach("u1").trial_records()), timeout=60)
    store = c.store
    real_set, real_claim = store.set_job_attrs, store.claim_job

    def locked(write):
        def refuse(name, *args, **attrs):
            if attrs.get("stop_requested"):
                raise StoreError(f"cannot write job {name!r} to the store: database is locked")
            return write(name, *args, **attrs)
        return refuse

    monkeypatch.setattr(store, "set_job_attrs", locked(real_set))
    monkeypatch.setattr(store, "claim_job", locked(real_claim))
    assert c.stop(wait=True, timeout=60) == "stopped"
    first, second = api.attach("u1"), api.attach("u2")
    assert first.status.value == "stopped" and "SIGTERM" in first.attrs["reason"], first.attrs["reason"]
    assert second.attrs["reason"] == "stopped with its campaign before it started"
