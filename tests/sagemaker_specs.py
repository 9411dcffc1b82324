"""Specs of a small script job on the SageMaker backends, shared by the SageMaker option tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_hpo.spec import TuningSpec

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def script_spec(tmp_path: Path, name: str, backend: str = "sagemaker", **options: Any) -> TuningSpec:
    """A one-parameter job running ``src/train.py`` (which prints ``auc=0.5``) with ``options``."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text("print('auc=0.5')\n")
    return TuningSpec.from_dict({
        "name": name, "trial": {"script": str(tmp_path / "src" / "train.py")},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 0.3}},
        "objective": {"metric": "auc", "direction": "maximize"},
        "backend": {"name": backend, "options": {"role": ROLE, "image": IMAGE, **options}}})
