"""What users and trials write is printed as text by the CLI: no rich markup, no escape sequences."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = r'''
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--tag")
a = p.parse_args()
if a.tag == "esc":
    raise RuntimeError("bad \x1b[31mred\x1b[0m \x1b]0;pwned\x07 [bold]text[/bold]")
print(f"score={len(a.tag)}")
'''


def write_job(tmp_path: Path, name: str) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: {name}
        objective: {{metric: score}}
        trial: {{script: train.py}}
        strategy: grid
        space: {{tag: {{type: categorical, choices: ["[/]", "[/red]", "esc"]}}}}
        budget: {{max_trials: 3, max_parallel: 1}}
    """))
    return spec


def cli(*args: str, home: Path, tty: bool = False) -> tuple[int, str]:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "jupyter_hpo.cli", *args]
    if not tty:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
        return done.returncode, done.stdout + done.stderr
    master, slave = pty.openpty()  # a real terminal: rich's live display
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=180), b"".join(chunks).decode(errors="replace")


def test_markup_like_values_and_escape_sequences_print_as_text(tmp_path):
    home = tmp_path / "home"
    code, out = cli("launch", str(write_job(tmp_path, "brackets")), home=home)
    assert code == 0, out
    assert "tag: [/red]" in out or "tag: [/]" in out, out  # the best trial's parameters, verbatim
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert r"bad \x1b[31mred\x1b[0m \x1b]0;pwned\x07 [bold]text[/bold]" in out
    code, out = cli("show", "brackets", home=home)
    assert code == 0, out
    assert "tag=[/]" in out and "tag=[/red]" in out and "\x1b" not in out, repr(out)


def test_in_a_terminal_too(tmp_path):
    home = tmp_path / "home"
    code, out = cli("launch", str(write_job(tmp_path, "brackets-tty")), home=home, tty=True)
    assert code == 0, out
    assert "[/red]" in out and "MarkupError" not in out
    assert "\x1b]0;pwned" not in out and "\x07" not in out, "a trial's escape sequence reached the terminal"
