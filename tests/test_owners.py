"""Owners (jupyter_hpo/owners.py) in the job records every front door serves: ``jupyter hpo list --json`` and
``show --json`` carry who launched a job and who last stopped or resumed it; the requester rule of the REST API."""

from __future__ import annotations

import json
import socket

from jupyter_hpo import api, cli
from jupyter_hpo.owners import identity, owner_name, requester
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import wait_for

X = {"x": {"type": "float", "low": 0, "high": 1}}


def test_cli_json_list_and_show_carry_the_owner_and_who_stopped_and_resumed(home, capsys, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    job = api.launch(objective=objectives.sleepy, space=X, hyperparameters={"sleep": 0.3}, max_trials=60,
                     name="json-owned")
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    assert cli.main(["stop", "json-owned", "--force"]) == 0
    capsys.readouterr()

    assert cli.main(["list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["owner"] == {"user": identity()["user"], "host": socket.gethostname(), "jupyter": "alice",
                               "studio": None, "name": "alice"}
    assert listed["stopped_by"]["name"] == "bob" and listed["stopped_by"]["via"] is None
    assert listed["resumed_by"] is None

    assert cli.main(["resume", "json-owned", "--detach", "--force"]) == 0
    capsys.readouterr()
    assert cli.main(["show", "json-owned", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["job"]
    assert shown["owner"]["name"] == "alice" and shown["resumed_by"]["jupyter"] == "bob"
    assert shown["resumed_by"]["time"] >= shown["stopped_by"]["time"]
    wait_for(lambda: job.status == JobStatus.RUNNING, timeout=30)
    job.stop(timeout=30)


def test_the_requester_is_the_servers_user_or_on_a_hub_the_user_who_sent_the_request(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    me = requester("6f1c0ffee")  # a single-user server: its token names nobody, the OS user runs it
    assert me == identity() and owner_name(me) == identity()["user"]
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")  # alice's server on a Hub, shared with bob
    assert requester("bob")["jupyter"] == "bob" and owner_name(requester("bob")) == "bob"
    assert requester(None)["jupyter"] == "alice"
