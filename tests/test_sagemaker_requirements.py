"""A ``requirements.txt`` in the trial's source folder is installed once per warm pool (issue 11, part 8).

The SageMaker training toolkit installs ``requirements.txt`` at every job start, so every warm trial paid
for it again. The archive now carries it under another name with jupyter-hpo's entry wrapper as the
program: on a pool the wrapper installs into the pool's persistent cache and leaves a marker there, and
a later trial on that pool reuses it. These run REAL pip offline: ``pyyaml`` is already in this venv
(pip answers "Requirement already satisfied"), a wheel built here is not (it can only be imported from
the pool's cache), and a path that does not exist makes pip fail.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from jupyter_hpo import api
from jupyter_hpo.cli import main
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker import SageMakerOptions, simulated_clients
from jupyter_hpo.sagemaker.outcome import LogTail
from jupyter_hpo.sagemaker.packaging import package_source, source_and_entry
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import JobStatus
from tests.sagemaker_specs import IMAGE, ROLE

DEMO = "hpo_req_demo"
TRAIN = f"""import argparse, os, sys
import yaml
try:
    import {DEMO}
    bonus = {DEMO}.BONUS
except ImportError:
    bonus = 0.0
p = argparse.ArgumentParser()
p.add_argument("--eta", type=float)
args = p.parse_args()
print("argv", sys.argv, "cwd", os.getcwd(), "name", __name__)
print("auc=" + repr(0.5 + args.eta + bonus))
"""


def demo_wheel(folder: Path) -> str:
    """A wheel of a package that is not installed in this venv (``BONUS = 0.25``); its file name."""
    name = f"{DEMO}-1.0-py3-none-any.whl"
    info = f"{DEMO}-1.0.dist-info"
    files = {f"{DEMO}/__init__.py": "BONUS = 0.25\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {DEMO}\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / name, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return name


def source(tmp_path: Path, requirements: str | None) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text(TRAIN)
    if requirements is not None:
        (src / "requirements.txt").write_text(requirements)
    return src


def spec_dict(tmp_path: Path, name: str, requirements: str | None, *, trials: int = 4, keep_alive: int = 600,
              **options):
    src = source(tmp_path, requirements)
    return {
        "name": name, "trial": {"script": str(src / "train.py")},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "objective": {"metric": "auc", "direction": "maximize"}, "early_stopping": "off",
        "budget": {"max_trials": trials, "max_parallel": 1}, "seed": 1,
        "backend": {"name": "sagemaker", "options": {
            "role": ROLE, "image": IMAGE, "s3_prefix": "s3://bkt/hpo", "poll_s": 5, "keep_alive_s": keep_alive,
            "simulate": {"executor": "script", "speed": 40, "s3_root": str(tmp_path / "s3"), "cold_startup_s": 240,
                         "warm_startup_s": 5}, **options}},
    }


def sagemaker_attrs(job):
    return [t.user_attrs["sagemaker"] for t in sorted(job.raw_trials(), key=lambda t: t.number)]


def unpack(tmp_path: Path, spec: TuningSpec, src: Path) -> tuple[list[str], Path]:
    code = tmp_path / "code"
    with tarfile.open(fileobj=io.BytesIO(package_source(src, spec)), mode="r:gz") as tar:
        names = tar.getnames()
        tar.extractall(code, filter="data")
    return names, code


# -- the archive and the request ---------------------------------------------------------------------
def test_the_archive_renames_requirements_and_the_wrapper_is_the_program(tmp_path):
    spec = TuningSpec.from_dict(spec_dict(tmp_path, "req", "pyyaml\n"))
    names, code = unpack(tmp_path, spec, tmp_path / "src")
    assert "requirements.txt" not in names  # the toolkit would install it at every job start
    assert {"jupyter_hpo_requirements.txt", "jupyter_hpo_entry.py", "jupyter_hpo/_entry.py", "train.py"} <= set(names)
    assert (code / "jupyter_hpo_requirements.txt").read_text() == "pyyaml\n"
    assert source_and_entry(spec, SageMakerOptions.from_spec(spec))[1] == "jupyter_hpo_entry.py"


def test_without_requirements_the_script_is_the_program_and_nothing_is_added(tmp_path):
    spec = TuningSpec.from_dict(spec_dict(tmp_path, "plain", None))
    names, _ = unpack(tmp_path, spec, tmp_path / "src")
    assert not {"jupyter_hpo_entry.py", "jupyter_hpo/_entry.py", "jupyter_hpo_requirements.txt"} & set(names)
    assert source_and_entry(spec, SageMakerOptions.from_spec(spec))[1] == "train.py"


def test_the_plan_shows_the_wrapper_as_the_program(tmp_path, capsys):
    data = spec_dict(tmp_path, "req-plan", "pyyaml\n")
    del data["backend"]["options"]["simulate"]
    plan = api.plan(data)
    assert plan["requests"][1]["params"]["HyperParameters"]["sagemaker_program"] == "jupyter_hpo_entry.py"
    import yaml

    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data))
    assert main(["plan", str(tmp_path / "spec.yaml")]) == 0
    assert '"sagemaker_program": "jupyter_hpo_entry.py"' in capsys.readouterr().out


def test_a_source_file_named_like_the_wrapper_is_refused(tmp_path):
    spec = TuningSpec.from_dict(spec_dict(tmp_path, "clash", "pyyaml\n"))
    (tmp_path / "src" / "jupyter_hpo_entry.py").write_text("print('mine')\n")
    with pytest.raises(SpecError, match=r"holds 'jupyter_hpo_entry.py', a name jupyter-hpo gives its entry wrapper"):
        source_and_entry(spec, SageMakerOptions.from_spec(spec))


def test_the_wrapper_runs_the_script_as_the_toolkit_would(tmp_path):
    """Same argv, cwd, __main__, output and exit code as ``python train.py --eta 0.1`` in the code folder."""
    spec = TuningSpec.from_dict(spec_dict(tmp_path, "same", "pyyaml\n"))
    (tmp_path / "src" / "train.py").write_text(TRAIN + "sys.exit(3)\n")
    _, code = unpack(tmp_path, spec, tmp_path / "src")

    def run(program):
        return subprocess.run([sys.executable, program, "--eta", "0.1"], cwd=code, capture_output=True, text=True,
                              timeout=120, check=False)

    direct, wrapped = run("train.py"), run("jupyter_hpo_entry.py")
    assert (wrapped.returncode, direct.returncode) == (3, 3)
    script_lines = [line for line in wrapped.stdout.splitlines() if line.startswith(("argv", "auc="))]
    assert script_lines == direct.stdout.splitlines()
    assert "jupyter-hpo: requirements installed (" in wrapped.stdout  # no pool: pip ran, as the toolkit does


# -- end to end on the simulated SageMaker, real pip -----------------------------------------------------
def test_on_a_warm_pool_the_first_trial_installs_and_the_warm_ones_reuse(home, tmp_path):
    wheel = demo_wheel(tmp_path / "src" / "wheels")
    job = api.launch(spec_dict(tmp_path, "req-pool", f"pyyaml\n./wheels/{wheel}\n"))
    assert job.wait(timeout=300) == JobStatus.COMPLETED, job.attrs.get("reason")
    records = job.trial_records()
    assert [r["state"] for r in records] == ["complete"] * 4
    assert [r["warm"] for r in records] == [False, True, True, True]
    attrs = sagemaker_attrs(job)
    assert [a["requirements"] for a in attrs] == ["installed", "reused", "reused", "reused"]
    assert all(a["requirements_s"] >= 0 for a in attrs)
    # the wheel's package is not in this venv: the warm trials imported it from the pool's cache
    assert [r["value"] for r in records] == [pytest.approx(0.75 + r["params"]["eta"]) for r in records]
    assert subprocess.run([sys.executable, "-c", f"import {DEMO}"], capture_output=True, check=False).returncode == 1


def test_without_keep_alive_every_trial_installs(home, tmp_path):
    job = api.launch(spec_dict(tmp_path, "req-cold", "pyyaml\n", trials=3, keep_alive=0))
    assert job.wait(timeout=300) == JobStatus.COMPLETED, job.attrs.get("reason")
    assert [r["warm"] for r in job.trial_records()] == [False, False, False]
    assert [a["requirements"] for a in sagemaker_attrs(job)] == ["installed"] * 3


def test_a_failing_pip_fails_the_trial_in_one_line_and_leaves_no_marker(home, tmp_path):
    job = api.launch(spec_dict(tmp_path, "req-bad", f"{tmp_path / 'no-such-package'}\n", trials=2))
    job.wait(timeout=300)
    records = job.trial_records()
    assert [r["state"] for r in records] == ["fail", "fail"]
    for r in records:
        assert r["error"].startswith("requirements.txt could not be installed (pip exited 1: ERROR: Invalid "
                                     "requirement")
        assert "\n" not in r["error"]
    attrs = sagemaker_attrs(job)
    # the second trial ran on the first one's pool and installed again: the failed install left no marker
    assert attrs[1]["reused_pool_of"] == attrs[0]["training_job"]
    assert [a["requirements"] for a in attrs] == ["failed", "failed"]


def test_network_isolation_still_works_with_requirements(home, tmp_path):
    """With what the image already holds (pyyaml here); the plan notes that an isolated container has no
    network to install anything else."""
    data = spec_dict(tmp_path, "req-iso", "pyyaml\n", trials=2, enable_network_isolation=True)
    notes = api.plan(data)["notes"]
    assert any("enable_network_isolation: true" in n and "has no network" in n for n in notes), notes
    assert not any("has no network" in n for n in api.plan(spec_dict(tmp_path, "req-open", "pyyaml\n"))["notes"])
    job = api.launch(data)
    assert job.wait(timeout=300) == JobStatus.COMPLETED, job.attrs.get("reason")
    assert [a["requirements"] for a in sagemaker_attrs(job)] == ["installed", "reused"]


def test_a_changed_requirements_file_installs_again_on_the_same_pool(tmp_path):
    """Three training jobs on one pool: the same requirements are reused, a changed file installs again."""
    clients = simulated_clients({"s3_root": str(tmp_path / "s3"), "executor": "script", "speed": 40,
                                 "cold_startup_s": 60, "warm_startup_s": 2})
    spec = TuningSpec.from_dict(spec_dict(tmp_path, "req-change", "pyyaml\n"))
    lines, pools = [], []
    try:
        for n, requirements in enumerate(["pyyaml\n", "pyyaml\n", "pyyaml>=5\n"]):
            (tmp_path / "src" / "requirements.txt").write_text(requirements)
            clients.s3.put_object(Bucket="bkt", Key=f"code/{n}.tar.gz", Body=package_source(tmp_path / "src", spec))
            name = f"req-change-{n}"
            clients.sagemaker.create_training_job(
                TrainingJobName=name, RoleArn=ROLE,
                AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                HyperParameters={"sagemaker_program": "jupyter_hpo_entry.py", "eta": "0.1",
                                 "sagemaker_submit_directory": f"s3://bkt/code/{n}.tar.gz"},
                OutputDataConfig={"S3OutputPath": "s3://bkt/out"}, StoppingCondition={"MaxRuntimeInSeconds": 600},
                ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30,
                                "KeepAlivePeriodInSeconds": 600})
            for _ in range(1200):  # until the job ended and its pool is Available (simulated seconds)
                desc = clients.sagemaker.describe_training_job(TrainingJobName=name)
                if (desc.get("WarmPoolStatus") or {}).get("Status") == "Available":
                    break
                clients.clock.sleep(5)
            assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
            pools.append((desc.get("WarmPoolStatus") or {}).get("Status"))
            lines.append([line for line in LogTail(clients.logs, name).read() if line.startswith("jupyter-hpo:")])
        reused = [clients.sagemaker.describe_training_job(TrainingJobName=f"req-change-{n}")["WarmPoolStatus"]
                  .get("ReusedByJob") for n in range(2)]
    finally:
        clients.sim.close()
    assert reused == ["req-change-1", "req-change-2"]  # one pool passed from job to job
    assert [line[0].split(" (")[0] for line in lines] == [
        "jupyter-hpo: requirements installed",
        "jupyter-hpo: requirements already installed on this warm pool",
        "jupyter-hpo: requirements installed"]


def test_on_a_pool_pip_installs_into_the_persistent_cache_with_its_cache_beside(tmp_path, monkeypatch, capsys):
    from jupyter_hpo.sagemaker import _entry

    cache = tmp_path / "warmpoolcache"
    cache.mkdir()
    monkeypatch.setenv(_entry.CACHE_ENV, str(cache))
    requirements = tmp_path / _entry.REQUIREMENTS
    requirements.write_text(f"./{demo_wheel(tmp_path)}\n")
    commands, real_popen = [], subprocess.Popen

    def recording_popen(command, **kwargs):
        commands.append(command)
        return real_popen(command, **kwargs)

    monkeypatch.setattr(_entry.subprocess, "Popen", recording_popen)
    env: dict[str, str] = {}
    _entry.install(requirements, env)
    folder = cache / "jupyter_hpo" / f"requirements-{_entry.requirements_hash(requirements)}"
    assert commands[0][-4:] == ["--cache-dir", str(cache / "pip"), "--prefix", str(folder / "env")]
    assert (folder / "installed.json").is_file()
    site = env["PYTHONPATH"].split(":")[0]
    assert (Path(site) / DEMO / "__init__.py").is_file() and Path(site).is_relative_to(folder)
    _entry.install(requirements, env2 := {})  # the next job on the pool: no pip, the same folder on the path
    assert len(commands) == 1 and env2["PYTHONPATH"] == site
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "jupyter-hpo: requirements already installed on this warm pool (")


def test_the_hash_covers_the_file_the_interpreter_and_its_packages(tmp_path, monkeypatch):
    from importlib import metadata

    from jupyter_hpo.sagemaker import _entry

    requirements = tmp_path / "r.txt"
    requirements.write_text("pyyaml\n")
    first = _entry.requirements_hash(requirements)
    assert _entry.requirements_hash(requirements) == first
    requirements.write_text("pyyaml>=5\n")
    assert _entry.requirements_hash(requirements) != first
    requirements.write_text("pyyaml\n")
    monkeypatch.setattr(sys, "version", "3.99.0 (another image)")
    assert _entry.requirements_hash(requirements) != first
    monkeypatch.undo()
    fewer = list(metadata.distributions())[1:]  # an image without one of these packages
    monkeypatch.setattr(metadata, "distributions", lambda: fewer)
    assert _entry.requirements_hash(requirements) != first
