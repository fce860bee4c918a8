"""What each subject holds, so an expectation is type-checked once, at load.

A check kind declares the subjects it observes as a mapping ``name -> ValueType``. A name is
either a fixed subject (``status``, ``cert.expires_in``) or a root that takes a path (``json``,
``header``), declared with a trailing ``.*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ValueType(StrEnum):
    NUMBER = "number"
    DURATION = "duration"
    SIZE = "size"
    TEXT = "text"
    BOOL = "bool"
    SET = "set"  # a list whose order does not matter (DNS answers)
    ANY = "any"  # decided when evaluated (JSON values)


SubjectTable = Mapping[str, ValueType]

PHASE_SUBJECTS: SubjectTable = {
    "latency": ValueType.DURATION,
    "total": ValueType.DURATION,
}
"""Every check measures its total time; ``latency`` is the usual name for it."""


def lookup(table: SubjectTable, root: str, first: str | int | None) -> tuple[str, ValueType, bool]:
    """Find the declaration for a subject. Returns (declared name, type, takes_path) or raises
    KeyError. A fixed ``root.first`` wins over ``root`` alone, which wins over ``root.*``."""
    if isinstance(first, str) and f"{root}.{first}" in table:
        return f"{root}.{first}", table[f"{root}.{first}"], False
    if first is None and root in table:
        return root, table[root], False
    if f"{root}.*" in table:
        return f"{root}.*", table[f"{root}.*"], True
    raise KeyError(root)


def names(table: SubjectTable) -> list[str]:
    return sorted(name.replace(".*", ".<path>") for name in table)
