"""EventBridge event patterns: validation (with EventBridge's messages) and matching.

A pattern is a JSON object whose keys name event fields. A nested object descends into the
event; an array lists what the field may be (any one of them). Array members are exact
values (string, number, true, false, null) or one-key filter objects: prefix, suffix,
equals-ignore-case, wildcard, anything-but (values, or a prefix / suffix / equals-ignore-case
/ wildcard inside), numeric (one comparison, or a lower then an upper bound), exists and
cidr. `$or` takes a list of patterns, one of which must match. Every key of a pattern must
match (AND). When the event holds an array, one of its members matching is enough; under an
array of objects the nested fields must all match within one member.

`compile_pattern` validates once and builds a matcher; `Pattern.matches(event)` is then
plain calls, cheap enough to run for every rule on every event.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from portside.events.errors import InvalidEventPatternException

_PREFIX = "Event pattern is not valid. Reason: "
_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")
_MAX_WILDCARDS = 5  # past this EventBridge calls a rule too complex

Leaf = Callable[[Any], bool]
_MISSING = object()


def _invalid(reason: str) -> InvalidEventPatternException:
    return InvalidEventPatternException(_PREFIX + reason)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- leaf matchers ---------------------------------------------------------------------------


def _exact(expected: Any) -> Leaf:
    if expected is None:
        return lambda v: v is None
    if isinstance(expected, bool):
        return lambda v: v is expected
    if _is_number(expected):
        return lambda v: _is_number(v) and v == expected
    return lambda v: isinstance(v, str) and v == expected


def _ignore_case(text: str) -> Leaf:
    folded = text.casefold()
    return lambda v: isinstance(v, str) and v.casefold() == folded


def _prefix(spec: Any) -> Leaf:
    if isinstance(spec, dict):
        folded = spec["equals-ignore-case"].casefold()
        return lambda v: isinstance(v, str) and v.casefold().startswith(folded)
    return lambda v: isinstance(v, str) and v.startswith(spec)


def _suffix(spec: Any) -> Leaf:
    if isinstance(spec, dict):
        folded = spec["equals-ignore-case"].casefold()
        return lambda v: isinstance(v, str) and v.casefold().endswith(folded)
    return lambda v: isinstance(v, str) and v.endswith(spec)


def _wildcard_regex(text: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "*\\":
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _wildcard(text: str) -> Leaf:
    regex = _wildcard_regex(text)
    return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None


def _numeric(terms: list[Any]) -> Leaf:
    checks: list[Callable[[float], bool]] = []
    for op, bound in zip(terms[::2], terms[1::2], strict=True):
        checks.append(_COMPARE[op](bound))
    return lambda v: _is_number(v) and all(c(v) for c in checks)


_COMPARE: dict[str, Callable[[float], Callable[[float], bool]]] = {
    "<": lambda b: lambda v: v < b,
    "<=": lambda b: lambda v: v <= b,
    "=": lambda b: lambda v: v == b,
    ">": lambda b: lambda v: v > b,
    ">=": lambda b: lambda v: v >= b,
}


def _cidr(text: str) -> Leaf:
    network = ipaddress.ip_network(text, strict=False)

    def match(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v) in network
        except ValueError:
            return False

    return match


def _anything_but(spec: Any) -> Leaf:
    if isinstance(spec, dict):
        ((op, value),) = spec.items()
        values = value if isinstance(value, list) else [value]
        inner = [_FILTERS[op](v) for v in values]
        # Like every other filter, it only ever matches strings when it holds string filters.
        return lambda v: isinstance(v, str) and not any(m(v) for m in inner)
    excluded = [_exact(x) for x in (spec if isinstance(spec, list) else [spec])]
    return lambda v: not any(m(v) for m in excluded)


_FILTERS: dict[str, Callable[[Any], Leaf]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _ignore_case,
    "wildcard": _wildcard,
}


# -- validation ------------------------------------------------------------------------------


def _check_string(op: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _invalid(f"{op} match pattern must be a string")


def _check_wildcard(value: Any) -> None:
    _check_string("wildcard", value)
    if "**" in value:
        raise _invalid(f"Consecutive wildcard characters at pos {value.index('**') + 1}")
    if value.count("*") > _MAX_WILDCARDS:
        raise _invalid(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating "
            "character sequences after a wildcard character"
        )


def _check_prefix_suffix(op: str, value: Any) -> None:
    if isinstance(value, dict):
        if list(value) != ["equals-ignore-case"]:
            bad = next(iter(value), "")
            raise _invalid(f"Unsupported {op} pattern: {bad}")
        _check_string(op, value["equals-ignore-case"])
        return
    _check_string(op, value)


def _check_numeric(terms: Any) -> None:
    if not isinstance(terms, list):
        raise _invalid("Value of numeric must be an array.")
    if not terms:
        raise _invalid("Invalid member in numeric match: ]")
    op = terms[0]
    if not isinstance(op, str):
        raise _invalid(f"Invalid member in numeric match: {op}")
    if op not in _NUMERIC_OPS:
        raise _invalid(f"Unrecognized numeric range operator: {op}")
    if len(terms) < 2 or not _is_number(terms[1]):
        raise _invalid(f"Value of {'equals' if op == '=' else op} must be numeric")
    if len(terms) == 2:
        return
    if op not in (">", ">="):
        raise _invalid("Too many elements in numeric expression")
    upper = terms[2]
    if not isinstance(upper, str):
        raise _invalid(f"Bad value in numeric range: {upper}")
    if upper not in ("<", "<="):
        raise _invalid(f"Bad numeric range operator: {upper}")
    if len(terms) < 4 or not _is_number(terms[3]):
        raise _invalid(f"Value of {upper} must be numeric")
    if terms[3] <= terms[1]:
        raise _invalid("Bottom must be less than top")
    if len(terms) > 4:
        raise _invalid("Too many terms in numeric range expression")


def _check_cidr(value: Any) -> None:
    if not isinstance(value, str):
        raise _invalid("prefix match pattern must be a string")
    parts = value.split("/")
    if len(parts) != 2:
        raise _invalid("Malformed CIDR, one '/' required")
    if not parts[1].isdigit():
        raise _invalid("Malformed CIDR, mask bits must be an integer")
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise _invalid(f"Nonstandard IP address: {parts[0]}") from None


def _check_anything_but(value: Any) -> None:
    if isinstance(value, list):
        if not value:
            raise _invalid("Empty arrays are not allowed")
        if any(isinstance(v, dict | list) for v in value):
            raise _invalid("Match value must be String, number, true, false, or null")
        return
    if isinstance(value, dict):
        if len(value) != 1:
            raise _invalid("Only one key allowed in match expression")
        ((op, inner),) = value.items()
        if op not in _FILTERS:
            raise _invalid(f"Unsupported anything-but pattern: {op}")
        items = inner if isinstance(inner, list) else [inner]
        if op in ("prefix", "suffix") and isinstance(inner, dict):
            raise _invalid("Value of anything-but must be an array or single string/number value.")
        if not items or not all(isinstance(i, str) for i in items):
            if op == "equals-ignore-case":
                raise _invalid(
                    "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported."
                )
            raise _invalid(f"{op} match pattern must be a string")
        if op in ("prefix", "suffix") and any(i == "" for i in items):
            raise _invalid("Null prefix/suffix not allowed")
        if op == "wildcard":
            for i in items:
                _check_wildcard(i)
        return


def _compile_filter(spec: dict[str, Any]) -> tuple[str, Any]:
    """Validate one filter object; return (kind, argument)."""
    if len(spec) != 1:
        raise _invalid("Only one key allowed in match expression")
    ((op, value),) = spec.items()
    if op in ("prefix", "suffix"):
        _check_prefix_suffix(op, value)
    elif op == "equals-ignore-case":
        _check_string(op, value)
    elif op == "wildcard":
        _check_wildcard(value)
    elif op == "anything-but":
        _check_anything_but(value)
    elif op == "numeric":
        _check_numeric(value)
    elif op == "exists":
        if not isinstance(value, bool):
            raise _invalid("exists match pattern must be either true or false.")
    elif op == "cidr":
        _check_cidr(value)
    else:
        raise _invalid(f"Unrecognized match type {op}")
    return op, value


# -- compiled form ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    """One key's value matchers: leaves (any may match) and existence tests."""

    leaves: tuple[Leaf, ...]
    exists: tuple[bool, ...]

    def matches(self, value: Any) -> bool:
        if value is _MISSING:
            return False in self.exists
        if isinstance(value, dict):
            return False
        values = value if isinstance(value, list) else [value]
        present = any(not isinstance(v, dict | list) for v in values)
        if present and True in self.exists:
            return True
        if not present and False in self.exists:
            return True
        return any(leaf(v) for leaf in self.leaves for v in values if not isinstance(v, dict))


@dataclass(frozen=True, slots=True)
class _Object:
    fields: tuple[tuple[str, _Field | _Object], ...]
    ors: tuple[tuple[_Object, ...], ...]

    def matches(self, event: Any) -> bool:
        if not isinstance(event, dict):
            return False
        for key, sub in self.fields:
            value = event.get(key, _MISSING)
            if isinstance(sub, _Object):
                if isinstance(value, list):
                    if not any(sub.matches(v) for v in value):
                        return False
                elif not sub.matches(value if value is not _MISSING else {}):
                    return False
            elif not sub.matches(value):
                return False
        return all(any(alt.matches(event) for alt in group) for group in self.ors)


def _compile_field(items: list[Any]) -> _Field:
    leaves: list[Leaf] = []
    exists: list[bool] = []
    for item in items:
        if isinstance(item, dict):
            op, value = _compile_filter(item)
            if op == "exists":
                exists.append(value)
            elif op == "anything-but":
                leaves.append(_anything_but(value))
            elif op == "numeric":
                leaves.append(_numeric(value))
            elif op == "cidr":
                leaves.append(_cidr(value))
            else:
                leaves.append(_FILTERS[op](value))
        elif isinstance(item, list):
            raise _invalid("Match value must be String, number, true, false, or null")
        else:
            leaves.append(_exact(item))
    return _Field(tuple(leaves), tuple(exists))


def _compile_object(pattern: dict[str, Any]) -> _Object:
    fields: list[tuple[str, _Field | _Object]] = []
    ors: list[tuple[_Object, ...]] = []
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _invalid("Or relationship must have at least two elements")
            if not all(isinstance(v, dict) for v in value):
                raise _invalid("Or relationship must contain objects")
            ors.append(tuple(_compile_object(v) for v in value))
        elif isinstance(value, dict):
            fields.append((key, _compile_object(value)))
        elif isinstance(value, list):
            if not value:
                raise _invalid("Empty arrays are not allowed")
            fields.append((key, _compile_field(value)))
        else:
            raise _invalid(f'"{key}" must be an object or an array')
    return _Object(tuple(fields), tuple(ors))


@dataclass(frozen=True, slots=True)
class Pattern:
    """A validated event pattern."""

    source: dict[str, Any]
    _root: _Object

    def matches(self, event: dict[str, Any]) -> bool:
        return self._root.matches(event)


def compile_pattern(text: str | dict[str, Any]) -> Pattern:
    """Validate a pattern (JSON text or parsed) and build its matcher; raise
    InvalidEventPatternException with EventBridge's reason when it is not valid."""
    if isinstance(text, str):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise _invalid("Filter is not valid JSON") from None
    else:
        parsed = text
    if not isinstance(parsed, dict):
        raise _invalid("Filter is not an object")
    return Pattern(parsed, _compile_object(parsed))


def matches(pattern: str | dict[str, Any], event: dict[str, Any]) -> bool:
    return compile_pattern(pattern).matches(event)
