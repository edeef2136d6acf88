"""Condition operators, each compiled once from its policy values into a test of the request.

Semantics (IAM User Guide, "Condition operators" and "Single-valued vs. multivalued context
keys"):

- a key's values are ORed, keys under an operator and operators in a block are ANDed;
- a missing key fails a positive operator and passes a negated one (StringNotEquals,
  StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress, ArnNotEquals, ArnNotLike,
  StringNotEqualsIgnoreCase); `...IfExists` passes when the key is missing;
- a negated operator passes when the request's value matches none of the policy's values;
- `ForAnyValue:` passes when at least one of the request's values passes (false on a missing
  or empty key), `ForAllValues:` when every one does (true on a missing or empty key);
  without a set operator a multivalued key passes a positive operator when any value
  matches and a negated one when none does;
- `Null` tests presence: "true" passes when the key is missing (or empty), "false" when not.

Values with policy variables (String*, Arn*) are filled in per request; a variable with no
value fails the condition whatever the operator.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from portside.iam.policy.context import Context
from portside.iam.policy.document import ConditionSpec
from portside.iam.policy.patterns import Template, compiled, glob_regex, template

# A compiled operator: does one request value match any of the (compiled) policy values?
Match = Callable[[str], bool]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_date(text: str) -> float | None:
    """A Date* operand: ISO 8601 (with or without a time, Z or an offset) or epoch seconds."""
    n = _number(text)
    if n is not None:
        return n
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _net(text: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negated by the caller
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _ordered(parse: Callable[[str], float | None], op: str, values: tuple[str, ...]) -> Match:
    compare = _NUMERIC[op]
    limits = [x for x in map(parse, values) if x is not None]

    def match(v: str) -> bool:
        x = parse(v)
        return x is not None and any(compare(x, b) for b in limits)

    return match


def _arn_regex(value: str) -> str:
    """One ARN pattern as a regex: its six colon-separated parts matched each on its own
    (a wildcard in the first five stays within its part), the resource part as a glob."""
    if value == "*":
        return ".*"
    parts = value.split(":", 5)
    if len(parts) != 6:
        return "(?!)"  # not an ARN: matches nothing
    head = [
        "".join("[^:]*" if c == "*" else "[^:]" if c == "?" else re.escape(c) for c in part)
        for part in parts[:5]
    ]
    return ":".join([*head, glob_regex(parts[5])])


def _arn(values: tuple[str, ...]) -> Match:
    # "ArnLike and ArnEquals behave identically": each of the six colon-separated parts is
    # matched on its own, with wildcards, case-sensitively.
    exact = frozenset(v for v in values if "*" not in v and "?" not in v)
    wild = [v for v in values if v not in exact]
    if not wild:
        return exact.__contains__
    regex = compiled("|".join(f"(?:{_arn_regex(v)})" for v in wild), False)

    def match(v: str) -> bool:
        return v in exact or (v.count(":") >= 5 and regex.fullmatch(v) is not None)

    return match


def _ip(values: tuple[str, ...]) -> Match:
    nets = [n for n in map(_net, values) if n is not None]

    def match(v: str) -> bool:
        try:
            ip = ipaddress.ip_address(v.strip())
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in nets)

    return match


def _string_like(values: tuple[str, ...], variables: bool) -> Match:
    sources = [template(v, variables).regex(_none) for v in values]
    regex = compiled("|".join(f"(?:{s})" for s in sources if s is not None), False)
    return lambda v: regex.fullmatch(v) is not None


def _none(_key: str) -> str | None:
    return None


@lru_cache(maxsize=8192)
def matcher(operator: str, values: tuple[str, ...], variables: bool = False) -> Match:
    """The positive test of `operator` (negation stripped: StringNotLike -> StringLike) for
    fixed policy values (variables already filled in, or none)."""
    if operator in ("StringEquals", "StringNotEquals", "BinaryEquals"):
        exact = frozenset(values)
        return exact.__contains__
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        folded = frozenset(v.casefold() for v in values)
        return lambda v: v.casefold() in folded
    if operator in ("StringLike", "StringNotLike"):
        return _string_like(values, variables)
    if operator.startswith("Numeric"):
        return _ordered(_number, operator[len("Numeric") :], values)
    if operator.startswith("Date"):
        return _ordered(parse_date, operator[len("Date") :], values)
    if operator == "Bool":
        flags = frozenset(v.lower() for v in values)
        return lambda v: v.lower() in flags
    if operator in ("IpAddress", "NotIpAddress"):
        return _ip(values)
    if operator.startswith("Arn"):
        return _arn(values)
    raise ValueError(operator)  # Null is not a matcher; the parser refused anything else


_VARIABLE_OPERATORS = frozenset(
    {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
     "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
)  # fmt: skip


class Condition:
    """One key under one operator, compiled."""

    __slots__ = (
        "all_set",
        "any_set",
        "if_exists",
        "key",
        "match",
        "negated",
        "null",
        "spec",
        "templates",
    )  # fmt: skip

    def __init__(self, spec: ConditionSpec, variables: bool) -> None:
        self.spec = spec
        self.key = spec.key.lower()
        self.if_exists = spec.if_exists
        self.any_set = spec.set_op == "ForAnyValue"
        self.all_set = spec.set_op == "ForAllValues"
        self.negated = spec.negated
        self.null: bool | None = None
        self.match: Match | None = None
        self.templates: tuple[Template, ...] = ()
        if spec.operator == "Null":
            self.null = any(v.lower() == "true" for v in spec.values)
            return
        uses_variables = variables and spec.operator in _VARIABLE_OPERATORS
        ts = [template(v, uses_variables) for v in spec.values]
        if any(t.variables for t in ts):
            self.templates = tuple(ts)
        else:
            self.match = matcher(spec.operator, spec.values, False)

    def _resolved(self, ctx: Context) -> Match | None:
        """The test with this request's variables filled in; None when one has no value."""
        if self.match is not None:
            return self.match
        if self.spec.operator in ("StringLike", "StringNotLike"):
            sources: list[str] = []
            for t in self.templates:
                source = t.regex(ctx.single)
                if source is None:
                    return None
                sources.append(source)
            regex = compiled("|".join(f"(?:{s})" for s in sources), False)
            return lambda v: regex.fullmatch(v) is not None
        # Equality and ARN operators take the filled-in text (an ARN value's `${*}` then reads
        # as a wildcard, as the ARN matcher splits text, not regexes: accepted).
        values: list[str] = []
        for t in self.templates:
            text = t.text(ctx.single)
            if text is None:
                return None
            values.append(text)
        return matcher(self.spec.operator, tuple(values), False)

    def test(self, ctx: Context) -> bool:
        values = ctx.get(self.key)
        present = bool(values)
        if self.null is not None:
            return self.null != present
        if not present:
            if self.if_exists or self.all_set:
                return True
            if self.any_set:
                return False
            return self.negated
        match = self._resolved(ctx)
        if match is None:
            return False
        assert values is not None
        if len(values) == 1:  # the common case: one value, whatever the set operator
            return match(values[0]) != self.negated
        if self.all_set:
            return all(match(v) != self.negated for v in values)
        if self.any_set:
            return any(match(v) != self.negated for v in values)
        hit = any(match(v) for v in values)
        return not hit if self.negated else hit
