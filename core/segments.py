"""Segments: which plan a customer follows, and why (DESIGN.md section 4).

Segment rules are tried in order and the first whose condition holds gives the
customer's segment and plan; a manual plan override wins over every rule.

Conditions are written in a small safe language, parsed here by a hand-made
tokenizer and recursive-descent parser (never Python's ``ast`` or ``eval``)::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand [("<" | "<=" | ">" | ">=" | "==" | "!=") operand]
                | STRING ["not"] "in" "tags"
    operand    := NUMBER | STRING | METRIC | "true" | "false" | "(" or ")"

Every name is checked against ``METRIC_NAMES`` when the configuration is
loaded, so a misspelt or hostile name fails with the rule name and column
before any customer is looked at.  The syntax tree is then compiled once into
nested closures; evaluating a condition only ever compares Decimals, ints,
strings and a frozenset of tags, so there is nothing to escape into.

Choices DESIGN leaves open (docs/decisions.md, "Segment language"):

- chained comparisons (``a < b < c``) are rejected; combine them with ``and``;
- a ``-`` directly before a number literal is its sign (``dso > -1``); it is
  arithmetic, hence rejected, anywhere else;
- strings have no escape sequences: write a tag holding ``'`` between ``"``;
- comparing a number and a string with ``==`` is false and with ``!=`` true;
  ordering them (``<`` ...) is rejected when the condition is compiled;
- a bare value (``outstanding``, ``'vip'``, ``1``) is not a condition;
- columns count characters from the start of the whole text, starting at 1;
- an empty manual plan (``""``) is no override.
"""

from __future__ import annotations

import difflib
import keyword
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any, Final

METRIC_NAMES: Final[frozenset[str]] = frozenset(
    {
        "outstanding",
        "overdue_amount",
        "max_days_overdue",
        "avg_days_late",
        "late_count",
        "dso",
        "open_disputes",
        "customer_age_days",
        "credit_usage",
        "tags",
    }
)

MAX_LENGTH: Final = 1000
MAX_DEPTH: Final = 50
MAX_DIGITS: Final = 30

MANUAL_SEGMENT: Final = "manual"

_TAGS: Final = "tags"
_TRUE_WORDS: Final = frozenset({"true", "True"})
_FALSE_WORDS: Final = frozenset({"false", "False"})
_KEYWORDS: Final = frozenset({"and", "or", "not", "in"}) | _TRUE_WORDS | _FALSE_WORDS
_COMPARISONS: Final = ("<=", ">=", "==", "!=", "<", ">")
_ORDERINGS: Final = frozenset({"<", "<=", ">", ">="})
_DIGITS: Final = "0123456789"
_SPACES: Final = " \t\r\n"


class ExpressionError(ValueError):
    """A segment condition that cannot be compiled; names the rule, column and text."""

    def __init__(self, rule: str, text: str, column: int, message: str) -> None:
        super().__init__(rule, text, column, message)
        self.rule = rule
        self.text = text
        self.column = column
        self.message = message

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= MAX_LENGTH else self.text[:MAX_LENGTH] + "..."
        return f"segment {self.rule!r}: {self.message} at column {self.column} in: {shown}"


# --------------------------------------------------------------------------- syntax tree
# Every node records the 1-based column where it starts in the condition text.


@dataclass(frozen=True, slots=True)
class Number:
    value: Decimal
    column: int


@dataclass(frozen=True, slots=True)
class String:
    value: str
    column: int


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Boolean:
    value: bool
    column: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Value
    right: Value
    column: int


@dataclass(frozen=True, slots=True)
class HasTag:
    tag: str
    negated: bool
    column: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    column: int


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]
    column: int


Value = Number | String | Metric
Expr = Boolean | Compare | HasTag | Not | And | Or
Node = Value | Expr


# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # NUM, STR, NAME, KW, OP, LPAR, RPAR, EOF, BAD (value is then the message)
    value: str
    column: int


def _describe(tok: _Token) -> str:
    if tok.kind == "EOF":
        return "the end of the condition"
    if tok.kind == "STR":
        return f"the string {tok.value!r}"
    return repr(tok.value)


def _sign_allowed(tokens: list[_Token]) -> bool:
    """A '-' is a number's sign only where an operand is expected."""
    if not tokens:
        return True
    last = tokens[-1]
    return last.kind in ("OP", "LPAR") or (last.kind == "KW" and last.value in ("and", "or", "not"))


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens; stops at the first bad one, else ends with EOF."""
    tokens: list[_Token] = []
    n = len(text)
    i = 0

    def bad(message: str, at: int) -> list[_Token]:
        tokens.append(_Token("BAD", message, at + 1))
        return tokens

    while i < n:
        c = text[i]
        if c in _SPACES:
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if c in _DIGITS or (c == "-" and nxt != "" and nxt in _DIGITS and _sign_allowed(tokens)):
            j = i + 1
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                k = j + 1
                while k < n and text[k] in _DIGITS:
                    k += 1
                if k == j + 1:
                    return bad("a decimal point must be followed by digits", j)
                j = k
            if j < n and (text[j].isalnum() or text[j] == "_"):
                end = j
                while end < n and (text[end].isalnum() or text[end] in "_."):
                    end += 1
                return bad(f"{text[i:end]!r} is not a number", i)
            literal = text[i:j]
            if sum(ch in _DIGITS for ch in literal) > MAX_DIGITS:
                return bad(f"number literal longer than {MAX_DIGITS} digits", i)
            tokens.append(_Token("NUM", literal, i + 1))
            i = j
        elif c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                return bad("unterminated string", i)
            tokens.append(_Token("STR", text[i + 1 : end], i + 1))
            i = end + 1
        elif c.isascii() and (c.isalpha() or c == "_"):
            j = i + 1
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in _KEYWORDS:
                tokens.append(_Token("KW", word, i + 1))
            elif word == "is":
                return bad("'is' is not allowed; use '==' or '!='", i)
            elif keyword.iskeyword(word):
                return bad(f"{word!r} is not allowed", i)
            else:
                tokens.append(_Token("NAME", word, i + 1))
            i = j
        elif nxt != "" and c + nxt in _COMPARISONS:
            tokens.append(_Token("OP", c + nxt, i + 1))
            i += 2
        elif c in "<>":
            tokens.append(_Token("OP", c, i + 1))
            i += 1
        elif c == "(":
            tokens.append(_Token("LPAR", c, i + 1))
            i += 1
        elif c == ")":
            tokens.append(_Token("RPAR", c, i + 1))
            i += 1
        elif c + nxt == ":=":
            return bad("assignment (':=') is not allowed", i)
        elif c == "=":
            return bad("'=' is not allowed; use '==' to compare", i)
        elif c == "!":
            return bad("'!' is not allowed; use 'not' or '!='", i)
        elif c in "+-*/%@":
            return bad(f"arithmetic ({c!r}) is not allowed", i)
        elif c == ".":
            return bad("attribute access ('.') is not allowed", i)
        elif c in "[]":
            return bad(f"indexing ({c!r}) is not allowed", i)
        elif c in "&|^~":
            return bad(f"{c!r} is not allowed; use 'and', 'or', 'not'", i)
        else:
            return bad(f"unexpected character {c!r}", i)
    tokens.append(_Token("EOF", "", n + 1))
    return tokens


# --------------------------------------------------------------------------- parser


def _describe_value(node: Value) -> str:
    if isinstance(node, Number):
        return f"the number {node.value}"
    if isinstance(node, String):
        return f"the string {node.value!r}"
    return f"the metric {node.name!r}"


class _Parser:
    def __init__(self, text: str, rule: str) -> None:
        self.text = text
        self.rule = rule
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def error(self, column: int, message: str) -> ExpressionError:
        return ExpressionError(self.rule, self.text, column, message)

    def peek(self) -> _Token:
        """The next token; a bad one is the error to report."""
        tok = self.tokens[self.pos]
        if tok.kind == "BAD":
            raise self.error(tok.column, tok.value)
        return tok

    def following(self) -> _Token:
        """The token after the next one, as is (a bad one is not raised yet)."""
        return self.tokens[self.pos + 1]

    def advance(self) -> _Token:
        tok = self.peek()
        if tok.kind != "EOF":
            self.pos += 1
        return tok

    def is_kw(self, tok: _Token, word: str) -> bool:
        return tok.kind == "KW" and tok.value == word

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(tok.column, f"condition nested more than {MAX_DEPTH} levels deep")

    # -- grammar

    def parse(self) -> Expr:
        if self.peek().kind == "EOF":
            raise self.error(1, "the condition is empty")
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "EOF":
            raise self.error(tok.column, f"unexpected {_describe(tok)} after a complete condition")
        return self.condition(node)

    def parse_or(self) -> Node:
        first = self.parse_and()
        if not self.is_kw(self.peek(), "or"):
            return first
        operands = [self.condition(first)]
        while self.is_kw(self.peek(), "or"):
            self.advance()
            operands.append(self.condition(self.parse_and()))
        return Or(tuple(operands), _column(first))

    def parse_and(self) -> Node:
        first = self.parse_not()
        if not self.is_kw(self.peek(), "and"):
            return first
        operands = [self.condition(first)]
        while self.is_kw(self.peek(), "and"):
            self.advance()
            operands.append(self.condition(self.parse_not()))
        return And(tuple(operands), _column(first))

    def parse_not(self) -> Node:
        tok = self.peek()
        if not self.is_kw(tok, "not"):
            return self.parse_comparison()
        self.advance()
        self.enter(tok)
        operand = self.condition(self.parse_not())
        self.depth -= 1
        return Not(operand, tok.column)

    def parse_comparison(self) -> Node:
        left = self.parse_operand()
        tok = self.peek()
        node: Node
        if tok.kind == "OP":
            self.advance()
            right = self.parse_operand()
            node = self.comparison(tok, left, right)
        elif self.is_kw(tok, "in") or (
            self.is_kw(tok, "not") and self.is_kw(self.following(), "in")
        ):
            node = self.membership(left)
        else:
            return left
        after = self.peek()
        if after.kind == "OP" or self.is_kw(after, "in"):
            raise self.error(
                after.column, "chained comparisons are not allowed; combine them with 'and'"
            )
        return node

    def membership(self, left: Node) -> HasTag:
        tok = self.advance()
        negated = tok.value == "not"
        if negated:
            self.advance()  # "in"
        if not isinstance(left, String):
            raise self.error(
                _column(left),
                "only a 'quoted tag' may stand on the left of 'in' (as in 'vip' in tags)",
            )
        target = self.peek()
        if target.kind != "NAME" or target.value != _TAGS:
            raise self.error(
                target.column, f"expected 'tags' after 'in', found {_describe(target)}"
            )
        self.advance()
        return HasTag(left.value, negated, left.column)

    def parse_operand(self) -> Node:
        tok = self.peek()
        if tok.kind == "NUM":
            self.advance()
            return Number(Decimal(tok.value), tok.column)
        if tok.kind == "STR":
            self.advance()
            return String(tok.value, tok.column)
        if tok.kind == "KW" and tok.value in _TRUE_WORDS | _FALSE_WORDS:
            self.advance()
            return Boolean(tok.value in _TRUE_WORDS, tok.column)
        if tok.kind == "NAME":
            if self.following().kind == "LPAR":
                raise self.error(tok.column, f"calls are not allowed: '{tok.value}(...)'")
            if tok.value not in METRIC_NAMES:
                raise self.error(tok.column, _unknown_name(tok.value))
            self.advance()
            return Metric(tok.value, tok.column)
        if tok.kind == "LPAR":
            self.advance()
            self.enter(tok)
            node = self.parse_or()
            closing = self.peek()
            if closing.kind != "RPAR":
                raise self.error(
                    closing.column,
                    f"expected ')' to close the '(' at column {tok.column}, "
                    f"found {_describe(closing)}",
                )
            self.advance()
            self.depth -= 1
            return node
        if tok.kind == "EOF":
            raise self.error(tok.column, "the condition ends where a value was expected")
        raise self.error(tok.column, f"expected a value, found {_describe(tok)}")

    # -- checks

    def condition(self, node: Node) -> Expr:
        """``node`` must be true or false by itself, not a bare value."""
        if isinstance(node, Metric) and node.name == _TAGS:
            raise self.error(node.column, "'tags' can only be used as: 'some tag' in tags")
        if isinstance(node, Number | String | Metric):
            raise self.error(
                node.column,
                f"expected a condition, found {_describe_value(node)} alone "
                "(compare it, as in outstanding > 1000)",
            )
        return node

    def value(self, node: Node) -> Value:
        """``node`` must be something to compare: a number, a string or a metric."""
        if isinstance(node, Metric) and node.name == _TAGS:
            raise self.error(node.column, "'tags' can only be used as: 'some tag' in tags")
        if isinstance(node, Boolean):
            raise self.error(node.column, "true and false cannot be compared")
        if isinstance(node, Number | String | Metric):
            return node
        raise self.error(
            node.column, "a condition cannot be compared; combine conditions with 'and', 'or'"
        )

    def comparison(self, tok: _Token, left_node: Node, right_node: Node) -> Compare:
        left = self.value(left_node)
        right = self.value(right_node)
        if tok.value in _ORDERINGS and isinstance(left, String) != isinstance(right, String):
            raise self.error(
                tok.column,
                f"{tok.value!r} cannot compare {_describe_value(left)} "
                f"with {_describe_value(right)}",
            )
        return Compare(tok.value, left, right, left.column)


def _column(node: Node) -> int:
    return node.column


def _unknown_name(name: str) -> str:
    message = f"unknown name {name!r}"
    close = difflib.get_close_matches(name, sorted(METRIC_NAMES), n=1)
    if close and not name.startswith("_"):
        message += f" (did you mean {close[0]!r}?)"
    return message


# --------------------------------------------------------------------------- compiler

Fn = Callable[[Mapping[str, Any]], bool]

_OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_FLIPPED: Final = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _always(metrics: Mapping[str, Any]) -> bool:
    return True


def _never(metrics: Mapping[str, Any]) -> bool:
    return False


def _metric_against(op: str, name: str, value: object) -> Fn:
    """``metrics[name] <op> value``, one closure per operator for speed."""
    if op == "<":
        return lambda m: m[name] < value
    if op == "<=":
        return lambda m: m[name] <= value
    if op == ">":
        return lambda m: m[name] > value
    if op == ">=":
        return lambda m: m[name] >= value
    if op == "==":
        return lambda m: m[name] == value
    return lambda m: m[name] != value


def _compile(node: Expr) -> Fn:
    if isinstance(node, Boolean):
        return _always if node.value else _never
    if isinstance(node, HasTag):
        tag = node.tag
        if node.negated:
            return lambda m: tag not in m[_TAGS]
        return lambda m: tag in m[_TAGS]
    if isinstance(node, Compare):
        return _compile_compare(node)
    if isinstance(node, Not):
        inner = _compile(node.operand)
        return lambda m: not inner(m)
    parts = tuple(_compile(operand) for operand in node.operands)
    if isinstance(node, And):
        if len(parts) == 2:
            a, b = parts
            return lambda m: a(m) and b(m)

        def all_hold(m: Mapping[str, Any]) -> bool:
            return all(part(m) for part in parts)

        return all_hold
    if len(parts) == 2:
        a, b = parts
        return lambda m: a(m) or b(m)

    def any_holds(m: Mapping[str, Any]) -> bool:
        return any(part(m) for part in parts)

    return any_holds


def _compile_compare(node: Compare) -> Fn:
    left, right, op = node.left, node.right, node.op
    if isinstance(left, Metric) and isinstance(right, Metric):
        compare = _OPERATORS[op]
        a, b = left.name, right.name
        return lambda m: compare(m[a], m[b])
    if isinstance(left, Metric):
        assert not isinstance(right, Metric)
        return _metric_against(op, left.name, right.value)
    if isinstance(right, Metric):
        return _metric_against(_FLIPPED[op], right.name, left.value)
    # Two literals: the answer is known now (the parser refused to order a
    # number against a string, and == / != between them are plain False / True).
    return _always if _OPERATORS[op](left.value, right.value) else _never


def _metric_names(node: Node) -> list[str]:
    """Metric names in order of first appearance."""
    if isinstance(node, Metric):
        return [node.name]
    if isinstance(node, HasTag):
        return [_TAGS]
    if isinstance(node, Compare):
        return _metric_names(node.left) + _metric_names(node.right)
    if isinstance(node, Not):
        return _metric_names(node.operand)
    if isinstance(node, And | Or):
        return [name for operand in node.operands for name in _metric_names(operand)]
    return []


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled segment condition; build it with ``compile_condition``."""

    text: str
    names: frozenset[str]
    tree: Expr = field(repr=False, compare=False)
    ordered_names: tuple[str, ...] = field(repr=False, compare=False)
    _fn: Fn = field(repr=False, compare=False)

    def evaluate(self, metrics: Mapping[str, object]) -> bool:
        """Whether the condition holds for these metric values.

        ``metrics`` maps each metric name the condition uses to a Decimal or int
        (``tags``: a frozenset of strings); a missing metric raises ``KeyError``.
        """
        return self._fn(metrics)


def compile_condition(text: str, rule: str) -> Condition:
    """Parse and check ``text`` for segment ``rule``; raises ``ExpressionError``."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            rule, text, MAX_LENGTH + 1, f"condition longer than {MAX_LENGTH} characters"
        )
    tree = _Parser(text, rule).parse()
    ordered = tuple(dict.fromkeys(_metric_names(tree)))
    return Condition(text, frozenset(ordered), tree, ordered, _compile(tree))


@dataclass(frozen=True, slots=True)
class SegmentRule:
    name: str
    condition: Condition
    plan: str


class Assignment:
    """A customer's segment and plan, with the explanation shown to the user.

    The explanation is written out only when asked for: a run assigns every
    customer with something due, but explains only those it reminds.
    """

    __slots__ = ("_explanation", "_metrics", "_rule", "plan", "segment")

    def __init__(
        self,
        segment: str,
        plan: str | None,
        explanation: dict[str, object] | None = None,
        *,
        rule: SegmentRule | None = None,
        metrics: Mapping[str, object] | None = None,
    ) -> None:
        self.segment = segment  # rule name, "manual", or "" when no rule matched
        self.plan = plan  # None when no rule matched
        self._explanation = explanation
        self._rule = rule
        self._metrics = metrics

    @property
    def explanation(self) -> dict[str, object]:
        if self._explanation is None:
            rule, metrics = self._rule, self._metrics
            assert rule is not None and metrics is not None
            condition = rule.condition
            self._explanation = {
                "rule": rule.name,
                "when": condition.text,
                "metrics": {name: _render(metrics.get(name)) for name in condition.ordered_names},
            }
        return self._explanation

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Assignment):
            return NotImplemented
        return (self.segment, self.plan, self.explanation) == (
            other.segment,
            other.plan,
            other.explanation,
        )

    def __hash__(self) -> int:
        return hash((self.segment, self.plan))

    def __repr__(self) -> str:
        return f"Assignment(segment={self.segment!r}, plan={self.plan!r})"


def _render(value: object) -> object:
    if isinstance(value, Decimal):
        # str() is several times faster than format(); it is the same text unless
        # it uses an exponent.
        text = str(value)
        return text if "E" not in text else format(value, "f")
    if isinstance(value, frozenset | set | list | tuple):
        return sorted(str(item) for item in value)
    if value is None:
        return None
    return str(value)


def assign(
    rules: Sequence[SegmentRule], metrics: Mapping[str, object], manual_plan: str | None
) -> Assignment:
    """The manual plan if any, else the first rule whose condition holds."""
    if manual_plan:
        return Assignment(
            MANUAL_SEGMENT, manual_plan, {"rule": MANUAL_SEGMENT, "plan": manual_plan}
        )
    for rule in rules:
        if rule.condition.evaluate(metrics):
            return Assignment(rule.name, rule.plan, rule=rule, metrics=metrics)
    return Assignment("", None, {"rule": None, "reason": "no segment rule matched"})


SHIPPED_SEGMENTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("key_accounts", "'key_account' in tags", "gentle"),
    ("risky", "avg_days_late > 20 or max_days_overdue > 60", "strict"),
    ("default", "true", "standard"),
)


@cache
def _shipped() -> tuple[SegmentRule, ...]:
    return tuple(
        SegmentRule(name, compile_condition(text, name), plan)
        for name, text, plan in SHIPPED_SEGMENTS
    )


def shipped_segments() -> list[SegmentRule]:
    """The default segments of DESIGN section 4, in order (a fresh list each call)."""
    return list(_shipped())
