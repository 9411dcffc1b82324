"""``jupyter hpo export JOB --pipeline``: the job's tuning as a SageMaker Pipelines definition.

The definition (schema version ``2020-12-01``) has a ``Tuning`` step whose arguments are the
``CreateHyperParameterTuningJob`` request the ``amt`` backend sends for the job's spec, built by the same
code (:func:`jupyter_hpo.sagemaker.tuning.tuning_job_request`, through :func:`jupyter_hpo.sagemaker.plan.plan`
with its checks) but for ``HyperParameterTuningJobName``, which Pipelines gives each execution's tuning job
(as the SageMaker SDK's ``TuningStep`` does). A ``sagemaker``-backend job's spec is built as ``jupyter hpo
plan SPEC --backend amt`` builds it; what AMT cannot take (``early_stopping: kfold``, say) is refused,
naming the field.

With a model package group, a ``RegisterModel`` step follows: it registers the tuning step's best training
job's model (``<S3OutputPath>/<TrainingJobSummaries[0].TrainingJobName>/output/model.tar.gz``, the property
reference the SDK's ``TuningStep.get_top_model_s3_uri(top_k=0, ...)`` makes) as a ``CreateModelPackage``.

:func:`upsert_pipeline` creates the pipeline, or updates it when one of that name exists, with the
execution role given, else the job's ``backend.options.role``. Every request is checked against
botocore's model and the strict validator before it is sent.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from jupyter_hpo.exceptions import BackendError, SpecError
from jupyter_hpo.sagemaker.registry import APPROVAL_STATUSES, check, job_spec_and_options, resource_tags

__all__ = ["DEFINITION_VERSION", "REGISTER_STEP", "TUNING_STEP", "pipeline_definition", "upsert_pipeline"]

DEFINITION_VERSION = "2020-12-01"
TUNING_STEP = "Tune"
REGISTER_STEP = "RegisterBestModel"
#: CreatePipeline's RoleArn (botocore's service model)
_ROLE = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")


def _tuning_arguments(job: Any, spec: Any) -> tuple[dict[str, Any], list[str]]:
    """The amt backend's CreateHyperParameterTuningJob request of the job's spec (validated), and plan's notes."""
    from jupyter_hpo.sagemaker.plan import plan

    amt = spec if spec.backend == "amt" else spec.replace(backend="amt")
    try:
        result = plan(amt, written_for=spec.backend)
    except SpecError as e:
        how = "" if spec.backend == "amt" else " (its tuning step is AMT's, built as `jupyter hpo plan --backend amt` would)"
        raise SpecError(f"job {job.name!r} cannot be exported as a pipeline{how}: {e}") from None
    (request,) = [r["params"] for r in result["requests"] if r["operation"] == "CreateHyperParameterTuningJob"]
    return dict(request), result["notes"]


def top_model_uri(output_path: str, step: str = TUNING_STEP) -> dict[str, Any]:
    """The pipeline expression of the best training job's ``model.tar.gz`` of tuning step ``step``."""
    return {"Std:Join": {"On": "/", "Values": [
        output_path.rstrip("/"), {"Get": f"Steps.{step}.TrainingJobSummaries[0].TrainingJobName"},
        "output/model.tar.gz"]}}


def _register_step(job: Any, spec: Any, opts: Any, tuning: Mapping[str, Any], group: str, image: str,
                   approval: str) -> dict[str, Any]:
    output = tuning["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"]
    arguments = {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": (f"best model of the tuning step of pipeline-exported jupyter-hpo job {job.name} "
                                    f"({spec.objective.metric}, {spec.objective.direction})"),
        "InferenceSpecification": {"Containers": [{"Image": image, "ModelDataUrl": top_model_uri(output)}]},
        "ModelApprovalStatus": approval,
        "CustomerMetadataProperties": {"jupyter-hpo:job": job.name, "jupyter-hpo:metric": spec.objective.metric},
        "Tags": resource_tags(opts, {"jupyter-hpo:job": job.name}),
        **({"SecurityConfig": {"KmsKeyId": opts.kms_key_id}} if opts.kms_key_id else {}),
    }
    # checked with a sample training job's model where the pipeline puts its expression
    sample = json.loads(json.dumps(arguments))
    sample["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = (
        f"{output.rstrip('/')}/{job.name[:32]}-001-0123abcd/output/model.tar.gz")
    try:
        check("CreateModelPackage", sample)
    except SpecError as e:
        raise SpecError(f"the RegisterModel step (--register {group}): {e}") from None
    return {"Name": REGISTER_STEP, "Type": "RegisterModel", "Arguments": arguments}


def pipeline_definition(job: Any, *, name: str | None = None, register_group: str | None = None,
                        image: str | None = None, approval: str | None = None) -> dict[str, Any]:
    """The pipeline of job ``job`` (see the module docstring), built and checked; nothing is sent.

    Args:
        job: a :class:`jupyter_hpo.api.Job` of the sagemaker or amt backend.
        name: the pipeline's name (default: the job's).
        register_group: add a RegisterModel step into this model package group.
        image, approval: the RegisterModel step's inference image (default: the training image) and
            ``ModelApprovalStatus`` (default ``PendingManualApproval``); only with ``register_group``.

    Returns:
        ``{"name", "definition", "notes", "job", "options"}`` (``options``: the job's SageMakerOptions).

    Raises:
        JobStateError: a local or simulated job.
        SpecError: a spec field AMT cannot take, a name or request AWS would refuse, or image/approval
            without a group.
    """
    if register_group is None and (image is not None or approval is not None):
        raise SpecError("an image or approval status is for the RegisterModel step: give a model package group too.")
    approval = approval or "PendingManualApproval"
    if approval not in APPROVAL_STATUSES:
        raise SpecError(f"the approval status must be one of {', '.join(APPROVAL_STATUSES)}, but got {approval!r}.")
    spec, opts = job_spec_and_options(job, "export")
    request, notes = _tuning_arguments(job, spec)
    del request["HyperParameterTuningJobName"]  # Pipelines names each execution's tuning job
    steps: list[dict[str, Any]] = [{"Name": TUNING_STEP, "Type": "Tuning", "Arguments": request}]
    if register_group is not None:
        steps.append(_register_step(job, spec, opts, request, register_group, image or opts.training_image(),
                                    approval))
    definition = {"Version": DEFINITION_VERSION, "Metadata": {}, "Parameters": [], "Steps": steps}
    name = name or job.name
    check_name_and_size(name, definition)
    submit = request["TrainingJobDefinition"]["StaticHyperParameters"].get("sagemaker_submit_directory")
    notes = [n for n in notes if not n.startswith("backend.options.simulate")]
    notes.append(f"the tuning step runs the code archive job {job.name} uploaded ({opts.code_uri(spec.name)}"
                 + (f", read in the container from {submit}" if submit and not submit.startswith("s3://") else "")
                 + "): launch the job again to change it.")
    return {"name": name, "definition": definition, "notes": notes, "job": job.name, "options": opts}


def check_name_and_size(name: str, definition: Mapping[str, Any]) -> None:
    """The pipeline's name and its definition's size as CreatePipeline takes them (SpecError otherwise)."""
    from jupyter_hpo.sagemaker.limits import check_request

    check_request("CreatePipeline", {"PipelineName": name, "PipelineDefinition": json.dumps(definition)})


def upsert_pipeline(built: Mapping[str, Any], *, role: str | None = None, region: str | None = None,
                    profile: str | None = None, client: Any = None) -> dict[str, str]:
    """Create the pipeline ``built`` (from :func:`pipeline_definition`), or update it if it exists.

    Args:
        built: the pipeline.
        role: the pipeline's execution role ARN (default: the job's ``backend.options.role``).
        region, profile: override the job's options.
        client: a boto3 SageMaker client to use (default: made from the options).

    Returns:
        ``{"action": "created" | "updated", "arn"}``.

    Raises:
        SpecError: no role, or a request AWS would refuse (nothing was sent).
        BackendError: AWS refused a call (nothing was created or changed).
    """
    from jupyter_hpo.sagemaker.registry import _aws_error, _not_found, sagemaker_clients

    opts = built["options"]
    if role is not None and not _ROLE.fullmatch(role):
        raise SpecError(f"--role must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>, the pattern of "
                        f"CreatePipeline.RoleArn), but got {role!r}.")
    role = role or opts.role
    if not role:
        raise SpecError("the pipeline needs an execution role: give --role ARN, or set backend.options.role.")
    body = json.dumps(built["definition"])
    description = f"the tuning of jupyter-hpo job {built['job']}"
    create = {"PipelineName": built["name"], "PipelineDefinition": body, "PipelineDescription": description,
              "RoleArn": role, "ClientRequestToken": uuid.uuid4().hex,
              "Tags": resource_tags(opts, {"jupyter-hpo:job": built["job"]})}
    update = {k: create[k] for k in ("PipelineName", "PipelineDefinition", "PipelineDescription", "RoleArn")}
    for operation, params in (("CreatePipeline", create), ("UpdatePipeline", update)):
        try:
            check(operation, params)
        except BackendError as e:  # botocore's report: the role's pattern, say
            raise SpecError(f"{operation} would be refused: {e}".replace("\n", " ")) from None
    sagemaker = client or sagemaker_clients(opts, region, profile)[0]
    nothing = "nothing was created or changed"
    try:
        sagemaker.describe_pipeline(PipelineName=built["name"])
        exists = True
    except Exception as e:  # noqa: BLE001 - an AWS error is explained; any other is raised as it is
        if not _not_found(e):
            raise _aws_error(e, "DescribePipeline", opts, nothing) from None
        exists = False
    try:
        if exists:
            return {"action": "updated", "arn": sagemaker.update_pipeline(**update)["PipelineArn"]}
        return {"action": "created", "arn": sagemaker.create_pipeline(**create)["PipelineArn"]}
    except Exception as e:  # noqa: BLE001 - an AWS error is explained; any other is raised as it is
        raise _aws_error(e, "UpdatePipeline" if exists else "CreatePipeline", opts, nothing) from None
