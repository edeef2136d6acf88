"""An AWS query-style form (`Action=...&Names.member.1=a`): its text, and how its names are
spelt.

Both the `query` and the `ec2` protocols send every parameter as one flat form field whose
dotted name walks the input shape; they differ only in how the names are spelt (`FormNames`,
`Ec2FormNames`). The fields are split into a tree on the dots once (`form_tree`), which
form_reader.py reads into canonical params.

What is not readable raises `FormFault`; each codec words it in its protocol.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from botocore.model import ListShape, Shape

Node = str | dict[str, "Node"]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class FormFault(Exception):
    """The form is not readable as the operation's input.

    `kind` is `syntax` (bad percent-encoding or UTF-8), `index` (a list or map index that is
    not a positive number), `value` (a value not of its shape's type) or `nesting` (fields
    under a name that holds a single value, or the other way round). `path` is the dotted
    field name, filled in as the fault travels up the readers.
    """

    def __init__(self, kind: str, detail: str, value: str = "", expected: str = "") -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.value = value
        self.expected = expected  # the type a `value` fault wanted: Integer, Boolean...
        self._segments: list[str] = []

    def within(self, segment: str) -> FormFault:
        self._segments.append(segment)
        return self

    @property
    def path(self) -> str:
        return ".".join(reversed(self._segments))


def parse_form(raw: str) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` text as fields (the last of a repeated name
    wins). Unlike `urllib.parse.parse_qsl`, a bad `%` escape or non-UTF-8 bytes are faults."""
    fields: dict[str, str] = {}
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            fields[_unquote(name)] = _unquote(value)
    return fields


def _unquote(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _BAD_ESCAPE.search(text):
        raise FormFault("syntax", "Malformed percent-encoding in the form")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise FormFault("syntax", "The form is not UTF-8") from None


def form_tree(fields: dict[str, str], skip: frozenset[str]) -> dict[str, Node]:
    """The fields as a tree split on the dots, without `skip` and the `X-Amz-*` fields of a
    presigned URL. A name that is both a value and a prefix keeps the value under ``""``."""
    root: dict[str, Node] = {}
    for name, value in fields.items():
        if "." not in name:
            if name not in skip and not name.startswith("X-Amz-"):
                _place(root, name, value)
            continue
        parts = name.split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str):
                child = node[part] = {"": child}
            node = child
        _place(node, parts[-1], value)
    return root


def _place(node: dict[str, Node], name: str, value: str) -> None:
    held = node.get(name)
    if isinstance(held, dict):
        held[""] = value
    else:
        node[name] = value


class FormNames:
    """How the `query` protocol names fields (botocore's `QuerySerializer` writes them so):
    a member by its `locationName`, list items under `.member.N` (or the list member's
    `locationName`), flattened lists and maps without that level, map entries as
    `.entry.N.key` / `.entry.N.value` (or the key's and value's `locationName`)."""

    def member(self, name: str, shape: Shape) -> str:
        if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
            # A flattened list whose member has a locationName is named by it alone.
            item = shape.member.serialization.get("name")
            if item:
                return str(item)
        return str(shape.serialization.get("name", name))

    def list_items(self, shape: ListShape) -> str | None:
        """The level between a list's name and its indexes; None for none."""
        if shape.serialization.get("flattened"):
            return None
        return str(shape.member.serialization.get("name", "member"))

    def map_entry(self, shape: Shape, default: str) -> str:
        """The name of a map's key or value (`shape` is the map's key or value shape)."""
        return str(shape.serialization.get("name", default))


class Ec2FormNames(FormNames):
    """EC2's spelling (botocore's `EC2Serializer`): `queryName`, else the `locationName`
    capitalised, else the member name; list items are `Name.N` whatever the model says."""

    def member(self, name: str, shape: Shape) -> str:
        return self.map_entry(shape, name)

    def list_items(self, shape: ListShape) -> str | None:
        return None

    def map_entry(self, shape: Shape, default: str) -> str:
        found = shape.serialization.get("queryName")
        if found:
            return str(found)
        found = shape.serialization.get("name")
        if found:
            return str(found[0].upper() + found[1:])
        return default
