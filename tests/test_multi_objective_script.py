"""Several objectives from a script trial on the local backend (issue 15), with the real runner and real workers:
each objective's regex reads its metric from the script's output (last match wins), a trial lacking one fails
saying which, the front is the brute-force front, a campaign's handed-over worker reads the new job's regexes,
and a regex that cannot apply (a function trial) is refused in one line with nothing written."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from jupyter_hpo import api
from jupyter_hpo.campaign import campaign
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.records import REUSED_FROM
from jupyter_hpo.spec import Objective
from tests.test_bounded_inputs import assert_nothing_written
from tests.test_cli import hpo
from tests.test_multi_objective import TWO, XY, brute_force_front

# An epoch line first: the last match of each metric is the trial's value, as for one objective.
SCRIPT = """
import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--x", type=float)
ap.add_argument("--y", type=float)
a = ap.parse_args()
print("epoch 0: auc=-1.0 train_s=1000.0")
print(f"auc={1 - (a.x - 1) ** 2 - 0.3 * a.y!r}")
print(f"train_s: {1 + 4 * a.x + 2 * a.y!r}")
print("size_mb=3.0")  # not an objective: not read
"""


def auc(x: float, y: float) -> float:
    return 1 - (x - 1) ** 2 - 0.3 * y


def train_s(x: float, y: float) -> float:
    return 1 + 4 * x + 2 * y


def write_script(folder: Path, text: str = SCRIPT) -> Path:
    path = folder / "train.py"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_a_two_objective_script_job_reads_each_metric_and_has_the_brute_force_front(home, tmp_path):
    script = write_script(tmp_path)
    job = api.launch({"name": "mo-script", "trial": {"script": str(script)}, "space": XY, "objective": TWO,
                      "seed": 7, "budget": {"max_trials": 12, "max_parallel": 2}})
    assert job.wait(timeout=240).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    assert len(records) == 12 and all(r["state"] == "complete" for r in records), [r["error"] for r in records]
    for r in records:  # what the script printed last for the params the store recorded
        x, y = r["params"]["x"], r["params"]["y"]
        assert (r["value"], r["metrics"]) == (auc(x, y), {"train_s": train_s(x, y)})
    assert any(r["warm"] for r in records), "workers ran several trials"
    expected = brute_force_front(records)
    assert 0 < len(expected) < 12, expected
    assert list(job.pareto().index) == expected
    assert job.summary()["pareto"] == expected and job.summary()["objectives"] == TWO
    out = hpo(home, "show", "mo-script", "--json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["pareto"] == shown["job"]["pareto"] == expected


MISSING = """
import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--x", type=float)
a = ap.parse_args()
print(f"auc={a.x}")
if a.x < 0.5:
    print(f"train_s={a.x ** 2}")
elif a.x == 1:
    print("train_s=nan")
"""

DEFAULT_TRAIN_S = Objective("train_s").pattern


def test_a_script_that_omits_one_metric_fails_that_trial_naming_it_and_the_job_goes_on(home, tmp_path):
    script = write_script(tmp_path, MISSING)
    job = api.launch({"name": "mo-lacks", "trial": {"script": str(script)}, "objective": TWO, "strategy": "grid",
                      "space": {"x": {"type": "float", "low": 0, "high": 1, "step": 0.25}},
                      "budget": {"max_trials": 5}, "max_consecutive_failures": 5})
    assert job.wait(timeout=240).value == "completed", job.attrs.get("reason")
    by_x = {r["params"]["x"]: r for r in job.trial_records()}
    assert {x: r["state"] for x, r in by_x.items()} == {0.0: "complete", 0.25: "complete", 0.5: "fail",
                                                        0.75: "fail", 1.0: "fail"}
    assert by_x[0.25]["value"] == 0.25 and by_x[0.25]["metrics"] == {"train_s": 0.0625}
    assert by_x[0.75]["error"] == (f"no output line matched the regex {DEFAULT_TRAIN_S!r} of objective 'train_s' "
                                   "(print e.g. 'train_s=0.83')")
    assert by_x[1.0]["error"] == f"the regex {DEFAULT_TRAIN_S!r} of objective 'train_s' found 'nan', not a finite number"
    assert job.summary()["pareto"] == brute_force_front(job.trial_records())


CUSTOM = """
import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--x", type=float)
a = ap.parse_args()
print(f"AUC is {a.x} | took {1 + a.x ** 2} seconds")
print(f"auc={-a.x}")  # what the default regex would read: the custom one must not
"""
CUSTOM_OBJECTIVES = [{"metric": "auc", "direction": "maximize", "regex": r"AUC is (\S+)"},
                     {"metric": "train_s", "direction": "minimize", "regex": r"took (\S+) seconds"}]


def test_each_objective_can_have_its_own_regex(home, tmp_path):
    script = write_script(tmp_path, CUSTOM)
    spec = tmp_path / "custom.yaml"
    spec.write_text(f"name: mo-regex\ntrial: {{script: {script}}}\nstrategy: grid\n"
                    "space: {x: {type: float, low: 0, high: 1, step: 0.5}}\nbudget: {max_trials: 3}\n"
                    "objective:\n  - {metric: auc, direction: maximize, regex: 'AUC is (\\S+)'}\n"
                    "  - {metric: train_s, direction: minimize, regex: 'took (\\S+) seconds'}\n")
    out = hpo(home, "launch", str(spec), "--json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(hpo(home, "show", "mo-regex", "--json").stdout)
    assert shown["job"]["status"] == "completed", shown["job"]
    values = sorted((t["params"]["x"], t["value"], t["metrics"]["train_s"]) for t in shown["trials"])
    assert values == [(0.0, 0.0, 1.0), (0.5, 0.5, 1.25), (1.0, 1.0, 2.0)]
    assert shown["pareto"] == brute_force_front(shown["trials"])
    assert api.attach("mo-regex").spec["objectives"] == CUSTOM_OBJECTIVES  # kept with the job, for a resume


def test_on_sagemaker_each_objectives_own_regex_finds_it_in_the_log(home, tmp_path):
    """On (simulated) SageMaker the same per-objective regexes are the training job's metric definitions."""
    (tmp_path / "src").mkdir()  # the source folder uploaded for the training job: the script alone
    script = write_script(tmp_path / "src", CUSTOM)
    (tmp_path / "s3").mkdir()
    job = api.launch({
        "name": "mo-sm-regex", "trial": {"script": str(script)}, "objective": CUSTOM_OBJECTIVES, "strategy": "grid",
        "space": {"x": {"type": "float", "low": 0, "high": 1, "step": 0.5}}, "budget": {"max_trials": 3},
        "backend": {"name": "sagemaker", "options": {
            "role": "arn:aws:iam::123456789012:role/SageMakerRole", "poll_s": 5,
            "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "simulate": {"executor": "script", "speed": 200, "s3_root": str(tmp_path / "s3")}}}})
    assert job.wait(timeout=300).value == "completed", job.attrs.get("reason")
    got = sorted((r["params"]["x"], r["value"], r["metrics"]["train_s"]) for r in job.trial_records())
    assert got == [(0.0, 0.0, 1.0), (0.5, 0.5, 1.25), (1.0, 1.0, 2.0)]


def test_a_handed_over_worker_reads_the_next_jobs_regexes(home, tmp_path, monkeypatch):
    """A campaign's single-objective job hands its warm workers to a job with two objectives and custom regexes."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()  # its folder's files are the objective environment: not the store's beside it
    write_script(tmp_path / "src", CUSTOM)
    space = "space: {x: {type: float, low: 0, high: 1, step: 0.5}}\nbudget: {max_trials: 3, max_parallel: 1}\n"
    (tmp_path / "first.yaml").write_text(f"name: first\ntrial: {{script: src/train.py}}\nstrategy: grid\n{space}"
                                         "objective: {metric: auc, direction: minimize}\n")
    (tmp_path / "second.yaml").write_text(f"name: second\ntrial: {{script: src/train.py}}\nstrategy: grid\n{space}"
                                          "objective:\n  - {metric: auc, regex: 'AUC is (\\S+)'}\n"
                                          "  - {metric: train_s, direction: minimize, regex: 'took (\\S+) s'}\n")
    c = campaign([tmp_path / "first.yaml", tmp_path / "second.yaml"], name="mo-hand")
    assert c.wait(timeout=240) == "completed"
    first, second = c.jobs
    assert sorted(r["value"] for r in first.trial_records()) == [-1.0, -0.5, 0.0]  # the default regex: auc=-x
    assert [t.user_attrs.get(REUSED_FROM) for t in second.raw_trials()] == ["first"] * 3
    got = sorted((r["params"]["x"], r["value"], r["metrics"]) for r in second.trial_records())
    assert got == [(0.0, 0.0, {"train_s": 1.0}), (0.5, 0.5, {"train_s": 1.25}), (1.0, 1.0, {"train_s": 2.0})]


def tradeoff(p):
    return {"auc": p["x"], "train_s": p["x"] ** 2}


def test_a_regex_for_a_function_trial_is_refused_in_one_line_and_nothing_is_written(home, tmp_path):
    (tmp_path / "objective.py").write_text("def f(p):\n    return {'auc': p['x'], 'train_s': p['x']}\n")
    spec = tmp_path / "fn.yaml"
    spec.write_text("name: fn-regex\ntrial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                    "objective:\n  - {metric: auc}\n  - {metric: train_s, direction: minimize, regex: 'took (\\S+)'}\n")
    out = hpo(home, "launch", str(spec), "--detach")
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        ("error: `objective[1].regex` finds a metric in a script's output, but the trial is a function, whose "
         "returned dict gives each objective (auc, train_s); remove it, but got 'took (\\\\S+)'.")]
    with pytest.raises(SpecError, match=r"^`objective\[0\]\.regex` finds a metric in a script's output"):
        api.launch(objective=tradeoff, space=XY, objectives=CUSTOM_OBJECTIVES, name="kw")
    assert_nothing_written(home)


@pytest.mark.parametrize("regex, message", [
    (r"took \S+", r"`objective[1].regex` must have exactly one capture group (the value), but got 'took \\S+'."),
    ("took ([0-9", "`objective[1].regex` must be a valid regular expression ("),
])
def test_a_bad_regex_of_one_of_several_objectives_is_refused_naming_it(home, tmp_path, regex, message):
    script = write_script(tmp_path)
    objectives = [{"metric": "auc"}, {"metric": "train_s", "direction": "minimize", "regex": regex}]
    with pytest.raises(SpecError) as e:
        api.launch({"name": "bad-regex", "trial": {"script": str(script)}, "space": XY, "objective": objectives})
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert re.match(r"^`objective\[1\]\.regex`", str(e.value))
    assert_nothing_written(home)
