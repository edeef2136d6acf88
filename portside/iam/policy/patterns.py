"""Wildcard patterns and policy variables, compiled once.

A policy string is a `Template`: text with `*` and `?` wildcards (in Action, Resource,
StringLike and ArnLike values) and, in a 2012-10-17 document, policy variables:
`${aws:username}`, `${aws:PrincipalTag/team}`, a default after a comma
(`${aws:PrincipalTag/team, 'none'}`), and the three escapes `${*}`, `${?}`, `${$}` that stand
for the literal character (IAM User Guide, "IAM policy elements: Variables and tags").

A variable is looked up as a condition key (case-insensitive) in the request's context. When
the key has no single value and there is no default, the text cannot be built and the element
holding it matches nothing: "If the policy variable has no value, the statement does not
apply" is how the evaluator reads AWS's rule (the statement cannot match that element).

Matching is glob over the whole string: `*` any run of characters (colons included: AWS lets
a segment's trailing `*` reach past the colon), `?` one character. Actions match without
regard to case, resources and condition values with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

# Looks a condition key up (lower-cased name) and gives its single value, or None.
Lookup = Callable[[str], "str | None"]

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s][^,]*?)\s*,\s*'([^']*)'\s*$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

# A part of a template: (GLOB, text) keeps its wildcards, (LITERAL, text) does not,
# (VARIABLE, key lower-cased, default or None).
GLOB, LITERAL, VARIABLE = 0, 1, 2
Part = tuple[int, str, str | None]


def glob_regex(text: str) -> str:
    """The regex source that matches what `text` matches as a glob."""
    if "*" not in text and "?" not in text:
        return re.escape(text)
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string split into glob text, literal text and variables."""

    source: str
    parts: tuple[Part, ...]
    variables: bool

    def text(self, lookup: Lookup) -> str | None:
        """The string with every variable filled in (wildcards kept as characters), or None
        when a variable has no value and no default."""
        if not self.variables:
            return self.source
        out: list[str] = []
        for kind, text, default in self.parts:
            if kind == VARIABLE:
                value = lookup(text)
                if value is None:
                    if default is None:
                        return None
                    value = default
                out.append(value)
            else:
                out.append(text)
        return "".join(out)

    def regex(self, lookup: Lookup) -> str | None:
        """The regex source of the glob, with variables' values taken literally; None as
        `text` gives None."""
        out: list[str] = []
        for kind, text, default in self.parts:
            if kind == GLOB:
                out.append(glob_regex(text))
            elif kind == LITERAL:
                out.append(re.escape(text))
            else:
                value = lookup(text)
                if value is None:
                    if default is None:
                        return None
                    value = default
                out.append(re.escape(value))
        return "".join(out)


@lru_cache(maxsize=16384)
def template(source: str, variables: bool) -> Template:
    """`source` read as a policy string; `variables` False reads `${...}` as plain text."""
    if not variables or "${" not in source:
        return Template(source, ((GLOB, source, None),), False)
    parts: list[Part] = []
    at = 0
    for m in _VAR.finditer(source):
        if m.start() > at:
            parts.append((GLOB, source[at : m.start()], None))
        body = m.group(1)
        if body in _ESCAPES:
            parts.append((LITERAL, _ESCAPES[body], None))
        else:
            d = _DEFAULT.match(body)
            name, default = (d.group(1), d.group(2)) if d else (body.strip(), None)
            parts.append((VARIABLE, name.lower(), default))
        at = m.end()
    if at < len(source):
        parts.append((GLOB, source[at:], None))
    # With only escapes (`${*}`) the text is fixed, but the parts keep wildcards told apart.
    return Template(source, tuple(parts), True)


@lru_cache(maxsize=16384)
def compiled(source: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class PatternSet:
    """Several globs matched as one: an exact set for plain text, one regex for the rest,
    and per-request regexes for the templates that hold variables."""

    __slots__ = ("any", "exact", "ignore_case", "regex", "templates")

    def __init__(self, sources: tuple[str, ...], *, variables: bool, ignore_case: bool) -> None:
        self.ignore_case = ignore_case
        self.any = "*" in sources
        exact: set[str] = set()
        globs: list[str] = []
        templates: list[Template] = []
        for s in sources:
            t = template(s, variables)
            if t.variables:
                if any(kind == VARIABLE for kind, _, _ in t.parts):
                    templates.append(t)
                else:
                    globs.append(t.regex(_nothing) or "")
            elif has_wildcard(s):
                globs.append(glob_regex(s))
            else:
                exact.add(s.lower() if ignore_case else s)
        self.exact = frozenset(exact)
        self.regex = compiled("|".join(f"(?:{g})" for g in globs), ignore_case) if globs else None
        self.templates = tuple(templates)

    @property
    def needs_context(self) -> bool:
        return bool(self.templates)

    def matches(self, value: str, lookup: Lookup | None = None) -> bool:
        if self.any:
            return True
        if (value.lower() if self.ignore_case else value) in self.exact:
            return True
        if self.regex is not None and self.regex.fullmatch(value):
            return True
        if self.templates and lookup is not None:
            for t in self.templates:
                source = t.regex(lookup)
                if source is not None and compiled(source, self.ignore_case).fullmatch(value):
                    return True
        return False

    def unresolved(self, lookup: Lookup) -> bool:
        """Whether some template's variable has no value (NotResource: the statement cannot
        say what it excludes, so it does not apply)."""
        return any(t.regex(lookup) is None for t in self.templates)


def _nothing(_key: str) -> str | None:
    return None
