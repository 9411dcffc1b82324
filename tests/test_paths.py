"""Paths as users have them: several stores in one home, relative store URLs, homes whose names look like URL
syntax, `~` where no shell expands it, and an in-memory store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_hpo import JobStatus, api
from jupyter_hpo.exceptions import JobStateError, SpecError
from jupyter_hpo.store import Store, default_url
from tests import objectives

X = {"x": {"type": "float", "low": 0, "high": 1}}
JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def _launch(store: Store, name: str = "baseline", **options):
    options.setdefault("objective", objectives.quadratic)
    return api.launch(space=X, max_trials=2, max_parallel=1, name=name, store=store, **options)


def _unpicklable():
    """An objective refused as bad input once the launch has begun (it cannot be sent to workers)."""
    import threading

    lock = threading.Lock()
    return lambda p: float(lock.locked())


def test_two_stores_in_one_home_keep_their_jobs_files_apart(tmp_path, home):
    """Job folders are kept by home and name: store B's `baseline` wrote its models into store A's, whose
    best_model() then returned B's; and a launch into a third store refused as bad input deleted A's folder."""
    a = Store(f"sqlite:///{tmp_path}/projA.db", home=home)
    job = _launch(a)
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    folder = a.job_dir("baseline")
    before = sorted(p.name for p in folder.iterdir())
    assert "runner.log" in before and (folder / "store").read_text().strip() == a.shown_url
    b = Store(f"sqlite:///{tmp_path}/projB.db", home=home)
    with pytest.raises(JobStateError) as refused:
        _launch(b)
    assert str(refused.value) == (
        f"job name 'baseline' is taken on this machine: {folder} holds the files (models, runner log) of a job of "
        f"that name in the store at {a.shown_url}; choose another name, or remove that folder if its job is gone. "
        f"Nothing was written.")
    with pytest.raises(JobStateError, match="is taken on this machine"):  # a launch that would fail anyway
        _launch(b, objective=_unpicklable())
    assert b.job_names() == [] and sorted(p.name for p in folder.iterdir()) == before
    assert a.job_attrs("baseline")["status"] == "completed"
    assert _launch(b, name="baseline-b").wait(timeout=90) == JobStatus.COMPLETED  # another name is its own folder


def test_a_folder_another_store_takes_while_a_launch_runs_is_left_to_it(tmp_path, home, monkeypatch):
    """Two launches of one name into two stores of one home, at once: store A's marks the folder after store B's
    first look at it, and B's job exists by then. B's second look, as it makes the folder, reads the folder's
    `store` file: B is refused and A's models stay (B's existing job no longer passed for the folder's owner)."""
    a = Store(f"sqlite:///{tmp_path}/projA.db", home=home)
    b = Store(f"sqlite:///{tmp_path}/projB.db", home=home)
    create_job = Store.create_job

    def then_a_takes_the_folder(self, name, *args, **kwargs):
        study = create_job(self, name, *args, **kwargs)
        (a.make_job_folder(name) / "model.pkl").write_bytes(b"A's model")
        return study

    monkeypatch.setattr(Store, "create_job", then_a_takes_the_folder)
    with pytest.raises(JobStateError, match=f"in the store at {a.shown_url}; choose another name"):
        _launch(b)
    assert (b.job_dir("baseline") / "model.pkl").read_bytes() == b"A's model" and b.job_names() == []


def test_a_folder_an_earlier_launch_into_the_same_store_left_is_made_new(tmp_path, home):
    """A launch cut short (killed between its steps) can leave its folder after its job is gone: a new launch of
    that name into that store is no collision; it starts from an empty folder."""
    store = Store(f"sqlite:///{tmp_path}/proj.db", home=home)
    store.make_job_folder("again")
    (store.job_dir("again") / "runner.log").write_text("an old run\n")
    job = _launch(store, name="again")
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    assert "an old run" not in (store.job_dir("again") / "runner.log").read_text()


def test_a_folder_of_an_older_version_is_not_written_into(tmp_path, home):
    """A folder from before folders named their store may be another store's job: refused, with what to do."""
    store = Store(f"sqlite:///{tmp_path}/proj.db", home=home)
    old = store.job_dir("old")
    (old / "artifacts" / "0").mkdir(parents=True)
    with pytest.raises(JobStateError, match=r"holds the files \(models, runner log\) of a job of that name in "
                                            r"another store; choose another name, or remove that folder"):
        _launch(store, name="old")
    assert (old / "artifacts" / "0").is_dir() and store.job_names() == []


@pytest.mark.parametrize("folder", ["100%41", "run?v=2", "a#b"])
def test_a_home_whose_name_looks_like_url_syntax_keeps_its_store_inside(tmp_path, monkeypatch, folder):
    """The default store's URL was the home's path as it is: SQLAlchemy read `%41` as `A` and `?` as a query, so
    `100%41` kept its jobs' folders there and its store in `100A/store.db`."""
    home = tmp_path / folder
    monkeypatch.setenv("JUPYTER_HPO_HOME", str(home))
    monkeypatch.delenv("JUPYTER_HPO_STORE_URL", raising=False)
    store = Store(default_url(home), home=home)
    store.create_job("j", {"backend": {"name": "local"}}, "maximize")
    store.close()
    assert (home / "store.db").is_file() and sorted(p.name for p in tmp_path.iterdir()) == [folder]


def test_a_relative_store_url_names_one_store_from_every_folder(tmp_path, home, monkeypatch):
    """A runner starts in the job's launch folder: handed `sqlite:///../proj/hpo.db` as typed in a subfolder, a
    resume's runner opened a new store beside that folder and died, and the job read "stale"."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "work" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    store = Store("sqlite:///../proj/hpo.db", home=home)
    assert store.url == f"sqlite:///{tmp_path}/proj/hpo.db"
    job = _launch(store, name="rel")
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    env = {**os.environ, "JUPYTER_HPO_HOME": str(home)}
    env.pop("JUPYTER_HPO_STORE_URL", None)
    out = subprocess.run([JUPYTER, "hpo", "--store", "sqlite:///../../proj/hpo.db", "resume", "rel",
                          "--max-trials", "4"], cwd=tmp_path / "work" / "sub", env=env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(api.attach("rel", store=store).trial_records()) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hpo-home", "proj", "work"]  # no second store


def test_a_job_on_an_in_memory_store_is_refused_in_one_line(home):
    """Its runner, a process of its own, opened an empty store of its own and died; the job read "stale", with
    advice to resume it that could never work."""
    for url in ("sqlite://", "sqlite:///:memory:"):
        store = Store(url, home=home)
        with pytest.raises(SpecError, match=r"a job cannot run on an in-memory store \(sqlite://.*\): its runner is "
                                            r"a process of its own"):
            _launch(store)
        assert store.job_names() == [] and not store.job_dir("baseline").exists()


def test_a_spec_path_and_a_function_file_may_start_with_a_tilde(tmp_path, home, monkeypatch):
    """No shell expands `~` in `hpo.launch("~/specs/x.yaml")` or `%hpo launch ~/...`; `trial.script` took it,
    a spec path and a `trial.function` file did not."""
    me = tmp_path / "me"
    (me / "specs").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(me))
    (me / "obj.py").write_text("def f(p):\n    return p['x']\n")
    (me / "specs" / "t.yaml").write_text("name: tilde\ntrial: {function: '~/obj.py:f'}\n"
                                         "space: {x: {type: float, low: 0, high: 1}}\nbudget: {max_trials: 2}\n")
    job = api.launch("~/specs/t.yaml")
    assert job.wait(timeout=90) == JobStatus.COMPLETED and len(job.trial_records()) == 2
