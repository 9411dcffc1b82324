"""The soak benchmark's short variant: 300 short trials on 2 workers, watched by a dashboard and the REST API.

Only what must hold on any machine is asserted: every trial accounted for, none failed, the dashboard sent
every row, and the REST API answered every request with 200. Timing and memory figures are the
benchmark's to report (benchmarks/soak.py, benchmarks/README.md), not this test's to judge.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

TRIALS = 300


def test_a_soak_of_short_trials_loses_nothing_and_every_view_sees_every_trial(tmp_path: Path):
    out = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_HPO_HOME", "JUPYTER_HPO_STORE_URL")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--trials", str(TRIALS), "--parallel", "2",
         "--timeout", "150", "--json-out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert out.exists(), f"no JSON written (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(out.read_text())
    checks = result["checks"]

    assert checks["trials"] == TRIALS and checks["states"] == {"complete": TRIALS}, checks
    assert checks["all_trials_accounted"] and checks["none_failed"] and checks["job_completed"], checks
    assert checks["dashboard_showed_every_row"] and checks["dashboard_final_rows_complete"], checks
    assert checks["rest_all_200"] and checks["sidebar_held_every_trial"], checks["non_200"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the benchmark watched what it reports on: the runner, both workers, and both REST routes
    assert len(result["memory"]["workers"]) == 2 and result["memory"]["runner"]["samples"] > 0
    assert {q["route"] for q in result["raw"]["requests"]} == {"jobs", "trials"}
