"""``backend.options`` and the trial from a SageMaker Python SDK v3 ``ModelTrainer`` (read by attribute;
the SDK is not imported)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_hpo.exceptions import SpecError

__all__ = ["options_from_model_trainer", "spec_fields_from_model_trainer"]


def options_from_model_trainer(trainer: Any, **overrides: Any) -> dict[str, Any]:
    """``backend.options`` from a SageMaker SDK v3 ``ModelTrainer`` (read by attribute; no SDK import).

    The trainer's image, role, compute (type, count, volume, keep-alive), stopping condition,
    output path, environment, networking, input channels and source directory become the options
    every trial shares; ``overrides`` win.
    """
    def get(obj: Any, *names: str) -> Any:
        for name in names:
            obj = getattr(obj, name, None) if obj is not None else None
        return obj

    opts: dict[str, Any] = {
        "image": get(trainer, "training_image"),
        "role": get(trainer, "role"),
        "instance_type": get(trainer, "compute", "instance_type"),
        "instance_count": get(trainer, "compute", "instance_count"),
        "volume_size_gb": get(trainer, "compute", "volume_size_in_gb"),
        "volume_kms_key_id": get(trainer, "compute", "volume_kms_key_id"),
        "keep_alive_s": get(trainer, "compute", "keep_alive_period_in_seconds"),
        "spot": get(trainer, "compute", "enable_managed_spot_training"),
        "max_run_s": get(trainer, "stopping_condition", "max_runtime_in_seconds"),
        "output_path": get(trainer, "output_data_config", "s3_output_path"),
        "kms_key_id": get(trainer, "output_data_config", "kms_key_id"),
        "max_wait_s": get(trainer, "stopping_condition", "max_wait_time_in_seconds"),
        "environment": get(trainer, "environment"),
        "subnets": get(trainer, "networking", "subnets"),
        "security_group_ids": get(trainer, "networking", "security_group_ids"),
        "enable_network_isolation": get(trainer, "networking", "enable_network_isolation"),
        "encrypt_inter_container_traffic": get(trainer, "networking", "enable_inter_container_traffic_encryption"),
        "source_dir": get(trainer, "source_code", "source_dir"),
    }
    inputs = {}
    for channel in get(trainer, "input_data_config") or []:
        uri = get(channel, "data_source")
        uri = uri if isinstance(uri, str) else get(uri, "s3_data_source", "s3_uri")
        if get(channel, "channel_name") and isinstance(uri, str):
            inputs[get(channel, "channel_name")] = uri
    if inputs:
        opts["inputs"] = inputs
    entry = get(trainer, "source_code", "entry_script")
    if entry:
        opts["_entry_script"] = entry
    opts = {k: v for k, v in opts.items() if v is not None}
    opts.update(overrides)
    return opts


def spec_fields_from_model_trainer(trainer: Any) -> dict[str, Any]:
    """``{"trial": {...}, "options": {...}}`` for a spec from a SageMaker SDK v3 ``ModelTrainer``.

    The trainer's ``source_code.entry_script`` in ``source_code.source_dir`` becomes ``trial.script``
    and its ``hyperparameters`` the static hyperparameters.
    """
    options = options_from_model_trainer(trainer)
    entry = options.pop("_entry_script", None)
    source = options.get("source_dir")
    if not entry or not source:
        raise SpecError("the ModelTrainer needs `source_code=SourceCode(source_dir=..., entry_script=...)`: "
                        "jupyter-hpo runs that script for each trial.")
    trial: dict[str, Any] = {"script": str(Path(source, entry))}
    hyper = getattr(trainer, "hyperparameters", None)
    if isinstance(hyper, Mapping) and hyper:
        trial["hyperparameters"] = dict(hyper)
    return {"trial": trial, "options": options}
