"""CloudWatch Logs filter patterns, compiled to a predicate on a message. Pure.

Supported, as the Filter and Pattern Syntax guide describes them:

* ``""`` matches every event.
* Terms: ``ERROR Exception`` matches events containing every term (case-sensitive).
  ``"quoted phrase"`` is one term. ``-term`` excludes events containing it. ``?a ?b``
  matches events containing any of the ``?`` terms (with plain terms, all of those too).
  ``%regex%`` as a term matches the regular expression anywhere in the message.
* JSON: ``{ $.level = "error" && ($.latency > 100 || $.user.id IS NULL) }`` on events whose
  message is a JSON object: ``= != > < >= <=``, ``*`` wildcards in strings, ``IS TRUE``,
  ``IS FALSE``, ``IS NULL``, ``NOT EXISTS``, ``&&``, ``||`` and parentheses.
* Space-delimited: ``[ip, user, ..., status=4*, bytes>1000]`` on messages split at spaces,
  where text in ``[...]`` or ``"..."`` is one field; ``...`` stands for any number of fields;
  a field's condition may be joined to others with ``&&`` / ``||``
  (``[..., status=404 || status=410, bytes]``). ``%regex%`` values match by regex.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from portside.errors import InvalidParameterException

Matcher = Callable[[str], bool]


def _invalid(pattern: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid filter pattern: {pattern}")


def compile_pattern(pattern: str | None) -> Matcher | None:
    """A predicate for the pattern, or None when it matches everything."""
    text = (pattern or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        return _JsonParser(text).parse()
    if text.startswith("["):
        return _delimited(text)
    return _terms(text)


def _compile_regex(body: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(body)
    except re.error:
        raise _invalid(pattern) from None


def _term_matcher(term: str, pattern: str) -> Matcher:
    if len(term) >= 2 and term.startswith("%") and term.endswith("%"):
        regex = _compile_regex(term[1:-1], pattern)
        return lambda message: regex.search(message) is not None
    return _literal(term)


_TOKEN = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(%[^%]+%)|([^\s"]\S*))')


def _terms(text: str) -> Matcher:
    required: list[Matcher] = []
    any_of: list[Matcher] = []
    excluded: list[Matcher] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        found = _TOKEN.match(text, pos)
        if found is None or found.group(0) in ("?", "-"):
            raise _invalid(text)
        pos = found.end()
        sign, quoted, regex, bare = found.groups()
        if quoted is not None:
            matcher = _literal(re.sub(r"\\(.)", r"\1", quoted))
        else:
            matcher = _term_matcher(regex or bare, text)
        {"": required, "?": any_of, "-": excluded}[sign].append(matcher)

    def match(message: str) -> bool:
        if any(m(message) for m in excluded):
            return False
        if not all(m(message) for m in required):
            return False
        return not any_of or any(m(message) for m in any_of)

    return match


def _literal(term: str) -> Matcher:
    return lambda message: term in message


# JSON patterns ------------------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|>=|<=|=|>|<|\(|\)|\{|\})
      | (?P<sel>\$(?:\.[A-Za-z0-9_@\-]+|\[\d+\])*)
      | "(?P<str>(?:[^"\\]|\\.)*)"
      | (?P<word>[^\s()&|=!<>{}"]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()


def _select(doc: Any, path: str) -> Any:
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        key, index = part
        if key:
            if not isinstance(doc, dict) or key not in doc:
                return _MISSING
            doc = doc[key]
        else:
            if not isinstance(doc, list) or int(index) >= len(doc):
                return _MISSING
            doc = doc[int(index)]
    return doc


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(op: str, value: str, quoted: bool) -> Callable[[Any], bool]:
    number = None if quoted else _number(value)
    if number is not None and op in ("=", "!=", ">", "<", ">=", "<="):

        def numeric(found: Any) -> bool:
            if isinstance(found, bool) or not isinstance(found, int | float):
                return op == "!=" and found is not _MISSING
            return {
                "=": found == number,
                "!=": found != number,
                ">": found > number,
                "<": found < number,
                ">=": found >= number,
                "<=": found <= number,
            }[op]

        return numeric
    if op not in ("=", "!="):
        raise ValueError(op)
    if "*" in value:
        regex = re.compile(".*".join(re.escape(p) for p in value.split("*")), re.DOTALL)
        same: Callable[[Any], bool] = lambda found: (  # noqa: E731
            isinstance(found, str) and regex.fullmatch(found) is not None
        )
    else:
        same = lambda found: isinstance(found, str) and found == value  # noqa: E731
    if op == "=":
        return same
    return lambda found: found is not _MISSING and not same(found)


class _JsonParser:
    """Recursive descent over ``{ expr }``: expr := term ('||' term)*, term := atom ('&&'
    atom)*, atom := '(' expr ')' | selector op value | selector IS (TRUE|FALSE|NULL) |
    selector NOT EXISTS."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            found = _JSON_TOKEN.match(text, pos)
            if found is None or found.end() == pos:
                raise _invalid(text)
            pos = found.end()
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
        self.at = 0

    def parse(self) -> Matcher:
        self._expect("op", "{")
        test = self._or()
        self._expect("op", "}")
        if self.at != len(self.tokens):
            raise _invalid(self.text)

        def match(message: str) -> bool:
            try:
                doc = orjson.loads(message)
            except orjson.JSONDecodeError:
                return False
            return isinstance(doc, dict | list) and test(doc)

        return match

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("", "")

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if not token[0]:
            raise _invalid(self.text)
        self.at += 1
        return token

    def _expect(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self._next()
        if got_kind != kind or (value is not None and got != value):
            raise _invalid(self.text)
        return got

    def _or(self) -> Callable[[Any], bool]:
        return self._joined("||", self._and, any)

    def _and(self) -> Callable[[Any], bool]:
        return self._joined("&&", self._atom, all)

    def _joined(
        self,
        operator: str,
        operand: Callable[[], Callable[[Any], bool]],
        join: Callable[[Iterable[bool]], bool],
    ) -> Callable[[Any], bool]:
        """Operands parsed by `operand`, separated by `operator`, their tests joined by `join`."""
        parts = [operand()]
        while self._peek() == ("op", operator):
            self.at += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else lambda doc: join(p(doc) for p in parts)

    def _atom(self) -> Callable[[Any], bool]:
        if self._peek() == ("op", "("):
            self.at += 1
            inner = self._or()
            self._expect("op", ")")
            return inner
        path = self._expect("sel")
        kind, value = self._next()
        if kind == "word" and value.upper() == "IS":
            which = self._expect("word").upper()
            wanted = {"TRUE": True, "FALSE": False, "NULL": None}
            if which not in wanted:
                raise _invalid(self.text)
            target = wanted[which]
            return lambda doc: _select(doc, path) is target
        if kind == "word" and value.upper() == "NOT":
            if self._expect("word").upper() != "EXISTS":
                raise _invalid(self.text)
            return lambda doc: _select(doc, path) is _MISSING
        if kind != "op" or value not in ("=", "!=", ">", "<", ">=", "<="):
            raise _invalid(self.text)
        vkind, operand = self._next()
        if vkind not in ("str", "word"):
            raise _invalid(self.text)
        operand = re.sub(r"\\(.)", r"\1", operand) if vkind == "str" else operand
        try:
            check = _compare(value, operand, vkind == "str")
        except ValueError:
            raise _invalid(self.text) from None
        return lambda doc: check(_select(doc, path))


# Space-delimited patterns ------------------------------------------------------------------

_FIELD = re.compile(r'\[([^\]]*)\]|"((?:[^"\\]|\\.)*)"|(\S+)')
_CONDITION = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>!=|>=|<=|=|>|<)\s*
        (?:"(?P<str>(?:[^"\\]|\\.)*)"|(?P<word>[^\s&|]+))\s*""",
    re.VERBOSE,
)
_ELLIPSIS = "..."


def split_fields(message: str) -> list[str]:
    """A message's space-delimited fields; `[...]` and `"..."` each make one field."""
    return [next(g for g in m.groups() if g is not None) for m in _FIELD.finditer(message)]


def _value_test(op: str, value: str, quoted: bool, pattern: str) -> Callable[[str], bool]:
    if not quoted and len(value) >= 2 and value[0] == "%" and value[-1] == "%":
        regex = _compile_regex(value[1:-1], pattern)
        if op not in ("=", "!="):
            raise _invalid(pattern)
        return lambda field: (regex.search(field) is not None) == (op == "=")
    number = None if quoted else _number(value)
    if number is not None:
        compare = _compare(op, value, False)

        def numeric(field: str) -> bool:
            found = _number(field)
            return compare(found if found is not None else field)

        return numeric
    try:
        compare = _compare(op, value, True)
    except ValueError:
        raise _invalid(pattern) from None
    return lambda field: bool(compare(field))


def _delimited(text: str) -> Matcher:
    if not text.endswith("]"):
        raise _invalid(text)
    slots: list[str] = []
    # Each condition group is a disjunction of conjunctions of (field, test).
    groups: list[list[list[tuple[str, Callable[[str], bool]]]]] = []
    for item in text[1:-1].split(","):
        item = item.strip()
        if not item:
            raise _invalid(text)
        if item == _ELLIPSIS:
            slots.append(_ELLIPSIS)
            continue
        name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", item)
        if name is None:
            raise _invalid(text)
        slots.append(name.group(0))
        rest = item[name.end() :].strip()
        if not rest:
            continue
        alternatives: list[list[tuple[str, Callable[[str], bool]]]] = []
        for alternative in re.split(r"\|\|", item):
            conjunction: list[tuple[str, Callable[[str], bool]]] = []
            for part in re.split(r"&&", alternative):
                found = _CONDITION.fullmatch(part)
                if found is None:
                    raise _invalid(text)
                quoted = found.group("str") is not None
                value = found.group("str") if quoted else found.group("word")
                conjunction.append(
                    (found.group("name"), _value_test(found.group("op"), value, quoted, text))
                )
            alternatives.append(conjunction)
        groups.append(alternatives)
    names = [s for s in slots if s != _ELLIPSIS]
    if len(set(names)) != len(names):
        raise _invalid(text)
    for alternatives in groups:
        for conjunction in alternatives:
            if any(field not in names for field, _ in conjunction):
                raise _invalid(text)

    def holds(bound: dict[str, str]) -> bool:
        return all(
            any(all(test(bound[field]) for field, test in conj) for conj in alternatives)
            for alternatives in groups
        )

    def match(message: str) -> bool:
        return any(holds(bound) for bound in _bindings(slots, 0, split_fields(message), 0, {}))

    return match


def _bindings(
    slots: list[str], i: int, fields: list[str], j: int, bound: dict[str, str]
) -> Iterator[dict[str, str]]:
    """Every assignment of fields to slots, `...` taking any number of fields."""
    if i == len(slots):
        if j == len(fields):
            yield bound
        return
    if slots[i] == _ELLIPSIS:
        for k in range(j, len(fields) + 1):
            yield from _bindings(slots, i + 1, fields, k, bound)
    elif j < len(fields):
        yield from _bindings(slots, i + 1, fields, j + 1, {**bound, slots[i]: fields[j]})
