"""Ctrl-C while `jupyter hpo launch` or `jupyter hpo campaign` follows its work detaches: the CLI says how to
follow or stop it and exits 0, and the job or campaign runs on to its end."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_hpo.api import Job
from jupyter_hpo.campaign import attach_campaign
from jupyter_hpo.store import Store

SCRIPT = "import argparse, time\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n" \
         "a = p.parse_args()\ntime.sleep(0.4)\nprint(f'score={a.x}')\n"


def write_spec(tmp_path: Path, name: str, trials: int = 6) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: {name}
        objective: {{metric: score}}
        trial: {{script: train.py}}
        space: {{x: {{type: float, low: 0, high: 1}}}}
        budget: {{max_trials: {trials}, max_parallel: 1}}
    """))
    return spec


def start(args: list[str], home: Path, cwd: Path, tty: bool) -> tuple[subprocess.Popen, int]:
    """The CLI with its output on a pipe or a pseudo-terminal; returns the process and the fd to read."""
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "jupyter_hpo.cli", *args]
    if tty:
        master, slave = pty.openpty()
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True)
        os.close(slave)
        return proc, master
    read, write = os.pipe()
    proc = subprocess.Popen(cmd, stdout=write, stderr=write, env=env, cwd=cwd, close_fds=True)
    os.close(write)
    return proc, read


def read_until(fd: int, text: str, timeout: float = 120) -> str:
    out = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never printed; got {out.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # a pty whose other end closed
                chunk = b""
            assert chunk, f"output ended before {text!r}: {out.decode(errors='replace')!r}"
            out += chunk
    return out.decode(errors="replace")


def read_rest(fd: int) -> str:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    return out.decode(errors="replace")


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_ctrl_c_detaches_from_a_job_which_runs_on(tmp_path, tty):
    home = tmp_path / "home"
    name = f"detach-{'tty' if tty else 'pipe'}"
    proc, fd = start(["launch", str(write_spec(tmp_path, name))], home, tmp_path, tty)
    read_until(fd, "launched" if not tty else "running")
    proc.send_signal(signal.SIGINT)
    out = read_rest(fd)
    assert proc.wait(timeout=60) == 0, out
    assert f"detached; job {name} goes on. `jupyter hpo show {name}` or `jupyter hpo stop {name}`" in out, out
    job = Job(name, Store(home=home))
    assert job.wait(timeout=120).value == "completed"
    assert len([t for t in job.trials().itertuples() if t.state == "complete"]) == 6


def test_ctrl_c_detaches_from_a_campaign_which_runs_on(tmp_path):
    home = tmp_path / "home"
    specs = [str(write_spec(tmp_path, f"camp-{i}", trials=3)) for i in range(2)]
    proc, fd = start(["campaign", *specs, "--name", "detach-camp"], home, tmp_path, tty=False)
    read_until(fd, "campaign detach-camp launched")
    proc.send_signal(signal.SIGINT)
    out = read_rest(fd)
    assert proc.wait(timeout=60) == 0, out
    assert ("detached; campaign detach-camp goes on. `jupyter hpo campaign show detach-camp` or "
            "`jupyter hpo campaign stop detach-camp`") in out, out
    c = attach_campaign("detach-camp", Store(home=home))
    assert c.wait(timeout=180) == "completed"
    assert c.summary()["complete"] == 6


@pytest.mark.parametrize("what", ["job", "campaign"])
def test_ctrl_c_while_json_waits_detaches_too(tmp_path, what):
    """`launch --json` (and `campaign --json`) waits for the end without a view: Ctrl-C there, as in the moment
    between a launch and its view, exited 130 with not a word while the work ran on (a launch again met "a job
    named ... already exists"). It detaches: the line on stderr, exit 0, stdout empty (no half a JSON)."""
    from tests.conftest import wait_for

    home = tmp_path / "home"
    if what == "job":
        args, name = ["launch", str(write_spec(tmp_path, "json-detach")), "--json"], "json-detach"
    else:
        args = ["campaign", *(str(write_spec(tmp_path, f"jc-{i}", trials=3)) for i in range(2)), "--name", "jcamp",
                "--json"]
        name = "jcamp"
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_hpo.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=tmp_path, text=True)
    store = Store(home=home)
    first = "json-detach" if what == "job" else "jc-0"
    wait_for(lambda: first in store.job_names() and Job(first, store).status.value == "running", timeout=60)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == "", (proc.returncode, out, err)
    command = "jupyter hpo" + (" campaign" if what == "campaign" else "")
    assert f"detached; {what} {name} goes on. `{command} show {name}` or `{command} stop {name}`" in err, err
    if what == "job":
        assert Job(name, store).wait(timeout=120).value == "completed"
    else:
        assert attach_campaign(name, store).wait(timeout=180) == "completed"
