"""Shared fixtures: every test gets its own store directory; nothing touches ~/.jupyter_hpo."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.postgres")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "credit_default"

# no test may reach AWS: dummy credentials and a single attempt everywhere
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                  AWS_MAX_ATTEMPTS="1")


# CI runs the property-based tests (Hypothesis, schemathesis) with a fixed seed, so that a red CI can be
# reproduced and a green one is not luck; run without HYPOTHESIS_PROFILE=ci to explore new examples
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_MAIN = sys.modules["__main__"]

# with pytest-xdist (`.ci/run` runs `-n 2`), each worker process its own default store home
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("JUPYTER_HPO_HOME"):
    os.environ["JUPYTER_HPO_HOME"] = os.path.join(os.environ["JUPYTER_HPO_HOME"], os.environ["PYTEST_XDIST_WORKER"])


@pytest.fixture(autouse=True)
def _keep_the_main_module():
    """An IPython shell made in this process (magics tests) installs its own ``__main__``, and resetting it
    drops ``__spec__``, which multiprocessing's spawn (the local pool, started here by backend tests) reads."""
    _restore_main()
    yield
    _restore_main()


@pytest.fixture(autouse=True)
def _close_widgets():
    """Close every widget a test made (an ``%hpo launch``'s dashboard, a campaign view), which also stops their
    polling threads: left running, they read the store while later tests in the same worker patched its reads
    (a CI failed on one such test)."""
    yield
    widgets = sys.modules.get("ipywidgets")
    if widgets is not None:
        widgets.Widget.close_all()


def _restore_main() -> None:
    if not hasattr(sys.modules.get("__main__"), "__spec__"):
        sys.modules["__main__"] = _MAIN


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``JUPYTER_HPO_HOME`` for the test."""
    from jupyter_hpo import api

    h = tmp_path / "hpo-home"
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(h))
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    api._stores.clear()
    yield h
    api._stores.clear()


@pytest.fixture
def store(home: Path):
    from jupyter_hpo.store import Store

    return Store(home=home)


@pytest.fixture
def fresh_summaries():
    """No job summary cached by this process's earlier tests (``api._feeds``, ``feed._ENDED``), before and after."""
    from jupyter_hpo import api, feed

    api._feeds.clear()
    feed._ENDED.clear()
    yield
    api._feeds.clear()
    feed._ENDED.clear()


def wait_for(condition: Callable[[], object], timeout: float = 60.0, interval: float = 0.05,
             why: Callable[[], str] | None = None) -> object:
    """Wait until ``condition()`` is truthy; fail the test with a clear message on time-out, with what ``why()``
    says of the state things were in (a job's status and runner log, say)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition}"
                                 + (f"\n{why()}" if why is not None else ""))
        time.sleep(interval)
