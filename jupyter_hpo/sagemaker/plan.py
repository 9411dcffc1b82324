"""``jupyter hpo plan``: the exact requests a SageMaker backend would send, built and validated without AWS.

:func:`plan` runs the same checks as a launch (options, the space, botocore's model and the strict
limits of :mod:`jupyter_hpo.sagemaker.limits`) and returns the requests in the order they would be
sent: the code upload (``PutObject``, without its body) and the first trial's ``CreateTrainingJob``
(``sagemaker``), or the ``CreateHyperParameterTuningJob`` (``amt``). No client is made, no
credentials are read and nothing is written. Anything AWS would refuse raises
:class:`~jupyter_hpo.exceptions.SpecError` naming the field, the limit and the value.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import SearchSpaceError, SpecError

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["format_plan", "plan"]

_PLACEHOLDER = ("The tuned hyperparameters shown are the space's first point (each low end or first "
                "choice); the optimizer proposes each trial's values at run time.")


def plan(spec: TuningSpec, *, written_for: str | None = None) -> dict[str, Any]:
    """The requests ``spec``'s backend would send first, validated; see the module docstring.

    Args:
        spec: the spec, its ``backend`` the one to plan for.
        written_for: the backend the spec was written for, when it is planned as another one (``jupyter hpo plan
            --backend``, a pipeline's tuning step): the options only that backend uses are then said in the notes
            not to be sent. By default (the spec's own backend) they are refused, as a launch refuses them.

    Returns:
        ``{"backend", "job", "requests": [{"operation", "params"}], "sources": {option: where it came
        from: "spec", "admin defaults file <path>", "user defaults file <path>", "SageMaker Studio (...)"},
        "notes": [...]}``.

    Raises:
        SpecError: the spec or a request breaks a rule (one line: field, rule, value).
    """
    from jupyter_hpo.sagemaker.options import (
        SageMakerOptions,
        check_backend_only_options,
        check_no_local_pool_settings,
        check_timeout_fits,
        simulation_defaults,
        warm_pool_off_note,
    )

    if spec.backend not in ("sagemaker", "amt"):
        raise SpecError(f"`backend` must be sagemaker or amt for a plan (the local backend sends no requests), "
                        f"but got {spec.backend!r}.")
    from jupyter_hpo.sagemaker.defaults import with_defaults

    own = written_for in (None, spec.backend)
    if own:
        check_backend_only_options(spec, spec.backend_options)  # as a launch does: what the spec gave
    not_sent = [] if own else _not_sent(spec, written_for or "")
    if spec.backend_options.get("simulate") is not None:
        spec = spec.replace(backend_options=simulation_defaults(spec.backend_options))
    spec, sources, default_notes = with_defaults(spec)
    if own:
        check_no_local_pool_settings(spec)  # as a launch does
    opts = SageMakerOptions.from_spec(spec)
    check_timeout_fits(spec, opts)  # as a launch does
    if spec.trial.script is None:
        raise SpecError(f"the {spec.backend} backend runs a training script in a SageMaker container: give "
                        "`trial.script` (a function objective only runs on the local backend).")
    builder = _amt_requests if spec.backend == "amt" else _training_requests
    requests, notes = builder(spec, opts)
    notes += _bank_notes(spec, opts)
    if opts.simulate is not None:
        notes.append("backend.options.simulate is set: a launch sends these to the simulated SageMaker, not AWS.")
    off = warm_pool_off_note(spec)
    if off is not None:
        notes.append(off)
    return {"backend": spec.backend, "job": spec.name, "requests": requests, "sources": sources,
            "notes": [*default_notes, *not_sent, *notes]}


def _bank_notes(spec: TuningSpec, opts: Any) -> list[str]:
    """What an accepted combination of options does not do, said where the requests are shown."""
    from jupyter_hpo.sagemaker.packaging import PROGRAM, TOOLKIT_REQUIREMENTS, source_and_entry

    notes = []
    if opts.enable_network_isolation and source_and_entry(spec, opts)[1] == PROGRAM:
        notes.append(f"enable_network_isolation: true, and the source folder has a {TOOLKIT_REQUIREMENTS}, which "
                     "each container installs with pip: an isolated container has no network, so a package the "
                     "image lacks fails every trial; put it in the image, or remove the file.")
    if spec.backend == "amt" and opts.spot:
        notes.append("spot: true on amt sends EnableManagedSpotTraining and MaxWaitTimeInSeconds but no "
                     "CheckpointConfig (AMT names its training jobs, so they get no checkpoint folder of their "
                     "own): a trial that spot interrupts starts again from nothing. The sagemaker backend gives "
                     "each trial a checkpoint folder.")
    return notes


def _not_sent(spec: TuningSpec, written_for: str) -> list[str]:
    """A note for each option of a spec written for ``written_for`` that the backend it is planned for does not
    take: ``backend.options`` of the other SageMaker backend, the local workers' ``warm_pool`` fields."""
    from jupyter_hpo.sagemaker.options import BACKEND_ONLY_OPTIONS, LOCAL_POOL_FIELDS

    notes = [f"backend.options.{k} is not sent: {what} ({owner} backend), and this plan is for {spec.backend}."
             for k, (owner, what) in BACKEND_ONLY_OPTIONS.items()
             if k in spec.backend_options and owner != spec.backend]
    notes += [f"warm_pool.{f} is not sent: it sets the local backend's worker processes, and this plan is for "
              f"{spec.backend}." for f in LOCAL_POOL_FIELDS if getattr(spec.warm_pool, f) not in (None, 0)]
    if spec.backend == "amt" and not spec.warm_pool.enabled and written_for != "amt":
        notes.append("warm_pool.enabled: false is not sent: SageMaker AMT keeps no warm pools.")
    return notes


def _upload(opts: Any, code_uri: str) -> dict[str, Any]:
    from jupyter_hpo.sagemaker.options import split_s3

    bucket, key = split_s3(code_uri)
    return {"operation": "PutObject", "params": {"Bucket": bucket, "Key": key, "Body": "<sourcedir.tar.gz>",
                                                 **opts.upload_encryption()}}


def _training_requests(spec: TuningSpec, opts: Any) -> tuple[list[dict[str, Any]], list[str]]:
    from jupyter_hpo.sagemaker.packaging import source_and_entry
    from jupyter_hpo.sagemaker.requests import (
        check_space_for_pools,
        sample_point,
        training_job_name,
        training_job_request,
        validate_request,
    )

    check_space_for_pools(spec)
    _, entry = source_and_entry(spec, opts)
    code_uri = opts.code_uri(spec.name)
    keep_alive = opts.keep_alive_s if spec.warm_pool.enabled else 0
    first = None
    for point in (sample_point(spec, longest=True), sample_point(spec)):  # the first one shown
        first = training_job_request(spec, opts, job_name=training_job_name(spec.name, 0), params=point,
                                     code_uri=code_uri, entry=entry, keep_alive_s=keep_alive, trial=0,
                                     extra_tags={"jupyter-hpo:trial": "0"})
        validate_request("CreateTrainingJob", first)
    varies = "its hyperparameters, its jupyter-hpo:trial tag and its CheckpointConfig folder" if opts.spot else \
        "its hyperparameters and its jupyter-hpo:trial tag"
    notes = [_PLACEHOLDER, f"Every trial sends this request but for its TrainingJobName, {varies}."]
    return [_upload(opts, code_uri), {"operation": "CreateTrainingJob", "params": first}], notes


def _amt_requests(spec: TuningSpec, opts: Any) -> tuple[list[dict[str, Any]], list[str]]:
    from jupyter_hpo.sagemaker.packaging import source_and_entry
    from jupyter_hpo.sagemaker.ranges import check_ranges
    from jupyter_hpo.sagemaker.requests import validate_request
    from jupyter_hpo.sagemaker.tuning import check_grid_budget, tuning_job_name, tuning_job_request

    try:
        check_ranges(spec.space)
    except SearchSpaceError as e:
        raise SpecError(f"`space`: {e}") from None
    if opts.attach:
        raise SpecError(f"`backend.options.attach: {opts.attach}` mirrors an existing tuning job: nothing is "
                        "created, so there is no request to plan.")
    check_grid_budget(spec)  # as a launch does
    _, entry = source_and_entry(spec, opts)
    code_uri = opts.code_uri(spec.name)
    request = tuning_job_request(spec, opts, tuning_job_name=tuning_job_name(spec.name), code_uri=code_uri,
                                 entry=entry)
    validate_request("CreateHyperParameterTuningJob", request)
    return [_upload(opts, code_uri), {"operation": "CreateHyperParameterTuningJob", "params": request}], []


def format_plan(result: dict[str, Any]) -> str:
    """``plan``'s result as text: each request as indented JSON, then the notes."""
    lines = [f"jupyter hpo plan: job {result['job']} on the {result['backend']} backend would send, in order "
             "(nothing was sent):"]
    for i, req in enumerate(result["requests"], 1):
        lines.append(f"\n{i}. {req['operation']}")
        lines.append(json.dumps(req["params"], indent=2, sort_keys=False))
    defaults = {k: v for k, v in result.get("sources", {}).items() if v != "spec"}
    if defaults:
        lines.append("\nbackend.options not set in the spec, and where they came from:")
        lines.extend(f"  {name}: {source}" for name, source in sorted(defaults.items()))
    lines.extend(f"note: {n}" for n in result["notes"])
    return "\n".join(lines)



def add_plan_arguments(p: Any) -> None:
    """The arguments of ``jupyter hpo plan`` and ``%hpo plan``."""
    p.add_argument("spec", help="path of the YAML spec")
    p.add_argument("--backend", choices=("sagemaker", "amt"), help="override the spec's backend")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")


def add_plan_parser(sub: Any) -> None:
    """Register ``jupyter hpo plan SPEC [--json] [--backend B]`` on the CLI's subparsers."""
    add_plan_arguments(sub.add_parser("plan", help="print the SageMaker requests a spec would send, validated, "
                                                   "without calling AWS (exit 2 naming what AWS would refuse)"))


def cmd_plan(args: Any) -> int:
    """``jupyter hpo plan``: print the plan (text or ``--json``) and return 0; a SpecError propagates (the
    CLI prints it on one line and exits 2)."""
    from jupyter_hpo import api
    from jupyter_hpo.records import dumps

    result = api.plan(args.spec, backend=args.backend)
    print(dumps(result) if args.json else format_plan(result))
    return 0
