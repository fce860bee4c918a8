"""The parsed form of an expectation: ``subject operator literal``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"
    MATCHES = "matches"
    NOT_MATCHES = "not matches"


ORDERING = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


class LiteralKind(StrEnum):
    NUMBER = "number"
    DURATION = "duration"
    SIZE = "size"
    TEXT = "text"
    BOOL = "bool"
    NULL = "null"
    LIST = "list"
    RANGE = "range"


@dataclass(frozen=True, slots=True)
class Literal:
    """A value written in an expectation. ``value`` is seconds for durations, bytes for sizes,
    a tuple of Literals for lists and a (low, high) pair of Literals for ranges."""

    kind: LiteralKind
    value: Any
    text: str
    position: int


PathPart = str | int


@dataclass(frozen=True, slots=True)
class Subject:
    """What an expectation looks at: ``root`` plus a path (``json.items[0].id``)."""

    root: str
    path: tuple[PathPart, ...]
    text: str
    position: int

    @property
    def key(self) -> str:
        """The root and, for fixed subjects, the first path element: ``cert.expires_in``."""
        if self.path and isinstance(self.path[0], str):
            return f"{self.root}.{self.path[0]}"
        return self.root


@dataclass(frozen=True, slots=True)
class Expectation:
    subject: Subject
    op: Op
    literal: Literal
    text: str
    soft: bool = False

    def __str__(self) -> str:
        return self.text
