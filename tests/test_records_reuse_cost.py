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
