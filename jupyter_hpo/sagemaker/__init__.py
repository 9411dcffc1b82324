"""SageMaker: the ``sagemaker`` and ``amt`` backends and what they share."""

from __future__ import annotations
