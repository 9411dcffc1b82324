"""Several objectives: the spec, its refusals (one line each, nothing written), and the trial columns."""

from __future__ import annotations

import pytest

from jupyter_hpo import api
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.spec import TuningSpec
from tests import objectives

SPACE = {"x": {"type": "float", "low": 0, "high": 1}}
TWO = [{"metric": "auc", "direction": "maximize"}, {"metric": "train_s", "direction": "minimize"}]


def tradeoff(p):
    """The higher x, the better the AUC and the longer the training: every x is a trade-off."""
    return {"auc": p["x"], "train_s": p["x"] ** 2, "size_mb": 10 * p["x"]}


def _data(**more):
    return {"name": "mo", "trial": {"function": tradeoff}, "space": SPACE, "objective": TWO, **more}


def test_several_objectives_in_yaml_round_trip_and_the_first_is_the_objective(tmp_path):
    (tmp_path / "objective.py").write_text("def f(p):\n    return {'auc': p['x'], 'train_s': p['x']}\n")
    spec = TuningSpec.from_yaml("trial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                                "objective: [{metric: auc, direction: maximize}, {metric: train_s, direction: "
                                "minimize}]\n", base_dir=tmp_path)
    assert spec.multi_objective
    assert [(o.metric, o.direction) for o in spec.all_objectives] == [("auc", "maximize"), ("train_s", "minimize")]
    assert (spec.objective.metric, spec.objective.direction) == ("auc", "maximize")
    stored = spec.to_dict()
    assert stored["objectives"] == TWO and stored["objective"]["metric"] == "auc"
    again = TuningSpec.from_dict({**stored, "trial": {"function": tradeoff}})
    assert again.objectives == spec.objectives
    single = TuningSpec.from_dict({**_data(), "objective": {"metric": "auc"}})
    assert not single.multi_objective and [o.metric for o in single.all_objectives] == ["auc"]
    assert "objectives" not in single.to_dict()


def test_launch_takes_objectives_and_a_constraint_with_them(home):
    spec = TuningSpec.from_dict(_data(constraints={"size_mb": {"max": 5}}))
    assert spec.multi_objective and [c.metric for c in spec.constraints] == ["size_mb"]
    job = api.launch(objective=tradeoff, space=SPACE, objectives=TWO, max_trials=1, name="kw")
    job.wait(timeout=120)
    assert job.spec["objectives"] == TWO


@pytest.mark.parametrize("objective, message", [
    ([{"metric": "auc", "goal": "max"}, {"metric": "train_s"}],
     "unknown field(s) `objective[0].goal`; allowed in each of several objectives: direction, metric, regex."),
    ([{"metric": "auc"}, {"metric": "auc", "direction": "minimize"}],
     "`objective` lists metric 'auc' twice; each objective must be a different metric"),
    ([{"metric": "auc"}, {"metric": "train_s", "direction": "down"}],
     "`objective[1].direction` must be one of maximize, minimize, but got 'down'."),
    ([{"metric": "auc", "direction": "maximize"}],
     "`objective` lists one objective; use the single form `objective: {metric: auc, direction: maximize}`"),
    ([], "`objective` must list at least two objectives"),
    (["auc", "train_s"], "`objective[0]` must be a mapping of metric and direction, but got 'auc'."),
    ([{"direction": "maximize"}, {"metric": "train_s"}], "`objective[0].metric` is required"),
    ([{"metric": "a b"}, {"metric": "train_s"}], "`objective[0].metric` must be a name of letters"),
])
def test_bad_objective_lists_are_refused_in_one_line_and_nothing_is_written(home, objective, message):
    with pytest.raises(SpecError) as e:
        api.launch(_data(objective=objective))
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    with pytest.raises(SpecError) as e:
        api.launch(objective=tradeoff, space=SPACE, objectives=objective, name="kw")
    assert message in str(e.value)
    assert api.list_jobs() == []


@pytest.mark.parametrize("more, message", [
    ({"early_stopping": "kfold"}, "`early_stopping: kfold` prunes trials, which Optuna cannot do with several "
                                  "objectives (auc, train_s); use `early_stopping: off`"),
    ({"early_stopping": "median"}, "`early_stopping: median` prunes trials"),
    ({"strategy": "hyperband"}, "`strategy: hyperband` prunes trials"),
    ({"completion": {"target": 0.9}}, "`completion.target` follows one value, but the job has several objectives"),
    ({"completion": {"patience": 5}}, "`completion.patience` follows one value"),
    # not "use `strategy: hyperband`", which would be refused next
    ({"hyperband": {"reduction_factor": 2}}, "`hyperband` sets Hyperband's resources, but no Hyperband prunes a job "
                                             "with several objectives (auc, train_s); remove it, but got hyperband "
                                             "reduction_factor=2."),
])
def test_what_needs_one_value_is_refused_with_several_objectives(home, more, message):
    with pytest.raises(SpecError) as e:
        api.launch(_data(**more))
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert api.list_jobs() == []


def test_warm_start_is_refused_with_several_objectives(home):
    first = api.launch(objective=tradeoff, space=SPACE, metric="auc", max_trials=1, name="earlier")
    first.wait(timeout=120)
    with pytest.raises(SpecError, match=r"^`warm_start.from` seeds a sampler with earlier trials' single values, "
                                        r"not several objectives \(auc, train_s\)"):
        api.launch(_data(warm_start={"from": ["earlier"]}))
    assert [j["name"] for j in api.list_jobs()] == ["earlier"]


def test_the_amt_backend_refuses_several_objectives_at_launch(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('auc=1')\n")
    with pytest.raises(SpecError) as e:
        api.launch(_data(trial={"script": str(script)}, backend={"name": "amt", "options": {"simulate": {}}}))
    assert str(e.value) == ("SageMaker AMT tunes a single objective metric, so several objectives (auc, train_s) "
                            "cannot be honoured; use `backend: sagemaker` or the local backend.")
    assert api.list_jobs() == []


def test_the_cli_launch_refuses_a_bad_objective_list_in_one_line(home, tmp_path):
    from tests.test_cli import hpo

    (tmp_path / "objective.py").write_text("def f(p):\n    return {'auc': p['x'], 'train_s': p['x']}\n")
    spec = tmp_path / "mo.yaml"
    spec.write_text("name: cli-mo\ntrial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                    "objective: [{metric: auc, direction: maximize}, {metric: auc, direction: minimize}]\n")
    out = hpo(home, "launch", str(spec), "--json")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: `objective` lists metric 'auc' twice; each objective must be a different metric, but got "
        "['auc', 'auc']."]
    assert api.list_jobs() == []


# -- the runner: a multi-objective study, each trial's values told; every other metric a column -------------------
def needs_train_s(p):
    """Returns train_s only for x < 0.5: the other trials lack an objective."""
    out = {"auc": p["x"], "size_mb": 10 * p["x"]}
    if p["x"] < 0.5:
        out["train_s"] = p["x"] ** 2
    return out


GRID = {"x": {"type": "float", "low": 0, "high": 1, "step": 0.25}}


def test_a_multi_objective_job_runs_on_real_workers_and_every_metric_is_a_column(home):
    job = api.launch(objective=tradeoff, space=GRID, objectives=TWO, strategy="grid", max_trials=5, name="cols")
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    assert sorted(r["params"]["x"] for r in records) == [0.0, 0.25, 0.5, 0.75, 1.0]
    for r in records:
        x = r["params"]["x"]
        assert r["state"] == "complete" and r["value"] == x
        assert r["metrics"] == {"train_s": x ** 2, "size_mb": 10 * x}
        assert r["worker"] is not None
    df = job.trials().sort_values("param_x")
    assert list(df["value"]) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert list(df["metric_train_s"]) == [0.0, 0.0625, 0.25, 0.5625, 1.0]
    assert list(df["metric_size_mb"]) == [0.0, 2.5, 5.0, 7.5, 10.0]


def test_a_single_objective_job_shows_its_other_metrics_too(home):
    job = api.launch(objective=tradeoff, space=GRID, metric="auc", strategy="grid", max_trials=2, name="one")
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    df = job.trials()
    assert {"metric_train_s", "metric_size_mb"} <= set(df.columns)
    assert all(df["metric_size_mb"] == 10 * df["param_x"])


def test_a_trial_without_one_of_the_objectives_fails_saying_which(home):
    job = api.launch(objective=needs_train_s, space=GRID, objectives=TWO, strategy="grid", max_trials=5,
                     name="lacks", max_consecutive_failures=5)
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    by_x = {r["params"]["x"]: r for r in job.trial_records()}
    assert [x for x, r in sorted(by_x.items()) if r["state"] == "complete"] == [0.0, 0.25]
    assert by_x[0.75]["state"] == "fail"
    assert by_x[0.75]["error"] == ("the objective returned no finite 'train_s' (it returned size_mb); each of "
                                   "several objectives must be in the dict it returns")


def test_a_stopped_multi_objective_job_resumes_with_its_values(home):
    job = api.launch(objective=tradeoff, space=SPACE, objectives=TWO, max_trials=4, max_parallel=2, seed=3,
                     name="again")
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    job.resume(max_trials=12)  # the new runner gives its study the stored trials' values: 8 more trials
    assert job.wait(timeout=180).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    assert len(records) == 12 and all(r["state"] == "complete" for r in records), [r["error"] for r in records]
    assert all(r["metrics"]["train_s"] == r["value"] ** 2 for r in records)


def test_the_cli_table_has_a_column_per_other_metric(home, tmp_path):
    from tests.test_cli import hpo

    (tmp_path / "objective.py").write_text(
        "def f(p):\n    return {'auc': p['x'], 'train_s': p['x'] ** 2, 'size_mb': 10 * p['x']}\n")
    spec = tmp_path / "mo.yaml"
    spec.write_text("name: cli-mo\ntrial: {function: 'objective.py:f'}\nstrategy: grid\n"
                    "space: {x: {type: float, low: 0, high: 1, step: 0.5}}\nbudget: {max_trials: 3}\n"
                    "objective: [{metric: auc, direction: maximize}, {metric: train_s, direction: minimize}]\n")
    out = hpo(home, "launch", str(spec), "--json")
    assert out.returncode == 0, out.stderr
    shown = hpo(home, "show", "cli-mo")
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "state" in line)
    assert [h for h in ("auc", "train_s", "size_mb") if h in header] == ["auc", "train_s", "size_mb"], shown.stdout
    row = next(line for line in shown.stdout.splitlines() if "x=0.5" in line)
    assert "0.25" in row and "5" in row.split("0.25")[1], row  # train_s 0.25, size_mb 5


# -- the Pareto front: job.pareto(), the summary (best, objectives, pareto), the CLI and the REST API ---------------
def auc_and_time(p):
    """x trades AUC for training time; y only makes both worse (a trial with a large y is dominated)."""
    return {"auc": 1 - (p["x"] - 1) ** 2 - 0.3 * p["y"], "train_s": 1 + 4 * p["x"] + 2 * p["y"], "size_mb": p["y"]}


XY = {"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1}}


def brute_force_front(records, feasible_only=True):
    """Trial numbers no other complete (feasible) trial beats or equals in both objectives with one strictly better."""
    done = [r for r in records if r["state"] == "complete" and (r["feasible"] is not False or not feasible_only)]
    front = []
    for r in done:
        a, t = r["value"], r["metrics"]["train_s"]
        if not any(o["value"] >= a and o["metrics"]["train_s"] <= t
                   and (o["value"] > a or o["metrics"]["train_s"] < t) for o in done):
            front.append(r["number"])
    return sorted(front)


def test_the_pareto_front_of_a_local_job_is_the_brute_force_front(home):
    job = api.launch(objective=auc_and_time, space=XY, objectives=TWO, max_trials=16, max_parallel=2, seed=7,
                     name="front")
    assert job.wait(timeout=180).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    assert len(records) == 16 and all(r["state"] == "complete" for r in records)
    expected = brute_force_front(records)
    assert 0 < len(expected) < 16, expected  # some trials are dominated, or the check would prove nothing
    summary = job.summary()
    assert summary["pareto"] == expected
    assert summary["objectives"] == TWO
    assert list(job.pareto().index) == expected
    assert list(job.pareto()["metric_train_s"]) == [r["metrics"]["train_s"] for r in records if r["number"] in expected]
    # best: the front's trial with the best first objective, which is also the best AUC of the whole job
    on_front = [r for r in records if r["number"] in expected]
    top = max(on_front, key=lambda r: r["value"])
    assert summary["best"] == {"number": top["number"], "value": top["value"], "params": top["params"]}
    assert job.best["value"] == max(r["value"] for r in records)
    # the store keeps the first objective as Optuna's value (what optuna-dashboard shows), the others as metrics
    stored = {t.number: t for t in job.raw_trials()}
    assert all(stored[r["number"]].value == r["value"] and stored[r["number"]].user_attrs["metrics"] == r["metrics"]
               for r in records)
    listed = next(j for j in api.list_jobs() if j["name"] == "front")  # an ended job, summarised for a list
    assert listed["pareto"] == expected and listed["best"]["number"] == top["number"]
    assert api.compare("front")["front"]["summary"]["pareto"] == expected


def test_an_infeasible_trial_is_never_on_the_front(home):
    job = api.launch(objective=auc_and_time, space=XY, objectives=TWO, max_trials=12, seed=2, name="cfront",
                     constraints={"size_mb": {"max": 0.5}})
    assert job.wait(timeout=180).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    infeasible = {r["number"] for r in records if r["feasible"] is False}
    assert infeasible and len(infeasible) < 12, [r["params"] for r in records]
    front = job.summary()["pareto"]
    assert front == brute_force_front(records) and not infeasible & set(front)
    assert job.best["number"] in front


def test_a_single_objective_job_has_one_objective_and_no_front(home):
    job = api.launch(objective=auc_and_time, space=XY, metric="auc", max_trials=3, name="solo")
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    summary = job.summary()
    assert summary["objectives"] == [{"metric": "auc", "direction": "maximize"}] and summary["pareto"] is None
    assert list(job.pareto().index) == [summary["best"]["number"]]


def test_the_cli_show_and_list_give_the_front(home, tmp_path):
    import json

    from tests.test_cli import hpo

    (tmp_path / "objective.py").write_text(
        "def f(p):\n    return {'auc': p['x'], 'train_s': p['x'] ** 2 + p['y']}\n")
    spec = tmp_path / "mo.yaml"
    spec.write_text("name: cli-front\ntrial: {function: 'objective.py:f'}\nstrategy: grid\n"
                    "space: {x: {type: float, low: 0, high: 1, step: 0.5}, y: [0, 1]}\nbudget: {max_trials: 6}\n"
                    "objective: [{metric: auc, direction: maximize}, {metric: train_s, direction: minimize}]\n")
    assert hpo(home, "launch", str(spec), "--json").returncode == 0
    out = hpo(home, "show", "cli-front", "--json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    by_number = {t["number"]: t["params"] for t in shown["trials"]}
    front = sorted(by_number[n]["x"] for n in shown["pareto"])
    assert front == [0.0, 0.5, 1.0] and all(by_number[n]["y"] == 0 for n in shown["pareto"])  # y=1 is dominated
    assert shown["job"]["pareto"] == shown["pareto"] == brute_force_front(shown["trials"])
    assert shown["job"]["objectives"] == TWO and by_number[shown["job"]["best"]["number"]] == {"x": 1.0, "y": 0}
    text = hpo(home, "show", "cli-front").stdout
    numbers = ", ".join(map(str, shown["pareto"]))
    assert (f"Pareto front (auc max, train_s min): trials {numbers}; its best auc 1 (trial "
            f"{shown['job']['best']['number']})") in " ".join(text.split()), text
    listed = hpo(home, "list")
    assert listed.returncode == 0 and "cli-front" in listed.stdout, listed.stderr
    assert json.loads(hpo(home, "list", "--json").stdout)[0]["pareto"] == shown["pareto"]


@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


async def test_the_rest_job_summary_carries_objectives_and_the_front(jp_fetch, home):
    import json

    job = api.launch(objective=auc_and_time, space=XY, objectives=TWO, max_trials=8, seed=1, name="rest-mo")
    assert job.wait(timeout=180).value == "completed", job.attrs.get("reason")
    expected = brute_force_front(job.trial_records())
    listed = json.loads((await jp_fetch("jupyter-hpo", "api", "jobs")).body)["jobs"]
    assert listed[0]["objectives"] == TWO and listed[0]["pareto"] == expected
    detail = json.loads((await jp_fetch("jupyter-hpo", "api", "jobs", "rest-mo")).body)
    assert detail["job"]["pareto"] == expected and detail["job"]["best"]["number"] in expected
    trials = json.loads((await jp_fetch("jupyter-hpo", "api", "jobs", "rest-mo", "trials")).body)["trials"]
    assert all(set(t["metrics"]) == {"train_s", "size_mb"} for t in trials)


def test_bayesian_search_with_several_objectives_is_multi_objective_tpe():
    import inspect

    import optuna

    from jupyter_hpo.strategies import make_sampler

    spec = TuningSpec.from_dict(_data())
    assert isinstance(make_sampler(spec), optuna.samplers.TPESampler)
    # Optuna's default for several objectives, NSGA-II, evolves generations of 50 trials
    assert inspect.signature(optuna.samplers.NSGAIISampler).parameters["population_size"].default == 50


def test_the_sagemaker_backend_runs_several_objectives_from_a_script(home, tmp_path):
    """On (simulated) SageMaker each objective is found by its own metric regex in the training job's log."""
    import textwrap

    script = tmp_path / "src" / "train.py"
    script.parent.mkdir()
    script.write_text(textwrap.dedent("""
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("--x", type=float)
        ap.add_argument("--y", type=float)
        a = ap.parse_args()
        print(f"auc={1 - (a.x - 1) ** 2 - 0.3 * a.y}")
        print(f"train_s={1 + 4 * a.x + 2 * a.y}")
    """))
    (tmp_path / "s3").mkdir()
    job = api.launch({
        "name": "mo-sm", "trial": {"script": str(script)}, "space": XY, "objective": TWO, "seed": 4,
        "budget": {"max_trials": 8, "max_parallel": 4},
        "backend": {"name": "sagemaker", "options": {
            "role": "arn:aws:iam::123456789012:role/SageMakerRole", "poll_s": 5,
            "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "simulate": {"executor": "script", "speed": 200, "s3_root": str(tmp_path / "s3")}}}})
    assert job.wait(timeout=300).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    assert len(records) == 8 and all(r["state"] == "complete" for r in records), [r["error"] for r in records]
    for r in records:
        x, y = r["params"]["x"], r["params"]["y"]
        assert r["value"] == pytest.approx(1 - (x - 1) ** 2 - 0.3 * y)
        assert r["metrics"]["train_s"] == pytest.approx(1 + 4 * x + 2 * y)
    assert job.summary()["pareto"] == brute_force_front(records)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_best_of_equal_first_objectives_keeps_its_model(home, seed):
    """Trials equal in the first objective: the best is the one best in the second, and artifacts.keep_best keeps
    its model. The keeper ranked by the first objective alone and kept the earliest of equals, so it removed the
    best's folder and load_model(job) failed, saying the best trial saved nothing."""
    from jupyter_hpo.artifacts import load_model

    job = api.launch(objective=objectives.equal_auc_saves_model, space={"train_s": [3, 1, 2, 4]}, objectives=TWO,
                     strategy="grid", max_trials=4, max_parallel=1, seed=seed, artifacts={"keep_best": 1},
                     name=f"ties-{seed}")
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    records = job.trial_records()
    order = [r["params"]["train_s"] for r in sorted(records, key=lambda r: r["number"])]
    fastest = next(r for r in records if r["params"]["train_s"] == 1)
    assert job.summary()["pareto"] == [fastest["number"]], order
    assert job.best["number"] == fastest["number"], order
    assert load_model(job) == {"train_s": 1}, order
    assert list(job.attrs["artifacts_kept"]) == [str(fastest["number"])], order


def test_importance_of_a_multi_objective_job_says_it_is_for_the_first_objective(home):
    """The shares rank parameters by the first objective alone: the note (show, REST, dashboard) says so."""
    from jupyter_hpo.analytics import record_importance
    from jupyter_hpo.widgets import Dashboard

    job = api.launch(objective=tradeoff, space=SPACE, objectives=TWO, max_trials=6, seed=1, name="mo-importance")
    assert job.wait(timeout=120).value == "completed", job.attrs.get("reason")
    found = record_importance(job.trial_records(), job.attrs["spec"])
    assert found.shares == {"x": 1.0} and found.note == "From 6 complete trials. For auc, the first objective."
    assert Dashboard("mo-importance").importance_note == found.note
    solo = api.launch(objective=tradeoff, space=SPACE, metric="auc", max_trials=5, seed=1, name="solo-importance")
    assert solo.wait(timeout=120).value == "completed"
    assert record_importance(solo.trial_records(), solo.attrs["spec"]).note == "From 5 complete trials."


def test_a_resumed_job_keeps_only_its_best_artifacts(home):
    """The resumed runner read each trial's first value alone from the store, which its keeper refused for two
    objectives: it forgot the folders kept before the stop, never removed them, and listed later ones only."""
    from pathlib import Path

    from jupyter_hpo.store import JobStatus
    from tests.conftest import wait_for

    two = [{"metric": "a", "direction": "maximize"}, {"metric": "b", "direction": "minimize"}]
    job = api.launch(objective=objectives.two_objectives_saving_slowly, space=SPACE, objectives=two,
                     max_trials=10, max_parallel=1, seed=0, name="kept-mo", artifacts={"keep_best": 2})
    wait_for(lambda: job.summary()["complete"] >= 4, timeout=60)
    assert job.stop(timeout=30) == JobStatus.STOPPED
    job.resume()
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    folders = {int(p.name) for p in (Path(job.store.job_dir(job.name)) / "artifacts").iterdir()}
    kept = {int(n) for n in job.attrs["artifacts_kept"]}
    complete = sorted((r for r in job.trial_records() if r["state"] == "complete"), key=lambda r: -r["value"])
    assert folders == kept == {r["number"] for r in complete[:2]}, (folders, kept)
