"""The notebook's campaign view (jupyter_hpo/widgets/_campaign.py) on a real campaign: its summary and its jobs'
curves, followed while the campaign runs; the dashboard's rows name the job a handed-over worker came from;
``%hpo compare --campaign``; the campaign summary's cost."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from jupyter_hpo.campaign import attach_campaign, campaign
from jupyter_hpo.exceptions import JobNotFoundError
from jupyter_hpo.widgets import CampaignView
from jupyter_hpo.widgets._dashboard import compact_row
from tests.conftest import wait_for
from tests.test_campaign import write_specs
from tests.test_magics import hpo, shell, widget_views  # noqa: F401 (shell: a fixture)


def test_the_view_follows_the_campaign_to_its_end(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = campaign(write_specs(tmp_path, ["view-a", "view-b"], trials=4, sleep=0.3), name="view")
    view = CampaignView("view", interval=0.2)
    assert view.mode == "campaign" and [j["name"] for j in view.jobs] == ["view-a", "view-b"]
    assert view.campaign["name"] == "view" and view.campaign["status"] == "running"
    wait_for(lambda: view.campaign["status"] == "completed", timeout=120)
    summary = c.summary()
    assert view.campaign == json.loads(json.dumps(summary, allow_nan=False))  # strict JSON, what the front end gets
    assert summary["trials"] == 8 and summary["cost_usd"] is None  # local jobs: no cost
    assert summary["best"]["job"] in ("view-a", "view-b") and summary["metric"] == "objective"
    assert all(j["curve"] for j in view.jobs), "every job's best-so-far curve, after the campaign ended"

    # the second job's warm trials ran on the first job's workers: its dashboard rows say so
    second = c.jobs[1]
    rows = [compact_row(r) for r in second.trial_records()]
    assert [r["reused_from"] for r in rows if r["warm"]] and all(
        r["reused_from"] == "view-a" for r in rows if r["reused_from"] is not None)
    assert all(r["reused_from"] is None for r in (compact_row(x) for x in c.jobs[0].trial_records()))


def test_a_missing_campaign_or_a_bad_interval_is_refused(home):
    with pytest.raises(JobNotFoundError, match="no campaign named 'nope'"):
        CampaignView("nope")
    with pytest.raises(ValueError, match="`interval` must be a positive number of seconds, but got 0"):
        CampaignView("nope", interval=0)


def test_compare_magic_takes_a_campaign(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    campaign(write_specs(tmp_path, ["cmp-a", "cmp-b"], trials=2), name="cmp").wait(timeout=120)
    frame, captured = hpo(shell, "compare --campaign cmp")
    assert list(frame.index) == ["cmp-a", "cmp-b"] and list(frame["trials"]) == [2, 2]
    assert len(widget_views(captured)) == 1, "the campaign's view"
    with pytest.raises(UsageError, match=r"takes no job names \(it compares the campaign's jobs\), but got cmp-a"):
        hpo(shell, "compare cmp-a --campaign cmp")
    with pytest.raises(UsageError, match=r"needs job names \(JOB1 JOB2 \.\.\.\) or --campaign NAME"):
        hpo(shell, "compare")
    with pytest.raises(UsageError, match="no campaign named 'other'"):
        hpo(shell, "compare --campaign other")
    assert attach_campaign("cmp").summary()["status"] == "completed"
