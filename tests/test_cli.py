"""``jupyter hpo`` as a user runs it: real subprocesses, exit codes, JSON and the progress display."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, REPO

JUPYTER = shutil.which("jupyter", path=os.path.dirname(sys.executable)) or "jupyter"


def hpo(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    return subprocess.run([JUPYTER, "hpo", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def quick_spec(tmp_path: Path) -> Path:
    (tmp_path / "objective.py").write_text("def f(p):\n    return -(p['x'] - 0.3) ** 2\n")
    spec = tmp_path / "quick.yaml"
    spec.write_text(textwrap.dedent("""
        name: quick
        trial: {function: "objective.py:f"}
        space: {x: {type: float, low: 0, high: 1}}
        budget: {max_trials: 5}
    """))
    return spec


def test_launch_json_list_and_show(home, quick_spec):
    out = hpo(home, "launch", str(quick_spec), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["name"] == "quick" and summary["status"] == "completed" and summary["complete"] == 5
    listed = json.loads(hpo(home, "list", "--json").stdout)
    assert [j["name"] for j in listed] == ["quick"]
    shown = json.loads(hpo(home, "show", "quick", "--json").stdout)
    assert len(shown["trials"]) == 5 and shown["job"]["best"] == summary["best"]
    table = hpo(home, "list")
    assert table.returncode == 0 and "quick" in table.stdout and "completed" in table.stdout


@pytest.mark.parametrize("args", [["list", "--json"], ["show", "quick", "--json"], ["show", "quick"], ["list"],
                                  ["store", "info", "--json"]], ids=" ".join)
def test_output_whose_reader_went_away_ends_quietly_with_the_sigpipe_code(home, quick_spec, args):
    """`jupyter hpo show JOB --json | head -c 100` ended in a BrokenPipeError traceback (print's paths) or a silent
    exit 1 (rich's), which the README's exit codes read as "the job failed". It ends with 141, as a shell reports
    a program SIGPIPE ended, and nothing on stderr."""
    assert hpo(home, "launch", str(quick_spec), "--json").returncode == 0
    read, write = os.pipe()
    os.close(read)  # no reader at all: the first write fails, whatever the output's size
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    try:
        out = subprocess.run([JUPYTER, "hpo", *args], cwd=REPO, env=env, stdout=write, stderr=subprocess.PIPE,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        os.close(write)
    assert out.returncode == 141 and out.stderr == "", (out.returncode, out.stderr[-2000:])


def test_show_prints_every_parameter_of_every_trial(home, tmp_path):
    """Long parameter names: the params column was cut at 90 characters, mid-name, without a mark."""
    (tmp_path / "objective.py").write_text("def f(p):\n    return sum(p.values())\n")
    names = ["alpha_learning_rate", "beta_regularization", "gamma_dropout", "delta_momentum"]
    spec = tmp_path / "long.yaml"
    spec.write_text("name: long\ntrial: {function: 'objective.py:f'}\nbudget: {max_trials: 2}\nspace:\n"
                    + "".join(f"  {n}: {{type: float, low: 0, high: 1}}\n" for n in names))
    assert hpo(home, "launch", str(spec), "--json").returncode == 0
    shown = hpo(home, "show", "long")
    assert shown.returncode == 0, shown.stderr
    for r in json.loads(hpo(home, "show", "long", "--json").stdout)["trials"]:  # the table may wrap a cell
        assert all(f"{n}={r['params'][n]:.5g}" in shown.stdout for n in names), shown.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("trial: {function: 'objective.py:f'}\nspace: {x: {type: float, low: 1, high: 0}}",
     "error: `space`: `low < high` must hold for 'x', but got low=1.0, high=0.0."),
    ("trial: {function: 'objective.py:f'}\nspace: {x: [1, 2]}\nstrategy: annealing",
     "error: `strategy` must be one of bayesian, random, grid, hyperband, but got 'annealing'."),
    ("space: {x: [1, 2]}", "error: `trial` is required"),
    ("trial: {script: missing.py}\nspace: {x: [1, 2]}", "error: `trial.script` must be an existing file"),
])
def test_a_bad_spec_exits_2_with_one_line_and_leaves_no_job(home, tmp_path, content, message):
    (tmp_path / "objective.py").write_text("def f(p):\n    return 1.0\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    out = hpo(home, "launch", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith(message) and len(out.stderr.strip().splitlines()) == 1
    assert json.loads(hpo(home, "list", "--json").stdout) == []


@pytest.mark.parametrize(("content", "problem"), [
    ("trial: {function: 'objective.py:f'}\nseed: 1\nspace: {x: [1, 2]}\nseed: 2\n",
     "the key 'seed' appears twice ({spec}, line 4, column 1)"),
    ("trial: {function: 'objective.py:f'}\nspace:\n  x: [1, 2]\n y: 3\n",
     "expected <block end>, but found '<block mapping start>' ({spec}, line 4, column 2), while parsing a block "
     "mapping that starts at line 1, column 1"),
    ("trial: {function: 'objective.py:f'}\nspace:\n  x: [1,\n     2\n",
     "expected ',' or ']', but got '<stream end>' ({spec}, line 5, column 1), while parsing a flow sequence that "
     "starts at line 3, column 6"),
    ("trial: {function: 'objective.py:f'}\nspace: {x: [1, 2]}\nname: a\x01b\n",
     "unacceptable character #x0001: special characters are not allowed ({spec}, line 3, column 8)"),
], ids=["repeated key", "bad indentation", "unclosed bracket", "control character"])
def test_a_spec_that_is_not_yaml_is_one_line_naming_the_file_and_line(home, tmp_path, content, problem):
    """PyYAML's own message spans 4-7 lines (a snippet and a caret) and names "<unicode string>", not the file."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    out = hpo(home, "launch", str(bad))
    assert out.returncode == 2
    assert out.stderr == f"error: the spec is not valid YAML: {problem.format(spec=bad)}\n"
    assert json.loads(hpo(home, "list", "--json").stdout) == []


def test_unknown_spec_file_and_job_exit_2(home):
    out = hpo(home, "launch", "nowhere.yaml")
    assert out.returncode == 2 and "spec file 'nowhere.yaml' does not exist" in out.stderr
    out = hpo(home, "stop", "ghost")
    assert out.returncode == 2 and "no job named 'ghost'" in out.stderr


def trial_lines(out: str) -> list[tuple[int, str, int, str]]:
    """(number, value, done, best) of each trial line."""
    rows = []
    for line in out.splitlines():
        if line.startswith("trial "):
            head, tail = line.split(" | ")[:2]
            done, best = tail.split("done ")[1].split(" best ")
            rows.append((int(head.split()[1]), head.split("=")[1].split()[0], int(done.split("/")[0]), best))
    return rows


def test_each_trial_line_counts_and_bests_only_the_trials_printed_up_to_it_and_a_resume_prints_the_new_ones(
        home, quick_spec):
    """Trials that ended within one poll all had the count and best of the poll's end: `done 6/24` on the fifth
    line, a best no line had shown yet. A resume reprinted every earlier trial, under "launched"."""
    out = hpo(home, "launch", str(quick_spec), "--parallel", "2")
    assert out.returncode == 0, out.stderr
    rows = trial_lines(out.stdout)
    assert [done for _, _, done, _ in rows] == [1, 2, 3, 4, 5], out.stdout
    for i, (_, _, _, best) in enumerate(rows):
        assert best in {value for _, value, _, _ in rows[:i + 1]}, out.stdout
    out = hpo(home, "resume", "quick", "--max-trials", "8")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("job quick resumed; trials print as they finish"), out.stdout
    rows = trial_lines(out.stdout)
    assert [(number, done) for number, _, done, _ in rows] == [(5, 6), (6, 7), (7, 8)], out.stdout


def test_a_resumes_lines_best_counts_the_trials_the_job_had(home, tmp_path):
    """The first lines after a resume showed the best of the new trials only: "best 0.5" when the job's best
    was 0.9 (a later trial of the same poll, 0.95, was not printed yet)."""
    (tmp_path / "counted.py").write_text(textwrap.dedent("""
        import os, time
        VALUES = [0.9, 0.1, 0.5, 0.95, 0.2]
        def f(p):
            n = os.path.getsize(p["counter"]) if os.path.exists(p["counter"]) else 0
            open(p["counter"], "a").write("x")
            time.sleep(0.05)
            return VALUES[n]
    """))
    spec = tmp_path / "counted.yaml"
    spec.write_text(f"name: counted\ntrial: {{function: 'counted.py:f', hyperparameters: {{counter: "
                    f"'{tmp_path / 'n'}'}}}}\nspace: {{x: {{type: float, low: 0, high: 1}}}}\n"
                    "budget: {max_trials: 2, max_parallel: 1}\n")
    assert hpo(home, "launch", str(spec)).returncode == 0
    out = hpo(home, "resume", "counted", "--max-trials", "5")
    assert out.returncode == 0, out.stderr
    rows = trial_lines(out.stdout)
    assert [number for number, *_ in rows] == [2, 3, 4], out.stdout
    values = [0.9, 0.1]
    for _, value, _, best in rows:
        values.append(float(value))
        assert float(best) == max(values), out.stdout


def test_no_warm_pool_runs_a_spec_whose_pool_has_settings_and_says_they_do_not_apply(home, tmp_path, quick_spec):
    """The README's cold baseline (`--no-warm-pool`) was refused for a spec like the README's own, whose pool
    sets max_trials_per_worker (or a keep-alive): the override kept them, and they need a pool."""
    spec = tmp_path / "pooled.yaml"
    spec.write_text(quick_spec.read_text().replace("name: quick", "name: pooled")
                    + "warm_pool: {enabled: true, max_trials_per_worker: 200, keep_alive_s: 600}\n")
    out = hpo(home, "launch", str(spec), "--no-warm-pool")
    assert out.returncode == 0, out.stderr
    assert ("note: the warm pool is off for this launch (warm_pool=False, --no-warm-pool): the spec's "
            "warm_pool.max_trials_per_worker: 200, warm_pool.keep_alive_s: 600 do not apply to it.") in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith("trial ")]
    assert len(rows) == 5 and all(" cold start " in line for line in rows), out.stdout
    shown = json.loads(hpo(home, "show", "pooled", "--json").stdout)
    assert shown["spec"]["warm_pool"]["enabled"] is False and "keep_alive_s" not in shown["spec"]["warm_pool"]
    from jupyter_hpo import api  # the API's dict form is the same request (it was still refused)

    job = api.launch(str(spec), name="pooled-dict", warm_pool={"enabled": False})  # the home fixture's store
    assert job.wait(timeout=120).value == "completed"
    assert "do not apply to it" in job.attrs["notes"][0]["text"]
    # a keep-alive given with the override itself still cannot apply: refused
    out = hpo(home, "launch", str(spec), "--no-warm-pool", "--keep-alive", "60", "--name", "other")
    assert out.returncode == 2 and "`warm_pool.keep_alive_s` needs `warm_pool.enabled: true`" in out.stderr


def test_detach_then_stop(home, tmp_path):
    (tmp_path / "slow.py").write_text("import time\ndef f(p):\n    time.sleep(0.5)\n    return p['x']\n")
    spec = tmp_path / "slow.yaml"
    spec.write_text("name: slow\ntrial: {function: 'slow.py:f'}\nspace: {x: {type: float, low: 0, high: 1}}\n"
                    "budget: {max_trials: 100}\n")
    out = hpo(home, "launch", str(spec), "--detach")
    assert out.returncode == 0 and "job slow started" in out.stdout
    out = hpo(home, "stop", "slow")
    assert out.returncode == 0 and "job slow: stopped (stopped on request)" in out.stdout


def test_the_readme_example_runs_with_visible_progress(home):
    """The README's first command, on a smaller budget: real XGBoost k-fold trials on the credit data."""
    out = hpo(home, "launch", str(EXAMPLE / "tuning.yaml"), "--max-trials", "4", "--name", "credit-ci", timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert len(trial_lines) == 4, out.stdout
    assert any(" warm start " in line for line in trial_lines) and any(" cold start " in line for line in trial_lines)
    assert any("auc=0.7" in line for line in trial_lines)
    assert any(line.startswith("job credit-ci: completed (budget of 4 trials reached)") for line in lines)
    best = lines.index("best parameters:")
    assert {line.split(":")[0].strip() for line in lines[best + 1:]} >= {"max_depth", "eta", "num_round"}


def test_launch_keep_alive_keeps_the_runner_for_the_next_launch_from_the_same_shell(home, quick_spec):
    import psutil

    first = hpo(home, "launch", str(quick_spec), "--keep-alive", "60", "--json")
    assert first.returncode == 0, first.stderr
    second = hpo(home, "launch", str(quick_spec), "--name", "quick-again", "--keep-alive", "0", "--json")
    assert second.returncode == 0, second.stderr
    shown = [json.loads(hpo(home, "show", n, "--json").stdout) for n in ("quick", "quick-again")]
    # stored only when set (an older version on the same store refused the field): 0 is its absence
    assert [s["spec"]["warm_pool"].get("keep_alive_s", 0) for s in shown] == [60, 0]
    assert "keep_alive_s" not in shown[1]["spec"]["warm_pool"]
    assert [s["job"]["status"] for s in shown] == ["completed", "completed"]
    from jupyter_hpo import api

    pids = {api.attach(n).attrs["runner"]["pid"] for n in ("quick", "quick-again")}
    assert len(pids) == 1, "the second launch ran in the first job's runner"
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=15)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "it ends after the job that asked for 0 s"
