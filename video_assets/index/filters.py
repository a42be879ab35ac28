"""User `--where` filters: tokenize, parse, type-check, render.

Grammar (keywords case-insensitive):

    filter     := or_expr EOF
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := primary ("AND" primary)*
    primary    := "(" or_expr ")" | predicate
    predicate  := COLUMN op literal
                | COLUMN ["NOT"] "IN" "(" literal ("," literal)* ")"
                | COLUMN "IS" ["NOT"] "NULL"
                | "text_score" "(" STRING ")" op NUMBER
                | "text_score" "(" STRING ")" "IS" ["NOT"] "NULL"
                | "reason" "(" STRING ")" [("=" | "!=") BOOL]     (curation only)
    op         := "<" | "<=" | ">" | ">=" | "=" | "!="
    literal    := NUMBER (numeric columns) | 'quoted string' (text and
                  timestamp columns; '' is a quote inside a string)

`text_score('a dog')` is the probability stored for the text 'a dog' in the
row's `text_scores` JSON (one of the model's `texts_to_verify`); a row with no
score for that text (no texts verified, another text list) compares false and
IS NULL. It is the only function a search filter may call.

Curation filters (`parse_where(text, curation=True)`: `video-assets clips`, `export`)
also name the columns that live beside the index, not in it (CURATION_COLUMNS: the
duplicates' dup_group, keep, ... and the clip filters' filter_keep, motion), compare
the boolean ones with `true` / `false`, and call `reason('static')`: whether that
reason is among the clip's filter reasons. Those parts cannot become LanceDB SQL
(`render_sql` refuses them); `curation/where_eval.py` evaluates them over Arrow.

Why the output is a SQL string and not a `lancedb.expr.Expr`: LanceDB 0.40's
Expr has comparisons, AND/OR/NOT and IN, but no IS NULL and no function that
could stand in for it (`func` knows only lower/upper/concat/btrim), and its
synchronous vector search lowers an Expr to SQL with `Expr.to_sql()` anyway.
So the SQL is rendered from the parsed tree only: every column is one of
ours, every comparison and IN list is built with `col`/`lit` and rendered by
LanceDB, and the only text we add is AND/OR/IS [NOT] NULL and parentheses.
The user's characters never reach the SQL.

`text_score` has no Expr either: it is rendered as fixed SQL that cuts the
number after the text's JSON key out of `text_scores` (see `_text_score_sql`);
the key is the only variable part and it is rendered by `lit`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
from lancedb.expr import Expr, col, lit

from video_assets.index.errors import InvalidFilterError
from video_assets.index.schema import clip_schema

MAX_FILTER_CHARS = 2000
MAX_IN_VALUES = 1000
MAX_DEPTH = 32
COMPARISON_OPS = ("<", "<=", ">", ">=", "=", "!=")
TEXT_SCORE = "text_score"
REASON = "reason"
MAX_TEXT_CHARS = 1000


def _column_kinds() -> dict[str, str]:
    """Filterable columns -> literal kind, derived from the clip schema so they never drift."""
    kinds = {}
    for field in clip_schema(1):
        if field.name in ("vector", "text_scores"):  # not scalars a user filters on
            continue
        if pa.types.is_floating(field.type):
            kinds[field.name] = "number"
        elif pa.types.is_timestamp(field.type):
            kinds[field.name] = "timestamp"
        else:
            kinds[field.name] = "string"
    return kinds


FILTER_COLUMNS: dict[str, str] = _column_kinds()
# Columns joined beside index rows by curation readers (curation/filter_read.py), and the
# reasons `reason('...')` knows (curation/clip_filters.REASONS; kept here so the parser
# stays free of the curation package).
CURATION_COLUMNS: dict[str, str] = {
    "dup_group": "string",
    "dup_keep": "bool",
    "sim_to_kept": "number",
    "group_size": "number",
    "cluster_id": "number",
    "filter_keep": "bool",
    "motion": "number",
}
# Old names still read, for one release: `keep` was the duplicates' flag, beside the clip filters' `filter_keep`.
DEPRECATED_COLUMNS: dict[str, str] = {"keep": "dup_keep"}
FILTER_REASONS = ("too_short", "too_long", "too_few_frames", "duplicate", "low_text_score", "static", "black", "frozen")

Value = float | str | datetime | bool


@dataclass(frozen=True)
class TextScore:
    """`text_score('TEXT')`: a number read from the row's `text_scores` JSON."""

    text: str


@dataclass(frozen=True)
class Reason:
    """`reason('static')`: whether the clip's filter reasons include this one (curation filters)."""

    name: str


Operand = str | TextScore | Reason  # a column name, a text score, or a filter reason


@dataclass(frozen=True)
class Comparison:
    column: Operand
    op: str
    value: Value


@dataclass(frozen=True)
class InList:
    column: str
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class NullCheck:
    column: Operand
    negated: bool  # IS NOT NULL


@dataclass(frozen=True)
class BoolOp:
    op: str  # "AND" | "OR"
    operands: tuple[Node, ...]


Node = Comparison | InList | NullCheck | BoolOp


@dataclass(frozen=True)
class Token:
    kind: str  # "name" | "number" | "string" | "op" | "(" | ")" | "," | "end"
    text: str
    position: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<|>|=)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens; any character outside the grammar is an error."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            problem = "unterminated string (unbalanced quote)" if char == "'" else f"unexpected character {char!r}"
            raise InvalidFilterError(text, pos, problem)
        kind = match.lastgroup
        if kind == "punct":
            kind = match.group()
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, *, curation: bool = False) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.columns = {**FILTER_COLUMNS, **CURATION_COLUMNS} if curation else FILTER_COLUMNS
        self.curation = curation

    def fail(self, token: Token, problem: str) -> InvalidFilterError:
        return InvalidFilterError(self.text, token.position, problem)

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        """Consume the keyword `word` if it is next."""
        token = self.peek()
        if token.kind == "name" and token.text.upper() == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        token = self.take()
        if token.kind != kind:
            raise self.fail(token, f"expected {what}, got {_shown(token)}")
        return token

    def parse(self) -> Node:
        node = self.or_expr(depth=0)
        token = self.peek()
        if token.kind != "end":
            raise self.fail(token, f"expected AND, OR or the end of the filter, got {_shown(token)}")
        return node

    def or_expr(self, depth: int) -> Node:
        operands = [self.and_expr(depth)]
        while self.keyword("OR"):
            operands.append(self.and_expr(depth))
        return operands[0] if len(operands) == 1 else BoolOp("OR", tuple(operands))

    def and_expr(self, depth: int) -> Node:
        operands = [self.primary(depth)]
        while self.keyword("AND"):
            operands.append(self.primary(depth))
        return operands[0] if len(operands) == 1 else BoolOp("AND", tuple(operands))

    def primary(self, depth: int) -> Node:
        token = self.peek()
        if token.kind == "(":
            if depth >= MAX_DEPTH:
                raise self.fail(token, f"parentheses nested deeper than {MAX_DEPTH}")
            self.take()
            node = self.or_expr(depth + 1)
            self.expect(")", "')'")
            return node
        return self.predicate()

    def predicate(self) -> Node:
        token = self.take()
        if token.kind != "name":
            raise self.fail(token, f"expected a column name, got {_shown(token)}")
        if self.peek().kind == "(":
            if token.text == TEXT_SCORE:
                return self.text_score()
            if token.text == REASON and self.curation:
                return self.reason()
            also = f" and {REASON}('NAME')" if self.curation else ""
            raise self.fail(
                token, f"function calls other than {TEXT_SCORE}('TEXT'){also} are not allowed ({token.text}(...))"
            )
        column = DEPRECATED_COLUMNS.get(token.text, token.text) if self.curation else token.text
        if column not in self.columns:
            hint = f"; per-text scores are {TEXT_SCORE}('TEXT') > 0.5" if column == "text_scores" else ""
            if column in CURATION_COLUMNS or column in DEPRECATED_COLUMNS or column == REASON:
                hint = "; curation columns and reason('...') are filtered with `video-assets search`, `clips` and `export`, which read them beside the index"
            functions = f"{TEXT_SCORE}('TEXT')" + (f", {REASON}('NAME')" if self.curation else "")
            raise self.fail(
                token, f"unknown column {column!r}; filterable: {', '.join(self.columns)}, {functions}{hint}"
            )
        if self.keyword("IS"):
            negated = self.keyword("NOT")
            if not self.keyword("NULL"):
                raise self.fail(self.peek(), f"expected NULL after IS, got {_shown(self.peek())}")
            return NullCheck(column, negated)
        negated = self.keyword("NOT")
        if self.keyword("IN"):
            return InList(column, self.in_values(column), negated)
        if negated:
            raise self.fail(self.peek(), f"expected IN after NOT, got {_shown(self.peek())}")
        op = self.take()
        if op.kind != "op":
            raise self.fail(
                op, f"expected one of {' '.join(COMPARISON_OPS)}, IN or IS after {column}, got {_shown(op)}"
            )
        if self.columns[column] == "bool" and op.text not in ("=", "!="):
            raise self.fail(op, f"{column} is true or false: compare it with = or !=, got {op.text!r}")
        return Comparison(column, op.text, self.literal(column))

    def reason(self) -> Node:
        """After `reason`: ('NAME'), optionally = / != true / false; alone it means = true."""
        self.expect("(", f"'(' after {REASON}")
        token = self.take()
        name = token.text[1:-1] if token.kind == "string" else None
        if name not in FILTER_REASONS:
            raise self.fail(token, f"{REASON} takes one of {', '.join(map(repr, FILTER_REASONS))}, got {_shown(token)}")
        self.expect(")", f"')' closing {REASON}(...)")
        if self.peek().kind != "op":
            return Comparison(Reason(name), "=", True)
        op = self.take()
        if op.text not in ("=", "!="):
            raise self.fail(op, f"{REASON}(...) is true or false: compare it with = or !=, got {op.text!r}")
        return Comparison(Reason(name), op.text, self._bool(self.take()))

    def _bool(self, token: Token) -> bool:
        if token.kind == "name" and token.text.upper() in ("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        raise self.fail(token, f"expected true or false, got {_shown(token)}")

    def text_score(self) -> Node:
        """After `text_score`: ('TEXT') then a numeric comparison or IS [NOT] NULL."""
        self.expect("(", f"'(' after {TEXT_SCORE}")
        token = self.take()
        if token.kind != "string":
            raise self.fail(token, f"{TEXT_SCORE} takes one 'quoted' text, got {_shown(token)}")
        text = token.text[1:-1].replace("''", "'")
        if not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise self.fail(token, f"{TEXT_SCORE} text must be non-blank and at most {MAX_TEXT_CHARS} characters")
        self.expect(")", f"')' closing {TEXT_SCORE}(...)")
        score = TextScore(text)
        if self.keyword("IS"):
            negated = self.keyword("NOT")
            if not self.keyword("NULL"):
                raise self.fail(self.peek(), f"expected NULL after IS, got {_shown(self.peek())}")
            return NullCheck(score, negated)
        op = self.take()
        if op.kind != "op":
            raise self.fail(
                op, f"expected one of {' '.join(COMPARISON_OPS)} or IS after {TEXT_SCORE}(...), got {_shown(op)}"
            )
        value = self.take()
        if value.kind != "number" or not math.isfinite(float(value.text)):
            raise self.fail(value, f"{TEXT_SCORE} is a probability: expected a number, got {_shown(value)}")
        return Comparison(score, op.text, float(value.text))

    def in_values(self, column: str) -> tuple[Value, ...]:
        self.expect("(", "'(' after IN")
        values = [self.literal(column)]
        while self.peek().kind == ",":
            self.take()
            values.append(self.literal(column))
            if len(values) > MAX_IN_VALUES:
                raise self.fail(self.peek(), f"more than {MAX_IN_VALUES} values in IN (...)")
        self.expect(")", "')' closing IN (...)")
        return tuple(values)

    def literal(self, column: str) -> Value:
        token = self.take()
        kind = self.columns[column]
        if token.kind == "name" and token.text.upper() == "NULL":
            raise self.fail(token, f"compare with NULL using '{column} IS NULL' / 'IS NOT NULL'")
        if kind == "bool":
            return self._bool(token)
        if kind == "number":
            if token.kind != "number":
                raise self.fail(token, f"{column} is numeric: expected a number, got {_shown(token)}")
            value = float(token.text)
            if not math.isfinite(value):
                raise self.fail(token, f"number {token.text} is out of range")
            return value
        if token.kind != "string":
            raise self.fail(token, f"{column} is text: expected a 'quoted' string, got {_shown(token)}")
        text = token.text[1:-1].replace("''", "'")
        return _timestamp(self, token, text) if kind == "timestamp" else text


def _timestamp(parser: _Parser, token: Token, text: str) -> datetime:
    # Python 3.10's fromisoformat does not take a "Z" suffix.
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        value = datetime.fromisoformat(iso)
    except ValueError as err:
        raise parser.fail(
            token, f"expected an ISO-8601 timestamp such as '2024-05-01T12:00:00Z', got {text!r}"
        ) from err
    # The column is UTC; LanceDB renders datetime literals without a zone, so hand it naive UTC.
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _shown(token: Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


def parse_where(text: str, *, curation: bool = False) -> Node:
    """Parse a user filter into a tree; `InvalidFilterError` says what and where.

    `curation` admits CURATION_COLUMNS and `reason(...)` (see the module doc)."""
    if not isinstance(text, str):
        raise TypeError(f"filter must be a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidFilterError(
            text[:80] + "...", MAX_FILTER_CHARS, f"filter longer than {MAX_FILTER_CHARS} characters"
        )
    if not text.strip():
        raise InvalidFilterError(text, 0, "empty filter")
    return _Parser(text, curation=curation).parse()


def uses_curation(node: Node) -> bool:
    """Whether a parsed filter reads a curation column or `reason(...)` (then it is not SQL for the index)."""
    if isinstance(node, BoolOp):
        return any(uses_curation(operand) for operand in node.operands)
    column = node.column
    return isinstance(column, Reason) or (isinstance(column, str) and column in CURATION_COLUMNS)


_OPS = {
    "<": Expr.__lt__,
    "<=": Expr.__le__,
    ">": Expr.__gt__,
    ">=": Expr.__ge__,
    "=": Expr.__eq__,
    "!=": Expr.__ne__,
}


def render_sql(node: Node) -> str:
    """SQL for a parsed filter; literals and columns are rendered by lancedb.expr."""
    if uses_curation(node):
        raise ValueError(
            "curation columns and reason(...) live beside the index, not in it: "
            "split them off first (curation/where_eval.py)"
        )
    if isinstance(node, Comparison):
        if isinstance(node.column, TextScore):
            # node.op is one of COMPARISON_OPS (the tokenizer admits nothing else).
            return f"{_text_score_sql(node.column.text)} {node.op} {lit(node.value).to_sql()}"
        return _OPS[node.op](col(node.column), lit(node.value)).to_sql()
    if isinstance(node, InList):
        member = col(node.column).isin([lit(v) for v in node.values])
        return (~member if node.negated else member).to_sql()
    if isinstance(node, NullCheck):
        operand = _text_score_sql(node.column.text) if isinstance(node.column, TextScore) else col(node.column).to_sql()
        return f"{operand} IS {'NOT ' if node.negated else ''}NULL"
    return f" {node.op} ".join(f"({render_sql(operand)})" for operand in node.operands)


def _text_score_sql(text: str) -> str:
    """The score of `text` in `text_scores`, a DOUBLE or NULL.

    `text_scores` is `json.dumps({text: prob, ...})` with the default separators
    (`, ` and `: `); the index's own row builder writes non-ASCII as is, the
    pipeline's as \\u escapes, so both spellings of the key are tried. The key
    is looked up as `, "<key>": ` after the opening brace is replaced by `, `:
    inside a JSON string every quote is escaped, so that sequence only occurs
    where a key starts, and a text that contains another text (`x"a dog`)
    cannot be mistaken for it. The number ends at the next `,` or `}`;
    TRY_CAST makes a missing key (empty part) NULL.
    """
    spellings = dict.fromkeys((json.dumps(text), json.dumps(text, ensure_ascii=False)))
    parts = [
        "TRY_CAST(split_part(split_part(split_part(concat(', ', substr(text_scores, 2)), "
        f"{lit(f', {key}: ').to_sql()}, 2), ',', 1), '}}', 1) AS DOUBLE)"
        for key in spellings
    ]
    return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


def text_score_texts(node: Node) -> list[str]:
    """The texts a filter reads with `text_score(...)`, in order of appearance."""
    if isinstance(node, BoolOp):
        return list(dict.fromkeys(t for operand in node.operands for t in text_score_texts(operand)))
    column = getattr(node, "column", None)
    return [column.text] if isinstance(column, TextScore) else []


def compile_where(text: str) -> str:
    """A user `--where` string to a safe SQL filter for LanceDB (see module docstring)."""
    return render_sql(parse_where(text))
