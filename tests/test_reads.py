"""The read watch of a warm worker (jupyter_hpo.backends._reads), in a fresh Python per case: an audit hook stays
for the life of its process. Here: the files that hyperparameter values name, which native readers open unseen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

CASE = """
import json, os, sys
from jupyter_hpo.backends import _reads
_reads.watch()
_reads.note_named(json.loads(sys.argv[1]))
before = sorted(_reads._read)
for path in json.loads(sys.argv[2]):  # rewritten: a byte more
    with open(path, "ab") as f:
        f.write(b"x")
print(json.dumps({"watched": before, "changed": _reads.changed()}))
"""


def run(values: list, rewrite: list[str], home: Path) -> dict:
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CASE), json.dumps(values), json.dumps(rewrite)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_a_named_file_and_the_dataset_files_of_a_named_folder_are_watched(tmp_path):
    data = tmp_path / "data"
    (data / "year=2024").mkdir(parents=True)
    parts = [data / "year=2024" / "part-0.parquet", data / "part-1.feather"]
    for p in [*parts, data / "notes.txt", tmp_path / "credit.csv"]:
        p.write_bytes(b"1234")
    named = str(tmp_path / "credit.csv")
    result = run([str(data), named, 0.3, "gbtree", "", None, str(tmp_path / "missing.parquet")],
                 [str(parts[0]), str(data / "notes.txt")], tmp_path / "home")
    assert result["watched"] == sorted([named, *map(str, parts)])  # notes.txt: not a dataset file
    assert result["changed"] == [str(parts[0])]


def test_a_named_relative_path_is_read_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "train.parquet").write_bytes(b"1234")
    monkeypatch.chdir(tmp_path)
    result = run(["train.parquet"], ["train.parquet"], tmp_path / "home")
    assert result == {"watched": [str(tmp_path / "train.parquet")], "changed": [str(tmp_path / "train.parquet")]}


def test_a_folder_too_large_to_search_means_nothing_read_is_trusted(tmp_path):
    """``/`` given as a separator, say: searched no further than 10,000 entries, and the worker is then never
    handed to another job, with the reason in the refusal."""
    result = run(["/"], [], tmp_path / "home")
    assert result["changed"] == ["a hyperparameter names a folder of more than 10000 entries (/)"]


def test_the_jupyter_hpo_home_is_not_watched(tmp_path):
    home = tmp_path / "home"
    (home / "jobs" / "a").mkdir(parents=True)
    (home / "jobs" / "a" / "best.parquet").write_bytes(b"1234")
    result = run([str(home / "jobs" / "a"), str(home / "jobs" / "a" / "best.parquet")], [], home)
    assert result == {"watched": [], "changed": []}
