"""Just enough SQL reading to suggest an index: the tables a normalised statement (as
pg_stat_statements keeps it, constants as ``$1``) reads, and the columns its WHERE clause
compares with a parameter or a constant.

    select * from orders o where o.customer_id = $1 and created_at > $2 order by id

gives the table ``orders`` (alias ``o``) and the filters ``customer_id`` (equality) and
``created_at`` (range). Anything more involved (OR at the top of the WHERE, expressions on a
column, WITH queries) gives no filters: better no suggestion than a wrong one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<quoted>"(?:[^"]|"")*(?:"|\Z))
  | (?P<string>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z)|(?:[bBxXnN]|[uU]&)?'(?:[^']|'')*(?:'|\Z))
  | (?P<dollar>\$(?P<tag>(?:[A-Za-z_][A-Za-z0-9_]*)?)\$.*?(?:\$(?P=tag)\$|\Z))
  | (?P<param>\$\d+)
  | (?P<number>0[xXoObB][0-9A-Fa-f_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op><=|>=|<>|!=|::|[=<>(),.;*+\-/%\[\]|&~!@#^?:])
    """,
    re.VERBOSE | re.DOTALL,
)
"""One token of SQL. Strings (also ``E'...'`` with backslash escapes, ``$tag$...$tag$``),
quoted identifiers and comments cut off by the end of the text (pg_stat_activity keeps only
the first ``track_activity_query_size`` bytes) run to the end."""

_DML = frozenset({"select", "insert", "update", "delete", "merge", "with", "values", "table"})
"""Statements whose text is shown (literals masked); of anything else only the command."""
_OBJECT_KINDS = frozenset(
    {
        "role", "user", "group", "system", "database", "table", "index", "sequence", "view",
        "materialized", "function", "procedure", "schema", "extension", "server", "type",
        "trigger", "publication", "subscription", "default", "local", "session", "unique",
    }
)  # fmt: skip

_CLAUSE_END = frozenset(
    {
        "group", "order", "limit", "offset", "returning", "having", "window", "union",
        "intersect", "except", "for", "fetch",
    }
)  # fmt: skip
_NOT_ALIAS = frozenset(
    {
        "where", "join", "inner", "left", "right", "full", "cross", "natural", "on", "using",
        "group", "order", "limit", "offset", "set", "returning", "having", "window", "union",
        "intersect", "except", "for", "fetch", "lateral", "tablesample", "only",
    }
)  # fmt: skip
_NOT_FUNCTION = frozenset({"in", "any", "all", "exists", "values", "as", "and", "or", "not"})
_RANGE = frozenset({"<", ">", "<=", ">="})
SAFE_FUNCTIONS = frozenset(
    {
        "count", "sum", "avg", "min", "max", "coalesce", "lower", "upper", "length",
        "date_trunc", "now", "nullif", "greatest", "least", "abs", "round",
    }
)  # fmt: skip
"""Functions a SELECT may call and still be run by EXPLAIN ANALYZE: no side effects."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """word (lower-cased), ident (a quoted identifier), param, literal, op."""
    text: str


@dataclass(frozen=True, slots=True)
class TableRef:
    schema: str | None
    name: str
    alias: str


@dataclass(frozen=True, slots=True)
class Filter:
    table: TableRef
    column: str
    equality: bool
    """``=``/``IN``/``= ANY``; otherwise a range (``<``, ``>``, ``BETWEEN``)."""
    params: tuple[int, ...] = ()
    """The ``$n`` compared with the column."""


@dataclass(slots=True)
class Statement:
    verb: str
    tables: list[TableRef] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    relations: list[TableRef] = field(default_factory=list)
    """Every relation named after FROM, JOIN, UPDATE or INTO at any depth (subqueries too;
    a ``from`` inside a function call, as in ``extract(year from x)``, gives a name that is
    no relation: callers treat names they cannot resolve as unsafe)."""
    functions: set[str] = field(default_factory=set)
    locks_rows: bool = False

    def index_columns(self, table: TableRef, limit: int = 3) -> list[str]:
        """The columns an index for this statement on ``table`` would have, in order:
        equality columns as written, then one range column."""
        equal = [f.column for f in self.filters if f.table == table and f.equality]
        ranges = [f.column for f in self.filters if f.table == table and not f.equality]
        columns = list(dict.fromkeys(equal))
        for column in ranges:
            if column not in columns:
                columns.append(column)
                break
        return columns[:limit]

    def key_columns(self, table: TableRef, limit: int = 3) -> tuple[list[str], str | None]:
        """:meth:`index_columns` split: the equality columns (any order serves them) and
        the range column after them, if any."""
        columns = self.index_columns(table, limit)
        equal = {f.column for f in self.filters if f.table == table and f.equality}
        if columns and columns[-1] not in equal:
            return columns[:-1], columns[-1]
        return columns, None

    def params_of(self, table: TableRef) -> dict[int, str]:
        """``$n`` → the column of ``table`` it is compared with."""
        return {n: f.column for f in self.filters if f.table == table for n in f.params}

    @property
    def read_only(self) -> bool:
        """A plain SELECT that calls only side-effect-free functions (EXPLAIN ANALYZE
        runs it)."""
        return self.verb == "select" and not self.locks_rows and self.functions <= SAFE_FUNCTIONS


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or ""
        value = match.group()
        if kind in ("space", "comment"):
            continue
        if kind == "word":
            out.append(Token("word", value.lower()))
        elif kind == "quoted":
            out.append(Token("ident", value[1:-1].replace('""', '"')))
        elif kind in ("string", "number", "dollar"):
            out.append(Token("literal", value))
        else:
            out.append(Token(kind, value))
    return out


def _command_at(toks: list[Token]) -> int | None:
    """Where the statement's first word is (after any opening parentheses)."""
    for i, tok in enumerate(toks):
        if tok.kind == "op" and tok.text == "(":
            continue
        return i if tok.kind == "word" else None
    return None


def command(text: str) -> str:
    """The statement's first word, lower-cased ("" when it has none)."""
    toks = tokens(text[:2000])
    at = _command_at(toks)
    return toks[at].text if at is not None else ""


def is_utility(text: str) -> bool:
    """Not a query or DML statement: ALTER ROLE, SET, CREATE, COPY, EXPLAIN, ... (their text
    may hold a password; pg_stat_statements does not normalise all of them)."""
    return command(text) not in _DML


def masked(text: str | None, limit: int = 200) -> str:
    """A statement's text fit to show: on one line, comments dropped, each string and
    number literal replaced by ``?`` (``$n`` parameters stay), cut to ``limit`` characters.
    Of a utility statement (:func:`is_utility`) only its first two words, as ``ALTER ROLE
    …``: its names and options are nobody's business in a report."""
    raw = str(text or "")
    toks = tokens(raw[:4000])
    at = _command_at(toks)
    if at is None or toks[at].text not in _DML:
        if at is None:
            return "…" if toks else ""
        words = [toks[at].text.upper()]
        if (
            at + 1 < len(toks)
            and toks[at + 1].kind == "word"
            and toks[at + 1].text in _OBJECT_KINDS
        ):
            words.append(toks[at + 1].text.upper())
        return " ".join(words) + " …"

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        if kind in ("string", "number", "dollar"):
            return "?"
        if kind == "comment":
            return " "
        return match.group()

    line = " ".join(_TOKEN.sub(replace, raw[: 4 * limit + 4000]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def parse(text: str) -> Statement | None:
    """The tables and filters of one SELECT, UPDATE or DELETE; None for anything else."""
    toks = tokens(text)
    if not toks or toks[0].kind != "word" or toks[0].text not in ("select", "update", "delete"):
        return None
    statement = Statement(verb=toks[0].text)
    depth = 0
    where_at: int | None = None
    for i, tok in enumerate(toks):
        if tok.kind == "op" and tok.text == "(":
            depth += 1
            if i > 0 and toks[i - 1].kind == "word" and toks[i - 1].text not in _NOT_FUNCTION:
                statement.functions.add(toks[i - 1].text)
            continue
        if tok.kind == "op" and tok.text == ")":
            depth -= 1
            continue
        if tok.kind == "word" and tok.text in ("from", "join", "update", "into"):
            _table_refs(toks, i + 1, statement.relations)
        if tok.kind != "word" or depth != 0:
            continue
        if tok.text in ("from", "join") or (tok.text == "update" and i == 0):
            _table_refs(toks, i + 1, statement.tables)
        elif tok.text == "where" and where_at is None:
            where_at = i + 1
        elif tok.text == "for" and i + 1 < len(toks):
            statement.locks_rows |= toks[i + 1].text in ("update", "share", "no", "key")
    if where_at is not None and statement.tables:
        statement.filters = _filters(_where_clause(toks, where_at), statement.tables)
    return statement


def _name(tok: Token) -> str | None:
    return tok.text if tok.kind in ("word", "ident") else None


def _table_refs(toks: list[Token], i: int, out: list[TableRef]) -> None:
    """``[schema.]table [[as] alias] [, ...]`` starting at ``toks[i]``."""
    while i < len(toks):
        if toks[i].kind == "word" and toks[i].text == "only":
            i += 1
        first = _name(toks[i]) if i < len(toks) else None
        if first is None or first in _NOT_ALIAS:
            return
        schema: str | None = None
        name = first
        i += 1
        if i + 1 < len(toks) and toks[i].text == "." and _name(toks[i + 1]):
            schema, name = first, str(_name(toks[i + 1]))
            i += 2
        if i < len(toks) and toks[i].text == "(":
            return  # a function in FROM
        alias = name
        if i < len(toks) and toks[i].kind == "word" and toks[i].text == "as":
            i += 1
        if i < len(toks) and _name(toks[i]) and toks[i].text not in _NOT_ALIAS:
            alias = str(_name(toks[i]))
            i += 1
        out.append(TableRef(schema, name, alias))
        if i < len(toks) and toks[i].text == ",":
            i += 1
            continue
        return


def _where_clause(toks: list[Token], i: int) -> list[Token]:
    depth = 0
    out: list[Token] = []
    for tok in toks[i:]:
        if tok.text == "(" and tok.kind == "op":
            depth += 1
        elif tok.text == ")" and tok.kind == "op":
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and ((tok.kind == "word" and tok.text in _CLAUSE_END) or tok.text == ";"):
            break
        out.append(tok)
    return out


def _conjuncts(clause: list[Token]) -> list[list[Token]] | None:
    """The clause split at its top-level ANDs; None when it has a top-level OR."""
    parts: list[list[Token]] = [[]]
    depth = 0
    between = False
    for tok in clause:
        if tok.kind == "op" and tok.text == "(":
            depth += 1
        elif tok.kind == "op" and tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.kind == "word":
            if tok.text == "or":
                return None
            if tok.text == "between":
                between = True
            elif tok.text == "and":
                if between:
                    between = False
                else:
                    parts.append([])
                    continue
        parts[-1].append(tok)
    return [p for p in parts if p]


def _filters(clause: list[Token], tables: list[TableRef]) -> list[Filter]:
    conjuncts = _conjuncts(clause)
    if conjuncts is None:
        return []
    out: list[Filter] = []
    for part in conjuncts:
        found = _comparison(part)
        if found is None:
            continue
        qualifier, column, equality, params = found
        table = _resolve(qualifier, tables)
        if table is not None:
            out.append(Filter(table, column, equality, params))
    return out


def _is_value(toks: list[Token]) -> bool:
    """A parameter or constant, maybe cast (``$1``, ``$1::int``, ``'a'::text``)."""
    if not toks or toks[0].kind not in ("param", "literal"):
        return False
    rest = toks[1:]
    while len(rest) >= 2 and rest[0].text == "::" and _name(rest[1]):
        rest = rest[2:]
    return not rest


def _params(toks: list[Token]) -> tuple[int, ...]:
    return tuple(int(t.text[1:]) for t in toks if t.kind == "param")


def _column(toks: list[Token]) -> tuple[str | None, str] | None:
    """``col`` or ``qualifier.col`` exactly."""
    if len(toks) == 1 and _name(toks[0]):
        return None, str(_name(toks[0]))
    if len(toks) == 3 and _name(toks[0]) and toks[1].text == "." and _name(toks[2]):
        return str(_name(toks[0])), str(_name(toks[2]))
    return None


def _comparison(part: list[Token]) -> tuple[str | None, str, bool, tuple[int, ...]] | None:
    for i, tok in enumerate(part):
        if tok.kind == "op" and tok.text in ("=", *_RANGE):
            left, right = part[:i], part[i + 1 :]
            column = _column(left)
            equality = tok.text == "="
            if column is not None and _is_value(right):
                return (*column, equality, _params(right))
            if (
                column is not None
                and equality
                and len(right) >= 3
                and right[0].text in ("any", "all")
                and right[1].text == "("
            ):
                return (*column, True, _params(right))
            column = _column(right)
            if column is not None and _is_value(left):
                return (*column, equality, _params(left))
            return None
        if tok.kind == "word" and tok.text in ("in", "between") and i > 0:
            column = _column(part[:i])
            if column is None:
                return None
            right = part[i + 1 :]
            if right and right[0].text == "(" and len(right) > 1 and right[1].text == "select":
                return None
            if any(t.kind == "word" and t.text not in ("and",) for t in right):
                return None  # columns or functions on the right: not a constant set
            return (*column, tok.text == "in", _params(right))
        if tok.kind == "word" and tok.text in ("not", "like", "ilike", "is"):
            return None
    return None


def _resolve(qualifier: str | None, tables: list[TableRef]) -> TableRef | None:
    if qualifier is None:
        return tables[0] if len(tables) == 1 else None
    for table in tables:
        if qualifier in (table.alias, table.name):
            return table
    return None
