"""Read YAML keeping the line of every key and item, so errors can say ``file:line``."""

from __future__ import annotations

from typing import Any

import yaml

from watchkeeper.errors import ConfigError

Path = tuple[str | int, ...]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "<<"


def load_with_lines(text: str, filename: str) -> tuple[Any, dict[Path, int]]:
    """Parse ``text``; return the plain data and a map from each path to its 1-based line.

    Built from the parser's event stream rather than a composed node graph, so a config of
    ten thousand monitors never holds two full copies of itself in memory.
    """
    builder = _Builder(filename)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        opened = _opened(exc, builder.stack, line)
        message = f"malformed YAML: {problem}" + (f" ({opened})" if opened else "")
        raise ConfigError(message, file=filename, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", file=filename) from None
    return builder.document, builder.lines


_CLOSERS = {"[": "]", "{": "}"}


def _opened(exc: yaml.MarkedYAMLError, stack: list[_Frame], failed: int | None) -> str | None:
    """Where the construct the parser was inside when it failed began, when that is an
    earlier line than the failure (an unclosed ``[`` is found wanting lines later, where
    the next construct starts): the innermost of the flow collections still open and the
    parser's own context (a quoted scalar, a block collection)."""
    if failed is None:
        return None
    found: tuple[int, str] | None = None
    flow = next((frame for frame in reversed(stack) if frame.bracket), None)
    if flow is not None and flow.opened < failed:
        closer = _CLOSERS[flow.bracket]
        found = (
            flow.opened,
            f"inside the '{flow.bracket}' opened at line {flow.opened}: is its '{closer}' missing?",
        )
    mark = exc.context_mark
    if exc.context and mark is not None and mark.line + 1 < failed:
        started = mark.line + 1
        if found is None or started > found[0]:  # the innermost names the construct
            found = (started, f"{exc.context} started at line {started}")
    return found[1] if found else None


class _Frame:
    """A mapping or sequence being filled, with the key waiting for its value."""

    __slots__ = ("anchor", "bracket", "container", "key", "key_line", "opened", "path")

    def __init__(
        self,
        container: dict[Any, Any] | list[Any],
        path: Path,
        anchor: str | None,
        opened: int = 0,
        flow: bool = False,
    ) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.opened = opened
        """The line it began on."""
        self.bracket = ("[" if isinstance(container, list) else "{") if flow else ""
        """``[`` or ``{`` for a flow collection, else empty."""


_NO_KEY = object()


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[Path, int] = {}
        self.document: Any = None
        self.documents = 0
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, message: str, line: int) -> ConfigError:
        return ConfigError(message, file=self.filename, line=line)

    def feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail("only one YAML document is allowed (remove the '---')", line)
        elif isinstance(event, yaml.MappingStartEvent):
            self.open({}, event.anchor, line, bool(event.flow_style))
        elif isinstance(event, yaml.SequenceStartEvent):
            self.open([], event.anchor, line, bool(event.flow_style))
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            if frame.anchor:
                self.anchors[frame.anchor] = frame.container
            self.place(frame.container, line, complete=True)
        elif isinstance(event, yaml.ScalarEvent):
            value = self.scalar(event, line)
            if event.anchor:
                self.anchors[event.anchor] = value
            self.place(value, line)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise self.fail(f"unknown alias *{event.anchor}", line)
            self.place(self.anchors[event.anchor], line)

    def path_for_child(self) -> Path:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        return (*frame.path, frame.key)

    def open(
        self, container: dict[Any, Any] | list[Any], anchor: str | None, line: int, flow: bool
    ) -> None:
        if (
            self.stack
            and isinstance(self.stack[-1].container, dict)
            and (self.stack[-1].key is _NO_KEY)
        ):
            raise self.fail("a key must be plain text, not a mapping or list", line)
        path = self.path_for_child()
        self.lines.setdefault(path, line)
        self.stack.append(_Frame(container, path, anchor, line, flow))

    def place(self, value: Any, line: int, complete: bool = False) -> None:
        """Put a finished value into the container being filled (or make it the document)."""
        if not self.stack:
            self.document = value
            return
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            path = (*frame.path, len(frame.container))
            if not complete:
                self.lines.setdefault(path, line)
            frame.container.append(value)
            return
        if frame.key is _NO_KEY:  # this value is a key
            if value == _MERGE:
                raise self.fail(
                    "YAML merge keys (<<) are not supported; use the defaults block", line
                )
            if isinstance(value, list | dict):
                raise self.fail("a key must be plain text", line)
            if value in frame.container:
                first = self.lines.get((*frame.path, value))
                raise self.fail(f"duplicate key '{value}' (first at line {first})", line)
            frame.key, frame.key_line = value, line
            self.lines[(*frame.path, value)] = line
            return
        frame.container[frame.key] = value
        frame.key = _NO_KEY

    def scalar(self, event: yaml.ScalarEvent, line: int) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            resolve: Any = self.resolver.resolve  # untyped in the stubs
            tag = resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, None, None, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise self.fail(f"bad value: {exc}", line) from None
        finally:
            self.constructor.constructed_objects.clear()


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    probe = tuple(path)
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get(())
