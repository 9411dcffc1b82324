"""``%hpo`` in a real kernel (nbclient): the example notebook end to end, and attaching after a restart."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_hpo import api
from tests.conftest import REPO, wait_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
EXAMPLE_NOTEBOOK = REPO / "examples" / "credit_default.ipynb"


def client_for(nb: nbformat.NotebookNode, folder: Path) -> NotebookClient:
    """A client whose kernel starts in ``folder`` and inherits this process's environment."""
    return NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}})


def cell_starting(nb: nbformat.NotebookNode, prefix: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(prefix)]
    return cell


def widget_views(cell: nbformat.NotebookNode) -> list[dict]:
    return [o["data"][WIDGET_VIEW] for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]


def result_text(cell: nbformat.NotebookNode) -> str:
    (result,) = [o for o in cell.outputs if o["output_type"] == "execute_result"]
    return result["data"]["text/plain"]


def printed(cell: nbformat.NotebookNode) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == "stdout")


def test_the_example_notebook_runs_top_to_bottom_on_a_tiny_budget(home, monkeypatch, tmp_path):
    monkeypatch.setenv("HPO_EXAMPLE_TRIALS", "4")
    nb = nbformat.read(EXAMPLE_NOTEBOOK, as_version=4)
    client_for(nb, EXAMPLE_NOTEBOOK.parent).execute()

    everything = api.list_jobs()
    jobs = {j["name"].rsplit("-", 2)[0]: j for j in everything if not j["name"].endswith("-refit")}
    assert set(jobs) == {"credit-tpe", "credit-random"}
    for job in jobs.values():
        assert job["status"] == "completed" and job["trials"] == 4 and job["complete"] >= 1
        assert job["warm_starts"] >= 1, "later trials reused a warm worker"

    launch = cell_starting(nb, "job1 = %hpo launch")
    (dashboard,) = widget_views(launch)
    best = ast.literal_eval(result_text(cell_starting(nb, "%hpo best job1")))
    assert best == jobs["credit-tpe"]["best"]
    assert set(best["params"]) == {"max_depth", "eta", "num_round", "min_child_weight", "subsample",
                                   "colsample_bytree", "reg_lambda"}
    assert 10 <= best["params"]["num_round"] <= 30, "the tiny budget also shrinks the models"
    assert 0.6 < best["value"] < 0.85, "a plausible cross-validated AUC on this data"
    # the refit: the best parameters once more on all the data; its model loads and scores its recorded AUC
    (refit,) = [j for j in everything if j["name"].endswith("-refit")]
    assert refit["name"] == jobs["credit-tpe"]["name"] + "-refit" and refit["complete"] == 1
    refit_best = ast.literal_eval(result_text(cell_starting(nb, "refit1 = %hpo refit job1")))
    assert refit_best == refit["best"] and refit_best["params"] == best["params"]
    auc = float(result_text(cell_starting(nb, "model = %hpo best job1 --load")))
    assert auc == pytest.approx(refit_best["value"], abs=1e-12)
    compare = cell_starting(nb, "%hpo compare job1 job2")
    assert len(widget_views(compare)) == 1 and "credit-random" in result_text(compare)

    saved = tmp_path / "executed.ipynb"
    nbformat.write(nb, saved)
    widgets = nbformat.read(saved, as_version=4).metadata.widgets
    assert dashboard["model_id"] in widgets[WIDGET_STATE]["state"], "the dashboard is saved with the notebook"
    assert len(json.dumps(widgets)) < 1_000_000


def test_attach_after_a_kernel_restart_shows_every_trial(home, tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("%load_ext jupyter_hpo\nimport time\n\n\ndef slow(params):\n"
                      "    time.sleep(0.4)\n    return params['x']"),
        new_code_cell("%%hpo space space\nx: {type: float, low: 0, high: 1}"),
        new_code_cell("job = %hpo launch slow --max-trials 8 --parallel 2 --name survivor\njob.status.value"),
        new_code_cell("%load_ext jupyter_hpo\nimport json\n\njob = %hpo attach survivor\njob.wait(timeout=120)\n"
                      "print(json.dumps({'fresh_kernel': 'slow' not in globals(), **job.summary()}))"),
    ])
    client = client_for(nb, tmp_path)
    with client.setup_kernel():
        for index in range(3):
            client.execute_cell(nb.cells[index], index)
        job = api.attach("survivor")
        assert job.status.is_active(), "the job was launched and the kernel is free"
        before = job.summary()["complete"]

        run_sync(client.km.restart_kernel)(now=True)
        client.kc.stop_channels()
        client.start_new_kernel_client()
        wait_for(lambda: job.summary()["complete"] > before, timeout=120)  # a trial finishes with no kernel watching
        client.execute_cell(nb.cells[3], 3)

    assert len(widget_views(nb.cells[3])) == 1, "attach shows the dashboard again"
    summary = json.loads(printed(nb.cells[3]).strip().splitlines()[-1])
    assert summary["fresh_kernel"] is True
    assert summary["name"] == "survivor" and summary["status"] == "completed"
    assert summary["trials"] == summary["complete"] == 8, "every trial, those finished while no kernel ran too"
