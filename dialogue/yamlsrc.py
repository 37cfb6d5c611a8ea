"""YAML reading that keeps line numbers, so knowledge errors can say ``file:line``.

PyYAML forgets where a value came from and silently lets a repeated key win. Authors
need both: every mapping read here remembers the line of each key, and a repeated key
is reported instead of overwriting the first.
"""

from __future__ import annotations

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

    try:
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(name, line, f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(name, 1, f"invalid YAML: {exc}") from exc
