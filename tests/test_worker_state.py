"""What one warm trial changes in its worker never reaches the next trial (real worker processes)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_hpo.api import _pickle_objective
from jupyter_hpo.backends import TrialOutcome, TrialRequest
from jupyter_hpo.backends._local import LocalBackend
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo import trial


def meddle(p: dict[str, Any]) -> Any:
    """A trial that changes its process (mode "mess") or reports what it finds (mode "check")."""
    if p["mode"] == "mess":
        os.chdir(p["elsewhere"])
        os.environ["SET_BY_A_TRIAL"] = "1"
        os.environ.pop("HOME", None)
        sys.path.append("/added/by/a/trial")
        sys.argv.append("--left-over")
        signal.signal(signal.SIGTERM, lambda *_: None)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaced, not closed
        return 1.0
    if p["mode"] == "close-stdout":
        sys.stdout.close()
        return 1.0
    if p["mode"] == "rmdir-cwd":
        os.chdir(p["elsewhere"])
        os.rmdir(p["elsewhere"])
        return 1.0
    if p["mode"] == "threads":  # reports from several threads at once, as a data loader or callback might
        def spam(offset: int) -> None:
            for i in range(200):
                trial.report(float(offset + i), step=offset + i)

        threads = [threading.Thread(target=spam, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return float(p.get("x", 0))
    return {
        "objective": 0.0,
        "cwd_ok": float(os.getcwd() == p["cwd"]),
        "env_ok": float("SET_BY_A_TRIAL" not in os.environ and os.environ.get("HOME") == p["home"]),
        "path_ok": float("/added/by/a/trial" not in sys.path),
        "argv_ok": float("--left-over" not in sys.argv),
        "signal_ok": float(signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.SIG_IGN)
                           or getattr(signal.getsignal(signal.SIGTERM), "__name__", "") != "<lambda>"),
        "stdout_ok": float(sys.stdout is sys.__stdout__ and not sys.stdout.closed),
        "pid": float(os.getpid()),
    }


class Events:
    def __init__(self) -> None:
        self.outcomes: dict[int, TrialOutcome] = {}
        self.reports: list[tuple[int, int, float]] = []

    def on_report(self, key: int, step: int, value: float) -> bool:
        self.reports.append((key, step, value))
        return False

    def on_finish(self, outcome: TrialOutcome) -> None:
        self.outcomes[outcome.key] = outcome


@pytest.fixture
def pool(tmp_path: Path):
    spec = TuningSpec.from_dict({
        "name": "state", "trial": {"function": meddle}, "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "budget": {"max_trials": 100, "max_parallel": 1},
    })
    (tmp_path / "objective.pkl").write_bytes(_pickle_objective(meddle))
    backend = LocalBackend(spec, tmp_path)
    backend.start()
    events = Events()

    def run(params: dict[str, Any]) -> tuple[TrialOutcome, str]:
        key = len(events.outcomes)
        worker = backend.submit(TrialRequest(key=key, params=params, seed=key)).worker
        deadline = time.monotonic() + 60
        while key not in events.outcomes:
            assert time.monotonic() < deadline, f"trial {key} did not finish"
            backend.poll(events, timeout=0.1)
        return events.outcomes[key], worker

    run.events = events  # type: ignore[attr-defined]
    yield run
    backend.close()


def check_params() -> dict[str, Any]:
    return {"mode": "check", "cwd": os.getcwd(), "home": os.environ.get("HOME")}


def test_a_trial_that_changes_folder_environment_path_argv_signals_and_stdout_leaves_the_next_one_clean(
        pool, tmp_path):
    first, w1 = pool(check_params())
    assert first.state == "complete", first.error
    assert all(first.metrics[k] == 1.0 for k in first.metrics if k.endswith("_ok")), first.metrics
    mess, w2 = pool({"mode": "mess", "elsewhere": str(tmp_path)})
    assert mess.state == "complete", mess.error
    after, w3 = pool(check_params())
    assert w1 == w2 == w3, "restored state keeps the warm worker"
    assert after.metrics["pid"] == first.metrics["pid"]
    assert {k: v for k, v in after.metrics.items() if k.endswith("_ok")} == {
        "cwd_ok": 1.0, "env_ok": 1.0, "path_ok": 1.0, "argv_ok": 1.0, "signal_ok": 1.0, "stdout_ok": 1.0}


@pytest.mark.parametrize("mode", ["close-stdout", "rmdir-cwd"])
def test_a_worker_whose_state_cannot_be_restored_is_replaced_and_later_trials_run(pool, tmp_path, mode):
    first, w1 = pool(check_params())
    gone = tmp_path / "gone"
    gone.mkdir()
    broken, w2 = pool({"mode": mode, "elsewhere": str(gone)})
    assert broken.state == "complete", broken.error  # the trial itself was fine
    later = [pool(check_params()) for _ in range(2)]
    assert [o.state for o, _ in later] == ["complete", "complete"], [o.error for o, _ in later]
    assert later[0][1] != w2, "a fresh worker took the broken one's place"
    assert later[0][0].metrics["pid"] != first.metrics["pid"]
    assert later[0][0].metrics["stdout_ok"] == 1.0 and later[0][0].metrics["cwd_ok"] == 1.0


def test_reports_from_several_threads_keep_the_pipe_in_step(pool):
    outcomes = [pool({"mode": "threads", "x": x}) for x in (0.25, 0.5, 0.75)]
    assert [o.state for o, _ in outcomes] == ["complete"] * 3, [o.error for o, _ in outcomes]
    assert [o.value for o, _ in outcomes] == [0.25, 0.5, 0.75]
    assert len({w for _, w in outcomes}) == 1, "the worker survived and stayed warm"
    per_trial = {k: [r for r in pool.events.reports if r[0] == k] for k in range(3)}
    assert all(len(rs) == 800 for rs in per_trial.values()), {k: len(v) for k, v in per_trial.items()}
