"""The parsed form of an expectation: ``subject operator literal``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    passes: Callable[[Any], bool] | None = field(
        default=None, compare=False, hash=False, repr=False
    )
    """A shortcut for the commonest forms (``status == 200``, ``latency < 1s``): True when
    the expectation surely holds for an Observation; False means "ask ``evaluate``". Every
    check evaluates every expectation, and most pass."""

    def __post_init__(self) -> None:
        if self.passes is None:
            object.__setattr__(self, "passes", _shortcut(self.subject, self.op, self.literal))

    def __str__(self) -> str:
        return self.text


PHASE_ROOTS = {
    "latency": "total",
    "total": "total",
    "dns": "dns",
    "connect": "connect",
    "tls": "tls",
    "ttfb": "ttfb",
    "transfer": "transfer",
}
_NUMBERS = (LiteralKind.NUMBER, LiteralKind.DURATION)


def _shortcut(subject: Subject, op: Op, literal: Literal) -> Callable[[Any], bool] | None:
    """``passes`` for a phase against a number (``latency < 1s``) and for an exact status
    (``status == 200``); None for anything else."""
    if subject.path:
        return None
    bound = literal.value
    phase = PHASE_ROOTS.get(subject.root)
    if phase is not None and literal.kind in _NUMBERS and op in (Op.LT, Op.LE, Op.GT, Op.GE):
        if type(bound) not in (int, float):
            return None
        compare = {
            Op.LT: float.__lt__,
            Op.LE: float.__le__,
            Op.GT: float.__gt__,
            Op.GE: float.__ge__,
        }[op]
        wanted = float(bound)

        def phase_passes(observation: Any) -> bool:
            seconds = getattr(observation.phases, phase)
            return type(seconds) is float and compare(seconds, wanted)

        return phase_passes
    if subject.root == "status" and op is Op.EQ and literal.kind is LiteralKind.NUMBER:
        if type(bound) is not int:
            return None

        def status_passes(observation: Any) -> bool:
            status = observation.facts.get("status")
            return type(status) is int and status == bound

        return status_passes
    return None
