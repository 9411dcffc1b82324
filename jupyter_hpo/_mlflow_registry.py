"""Register a job's refit (or best) model in the MLflow Model Registry (``jupyter hpo register JOB --mlflow NAME``).

The model is the one :func:`jupyter_hpo.artifacts.load_model` returns: the refit's (``job.refit()``) when the
job has one, else the best trial's. It is saved with MLflow's own flavour when there is one (XGBoost,
scikit-learn; so ``mlflow.xgboost.load_model`` works), else as a ``pyfunc`` model that calls its ``predict``,
logged as the ``model`` artifact of the trial's child run (the job is exported first, so that run carries
the trial's metrics), and registered as a new version whose tags hold the job, the trial, its value and
fold scores, and the job's provenance. Public entry point: :func:`jupyter_hpo.mlflow_tracking.register_model`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from jupyter_hpo._mlflow_runs import _one_line, _refused, _Sink, _text, provenance_tags, reachable
from jupyter_hpo._urls import masked_url
from jupyter_hpo.handoff import model_text
from jupyter_hpo.mlflow_tracking import MlflowError, MlflowNameError, _client_settings, export_job, require_mlflow
from jupyter_hpo.records import REFIT_OF

__all__ = ["register"]


def _source(job: Any) -> tuple[Any, int, str]:
    """(the job holding the model's trial, its number, "refit" or "best"): the refit's when the job was refit
    (:func:`jupyter_hpo.artifacts.load_model` refuses a refit without a model, never taking the best instead)."""
    from jupyter_hpo.artifacts import refit_model

    refit = refit_model(job)
    if refit is not None:
        if refit.stale is not None:
            raise MlflowError(f"{refit.stale}, then register it.")
        if refit.problem is not None:  # said here, not by load_model: its way on (a trial's own model) --mlflow has not
            raise MlflowError(f"{refit.problem}; wait for it, or run `jupyter hpo refit {job.name}` (job.refit()) "
                              "again, then register.")
        return refit.job, 0, "refit"
    best = job.best
    if best is None:
        from jupyter_hpo.records import no_best

        raise MlflowError(f"job {job.name!r} has {no_best(job.trial_records())}, so it has no model to register.")
    return job, int(best["number"]), "best"


def _save(model: Any, path: Path, what: str) -> str:
    """Save ``model`` as an MLflow model in ``path``; returns the flavour used."""
    import mlflow

    module = type(model).__module__.split(".")[0]
    if module == "xgboost":
        import mlflow.xgboost

        mlflow.xgboost.save_model(model, str(path), pip_requirements=mlflow.xgboost.get_default_pip_requirements())
        return "xgboost"
    if module == "sklearn":
        import mlflow.sklearn

        mlflow.sklearn.save_model(model, str(path), pip_requirements=mlflow.sklearn.get_default_pip_requirements())
        return "sklearn"
    if isinstance(model, (list, tuple)):
        raise MlflowError(f"{what} saved {len(model)} models (a {type(model).__name__}), not one: refit the job "
                          "(`jupyter hpo refit JOB`, whose trial saves one model) and register again.")
    if not callable(getattr(model, "predict", None)):
        raise MlflowError(f"{what} saved a {type(model).__name__}, which has no predict method: MLflow's pyfunc "
                          "models need one.")
    import cloudpickle
    import mlflow.pyfunc

    class _Predict(mlflow.pyfunc.PythonModel):  # any object with predict(X)
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return self.inner.predict(model_input)

    mlflow.pyfunc.save_model(str(path), python_model=_Predict(model),
                             pip_requirements=[f"mlflow=={mlflow.__version__}",
                                               f"cloudpickle=={cloudpickle.__version__}"])
    return "pyfunc"


def register(job: Any, name: str, *, tracking_uri: str | None = None) -> str:
    """See :func:`jupyter_hpo.mlflow_tracking.register_model`."""
    require_mlflow()
    if isinstance(job, str):
        from jupyter_hpo import api

        job = api.attach(job)
    holder, number, kind = _source(job)
    uri, experiment, run_name = _client_settings(job.attrs, tracking_uri, None, job.name)
    why = reachable(uri)
    if why is not None:
        raise MlflowError(f"cannot register job {job.name!r}'s model: {why}.")
    from jupyter_hpo.artifacts import load_model

    what = f"the refit job {holder.name!r}" if kind == "refit" else f"trial {number} of job {job.name!r}"
    model = load_model(job)  # the refit's, else the best trial's; ArtifactNotFoundError (an HpoError) says why not
    with tempfile.TemporaryDirectory() as tmp:
        flavor = _save(model, Path(tmp) / "model", what)  # a model MLflow could not load is refused before any write
        return _register(job, holder, number, kind, what, name, uri, experiment, run_name, Path(tmp) / "model",
                         flavor)


def _register(job: Any, holder: Any, number: int, kind: str, what: str, name: str, uri: str, experiment: str,
              run_name: str, folder: Path, flavor: str) -> str:
    """The MLflow side of :func:`register`: the registered model, the trial's run, the model, the version."""
    from mlflow.tracking import MlflowClient

    try:  # a URI MLflow has no model registry for (a scheme it does not know) is refused here
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    except Exception as e:
        raise MlflowError(f"registering in MLflow at {masked_url(uri)} failed: {_one_line(e)}") from None
    created = False
    try:  # first, so that a name MLflow refuses leaves nothing behind
        client.create_registered_model(name, description=f"jupyter-hpo job {job.name}")
        created = True
    except Exception as e:
        if getattr(e, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            if _refused(e):
                raise MlflowNameError(f"MLflow refuses the model name {name!r}: {_one_line(e)}") from None
            raise MlflowError(f"registering in MLflow at {masked_url(uri)} failed: {_one_line(e)}") from None
    try:
        return _add_version(job, holder, number, kind, name, uri, experiment, run_name, folder, flavor, client)
    except Exception as e:
        said = str(e).rstrip(".") if isinstance(e, MlflowError) else \
            f"registering {what}'s model in MLflow at {masked_url(uri)} failed: {_one_line(e)}"
        # a registered model with no version was left behind, and the line did not say so
        raise MlflowError(said + (_remove_new_model(client, name) if created else "") + ".") from None


def _remove_new_model(client: Any, name: str) -> str:
    """Remove the registered model this register created, before a step that failed; what was done, in words."""
    try:
        if client.get_registered_model(name).latest_versions:  # another register's meanwhile: theirs to keep
            return f"; the registered model {name!r} it had created is kept: it has a version now"
        client.delete_registered_model(name)
    except Exception as e:  # noqa: BLE001 - said, with the rest of the failure
        return f"; the registered model {name!r} it had created is left, with no version ({_one_line(e)})"
    return f"; the registered model {name!r} it had created was removed again"


def _add_version(job: Any, holder: Any, number: int, kind: str, name: str, uri: str, experiment: str, run_name: str,
                 folder: Path, flavor: str, client: Any) -> str:
    """The trial's run, its model and the new version of registered model ``name``; its ``models:/`` URI."""
    parent = export_job(job, tracking_uri=uri, experiment=experiment)
    sink = _Sink(holder.store, holder.name, uri, experiment, run_name + ("-refit" if kind == "refit" else ""))
    sink.experiment_id, sink.parent_id = client.get_run(parent).info.experiment_id, parent
    sink._load_children()
    trial = next(t for t in holder.store.trials(holder.name) if t.number == number)
    # the job's trial: for a refit, the one it repeats (its own trial is always 0), whose score is the model's
    # (the refit's own value, in-sample for the credit example, was shown as the model's metric)
    tuned = (holder.attrs.get(REFIT_OF) or {}).get("trial", number) if kind == "refit" else number
    scored = trial if kind != "refit" else next((t for t in job.store.trials(job.name) if t.number == tuned),
                                                trial)
    run_id = sink.logged.get(number) or sink.log_trial(trial, scored if kind == "refit" else None)
    client.log_artifacts(run_id, str(folder), artifact_path="model")
    tags = {"jupyter_hpo.job": job.name, "jupyter_hpo.source": kind, "jupyter_hpo.trial": str(tuned),
            "jupyter_hpo.flavor": flavor, "metric": sink.metric, "value": repr(scored.value),
            **({"jupyter_hpo.refit_job": holder.name, "jupyter_hpo.refit_value": repr(trial.value)}
               if kind == "refit" else {}),
            **({"fold_scores": _text(scored.user_attrs["fold_scores"])} if scored.user_attrs.get("fold_scores")
               else {}),
            **provenance_tags(job.attrs, job.store)}
    said = model_text(sink.metric, scored.value, tuned, refit_job=holder.name if kind == "refit" else None,
                      refit_value=trial.value, show=repr)
    version = client.create_model_version(
        name, source=f"{client.get_run(run_id).info.artifact_uri}/model", run_id=run_id, tags=tags,
        description=f"jupyter-hpo job {job.name}, {said}")
    return f"models:/{name}/{version.version}"
