"""EC2's `Filters`, once for every Describe call (pure).

A request's filters are a list of {Name, Values}: an object passes when, for every filter,
one of its values for that name matches one of the filter's values (values OR, filters AND).
A value may hold EC2's wildcards: `*` any run of characters, `?` one, `\\` before either
for the character itself. Each kind of object says which names it answers and how to read its
values for each (`Fields`); the tag filters are the same for every kind: `tag:KEY` (the value
of tag KEY), `tag-key` and `tag-value`. A name the kind does not answer is refused as EC2
refuses it (InvalidParameterValue), before anything is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from portside.errors import NamedError

Document = Mapping[str, Any]
Fields = Mapping[str, Callable[[Document], Iterable[Any]]]
Tags = Callable[[Document], Iterable[Mapping[str, Any]]]


def _tags(doc: Document) -> Iterable[Mapping[str, Any]]:
    return doc.get("Tags") or ()


def text(value: Any) -> str:
    """A value as EC2 compares it: booleans `true`/`false`, numbers in decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pattern(value: str) -> re.Pattern[str]:
    """EC2's wildcard value as a regular expression matching the whole string."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _reader(name: str, fields: Fields, tags: Tags) -> Callable[[Document], Iterable[Any]]:
    if name.startswith("tag:"):
        wanted = name[4:]
        return lambda doc: (t.get("Value", "") for t in tags(doc) if t["Key"] == wanted)
    if name == "tag-key":
        return lambda doc: (t["Key"] for t in tags(doc))
    if name == "tag-value":
        return lambda doc: (t.get("Value", "") for t in tags(doc))
    read = fields.get(name)
    if read is None:
        raise NamedError("InvalidParameterValue", f"The filter '{name}' is invalid")
    return read


class FilterSet:
    """A request's filters, compiled against one kind's `fields`; call it on a document."""

    def __init__(
        self, filters: Iterable[Mapping[str, Any]] | None, fields: Fields, tags: Tags = _tags
    ) -> None:
        self._checks: list[tuple[Callable[[Document], Iterable[Any]], list[re.Pattern[str]]]] = []
        for given in filters or ():
            name = given.get("Name") or ""
            values = [pattern(v) for v in given.get("Values") or ()]
            self._checks.append((_reader(name, fields, tags), values))

    def __call__(self, doc: Document) -> bool:
        for read, values in self._checks:
            found = [text(v) for v in read(doc) if v is not None]
            if not any(p.fullmatch(v) for v in found for p in values):
                return False
        return True

    def apply(self, docs: Iterable[Document]) -> list[Any]:
        return [doc for doc in docs if self(doc)]


def one(member: str) -> Callable[[Document], Iterable[Any]]:
    """The reader of a top-level member."""
    return lambda doc: (doc.get(member),)


def each(member: str, inner: str) -> Callable[[Document], Iterable[Any]]:
    """The reader of `inner` in each item of the list `member`."""
    return lambda doc: (item.get(inner) for item in doc.get(member) or ())
