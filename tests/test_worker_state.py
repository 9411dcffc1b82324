"""What one warm trial changes in its worker never reaches the next trial (real worker processes)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
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
        sys.__stdout__.reconfigure(encoding="ascii", errors="strict")  # a helper setting up its own output: the
        sys.__stderr__.reconfigure(line_buffering=False)  # next trials printing `é` failed with UnicodeEncodeError
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaced, not closed
        # process-wide settings a script makes for itself: each failed or changed every later warm trial
        warnings.simplefilter("error")
        sys.setrecursionlimit(200)
        os.umask(0o077)
        os.environ["TZ"] = "Asia/Tokyo"
        time.tzset()
        import numpy

        numpy.seterr(all="raise")
        return 1.0
    if p["mode"] == "leave-thread":  # folds in a thread the trial gives up on: it reports after the trial ended
        def late() -> None:
            time.sleep(0.3)
            for step in range(10):
                trial.report(50.0, step=step)

        threading.Thread(target=late, daemon=True).start()
        import multiprocessing.pool

        # a pool's callback, and a future's, that come after the trial gave up
        multiprocessing.pool.ThreadPool(1).apply_async(time.sleep, (0.3,), callback=lambda _: trial.report(50.0, 8))
        ThreadPoolExecutor(1).submit(time.sleep, 0.3).add_done_callback(lambda _: trial.report(50.0, step=9))
        raise ValueError("gave up")
    if p["mode"] == "own-reports":  # the next trial on that worker: reports only after the thread above did
        time.sleep(0.8)
        trial.report(0.9, step=0)
        trial.report(0.8, step=1)
        return 0.85
    if p["mode"] == "raise":  # errors as libraries and users raise them
        class ConfigError(Exception):
            def __str__(self) -> str:
                return self.detail  # never set: str() of this error raises

        raise {"sklearn": ValueError("\nAll the 3 fits failed.\nIt is very likely that your model is misconfigured."),
               "bad-str": ConfigError(), "huge": ValueError("x" * 10_000_000)}[p["error"]]
    if p["mode"] == "return":
        import numpy

        return {"complex": numpy.complex128(0.3 + 5j), "big-extra": {"objective": 0.5, "rows": 10**400, "n": 3},
                "big": 10**400}[p["what"]]
    if p["mode"] == "serving":  # threads made once, in trial.cached, that serve every later trial
        import asyncio
        import multiprocessing.pool

        x = p["x"]
        pool = trial.cached("thread-pool", lambda: multiprocessing.pool.ThreadPool(2))
        seen: dict[str, float] = {}

        def on_result(value: float) -> None:  # run by the pool's result-handler thread
            seen["x"] = trial.params()["x"]
            trial.report(value, step=0)

        pool.apply_async(abs, (-x,), callback=on_result).wait(10)

        def make_loop() -> Any:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            return loop

        async def step_1() -> None:
            trial.report(x, step=1)

        asyncio.run_coroutine_threadsafe(step_1(), trial.cached("loop", make_loop)).result(10)
        return {"objective": x, "params_x": seen["x"]}
    if p["mode"] == "children":  # processes of its own, as `python train.py` may start them
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with multiprocessing.get_context("fork").Pool(2) as procs:
            squares = procs.map(abs, [-1, -2, -3])
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            child = ex.submit(os.getpid).result()
        return {"objective": float(sum(squares)), "child": float(child), "pid": float(os.getpid())}
    if p["mode"] == "child-report":  # a fold computed in a forked pool's process that reports from there
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(1) as procs:
            procs.apply(trial.report, (0.5, 0))
        return 1.0
    if p["mode"] == "kept-pool":  # a process pool made once, for every trial on this worker
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ex = trial.cached("processes", lambda: ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
        return {"objective": 1.0, "child": float(ex.submit(os.getpid).result())}
    if p["mode"] == "pool-reports":  # a thread pool kept from an earlier trial runs this trial's folds
        executor = trial.cached("executor", lambda: ThreadPoolExecutor(2))
        list(executor.map(lambda step: trial.report(p["x"], step=step), range(4)))
        return p["x"]
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
        # runner.log is UTF-8, escaping what cannot be written, whatever the locale
        "encoding_ok": float((sys.stdout.encoding, sys.stdout.errors) == ("utf-8", "backslashreplace")),
        "warnings_ok": float(not any(f[0] == "error" for f in warnings.filters)),
        "recursion_ok": float(sys.getrecursionlimit() >= 1000),
        "umask_ok": float(os.umask(0o022) == 0o022),
        "tz_ok": float("JST" not in time.tzname),
        "numpy_ok": float("raise" not in __import__("numpy").geterr().values()),
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
        "cwd_ok": 1.0, "env_ok": 1.0, "path_ok": 1.0, "argv_ok": 1.0, "signal_ok": 1.0, "stdout_ok": 1.0,
        "warnings_ok": 1.0, "recursion_ok": 1.0, "umask_ok": 1.0, "tz_ok": 1.0, "numpy_ok": 1.0, "encoding_ok": 1.0}


def test_a_thread_a_trial_left_running_does_not_report_into_the_next_trial(pool):
    """The thread's late reports went to the next trial on the worker, which took them as its own and had its own
    reports of those steps dropped as repeats."""
    gave_up, w1 = pool({"mode": "leave-thread"})
    assert gave_up.state == "failed"
    own, w2 = pool({"mode": "own-reports"})
    assert w1 == w2 and own.state == "complete", own.error
    assert [(step, value) for key, step, value in pool.events.reports if key == 1] == [(0, 0.9), (1, 0.8)]
    assert not [r for r in pool.events.reports if r[2] == 50.0], "the left thread's reports reached nobody"


def test_a_thread_pool_kept_in_trial_cached_reports_to_the_trial_that_uses_it(pool):
    outcomes = [pool({"mode": "pool-reports", "x": x}) for x in (0.25, 0.5)]
    assert [o.state for o, _ in outcomes] == ["complete"] * 2, [o.error for o, _ in outcomes]
    assert {k: sorted((s, v) for key, s, v in pool.events.reports if key == k) for k in (0, 1)} == {
        0: [(s, 0.25) for s in range(4)], 1: [(s, 0.5) for s in range(4)]}


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


def test_a_failed_trial_says_its_error_in_a_line_with_text_and_keeps_the_worker(pool):
    """scikit-learn's message starts with a newline (shown: a bare 'ValueError:'); an error whose str() raises
    ended the worker ('worker process died'); a traceback that held its input was stored whole (20 MB)."""
    sklearn, w1 = pool({"mode": "raise", "error": "sklearn"})
    assert sklearn.error == "ValueError: All the 3 fits failed."
    bad_str, w2 = pool({"mode": "raise", "error": "bad-str"})
    assert bad_str.error == "ConfigError: <exception str() failed>"
    huge, w3 = pool({"mode": "raise", "error": "huge"})
    assert len(huge.error) == 300 and len(huge.traceback) == 20_000 and huge.traceback.rstrip().endswith("xxx")
    assert w1 == w2 == w3, "each error kept the warm worker"


def test_what_is_no_real_number_fails_the_trial_and_a_bad_extra_metric_is_left_out(pool):
    cplx, _ = pool({"mode": "return", "what": "complex"})  # float() took the real part: 0.3, and it became best
    assert (cplx.state, cplx.value) == ("failed", None) and "not a number" in cplx.error, cplx.error
    big, _ = pool({"mode": "return", "what": "big"})
    assert big.state == "failed" and "not a number" in big.error, big.error
    extra, _ = pool({"mode": "return", "what": "big-extra"})  # an OverflowError failed the trial, objective and all
    assert (extra.state, extra.value, extra.metrics) == ("complete", 0.5, {"n": 3.0}), extra.error


def test_threads_made_once_in_trial_cached_serve_each_later_trial(pool):
    """A ThreadPool's apply_async callback and an asyncio loop's thread, made in trial.cached: bound to the trial
    that made them, they reported into it (ended, so dropped) and read its params() in every later trial."""
    xs = (0.25, 0.5, 0.75)
    outcomes = [pool({"mode": "serving", "x": x}) for x in xs]
    assert [o.state for o, _ in outcomes] == ["complete"] * 3, [o.error for o, _ in outcomes]
    assert [o.metrics["params_x"] for o, _ in outcomes] == list(xs)
    assert {k: sorted((s, v) for key, s, v in pool.events.reports if key == k) for k in range(3)} == {
        k: [(0, x), (1, x)] for k, x in enumerate(xs)}


def test_a_metric_at_the_start_of_a_line_longer_than_the_kept_part_is_found(monkeypatch):
    """A JSON line holding a metric, then megabytes of predictions: the start was cut before it was matched."""
    import io
    import re

    from jupyter_hpo.backends import _worker

    monkeypatch.setattr(_worker, "_PARTIAL_MAX", 10_000)
    monkeypatch.setattr(_worker, "_PARTIAL_KEEP", 1_000)
    monkeypatch.setattr(_worker, "_PARTIAL_OVERLAP", 100)
    tee = _worker._Tee(io.StringIO())
    tee.begin({"auc": re.compile(r'"auc": ([0-9.]+)'), "n": re.compile(r'"n": ([0-9]+)')})
    tee.write('{"auc": 0.4322, "preds": [')
    for _ in range(20_000):
        tee.write("0.5, ")
    tee.write('0.5], "n": 7}')
    tee.write("\n")
    tee.end()
    assert tee.last == {"auc": "0.4322", "n": "7"}
    assert max(len(line) for line in tee.tail) <= 10_000, "the tail keeps a long line's start, not all of it"
    # a metric across the cut is read whole (it was read as 0.432), and the line held stays bounded (64 MiB of a
    # `\r` progress bar's line was held: 505 MB for 800,000 updates)
    tee.begin({"auc": re.compile(r"auc=([0-9.]+)")})
    tee.write("x" * 9_990)
    tee.write("auc=0.43")  # past 10,000 here: the line is cut, mid-number
    tee.write("22 " + "y" * 30_000)
    assert tee._partial_chars <= 10_000
    tee.write("\n")
    tee.end()
    assert tee.last == {"auc": "0.4322"}


def test_a_trial_may_start_processes_of_its_own(pool):
    """A worker was a daemonic process, and multiprocessing refused it children: a Pool, a ProcessPoolExecutor or
    a DataLoader's workers failed the trial ("daemonic processes are not allowed to have children"), and joblib
    ran n_jobs=-1 on one core."""
    outcomes = [pool({"mode": "children"}) for _ in range(2)]
    assert [o.state for o, _ in outcomes] == ["complete"] * 2, [o.error for o, _ in outcomes]
    assert all(o.value == 6.0 and o.metrics["child"] != o.metrics["pid"] for o, _ in outcomes)
    assert outcomes[0][1] == outcomes[1][1], "the worker stayed warm"


def test_a_process_pool_kept_in_trial_cached_ends_with_its_worker(tmp_path):
    """multiprocessing joins a process's non-daemonic children as it exits, and a kept ProcessPoolExecutor's wait
    for work: the worker hung at the job's end until the backend killed it."""
    import psutil

    spec = TuningSpec.from_dict({
        "name": "kept-pool", "trial": {"function": meddle}, "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "budget": {"max_trials": 10, "max_parallel": 1}})
    (tmp_path / "objective.pkl").write_bytes(_pickle_objective(meddle))
    backend = LocalBackend(spec, tmp_path)
    backend.start()
    events = Events()
    try:
        for key in range(2):
            backend.submit(TrialRequest(key=key, params={"mode": "kept-pool"}, seed=key))
            deadline = time.monotonic() + 60
            while key not in events.outcomes:
                assert time.monotonic() < deadline, "the trial did not finish"
                backend.poll(events, timeout=0.1)
        children = {events.outcomes[k].metrics["child"] for k in range(2)}
        assert len(children) == 1, "one pool, kept for both trials"
        [worker] = [p.process for p in backend._procs]
    finally:
        backend.close()
    assert worker.exitcode == 0, "the worker ended by itself, not killed"
    child = int(children.pop())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_a_report_from_a_process_the_trial_started_fails_the_trial_in_a_line_and_the_worker_goes_on(pool):
    """A forked child shares the worker's pipe to the runner: its report would have garbled both."""
    child, w1 = pool({"mode": "child-report"})
    assert child.state == "failed" and child.error.startswith(
        "HpoError: trial.report was called in a process the trial started"), child.error
    after, w2 = pool({"mode": "threads", "x": 0.5})  # reports from the worker itself still reach the runner
    assert (after.state, after.value, w2) == ("complete", 0.5, w1), after.error
    assert len([r for r in pool.events.reports if r[0] == 1]) == 800
