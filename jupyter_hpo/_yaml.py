"""Safe YAML loading that refuses a repeated key (PyYAML would silently keep the last one)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml import YAMLError

__all__ = ["load_yaml", "YAMLError"]


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: let SafeLoader report it
                repeated = False
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key) if not isinstance(key, (list, dict)) else None
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that also rejects a mapping with a repeated key."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
