"""Read YAML keeping the line of every key and item, so errors can say ``file:line``."""

from __future__ import annotations

from typing import Any

import yaml

from watchkeeper.errors import ConfigError

Path = tuple[str | int, ...]


_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_with_lines(text: str, filename: str) -> tuple[Any, dict[Path, int]]:
    """Parse ``text``; return the plain data and a map from each path to its 1-based line."""
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise ConfigError(f"malformed YAML: {problem}", file=filename, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=filename) from None
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    return _build(node, (), lines, filename), lines


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], filename: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(
                    "YAML merge keys (<<) are not supported; use the defaults block",
                    file=filename,
                    line=key_node.start_mark.line + 1,
                )
            key = _scalar(key_node, filename)
            if isinstance(key, list | dict):
                raise ConfigError(
                    "a key must be plain text", file=filename, line=key_node.start_mark.line + 1
                )
            if key in result:
                raise ConfigError(
                    f"duplicate key '{key}' (first at line {lines[(*path, key)]})",
                    file=filename,
                    line=key_node.start_mark.line + 1,
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, (*path, key), lines, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), lines, filename) for index, item in enumerate(node.value)
        ]
    return _scalar(node, filename)


def _scalar(node: yaml.Node, filename: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return _build(node, (), {}, filename)
    constructor = yaml.constructor.SafeConstructor()
    try:
        return constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(
            f"bad value: {exc}", file=filename, line=node.start_mark.line + 1
        ) from None


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    probe = tuple(path)
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get(())
