"""The strict validator: every request is checked against the API reference's limits before it is sent.

botocore's client checks a request's types and *minimums* only, so a request can pass it and still be
refused by SageMaker. :func:`check_request` adds, for ``CreateTrainingJob`` and
``CreateHyperParameterTuningJob`` (in real runs, in ``prepare`` and in ``jupyter hpo plan`` alike):

1. every limit that botocore's service model states but its client does not enforce: the ``max`` of
   each string's length, list's and map's number of entries and number's value, each string's
   ``pattern`` and ``enum`` (the model is the machine-readable form of the API reference; each message
   names the model shape the limit comes from, e.g. ``HyperParameterValue``);
2. the rules in :data:`RULES`, which the API reference or the developer guide states in prose only.

The first broken rule raises :class:`~jupyter_hpo.exceptions.SpecError`, one line: the spec field
(where one maps), the request field, the rule with its source, and the value.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jupyter_hpo._limits import short_repr
from jupyter_hpo.exceptions import SpecError
from jupyter_hpo.sagemaker.options import MAX_KEEP_ALIVE_S, MAX_RUN_S

__all__ = ["MAX_RANGES", "MAX_TUNING_HYPERPARAMETERS", "RULES", "check_request", "spec_field"]

#: Most parameter ranges of a tuning job, all kinds together (API reference, ``ParameterRanges``).
MAX_RANGES = 30
#: Most static plus tuned hyperparameters of a tuning job (developer guide, AMT limits).
MAX_TUNING_HYPERPARAMETERS = 100

#: The rules the service model does not state, each ``(name, rule, source)``; see :func:`_extra_rules`.
RULES: tuple[tuple[str, str, str], ...] = (
    ("tag-prefix", "tag keys must not start with 'aws:'", "API reference, Tag: the aws: prefix is reserved"),
    ("tag-unique", "tag keys must be unique per resource", "API reference, Tag.Key"),
    ("max-wait", "MaxWaitTimeInSeconds must be >= MaxRuntimeInSeconds", "API reference, StoppingCondition"),
    ("max-run", f"MaxRuntimeInSeconds must be at most {MAX_RUN_S} (28 days)", "API reference, StoppingCondition"),
    ("keep-alive", f"KeepAlivePeriodInSeconds must be at most {MAX_KEEP_ALIVE_S}",
     "developer guide, managed warm pools"),
    ("keep-alive-spot", "KeepAlivePeriodInSeconds cannot be used with EnableManagedSpotTraining or InstanceGroups",
     "developer guide, managed warm pools: considerations"),
    ("volume-key-form", "VolumeKmsKeyId must be a KMS key ID or key ARN, not an alias",
     "API reference, ResourceConfig.VolumeKmsKeyId"),
    ("volume-key-local-storage", "VolumeKmsKeyId cannot be given for an instance type with local (NVMe) storage, "
     "whose volumes the instance encrypts itself", "API reference, ResourceConfig.VolumeKmsKeyId; EC2 user guide, "
     "instance store volumes"),
    ("ranges-total", f"at most {MAX_RANGES} parameter ranges in total (integer + continuous + categorical)",
     "API reference, ParameterRanges"),
    ("hyperparameters-total", f"at most {MAX_TUNING_HYPERPARAMETERS} static and tuned hyperparameters together",
     "developer guide, AMT limits"),
    ("hyperband-early-stopping", "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy",
     "API reference, HyperParameterTuningJobConfig"),
    ("log-scaling", "Logarithmic scaling needs MinValue > 0; ReverseLogarithmic needs 0 <= values < 1",
     "API reference, ContinuousParameterRange.ScalingType"),
)

#: SageMaker training instance families with local NVMe instance storage (EC2 user guide, instance store
#: volumes; the API reference names ml.p4d, ml.g4dn and ml.g5 among them)
LOCAL_STORAGE_FAMILIES = frozenset({"c5d", "m5d", "r5d", "g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5",
                                    "p5e", "p5en", "trn1", "trn1n"})
_KEY = re.compile(r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/)?[A-Za-z0-9-]+")

#: The spec field behind each request field (the first path component found in this table).
_SPEC_FIELDS = {
    "TrainingJobName": "name", "HyperParameterTuningJobName": "name",
    "HyperParameters": "trial.hyperparameters / space", "StaticHyperParameters": "trial.hyperparameters",
    "Tags": "backend.options.tags", "Environment": "backend.options.environment",
    "MetricDefinitions": "objective.metric / objective.regex", "HyperParameterTuningJobObjective": "objective",
    "RoleArn": "backend.options.role", "InputDataConfig": "backend.options.inputs",
    "VpcConfig": "backend.options.subnets / security_group_ids", "OutputDataConfig": "backend.options.output_path",
    "KmsKeyId": "backend.options.kms_key_id", "S3OutputPath": "backend.options.s3_prefix / output_path",
    "CheckpointConfig": "backend.options.s3_prefix", "TrainingImage": "backend.options.image",
    "ResourceConfig": "backend.options.instance_type / instance_count / volume_size_gb",
    "StoppingCondition": "backend.options.max_run_s / max_wait_s / trial.timeout",
    "ParameterRanges": "space", "ResourceLimits": "budget", "WarmStartConfig": "backend.options.warm_start",
    "KeepAlivePeriodInSeconds": "backend.options.keep_alive_s", "MaxWaitTimeInSeconds": "backend.options.max_wait_s",
    "MaxRuntimeInSeconds": "backend.options.max_run_s / trial.timeout",
    "VolumeKmsKeyId": "backend.options.volume_kms_key_id",
    "MaxParallelTrainingJobs": "budget.max_parallel", "MaxNumberOfTrainingJobs": "budget.max_trials",
}
_FREE_PATTERNS = frozenset({".*", ".+", "[\\S\\s]*"})  # only forbid line breaks in Java; not enforced here


def spec_field(path: str) -> str | None:
    """The spec field behind request field ``path`` (``Tags[3].Key`` -> ``backend.options.tags``), or None."""
    for part in reversed(re.split(r"[.\[\]]", path)):  # the most specific first
        if part in _SPEC_FIELDS:
            return _SPEC_FIELDS[part]
    return None


def _fail(operation: str, path: str, rule: str, value: Any) -> SpecError:
    where = spec_field(path)
    field = f"`{where}` (request field {operation}.{path})" if where else f"request field {operation}.{path}"
    return SpecError(f"{field} {rule}, but got {value}.")


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) > 60:
        return f"a {len(value)}-character value {value[:40]!r}..."
    return short_repr(value, 100)


@functools.cache
def _operation_shape(operation: str) -> Any:
    from jupyter_hpo.sagemaker.requests import _service_model

    return _service_model("sagemaker").operation_model(operation).input_shape


def check_request(operation: str, params: Mapping[str, Any]) -> None:
    """Raise :class:`SpecError` for the first limit of the API reference that ``params`` breaks."""
    for path, rule, value in _model_problems(_operation_shape(operation), params, ""):
        raise _fail(operation, path, rule, value)
    for path, rule, value in _extra_rules(operation, params):
        raise _fail(operation, path, rule, value)


# -- 1. the service model's limits --------------------------------------------------------------------------
def _model_problems(shape: Any, value: Any, path: str) -> Iterator[tuple[str, str, str]]:
    meta, kind = shape.metadata, shape.type_name
    src = f"(API reference: {shape.name})"
    if kind == "structure" and isinstance(value, Mapping):
        for key, item in value.items():
            if key in shape.members:
                yield from _model_problems(shape.members[key], item, f"{path}.{key}" if path else key)
    elif kind == "list" and isinstance(value, (list, tuple)):
        if "max" in meta and len(value) > meta["max"]:
            yield path, f"must have at most {meta['max']} entries {src}", f"{len(value)} entries"
        for i, item in enumerate(value):
            yield from _model_problems(shape.member, item, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            yield path, f"must have at most {meta['max']} entries {src}", f"{len(value)} entries"
        for key, item in value.items():
            yield from _model_problems(shape.key, key, f"{path}[{key!r}] (the name)")
            yield from _model_problems(shape.value, item, f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        yield from _string_problems(shape, value, path, src)
    elif kind in ("integer", "long") and isinstance(value, int) and "max" in meta and value > meta["max"]:
        yield path, f"must be at most {meta['max']} {src}", str(value)


def _string_problems(shape: Any, value: str, path: str, src: str) -> Iterator[tuple[str, str, str]]:
    meta = shape.metadata
    if "max" in meta and len(value) > meta["max"]:
        yield path, f"must be at most {meta['max']} characters {src}", _shown(value)
    elif shape.enum and value not in shape.enum:
        yield path, f"must be one of {', '.join(shape.enum)} {src}", _shown(value)
    elif meta.get("pattern") and meta["pattern"] not in _FREE_PATTERNS and not _matches(meta["pattern"], value):
        yield path, f"must match the pattern {meta['pattern']} {src}", _shown(value)


def _matches(pattern: str, value: str) -> bool:
    if "\\p{" in pattern:  # Java's Unicode classes (tag keys and values): letters, separators, numbers
        return _unicode_class(pattern)(value)
    return re.fullmatch(pattern, value) is not None


@functools.cache
def _unicode_class(pattern: str) -> Callable[[str], bool]:
    body = re.fullmatch(r"\(?\[(.*)\]\*\)?", pattern)
    if body is None:  # a pattern this reader does not know: not enforced
        return lambda _value: True
    categories = set(re.findall(r"\\p\{(\w)\}", body.group(1)))
    literal = re.sub(r"\\p\{\w\}", "", body.group(1)).replace("\\-", "-")
    return lambda value: all(unicodedata.category(c)[0] in categories or c in literal for c in value)


# -- 2. rules stated in prose -------------------------------------------------------------------------------
def _rule(name: str) -> str:
    rule, source = next((r, s) for n, r, s in RULES if n == name)
    return f"breaks the rule: {rule} ({source})"


def _extra_rules(operation: str, p: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    yield from _tag_rules(p.get("Tags") or [])
    definition = p if operation == "CreateTrainingJob" else p.get("TrainingJobDefinition") or {}
    prefix = "" if operation == "CreateTrainingJob" else "TrainingJobDefinition."
    yield from _stopping_rules(definition.get("StoppingCondition") or {}, prefix)
    yield from _keep_alive_rules(definition, prefix)
    yield from _volume_key_rules(definition.get("ResourceConfig") or {}, prefix)
    if operation == "CreateHyperParameterTuningJob":
        yield from _tuning_rules(p)


def _tag_rules(tags: list[Mapping[str, str]]) -> Iterator[tuple[str, str, str]]:
    seen: set[str] = set()
    for i, tag in enumerate(tags):
        key = str(tag.get("Key", ""))
        if key.lower().startswith("aws:"):
            yield f"Tags[{i}].Key", _rule("tag-prefix"), _shown(key)
        if key in seen:
            yield f"Tags[{i}].Key", _rule("tag-unique"), _shown(key)
        seen.add(key)


def _stopping_rules(stopping: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str, str]]:
    run, wait = stopping.get("MaxRuntimeInSeconds"), stopping.get("MaxWaitTimeInSeconds")
    if isinstance(run, int) and run > MAX_RUN_S:
        yield f"{prefix}StoppingCondition.MaxRuntimeInSeconds", _rule("max-run"), str(run)
    if isinstance(run, int) and isinstance(wait, int) and wait < run:
        yield f"{prefix}StoppingCondition.MaxWaitTimeInSeconds", _rule("max-wait"), f"{wait} < {run}"


def _keep_alive_rules(definition: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str, str]]:
    resource = definition.get("ResourceConfig") or {}
    keep = resource.get("KeepAlivePeriodInSeconds") or 0
    path = f"{prefix}ResourceConfig.KeepAlivePeriodInSeconds"
    if keep > MAX_KEEP_ALIVE_S:
        yield path, _rule("keep-alive"), str(keep)
    if keep and (definition.get("EnableManagedSpotTraining") or resource.get("InstanceGroups")):
        yield path, _rule("keep-alive-spot"), f"{keep} with EnableManagedSpotTraining/InstanceGroups"


def _volume_key_rules(resource: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str, str]]:
    key, path = resource.get("VolumeKmsKeyId"), f"{prefix}ResourceConfig.VolumeKmsKeyId"
    if not isinstance(key, str):
        return
    if not _KEY.fullmatch(key):  # botocore's pattern takes alias/bank-key, which SageMaker refuses here
        yield path, _rule("volume-key-form"), _shown(key)
    family = str(resource.get("InstanceType") or "").split(".")[1:2]
    if family and family[0] in LOCAL_STORAGE_FAMILIES:
        yield path, _rule("volume-key-local-storage"), f"{_shown(key)} with {resource['InstanceType']}"


def _tuning_rules(p: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    config = p.get("HyperParameterTuningJobConfig") or {}
    ranges = config.get("ParameterRanges") or {}
    kinds = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
    counts = {k: len(ranges.get(k) or []) for k in kinds}
    path = "HyperParameterTuningJobConfig.ParameterRanges"
    if sum(counts.values()) > MAX_RANGES:
        yield path, _rule("ranges-total"), " + ".join(f"{n} {k[:-15].lower()}" for k, n in counts.items())
    static = (p.get("TrainingJobDefinition") or {}).get("StaticHyperParameters") or {}
    total = len(static) + sum(counts.values())
    if total > MAX_TUNING_HYPERPARAMETERS:
        yield "TrainingJobDefinition.StaticHyperParameters", _rule("hyperparameters-total"), (
            f"{len(static)} static + {sum(counts.values())} tuned")
    if config.get("Strategy") == "Hyperband" and config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        yield ("HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType", _rule("hyperband-early-stopping"),
               config["TrainingJobEarlyStoppingType"])
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for i, r in enumerate(ranges.get(kind) or []):
            yield from _scaling_rule(f"{path}.{kind}[{i}]", r)


def _scaling_rule(path: str, r: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    try:
        low, high = float(r["MinValue"]), float(r["MaxValue"])
    except (KeyError, ValueError):
        return
    scaling = r.get("ScalingType")
    if (scaling == "Logarithmic" and low <= 0) or (scaling == "ReverseLogarithmic" and not 0 <= low <= high < 1):
        yield path, _rule("log-scaling"), f"{r.get('Name')}: {scaling} from {r['MinValue']} to {r['MaxValue']}"
