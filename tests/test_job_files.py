"""A script's folder as the store keeps it and SageMaker gets it: what is packed, what is refused, how it comes
back on another machine."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from jupyter_hpo import api
from jupyter_hpo._job_files import pack_folder
from jupyter_hpo.exceptions import SpecError, StoreError
from jupyter_hpo.spec import TuningSpec
from jupyter_hpo.store import Store

X = {"x": {"type": "float", "low": 0, "high": 1}}
SCRIPT = "import argparse\np = argparse.ArgumentParser(); p.add_argument('--x', type=float)\n" \
         "print(f'loss={p.parse_args().x}')\n"


def _members(data: bytes) -> dict[str, int]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m.mode for m in tar.getmembers()}


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """A user's home with what homes hold: an SSH key, cloud credentials."""
    home = tmp_path / "user"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = s3cret\n")
    monkeypatch.setenv("HOME", str(home))
    return home


def test_a_script_in_the_home_folder_is_refused_before_anything_is_made(home, user_home):
    """With ~/train.py (a notebook server's usual working folder) the whole home was packed into the store, SSH
    keys and credentials among it, which every member of a team store can read."""
    (user_home / "train.py").write_text(SCRIPT)
    with pytest.raises(SpecError, match=r"^the script's folder \('.*/user'\) is your home folder, and it would be "
                                        r"packed whole into the store \(which everyone using it can read\), with your "
                                        r"SSH keys, cloud credentials and Jupyter's tokens; move the script"):
        api.launch(objective=str(user_home / "train.py"), space=X, max_trials=1, name="from-home")
    assert api.list_jobs() == [] and not (home / "jobs" / "from-home").exists()
    (user_home / "project").mkdir()
    (user_home / "project" / "train.py").write_text(SCRIPT)
    packed = _members(pack_folder(user_home / "project", 10**6))
    assert list(packed) == ["train.py"]


def test_the_folder_uploaded_to_sagemaker_may_not_be_the_home_folder(user_home):
    from jupyter_hpo.sagemaker.packaging import package_source

    (user_home / "train.py").write_text(SCRIPT)
    spec = TuningSpec.from_dict({"trial": {"script": str(user_home / "train.py")}, "space": X})
    with pytest.raises(SpecError, match=r"^the folder uploaded to SageMaker \(`backend.options.source_dir`, else the "
                                        r"script's folder\) \('.*/user'\) is your home folder, and it would be "
                                        r"packed whole into sourcedir.tar.gz on S3"):
        package_source(user_home, spec)


def test_both_packs_hold_a_linked_file_as_its_content_and_leave_out_the_same_folders(home, tmp_path, monkeypatch):
    """A linked helper (`helper.py -> ../shared/helper.py`) was left out of the store's pack (a resume elsewhere
    failed to import it) and shipped to SageMaker as a link pointing outside the archive; a venv/ went to SageMaker
    with its absolute links; jupyter-hpo's home inside the folder went too, with the store."""
    from jupyter_hpo.sagemaker.packaging import package_source

    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "helper.py").write_text("SHIFT = 1\n")
    project = tmp_path / "project"
    (project / "venv" / "bin").mkdir(parents=True)
    (project / "venv" / "bin" / "python").symlink_to("/usr/bin/python3")
    (project / "helper.py").symlink_to("../shared/helper.py")
    with open(tmp_path / "shared" / "big.csv", "wb") as f:  # a data set linked into the project: read by its path
        f.truncate(2**20 + 1)
    (project / "data.csv").symlink_to(tmp_path / "shared" / "big.csv")
    (project / "train.py").write_text(SCRIPT)
    (project / "hpo-home").mkdir()
    (project / "hpo-home" / "store.db").write_bytes(b"jobs")
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(project / "hpo-home"))
    kept = _members(pack_folder(project, 10**6, exclude=(project / "hpo-home",)))
    assert sorted(kept) == ["helper.py", "train.py"]
    spec = TuningSpec.from_dict({"trial": {"script": str(project / "train.py")}, "space": X})
    with tarfile.open(fileobj=io.BytesIO(package_source(project, spec)), mode="r:gz") as tar:
        mine = {m.name: m for m in tar.getmembers() if not m.name.startswith("jupyter_hpo")}
        assert sorted(n for n in mine if not n.endswith(".json")) == ["helper.py", "train.py"]
        assert mine["helper.py"].isfile() and tar.extractfile("helper.py").read() == b"SHIFT = 1\n"


def test_a_file_only_its_owner_may_read_stays_so_when_unpacked(home, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o755)
    (project / "token.txt").write_text("s3cret\n")
    (project / "token.txt").chmod(0o600)
    src = Store(home=home)
    src.create_job("modes", {"backend": {"name": "local"}, "trial": {"script": str(project / "train.py")}},
                   "minimize")
    src.keep_source("modes", str(project / "train.py"))
    (project / "train.py").unlink()  # as on another machine: the kept folder is unpacked
    moved = Path(src.spec_here("modes")["trial"]["script"]).parent
    modes = {p.name: p.stat().st_mode & 0o777 for p in moved.iterdir()}
    assert modes == {"train.py": 0o644, "run.sh": 0o755, "token.txt": 0o600}


def test_a_damaged_kept_folder_is_one_line_on_resume_and_leaves_nothing_behind(home, tmp_path):
    """A truncated blob came out of `resume` as a 42-line EOFError traceback and left a .tmp folder."""
    import sqlalchemy as sa

    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    store = Store(home=home)
    store.create_job("damaged", {"backend": {"name": "local"}, "trial": {"script": str(project / "train.py")}},
                     "minimize")
    store.keep_source("damaged", str(project / "train.py"))
    digest = store.job_attrs("damaged")["source"]["sha256"]
    with store.engine.begin() as con:
        name = next(n for n in sa.inspect(con).get_table_names() if "blob" in n)
        con.execute(sa.text(f"UPDATE {name} SET data = :d WHERE sha256 = :s"), {"d": b"\x1f\x8b\x08truncated",
                                                                                 "s": digest})
    (project / "train.py").unlink()
    with pytest.raises(StoreError, match=r"^job 'damaged''s script folder in the store at .* is damaged \(its content "
                                         r"does not match its sha256 .{12}\.\.\.\); resume it where the script is"):
        store.spec_here("damaged")
    assert list((home / "jobs").glob("**/.source-*")) == [] and list((home / "jobs").glob("**/source-*")) == []


def test_a_file_that_cannot_be_read_is_named_at_launch(home, tmp_path, monkeypatch):
    """An unreadable file in the script's folder made `launch` print a PermissionError traceback."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    (project / "notes.txt").write_text("mine\n")
    real_open = Path.open

    def refuse_notes(self, *args, **kwargs):
        if self.name == "notes.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse_notes)
    with pytest.raises(SpecError, match=r"^cannot read '.*/notes.txt' in the script's folder '.*/project' "
                                        r"\(Permission denied\): every file in it is packed with the script"):
        api.launch(objective=str(project / "train.py"), space=X, max_trials=1, name="unreadable")
    assert api.list_jobs() == []


def test_a_resume_that_runs_another_script_than_the_launch_says_so(home, tmp_path):
    """Resume runs the file at the job's script path when there is one (an edit since launch, or a teammate's own
    train.py at the same path): trials of two programs shared the job, and nothing said so."""
    from jupyter_hpo.store import JobStatus

    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    job = api.launch({"name": "edited", "trial": {"script": str(project / "train.py")}, "space": X, "seed": 0,
                      "objective": {"metric": "loss", "direction": "minimize"}, "budget": {"max_trials": 2}})
    assert job.wait(timeout=90) == JobStatus.COMPLETED

    def notes() -> list[str]:
        return [n["text"] for n in job.attrs.get("notes") or [] if "is not the one this job was launched" in n["text"]]

    job.resume(max_trials=3)
    assert job.wait(timeout=90) == JobStatus.COMPLETED and notes() == []  # the same script: nothing to say
    (project / "train.py").write_text(SCRIPT.replace("p.parse_args().x", "p.parse_args().x + 1"))
    job.resume(max_trials=4)
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    [note] = notes()
    assert note.startswith(f"the script {project / 'train.py'} is not the one this job was launched with (sha256 ")
    assert note.endswith("now): this run's trials run it as it is now, the earlier ones ran the launch's version")
