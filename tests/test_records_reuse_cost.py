"""What a user sees of three record fields, through every front door that shows them: a trial's ``reused_from``
(a campaign's job run on the workers handed over by the job before it), a job's cost (``jupyter hpo list`` and
``show``) and the campaign a job belongs to (the REST job summary)."""

from __future__ import annotations

import json
import textwrap

import pytest

from jupyter_hpo.campaign import campaign
from tests.test_cli import hpo
from tests.test_server import get

FUNCTION = """
def f(p):
    return -(p["x"] - 0.3) ** 2
"""


@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


def _spec(folder, name: str) -> str:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""
        name: {name}
        trial: {{function: "reuseobj.py:f"}}
        objective: {{metric: value}}
        space: {{x: {{type: float, low: 0, high: 1}}}}
        budget: {{max_trials: 3, max_parallel: 1}}
    """))
    return str(path)


async def test_a_campaigns_second_job_shows_the_job_its_workers_came_from(jp_fetch, home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reuseobj.py").write_text(FUNCTION)
    c = campaign([_spec(tmp_path, "job-a"), _spec(tmp_path, "job-b")], name="reuse")
    assert c.wait(timeout=120) == "completed"
    shown = {name: json.loads(hpo(home, "show", name, "--json").stdout)["trials"] for name in ("job-a", "job-b")}
    assert [t["reused_from"] for t in shown["job-a"]] == [None] * 3
    assert [t["reused_from"] for t in shown["job-b"]] == ["job-a"] * 3
    assert all(t["warm"] for t in shown["job-b"])
    served = {name: (await get(jp_fetch, "jobs", name, "trials"))["trials"] for name in ("job-a", "job-b")}
    assert [t["reused_from"] for t in served["job-a"]] == [None] * 3
    assert [t["reused_from"] for t in served["job-b"]] == ["job-a"] * 3
    table = hpo(home, "show", "job-b").stdout
    assert table.count("warm (from job-a)") == 3
    assert "(from" not in hpo(home, "show", "job-a").stdout


def _row(table: str, job: str) -> list[str]:
    """The cells of ``job``'s row in a ``jupyter hpo list`` table."""
    [line] = [line for line in table.splitlines() if line.startswith("│") and line.split("│")[1].strip() == job]
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_list_and_show_print_a_sagemaker_jobs_cost_and_a_dash_for_a_local_job(home, tmp_path):
    from types import SimpleNamespace as NS

    from jupyter_hpo import api
    from jupyter_hpo.store import JobStatus
    from tests import objectives

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('auc=0.5')\n")
    trainer = NS(  # the attributes of a SageMaker SDK v3 ModelTrainer that jupyter-hpo reads
        training_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        role="arn:aws:iam::123456789012:role/SageMakerRole", hyperparameters={},
        compute=NS(instance_type="ml.m5.xlarge", instance_count=1, volume_size_in_gb=30,
                   keep_alive_period_in_seconds=600),
        source_code=NS(source_dir=str(tmp_path / "code"), entry_script="train.py"),
        output_data_config=NS(s3_output_path="s3://credit-bucket/models"),
    )
    cloud = api.launch(model_trainer=trainer, space={"eta": {"type": "float", "low": 0.01, "high": 0.3}},
                       metric="auc", max_trials=2, max_parallel=1, name="priced",
                       backend_options={"s3_prefix": "s3://credit-bucket/hpo", "poll_s": 5,
                                        "simulate": {"speed": 500, "executor": "model", "training_s": 30}})
    local = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                       max_trials=2, name="free")
    assert cloud.wait(timeout=120) == JobStatus.COMPLETED, cloud.attrs.get("reason")
    assert local.wait(timeout=60) == JobStatus.COMPLETED
    cost = json.loads(hpo(home, "show", "priced", "--json").stdout)["job"]["cost_usd"]
    assert cost is not None and cost > 0
    assert json.loads(hpo(home, "show", "free", "--json").stdout)["job"]["cost_usd"] is None

    table = hpo(home, "list").stdout
    header = [cell.strip() for cell in next(line for line in table.splitlines() if "┃" in line).split("┃")[1:-1]]
    column = header.index("cost")
    assert _row(table, "priced")[column] == f"${cost:.4f}"
    assert _row(table, "free")[column] == "-"

    assert f"; cost ${cost:.4f}" in _summary(hpo(home, "show", "priced").stdout)
    assert "cost" not in _summary(hpo(home, "show", "free").stdout)


def _summary(shown: str) -> str:
    """The summary paragraph ``jupyter hpo show`` prints above its trial table, as one line."""
    return " ".join(shown.split("┏")[0].split())


async def test_the_rest_job_summary_names_a_jobs_campaign_and_its_place_in_it(jp_fetch, home, tmp_path, monkeypatch):
    from jupyter_hpo import api
    from tests import objectives

    monkeypatch.chdir(tmp_path)
    (tmp_path / "reuseobj.py").write_text(FUNCTION)
    plain = api.launch(objective=objectives.quadratic, space={"x": {"type": "float", "low": 0, "high": 1}},
                       max_trials=1, name="plain")
    c = campaign([_spec(tmp_path, "step-0"), _spec(tmp_path, "step-1")], name="grouped")
    assert c.wait(timeout=120) == "completed"
    plain.wait(timeout=60)
    listed = {j["name"]: j["campaign"] for j in (await get(jp_fetch, "jobs"))["jobs"]}
    assert listed == {"plain": None, "step-0": {"name": "grouped", "index": 0},
                      "step-1": {"name": "grouped", "index": 1}}
    for name, expected in listed.items():
        assert (await get(jp_fetch, "jobs", name))["job"]["campaign"] == expected
