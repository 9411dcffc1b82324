"""``jupyter hpo register`` / ``export``: the options each destination takes, and refusals of the others.

The SageMaker branches are tested end to end in ``test_sagemaker_registry.py`` and
``test_sagemaker_pipeline.py``; the MLflow branches' behaviour belongs to ``jupyter_hpo.mlflow_tracking``.
"""

from __future__ import annotations

import pytest

from jupyter_hpo import cli


def parse(*argv):
    return cli._parser().parse_args(list(argv))


def test_register_takes_a_sagemaker_group_or_an_mlflow_model_name_with_their_options():
    a = parse("register", "job-a", "--sagemaker", "credit-models", "--region", "eu-west-1", "--profile", "p",
              "--image", "1.dkr.ecr.eu-west-1.amazonaws.com/x:1", "--approval", "Approved", "--json")
    assert (a.command, a.job, a.sagemaker, a.mlflow) == ("register", "job-a", "credit-models", None)
    assert (a.region, a.profile, a.image, a.approval, a.json) == (
        "eu-west-1", "p", "1.dkr.ecr.eu-west-1.amazonaws.com/x:1", "Approved", True)
    b = parse("register", "job-a", "--mlflow", "credit-xgb", "--tracking-uri", "http://127.0.0.1:5000")
    assert (b.mlflow, b.sagemaker, b.tracking_uri) == ("credit-xgb", None, "http://127.0.0.1:5000")


def test_export_takes_pipeline_or_mlflow_with_their_options():
    a = parse("export", "job-a", "--pipeline", "--register", "g", "--upsert", "--role",
              "arn:aws:iam::123456789012:role/R", "-o", "p.json", "--name", "pipe")
    assert (a.pipeline, a.mlflow, a.register, a.upsert, a.role, a.output, a.name) == (
        True, False, "g", True, "arn:aws:iam::123456789012:role/R", "p.json", "pipe")
    b = parse("export", "job-a", "--mlflow", "--tracking-uri", "file:/tmp/m", "--experiment", "credit")
    assert (b.mlflow, b.pipeline, b.tracking_uri, b.experiment) == (True, False, "file:/tmp/m", "credit")


@pytest.mark.parametrize("argv, message", [
    (["register", "j"], "one of the arguments --sagemaker --mlflow is required"),
    (["register", "j", "--sagemaker", "g", "--mlflow", "m"], "not allowed with argument"),
    (["register", "j", "--mlflow", "m", "--region", "us-east-1"], "--region applies to --sagemaker only"),
    (["register", "j", "--mlflow", "m", "--approval", "Approved"], "--approval applies to --sagemaker only"),
    (["register", "j", "--sagemaker", "g", "--tracking-uri", "http://x"], "--tracking-uri applies to --mlflow only"),
    (["register", "j", "--mlflow", "m", "--trial", "3"], "--trial applies to --sagemaker only"),
    # trial 0 was taken for "not given" (0 == False), and the best trial was registered instead
    (["register", "j", "--mlflow", "m", "--trial", "0"], "--trial applies to --sagemaker only"),
    (["register", "j", "--sagemaker", "g", "--approval", "Maybe"], "invalid choice: 'Maybe'"),
    (["export", "j"], "one of the arguments --pipeline --mlflow is required"),
    (["export", "j", "--mlflow", "--upsert"], "--upsert applies to --pipeline only"),
    (["export", "j", "--mlflow", "-o", "x.json"], "-o/--output applies to --pipeline only"),
    (["export", "j", "--pipeline", "--experiment", "e"], "--experiment applies to --mlflow only"),
    (["export", "j", "--pipeline", "--image", "x"], "--image applies to the RegisterModel step: give --register"),
    (["export", "j", "--pipeline", "--role", "arn:aws:iam::123456789012:role/R"],
     "--role applies to the pipeline made by --upsert: give --upsert too"),
    (["export", "j", "--pipeline", "--name", "p"], "--name applies to the pipeline made by --upsert"),
    (["export", "j", "--pipeline", "--region", "eu-west-1"], "--region applies to the pipeline made by --upsert"),
    # `--tracking-uri "$MLFLOW_URI"` with the variable unset went to MLflow's default store, saying it succeeded
    (["export", "j", "--mlflow", "--tracking-uri", ""], "--tracking-uri must not be empty"),
    (["export", "j", "--mlflow", "--experiment", " "], "--experiment must not be empty"),
    (["register", "j", "--mlflow", "m", "--tracking-uri", ""], "--tracking-uri must not be empty"),
])
def test_an_option_for_another_destination_is_refused_not_ignored(argv, message, capsys, home):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["show", "nope"], ["refit", "nope"], ["register", "nope", "--sagemaker", "g"],
                                  ["register", "nope", "--mlflow", "m"], ["export", "nope", "--pipeline"],
                                  ["export", "nope", "--mlflow"]], ids=" ".join)
def test_an_unknown_job_is_bad_input_one_line_and_exit_2_in_every_command(home, capsys, argv):
    """export and register exited 1 for it (as if a job had failed), while show and refit exit 2 (bad input)."""
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"error: no job named 'nope' in the store at sqlite:///{home}/store.db.\n"


@pytest.mark.parametrize("argv", [["list"], ["show", "j"], ["refit", "j"], ["register", "j", "--mlflow", "m"],
                                  ["register", "j", "--sagemaker", "g"], ["export", "j", "--mlflow"],
                                  ["export", "j", "--pipeline"]], ids=" ".join)
def test_a_store_that_cannot_be_opened_is_one_line_and_exit_2_in_every_command_given_before_or_after_it(
        home, capsys, tmp_path, argv):
    """export and register exited 1 for it, while every other command exits 2; and ``--store`` was refused
    after the command ("unrecognized arguments"), which is where a user adds it to a command they typed."""
    blocked = tmp_path / "a-file"  # a file where the store's folder should be: SQLite cannot open it
    blocked.write_text("")
    url = f"sqlite:///{blocked}/store.db"
    for line in ([*argv, "--store", url], ["--store", url, *argv]):
        assert cli.main(line) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot open the store at {url}: ") and err.count("\n") == 1, err
    assert not (home / "store.db").exists()  # the default store was never opened in its place


def test_store_after_a_command_wins_over_one_before_it_at_every_level():
    assert parse("list", "--store", "sqlite:///b").store == "sqlite:///b"
    assert parse("--store", "sqlite:///a", "show", "j", "--store", "sqlite:///b").store == "sqlite:///b"
    assert parse("--store", "sqlite:///a", "show", "j").store == "sqlite:///a"
    assert parse("store", "info", "--store", "sqlite:///c").store == "sqlite:///c"
    assert parse("campaign", "list", "--store", "sqlite:///d").store == "sqlite:///d"
    assert parse("show", "j").store is None  # the default store


def test_a_job_with_no_complete_trial_is_bad_input_to_register_as_to_refit(home, capsys):
    from jupyter_hpo import api
    from jupyter_hpo.store import JobStatus
    from tests import objectives

    job = api.launch(objective=objectives.faulty, space={"mode": ["raise"]}, max_trials=2, name="all-fail")
    assert job.wait(timeout=120) == JobStatus.FAILED
    capsys.readouterr()
    assert cli.main(["refit", "all-fail"]) == 2
    assert capsys.readouterr().err == "error: job 'all-fail' has no complete trial to refit.\n"
    for destination in (["--mlflow", "m"], ["--sagemaker", "g"]):
        assert cli.main(["register", "all-fail", *destination]) == 2
        assert capsys.readouterr().err == ("error: job 'all-fail' has no complete trial, so it has no model to "
                                           "register.\n")


def saves_one_model(p):
    from sklearn.dummy import DummyClassifier

    from jupyter_hpo import trial

    trial.save_model(DummyClassifier().fit([[0], [1]], [0, 1]))
    return p["x"]


def test_register_at_a_uri_mlflow_has_no_registry_for_is_one_line(home, capsys):
    """MLflow refuses a URI scheme it has no model registry for when its client is made: a 50-line traceback."""
    from jupyter_hpo import api

    job = api.launch(objective=saves_one_model, space={"x": {"type": "float", "low": 0, "high": 1}}, max_trials=1,
                     name="one-model")
    assert job.wait(timeout=120).value == "completed"
    assert cli.main(["register", "one-model", "--mlflow", "m", "--tracking-uri", "bogus://x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: registering in MLflow at bogus://x failed: ") and err.count("\n") == 1, err


def test_register_in_mlflow_after_a_failed_refit_names_a_way_it_can_take(home, capsys, tmp_path):
    """It said "pass trial_number for a trial's own model", which neither `register --mlflow` nor its REST body
    takes (`--trial` is SageMaker's)."""
    from jupyter_hpo import api
    from tests import objectives

    job = api.launch(objective=objectives.fails_on_refit, space={"x": {"type": "float", "low": 0, "high": 1}},
                     max_trials=1, name="bad-refit")
    assert job.wait(timeout=120).value == "completed"
    assert job.refit(wait=True).status.value == "failed"
    assert cli.main(["register", "bad-refit", "--mlflow", "m", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]) == 1
    assert capsys.readouterr().err == (
        "error: job 'bad-refit' was refit as 'bad-refit-refit', which has no model: its trial is fail (RuntimeError: "
        "no data for the refit); wait for it, or run `jupyter hpo refit bad-refit` (job.refit()) again, then "
        "register.\n")
