"""The campaign estimator: the real scheduler against the simulated SageMaker on a virtual clock, three ways."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupyter_hpo import api
from jupyter_hpo.estimate import ARMS, COLUMNS, CampaignInputs, estimate, format_estimate
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.magics import HpoMagics
from tests.conftest import REPO


def test_the_motivating_campaign_per_wave_and_in_total():
    # 8 tuning jobs x 40 trials x 5 parallel, ~1 min training, ~4 min cold start-up (3 min provisioning and 1 min
    # image pull), seconds warm: reported ~5 min -> ~1 min per iteration and ~6 h -> ~2 h
    r = estimate(jobs=8, trials=40, parallel=5, training_s=60, cold_startup_s=180, image_pull_s=60, warm_startup_s=5)
    none, job, campaign = r["arms"]["none"], r["arms"]["job"], r["arms"]["campaign"]
    assert all(a["trials"] == 320 and a["failed_trials"] == 0 for a in r["arms"].values())
    # per wave: a cold wave takes about 5 min, a warm one under 2
    assert 4.5 * 60 <= none["wave_s"] <= 6.5 * 60 and none["iteration_s"]["warm"] is None
    assert 4.5 * 60 <= none["iteration_s"]["cold"] <= 6.5 * 60
    assert campaign["iteration_s"]["warm"] < 2 * 60 and campaign["wave_s"] < 2 * 60
    # in total: ~6 h without pools; per-job pools lose each job's first wave; pools across jobs only the first
    assert 5.0 * 3600 <= none["wall_s"] <= 7.0 * 3600
    assert 2.4 <= r["speedup"]["job"] < r["speedup"]["campaign"] and r["speedup"]["campaign"] >= 3.0
    assert (none["warm_starts"], job["warm_starts"], campaign["warm_starts"]) == (0, 8 * (40 - 5), 320 - 5)
    assert (job["warm_starts_across_jobs"], campaign["warm_starts_across_jobs"]) == (0, 7 * 5)
    assert none["billable_s"] > job["billable_s"] > campaign["billable_s"]  # image pulls billed (test below)
    assert none["retained_s"] == 0 and job["retained_s"] > 0 and campaign["retained_s"] > 0
    rows = {row[0]: row[1:] for row in format_estimate(r)}
    assert rows["trials started warm"] == ("0/320", "280/320", "315/320")
    assert rows["  of them on an earlier job's pool"] == ("0", "0", "35")
    # the same seed gives the same figures: the README's table is this run's, cell for cell
    readme = readme_table("| 8 jobs × 40 trials, 5 at once, ml.m5.xlarge |")
    iteration = [f"{c} / {w.replace('-', '–')}" for c, w in zip(rows["iteration (proposal -> result), cold start"],
                                                              rows["iteration (proposal -> result), warm start"])]
    started = list(rows["trials started warm"])
    earlier = rows["  of them on an earlier job's pool"][2]
    started[2] += f" ({earlier} on an earlier job's pool)"
    assert readme == {
        "wall time": list(rows["wall time"]),
        "time per wave of trials": list(rows["time per wave of trials"]),
        "iteration, cold start / warm start": iteration,
        "trials started warm": started,
        "billable training time (image pulls included)": list(rows["billable training time (image pulls included)"]),
        "idle time kept warm": [v if v != "0.0 min" else "0" for v in rows["idle time kept warm"]],
        f"cost (${none['price_per_hour']:.2f}/h)": list(rows["cost"]),
        "wall-time speed-up": [v.replace("x", "×") for v in rows["wall-time speed-up"]],
    }


def readme_table(header: str) -> dict[str, list[str]]:
    """The README's table under ``header``: each row's label and cells."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(next(line for line in lines if line.startswith(header)))
    table = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        label, *cells = [c.strip() for c in line.strip("|").split("|")]
        table[label] = cells
    return table


def test_more_start_up_means_a_bigger_win():
    small = estimate(jobs=1, trials=10, parallel=2, training_s=60, cold_startup_s=60, warm_startup_s=5)
    large = estimate(jobs=1, trials=10, parallel=2, training_s=60, cold_startup_s=600, warm_startup_s=5)
    assert 1.0 < small["speedup"]["job"] < large["speedup"]["job"]


def test_a_warm_pool_quota_of_0_keeps_no_pool_and_says_so():
    r = estimate(jobs=2, trials=6, parallel=3, warm_pool_quota=0)
    for name in ("job", "campaign"):
        assert r["arms"][name]["warm_starts"] == 0
        assert any("warm-pool quota" in n and "Service Quotas" in n for n in r["arms"][name]["notes"])
    assert r["speedup"]["campaign"] == pytest.approx(1.0, abs=0.1)


def test_an_instance_quota_below_the_parallelism_is_met_with_fewer_pools_not_failures():
    r = estimate(jobs=1, trials=10, parallel=5, instance_quota=3)
    for arm in r["arms"].values():
        assert arm["failed_trials"] == 0 and arm["trials"] == 10
        assert any(n.startswith("ResourceLimitExceeded") for n in arm["notes"])
    assert r["arms"]["none"]["wall_s"] > estimate(jobs=1, trials=10, parallel=5)["arms"]["none"]["wall_s"]


def test_the_optimizers_proposal_time_adds_to_every_way():
    fast = estimate(jobs=1, trials=6, parallel=3)
    slow = estimate(jobs=1, trials=6, parallel=3, proposal_s=30)
    for name in ARMS:
        assert slow["arms"][name]["wall_s"] >= fast["arms"][name]["wall_s"] + 30


def test_the_price_can_be_overridden():
    r = estimate(jobs=1, trials=4, parallel=2, training_s=3600, training_cv=0, price_per_hour=10.0)
    none = r["arms"]["none"]
    assert none["price_per_hour"] == 10.0
    assert none["cost_usd"] == pytest.approx(none["billable_s"] / 3600 * 10.0, rel=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"jobs": 0}, "`jobs` must be a positive integer"),
    ({"training_s": -1}, "`training_s` must be a number of seconds above 0 to 2,419,200 "),
    ({"keep_alive_s": 7200}, "`keep_alive_s` must be an integer from 0 to 3600"),
    ({"warm_startup_s": float("nan")}, "`warm_startup_s` must be a number of seconds from 0 to 2,419,200"),
    ({"image_pull_s": -5}, "`image_pull_s` must be a number of seconds from 0 to 2,419,200"),
    # beyond what the simulation can run: `proposal_s 1e12` crashed past year 9999, `poll_s 0.01` and 1e9 s of
    # start-up ran on and on
    ({"proposal_s": 1e12}, "`proposal_s` must be a number of seconds from 0 to 2,419,200 \\(28 days\\)"),
    ({"poll_s": 0.01}, "`poll_s` must be a number of seconds from 1 to"),
    ({"cold_startup_s": 1e9}, "`cold_startup_s` must be a number of seconds from 0 to"),
    ({"jobs": 50, "cold_startup_s": 2e6}, r"about [\d,]+ status polls \(at most 50,000: minutes of "
                                          r"simulation\); give a larger `poll_s`"),
    ({"warm_pool_quota": -1}, "`warm_pool_quota` must be an integer >= 0"),
    ({"instance_quota": 2.5}, "`instance_quota` must be an integer >= 0"),
])
def test_bad_inputs_are_rejected(kwargs, message):
    with pytest.raises(SpecError, match=message):
        CampaignInputs(**kwargs)


def test_cli_estimate_refuses_a_keep_alive_for_amt_which_has_no_warm_pools_of_its_own(capsys):
    """`estimate --backend amt --keep-alive-s 600` was accepted and the keep-alive changed nothing."""
    from jupyter_hpo import cli

    assert cli.main(["estimate", "--backend", "amt", "--keep-alive-s", "600"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `--keep-alive-s` sets the sagemaker backend's warm pools") and err.count("\n") == 1


def test_cli_estimate_prints_a_table_and_json():
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--jobs", "2", "--trials", "6",
                          "--parallel", "2"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(COLUMNS[name] in out.stdout for name in ARMS) and "wall-time speed-up" in out.stdout
    assert "time per wave of trials" in out.stdout and "kept the warm pools of campaign-1-" in out.stdout
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--jobs", "2", "--trials", "6",
                          "--parallel", "2", "--image-pull-s", "0", "--warm-pool-quota", "4", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["inputs"]["trials"] == 6 and result["inputs"]["image_pull_s"] == 0
    assert result["inputs"]["warm_pool_quota"] == 4
    assert result["speedup"]["campaign"] > result["speedup"]["job"] > 1
    bad = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--parallel", "0"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "`parallel` must be a positive integer" in bad.stderr


def test_hpo_estimate_magic_and_api():
    shell = InteractiveShell.instance()
    shell.register_magics(HpoMagics(shell))
    try:
        with capture_output():
            frame = shell.run_line_magic("hpo", "estimate --jobs 2 --trials 6 --parallel 2")
        assert list(frame.columns) == ["no warm pools", "pools per job", "pools across jobs"]
        assert list(frame.loc["trials started warm"]) == ["0/12", "8/12", "10/12"]
        with pytest.raises(UsageError, match="`trials` must be a positive integer"):
            shell.run_line_magic("hpo", "estimate --trials -3")
    finally:
        shell.reset(new_session=False)
    assert api.estimate(jobs=1, trials=4, parallel=2)["arms"]["job"]["warm_starts"] == 2


def test_billing_starts_before_the_image_pull_so_each_cold_start_pays_for_it():
    r = estimate(jobs=1, trials=6, parallel=2, training_cv=0, image_pull_s=60)
    none, job = r["arms"]["none"], r["arms"]["job"]
    assert (none["warm_starts"], job["warm_starts"]) == (0, 4)
    assert none["billable_s"] - job["billable_s"] == pytest.approx(4 * 60, abs=4)  # one-second rounding per trial


def test_the_image_pull_decides_whether_warm_pools_also_save_money():
    pulled = estimate(jobs=2, trials=10, parallel=2, image_pull_s=60)["arms"]
    free = estimate(jobs=2, trials=10, parallel=2, image_pull_s=0)["arms"]
    assert pulled["job"]["cost_usd"] < pulled["none"]["cost_usd"]  # every cold start pays for its image pull
    assert free["none"]["cost_usd"] < free["job"]["cost_usd"]  # no pull to save: the idle time is what is left


def test_amt_with_its_own_instance_reuse_against_without():
    r = estimate(jobs=2, trials=10, parallel=5, backend="amt")
    cold, reuse = r["arms"]["amt-cold"], r["arms"]["amt"]
    assert cold["warm_starts"] == 0 and reuse["warm_starts"] == 2 * (10 - 5)  # each tuning job's second wave
    assert reuse["warm_starts_across_jobs"] == 0 and reuse["retained_s"] == 0  # nothing kept across tuning jobs
    assert r["speedup"]["amt"] > 1.4 and reuse["iteration_s"]["warm"] < reuse["iteration_s"]["cold"] / 2
    assert cold["trials"] == reuse["trials"] == 20 and cold["failed_trials"] == 0
    with pytest.raises(SpecError, match="`proposal_s` does not apply to the amt backend"):
        CampaignInputs(backend="amt", proposal_s=3)
    with pytest.raises(SpecError, match="`backend` must be one of sagemaker, amt"):
        CampaignInputs(backend="local")
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--backend", "amt", "--jobs", "1",
                          "--trials", "4", "--parallel", "2"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "AMT reusing its instances" in out.stdout and "pools per job" not in out.stdout


def test_the_motivating_campaign_on_amt_reuses_each_tuning_jobs_instances():
    r = estimate(jobs=8, trials=40, parallel=5, backend="amt")
    assert r["arms"]["amt"]["warm_starts"] == 8 * (40 - 5) and 2.4 <= r["speedup"]["amt"] <= 3.2
    # the README's figures for it, exactly (the same seed gives the same figures)
    cold, warm = (r["arms"][a]["wall_s"] / 3600 for a in ("amt-cold", "amt"))
    said = (f"{cold:.2f} h without reuse, {warm:.2f} h with it ({r['speedup']['amt']:.2f}×,\n"
            f"{r['arms']['amt']['warm_starts']}/{r['arms']['amt']['trials']} trials warm")
    assert said in (REPO / "README.md").read_text(encoding="utf-8")


def test_a_spec_gives_budget_backend_and_instances_and_a_measured_trial_gives_the_training_time():
    sagemaker = REPO / "examples" / "credit_default" / "sagemaker.yaml"
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(sagemaker), "--jobs", "1",
                          "--training-s", "30", "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    i = json.loads(out.stdout)["inputs"]
    assert (i["trials"], i["parallel"], i["backend"], i["instance_type"], i["keep_alive_s"], i["training_s"]) == (
        24, 2, "sagemaker", "ml.m5.xlarge", 600, 30.0)
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(sagemaker), "--jobs", "1",
                          "--parallel", "3", "--backend", "amt", "--json"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    i = json.loads(out.stdout)["inputs"]
    assert (i["parallel"], i["backend"]) == (3, "amt")  # options given win over the spec
    # the local example, timed by running one of its trials (XGBoost, 5-fold CV) on the local backend
    local = REPO / "examples" / "credit_default" / "tuning.yaml"
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(local), "--measure", "--jobs", "1"],
                         cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "300"})
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())  # the console may wrap the line
    found = re.search(r"24 trials, 2 at once, backend sagemaker, 1 x ml\.m5\.xlarge; training ([0-9.]+) s per "
                      r"trial \(measured: one trial on the local backend\)", text)
    assert found and 0.1 < float(found.group(1)) < 300, text[-600:]
    bad = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--measure"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "`--measure` times one trial of a SPEC" in bad.stderr


def test_amt_counts_every_trial_of_a_tuning_job_of_more_than_100():
    # AMT lists a tuning job's training jobs 100 at a time; all 110 are billed and counted
    r = estimate(jobs=1, trials=110, parallel=10, training_cv=0, backend="amt")
    for arm in r["arms"].values():
        assert arm["trials"] == 110 and arm["failed_trials"] == 0
    assert r["arms"]["amt"]["warm_starts"] == 110 - 10
    rows = {row[0]: row[1:] for row in format_estimate(r)}
    assert rows["trials started warm"] == ("0/110", "100/110")


def test_the_same_seed_gives_the_same_estimate_run_after_run():
    # training-job names end in a random suffix; the simulated trials' draws must not depend on it
    runs = [subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--jobs", "2", "--trials", "6",
                            "--parallel", "2", "--seed", "7", "--json"], cwd=REPO, capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert estimate(jobs=1, trials=4, parallel=2, seed=3) == estimate(jobs=1, trials=4, parallel=2, seed=3)
    from jupyter_hpo.sagemaker.requests import seeded_names, training_job_name

    assert training_job_name("credit", 1) != training_job_name("credit", 1)  # a real launch's stay unique
    with seeded_names(7):
        seeded = training_job_name("credit", 1)
    with seeded_names(7):
        assert training_job_name("credit", 1) == seeded and seeded.startswith("credit-00001-")


@pytest.mark.parametrize("pools", [{"keep_alive_s": 0}, {"warm_pool": {"enabled": False}}])
def test_a_spec_without_warm_pools_is_estimated_without_them(tmp_path, pools):
    import yaml

    (tmp_path / "train.py").write_text("print('objective=1')\n")
    options = {"role": "arn:aws:iam::123456789012:role/R", "s3_prefix": "s3://bkt/p", "instance_type": "ml.m5.2xlarge",
               "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"}
    spec = {"name": "k0", "trial": {"script": "train.py"}, "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
            "budget": {"max_trials": 4, "max_parallel": 2}, "warm_pool": pools.get("warm_pool", {"enabled": True}),
            "backend": {"name": "sagemaker", "options": {**options, **{k: v for k, v in pools.items()
                                                                      if k == "keep_alive_s"}}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(tmp_path / "spec.yaml"), "--jobs",
                          "1", "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["inputs"]["keep_alive_s"] == 0 and list(r["arms"]) == ["none"]  # as the spec runs: every trial cold
    assert r["arms"]["none"]["warm_starts"] == 0
    assert any("no warm pools" in n and "--keep-alive-s" in n for n in r["arms"]["none"]["notes"])
    assert list(estimate(jobs=1, trials=2, parallel=1, keep_alive_s=0)["arms"]) == ["none"]  # --keep-alive-s 0
    # a spot spec (which cannot use warm pools) is refused: spot prices and interruptions are not modelled
    spec["backend"]["options"] = {**options, "keep_alive_s": 0, "spot": True}
    (tmp_path / "spot.yaml").write_text(yaml.safe_dump(spec))
    bad = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(tmp_path / "spot.yaml")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "`backend.options.spot: true`" in bad.stderr and "not modelled" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not bad.stdout


def test_what_a_spec_sets_that_the_estimate_does_not_model_is_said(tmp_path):
    """A spec's `budget.max_runtime`, `completion` and early stopping were dropped without a word: a spec with
    `max_runtime: 600` was estimated at the same 1.5 h per job as without. Each is now a note beside the figures,
    which stay those of every trial run in full (an upper bound), in the table, the JSON and `%hpo estimate`."""
    import yaml

    spec = yaml.safe_load((REPO / "examples" / "credit_default" / "sagemaker.yaml").read_text())
    spec["trial"]["script"] = str(REPO / "examples" / "credit_default" / "train.py")
    plain = {**spec, "early_stopping": "off"}
    bounded = {**spec, "budget": {**spec["budget"], "max_runtime": 600}, "completion": {"patience": 8}}
    runs = {}
    for name, body in (("plain", plain), ("bounded", bounded)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(body))
        out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(tmp_path / f"{name}.yaml"),
                              "--jobs", "1", "--training-s", "300", "--json"], cwd=REPO, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        runs[name] = json.loads(out.stdout)
    assert runs["plain"]["notes"] == []
    notes = runs["bounded"]["notes"]
    assert len(notes) == 3, notes
    assert "`budget.max_runtime` (600 s) is not modelled" in notes[0] and "stops at 600 s" in notes[0]
    assert "`completion` (patience 8) is not modelled" in notes[1]
    assert "early stopping (kfold) is not modelled" in notes[2]
    # the figures are those of every trial in full (a job of 24 trials of 300 s, 2 at once, runs past 600 s)
    assert runs["bounded"]["arms"]["none"]["wall_s"] == runs["plain"]["arms"]["none"]["wall_s"] > 3600
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(tmp_path / "bounded.yaml"),
                          "--jobs", "1", "--training-s", "300"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "COLUMNS": "300"})
    text = " ".join(out.stdout.split())
    assert out.returncode == 0 and "note: the spec's `budget.max_runtime` (600 s) is not modelled" in text, text
    shell = InteractiveShell.instance()
    shell.register_magics(HpoMagics(shell))
    try:
        with capture_output() as shown:
            frame = shell.run_line_magic("hpo", f"estimate {tmp_path / 'bounded.yaml'} --jobs 1 --training-s 300")
        assert "note: the spec's `completion` (patience 8) is not modelled" in shown.stdout
        assert list(frame.columns) == ["no warm pools", "pools per job", "pools across jobs"]
    finally:
        shell.reset(new_session=False)


def test_measuring_a_trial_leaves_no_runner_and_nothing_in_the_home(home, tmp_path):
    """`estimate SPEC --measure` of a spec with `warm_pool.keep_alive_s` left its measuring runner and worker
    alive for the keep-alive, serving the deleted throwaway store, and the job's folder in the user's home."""
    import psutil

    (tmp_path / "ok.py").write_text("print('score=0.5')\n")
    (tmp_path / "est.yaml").write_text(
        "name: est-kept\nobjective: {metric: score, direction: minimize}\ntrial: {script: ok.py, timeout: 60}\n"
        "space: {x: {type: float, low: 0, high: 1}}\nbudget: {max_trials: 4, max_parallel: 2}\n"
        "backend: {name: sagemaker, options: {instance_type: ml.m5.large, role: 'arn:aws:iam::123456789012:role/x'}}\n"
        "warm_pool: {keep_alive_s: 90}\n")
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", str(tmp_path / "est.yaml"),
                          "--measure", "--jobs", "1", "--trials", "4", "--json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["inputs"]["training_s"] > 0

    def runners() -> list:
        found = []
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if "jupyter_hpo.runner" in cmd and "est-kept-measure" in cmd:
                found.append(p)
        return found

    left = runners()
    for p in left:  # cleaned up before the assertion, which names them
        p.kill()
    assert left == [], "the measuring runner outlived the command"
    assert not (home / "jobs").exists() or not any((home / "jobs").iterdir()), list((home / "jobs").iterdir())
    assert not (home / "runners").exists() or not any((home / "runners").iterdir())


@pytest.mark.parametrize("backend", ["sagemaker", "amt"])
def test_trials_longer_than_an_hour_are_estimated_not_failed(backend):
    """The simulated training jobs kept the default `max_run_s` of 3600 s: with `--training-s 7000` every trial
    was stopped there and counted failed (320 of 320), though the inputs allow 28 days."""
    r = estimate(jobs=1, trials=4, parallel=2, training_s=7000, training_cv=0, backend=backend)
    for name, arm in r["arms"].items():
        assert arm["failed_trials"] == 0 and arm["trials"] == 4, (name, arm)
        assert arm["billable_s"] >= 4 * 7000, (name, arm["billable_s"])
