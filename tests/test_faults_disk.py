"""A home folder on a small, real file system (tmpfs) that fills up: the log stays bounded, and a disk filled
by something else still ends the job with its reason recorded, never a silent "stale"."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_hpo import api
from jupyter_hpo.store import JobStatus


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 24 MB tmpfs as ``JUPYTER_HPO_HOME`` (the tests run as root, as CI does)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], check=True)
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(mnt / "home"))
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    api._stores.clear()
    try:
        yield mnt / "home"
    finally:
        api._stores.clear()
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def chatty(p):
    """A trial that prints a lot, as a verbose training loop does (300 KB)."""
    import time

    line = "x" * 99 + "\n"
    sys.stdout.write(line * 3000)
    sys.stdout.flush()
    time.sleep(0.2)
    return p["x"]


def test_a_chatty_job_keeps_its_log_bounded_and_completes_on_a_small_disk(small_home, monkeypatch):
    monkeypatch.setenv("JUPYTER_HPO_LOG_MAX_BYTES", str(2**20))
    job = api.launch(objective=chatty, space={"x": {"type": "float", "low": 0, "high": 1}},
                     max_trials=100, max_parallel=2, name="chatty")  # 30 MB of output on a 24 MB disk
    assert job.wait(timeout=240) == JobStatus.COMPLETED, job.attrs.get("reason")
    assert job.summary()["complete"] == 100
    folder = small_home / "jobs" / "chatty"
    sizes = {p.name: p.stat().st_size for p in folder.glob("runner.log*")}
    assert sum(sizes.values()) < 12 * 2**20, sizes
    assert "x" * 99 in (folder / "runner.log.1").read_text(), "the newest output is kept"


def fills_the_disk(p):
    """The third trial fills the disk the store is on (a data set written next to it, say)."""
    import os
    import time

    from jupyter_hpo import trial

    if trial.params()["x"] >= 0.5:
        path = os.path.join(os.environ["JUPYTER_HPO_HOME"], "big.bin")
        with open(path, "ab") as f:
            try:
                while True:
                    f.write(b"\0" * 2**20)
                    f.flush()
            except OSError:
                pass
    time.sleep(0.3)
    return p["x"]


def test_a_disk_filled_by_something_else_ends_the_job_failed_with_its_reason(small_home):
    job = api.launch(objective=fills_the_disk, space={"x": {"type": "categorical", "choices": [0.1, 0.2, 0.5, 0.7]}},
                     strategy="grid", max_trials=4, max_parallel=1, name="filled")
    status = job.wait(timeout=120)
    assert status == JobStatus.FAILED, (status, job.attrs.get("reason"))
    assert job.attrs["reason"].startswith("the store could not be written: "), job.attrs["reason"]
    assert "full" in job.attrs["reason"]
    show = subprocess.run([sys.executable, "-m", "jupyter_hpo.cli", "show", "filled"], capture_output=True,
                          text=True, env={**os.environ, "JUPYTER_HPO_HOME": str(small_home)}, timeout=120)
    assert "failed" in show.stdout and "could not be written" in show.stdout, show.stdout + show.stderr
