"""Objectives the tests run in real worker processes (pickled by value: this module is not installed)."""

from __future__ import annotations

import os
import time

from jupyter_hpo import trial


def quadratic(p):
    return -((p["x"] - 1.0) ** 2)


def sleepy(p):
    time.sleep(p.get("sleep", 0.2))
    return p["x"]


def worker_identity(p):
    """Returns how many times this process has loaded its 'data' (1 in a warm worker, always)."""
    calls = trial.cached("load-count", lambda: {"n": 0})
    calls["n"] += 1
    return {"objective": float(os.getpid()), "calls": float(calls["n"])}


def faulty(p):
    mode = p["mode"]
    if mode == "ok":
        return 1.0
    if mode == "raise":
        raise ValueError("bad things happened in the trial")
    if mode == "exit":
        os._exit(3)
    if mode == "segfault":
        import ctypes

        ctypes.string_at(0)
    if mode == "hang":
        time.sleep(600)
    if mode == "memory":
        hog = bytearray(400 * 2**20)  # 400 MB, touched
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(5)
        return float(len(hog))
    if mode == "nan":
        return float("nan")
    if mode == "inf":
        return float("inf")
    if mode == "string":
        return "high"
    if mode == "none":
        return None
    if mode == "long":  # an error of 500 characters, as a CUDA out-of-memory message can be
        raise RuntimeError("CUDA out of memory. " + "Tried to allocate more than there is. " * 12)
    raise AssertionError(mode)


def always_fails(p):
    raise RuntimeError(f"always fails (x={p['x']:.3f})")


def stepwise(p):
    """Reports 5 steps; trials with x < 0.5 are poor at every step (so a pruner can stop them)."""
    total = 0.0
    for step in range(5):
        score = p["x"] + 0.01 * step
        trial.report(score, step)
        if trial.should_prune():
            raise trial.TrialPruned()
        total += score
        time.sleep(0.02)
    return total / 5


def kfold_auc(p):
    """k-fold CV of a logistic regression on a fixed synthetic problem; C tiny = poor model."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=600) > 0).astype(int)
    noise = rng.normal(size=(600, 50))
    Xn = noise if p["features"].startswith("noise") else X
    cv = trial.folds(Xn, y, k=5, seed=0)
    for tr, va in cv:
        model = LogisticRegression(C=1.0).fit(Xn[tr], y[tr])
        cv.report(roc_auc_score(y[va], model.predict_proba(Xn[va])[:, 1]))
    return cv.mean


def bad_return(p):
    """Returns what ``p["mode"]`` names: 1.0 for "ok", else a value a trial must be failed for."""
    returns = {
        "ok": 1.0,
        "-inf": float("-inf"),
        "no-metric": {"loss": 0.5, "accuracy": 0.9},
        "metric-nan": {"objective": float("nan"), "accuracy": 0.9},
        "metric-text": {"objective": "high"},
        "list": [0.5],
        "bool": True,  # `return auc > 0.8`: float() would make it 1.0
        "numpy-bool": __import__("numpy").bool_(False),
    }
    return returns[p["mode"]]


def gated(p):
    """Sleeps ``p["sleep"]`` s, then waits (at most 120 s) while the file ``p["hold"]`` exists; returns ``x``.

    On starting it creates ``<hold>.started.<pid>``, so a test sees that the objective itself runs.
    """
    open(f"{p['hold']}.started.{os.getpid()}", "w").close()
    time.sleep(p.get("sleep", 0.0))
    deadline = time.monotonic() + 120
    while os.path.exists(p["hold"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return p["x"]


def saves_model(p):
    """Saves ``{"x": x, "refit": ...}`` as its model and a note file; returns x (maximised: higher x is better)."""
    import tempfile

    trial.save_model({"x": p["x"], "refit": trial.is_refit()})
    with tempfile.TemporaryDirectory() as tmp:
        note = os.path.join(tmp, "note.txt")
        with open(note, "w") as f:
            f.write(f"x={p['x']}\n")
        trial.log_artifact(note)
    return p["x"]


def saves_model_slowly(p):
    """Saves ``{"x": x}`` as its model, then takes 0.3 s; returns x."""
    trial.save_model({"x": p["x"]})
    time.sleep(0.3)
    return p["x"]


def two_objectives_saving_slowly(p):
    """Saves ``{"x": x}``, then takes 0.3 s; returns ``a = x`` (maximised) and ``b = (1 - x) ** 2`` (minimised)."""
    trial.save_model({"x": p["x"]})
    time.sleep(0.3)
    return {"a": p["x"], "b": (1 - p["x"]) ** 2}


def fails_on_refit(p):
    """Saves its model and returns x in a normal trial; raises in a refit."""
    if trial.is_refit():
        raise RuntimeError("no data for the refit")
    trial.save_model({"x": p["x"]})
    return p["x"]


def says_its_job(p):
    """Prints the job's tag (a static hyperparameter) and returns x: where a trial's output lands."""
    print(f"a trial of job {p['tag']}: x={p['x']:.4f}", flush=True)
    return p["x"]


def reads_its_data(p):
    """Returns the number in the file ``p["data"]``, read once per worker (``trial.cached``)."""
    def load():
        with open(p["data"], encoding="utf-8") as f:
            return float(f.read())
    return trial.cached("the-data", load)


def reads_its_parquet(p):
    """The first value of column ``x`` of the Parquet file or dataset folder ``p["data"]``, read once per worker
    (``trial.cached``) by pandas through pyarrow, whose C++ reader opens the files without Python seeing it."""
    def load():
        import pandas as pd

        return float(pd.read_parquet(p["data"])["x"].iloc[0])
    return trial.cached("the-parquet", load)


def loss_and_size(p):
    """``loss = 1 - x`` (minimised) and ``size = x``: a constraint ``size <= 0.5`` makes the best feasible x 0.5."""
    return {"loss": 1 - p["x"], "size": p["x"]}


def equal_auc_saves_model(p):
    """Every trial has auc 1.0; its train_s is ``p["train_s"]`` (minimised); saves ``{"train_s": ...}``."""
    trial.save_model({"train_s": p["train_s"]})
    return {"auc": 1.0, "train_s": float(p["train_s"])}


def held_out_metrics(p):
    """Saves ``{"x": x, "refit": ...}``; returns auc = x, and, outside a refit (which has no held-out data),
    ``ece`` = x / 10 and ``train_s`` = x ** 2 as well."""
    trial.save_model({"x": p["x"], "refit": trial.is_refit()})
    if trial.is_refit():
        return {"auc": p["x"]}
    return {"auc": p["x"], "ece": p["x"] / 10, "train_s": p["x"] ** 2}


def static_values(p):
    """Returns x, with the static hyperparameters it got: ``folds`` (-1 if none) and whether ``data`` came."""
    return {"objective": p["x"], "folds": float(p.get("folds", -1)), "has_data": float("data" in p)}


def calibrated(p):
    """The higher x, the better the objective, and the worse the calibration error (x / 10)."""
    return {"objective": p["x"], "calibration_error": p["x"] / 10}


def capped(p):
    """Lowers its own open-files limit (soft, or soft and hard) when asked; returns the pid and the soft limit it
    started with."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if p["mode"] == "soft":
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    elif p["mode"] == "hard":
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    return {"objective": float(os.getpid()), "soft_at_start": float(soft)}


def arrival(p):
    """The first trial to start waits while the file ``<dir>/hold`` exists and scores 0 (minimised); the others
    score better by the order they started in: 100 - i while the first one waits, -i/1000 after it ended."""
    folder = p["dir"]
    i = 0
    while True:
        try:
            os.close(os.open(os.path.join(folder, f"started-{i}"), os.O_CREAT | os.O_EXCL))
            break
        except FileExistsError:
            i += 1
    if i == 0:
        deadline = time.monotonic() + 120
        while os.path.exists(os.path.join(folder, "hold")) and time.monotonic() < deadline:
            time.sleep(0.02)
        open(os.path.join(folder, "first-done"), "w").close()
        return 0.0
    time.sleep(0.1)
    return -i / 1000 if os.path.exists(os.path.join(folder, "first-done")) else 100.0 - i
