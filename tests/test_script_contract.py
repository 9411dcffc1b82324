"""A script trial behaves exactly as ``python script.py --name value ...`` would in a fresh process.

Each test writes a training script in a pattern real scripts use, runs it standalone with the same arguments
as the reference, then runs trials of it through the local warm pool (real worker processes, several trials
on one worker) and checks that every trial got what the standalone run got.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo import api
from jupyter_hpo.backends import TrialOutcome, TrialRequest
from jupyter_hpo.backends._local import LocalBackend
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus

X = {"x": {"type": "float", "low": 0, "high": 1}}
VALUES = [0.125, 0.25, 0.5]


class Events:
    def __init__(self) -> None:
        self.outcomes: dict[int, TrialOutcome] = {}

    def on_report(self, key: int, step: int, value: float) -> bool:
        return False

    def on_finish(self, outcome: TrialOutcome) -> None:
        self.outcomes[outcome.key] = outcome


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder / "train.py"


def standalone(script: Path, x: float) -> float:
    """What ``python train.py --x X`` prints as its objective, run in a fresh process from another folder."""
    out = subprocess.run([sys.executable, str(script), "--x", str(x)], capture_output=True, text=True,
                         cwd=script.parent.parent, timeout=60, check=True).stdout
    return float(out.rsplit("objective=", 1)[1].split()[0])


def pool_values(script: Path, values: list[float], *, warm: bool = True,
                before: Callable[[int], None] | None = None) -> tuple[list[TrialOutcome], list[bool]]:
    """Run one trial per value through the local pool, one after another (so one worker runs them all);
    ``before(key)`` runs before each trial is submitted."""
    spec = TuningSpec.from_dict({
        "name": "script-contract", "trial": {"script": str(script)}, "space": X,
        "budget": {"max_trials": 100, "max_parallel": 1}, "warm_pool": {"enabled": warm},
    })
    backend = LocalBackend(spec, script.parent)
    backend.start()
    events, warm_flags = Events(), []
    try:
        for key, x in enumerate(values):
            if before is not None:
                before(key)
            warm_flags.append(backend.submit(TrialRequest(key=key, params={"x": x}, seed=key)).warm)
            deadline = time.monotonic() + 60
            while key not in events.outcomes:
                assert time.monotonic() < deadline, f"trial {key} did not finish"
                backend.poll(events, timeout=0.1)
    finally:
        backend.close()
    return [events.outcomes[k] for k in range(len(values))], warm_flags


def assert_same_as_standalone(script: Path, *, warm: bool = True) -> list[TrialOutcome]:
    expected = [standalone(script, x) for x in VALUES]
    outcomes, warm_flags = pool_values(script, VALUES, warm=warm)
    assert [o.state for o in outcomes] == ["complete"] * len(VALUES), [o.error for o in outcomes]
    assert [o.value for o in outcomes] == pytest.approx(expected)
    if warm:
        assert warm_flags == [False, True, True], "all trials after the first ran on the warm worker"
    return outcomes


SETTINGS_HELPER = {
    "settings.py": """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--x", type=float, default=0.9{required})
        args, _ = parser.parse_known_args()
    """,
    "train.py": """
        from settings import args
        print(f"objective={args.x * 10}")
    """,
}


@pytest.mark.parametrize("required", ["", ", required=True"], ids=["with-default", "required"])
@pytest.mark.parametrize("warm", [True, False], ids=["warm-pool", "no-warm-pool"])
def test_a_helper_that_parses_argv_at_import_sees_each_trials_arguments(tmp_path, required, warm):
    files = {k: v.replace("{required}", required) for k, v in SETTINGS_HELPER.items()}
    script = write(tmp_path / "project", files)
    outcomes = assert_same_as_standalone(script, warm=warm)
    assert [o.value for o in outcomes] == pytest.approx([x * 10 for x in VALUES]), "not the helper's default"


def test_module_level_state_starts_fresh_for_every_trial(tmp_path):
    script = write(tmp_path / "project", {
        "config.py": """
            RUNS = []
            SETTINGS = {"scale": 1.0}
        """,
        "train.py": """
            import sys
            import config
            config.RUNS.append(sys.argv[:])
            config.SETTINGS["scale"] *= 2  # a script that mutates its config module
            x = float(sys.argv[sys.argv.index("--x") + 1])
            print(f"objective={x * config.SETTINGS['scale'] + 100 * (len(config.RUNS) - 1)}")
        """,
    })
    assert_same_as_standalone(script)


@pytest.mark.parametrize("where", ["script", "imported-helper"])
def test_a_metric_logged_to_stdout_is_each_trials_own(tmp_path, where):
    """The script logs its metric with ``logging.basicConfig(stream=sys.stdout)``, in the script or in a helper
    module it imports; it also prints an earlier line the metric's regex matches (an epoch's score). The root
    handler, set up by the first trial, stays in the warm worker: every trial's logged line must still be read as
    that trial's (it was not, and the epoch line became the value of every warm trial)."""
    setup = """
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
        log = logging.getLogger("train")
    """
    train = """
        import argparse
        {setup}
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        a = p.parse_args()
        print("epoch 1 objective=0.0")
        log.info("objective=%s", a.x * 10)
    """
    files = ({"train.py": train.replace("{setup}", "from logsetup import log"), "logsetup.py": setup}
             if where == "imported-helper" else
             {"train.py": train.replace("{setup}", textwrap.dedent(setup).strip().replace("\n", "\n        "))})
    script = write(tmp_path / "project", files)
    outcomes = assert_same_as_standalone(script)
    assert [o.value for o in outcomes] == pytest.approx([x * 10 for x in VALUES])


def test_a_script_that_exits_on_an_argparse_error_says_the_error(tmp_path):
    """argparse prints its complaint to stderr and exits 2: the trial's error says what it was (it said only the
    last line of stdout), and code that asks stdout and stderr for their file descriptors still gets them."""
    script = write(tmp_path / "project", {"train.py": """
        import argparse, faulthandler, subprocess, sys
        faulthandler.enable()  # asks sys.stderr for its file descriptor
        subprocess.run([sys.executable, "-c", "print('from a child')"], stdout=sys.stdout, check=True)
        print("starting")
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=int)
        a = p.parse_args()
        print(f"objective={a.x}")
    """})
    outcomes, _ = pool_values(script, [0.5, 0.25])
    for o in outcomes:
        assert o.state == "failed"
        assert o.error.startswith("the script exited with code 2 (train.py: error: argument --x: invalid int "
                                  "value: "), o.error
        assert o.error.endswith("; last output: starting"), o.error


def test_a_small_negative_float_reaches_argparse_as_a_number(tmp_path):
    """Python writes -5.1e-05 in scientific notation, which argparse takes for an option (``--x -5.1e-05``:
    "expected one argument"), so such a trial failed; it gets the same float written out (``-0.000051``)."""
    script = write(tmp_path / "project", {"train.py": """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        a = p.parse_args()
        print(f"objective={a.x!r}")
    """})
    values = [-5.1e-05, -1e-20, -1.2345678901234567e-07, 1e-05, -0.5]
    outcomes, _ = pool_values(script, values)
    assert [(o.state, o.value) for o in outcomes] == [("complete", v) for v in values], [o.error for o in outcomes]
    from jupyter_hpo.sagemaker.requests import hyperparameter_strings

    assert hyperparameter_strings({"x": -5.1e-05, "y": 1e-05}) == {"x": "-0.000051", "y": "1e-05"}  # on SageMaker


def test_main_guard_functions_and_direct_argv_reads(tmp_path):
    script = write(tmp_path / "project", {
        "train.py": """
            import sys

            def main():
                assert __name__ == "__main__"
                assert sys.argv[0].endswith("train.py"), sys.argv
                x = float(sys.argv[2])
                print(f"objective={x + 1}")

            if __name__ == "__main__":
                main()
        """,
    })
    assert_same_as_standalone(script)


def test_a_local_package_with_relative_imports_reads_this_trials_arguments(tmp_path):
    script = write(tmp_path / "project", {
        "mypkg/__init__.py": "",
        "mypkg/options.py": """
            import sys
            X = float(sys.argv[sys.argv.index("--x") + 1])
        """,
        "mypkg/model.py": """
            from .options import X
            from . import options

            def score():
                return X * 3 + options.X
        """,
        "train.py": """
            from mypkg.model import score
            print(f"objective={score()}")
        """,
    })
    outcomes = assert_same_as_standalone(script)
    assert [o.value for o in outcomes] == pytest.approx([4 * x for x in VALUES])


def test_a_click_command_runs_with_each_trials_options(tmp_path):
    script = write(tmp_path / "project", {
        "train.py": """
            import click

            @click.command()
            @click.option("--x", type=float, default=0.7)
            def main(x):
                print(f"objective={x * 2}")

            if __name__ == "__main__":
                main()  # exits through sys.exit(0), as click does
        """,
    })
    assert_same_as_standalone(script)


def test_a_typer_app_runs_with_each_trials_options(tmp_path):
    script = write(tmp_path / "project", {
        "train.py": """
            import typer

            app = typer.Typer()

            @app.command()
            def main(x: float = 0.7):
                print(f"objective={x - 1}")

            if __name__ == "__main__":
                app()
        """,
    })
    assert_same_as_standalone(script)


def test_installed_modules_stay_warm_while_the_users_own_modules_rerun(tmp_path, monkeypatch):
    """A module from outside the script's folder (an installed package) is imported once per worker."""
    lib = tmp_path / "site"
    write(lib, {"heavylib.py": """
        import os
        with open(os.environ["IMPORT_LOG"], "a") as f:
            f.write("heavylib\\n")
        def scale(x):
            return x * 5
    """})
    monkeypatch.syspath_prepend(str(lib))  # spawned workers inherit sys.path, as site-packages would be
    log = tmp_path / "imports.log"
    monkeypatch.setenv("IMPORT_LOG", str(log))
    script = write(tmp_path / "project", {
        "helper.py": """
            import os
            with open(os.environ["IMPORT_LOG"], "a") as f:
                f.write("helper\\n")
        """,
        "train.py": """
            import sys
            import heavylib
            import helper
            print(f"objective={heavylib.scale(float(sys.argv[2]))}")
        """,
    })
    outcomes, warm = pool_values(script, VALUES)
    assert [o.value for o in outcomes] == pytest.approx([5 * x for x in VALUES])
    assert warm == [False, True, True]
    lines = log.read_text().split()
    assert lines.count("heavylib") == 1, lines
    assert lines.count("helper") == len(VALUES), lines


def test_a_helper_edited_between_trials_is_read_afresh_by_the_next_trial_on_the_warm_worker(tmp_path):
    """The worker remembers which loaded modules are the user's own (it checks them twice a trial); a helper of
    the script's folder stays the user's, so an edit made while the pool is warm reaches the next trial."""
    script = write(tmp_path / "project", {
        "helper.py": "FACTOR = 1\n",
        "train.py": """
            import sys
            import helper
            print(f"objective={helper.FACTOR * float(sys.argv[2])}")
        """,
    })
    helper = script.parent / "helper.py"

    def edit(key: int) -> None:
        if key:  # a new size and a later mtime: no cached bytecode can pass for the new source
            helper.write_text(f"FACTOR = {10 ** (key + 1)}\n")
            stamp = time.time() + 2 * key
            os.utime(helper, (stamp, stamp))

    outcomes, warm = pool_values(script, VALUES, before=edit)
    assert warm == [False, True, True]
    assert [o.value for o in outcomes] == pytest.approx([VALUES[0], 100 * VALUES[1], 1000 * VALUES[2]])


def test_a_script_job_with_an_argv_parsing_helper_records_what_each_trial_computed(home, tmp_path):
    """End to end through the runner and the store: the stored value is the one the sampled parameter gives."""
    files = {k: v.replace("{required}", ", required=True") for k, v in SETTINGS_HELPER.items()}
    write(tmp_path, files)
    (tmp_path / "tuning.yaml").write_text(textwrap.dedent("""
        name: argv-helper
        trial: {script: train.py}
        space: {x: {type: float, low: 0, high: 1}}
        budget: {max_trials: 4, max_parallel: 2}
    """))
    job = api.launch(tmp_path / "tuning.yaml")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records: list[dict[str, Any]] = job.trial_records()
    assert [r["state"] for r in records] == ["complete"] * 4
    for r in records:
        assert r["value"] == pytest.approx(r["params"]["x"] * 10, rel=1e-6)


def test_a_script_that_prints_nan_in_another_spelling_fails_as_not_finite(home, tmp_path):
    """``auc=NaN`` (R, Java, JavaScript print it so) is a value that is not a number, not a missing line: the
    trial's error says so, rather than "no output line matched", which sent users looking for a typo."""
    write(tmp_path, {"train.py": """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        a = p.parse_args()
        print("auc=NaN" if a.x > 0.5 else "auc=-Infinity" if a.x > 0.25 else f"auc={a.x}")
    """})
    (tmp_path / "tuning.yaml").write_text(textwrap.dedent("""
        name: nan-spelling
        objective: {metric: auc}
        strategy: grid
        trial: {script: train.py}
        space: {x: {type: categorical, choices: [0.75, 0.375, 0.125]}}
        budget: {max_trials: 3, max_parallel: 2}
    """))
    job = api.launch(tmp_path / "tuning.yaml")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    records = job.trial_records()
    by_x = {r["params"]["x"]: r for r in records}
    assert set(by_x) == {0.75, 0.375, 0.125}, records
    assert by_x[0.125]["state"] == "complete" and by_x[0.125]["value"] == 0.125
    for x, shown in ((0.75, "nan"), (0.375, "-inf")):
        assert by_x[x]["state"] == "fail", by_x[x]
        assert by_x[x]["error"] == f"the objective returned {shown}, not a finite number", by_x[x]


@pytest.mark.parametrize("warm", [True, False], ids=["warm-pool", "no-warm-pool"])
def test_a_script_that_ends_with_os_exit_0_after_its_metric_completes_with_it(tmp_path, warm):
    """``os._exit(0)`` after the metric is printed (to skip a slow teardown) exits 0 with the metric standalone; in
    a job every such trial failed with "worker process died (exit code 0)". A child the script forks still really
    exits with its own ``os._exit`` code, and each trial gets a fresh worker: what the script left for the end of
    its process to tear down does not reach the next trial."""
    script = write(tmp_path / "project", {"train.py": """
        import argparse, os, sys
        p = argparse.ArgumentParser()
        p.add_argument("--x", type=float)
        a = p.parse_args()
        child = os.fork()
        if child == 0:
            os._exit(7)
        _, status = os.waitpid(child, 0)
        print(f"objective={a.x + os.waitstatus_to_exitcode(status)}")
        sys.stdout.flush()
        os._exit(0)
    """})
    outcomes, warm_flags = pool_values(script, VALUES, warm=warm)
    assert [(o.state, o.error) for o in outcomes] == [("complete", None)] * len(VALUES)
    assert [o.value for o in outcomes] == pytest.approx([standalone(script, x) for x in VALUES])
    assert [o.value for o in outcomes] == pytest.approx([x + 7 for x in VALUES]), "the forked child exits with 7"
    assert warm_flags == [False, False, False], "each trial ran on a fresh worker"


def test_a_script_that_ends_with_os_exit_3_fails_naming_the_exit_code(tmp_path):
    script = write(tmp_path / "project", {"train.py": """
        import os, sys
        print("objective=0.5")
        print("out of data", file=sys.stderr)
        os._exit(3)
    """})
    standalone_run = subprocess.run([sys.executable, str(script), "--x", "0.5"], capture_output=True, timeout=60)
    assert standalone_run.returncode == 3
    outcomes, _ = pool_values(script, [0.5, 0.25])
    for o in outcomes:
        assert o.state == "failed"
        assert o.error == "the script exited with code 3 (out of data); last output: objective=0.5", o.error


POOLS = {"train.py": """
    import argparse, multiprocessing, os
    from concurrent.futures import ProcessPoolExecutor

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "top-level.log"), "a") as log:
        log.write(f"{os.getpid()}\\n")  # no main guard: what a child re-running the script would write too
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float)
    x = parser.parse_args().x
    with multiprocessing.Pool(2) as pool:
        doubled = sum(pool.map(abs, [-x, -x]))
    with ProcessPoolExecutor(2) as ex:
        doubled += sum(ex.map(abs, [-x, -x]))
    print(f"objective={doubled / 4} start={multiprocessing.get_start_method()}")
"""}


def test_a_script_with_default_process_pools_runs_as_it_does_standalone(tmp_path):
    """A worker is started by spawn, which its children inherited: a default Pool() and ProcessPoolExecutor()
    re-ran a script without a main guard in every child (a Pool without one hung, an executor failed); as
    `python train.py` on Linux, they fork."""
    script = write(tmp_path / "src", POOLS)
    assert standalone(script, 0.25) == 0.25
    (script.parent / "top-level.log").unlink()
    outcomes, warm = pool_values(script, [0.25, 0.75])
    assert [(o.state, o.value) for o in outcomes] == [("complete", 0.25), ("complete", 0.75)], [o.error for o in outcomes]
    assert warm == [False, True]
    assert len((script.parent / "top-level.log").read_text().split()) == 2, "the top level ran once per trial"
