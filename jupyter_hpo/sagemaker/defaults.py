"""The SageMaker SDK's defaults files (its "intelligent defaults"), read without importing the SDK, and the
execution role SageMaker Studio exposes.

Locations and precedence are the SDK's: an admin file (``SAGEMAKER_ADMIN_CONFIG_OVERRIDE``, else
``platformdirs.site_config_dir("sagemaker")/config.yaml``, ``/etc/xdg/sagemaker/config.yaml`` on Linux)
and a user file (``SAGEMAKER_USER_CONFIG_OVERRIDE``, else ``platformdirs.user_config_dir("sagemaker")/
config.yaml``, ``~/.config/sagemaker/config.yaml``); an override may name a file or a folder holding
``config.yaml``; the two documents are merged as the SDK merges them (``botocore.utils.merge_dicts``): a
mapping set in both (``Environment``) key by key, the user file's keys winning, anything else (a list such as
``Tags``, a string) taken whole from the user file. An ``s3://`` override is not read
(that would need a call to AWS): a note says so. The schema's keys used here::

    SageMaker:
      PythonSDK: {Modules: {Session: {DefaultS3Bucket, DefaultS3ObjectKeyPrefix}}}   -> s3_prefix
      TrainingJob:
        RoleArn                                        -> role
        VpcConfig: {Subnets, SecurityGroupIds}         -> subnets, security_group_ids
        EnableNetworkIsolation                         -> enable_network_isolation
        EnableInterContainerTrafficEncryption          -> encrypt_inter_container_traffic
        OutputDataConfig: {KmsKeyId}                   -> kms_key_id
        ResourceConfig: {VolumeKmsKeyId}               -> volume_kms_key_id
        Environment                                    -> environment (spec keys win)
        Tags: [{Key, Value}]                           -> tags (spec keys win)

In SageMaker Studio the execution role is read from ``/opt/ml/metadata/resource-metadata.json``
(``ExecutionRoleArn``) when neither the spec nor a defaults file names a role. Spec values always win;
:func:`with_defaults` says where each value came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_hpo.exceptions import SpecError

if TYPE_CHECKING:
    from jupyter_hpo.spec import TuningSpec

__all__ = ["STUDIO_METADATA", "defaults_files", "read_defaults", "with_defaults"]

#: Where SageMaker Studio (and notebook instances) describe the running app.
STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")

_TRAINING = ("SageMaker", "TrainingJob")
#: option -> path of its value in the defaults files
_PATHS: dict[str, tuple[str, ...]] = {
    "role": (*_TRAINING, "RoleArn"),
    "subnets": (*_TRAINING, "VpcConfig", "Subnets"),
    "security_group_ids": (*_TRAINING, "VpcConfig", "SecurityGroupIds"),
    "enable_network_isolation": (*_TRAINING, "EnableNetworkIsolation"),
    "encrypt_inter_container_traffic": (*_TRAINING, "EnableInterContainerTrafficEncryption"),
    "kms_key_id": (*_TRAINING, "OutputDataConfig", "KmsKeyId"),
    "volume_kms_key_id": (*_TRAINING, "ResourceConfig", "VolumeKmsKeyId"),
    "environment": (*_TRAINING, "Environment"),
    "tags": (*_TRAINING, "Tags"),
}
_SESSION = ("SageMaker", "PythonSDK", "Modules", "Session")


def defaults_files() -> list[tuple[str, Path | str]]:
    """``[("admin", path), ("user", path)]``, lowest precedence first, as the SDK finds them."""
    import platformdirs

    out: list[tuple[str, Path | str]] = []
    for kind, env, folder in (("admin", "SAGEMAKER_ADMIN_CONFIG_OVERRIDE", platformdirs.site_config_dir("sagemaker")),
                              ("user", "SAGEMAKER_USER_CONFIG_OVERRIDE", platformdirs.user_config_dir("sagemaker"))):
        override = os.environ.get(env)
        if override and override.startswith("s3://"):
            out.append((kind, override))
            continue
        path = Path(override).expanduser() if override else Path(folder) / "config.yaml"
        out.append((kind, path / "config.yaml" if path.is_dir() else path))
    return out


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, Mapping) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _values(doc: Any) -> dict[str, Any]:
    """The options a defaults document sets."""
    out = {name: _get(doc, path) for name, path in _PATHS.items()}
    tags = out.get("tags")
    if isinstance(tags, list):
        out["tags"] = {str(t.get("Key")): t.get("Value", "") for t in tags if isinstance(t, Mapping)}
    bucket, prefix = _get(doc, (*_SESSION, "DefaultS3Bucket")), _get(doc, (*_SESSION, "DefaultS3ObjectKeyPrefix"))
    if bucket:
        out["s3_prefix"] = f"s3://{bucket}/{str(prefix).strip('/')}" if prefix else f"s3://{bucket}/jupyter-hpo"
    return {k: v for k, v in out.items() if v is not None}


def _setters(name: str, docs: list[tuple[str, Any]]) -> str:
    """The files (``" + "``-joined, admin first) whose keys make the merged value of option ``name``: for a
    mapping every file that sets it, otherwise the last one; ``s3_prefix`` may take its bucket and prefix from
    different files."""
    paths = [(*_SESSION, "DefaultS3Bucket"), (*_SESSION, "DefaultS3ObjectKeyPrefix")] if name == "s3_prefix" \
        else [_PATHS[name]]
    found: set[str] = set()
    for path in paths:
        for source, doc in reversed(docs):
            value = _get(doc, path)
            if value is not None:
                found.add(source)
                if not isinstance(value, Mapping):
                    break
    return " + ".join(source for source, _ in docs if source in found)


def read_defaults() -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """``(options, {option: source}, notes)`` from the admin and the user file, merged as the SDK merges them
    (the user's keys win; a mapping such as ``Environment`` keeps the admin's other keys, which may be enforced,
    such as a proxy)."""
    from jupyter_hpo._yaml import YAMLError, load_yaml

    docs: list[tuple[str, Any]] = []
    notes: list[str] = []
    for kind, path in defaults_files():
        if isinstance(path, str):
            notes.append(f"the {kind} SageMaker defaults file {path} is in S3 and was not read (jupyter-hpo reads "
                         "local defaults files only); set the values in backend.options.")
            continue
        if not path.is_file():
            continue
        try:
            doc = load_yaml(path.read_text(encoding="utf-8"), f"the SageMaker defaults file {path}")
        except (OSError, YAMLError, UnicodeDecodeError) as e:  # one line, in any locale (it was a traceback)
            raise SpecError(f"the {kind} SageMaker defaults file {path} cannot be read: {e}") from None
        docs.append((f"{kind} defaults file {path}", doc))
    import copy

    from botocore.utils import merge_dicts  # the SDK's merge of its files: mappings key by key, the rest replaced

    merged: dict[str, Any] = {}
    for _, doc in docs:
        if isinstance(doc, dict):
            merge_dicts(merged, copy.deepcopy(doc))
    values = _values(merged)
    return values, {name: _setters(name, docs) for name in values}, notes


def _studio_role() -> str | None:
    try:
        meta = json.loads(STUDIO_METADATA.read_text())
    except (OSError, ValueError):
        return None
    role = meta.get("ExecutionRoleArn") if isinstance(meta, Mapping) else None
    return role if isinstance(role, str) and role else None


def with_defaults(spec: TuningSpec) -> tuple[TuningSpec, dict[str, str], list[str]]:
    """``spec`` with the defaults files' values (and Studio's role) for the options it does not set, where
    each option came from (``spec``, a defaults file, Studio) and notes."""
    given = dict(spec.backend_options)
    values, sources, notes = read_defaults()
    merged = dict(given)
    origin = {name: "spec" for name in given}
    for name, value in values.items():
        if name in ("environment", "tags") and isinstance(value, Mapping):
            mine = given.get(name) or {}
            if isinstance(mine, Mapping) and set(value) - set(mine):
                merged[name] = {**value, **mine}  # the spec's keys win
                origin[name] = f"spec + {sources[name]}" if mine else sources[name]
        elif name not in given:
            merged[name], origin[name] = value, sources[name]
    if "role" not in merged and given.get("simulate") is None:
        role = _studio_role()
        if role:
            merged["role"], origin["role"] = role, f"SageMaker Studio ({STUDIO_METADATA})"
    if merged == given:
        return spec, origin, notes
    return spec.replace(backend_options=merged), origin, notes
