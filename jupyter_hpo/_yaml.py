"""Safe, bounded YAML loading.

It refuses a repeated key (PyYAML would silently keep the last one) and anything larger than the
limits of :mod:`jupyter_hpo._limits`: the text, and the document once its aliases are expanded
(an "alias bomb", where each level repeats the previous one, turns a few hundred bytes into
gigabytes). The expansion is measured on the composed node graph, in time linear in the text,
before any Python object is built.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml import YAMLError
from yaml.nodes import MappingNode, Node, ScalarNode

from jupyter_hpo._limits import MAX_SPEC_BYTES, MAX_SPEC_CHARS, MAX_SPEC_DEPTH, MAX_SPEC_NODES

__all__ = ["YAMLError", "YAMLLimitError", "dump_yaml", "load_yaml"]


class YAMLLimitError(YAMLError):
    """The text is valid YAML but larger than a limit; the message names where and the limit."""


_MERGE = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        #: each mapping's own key nodes, as written: merging (``<<: *base``) rewrites a node in place, the base's
        #: keys put before its own, and a mapping merged into another was read as repeating the keys it overrides
        self._own_keys: dict[int, list[Any]] = {}

    def _own(self, node: Any) -> list[Any]:
        return self._own_keys.setdefault(id(node), [k for k, _ in node.value if k.tag != _MERGE])

    def flatten_mapping(self, node: Any) -> None:
        self._own(node)  # before SafeLoader merges into it
        for key_node, value_node in node.value:  # and of what merges into it, before that is merged in turn
            if key_node.tag == _MERGE:
                for merged in (value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]):
                    if isinstance(merged, MappingNode):
                        self._own(merged)
        super().flatten_mapping(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        # `<<: *base` is merged by SafeLoader, and a mapping's own keys may override the base's: a repeat among
        # its own keys is refused
        for key_node in self._own(node):
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


# YAML 1.1 (PyYAML) reads a float only with a dot: `1e-3` was the string '1e-3', so `choices: [1e-3, 1e-2]` gave
# trials strings and `low: 1e-5` was refused, while JSON and YAML 1.2 read numbers there. Read them as floats.
# The dumper knows the same rule, so text such as '1e-3' is written quoted and reads back as text.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _Dumper(yaml.SafeDumper):
    pass


for _cls in (_UniqueKeyLoader, _Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def dump_yaml(data: Any, **options: Any) -> str:
    """``yaml.safe_dump`` whose output :func:`load_yaml` reads back as the same values."""
    return yaml.dump(data, Dumper=_Dumper, **options)


def load_yaml(text: str, what: str = "a spec", *, source: str | None = None, first_line: int = 1) -> Any:
    """``yaml.safe_load`` that also rejects a repeated key and a document beyond the size limits.

    ``what`` names the document in a message (``"a spec"``, ``"a search space"``); ``source`` names where the
    text came from in a syntax error (a file's path, ``"the %%hpo cell"``), whose line numbers count from
    ``first_line`` (2 for a cell body, whose first line is the cell's second).

    Raises:
        YAMLLimitError: the text, its expansion or its nesting is beyond a limit.
        YAMLError: the text is not valid YAML; its message is one line, e.g. ``the key 'seed' appears twice
            (spec.yaml, line 7, column 1)``.
    """
    if len(text) > MAX_SPEC_BYTES:
        raise YAMLLimitError(f"{what} must be at most {MAX_SPEC_BYTES:,} characters, but got {len(text):,}.")
    try:
        loader = _UniqueKeyLoader(text)  # checks the characters: a control character is refused here
    except yaml.reader.ReaderError as e:
        raise YAMLError(_one_line(e, text, source, first_line)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, what)
        return loader.construct_document(node)
    except RecursionError:
        raise YAMLLimitError(f"{what} must nest at most {MAX_SPEC_DEPTH} levels deep, but it nests deeper "
                             "than the YAML parser can follow.") from None
    except yaml.MarkedYAMLError as e:
        raise YAMLError(_one_line(e, text, source, first_line)) from None
    finally:
        loader.dispose()


def _one_line(error: YAMLError, text: str, source: str | None, first_line: int) -> str:
    """PyYAML's error as one line naming ``source`` and the line: its own text spans 4-7 lines (the mark's
    snippet and caret) and names the text "<unicode string>", which tells a reader of the CLI or a notebook
    neither which file nor that the rest is context."""
    def where(line: int, column: int, name: str | None = source) -> str:
        return f"{name + ', ' if name else ''}line {line + first_line}, column {column + 1}"

    if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow, found by its position
        line = text.count("\n", 0, error.position)
        column = error.position - (text.rfind("\n", 0, error.position) + 1)
        return f"unacceptable character #x{error.character:04x}: {error.reason} ({where(line, column)})"
    assert isinstance(error, yaml.MarkedYAMLError)
    mark = error.problem_mark or error.context_mark
    message = error.problem or error.context or "invalid YAML"
    if mark is not None:
        message += f" ({where(mark.line, mark.column)})"
    start = error.context_mark
    if error.problem and error.context and start is not None and mark is not None and start.line != mark.line:
        # an unclosed bracket or quote is found lines later, at the end; where it started is the useful part
        message += f", {error.context} that starts at {where(start.line, start.column, None)}"
    return message


# -- the size of a document once its aliases are expanded ----------------------------------------
_LIMITS = (("nodes", MAX_SPEC_NODES, "values (counting each use of an alias as a copy)"),
           ("chars", MAX_SPEC_CHARS, "characters of text (counting each use of an alias as a copy)"),
           ("depth", MAX_SPEC_DEPTH, "levels of nested lists and mappings"))


def _children(node: Node) -> list[Node]:
    if isinstance(node, ScalarNode):
        return []
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value)


def _measure(root: Node, what: str) -> dict[int, dict[str, int]]:
    """Each node's expanded size (nodes, chars, depth; each capped just above its limit), by id.

    An iterative depth-first walk that measures each distinct node once, so an alias costs one
    lookup however often it is used; a node found inside itself (``&a [*a]``) is refused.
    """
    sizes: dict[int, dict[str, int]] = {}
    open_nodes: set[int] = set()  # the nodes on the path being walked
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            children = [sizes[id(c)] for c in _children(node)]
            size = {"nodes": 1 + sum(c["nodes"] for c in children),
                    "chars": (len(node.value) if isinstance(node, ScalarNode) else 0) + sum(c["chars"] for c in children),
                    "depth": (0 if isinstance(node, ScalarNode) else 1) + max((c["depth"] for c in children), default=0)}
            sizes[key] = {name: min(size[name], limit + 1) for name, limit, _ in _LIMITS}
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            mark = node.start_mark
            raise YAMLLimitError(f"{what} must be finite, but the value at line {mark.line + 1}, column "
                                 f"{mark.column + 1} contains itself through an alias.")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes


def _check_expansion(root: Node, what: str) -> None:
    sizes = _measure(root, what)
    for name, limit, unit in _LIMITS:
        if sizes[id(root)][name] > limit:
            where = _where(root, sizes, name, limit) or what
            raise YAMLLimitError(f"{where} must hold at most {limit:,} {unit}, but it holds more.")


def _where(root: Node, sizes: dict[int, dict[str, int]], name: str, limit: int) -> str | None:
    """The deepest field (through mappings, at most 8 keys) that alone goes beyond the limit, e.g.
    `trial.hyperparameters.a` (for the depth: that reaches deeper than the limit)."""
    path: list[str] = []
    node = root
    while isinstance(node, MappingNode) and len(path) < 8:
        over = [(k, v) for k, v in node.value if sizes[id(v)][name] + (name == "depth") * (1 + len(path)) > limit]
        if not over or not isinstance(over[0][0], ScalarNode):
            break
        path.append(str(over[0][0].value))
        node = over[0][1]
    return f"`{'.'.join(path)}`" if path else None
