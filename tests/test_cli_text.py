"""What users and trials write is printed as text by the CLI: no rich markup, no escape sequences."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = r'''
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--tag")
a = p.parse_args()
if a.tag == "esc":
    raise RuntimeError("bad \x1b[31mred\x1b[0m \x1b]0;pwned\x07 [bold]text[/bold]")
print(f"score={len(a.tag)}")
'''


def write_job(tmp_path: Path, name: str) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: {name}
        objective: {{metric: score}}
        trial: {{script: train.py}}
        strategy: grid
        space: {{tag: {{type: categorical, choices: ["[/]", "[/red]", "esc"]}}}}
        budget: {{max_trials: 3, max_parallel: 1}}
    """))
    return spec


def cli(*args: str, home: Path, tty: bool = False) -> tuple[int, str]:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "jupyter_hpo.cli", *args]
    if not tty:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
        return done.returncode, done.stdout + done.stderr
    master, slave = pty.openpty()  # a real terminal: rich's live display
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=180), b"".join(chunks).decode(errors="replace")


def test_markup_like_values_and_escape_sequences_print_as_text(tmp_path):
    home = tmp_path / "home"
    code, out = cli("launch", str(write_job(tmp_path, "brackets")), home=home)
    assert code == 0, out
    assert "tag: [/red]" in out or "tag: [/]" in out, out  # the best trial's parameters, verbatim
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert r"bad \x1b[31mred\x1b[0m \x1b]0;pwned\x07 [bold]text[/bold]" in out
    code, out = cli("show", "brackets", home=home)
    assert code == 0, out
    assert "tag=[/]" in out and "tag=[/red]" in out and "\x1b" not in out, repr(out)


def test_in_a_terminal_too(tmp_path):
    home = tmp_path / "home"
    code, out = cli("launch", str(write_job(tmp_path, "brackets-tty")), home=home, tty=True)
    assert code == 0, out
    assert "[/red]" in out and "MarkupError" not in out
    assert "\x1b]0;pwned" not in out and "\x07" not in out, "a trial's escape sequence reached the terminal"


def add_study(home: Path, name: str, trials: list[tuple[str, float | None, dict]], status: str = "stopped") -> None:
    """A job written straight into the store at ``home`` (any writer of a shared store can), with ``trials`` as
    (state, value, user attributes)."""
    import datetime

    from optuna.distributions import FloatDistribution
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState

    from jupyter_hpo.store import Store

    store = Store(home=home)
    spec = {"backend": {"name": "local"}, "objective": {"metric": "auc", "direction": "maximize"},
            "budget": {"max_trials": 10}, "space": {"x": {"type": "float", "low": 0, "high": 1}}}
    store._storage.create_new_study([StudyDirection.MAXIMIZE], name)
    study_id = store.study_id(name)
    for key, value in {"spec": spec, "status": status, "created": 1.0, "ended": 2.0, "reason": "stopped on request",
                       "owner": {"user": "someone"}}.items():
        store._storage.set_study_user_attr(study_id, key, value)
    now = datetime.datetime.now()
    for state, value, attrs in trials:
        st = TrialState[state]
        store._storage.create_new_trial(study_id, template_trial=FrozenTrial(
            number=-1, state=st, value=value, datetime_start=now, datetime_complete=now, params={"x": 0.5},
            distributions={"x": FloatDistribution(0, 1)}, user_attrs=attrs, system_attrs={}, intermediate_values={},
            trial_id=-1))


def test_a_job_name_with_escape_sequences_is_listed_as_text(tmp_path):
    home = tmp_path / "home"
    add_study(home, "evil\x1b[2J\x1b]0;owned\x07", [("COMPLETE", 0.5, {"warm": True, "startup_s": 0.1})])
    code, out = cli("list", home=home)
    assert code == 0 and "\x1b" not in out and "\x07" not in out, repr(out)
    assert "evil\\x1b[2J" in out


def test_show_counts_interrupted_trials_and_leaves_unknown_times_blank(tmp_path):
    """`show` said "trials 2/10: 2 complete, 0 pruned, 0 failed" for a job with 2 interrupted trials as well, and
    printed an interrupted trial as a `fail`, started `cold` in `0.000` s; a job of pruned trials had "no result"."""
    home = tmp_path / "home"
    add_study(home, "halted", [("COMPLETE", 0.5, {"warm": False, "startup_s": 2.0, "run_s": 1.0}),
                               ("COMPLETE", 0.7, {"warm": True, "startup_s": 0.01, "run_s": 1.0}),
                               ("FAIL", None, {"interrupted": True, "error": "interrupted: the job was stopped"}),
                               ("FAIL", None, {"interrupted": True, "error": "interrupted: the job was stopped"})])
    code, out = cli("show", "halted", home=home)
    assert code == 0, out
    assert "trials 2/10: 2 complete, 0 pruned, 0 failed, 2 interrupted (2 to re-run on resume)" in out, out
    table = [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in out.splitlines()
             if line.strip().startswith("│")]
    rows = [r for r in table if r[0] in ("2", "3")]
    assert len(rows) == 2 and all(r[1] == "interrupted" and r[3:6] == ["-", "-", "-"] for r in rows), out
    add_study(home, "all-pruned", [("PRUNED", None, {"warm": True, "startup_s": 0.01})] * 3)
    code, out = cli("show", "all-pruned", home=home)
    assert "no complete trial" in out and "no result yet" not in out, out


def test_show_names_the_interrupted_trial_a_trial_re_runs(tmp_path):
    """`show` listed a resumed job's re-run as a plain trial, with the interrupted trial's parameters again and
    nothing to say why (its record's ``rerun_of`` was shown nowhere)."""
    home = tmp_path / "home"
    add_study(home, "resumed", [("COMPLETE", 0.5, {"warm": False, "startup_s": 2.0, "run_s": 1.0}),
                                ("FAIL", None, {"interrupted": True, "error": "interrupted: the job was stopped"}),
                                ("COMPLETE", 0.7, {"warm": False, "startup_s": 2.0, "run_s": 1.0, "rerun_of": 1})])
    code, out = cli("show", "resumed", home=home)
    assert code == 0, out
    assert "trials 2/10: 2 complete, 0 pruned, 0 failed, 1 interrupted;" in out, out  # none left to re-run
    table = [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in out.splitlines()
             if line.strip().startswith("│")]
    states = {r[0]: r[1] for r in table if r[0] in ("0", "1", "2")}
    assert states == {"0": "complete", "1": "interrupted", "2": "complete (re-run of 1)"}, out


def test_show_says_a_stale_jobs_runner_is_gone_and_counts_its_running_trials(tmp_path):
    """A job whose runner was killed said "stale (in progress)", and left out the trials it was running."""
    import os

    from jupyter_hpo.store import Store

    home = tmp_path / "home"
    add_study(home, "gone", [("COMPLETE", 0.5, {"warm": False, "startup_s": 2.0}), ("RUNNING", None, {}),
                             ("RUNNING", None, {})], status="running")
    dead = {"pid": 2**22 + 12345, "host": os.uname().nodename, "started": 1.0}
    Store(home=home).set_job_attrs("gone", reason="", ended=None, runner=dead, heartbeat=1.0)
    code, out = cli("show", "gone", home=home)
    assert code == 0, out
    assert ("job gone: stale (its runner is gone: `jupyter hpo resume` goes on); trials 1/10: 1 complete, 0 pruned, "
            "0 failed, 2 running; best auc 0.5") in " ".join(out.split()), out


def test_a_trial_interrupted_on_a_warm_worker_counts_as_a_warm_start(tmp_path):
    """Its start-up is not measured (it never finished), so the summary left it out of `warm_starts`, while the
    trial table said it started warm: 1 warm start in the summary, 2 in the table."""
    import json

    import pytest

    home = tmp_path / "home"
    add_study(home, "warmcount", [("COMPLETE", 0.5, {"warm": False, "startup_s": 2.0}),
                                  ("COMPLETE", 0.7, {"warm": True, "startup_s": 0.01}),
                                  ("FAIL", None, {"warm": True, "interrupted": True})])
    code, out = cli("show", "warmcount", "--json", home=home)
    assert code == 0, out
    shown = json.loads(out.strip().splitlines()[-1])
    job, trials = shown["job"], shown["trials"]
    assert (job["warm_starts"], job["cold_starts"]) == (2, 1) == (
        sum(t["warm"] is True for t in trials), sum(t["warm"] is False for t in trials))
    # the means are of the measured start-ups; each warm start saved one cold start-up, the interrupted one too (the
    # saving counted the measured ones only, and the line "warm starts 2 (start-up 0.010 s vs cold 2.00 s),
    # start-up saved 1.99 s" did not multiply out)
    assert job["warm_startup_s"] == 0.01 and job["startup_saved_s"] == pytest.approx(2 * 1.99)


def test_show_prints_an_infinite_metric_as_inf_not_as_no_value(tmp_path):
    """An extra metric of inf printed as `-`, as for a trial without the metric; JSON has null with `nonfinite`."""
    home = tmp_path / "home"
    add_study(home, "infs", [("COMPLETE", 0.5, {"metrics": {"extra": float("inf")}}),
                             ("COMPLETE", 0.6, {"metrics": {"extra": 1.5}}),
                             ("COMPLETE", 0.7, {})])
    code, out = cli("show", "infs", home=home)
    assert code == 0, out
    rows = {r[0]: r for r in ([c.strip() for c in line.strip().strip("│").split("│")] for line in out.splitlines()
                              if line.strip().startswith("│"))}
    assert (rows["0"][3], rows["1"][3], rows["2"][3]) == ("inf", "1.5", "-"), out
