"""Locales as users' machines have them: an ASCII one (LC_ALL=C, PYTHONUTF8=0), text that is not UTF-8 in the
environment, scripts that mend their own output's encoding. Real CLI processes, runners and workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_hpo import api
from tests.conftest import REPO

ASCII = {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
SCRIPT = """\
import argparse, io, os, sys
p = argparse.ArgumentParser(); p.add_argument("--opt"); p.add_argument("--recipe", default="plain")
a = p.parse_args()
if a.recipe == "reconfigure":
    sys.stdout.reconfigure(encoding="utf-8")
elif a.recipe == "buffer":
    sys.stdout.flush(); sys.stdout.buffer.write(f"option {a.opt}\\nloss=0.25\\n".encode()); sys.exit(0)
elif a.recipe == "wrapper":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8")
elif a.recipe == "detach":
    sys.stdout = io.TextIOWrapper(sys.stdout.detach(), encoding="utf-8")
elif a.recipe == "codecs":
    import codecs
    sys.stdout = codecs.getwriter("utf-8")(sys.stdout.detach())
elif a.recipe == "raw":
    sys.stdout.flush(); sys.stdout.buffer.raw.write(b"loss=0.25\\n"); sys.exit(0)
print("option", a.opt)
print("loss=0.25")
"""


def cli(home: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    environ = {**os.environ, "JUPYTER_HPO_HOME": str(home), "PYTHONPATH": str(REPO), **env}
    for key in ("JUPYTER_HPO_STORE_URL", "PYTHONIOENCODING"):
        environ.pop(key, None)
    return subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, timeout=180, stdin=subprocess.DEVNULL)


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT, encoding="utf-8")
    return folder


def _spec(folder: Path, name: str, space: str, trials: int) -> Path:
    spec = folder / f"{name}.yaml"
    spec.write_text(f"name: {name}\nobjective: {{metric: loss, direction: minimize}}\ntrial: {{script: train.py}}\n"
                    f"space: {space}\nstrategy: grid\nbudget: {{max_trials: {trials}, max_parallel: 1}}\n",
                    encoding="utf-8")
    return spec


def test_trials_that_print_text_an_ascii_locale_cannot_encode_complete_and_the_cli_prints_it(home, project):
    """In an ASCII (or Latin-1) locale a trial printing `é` or `中文` failed with UnicodeEncodeError (it printed
    them run alone), and `launch` and `show` ended in a traceback, exit 1, "the job failed"."""
    spec = _spec(project, "ascii", '{opt: ["é", "中文", "🚀"]}', 3)
    out = cli(home, project, "launch", str(spec), **ASCII)
    assert out.returncode == 0, out.stdout.decode("ascii", "replace") + out.stderr.decode("ascii", "replace")
    assert b"3 complete, 0 pruned, 0 failed" in out.stdout and b"Traceback" not in out.stderr
    shown = cli(home, project, "show", "ascii", **ASCII)
    assert shown.returncode == 0 and b"\\u4e2d\\u6587" in shown.stdout, shown.stderr  # escaped, not a crash
    log = (home / "jobs" / "ascii" / "runner.log").read_text(encoding="utf-8")
    assert "option 中文" in log and "option 🚀" in log  # runner.log is UTF-8 whatever the locale
    listed = json.loads(cli(home, project, "list", "--json", **ASCII).stdout)
    assert [j["name"] for j in listed] == ["ascii"]
    missing = cli(home, project, "show", "café", **ASCII)  # a name the locale cannot decode: as any unknown name
    assert missing.returncode == 2 and missing.stderr.startswith(b"error: no job named 'caf")


def test_a_script_mending_its_own_output_encoding_runs_as_alone_and_leaves_its_worker_whole(home, project):
    """`sys.stdout.reconfigure(encoding=...)` failed (AttributeError); bytes written to `sys.stdout.buffer` were not
    read for the metric; a `TextIOWrapper` of the script's own over it lost the metric and, collected, closed the
    worker's stdout: every later trial on the worker failed ("I/O operation on closed file") and so did the job."""
    spec = _spec(project, "recipes", '{recipe: [wrapper, reconfigure, buffer, detach, codecs, raw], opt: ["é"]}', 6)
    out = cli(home, project, "launch", str(spec), "--json", **ASCII)
    assert out.returncode == 0, out.stderr.decode("ascii", "replace")
    assert json.loads(out.stdout)["complete"] == 6
    trials = api.attach("recipes").trial_records()
    assert [t["state"] for t in trials] == ["complete"] * 6, [t.get("error") for t in trials]
    assert len({t["worker"] for t in trials}) == 1  # one warm worker ran them all


def test_text_in_the_environment_that_is_not_utf8_does_not_stop_a_launch(home, project, tmp_path):
    """An environment variable or a working folder in bytes that are not UTF-8 (a Latin-1 archive's folder name)
    made every launch a traceback, in a UTF-8 locale too; a file of such a name beside the script failed a job
    whose workers could be handed over (a kept runner, a campaign)."""
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/donn\xe9es"))
    odd.mkdir()
    (odd / "train.py").write_text(SCRIPT, encoding="utf-8")
    spec = _spec(odd, "latin", '{opt: ["a"]}', 1)
    out = cli(home, odd, "launch", str(spec), MY_NOTE=os.fsdecode(b"Jos\xe9"))
    assert out.returncode == 0 and b"1 complete" in out.stdout, out.stderr.decode("utf-8", "replace")
    (odd / os.fsdecode(b"donn\xe9es.csv")).touch()
    out = cli(home, odd, "launch", str(spec), "--name", "kept", "--keep-alive", "2")
    assert out.returncode == 0 and b"1 complete" in out.stdout, out.stdout.decode("utf-8", "replace")


def test_a_sagemaker_defaults_file_with_text_the_locale_cannot_read_is_read_as_utf8_or_refused_in_a_line(
        home, tmp_path):
    """An accent in the SageMaker SDK's defaults file made `plan` a traceback (exit 1) under LC_ALL=C, and a file
    saved in Latin-1 did in any locale."""
    config = tmp_path / "config.yaml"
    config.write_text("# réglages de l'équipe\nSchemaVersion: '1.0'\n", encoding="utf-8")
    spec = str(REPO / "examples" / "credit_default" / "sagemaker.yaml")
    aws = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_MAX_ATTEMPTS": "1", "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config)}
    out = cli(home, tmp_path, "plan", spec, **ASCII, **aws)
    assert out.returncode == 0, out.stderr.decode("ascii", "replace")
    config.write_bytes(b"# r\xe9glages\nSchemaVersion: '1.0'\n")
    out = cli(home, tmp_path, "plan", spec, **aws)
    assert out.returncode == 2 and out.stderr.startswith(b"error: the user SageMaker defaults file "), out.stderr
