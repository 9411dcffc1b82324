"""A campaign of sagemaker jobs on the simulated SageMaker: a real campaign runner process hands each job's
Available warm pools to the next job on the same instances, and releases what is left at its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_hpo.campaign import campaign
from jupyter_hpo.exceptions import SpecError

# speed 100: a pool kept 3600 simulated seconds waits 36 real seconds, so a loaded machine cannot make it expire
# between two trials (at speed 500 a keep-alive of 600 s was 1.2 real seconds)
SIMULATE = {"speed": 100, "executor": "model", "training_s": 30, "cold_startup_s": 240, "warm_startup_s": 5}


def spec(folder: Path, name: str, **options) -> dict:
    (folder / "code").mkdir(exist_ok=True)
    (folder / "code" / "train.py").write_text("print('objective=0.5')\n")
    return {"name": name, "trial": {"script": str(folder / "code" / "train.py")},
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "budget": {"max_trials": 4, "max_parallel": 2},
            "backend": {"name": "sagemaker", "options": {
                "role": "arn:aws:iam::123456789012:role/SageMakerRole", "s3_prefix": "s3://bucket/hpo",
                "region": "us-east-1", "poll_s": 5, "keep_alive_s": 3600, "simulate": SIMULATE, **options}}}


def training_jobs(job) -> dict[int, dict]:
    return {t.number: t.user_attrs["sagemaker"] for t in job.raw_trials()}


def test_the_next_job_starts_warm_on_the_pools_the_first_left(home, tmp_path):
    c = campaign([spec(tmp_path, "sm-first"), spec(tmp_path, "sm-second")], name="sm-campaign")
    c.wait(timeout=180)
    first, second = c.jobs
    assert [j.status.value for j in (first, second)] == ["completed", "completed"]
    first_jobs = {a["training_job"] for a in training_jobs(first).values()}
    # the second job's first wave lands on the first job's pools: warm, and which pool it took is recorded
    second_attrs = training_jobs(second)
    assert all(second_attrs[n].get("reused_pool_of") in first_jobs for n in (0, 1)), second_attrs
    assert [r["warm"] for r in second.trial_records()] == [True] * 4, second_attrs
    # all warm, so its start-up saved counts against the first job's cold start (it was missing: `show` and `list`
    # said nothing of the second job's warm starts, while the campaign counted them)
    cold = first.summary()["cold_startup_s"]
    warm = [r["startup_s"] for r in second.trial_records()]
    assert cold > 200 and second.summary()["cold_startup_s"] == pytest.approx(cold)
    assert second.summary()["startup_saved_s"] == pytest.approx(4 * cold - sum(warm)), second.summary()
    assert any("kept the warm pools of" in n for n in first.summary()["notes"]), first.summary()["notes"]
    assert first.attrs["backend_summary"]["pools_released"] == []  # handed on, not released
    # the last job's pools, kept for a next job, are released at the campaign's end: their idle time, which
    # SageMaker bills, is in that job's cost (it counted nowhere), and its notes say so
    import re

    from tests.conftest import wait_for

    def said() -> list[float]:  # written by the campaign's runner once it has released them, after the jobs end
        found = [re.search(r"were released when the campaign ended, after ([0-9.]+) s idle", n)
                 for n in second.summary()["notes"]]
        return [float(m.group(1)) for m in found if m]

    assert wait_for(said, timeout=30), second.summary()["notes"]
    [released_idle], idle = said(), second.attrs["backend_summary"]
    assert 0 < released_idle <= idle["retained_billable_s"] and idle["warm_pool_cost_usd"] > 0, idle
    # the campaign's cost is its jobs' (training plus idle pools), as `jupyter hpo campaign show` prints it
    costs = [first.summary()["cost_usd"], second.summary()["cost_usd"]]
    summary = c.summary()
    assert all(cost > 0 for cost in costs) and summary["cost_usd"] == pytest.approx(sum(costs))
    assert [j["cost_usd"] for j in summary["jobs"]] == pytest.approx(costs)
    from jupyter_hpo._campaign_cli import summary_text

    assert f"cost ${summary['cost_usd']:.2f} (SageMaker training and idle warm pools)" in summary_text(summary)


def test_pools_that_ended_unused_before_the_next_job_are_said_so_and_their_idle_time_is_counted(home, tmp_path):
    """A local job between two sagemaker jobs outlasted the first one's keep-alive: the third job's note said it
    "took over" pools that had ended, its first trials started cold, and the idle time SageMaker billed for those
    pools counted in no job's cost."""
    (tmp_path / "slow.py").write_text("import time\ndef f(p):\n    time.sleep(1.5)\n    return p['x']\n")
    local = {"name": "gap-local", "trial": {"function": f"{tmp_path / 'slow.py'}:f"},
             "space": {"x": {"type": "float", "low": 0, "high": 1}}, "budget": {"max_trials": 2, "max_parallel": 1}}
    # keep-alive 60 simulated s: 0.6 real s at speed 100, so the pools end during the local job's 3 s
    c = campaign([spec(tmp_path, "gap-a", keep_alive_s=60), local, spec(tmp_path, "gap-c", keep_alive_s=60)],
                 name="sm-gap")
    assert c.wait(timeout=180) == "completed"
    first, _, third = c.jobs
    left = {a["training_job"] for a in training_jobs(first).values()}
    notes = " ".join(third.summary()["notes"])
    assert "had ended unused before this job started" in notes and "took over" not in notes, notes
    ended = [job for job in left if job in notes]
    assert ended, notes
    assert [r["warm"] for r in third.trial_records()][:2] == [False, False]
    # each ended pool idled its keep-alive, billed by SageMaker: in the third job's idle seconds and cost
    summary = third.attrs["backend_summary"]
    assert summary["retained_billable_s"] >= 60 * len(ended), summary
    assert summary["warm_pool_cost_usd"] > 0


def test_a_handed_over_pool_no_trial_took_is_handed_on_or_released_and_its_idle_time_counted(home, tmp_path):
    """The second job (one trial) took one of the first job's two pools; the other was neither handed on nor
    released: it idled to the end of its keep-alive, an hour of instance billed to no job."""
    import re

    from tests.conftest import wait_for

    one = spec(tmp_path, "left-b")
    one["budget"] = {"max_trials": 1, "max_parallel": 1}
    c = campaign([spec(tmp_path, "left-a"), one], name="sm-left")
    assert c.wait(timeout=180) == "completed"
    first, second = c.jobs
    left = {a["training_job"] for a in training_jobs(first).values()} & set(
        re.findall(r"left-a-\d+-\w+", " ".join(first.summary()["notes"])))
    assert len(left) == 2, first.summary()["notes"]
    [took] = [a["reused_pool_of"] for a in training_jobs(second).values()]
    untouched = left - {took}
    kept = [n for n in second.summary()["notes"] if n.startswith("kept the warm pools of")]
    assert kept and all(job in kept[0] for job in untouched), second.summary()["notes"]  # handed on with its own
    # then released at the campaign's end: its idle time and the second job's own pool's, in the second job's cost
    assert wait_for(lambda: any("were released when the campaign ended" in n for n in second.summary()["notes"]),
                    timeout=30), second.summary()["notes"]


def test_pools_go_only_to_a_job_on_the_same_instances(home, tmp_path):
    c = campaign([spec(tmp_path, "sm-a"), spec(tmp_path, "sm-b", instance_type="ml.c5.xlarge")], name="sm-mixed")
    c.wait(timeout=180)
    _, b = c.jobs
    assert [r["warm"] for r in b.trial_records()][:2] == [False, False]  # another instance type: cold


def test_amt_jobs_are_refused_in_a_campaign(home, tmp_path):
    amt = spec(tmp_path, "sm-amt")
    amt["backend"]["name"] = "amt"
    with pytest.raises(SpecError, match="campaigns run on the local and sagemaker backends"):
        campaign([spec(tmp_path, "sm-ok"), amt])


def test_what_is_left_when_the_campaign_ends_is_released():
    from jupyter_hpo.sagemaker.clients import simulated_clients
    from jupyter_hpo.sagemaker.handover import Handover
    from tests.test_sim import job_request

    clients = simulated_clients({"executor": "model"}, virtual=True)
    clients.sagemaker.create_training_job(**job_request("left-1"))
    clients.clock.sleep(400)
    assert [p["status"] for p in clients.sim.warm_pools()] == ["Available"]
    handover = Handover()
    handover.leave("key", ["left-1"], clients, owns_clients=False, by="job-a")
    assert handover.release_all() == ["left-1"]
    clients.clock.sleep(1)
    assert clients.sagemaker.describe_training_job(TrainingJobName="left-1")["WarmPoolStatus"]["Status"] == "Terminated"
    assert handover.take("key") == ([], None, False, None)  # nothing left to take
    clients.sim.close()


def test_a_campaign_keep_alive_of_0_hands_no_pool_on(home, tmp_path):
    """`campaign(..., keep_alive_s=0)` ("0: every job starts its own pool") was taken for local workers only: a
    sagemaker job still handed its pools to the next, whose trials started warm on them. Now each job releases its
    own at its end, and the next starts cold."""
    c = campaign([spec(tmp_path, "sm-own-a"), spec(tmp_path, "sm-own-b")], name="sm-own", keep_alive_s=0)
    c.wait(timeout=180)
    first, second = c.jobs
    assert [j.status.value for j in (first, second)] == ["completed", "completed"]
    assert not any("kept the warm pools of" in n for n in first.summary()["notes"]), first.summary()["notes"]
    first_jobs = {a["training_job"] for a in training_jobs(first).values()}
    released = first.attrs["backend_summary"]["pools_released"]  # at its end, by the job itself
    assert released and set(released) <= first_jobs, first.attrs["backend_summary"]
    second_attrs = training_jobs(second)  # its later trials reuse its own pools, none the first job's
    assert not any(a.get("reused_pool_of") in first_jobs for a in second_attrs.values()), second_attrs
    assert [r["warm"] for r in second.trial_records()][:2] == [False, False]  # its first wave: new instances
