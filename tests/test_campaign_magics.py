"""``%hpo campaign`` in a real kernel (nbclient): a campaign launched from a notebook shows each job's live
dashboard, returns at once, and ``show``/``stop``/``resume`` act on the whole campaign; bad input is a short
usage error."""

from __future__ import annotations

import json

from nbformat.v4 import new_code_cell, new_notebook

from jupyter_hpo import api
from tests.test_campaign import write_specs
from tests.test_notebook import client_for, printed, widget_views


def test_campaign_magic_in_a_real_kernel(home, tmp_path):
    write_specs(tmp_path, ["nb1", "nb2", "nb3"], trials=3)
    nb = new_notebook(cells=[
        new_code_cell("%load_ext jupyter_hpo\nc = %hpo campaign nb1.yaml nb2.yaml --name nbc\nprint(c.status)"),
        new_code_cell("import json\nc.wait(timeout=120)\nsummary = %hpo campaign show nbc\nprint(json.dumps(summary))"),
        new_code_cell("try:\n    %hpo campaign nb3.yaml missing.yaml\nexcept Exception as e:\n"
                      "    print(type(e).__name__, e)"),
        new_code_cell("try:\n    %hpo campaign show nbc --parallel-jobs 3\nexcept Exception as e:\n"
                      "    print(type(e).__name__, e)"),
    ])
    client_for(nb, tmp_path).execute()
    assert len(widget_views(nb.cells[0])) == 3, "the campaign's view, then one live dashboard per job"
    assert printed(nb.cells[0]).strip() in ("running", "completed")
    summary = json.loads(printed(nb.cells[1]).strip().splitlines()[-1])
    assert summary["name"] == "nbc" and summary["status"] == "completed"
    assert [j["name"] for j in summary["jobs"]] == ["nb1", "nb2"] and summary["trials"] == 6
    refused = printed(nb.cells[2]).strip()
    assert refused.startswith("UsageError campaign refused: missing.yaml: ") and len(refused.splitlines()) == 1
    assert printed(nb.cells[3]).strip() == ("UsageError %hpo campaign show takes no --parallel-jobs (set when a "
                                            "campaign is launched).")
    assert sorted(j["name"] for j in api.list_jobs()) == ["nb1", "nb2"], "the refused campaign created nothing"
