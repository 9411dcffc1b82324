"""``jupyter hpo register JOB --sagemaker GROUP``: a job's model as a package in the SageMaker Model Registry.

:func:`register_sagemaker` takes the job's refit run if it has one, else its best complete trial, and
registers that trial's model artifact (the ``model.tar.gz`` its training job wrote to S3):

1. every request is built and checked first (botocore's service model, then the strict validator of
   :mod:`jupyter_hpo.sagemaker.limits`): a group name or a description AWS would refuse fails here,
   before anything is sent;
2. two JSON documents are written next to the artifact (SSE-KMS with the job's ``kms_key_id``):
   ``jupyter-hpo-metrics.json`` (the objective, the fold scores, other metrics: the package's
   ``ModelMetrics.ModelQuality.Statistics``) and ``jupyter-hpo-provenance.json`` (the job's provenance,
   :func:`jupyter_hpo.provenance.job_provenance`);
3. the model package group is created when it does not exist (an existing one is reused);
4. the model package: the artifact and image, the metrics, a one-line description and customer
   metadata naming the job, trial, training job, value and the provenance document, approval
   ``PendingManualApproval`` unless told otherwise.

A failure after step 3 leaves the group, which the next ``register`` reuses; the error says so.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import BackendError, JobStateError, SpecError
from jupyter_hpo.handoff import model_text
from jupyter_hpo.records import (
    ARTIFACT,
    BACKEND,
    FOLD_MEAN,
    FOLD_SCORES,
    FOLD_STD,
    METRICS,
    REFIT,
    SAGEMAKER,
    SPEC,
)

if TYPE_CHECKING:
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

__all__ = ["APPROVAL_STATUSES", "METRICS_FILE", "PROVENANCE_FILE", "job_spec_and_options", "model_candidate",
           "model_package_request", "register_sagemaker", "sagemaker_clients"]

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
METRICS_FILE = "jupyter-hpo-metrics.json"
PROVENANCE_FILE = "jupyter-hpo-provenance.json"
_S3_BACKENDS = ("sagemaker", "amt")
#: what CustomerMetadataProperties keys and values may hold (API reference, CustomerMetadataMap)
_METADATA = re.compile(r"[\w\s.:/=+\-@]{1,256}")


def job_spec_and_options(job: Any, action: str = "register") -> tuple[TuningSpec, SageMakerOptions]:
    """The job's spec (its script moved to this machine's copy when needed) and its SageMaker options.

    Args:
        job: the job.
        action: ``register`` or ``export`` (what the messages say cannot be done, and what to do instead).

    Raises:
        JobStateError: the job did not run on a SageMaker backend (its model and code are not on S3), or
            it ran on the simulated SageMaker.
    """
    from jupyter_hpo.sagemaker.options import SageMakerOptions
    from jupyter_hpo.spec import TuningSpec

    attrs = job.attrs
    backend = attrs.get(BACKEND)
    if backend not in _S3_BACKENDS:
        if action == "register":
            raise JobStateError(
                f"job {job.name!r} ran on the {backend} backend, so its model is not on S3, which the SageMaker "
                f"Model Registry needs: register it in MLflow (`jupyter hpo register {job.name} --mlflow "
                "MODEL_NAME`), or run the job on the sagemaker or amt backend.")
        raise JobStateError(
            f"job {job.name!r} ran on the {backend} backend, so it has no SageMaker request to put in a pipeline "
            f"(no image, role or code on S3): export it to MLflow (`jupyter hpo export {job.name} --mlflow`), or "
            "launch it on the sagemaker or amt backend (`jupyter hpo plan SPEC --backend amt` shows the request).")
    spec = TuningSpec.from_dict(job.store.spec_here(job.name, attrs), stored=True)  # an existing job always loads
    if spec.backend_options.get("simulate") is not None:
        raise JobStateError(f"job {job.name!r} ran on the simulated SageMaker (backend.options.simulate): its "
                            f"model and code are in the simulator, not on S3; run it on SageMaker to {action} it.")
    return spec, SageMakerOptions.from_spec(spec)


def sagemaker_clients(opts: SageMakerOptions, region: str | None, profile: str | None) -> tuple[Any, Any]:
    """boto3 ``(sagemaker, s3)`` clients for the job's account: ``region``/``profile`` override the options'."""
    from jupyter_hpo.sagemaker.clients import _boto3

    boto3 = _boto3()
    from botocore.config import Config

    try:
        session = boto3.Session(profile_name=profile or opts.profile, region_name=region or opts.region)
    except Exception as e:  # noqa: BLE001 - botocore's ProfileNotFound
        raise BackendError(f"the AWS profile could not be loaded: {e}") from None
    if not session.region_name:
        raise BackendError("no AWS region: give --region, set backend.options.region or AWS_DEFAULT_REGION.")
    config = Config(retries={"mode": "standard"}, user_agent_extra="jupyter-hpo")
    return session.client("sagemaker", config=config), session.client("s3", config=config)


def model_candidate(job: Any, trial: int | None = None) -> dict[str, Any]:
    """The run whose model is registered: trial ``trial`` when given; else the job's refit (its ``refit``
    attribute names the refit job, whose trial 0 is the refit run); else the job's best complete trial.

    A refit that has no complete run (it failed, was stopped or still runs) is refused, never silently
    replaced by the best trial (as :func:`jupyter_hpo.artifacts.model_path` does).

    Returns:
        ``{"number", "value", "refit_value", "params", "refit", "refit_job", "artifact", "training_job",
        "fold_scores", "fold_mean", "fold_std", "metrics", "best", "notes"}``: ``number``, ``params``, ``value``
        and the fold figures are the tuned trial's (a refit runs the best trial's): its score as the job measured
        it, cross-validated for the credit example; ``refit_value`` is what a refit run reported of itself (the
        credit example's is in-sample: not a validation score), else None; the artifact, training job and
        ``metrics`` are the registered run's; ``best`` is the best trial (number, value, fold scores).

    Raises:
        JobStateError: no complete trial, ``trial`` is not a complete trial, the refit has no complete run,
            or the chosen run recorded no model artifact on S3.
    """
    trials = job.raw_trials()
    best_summary = job.best
    if best_summary is None:
        from jupyter_hpo.records import no_best

        why = no_best(job.trial_records())  # no complete trial, or none feasible (all broke a constraint)
        raise JobStateError(f"job {job.name!r} has {why}, so there is no model to register ({len(trials)} trial(s)"
                            f"{', none complete' if why == 'no complete trial' else ''}).")
    best = next(t for t in trials if t.number == best_summary["number"])
    tuned, chosen, refit_name = best, best, None
    if trial is not None:
        found = [t for t in trials if t.number == trial]
        if not found or found[0].state.name != "COMPLETE" or found[0].value is None:
            state = found[0].state.name.lower() if found else "not in the job"
            raise JobStateError(f"trial {trial} of job {job.name!r} is {state}: only a complete trial's model can "
                                f"be registered (the best is {best.number}).")
        tuned = chosen = found[0]
    elif isinstance(job.attrs.get(REFIT), str):
        from jupyter_hpo.refit import outdated

        stale = outdated(job)
        if stale is not None:
            raise JobStateError(f"{stale}, or register a trial's own model: {_own_model(job, best.number)}.")
        refit_name = job.attrs[REFIT]
        chosen = _refit_run(job, refit_name)
        if chosen is None:
            raise JobStateError(
                f"job {job.name!r} was refit as {refit_name!r}, which has no complete run (it failed, was stopped "
                f"or still runs): wait for it or run `jupyter hpo refit {job.name}` again, or register a trial's "
                f"own model: {_own_model(job, best.number)}.")
    ua = chosen.user_attrs
    sm = ua.get(SAGEMAKER) if isinstance(ua.get(SAGEMAKER), Mapping) else {}
    artifact = ua.get(ARTIFACT) or sm.get("model_artifacts")  # a trial recorded before ``artifact``
    what = (f"refit run of job {refit_name!r}" if refit_name else
            f"{'best ' if chosen is best else ''}trial ({chosen.number})")
    if not isinstance(artifact, str) or not artifact.startswith("s3://"):
        raise JobStateError(
            f"the {what} of job {job.name!r} recorded no model artifact on S3 (got {artifact!r}): its training "
            "job saved no model (write it to /opt/ml/model, e.g. with trial.save_model), or the job predates "
            "artifact recording; run the job (or `jupyter hpo refit`) again.")
    scored = tuned.user_attrs  # the tuned trial's figures: a refit's own value was shown as the model's score
    return {"number": tuned.number, "value": float(tuned.value), "params": _params(job, tuned),
            "refit_value": float(chosen.value) if refit_name else None,
            "refit": refit_name is not None, "refit_job": refit_name,
            "artifact": artifact, "training_job": sm.get("training_job"), "fold_scores": scored.get(FOLD_SCORES),
            "fold_mean": scored.get(FOLD_MEAN), "fold_std": scored.get(FOLD_STD), "metrics": ua.get(METRICS) or {},
            "best": {"trial": best.number, "value": best.value, "fold_scores": best.user_attrs.get(FOLD_SCORES)},
            "notes": []}


def _own_model(job: Any, best: int) -> str:
    """How to register a trial's own model, in words any front door's user can follow (the REST body and the
    dashboard's Register take no trial)."""
    return (f"`jupyter hpo register {job.name} --sagemaker GROUP --trial N` (trial=N in Python; the best: {best})")


def _refit_run(job: Any, name: str) -> Any:
    """The complete run of refit job ``name`` (its trial 0), or None."""
    from jupyter_hpo.exceptions import JobNotFoundError

    try:
        trials = job.store.trials(name)
    except JobNotFoundError:
        return None
    return next((t for t in trials if t.number == 0 and t.state.name == "COMPLETE" and t.value is not None), None)


def _params(job: Any, trial: Any) -> dict[str, Any]:
    try:
        return dict(job.space.from_optuna(trial.params))
    except KeyError:
        return dict(trial.params)


def _provenance(job: Any) -> dict[str, Any]:
    """The job's provenance (:func:`jupyter_hpo.provenance.job_provenance`: the spec, code and input hashes,
    image, seed, git, owner; only the spec and owner for a job recorded before provenance), and its name."""
    from jupyter_hpo.provenance import job_provenance

    return {"job": job.name, **job_provenance(job)}


def _spec_hash(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _documents(job: Any, spec: TuningSpec, cand: Mapping[str, Any]) -> tuple[bytes, bytes]:
    from jupyter_hpo.records import dumps

    metrics = {"job": job.name, "trial": cand["number"], "refit": cand["refit"],
               "training_job": cand["training_job"], "params": cand["params"], "best_trial": cand["best"],
               "objective": {"metric": spec.objective.metric, "direction": spec.objective.direction,
                             "value": cand["value"], "refit_value": cand["refit_value"]},
               "fold_scores": cand["fold_scores"], "fold_mean": cand["fold_mean"], "fold_std": cand["fold_std"],
               "metrics": cand["metrics"]}
    return (dumps(metrics, indent=2, sort_keys=True).encode(),
            dumps(_provenance(job), indent=2, sort_keys=True).encode())


def _beside(artifact: str, name: str) -> str:
    return f"{artifact.rsplit('/', 1)[0]}/{name}"


def model_package_request(job: Any, spec: TuningSpec, opts: SageMakerOptions, cand: Mapping[str, Any], *,
                          group: str, image: str, approval: str, metrics_uri: str, metrics_body: bytes,
                          provenance_uri: str) -> dict[str, Any]:
    """The ``CreateModelPackage`` request of ``cand`` (see :func:`model_candidate`) in ``group``."""
    metric = spec.objective.metric
    what = model_text(metric, cand["value"], cand["number"], best_trial=cand["best"]["trial"],
                      refit_job=cand["refit_job"] if cand["refit"] else None, refit_value=cand["refit_value"])
    description = f"jupyter-hpo job {job.name}, {what}; provenance: {provenance_uri}"[:1024]
    metadata = {"jupyter-hpo:job": job.name, "jupyter-hpo:trial": str(cand["number"]),
                "jupyter-hpo:refit": str(cand["refit"]).lower(), f"jupyter-hpo:{metric}"[:128]: repr(cand["value"]),
                "jupyter-hpo:provenance": provenance_uri, "jupyter-hpo:metrics": metrics_uri,
                "jupyter-hpo:spec-sha256": _spec_hash(job.attrs.get(SPEC))}
    if cand["training_job"]:
        metadata["jupyter-hpo:training-job"] = cand["training_job"]
    if cand["refit_job"]:
        metadata["jupyter-hpo:refit-job"] = cand["refit_job"]
        metadata["jupyter-hpo:refit-value"] = repr(cand["refit_value"])
    for key, value in metadata.items():
        if not _METADATA.fullmatch(key) or not _METADATA.fullmatch(value):
            raise SpecError(f"model package metadata {key!r} holds characters SageMaker refuses (letters, digits, "
                            f"spaces and _.:/=+-@ only, up to 256): {value!r}.")
    digest = "sha256:" + hashlib.sha256(metrics_body).hexdigest()
    return {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": description,
        "InferenceSpecification": {"Containers": [{"Image": image, "ModelDataUrl": cand["artifact"]}]},
        "ModelApprovalStatus": approval,
        "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": metrics_uri,
                                                         "ContentDigest": digest}}},
        "CustomerMetadataProperties": metadata,
        # the spec's tags (a bank's cost-center and data-class), as on its training jobs, and its KMS key
        "Tags": resource_tags(opts, {"jupyter-hpo:job": job.name}),
        **({"SecurityConfig": {"KmsKeyId": opts.kms_key_id}} if opts.kms_key_id else {}),
    }


def resource_tags(opts: SageMakerOptions, own: Mapping[str, str]) -> list[dict[str, str]]:
    """The tags of a resource jupyter-hpo creates: the spec's (``backend.options.tags``, defaults files
    included) and jupyter-hpo's own ``own``, as its training and tuning jobs carry them."""
    return [{"Key": k, "Value": v} for k, v in {**opts.tags, **own}.items()]


def check(operation: str, params: Mapping[str, Any], service: str = "sagemaker") -> None:
    """botocore's model of ``operation``, then the strict validator's limits (patterns, maximums, tags)."""
    from jupyter_hpo.sagemaker.limits import check_request
    from jupyter_hpo.sagemaker.requests import validate_request

    validate_request(operation, params, service=service)
    if service == "sagemaker":
        check_request(operation, params)


def _put(opts: SageMakerOptions, uri: str, body: bytes) -> dict[str, Any]:
    from jupyter_hpo.sagemaker.options import split_s3

    bucket, key = split_s3(uri)
    return {"Bucket": bucket, "Key": key, "Body": body, "ContentType": "application/json",
            **opts.upload_encryption()}


def register_sagemaker(job: Any, group: str, *, region: str | None = None, profile: str | None = None,
                       image: str | None = None, approval: str | None = None, trial: int | None = None,
                       clients: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Register job ``job``'s refit (or best) model in model package group ``group`` (see the module docstring).

    Args:
        job: a :class:`jupyter_hpo.api.Job` of the sagemaker or amt backend.
        group: the model package group's name (1-63 letters, digits and '-'); created if it does not exist.
        region, profile: override the job's ``backend.options.region``/``profile``.
        image: the inference image (default: the job's training image).
        approval: ``ModelApprovalStatus`` (default ``PendingManualApproval``).
        trial: register this complete trial's model (default: the refit's, else the best trial's).
        clients: ``(sagemaker, s3)`` boto3 clients to use (default: made from the options).

    Returns:
        ``{"job", "group", "group_created", "model_package_arn", "model_data_url", "metrics_uri",
        "provenance_uri", "trial", "best_trial", "refit", "refit_job", "metric", "value", "refit_value",
        "approval", "image", "notes"}``: ``value`` is the tuned trial's score, ``refit_value`` what a refit run
        reported of itself (see :func:`model_candidate`).

    Raises:
        JobStateError: a local or simulated job, no complete trial, a refit without a complete run, a
            ``trial`` that is not complete, or no artifact on S3.
        SpecError: a request AWS would refuse (the group's name, say); nothing was sent.
        BackendError: AWS refused a call; the message says what was created before it.
    """
    approval = approval or "PendingManualApproval"
    if approval not in APPROVAL_STATUSES:
        raise SpecError(f"the approval status must be one of {', '.join(APPROVAL_STATUSES)}, but got {approval!r}.")
    spec, opts = job_spec_and_options(job)
    cand = model_candidate(job, trial)
    if job.status.is_active() and trial is None:
        cand["notes"].append(f"job {job.name} is still running: the best trial so far is registered.")
    image = image or opts.training_image()
    metrics_uri = _beside(cand["artifact"], METRICS_FILE)
    provenance_uri = _beside(cand["artifact"], PROVENANCE_FILE)
    metrics_body, provenance_body = _documents(job, spec, cand)
    group_request = {"ModelPackageGroupName": group,
                     "ModelPackageGroupDescription": "models registered by jupyter-hpo",
                     "Tags": resource_tags(opts, {"jupyter-hpo:created-by": "jupyter-hpo"})}
    package = model_package_request(job, spec, opts, cand, group=group, image=image, approval=approval,
                                    metrics_uri=metrics_uri, metrics_body=metrics_body,
                                    provenance_uri=provenance_uri)
    puts = [_put(opts, metrics_uri, metrics_body), _put(opts, provenance_uri, provenance_body)]
    check("CreateModelPackageGroup", group_request)
    check("CreateModelPackage", package)
    for put in puts:
        check("PutObject", put, service="s3")
    sagemaker, s3 = clients or sagemaker_clients(opts, region, profile)
    _send(lambda: [s3.put_object(**put) for put in puts], "writing the metrics and provenance next to the "
          "model", opts, "nothing was registered")
    created = _ensure_group(sagemaker, group_request, opts, f"nothing was registered; the metrics and provenance "
                            f"were written to {metrics_uri} and {provenance_uri}")
    kept = (f"the model package group {group} was created and is kept: `jupyter hpo register` reuses it"
            if created else f"the model package group {group} is unchanged")
    arn = _send(lambda: sagemaker.create_model_package(**package)["ModelPackageArn"], "CreateModelPackage", opts,
                f"no model package was created; {kept}; the metrics and provenance are at {metrics_uri} and "
                f"{provenance_uri}")
    return {"job": job.name, "group": group, "group_created": created, "model_package_arn": arn,
            "model_data_url": cand["artifact"], "metrics_uri": metrics_uri, "provenance_uri": provenance_uri,
            "trial": cand["number"], "best_trial": cand["best"]["trial"], "refit": cand["refit"],
            "refit_job": cand["refit_job"], "metric": spec.objective.metric,
            "value": cand["value"], "refit_value": cand["refit_value"], "approval": approval, "image": image, "notes": cand["notes"]}


def _aws_error(e: Exception, what: str, opts: SageMakerOptions, after: str) -> Exception:
    """A botocore error as a one-line :class:`BackendError` saying what failed and what exists after it."""
    from jupyter_hpo.sagemaker.errors import error_code, explain_client_error

    if not error_code(e) and not type(e).__module__.startswith("botocore"):
        return e  # not an AWS error: a bug, raised as it is
    return BackendError(f"{what} failed: {explain_client_error(e, opts)} ({after}).")


def _send(call: Any, what: str, opts: SageMakerOptions, after: str) -> Any:
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - an AWS error is explained; any other is raised as it is
        raise _aws_error(e, what, opts, after) from None


def _ensure_group(sagemaker: Any, request: Mapping[str, Any], opts: SageMakerOptions, after: str) -> bool:
    """Create the model package group unless it exists; whether it was created (``after``: what a failure
    leaves, for its message)."""
    from jupyter_hpo.sagemaker.errors import error_code

    name = request["ModelPackageGroupName"]
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=name)
        return False
    except Exception as e:  # noqa: BLE001 - an AWS error is explained; any other is raised as it is
        if not _not_found(e):
            raise _aws_error(e, "DescribeModelPackageGroup", opts, after) from None
    try:
        sagemaker.create_model_package_group(**request)
    except Exception as e:  # noqa: BLE001 - an AWS error is explained; any other is raised as it is
        if error_code(e) == "ValidationException" and "already exists" in str(e):
            return False  # made meanwhile by someone else: reuse it
        raise _aws_error(e, "CreateModelPackageGroup", opts, after) from None
    return True


def _not_found(error: Exception) -> bool:
    from jupyter_hpo.sagemaker.errors import error_code

    code = error_code(error)
    text = str(error).lower()
    return code == "ResourceNotFound" or (code == "ValidationException" and (
        "does not exist" in text or "could not find" in text or "not found" in text))
