"""``jupyter hpo store info`` and ``jupyter hpo store copy`` (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from jupyter_hpo import api, cli
from jupyter_hpo.exceptions import JobStateError, SpecError
from jupyter_hpo.store import SCHEMA_VERSION, JobStatus, Store
from jupyter_hpo.store_cli import copy_jobs, store_info
from tests import objectives
from tests.postgres import PostgresServer

X = {"x": {"type": "float", "low": 0, "high": 1}}


def test_store_info_names_kind_location_schemas_and_counts(home, capsys):
    job = api.launch(objective=objectives.quadratic, space=X, max_trials=3, seed=0, name="info-a")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    assert cli.main(["store", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "sqlite" and info["location"] == f"sqlite:///{home / 'store.db'}"
    assert info["schema"]["jobs"] == SCHEMA_VERSION and info["schema"]["jobs_found"] == {"1": 1}  # a plain job
    assert info["schema"]["optuna"] == info["schema"]["optuna_head"]
    assert (info["jobs"], info["jobs_by_status"], info["trials"], info["trials_by_state"]) == (
        1, {"completed": 1}, 3, {"complete": 3})
    assert info["files"] == 2 and info["file_bytes"] > 0, "the pickled objective and the package list are kept"
    assert cli.main(["store", "info"]) == 0
    text = capsys.readouterr().out
    assert "kind      sqlite" in text and "trials    3 (complete 3)" in text


def test_store_info_counts_every_jobs_trials_in_as_many_statements_for_8_jobs_as_for_2(home):
    """It asked Optuna 5 times per job, each reading all of the job's trials: 4,566 statements, 4.9 s of CPU and
    160 MB for a store of 300 jobs. A study that is not a job (Optuna's own, in the same database) is not counted."""
    import optuna
    import sqlalchemy as sa
    from optuna.trial import TrialState, create_trial

    from jupyter_hpo.spec import TuningSpec
    from jupyter_hpo.store import Store
    from jupyter_hpo.store_cli import store_info

    store = api.open_store()
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def add_jobs(first: int, n: int) -> None:
        for i in range(first, first + n):
            spec = TuningSpec.from_dict({"name": f"j{i}", "trial": {"function": "tests.objectives:quadratic"},
                                         "space": X, "budget": {"max_trials": 3}})
            store.create_job(f"j{i}", spec.to_dict(), "maximize")
            study = optuna.load_study(study_name=f"j{i}", storage=store.storage)
            for state in (TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED):
                study.add_trial(create_trial(state=state, value=0.5 if state == TrialState.COMPLETE else None,
                                             params={"x": 0.5}, distributions=dist))

    optuna.create_study(study_name="not-a-job", storage=store.storage).add_trial(
        create_trial(state=TrialState.COMPLETE, value=1.0, params={"x": 0.5}, distributions=dist))
    counts = []
    for first, n in ((0, 2), (2, 6)):
        add_jobs(first, n)
        fresh = Store(store.url)
        statements: list[str] = []
        sa.event.listen(fresh.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        info = store_info(fresh)
        counts.append(len(statements))
        assert (info["jobs"], info["trials"], info["trials_by_state"]) == (
            first + n, 3 * (first + n), {"complete": 2 * (first + n), "pruned": first + n})
    assert counts[0] == counts[1], counts


def test_a_job_using_a_field_added_since_schema_1_is_refused_by_a_reader_of_schema_1(home, monkeypatch):
    """A reader of schema 1 (an older jupyter-hpo on a team's store) showed a job of several objectives as one of
    a single objective, and resumed jobs with newer fields into runners that died on them. Such a job is stamped
    schema 2, which that reader refuses in one line; a job that uses none is stamped 1, and it still opens it."""
    from jupyter_hpo import store as store_module
    from jupyter_hpo.exceptions import JobStateError

    plain = api.launch(objective=objectives.quadratic, space=X, max_trials=2, seed=0, name="plain")
    constrained = api.launch(objective=objectives.quadratic, space=X, max_trials=2, seed=0, name="bounded",
                             constraints={"value": {"max": 10}})
    for job in (plain, constrained):
        job.wait(timeout=60)
    assert (plain.attrs["schema"], constrained.attrs["schema"]) == (1, 2)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 1)  # as a version that reads schema 1 opens them
    assert api.attach("plain").summary()["name"] == "plain"
    with pytest.raises(JobStateError, match=r"job 'bounded' was written by a newer jupyter-hpo \(attribute schema "
                                            r"2; this one reads up to 1\): upgrade jupyter-hpo to open it\."):
        api.attach("bounded").summary()


def test_store_info_of_a_store_that_is_not_there_is_refused_and_creates_nothing(home, tmp_path, capsys):
    """`store info --store sqlite:///typo.db` created an empty store there and described it."""
    missing = tmp_path / "typo.db"
    assert cli.main(["store", "info", "--store", f"sqlite:///{missing}"]) == 2
    assert capsys.readouterr().err == (f"error: --store names no store: {missing} does not exist; nothing was "
                                       "created.\n")
    assert not missing.exists()


def test_store_info_masks_a_password(postgres_server: PostgresServer, postgres_url, capsys):
    postgres_server.sql("CREATE ROLE alice LOGIN SUPERUSER PASSWORD 's3cret-pw'")
    url = postgres_url.replace("//hpo@", "//alice:s3cret-pw@")
    assert cli.main(["--store", url, "store", "info"]) == 0
    out = capsys.readouterr().out
    assert "kind      postgresql" in out and "alice:***@127.0.0.1" in out and "s3cret-pw" not in out
    # the password as a query parameter, as libpq also takes it
    url = postgres_url.replace("//hpo@", "//alice@") + "?password=s3cret-pw"
    assert cli.main(["--store", url, "store", "info"]) == 0
    out = capsys.readouterr().out
    assert "kind      postgresql" in out and "?password=***" in out and "s3cret-pw" not in out


def test_a_job_copied_from_sqlite_to_postgresql_is_resumed_there_from_another_home(
        home, tmp_path, postgres_url, capsys):
    job = api.launch(objective=objectives.quadratic, space=X, max_trials=4, seed=0, name="laptop-job")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    before = job.trial_records()
    src = f"sqlite:///{home / 'store.db'}"
    assert cli.main(["store", "copy", src, postgres_url]) == 0
    assert capsys.readouterr().out.strip() == "copied 1 job(s): laptop-job"

    team = api.attach("laptop-job", store=Store(postgres_url, home=tmp_path / "elsewhere"))
    assert team.trial_records() == before and team.attrs["spec"] == job.attrs["spec"]
    packages = team.provenance["packages"]  # the package list comes along from the source's blob table
    assert packages == job.provenance["packages"] and packages["optuna"] == optuna.__version__
    team.resume(max_trials=6)
    assert team.wait(timeout=60) == JobStatus.COMPLETED, team.attrs.get("reason")
    after = team.trial_records()
    assert [r["state"] for r in after] == ["complete"] * 6 and after[:4] == before
    assert len(job.trial_records()) == 4, "the source store is left as it was"


def test_copy_refuses_a_running_job_and_a_name_the_destination_has(home, tmp_path):
    src, dst = Store(home=home), Store(home=tmp_path / "dst")
    src.create_job("busy", {"backend": {"name": "local"}}, "maximize")
    src.create_job("done", {"backend": {"name": "local"}}, "minimize")
    src.set_job_attrs("done", status="completed")
    with pytest.raises(JobStateError, match="a job must not be running while it is copied, but 'busy' is pending"):
        copy_jobs(src, dst)
    assert dst.job_names() == [], "nothing is copied when one job cannot be"
    assert copy_jobs(src, dst, ["done"]) == ["done"]
    assert dst.storage.get_study_directions(dst.study_id("done"))[0].name == "MINIMIZE"
    with pytest.raises(JobStateError, match="a job named 'done' already exists in the store at sqlite:///"):
        copy_jobs(src, dst, ["done"])
    assert store_info(dst)["jobs_by_status"] == {"completed": 1}


def test_copy_refuses_a_job_named_twice_before_copying_any(home, tmp_path, capsys):
    src = Store(home=home)
    for name in ("job-a", "job-b"):
        src.create_job(name, {"backend": {"name": "local"}}, "minimize")
        src.set_job_attrs(name, status="completed")
    dst_file = tmp_path / "dst" / "store.db"
    src_url, dst_url = f"sqlite:///{home / 'store.db'}", f"sqlite:///{dst_file}"
    assert cli.main(["store", "copy", src_url, dst_url, "job-b", "job-a", "job-a"]) == 2
    assert capsys.readouterr().err == ("error: each job to copy must be named once, but 'job-a' is named more than "
                                       "once; nothing was copied.\n")
    assert not dst_file.exists(), "nothing is written on refused input"
    dst = Store(home=tmp_path / "dst")
    with pytest.raises(SpecError, match="each job to copy must be named once, but 'job-a' is named more than once"):
        copy_jobs(src, dst, ["job-a", "job-a"])
    assert dst.job_names() == [], "nothing was copied"


def test_a_copy_cut_short_by_ctrl_c_leaves_no_half_job_and_can_be_run_again(home, tmp_path, capsys, monkeypatch):
    """Ctrl-C part-way through a job's trials left the job in the destination with the source's status
    ("completed", most trials missing, no objective): a copy again was refused ("already exists") and a resume
    failed every trial."""
    for name in ("job-a", "job-b"):
        job = api.launch(objective=objectives.quadratic, space=X, max_trials=4, seed=0, name=name)
        assert job.wait(timeout=60) == JobStatus.COMPLETED
    src_url, dst_url = f"sqlite:///{home / 'store.db'}", f"sqlite:///{tmp_path / 'dst.db'}"
    create_trial, made = Store.create_trial, []

    def ctrl_c_at_the_6th_trial(self, name, trial):
        made.append(name)
        if len(made) == 6:
            raise KeyboardInterrupt
        return create_trial(self, name, trial)

    monkeypatch.setattr(Store, "create_trial", ctrl_c_at_the_6th_trial)
    assert cli.main(["store", "copy", src_url, dst_url, "job-a", "job-b"]) == 130
    assert capsys.readouterr().err == (f"interrupted: job 'job-b' was not copied (nothing of it is left in the store "
                                       f"at {dst_url}); copied before it: job-a\n")
    dst = Store(dst_url, home=tmp_path / "dst")
    assert dst.job_names() == ["job-a"] and len(dst.trials("job-a")) == 4
    monkeypatch.setattr(Store, "create_trial", create_trial)
    # Ctrl-C inside the job's creation, between its study and its attributes: a study without a job was left,
    # hidden from `list`, its name taken ("a job named 'job-b' already exists" at every copy again)
    put_attrs = Store._put_attrs

    def ctrl_c_at_the_attributes(self, study_id, values):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "_put_attrs", ctrl_c_at_the_attributes)
    assert cli.main(["store", "copy", src_url, dst_url, "job-b"]) == 130
    assert optuna.get_all_study_names(dst_url) == ["job-a"]
    monkeypatch.setattr(Store, "_put_attrs", put_attrs)
    assert cli.main(["store", "copy", src_url, dst_url, "job-b"]) == 0
    assert len(dst.trials("job-b")) == 4 and Store.status_of(dst.job_attrs("job-b")) == JobStatus.COMPLETED


def test_copy_from_a_store_that_is_not_there_is_refused_and_creates_nothing(home, tmp_path, capsys):
    """A mistyped source made an empty store at that path (its folder too) and said "copied 0 job(s): -", exit 0."""
    typo, dst_file = tmp_path / "typo_dir" / "src.db", tmp_path / "dst" / "store.db"
    assert cli.main(["store", "copy", f"sqlite:///{typo}", f"sqlite:///{dst_file}"]) == 2
    assert capsys.readouterr().err == (f"error: SRC_URL names no store: {typo} does not exist; nothing was "
                                       "copied.\n")
    assert not typo.parent.exists() and not dst_file.parent.exists(), "nothing is written on refused input"
    # a source that is there, in a folder whose name the URL must percent-encode, is copied
    Store(f"sqlite:///{tmp_path / 'my store' / 'store.db'}", home=home).create_job(
        "spaced", {"backend": {"name": "local"}}, "minimize")
    Store(f"sqlite:///{tmp_path / 'my store' / 'store.db'}", home=home).set_job_attrs("spaced", status="completed")
    assert cli.main(["store", "copy", f"sqlite:///{tmp_path}/my%20store/store.db", f"sqlite:///{dst_file}"]) == 0
    assert "copied 1 job(s): spaced" in capsys.readouterr().out


def test_a_copied_script_job_brings_its_folder(home, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('loss = 1')\n")
    src, dst = Store(home=home), Store(home=tmp_path / "dst")
    spec = {"backend": {"name": "local"}, "trial": {"script": str(project / "train.py")}}
    src.create_job("script-job", spec, "minimize")
    src.keep_source("script-job", str(project / "train.py"))
    src.set_job_attrs("script-job", status="stopped")
    copy_jobs(src, dst)
    (project / "train.py").unlink()
    moved = dst.spec_here("script-job")["trial"]["script"]
    assert moved.startswith(str(tmp_path / "dst" / "jobs" / "script-job"))
    assert Path(moved).read_text() == "print('loss = 1')\n"


def test_a_copy_resumed_in_the_same_home_leaves_the_source_jobs_models_alone(home, tmp_path):
    """`store copy` to a second store, then `resume` of the copy on the same machine (the README's way to hand a
    job to a team store): the copy took the source's kept model folders as its own and, once its trials did
    better, deleted them; the source job's best_model() then failed."""
    job = api.launch(objective=objectives.saves_model, space=X, max_trials=3, max_parallel=1, seed=0, name="credit",
                     artifacts={"keep_best": 1})
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    model = job.best_model()
    team = Store(f"sqlite:///{tmp_path}/team.db", home=home)
    assert copy_jobs(job.store, team, ["credit"]) == ["credit"]
    copy = api.attach("credit", store=team)
    assert copy.attrs["copied_from"] == {"store": job.store.shown_url, "trials": 3}
    copy.resume(max_trials=12)
    assert copy.wait(timeout=120) == JobStatus.COMPLETED, copy.attrs.get("reason")
    assert copy.best["number"] >= 3, "a later trial did better: the source's best was pushed out of the copy's"
    assert job.best_model() == model  # still there
    assert copy.best_model()["x"] == copy.best["params"]["x"]


def test_a_copied_jobs_refit_takes_a_name_whose_folder_is_free(home, tmp_path):
    """The source's refit holds `credit-refit`'s folder in this home: the copy's refit was refused as if another
    user's refit had taken the name, after 5 s, saying "choose another name", which no refit option sets."""
    job = api.launch(objective=objectives.saves_model, space=X, max_trials=2, max_parallel=1, seed=0, name="credit")
    assert job.wait(timeout=90) == JobStatus.COMPLETED
    team = Store(f"sqlite:///{tmp_path}/team.db", home=home)
    assert copy_jobs(job.store, team, ["credit"]) == ["credit"]
    assert job.refit(wait=True).name == "credit-refit"
    refit = api.attach("credit", store=team).refit(wait=True)
    assert refit.name == "credit-refit-2" and refit.status == JobStatus.COMPLETED


def test_launching_a_name_the_store_holds_says_so_even_for_a_folder_of_an_older_version(home):
    """A job made before job folders named their store: launching its name again said the folder was another
    store's job's and to remove it (it held this store's job and models), not that the job exists."""
    job = api.launch(objective=objectives.quadratic, space=X, max_trials=1, name="old1")
    assert job.wait(timeout=60) == JobStatus.COMPLETED
    (job.store.job_dir("old1") / "store").unlink()  # as an older version left it
    with pytest.raises(JobStateError, match=r"^a job named 'old1' already exists; choose another name\.$"):
        api.launch(objective=objectives.quadratic, space=X, max_trials=1, name="old1")
    assert job.store.job_dir("old1").is_dir() and job.status == JobStatus.COMPLETED
