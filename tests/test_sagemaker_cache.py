"""``trial.cached`` in a SageMaker warm pool (issue 11, part 8): the persistent cache directory outlives the
job, and a pool can pass to another job of the same role/instance/network, so a cached value is keyed by
the identity of the input channels too: another data set (even of the same size) is never served stale."""

from __future__ import annotations

import pytest

from jupyter_hpo import trial


@pytest.fixture
def container(tmp_path, monkeypatch):
    """A training container's environment: a warm-pool cache directory and one input channel."""
    cache = tmp_path / "warmpoolcache"
    cache.mkdir()
    channel = tmp_path / "input" / "data" / "train"
    channel.mkdir(parents=True)
    monkeypatch.setenv("SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY", str(cache))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(channel))

    def new_process():  # each trial is a new process in a new training job
        trial._cache.clear()
        trial._IDENTITY.clear()

    new_process()
    yield channel, new_process
    new_process()


def test_a_reused_pool_serves_the_same_data_set_from_disk(container):
    channel, new_process = container
    (channel / "credit.csv").write_text("a,b\n1,2\n")
    loads = []
    assert trial.cached("credit", lambda: loads.append(1) or "v1") == "v1"
    new_process()
    assert trial.cached("credit", lambda: loads.append(2) or "other") == "v1"
    assert loads == [1]


def test_another_data_set_of_the_same_size_is_loaded_again(container):
    channel, new_process = container
    (channel / "credit.csv").write_text("a,b\n1,2\n")
    assert trial.cached("credit", lambda: "old data") == "old data"
    new_process()  # the next job on the same pool: same key, same size, other content
    (channel / "credit.csv").write_text("a,b\n3,4\n")
    assert trial.cached("credit", lambda: "new data") == "new data"


def test_a_large_file_is_identified_by_size_and_its_ends(container, monkeypatch):
    channel, new_process = container
    monkeypatch.setattr(trial, "_WHOLE_FILE", 10)
    monkeypatch.setattr(trial, "_EDGE", 4)
    (channel / "big.bin").write_bytes(b"0123456789abcdefghij")
    assert trial.cached("big", lambda: "first") == "first"
    new_process()
    (channel / "big.bin").write_bytes(b"0123456789abcdefghiX")  # the last byte differs
    assert trial.cached("big", lambda: "second") == "second"
