"""YAML reading that keeps line numbers, so knowledge errors can say ``file:line``.

PyYAML forgets where a value came from and silently lets a repeated key win. Authors
need both: every mapping read here remembers the line of each key, and a repeated key
is reported instead of overwriting the first. Aliases (``*name``) are limited, so that an
"alias bomb" is refused at once instead of keeping a load or a reload busy for a minute.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Located(dict):  # type: ignore[type-arg]
    """A mapping that knows its file, its own line and the line of each key."""

    file: str = "?"
    line: int = 0
    key_lines: dict[str, int]
    duplicates: list[tuple[str, int]]

    def line_of(self, key: str) -> int:
        """Line of ``key`` if present, else the mapping's own line."""
        return self.key_lines.get(key, self.line)


class _LineLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader whose mappings are :class:`Located`."""

    source_name = "?"


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Located:
    loader.flatten_mapping(node)
    result = Located()
    result.file = loader.source_name
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be plain text", key_node.start_mark
            )
        key = str(key) if not isinstance(key, str) else key
        line = key_node.start_mark.line + 1
        if key in result:
            result.duplicates.append((key, line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Dates stay text: authors write 2026-11-22 and the loader parses it with a clear error.
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_yaml_str)


class YamlSyntaxError(Exception):
    """The file is not valid YAML; carries the location."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


def read_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML file, returning :class:`Located` mappings.

    Raises:
        YamlSyntaxError: the file cannot be read or is not valid YAML.
    """
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSyntaxError(name, 1, f"cannot read file: {exc}") from exc
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> Any:
    """Parse YAML text (see :func:`read_yaml`)."""

    class Loader(_LineLoader):
        source_name = name

    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _ALIAS.search(text):  # most files have no alias and skip the walk
            _check_aliases(node, name)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(name, line, f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(name, 1, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


#: Where an alias (``*name``) may stand; also matches some Markdown, which only costs a walk.
_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*[^\s,\[\]{}*]", re.MULTILINE)
#: How many values aliases may add to a file, all aliases together. Knowledge is trusted, but
#: nine nested aliases of nine ("billion laughs") make 387 million values that every later
#: step would walk: such a file is refused at once instead.
MAX_ALIAS_VALUES = 10_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node, name: str) -> None:
    """Refuse a document whose aliases expand to more than :data:`MAX_ALIAS_VALUES` values, or
    put a value inside itself. Each node is walked once, however often it is aliased.

    Raises:
        YamlSyntaxError: at the line of the aliased value that broke the limit.
    """
    sizes: dict[int, int] = {}  # id(node) -> how many values it stands for, expanded
    open_nodes: set[int] = set()
    added = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
        elif key in sizes:  # met again: an alias
            added += sizes[key]
            if added > MAX_ALIAS_VALUES:
                raise YamlSyntaxError(name, node.start_mark.line + 1,
                                      f"aliases of this value and others expand to more than {MAX_ALIAS_VALUES} values "
                                      "(an alias bomb?); write the values out or use fewer aliases")
        elif key in open_nodes:
            raise YamlSyntaxError(name, node.start_mark.line + 1, "this value contains an alias of itself")
        else:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_children(node)))
