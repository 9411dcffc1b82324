"""Parameter importance outside the dashboard: ``jupyter hpo show`` (text and ``--json``) and the REST job detail
give what ``jupyter_hpo.analytics.importance`` finds on the same job (the dashboard's rule), or say "not yet"."""

from __future__ import annotations

import json

import pytest
import yaml

from jupyter_hpo import api
from jupyter_hpo.analytics import importance
from jupyter_hpo.store import JobStatus
from jupyter_hpo.widgets import Dashboard
from jupyter_hpo.widgets._dashboard import compact_row
from tests.test_cli import hpo
from tests.test_importance import SPACE, cv_objective
from tests.test_records import OPENAPI, _ts_fields

KFOLD_SPACE = {"x": SPACE["x"], "noise": SPACE["noise"]}



@pytest.fixture
def kfold_job(home):
    """A finished k-fold job on the local backend (real workers) whose pruned trials reported some folds."""
    job = api.launch(objective=cv_objective, space=KFOLD_SPACE, strategy="random", seed=3, early_stopping="kfold",
                     max_trials=12, max_parallel=1, name="shown-importance")
    assert job.wait(timeout=180) == JobStatus.COMPLETED
    summary = job.summary()
    assert summary["complete"] + summary["pruned"] >= 5 and summary["pruned"] > 0, summary
    return job


def expected(job: api.Job, steps_are_folds: bool = True):
    """What analytics.importance finds on the job's rows, as the dashboard reads them (``steps_are_folds``: the job
    has ``early_stopping: kfold``)."""
    return importance([compact_row(r) for r in job.trial_records()], job.space.to_dict(),
                      steps_are_folds=steps_are_folds)


def test_show_and_show_json_give_each_share_largest_first_and_the_note(home, kfold_job):
    found = expected(kfold_job)
    assert found.shares and next(iter(found.shares)) == "x" and found.pruned > 0, found
    dash = Dashboard(kfold_job)
    assert (dash.importance, dash.importance_note) == (found.shares, found.note), "the dashboard shows the same"
    out = hpo(home, "show", "shown-importance")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = lines.index("importance:")
    shown = [line.split() for line in lines[at + 1:at + 1 + len(found.shares)]]
    assert shown == [[name, f"{share * 100:.1f}%"] for name, share in found.shares.items()]
    assert lines[at + 1 + len(found.shares)].strip() == found.note
    assert "pruned trials, each scored by its mean over its first" in found.note
    out = hpo(home, "show", "shown-importance", "--json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)["importance"]
    assert shown == {"shares": found.shares, "note": found.note}
    assert list(shown["shares"]) == sorted(shown["shares"], key=lambda k: -shown["shares"][k]), "largest first"


def test_a_3_trial_job_says_not_yet(home):
    job = api.launch(objective=cv_objective, space=KFOLD_SPACE, strategy="random", seed=1, max_trials=3,
                     name="too-few")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    assert expected(job, steps_are_folds=False).shares == {}
    out = hpo(home, "show", "too-few")
    assert out.returncode == 0, out.stderr
    assert "importance: not yet (needs 5 trials with a value or fold scores; 3 so far)" in out.stdout.splitlines()
    out = hpo(home, "show", "too-few", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["importance"] is None


# -- the REST job detail: GET jobs/{name} ----------------------------------------------------------------
@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


def get_job_schema() -> dict:
    """The 200 answer of getJob in openapi.yaml."""
    doc = yaml.safe_load(OPENAPI.read_text())["paths"]["/jobs/{name}"]["get"]
    return doc["responses"]["200"]["content"]["application/json"]["schema"]


def test_openapi_and_types_ts_describe_the_job_detail_s_importance():
    reply = get_job_schema()
    assert sorted(_ts_fields("IJobReply")) == sorted(reply["properties"])
    importance_doc = reply["properties"]["importance"]
    assert importance_doc["type"] == ["object", "null"]
    assert sorted(_ts_fields("IImportance")) == sorted(importance_doc["properties"]) == ["note", "shares"]


async def job_detail(jp_fetch, name: str) -> dict:
    response = await jp_fetch("jupyter-hpo", "api", "jobs", name)
    assert response.code == 200
    return json.loads(response.body)


async def test_the_rest_job_detail_carries_the_same_importance_as_show(jp_fetch, home, kfold_job):
    found = expected(kfold_job)
    detail = await job_detail(jp_fetch, "shown-importance")
    assert detail["importance"] == {"shares": found.shares, "note": found.note}
    reply = get_job_schema()
    assert sorted(detail) == sorted(reply["properties"]) == sorted(reply["required"])
    assert sorted(detail["importance"]) == sorted(reply["properties"]["importance"]["required"])
    out = hpo(home, "show", "shown-importance", "--json")
    assert json.loads(out.stdout)["importance"] == detail["importance"]


async def test_the_rest_job_detail_of_a_3_trial_job_has_no_importance_yet(jp_fetch, home):
    job = api.launch(objective=cv_objective, space=KFOLD_SPACE, strategy="random", seed=1, max_trials=3,
                     name="too-few-rest")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    detail = await job_detail(jp_fetch, "too-few-rest")
    assert detail["importance"] is None and detail["job"]["complete"] == 3


async def test_a_job_asked_again_with_no_new_trial_is_not_read_again(jp_fetch, home, kfold_job, monkeypatch):
    # the importance of a job whose finished trials have not changed is kept: a 10,000-trial job takes about a
    # second to read whole, and the sidebar asks again on every change it sees
    first = await job_detail(jp_fetch, "shown-importance")
    reads = []
    real = api.Job.trial_records
    # only reads of this job's store count: a dashboard thread another test left in this process reads its own
    monkeypatch.setattr(api.Job, "trial_records", lambda self, *a, **k: (
        reads.append(self.name) if self.store.url == kfold_job.store.url else None) or real(self, *a, **k))
    again = await job_detail(jp_fetch, "shown-importance")
    assert again["importance"] == first["importance"] and reads == []
