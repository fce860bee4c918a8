"""Parse ``status == 200``, ``latency < 500ms``, ``json.items[0].id in [1, 2]`` once, at load.

Every error is an ExpectationError carrying the 0-based column where the parser gave up.
"""

from __future__ import annotations

import math
import re
from typing import Any

from watchkeeper.errors import ExpectationError
from watchkeeper.expect.ast import Expectation, Literal, LiteralKind, Op, PathPart, Subject
from watchkeeper.units import DURATION_UNITS, SIZE_UNITS

_ROOT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_WITH_UNIT = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?([A-Za-zµ]*)")
_WORD_OPS = {"in": Op.IN, "contains": Op.CONTAINS, "matches": Op.MATCHES}
_NEGATED = {Op.IN: Op.NOT_IN, Op.CONTAINS: Op.NOT_CONTAINS, Op.MATCHES: Op.NOT_MATCHES}
_SYMBOL_OPS = ("==", "!=", "<=", ">=", "<", ">")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
_MAX_LENGTH = 4096
_MAX_DEPTH = 8


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- helpers -----------------------------------------------------------------------------
    def fail(self, message: str, position: int | None = None) -> ExpectationError:
        return ExpectationError(message, self.text, self.pos if position is None else position)

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    # -- grammar -----------------------------------------------------------------------------
    def expectation(self) -> Expectation:
        if len(self.text) > _MAX_LENGTH:
            raise self.fail(f"expectation longer than {_MAX_LENGTH} characters", _MAX_LENGTH)
        self.skip_spaces()
        if self.at_end():
            raise self.fail("empty expectation: write e.g. status == 200")
        subject = self.subject()
        self.skip_spaces()
        op = self.operator()
        self.skip_spaces()
        if self.at_end():
            raise self.fail(f"missing value after '{op}'")
        literal = self.literal(depth=0)
        self.skip_spaces()
        if not self.at_end():
            raise self.fail(f"unexpected '{self.text[self.pos : self.pos + 20]}' after the value")
        return Expectation(subject, op, literal, self.text.strip())

    def subject(self) -> Subject:
        start = self.pos
        match = _ROOT.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a subject such as status, latency, body or json.<path>")
        root = match.group(0)
        self.pos = match.end()
        path: list[PathPart] = []
        while not self.at_end():
            char = self.peek()
            if char == ".":
                self.pos += 1
                path.append(self.path_key())
            elif char == "[":
                path.append(self.bracket())
            else:
                break
        end = self.pos
        if not self.at_end() and not self.peek().isspace() and self.peek() not in "=!<>":
            raise self.fail(f"unexpected '{self.peek()}' in subject")
        return Subject(root, tuple(path), self.text[start:end], start)

    def path_key(self) -> str:
        """A dotted path key: anything up to the next '.', '[', space or operator; ``{...}``
        (label matchers) are taken whole, quotes respected."""
        start = self.pos
        while not self.at_end():
            char = self.peek()
            if char in ".[" or char.isspace() or char in "=!<>":
                break
            if char == "{":
                self.braces()
                continue
            if char in "'\"":
                raise self.fail('quote inside a path key: use json["key"] for odd keys')
            self.pos += 1
        if self.pos == start:
            raise self.fail("empty path element after '.'")
        return self.text[start : self.pos]

    def braces(self) -> None:
        start = self.pos
        self.pos += 1
        while not self.at_end() and self.peek() != "}":
            if self.peek() in "'\"":
                self.string()
            else:
                self.pos += 1
        if self.at_end():
            raise self.fail("unclosed '{'", start)
        self.pos += 1

    def bracket(self) -> PathPart:
        start = self.pos
        self.pos += 1
        self.skip_spaces()
        part: PathPart
        if self.peek() in "'\"":
            part = self.string().value
        else:
            match = re.compile(r"-?\d+").match(self.text, self.pos)
            if not match:
                raise self.fail('expected an index like [0] or a quoted key like ["a.b"]')
            part = int(match.group(0))
            self.pos = match.end()
        self.skip_spaces()
        if self.peek() != "]":
            raise self.fail("expected ']'" if not self.at_end() else "unclosed '['", self.pos)
        self.pos += 1
        del start
        return part

    def operator(self) -> Op:
        start = self.pos
        for symbol in _SYMBOL_OPS:
            if self.text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return Op(symbol)
        if self.peek() == "=":
            raise self.fail("use '==' to compare, not '='")
        word = re.compile(r"[A-Za-z]+").match(self.text, self.pos)
        if word:
            name = word.group(0)
            self.pos = word.end()
            if name == "not":
                self.skip_spaces()
                nxt = re.compile(r"[A-Za-z]+").match(self.text, self.pos)
                if nxt and nxt.group(0) in _WORD_OPS:
                    self.pos = nxt.end()
                    return _NEGATED[_WORD_OPS[nxt.group(0)]]
                raise self.fail("expected 'in', 'contains' or 'matches' after 'not'", self.pos)
            if name in _WORD_OPS:
                return _WORD_OPS[name]
            raise self.fail(f"unknown operator '{name}'", start)
        if self.at_end():
            raise self.fail("missing operator: one of == != < <= > >= in contains matches")
        raise self.fail("expected an operator: one of == != < <= > >= in contains matches")

    def literal(self, depth: int) -> Literal:
        if depth > _MAX_DEPTH:
            raise self.fail("lists nested too deeply")
        start = self.pos
        char = self.peek()
        if char in "'\"":
            return self.string()
        if char == "[":
            return self.list_literal(depth)
        if char.isdigit() or (char == "-" and self.text[self.pos + 1 : self.pos + 2].isdigit()):
            low = self.number()
            if self.text.startswith("..", self.pos):
                self.pos += 2
                if not (self.peek().isdigit() or self.peek() == "-"):
                    raise self.fail("expected the upper end of the range")
                high = self.number()
                if high.kind != low.kind:
                    raise self.fail("both ends of a range need the same unit", high.position)
                if high.value < low.value:
                    raise self.fail("range upper end below its lower end", high.position)
                return Literal(LiteralKind.RANGE, (low, high), self.text[start : self.pos], start)
            return low
        word = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*").match(self.text, self.pos)
        if word:
            name = word.group(0)
            self.pos = word.end()
            if name in ("true", "false"):
                return Literal(LiteralKind.BOOL, name == "true", name, start)
            if name == "null":
                return Literal(LiteralKind.NULL, None, name, start)
            raise self.fail(f"text must be quoted: write '{name}'", start)
        if self.at_end():
            raise self.fail("missing value")
        raise self.fail(f"unexpected '{char}' where a value was expected")

    def number(self) -> Literal:
        start = self.pos
        match = _NUMBER_WITH_UNIT.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a number")
        unit = match.group(1)
        digits_end = match.end() - len(unit)
        # "1..5" must not swallow the dot: the regex allows '1.' only with digits after it.
        number_text = self.text[start:digits_end]
        self.pos = match.end()
        value: Any = float(number_text)
        if unit == "" and re.fullmatch(r"-?\d+", number_text):
            value = int(number_text)
        elif unit in DURATION_UNITS:
            value *= DURATION_UNITS[unit]
        elif unit.lower() in SIZE_UNITS:
            value *= SIZE_UNITS[unit.lower()]
        elif unit:
            raise self.fail(
                f"unknown unit '{unit}': durations use ms s m h d w, sizes B KB KiB MB MiB GB GiB",
                digits_end,
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("number too large", start)
        text = self.text[start : self.pos]
        if unit == "":
            return Literal(LiteralKind.NUMBER, value, number_text, start)
        if unit in DURATION_UNITS:
            return Literal(LiteralKind.DURATION, value, text, start)
        return Literal(LiteralKind.SIZE, int(value), text, start)

    def string(self) -> Literal:
        start = self.pos
        quote = self.peek()
        self.pos += 1
        chars: list[str] = []
        while True:
            if self.at_end():
                raise self.fail(f"unclosed string: add the closing {quote}", start)
            char = self.peek()
            if char == quote:
                self.pos += 1
                break
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped in _ESCAPES:
                    chars.append(_ESCAPES[escaped])
                    self.pos += 2
                    continue
                if escaped == "":
                    raise self.fail(f"unclosed string: add the closing {quote}", start)
                # unknown escapes stay as written, so regexes like '\d+' read naturally
                chars.append("\\" + escaped)
                self.pos += 2
                continue
            chars.append(char)
            self.pos += 1
        return Literal(LiteralKind.TEXT, "".join(chars), self.text[start : self.pos], start)

    def list_literal(self, depth: int) -> Literal:
        start = self.pos
        self.pos += 1
        items: list[Literal] = []
        while True:
            self.skip_spaces()
            if self.peek() == "]":
                self.pos += 1
                break
            if self.at_end():
                raise self.fail("unclosed list: add ']'", start)
            items.append(self.literal(depth + 1))
            self.skip_spaces()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                self.pos += 1
                break
            if self.at_end():
                raise self.fail("unclosed list: add ']'", start)
            raise self.fail("expected ',' or ']' in the list")
        return Literal(LiteralKind.LIST, tuple(items), self.text[start : self.pos], start)


def parse(text: str) -> Expectation:
    """Parse one expectation. Raises ExpectationError (with ``position``) on any bad input."""
    if not isinstance(text, str):
        raise ExpectationError('an expectation must be text, e.g. "status == 200"', "", 0)
    return _Parser(text).expectation()
