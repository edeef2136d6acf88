"""The ECS cluster query language: `memberOf` constraints and ListContainerInstances' `filter`.

The spec is the ECS developer guide, "Cluster query language". Grammar, loosest binding first:

    query    := or END
    or       := and (("or" | "||") and)*
    and      := unary (("and" | "&&") unary)*
    unary    := ("not" | "!") unary  |  "(" or ")"  |  term
    term     := subject operator [argument]
    subject  := "attribute:" NAME | "agentConnected" | "agentVersion" | "ec2InstanceId"
              | "registeredAt" | "runningTasksCount" | "task:group"
    operator := "==" equals | "!=" not_equals | ">" greater_than | ">=" greater_than_equal
              | "<" less_than | "<=" less_than_equal | exists | "!exists" not_exists
              | in | "!in" not_in | "=~" matches | "!~" not_matches
    argument := "[" value ("," value)* "]"     after in / !in
              | value                          after every other operator but (!)exists
    value    := 'quoted' | "quoted" | a bare word (no whitespace, parentheses, && or ||)

Meaning, where the guide leaves room:

- A subject the instance lacks (an attribute it doesn't carry, an unknown agent version, no
  tasks for `task:group`) satisfies no comparison, negated ones included: the guide's
  `attribute:stack != prod` lists instances with `stack` "unless the value is prod", not
  instances without it. Only `!exists` and `not (...)` select what is missing. Otherwise a
  negated operator is the exact complement: `S != v` is `S exists and not (S == v)`.
- `==` and `in` compare strings literally (`*` is no wildcard there); `=~` takes a regular
  expression that must match the whole value, like Java's `String.matches`.
- `task:group` is the set of groups of the instance's tasks: `task:group == g` holds if one
  task is in `g`; `task:group != g` if the instance has tasks and none is in `g`.
- `registeredAt` compares at the argument's precision: a date compares UTC days, a date and
  time compares whole seconds (no offset means UTC).
- `>`, `>=`, `<`, `<=` on an attribute compare numbers when the argument is a number (a value
  that isn't one never matches), else strings.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from portside.errors import InvalidParameterException


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """What a query can see of one container instance."""

    attributes: Mapping[str, str | None]  # name -> value (None for attributes with no value)
    ec2_instance_id: str
    registered_at: float  # epoch seconds
    running_tasks_count: int
    task_groups: frozenset[str]  # groups of the tasks on the instance (for task:group)
    agent_connected: bool = True
    agent_version: str | None = None  # e.g. "1.14.5"; None when unknown


Predicate = Callable[[InstanceFacts], bool]
StrTest = Callable[[str], bool]

OPERATORS: Final[Mapping[str, str]] = {
    "==": "==", "equals": "==",
    "!=": "!=", "not_equals": "!=",
    ">": ">", "greater_than": ">",
    ">=": ">=", "greater_than_equal": ">=",
    "<": "<", "less_than": "<",
    "<=": "<=", "less_than_equal": "<=",
    "exists": "exists",
    "!exists": "!exists", "not_exists": "!exists",
    "in": "in",
    "!in": "!in", "not_in": "!in",
    "=~": "=~", "matches": "=~",
    "!~": "!~", "not_matches": "!~",
}  # fmt: skip
_NEGATED: Final = {"!=": "==", "!in": "in", "!~": "=~", "!exists": "exists"}
_ORDER: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "==": operator.eq, "!=": operator.ne, ">": operator.gt,
    ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}  # fmt: skip
_STRING_OPS: Final = ("==", "!=", "in", "!in", "=~", "!~")
_ORDERED_OPS: Final = ("==", "!=", ">", ">=", "<", "<=")
# The operators the guide lists for each built-in field; attributes take them all.
VALID_OPERATORS: Final[Mapping[str, tuple[str, ...]]] = {
    "agentConnected": _STRING_OPS,
    "agentVersion": _ORDERED_OPS,
    "ec2InstanceId": _STRING_OPS,
    "registeredAt": _ORDERED_OPS,
    "runningTasksCount": _ORDERED_OPS,
    "task:group": (*_STRING_OPS, "exists", "!exists"),
}
SUBJECTS_HELP: Final = "attribute:NAME, " + ", ".join(VALID_OPERATORS)
MAX_DEPTH: Final = 64  # nested parentheses and negations; keeps recursion far from the limit

_SPACE = re.compile(r"\s*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SUBJECT = re.compile(r"[A-Za-z0-9_.\-/\\:]+")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.\-/\\]{1,128}")
_OPERATOR = re.compile(r"!?[A-Za-z_][A-Za-z0-9_]*|[=!<>]=|=~|!~|[<>]")
_BARE_VALUE = re.compile(r"(?:[^\s()&|]|&(?!&)|\|(?!\|))+")
_LIST_ITEM = re.compile(r"[^\s,\[\]()'\"]+")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_COUNT = re.compile(r"[0-9]+")
_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)


def compile_query(expression: str) -> Predicate:
    """Parse once, evaluate many times. A syntax error raises InvalidParameterException
    whose message points at the fault (column, and the token found / expected)."""
    return _compile(expression)


@functools.lru_cache(maxsize=1024)
def _compile(expression: str) -> Predicate:
    return _Parser(expression).parse()


class _Parser:
    """Recursive descent straight to closures: no tree is kept, so evaluation does no lookups."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def parse(self) -> Predicate:
        if not self.text.strip():
            raise self._error("the expression is empty")
        pred = self._or()
        self._skip()
        if self.pos < len(self.text):
            if self.text[self.pos] == ")":
                raise self._error("')' has no matching '('")
            hint = ""
            m = _WORD.match(self.text, self.pos)
            if m and m.group().lower() in ("and", "or", "not"):
                hint = " (and, or and not are written in lowercase)"
            raise self._expected(f"'and', 'or' or the end of the expression{hint}")
        return pred

    # -- boolean structure ------------------------------------------------------------------

    def _or(self) -> Predicate:
        preds = [self._and()]
        while self._keyword("or", "||"):
            preds.append(self._and())
        return _joined(preds, any_=True)

    def _and(self) -> Predicate:
        preds = [self._unary()]
        while self._keyword("and", "&&"):
            preds.append(self._unary())
        return _joined(preds, any_=False)

    def _unary(self) -> Predicate:
        self._skip()
        if self.depth == MAX_DEPTH:
            raise self._error(f"the expression nests more than {MAX_DEPTH} levels deep")
        self.depth += 1
        try:
            if self._peek("("):
                opened = self.pos
                self.pos += 1
                inner = self._or()
                self._skip()
                if not self._peek(")"):
                    raise self._expected(f"')' to close the '(' at column {opened + 1}")
                self.pos += 1
                return inner
            if self._peek("!") or self._keyword("not", None):
                if self._peek("!"):
                    self.pos += 1
                negated = self._unary()
                return lambda f: not negated(f)
        finally:
            self.depth -= 1
        return self._term()

    def _keyword(self, word: str, symbol: str | None) -> bool:
        self._skip()
        if symbol is not None and self.text.startswith(symbol, self.pos):
            self.pos += len(symbol)
            return True
        m = _WORD.match(self.text, self.pos)
        if m and m.group() == word:
            self.pos = m.end()
            return True
        return False

    # -- one comparison ---------------------------------------------------------------------

    def _term(self) -> Predicate:
        m = _SUBJECT.match(self.text, self.pos)
        if m is None:
            raise self._expected(f"a subject ({SUBJECTS_HELP}), '(' or 'not'")
        subject, name = m.group(), ""
        if subject.startswith("attribute:"):
            name = subject.removeprefix("attribute:")
            if not _ATTRIBUTE_NAME.fullmatch(name):
                raise self._error(
                    f"'{subject}' is not a valid attribute name (1-128 letters, digits, "
                    "'-', '_', '.', '/' or '\\')"
                )
        elif subject not in VALID_OPERATORS:
            raise self._error(f"unknown subject '{subject}'; expected one of {SUBJECTS_HELP}")
        self.pos = m.end()

        self._skip()
        m = _OPERATOR.match(self.text, self.pos)
        if m is None or m.group() not in OPERATORS:
            raise self._expected(
                f"an operator after '{subject}' (==, !=, >, >=, <, <=, exists, !exists, in, "
                "!in, =~, !~, or a word form such as equals or not_in)"
            )
        written, op = m.group(), OPERATORS[m.group()]
        valid = VALID_OPERATORS.get(subject)
        if valid is not None and op not in valid:
            raise self._error(
                f"operator '{written}' can't be used with {subject}; "
                f"its operators are {', '.join(valid)}"
            )
        self.pos = m.end()

        if op in ("exists", "!exists"):
            return _attribute_exists(name, op) if valid is None else _group_exists(op)
        self._skip()
        arg_at = self.pos
        if self._peek("[") and op not in ("in", "!in", "=~", "!~"):
            raise self._error(f"an argument list only goes with in or !in, not '{written}'")
        arg: str | frozenset[str] = self._list(written) if op in ("in", "!in") else self._value()
        try:
            if valid is None:
                return _attribute_term(name, op, arg)
            return _field_term(subject, op, arg)
        except ValueError as e:
            raise self._error(str(e), at=arg_at) from None

    def _value(self) -> str:
        quoted = self._quoted()
        if quoted is not None:
            return quoted
        m = _BARE_VALUE.match(self.text, self.pos)
        if m is not None:
            self.pos = m.end()
        if self._peek("("):
            raise self._error("an argument can't contain parentheses unless it is quoted")
        if m is None:
            raise self._expected("an argument")
        return m.group()

    def _list(self, written: str) -> frozenset[str]:
        if not self._peek("["):
            raise self._expected(f"'[' to open the argument list of '{written}'")
        self.pos += 1
        items: set[str] = set()
        while True:
            self._skip()
            if self._peek("]") and not items:
                raise self._error("the argument list is empty")
            item = self._quoted()
            if item is None:
                m = _LIST_ITEM.match(self.text, self.pos)
                if m is None:
                    raise self._expected("an argument list item")
                self.pos, item = m.end(), m.group()
            items.add(item)
            self._skip()
            if self._peek("]"):
                self.pos += 1
                return frozenset(items)
            if not self._peek(","):
                raise self._expected("',' or ']' in the argument list")
            self.pos += 1

    def _quoted(self) -> str | None:
        if not (self._peek("'") or self._peek('"')):
            return None
        quote, start = self.text[self.pos], self.pos
        end = self.text.find(quote, start + 1)
        if end < 0:
            raise self._error(f"the string opened at column {start + 1} is never closed")
        self.pos = end + 1
        return self.text[start + 1 : end]

    # -- scanning and errors ----------------------------------------------------------------

    def _skip(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def _expected(self, what: str) -> InvalidParameterException:
        if self.pos >= len(self.text):
            found = "the end of the expression"
        else:
            chunk = re.match(r"\S+", self.text[self.pos :])
            token = chunk.group() if chunk else self.text[self.pos]
            found = repr(token if len(token) <= 30 else token[:27] + "...")
        return self._error(f"expected {what}, found {found}")

    def _error(self, message: str, at: int | None = None) -> InvalidParameterException:
        column = (self.pos if at is None else at) + 1
        return InvalidParameterException(
            f"Invalid cluster query expression at column {column}: {message}."
        )


# -- closures -------------------------------------------------------------------------------


def _joined(preds: list[Predicate], any_: bool) -> Predicate:
    """`preds` joined by `or` (`any_`) or by `and`: as with those operators, the first answer
    that settles it ends the evaluation."""
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return (lambda f: a(f) or b(f)) if any_ else (lambda f: a(f) and b(f))
    chain = tuple(preds)
    false_settles = not any_  # `and` is settled by a false answer, `or` by a true one

    def joined(f: InstanceFacts) -> bool:
        for p in chain:  # not all()/any(): a generator costs more per instance
            if (not p(f)) is false_settles:
                return any_
        return not any_

    return joined


def _string_test(op: str, arg: str | frozenset[str]) -> StrTest:
    """The positive test (==, in, =~, or an ordering) on a value that is there."""
    if isinstance(arg, frozenset):
        return arg.__contains__
    if op == "==":
        return arg.__eq__
    if op == "=~":
        try:
            match = re.compile(arg).fullmatch
        except re.error as e:
            raise ValueError(f"'{arg}' is not a valid regular expression ({e})") from None
        return lambda value: match(value) is not None
    compare, number = _ORDER[op], _number(arg)

    def ordered(value: str) -> bool:
        if number is None:
            return compare(value, arg)
        mine = _number(value)
        return mine is not None and compare(mine, number)

    return ordered


def _attribute_exists(name: str, op: str) -> Predicate:
    if op == "exists":
        return lambda f: name in f.attributes
    return lambda f: name not in f.attributes


def _attribute_term(name: str, op: str, arg: str | frozenset[str]) -> Predicate:
    if op in _NEGATED:
        test = _string_test(_NEGATED[op], arg)

        def negated(f: InstanceFacts) -> bool:
            attrs = f.attributes
            if name not in attrs:
                return False
            value = attrs[name]
            return value is None or not test(value)

        return negated
    test = _string_test(op, arg)

    def positive(f: InstanceFacts) -> bool:
        value = f.attributes.get(name)
        return value is not None and test(value)

    return positive


def _group_exists(op: str) -> Predicate:
    if op == "exists":
        return lambda f: bool(f.task_groups)
    return lambda f: not f.task_groups


def _field_term(subject: str, op: str, arg: str | frozenset[str]) -> Predicate:
    if subject == "task:group":
        return _group_term(op, arg)
    if subject in ("ec2InstanceId", "agentConnected"):
        if subject == "agentConnected" and op != "=~" and op != "!~":
            for value in [arg] if isinstance(arg, str) else sorted(arg):
                if value not in ("true", "false"):
                    raise ValueError(f"agentConnected is true or false, not '{value}'")
        get: Callable[[InstanceFacts], str] = (
            operator.attrgetter("ec2_instance_id")
            if subject == "ec2InstanceId"
            else lambda f: "true" if f.agent_connected else "false"
        )
        test = _string_test(_NEGATED.get(op, op), arg)
        if op in _NEGATED:
            return lambda f: not test(get(f))
        return lambda f: test(get(f))
    assert isinstance(arg, str)  # every ordered subject takes only scalar operators
    compare = _ORDER[op]
    if subject == "runningTasksCount":
        if not _COUNT.fullmatch(arg):
            raise ValueError(f"runningTasksCount takes a whole number, not '{arg}'")
        count = int(arg)
        return lambda f: compare(f.running_tasks_count, count)
    if subject == "registeredAt":
        bound, unit = _instant(arg)
        return lambda f: compare(math.floor(f.registered_at / unit), bound)
    version = _version(arg)
    if version is None:
        raise ValueError(f"agentVersion takes a version such as 1.14.5, not '{arg}'")

    def agent_version(f: InstanceFacts) -> bool:
        mine = _version(f.agent_version) if f.agent_version is not None else None
        return mine is not None and compare(mine, version)

    return agent_version


def _group_term(op: str, arg: str | frozenset[str]) -> Predicate:
    positive_op = _NEGATED.get(op, op)
    has: Predicate
    if isinstance(arg, frozenset):
        has = lambda f: not arg.isdisjoint(f.task_groups)  # noqa: E731
    elif positive_op == "==":
        has = lambda f: arg in f.task_groups  # noqa: E731
    else:
        test = _string_test(positive_op, arg)
        has = lambda f: any(map(test, f.task_groups))  # noqa: E731
    if op in _NEGATED:
        return lambda f: bool(f.task_groups) and not has(f)
    return has


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


@functools.lru_cache(maxsize=256)
def _version(text: str) -> tuple[int, ...] | None:
    if not _VERSION.fullmatch(text):
        return None
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:  # 1.14 == 1.14.0
        parts.pop()
    return tuple(parts)


def _instant(text: str) -> tuple[int, int]:
    """A registeredAt argument as (epoch // unit, unit): unit is a day for a bare date."""
    if _DATE.fullmatch(text):
        unit = 86400
    elif _DATE_TIME.fullmatch(text):
        unit = 1
    else:
        raise ValueError(
            f"registeredAt takes a date like 2018-06-18, 2018-06-18T22:28:28, "
            f"2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00, not '{text}'"
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a real date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp()) // unit, unit
