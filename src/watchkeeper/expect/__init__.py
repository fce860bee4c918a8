"""The expectation language: parse once at load, evaluate per Observation.

status == 200            latency < 500ms           json.items[0].id in [1, 2]
header.content-type contains 'json'                cert.expires_in > 14d
body matches 'v\\d+'     dns.answers contains '192.0.2.1'      status in 200..299
"""

from __future__ import annotations

from watchkeeper.expect.ast import Expectation, Literal, LiteralKind, Op, Subject
from watchkeeper.expect.compile import compile_expectation
from watchkeeper.expect.evaluate import evaluate
from watchkeeper.expect.parser import parse
from watchkeeper.expect.subjects import PHASE_SUBJECTS, SubjectTable, ValueType

__all__ = [
    "PHASE_SUBJECTS",
    "Expectation",
    "Literal",
    "LiteralKind",
    "Op",
    "Subject",
    "SubjectTable",
    "ValueType",
    "compile_expectation",
    "evaluate",
    "parse",
]
