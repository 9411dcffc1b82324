"""``jupyter hpo register`` and ``jupyter hpo export``: hand a job's result on to a registry or a pipeline.

- ``register JOB --sagemaker GROUP``: a model package in the SageMaker Model Registry
  (:mod:`jupyter_hpo.sagemaker.registry`); ``register JOB --mlflow MODEL_NAME``: a model version in the
  MLflow Model Registry (:func:`jupyter_hpo.mlflow_tracking.register_model`).
- ``export JOB --pipeline``: a SageMaker Pipelines definition whose tuning step sends the job's
  ``CreateHyperParameterTuningJob`` (:mod:`jupyter_hpo.sagemaker.pipeline`), written to ``-o FILE`` or
  stdout, created or updated in SageMaker with ``--upsert``; ``export JOB --mlflow``: the job and its
  trials as MLflow runs (:func:`jupyter_hpo.mlflow_tracking.export_job`).

Every option applies to one destination; one given for another destination is refused (exit 2, as
argparse does for bad usage), never ignored. So are an unknown job and, for ``register``, a job with no complete
trial: bad input, exit 2 and one line, as ``show`` and ``refit`` answer them. Any other failure prints one line and
exits 1, and what was created before it is said in that line (a model package group made before a refused model
package is kept and reused by the next ``register``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from jupyter_hpo.exceptions import HpoError, SpecError
from jupyter_hpo.handoff import model_text
from jupyter_hpo.records import dumps
from jupyter_hpo.sagemaker.registry import APPROVAL_STATUSES

__all__ = ["add_handoff_parsers", "cmd_export", "cmd_register"]

#: option (argparse dest) -> the destinations it applies to
_REGISTER_OPTIONS = {"region": "sagemaker", "profile": "sagemaker", "image": "sagemaker", "approval": "sagemaker",
                     "trial": "sagemaker", "tracking_uri": "mlflow"}
_EXPORT_OPTIONS = {"register": "pipeline", "upsert": "pipeline", "role": "pipeline", "output": "pipeline",
                   "name": "pipeline", "region": "pipeline", "profile": "pipeline", "image": "pipeline",
                   "approval": "pipeline", "tracking_uri": "mlflow", "experiment": "mlflow"}


def add_handoff_parsers(sub: Any) -> None:
    """Add ``register`` and ``export`` to the CLI's sub-commands."""
    reg = sub.add_parser("register", help="register a job's best (or refit) model: SageMaker Model Registry or "
                                          "MLflow Model Registry")
    reg.add_argument("job", metavar="JOB")
    to = reg.add_mutually_exclusive_group(required=True)
    to.add_argument("--sagemaker", metavar="GROUP", help="the model package group (created if needed)")
    to.add_argument("--mlflow", metavar="MODEL_NAME", help="the MLflow registered model's name")
    _aws_options(reg)
    reg.add_argument("--trial", type=int, metavar="N", help="--sagemaker: register trial N's model (default: the "
                                                            "refit's, else the best trial's)")
    reg.add_argument("--tracking-uri", help="--mlflow: the MLflow tracking server (default: the job's "
                                              "tracking.mlflow tracking_uri, else MLFLOW_TRACKING_URI)")
    reg.add_argument("--json", action="store_true", help="print the result as JSON")
    reg.set_defaults(handoff_parser=reg)

    exp = sub.add_parser("export", help="export a job: a SageMaker pipeline definition (--pipeline) or MLflow runs "
                                        "(--mlflow)")
    exp.add_argument("job", metavar="JOB")
    to = exp.add_mutually_exclusive_group(required=True)
    to.add_argument("--pipeline", action="store_true", help="a SageMaker Pipelines definition with the job's tuning "
                                                            "step (the amt backend's CreateHyperParameterTuningJob)")
    to.add_argument("--mlflow", action="store_true", help="the job as an MLflow parent run, each trial a child run")
    exp.add_argument("--register", metavar="GROUP", help="--pipeline: add a RegisterModel step for the tuning "
                                                         "step's best model into this model package group")
    exp.add_argument("--upsert", action="store_true", help="--pipeline: create or update the pipeline in SageMaker")
    exp.add_argument("--role", metavar="ARN", help="--pipeline --upsert: the pipeline's execution role (default: "
                                                   "the job's backend.options.role, defaults file or Studio)")
    exp.add_argument("--name", help="--pipeline --upsert: the pipeline's name (default: the job's name)")
    exp.add_argument("-o", "--output", metavar="FILE", help="--pipeline: write the definition to FILE (default: "
                                                            "stdout)")
    _aws_options(exp)
    exp.add_argument("--tracking-uri", help="--mlflow: the MLflow tracking server (default: the job's "
                                              "tracking.mlflow tracking_uri, else MLFLOW_TRACKING_URI)")
    exp.add_argument("--experiment", help="--mlflow: the MLflow experiment (default: the job's tracking.mlflow "
                                          "experiment, else MLFLOW_EXPERIMENT_NAME, else jupyter-hpo)")
    exp.add_argument("--json", action="store_true", help="print the result as JSON")
    exp.set_defaults(handoff_parser=exp)


def _aws_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", help="AWS region (default: the job's backend.options.region, else the AWS "
                                    "configuration's)")
    p.add_argument("--profile", help="AWS profile (default: the job's backend.options.profile)")
    p.add_argument("--image", metavar="URI", help="the inference image of the model package (default: the job's "
                                                  "training image)")
    p.add_argument("--approval", choices=APPROVAL_STATUSES, help="ModelApprovalStatus (default "
                                                                  "PendingManualApproval)")


def _check_options(args: argparse.Namespace, destination: str, table: dict[str, str]) -> None:
    """Refuse (argparse's usage error, exit 2) an option given for a destination it does not apply to."""
    flags = {"output": "-o/--output"}
    for dest, applies in table.items():
        value = getattr(args, dest, None)
        if value is not None and value is not False and applies != destination:  # `--trial 0`: 0 == False
            flag = flags.get(dest, "--" + dest.replace("_", "-"))
            args.handoff_parser.error(f"{flag} applies to --{applies} only, not --{destination}")
    for dest in ("tracking_uri", "experiment"):  # `--tracking-uri "$MLFLOW_URI"` with the variable unset, say
        value = getattr(args, dest, None)
        if isinstance(value, str) and not value.strip():
            args.handoff_parser.error(f"--{dest.replace('_', '-')} must not be empty (leave it out for the default)")
    if destination == "pipeline" and not args.register:
        for dest in ("image", "approval"):
            if getattr(args, dest) is not None:
                args.handoff_parser.error(f"--{dest} applies to the RegisterModel step: give --register GROUP too")
    if destination == "pipeline" and not args.upsert:
        for dest in ("name", "role", "region", "profile"):  # the definition itself has no name, role or region
            if getattr(args, dest) is not None:
                args.handoff_parser.error(f"--{dest} applies to the pipeline made by --upsert: give --upsert too")


def _fail(text: str, code: int = 1) -> int:
    from jupyter_hpo.cli import _safe

    print(f"error: {_safe(text)}", file=sys.stderr)
    return code


def cmd_register(args: argparse.Namespace) -> int:
    """``jupyter hpo register``: 0 and the result (text or ``--json``); 2 and one line for an unknown job, one
    with no complete trial, a model name MLflow refuses or a store that cannot be opened (as in ``refit``); 1 and
    one line on any other failure."""
    from jupyter_hpo import api

    destination = "sagemaker" if args.sagemaker is not None else "mlflow"
    _check_options(args, destination, _REGISTER_OPTIONS)
    try:
        job = api.attach(args.job, store=args.store)  # an unknown job: exit 2, as in show
        if not any(r["state"] == "complete" for r in job.trial_records()):
            # checked before the destination's own checks, so both destinations answer it alike
            return _fail(f"job {job.name!r} has no complete trial, so it has no model to register.", 2)
    except HpoError as e:  # an unknown job, a store that cannot be opened: exit 2, as in every command
        return _fail(str(e), 2)
    try:
        if destination == "mlflow":
            from jupyter_hpo.mlflow_tracking import register_model

            uri = register_model(job, args.mlflow, tracking_uri=args.tracking_uri)
            result: dict[str, Any] = {"registry": "mlflow", "job": job.name, "model": args.mlflow, "uri": uri}
            text = f"registered job {job.name}'s model in MLflow as {args.mlflow}: {uri}"
        else:
            from jupyter_hpo.sagemaker.registry import register_sagemaker

            result = register_sagemaker(job, args.sagemaker, region=args.region, profile=args.profile,
                                        image=args.image, approval=args.approval, trial=args.trial)
            text = _registered_text(result)
    except SpecError as e:  # a name the registry refuses: bad input
        return _fail(str(e), 2)
    except HpoError as e:
        return _fail(str(e))
    print(dumps(result) if args.json else text)
    return 0


def _registered_text(r: dict[str, Any]) -> str:
    group = f"{'created' if r['group_created'] else 'existing'} model package group {r['group']}"
    what = model_text(r["metric"], r["value"], r["trial"], best_trial=r["best_trial"],
                      refit_job=r["refit_job"] if r["refit"] else None, refit_value=r["refit_value"])
    line = (f"registered job {r['job']}'s {what} in the {group}: "
            f"{r['model_package_arn']} ({r['approval']}); model {r['model_data_url']}; metrics {r['metrics_uri']}")
    return "\n".join([line, *(f"note: {n}" for n in r["notes"])])


def cmd_export(args: argparse.Namespace) -> int:
    """``jupyter hpo export``: 0 and the result (text or ``--json``); 2 and one line for an unknown job or a store
    that cannot be opened (as in every command); 1 and one line on any other failure.

    ``--pipeline`` without ``-o`` or ``--json`` prints the definition itself on stdout (what was done
    with it, and notes, go to stderr), so it can be piped."""
    from jupyter_hpo import api

    destination = "pipeline" if args.pipeline else "mlflow"
    _check_options(args, destination, _EXPORT_OPTIONS)
    try:
        job = api.attach(args.job, store=args.store)  # an unknown job: exit 2, as in show
    except HpoError as e:  # an unknown job, a store that cannot be opened: exit 2, as in every command
        return _fail(str(e), 2)
    try:
        if destination == "mlflow":
            from jupyter_hpo._urls import masked_url
            from jupyter_hpo.mlflow_tracking import _client_settings, export_job

            run_id = export_job(job, tracking_uri=args.tracking_uri, experiment=args.experiment)
            # where it went: with no URI set anywhere, MLflow's default (a database in the working folder) took it
            # without a word
            where, experiment, _ = _client_settings(job.attrs, args.tracking_uri, args.experiment, job.name)
            where = masked_url(where)  # a password in it is printed (and kept in --json output) as ***
            # `uri`: MLflow's URI of the parent run (it held the bare run id, which is no URI), `run_id`: the id
            result: dict[str, Any] = {"export": "mlflow", "job": job.name, "run_id": run_id, "uri": f"runs:/{run_id}",
                                      "tracking_uri": where, "experiment": experiment}
            lines = [f"exported job {job.name} to MLflow at {where}, experiment {experiment!r}: parent run {run_id} "
                     f"(runs:/{run_id})"]
        else:
            result, lines = _export_pipeline(job, args)
    except HpoError as e:
        return _fail(str(e))
    if args.json:
        print(dumps(result))
    elif destination == "pipeline" and not args.output:
        import json

        print(json.dumps(result["definition"], indent=2))
        if lines:
            print("\n".join(lines), file=sys.stderr)
    else:
        print("\n".join(lines))
    return 0


def _export_pipeline(job: Any, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Build the definition; write it to ``-o``; create or update the pipeline with ``--upsert``."""
    import json
    from pathlib import Path

    from jupyter_hpo.sagemaker.pipeline import pipeline_definition, upsert_pipeline

    built = pipeline_definition(job, name=args.name, register_group=args.register, image=args.image,
                                approval=args.approval)
    result: dict[str, Any] = {"export": "pipeline", "job": job.name, "pipeline": built["name"], "file": None,
                              "upserted": None, "arn": None, "notes": built["notes"],
                              "definition": built["definition"]}
    lines = []
    if args.output:
        try:
            Path(args.output).write_text(json.dumps(built["definition"], indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise HpoError(f"cannot write the pipeline definition to {args.output}: {e.strerror or e}") from None
        result["file"] = args.output
        lines.append(f"wrote the pipeline definition of job {job.name} (pipeline {built['name']}) to {args.output}")
    if args.upsert:
        try:
            done = upsert_pipeline(built, role=args.role, region=args.region, profile=args.profile)
        except HpoError as e:
            if args.output:  # say what was done before the failure
                raise type(e)(f"{e} (the definition was written to {args.output})") from None
            raise
        result.update(upserted=done["action"], arn=done["arn"])
        lines.append(f"{done['action']} pipeline {built['name']}: {done['arn']}")
    lines.extend(f"note: {n}" for n in built["notes"])
    return result, lines
