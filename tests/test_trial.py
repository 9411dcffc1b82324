"""The in-trial API outside any worker (debugging by hand) and inside a SageMaker-style container."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jupyter_hpo import trial
from jupyter_hpo.exceptions import HpoError


def test_outside_a_trial_report_is_harmless_and_nothing_is_pruned():
    assert not trial.in_trial()
    trial.report(0.5, step=0)
    assert trial.should_prune() is False
    with pytest.raises(HpoError, match=r"params\(\) is only available inside a trial"):
        trial.params()


def test_folds_are_stratified_reproducible_and_summarised():
    y = np.array([0] * 80 + [1] * 20)
    X = np.arange(100).reshape(-1, 1)
    cv = trial.folds(X, y, k=5, seed=0)
    splits = list(cv)
    assert len(cv) == 5 and len(splits) == 5
    for train_idx, valid_idx in splits:
        assert len(valid_idx) == 20 and y[valid_idx].sum() == 4, "each fold keeps the 20% positives"
        assert not set(train_idx) & set(valid_idx)
    again = [v.tolist() for _, v in trial.folds(X, y, k=5, seed=0)]
    assert again == [v.tolist() for _, v in splits]
    for score in (0.7, 0.8, 0.9):
        cv.report(score)
    assert cv.scores == [0.7, 0.8, 0.9]
    assert cv.mean == pytest.approx(0.8) and cv.std == pytest.approx(0.1)


def test_folds_validates_k():
    with pytest.raises(ValueError, match="`k` must be an integer >= 2, but got 1"):
        trial.folds([[1], [2]], k=1)


def test_cached_loads_once_per_process():
    calls = []
    first = trial.cached("test-key-once", lambda: calls.append(1) or {"data": 1})
    second = trial.cached("test-key-once", lambda: calls.append(1) or {"data": 2})
    assert first is second and calls == [1]


def test_params_in_a_sagemaker_container_are_typed(tmp_path, monkeypatch):
    config, code = tmp_path / "input" / "config", tmp_path / "code"
    config.mkdir(parents=True)
    code.mkdir()
    hp = config / "hyperparameters.json"
    hp.write_text(json.dumps({"max_depth": "5", "eta": "0.1", "booster": "gbtree", "flag": "true",
                              "sagemaker_program": "train.py"}))
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(config))
    monkeypatch.chdir(code)
    assert trial.in_trial()
    assert trial.params() == {"max_depth": 5, "eta": 0.1, "booster": "gbtree", "flag": True}
    # the space travels in sourcedir.tar.gz: "007" and "1e-1" are typed by it, not guessed
    space = {"max_depth": {"type": "int", "low": 1, "high": 9}, "booster": ["gbtree", "dart"], "tag": ["007", "x"]}
    (code / "jupyter_hpo_space.json").write_text(json.dumps(space))
    hp.write_text(json.dumps({"max_depth": "5", "booster": "dart", "tag": "007", "eta": "1e-1"}))
    assert trial.params() == {"max_depth": 5, "booster": "dart", "tag": "007", "eta": 0.1}


def test_report_in_a_sagemaker_container_prints_lines_the_metric_regexes_match(tmp_path, monkeypatch, capsys):
    (tmp_path / "hyperparameters.json").write_text("{}")
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr(trial, "_container_step", 0)
    trial.report(0.5)
    trial.report(0.75)
    trial.report(0.25, step=7)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["intermediate step=0 value=0.5", "intermediate step=1 value=0.75", "intermediate step=7 value=0.25"]
    from jupyter_hpo.sagemaker.outcome import INTERMEDIATE_REGEX
    import re
    assert [float(re.search(INTERMEDIATE_REGEX, line).group(1)) for line in lines] == [0.5, 0.75, 0.25]


def test_cached_on_disk_is_not_served_to_a_job_with_other_static_hyperparameters(tmp_path, monkeypatch):
    """A warm pool passes to the next training job: one with other tuned values takes the value from disk, one
    with another static hyperparameter (one model per portfolio segment) loads its own."""
    import json

    cache, config, code = tmp_path / "cache", tmp_path / "config", tmp_path / "code"
    for folder in (cache, config, code):
        folder.mkdir()
    (code / trial._SPACE_FILE).write_text(json.dumps({"x": {"type": "float", "low": 0, "high": 1}}))
    monkeypatch.chdir(code)
    monkeypatch.setenv("SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY", str(cache))
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(config))
    loads = []

    def job(x: str, segment: str) -> str:  # a new training job on the same instance: a new process
        (config / "hyperparameters.json").write_text(json.dumps({"x": x, "segment": segment,
                                                                 "sagemaker_program": "train.py"}))
        trial._cache.clear()
        return trial.cached("rate", lambda: loads.append(segment) or f"rate of {segment}")

    assert job("0.1", "retail") == "rate of retail"
    assert job("0.7", "retail") == "rate of retail" and loads == ["retail"]  # another tuned x: from disk
    assert job("0.7", "sme") == "rate of sme" and loads == ["retail", "sme"]


def test_cached_uses_the_warm_pool_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY", str(tmp_path))
    calls = []
    assert trial.cached("warm-disk-key", lambda: calls.append(1) or [1, 2]) == [1, 2]
    trial._cache.clear()  # a new job on the same warm instance: a new process, the same directory
    assert trial.cached("warm-disk-key", lambda: calls.append(1) or [3]) == [1, 2]
    assert calls == [1] and len(list(tmp_path.glob("jupyter_hpo-*.pkl"))) == 1
