"""The campaign estimator: the real scheduler against the simulated SageMaker on a virtual clock."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupyter_hpo import api
from jupyter_hpo.estimate import CampaignInputs, estimate, format_estimate
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.magics import HpoMagics
from tests.conftest import REPO


def test_the_motivating_campaign_lands_near_the_reported_3x():
    # 8 tuning jobs x 40 trials x 5 parallel, ~1 min training, ~4 min cold start-up, a few seconds warm:
    # reported ~6 h without warm pools and ~2 h with them
    r = estimate(jobs=8, trials=40, parallel=5, training_s=60, cold_startup_s=240, warm_startup_s=5)
    cold, warm = r["cold"], r["warm"]
    assert 2.4 <= r["ratio"]["wall"] <= 3.6
    assert 5.0 * 3600 <= cold["wall_s"] <= 7.0 * 3600 and 1.5 * 3600 <= warm["wall_s"] <= 2.6 * 3600
    assert cold["trials"] == warm["trials"] == 320 and cold["failed_trials"] == warm["failed_trials"] == 0
    assert cold["warm_starts"] == 0
    assert warm["warm_starts"] == 8 * (40 - 5)  # every trial after each job's first five lands on a warm pool
    assert warm["mean_startup_s"] < cold["mean_startup_s"] / 4
    # warm pools bill their idle time, so the bill is a little higher, not lower
    assert cold["retained_s"] == 0 and warm["retained_s"] > 0
    assert warm["cost_usd"] > cold["cost_usd"] > 0
    rows = dict((row[0], row[1:]) for row in format_estimate(r))
    assert rows["trials started warm"] == ("0/320", "280/320")


def test_more_start_up_means_a_bigger_win():
    small = estimate(jobs=1, trials=10, parallel=2, training_s=60, cold_startup_s=60, warm_startup_s=5)
    large = estimate(jobs=1, trials=10, parallel=2, training_s=60, cold_startup_s=600, warm_startup_s=5)
    assert 1.0 < small["ratio"]["wall"] < large["ratio"]["wall"]


def test_the_price_can_be_overridden():
    r = estimate(jobs=1, trials=4, parallel=2, training_s=3600, training_cv=0, price_per_hour=10.0)
    assert r["cold"]["price_per_hour"] == 10.0
    assert r["cold"]["cost_usd"] == pytest.approx(r["cold"]["billable_s"] / 3600 * 10.0, rel=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"jobs": 0}, "`jobs` must be a positive integer"),
    ({"training_s": -1}, "`training_s` must be a positive number"),
    ({"keep_alive_s": 7200}, "`keep_alive_s` must be an integer from 1 to 3600"),
    ({"warm_startup_s": float("nan")}, "`warm_startup_s` must be a number >= 0"),
])
def test_bad_inputs_are_rejected(kwargs, message):
    with pytest.raises(SpecError, match=message):
        CampaignInputs(**kwargs)


def test_cli_estimate_prints_a_table_and_json():
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--jobs", "1", "--trials", "6",
                          "--parallel", "2"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "without warm pools" in out.stdout and "wall-time speed-up" in out.stdout
    out = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--jobs", "1", "--trials", "6",
                          "--parallel", "2", "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["inputs"]["trials"] == 6 and result["ratio"]["wall"] > 1
    bad = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "estimate", "--parallel", "0"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "`parallel` must be a positive integer" in bad.stderr


def test_hpo_estimate_magic_and_api():
    shell = InteractiveShell.instance()
    shell.register_magics(HpoMagics(shell))
    try:
        with capture_output():
            frame = shell.run_line_magic("hpo", "estimate --jobs 1 --trials 6 --parallel 2")
        assert list(frame.columns) == ["without warm pools", "with warm pools"]
        assert frame.loc["trials started warm", "with warm pools"] == "4/6"
        with pytest.raises(UsageError, match="`trials` must be a positive integer"):
            shell.run_line_magic("hpo", "estimate --trials -3")
    finally:
        shell.reset(new_session=False)
    assert api.estimate(jobs=1, trials=4, parallel=2)["warm"]["warm_starts"] == 2
