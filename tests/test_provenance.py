"""Provenance: what the runner records about a job (code, inputs, packages, Python, seed, git, owner, image),
checked against the files, git and the interpreter themselves; shown by ``jupyter hpo show``."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from jupyter_hpo import api, provenance
from jupyter_hpo.store import JobStatus
from tests import objectives
from tests.conftest import REPO

JUPYTER = str(Path(sys.executable).with_name("jupyter"))
SPACE_X = {"x": {"type": "float", "low": 0, "high": 1}}
SCRIPT = ("import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
          "p.add_argument('--data')\na = p.parse_args()\nprint(f'objective={a.x}')\n")


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


@pytest.fixture
def project(tmp_path):
    """A git repository holding a training script and a data file of 3 MiB."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT)
    (folder / "data.bin").write_bytes(bytes(range(256)) * (3 * 4096))
    git(folder, "init", "-q")
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def launch_script(folder: Path, name: str, **options) -> api.Job:
    job = api.launch(objective=str(folder / "train.py"), space=SPACE_X, max_trials=2, seed=11, name=name,
                     hyperparameters={"data": str(folder / "data.bin")}, **options)
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    return job


def test_a_script_job_records_its_code_data_git_packages_python_seed_and_owner(home, project):
    job = launch_script(project, "prov")
    prov = job.provenance
    script, data = project / "train.py", project / "data.bin"
    assert prov["spec"] == job.spec
    assert prov["code"] == {"script": str(script), "sha256": hashlib.sha256(script.read_bytes()).hexdigest()}
    st = data.stat()
    assert prov["inputs"] == {str(data): {"size": 3 * 2**20, "mtime": st.st_mtime,
                                          "sha256_first_mb": hashlib.sha256(data.read_bytes()[:2**20]).hexdigest()}}
    assert prov["git"] == {"commit": git(project, "rev-parse", "HEAD"), "dirty": False, "root": str(project)}
    assert prov["python"]["version"] == platform.python_version()
    assert prov["packages"]["optuna"] == metadata.version("optuna")
    assert prov["seed"] == 11
    assert prov["owner"] == job.attrs["owner"]

    script.write_text(SCRIPT + "# edited\n")  # an uncommitted change: the next job is dirty, its hash differs
    edited = launch_script(project, "prov-edited").provenance
    assert edited["git"]["dirty"] is True and edited["git"]["commit"] == prov["git"]["commit"]
    assert edited["code"]["sha256"] != prov["code"]["sha256"]


def test_the_package_list_is_kept_once_in_the_blob_table_and_listing_jobs_does_not_read_it(home, project):
    first, second = launch_script(project, "pkgs-a"), launch_script(project, "pkgs-b")
    packages = provenance._packages()
    for job in (first, second):
        stored = job.attrs["provenance"]
        assert "packages" not in stored
        assert stored["packages_blob"]["count"] == len(packages)
        assert job.provenance["packages"] == packages, "the whole list, as before"
    assert first.attrs["provenance"]["packages_blob"] == second.attrs["provenance"]["packages_blob"], \
        "kept once, by content"
    listed = first.store.all_job_attrs()  # what GET jobs reads: no package list in it
    assert [("packages" in attrs["provenance"]) for attrs in listed.values()] == [False, False]
    assert all(len(json.dumps(attrs["provenance"])) < 2000 for attrs in listed.values())


def test_a_package_list_missing_from_the_store_is_said_so(home, project):
    from jupyter_hpo._store_db import BLOB_TABLE

    job = launch_script(project, "pkgs-lost")
    digest = job.attrs["provenance"]["packages_blob"]["sha256"]
    with job.store.engine.begin() as con:
        con.exec_driver_sql(f"DELETE FROM {BLOB_TABLE} WHERE sha256 = '{digest}'")
    prov = job.provenance
    assert prov["packages"] is None
    assert prov["packages_error"].startswith(f"the list of {len(provenance._packages())} packages (sha256 {digest[:12]}")
    assert f"provenance: {prov['packages_error']}" in provenance.provenance_lines(prov)


def test_without_git_the_job_runs_and_records_no_git(home, project, monkeypatch, tmp_path):
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the runner inherits it: no git to find
    prov = launch_script(project, "no-git").provenance
    assert "git" not in prov
    assert prov["code"]["sha256"] == hashlib.sha256((project / "train.py").read_bytes()).hexdigest()


def test_a_function_job_records_the_hash_of_its_pickled_objective(home):
    job = api.launch(objective=objectives.quadratic, space=SPACE_X, max_trials=1, name="fn-prov")
    assert job.wait(timeout=120) == JobStatus.COMPLETED
    pickled = job.store.job_dir(job.name) / "objective.pkl"
    assert job.provenance["code"] == {"function": "tests.objectives:quadratic",
                                      "sha256": hashlib.sha256(pickled.read_bytes()).hexdigest()}


def test_jupyter_hpo_show_prints_the_provenance(home, project):
    launch_script(project, "shown")
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    text = subprocess.run([JUPYTER, "hpo", "show", "shown"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True).stdout
    assert f"provenance: code {project / 'train.py'} sha256 " in text
    assert f"provenance: input {project / 'data.bin'} (3,145,728 bytes, first MB sha256 " in text
    assert f"provenance: git {git(project, 'rev-parse', 'HEAD')} in {project}" in text
    as_json = json.loads(subprocess.run([JUPYTER, "hpo", "show", "shown", "--json"], cwd=REPO, env=env,
                                        capture_output=True, text=True, timeout=120, check=True).stdout)
    assert as_json["provenance"]["git"]["commit"] == git(project, "rev-parse", "HEAD")
    assert as_json["provenance"]["seed"] == 11
    assert as_json["provenance"]["packages"] == provenance._packages()


def test_sagemaker_inputs_are_identified_by_their_s3_etags_and_the_image_by_its_digest(tmp_path):
    import boto3
    from moto import mock_aws

    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train@sha256:" + "ab" * 32
    spec = {"trial": {"script": "train.py"}, "seed": 4,
            "backend": {"name": "sagemaker", "options": {"region": "us-east-1", "image": image,
                                                          "inputs": {"train": "s3://data/credit/"}}}}
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        etags = {key: s3.put_object(Bucket="data", Key=key, Body=body)["ETag"].strip('"')
                 for key, body in (("credit/a.csv", b"1,2\n"), ("credit/b.csv", b"3,4\n"))}
        s3.put_object(Bucket="data", Key="other/c.csv", Body=b"5")
        prov = provenance.collect({"owner": {"user": "u"}}, spec, tmp_path)
    assert prov["inputs"] == {"s3://data/credit/": etags}
    assert prov["image"] == {"uri": image, "digest": "sha256:" + "ab" * 32}
    assert prov["packages"] is None and prov["python"] is None, "the container's, not the runner's"
    assert prov["seed"] == 4 and prov["owner"] == {"user": "u"}


@pytest.fixture
def jp_server_config(home):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_hpo": True}}}


async def test_the_rest_job_detail_carries_the_provenance(jp_fetch, home, project):
    launch_script(project, "rest-prov")
    response = await jp_fetch("jupyter-hpo", "api", "jobs", "rest-prov")
    body = json.loads(response.body)
    assert body["provenance"]["code"]["sha256"] == hashlib.sha256((project / "train.py").read_bytes()).hexdigest()
    assert body["provenance"]["git"]["commit"] == git(project, "rev-parse", "HEAD")
    assert body["spec"]["name"] == "rest-prov" and "spec" not in body["provenance"]
    assert body["provenance"]["packages"] == provenance._packages()


def test_a_framework_image_is_recorded_as_describe_training_job_gives_it(home, tmp_path, monkeypatch):
    """A framework's image URI is resolved only when the training jobs are created (the SDK's lookup, replaced
    here by a pinned URI): the provenance takes it from the first trial's DescribeTrainingJob."""
    from jupyter_hpo.runner._runner import Runner
    from jupyter_hpo.sagemaker.options import SageMakerOptions

    pinned = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost@sha256:" + "cd" * 32
    monkeypatch.setattr(SageMakerOptions, "training_image", lambda self: pinned)
    monkeypatch.setattr("jupyter_hpo.runner.spawn_runner", lambda *a, **k: None)  # the runner runs in this process
    (tmp_path / "train.py").write_text(SCRIPT)
    job = api.launch({"name": "framework-image", "trial": {"script": str(tmp_path / "train.py")}, "space": SPACE_X,
                      "budget": {"max_trials": 2, "max_parallel": 1},
                      "backend": {"name": "sagemaker", "options": {
                          "framework": "xgboost", "framework_version": "1.7-1",
                          "simulate": {"executor": "model", "speed": 500, "training_s": 30}}}})
    assert Runner(job.store, job.name).run() == 0
    assert job.status == JobStatus.COMPLETED, job.attrs.get("reason")
    assert job.provenance["image"] == {"uri": pinned, "digest": "sha256:" + "cd" * 32}
