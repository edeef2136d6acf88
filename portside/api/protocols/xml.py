"""Writing canonical results as the XML the `query` and `ec2` protocols answer with.

Element names follow what botocore's `QueryParser` / `EC2QueryParser` read: a member by its
`locationName` (a flattened list by its member's), list items as children named by the list
member's `locationName` or a protocol default (`member` for query, `item` for EC2), map
entries as `<entry><key/><value/></entry>` (or the model's names), flattened lists and maps as
repeated elements. Writers are compiled once per shape and append text to a list.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from email.utils import formatdate
from functools import partial
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from portside.api.protocols.base import blob, double_text, epoch, iso8601
from portside.api.protocols.compiled import Built, Compiled

Write = Callable[[Any, list[str]], None]
Text = Callable[[Any], str]

# Characters XML 1.0 cannot carry at all, not even as references; written as U+FFFD so the
# document stays well-formed (a client cannot parse any of a malformed reply).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text as element content or a double-quoted attribute value. A carriage return is
    written as a reference: XML parsers turn a literal one into a line feed."""
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("\ufffd", text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _string(value: Any) -> str:
    # isinstance, not type(): a `str` enum's str() is its qualified name, not its value.
    return escape(value if isinstance(value, str) else str(value))


def _integer(value: Any) -> str:
    return str(int(value))


def _boolean(value: Any) -> str:
    return "true" if value else "false"


def _blob(value: Any) -> str:
    return base64.b64encode(blob(value)).decode("ascii")


def _epoch_text(value: Any) -> str:
    seconds = epoch(value)
    return str(int(seconds)) if seconds.is_integer() else repr(round(seconds, 3))


def _http_date(value: Any) -> str:
    return formatdate(epoch(value), usegmt=True)


_TIMESTAMPS: dict[str, Text] = {"unixtimestamp": _epoch_text, "rfc822": _http_date}
_SCALARS: dict[str, Text] = {
    "string": _string,
    "character": _string,
    "integer": _integer,
    "long": _integer,
    "float": double_text,
    "double": double_text,
    "boolean": _boolean,
    "blob": _blob,
}


def _text(shape: Shape) -> Text:
    if shape.type_name == "timestamp":
        # ISO 8601 unless the model asks otherwise (botocore's parser reads all three).
        return _TIMESTAMPS.get(str(shape.serialization.get("timestampFormat", "")).lower(), iso8601)
    return _SCALARS[shape.type_name]


class XmlWriter:
    """Writers of element content, compiled once per shape; `item` names list items whose
    member has no `locationName`."""

    def __init__(self, item: str) -> None:
        self._item = item
        self._compiled: Compiled[Write] = Compiled()

    def content(self, shape: Shape) -> Write:
        """What goes between the tags of an element of `shape`."""
        if isinstance(shape, StructureShape | ListShape | MapShape):
            return self._compiled.get(shape.name, lambda: self._compile(shape))
        text = _text(shape)
        return lambda value, out: out.append(text(value))

    def _compile(self, shape: StructureShape | ListShape | MapShape) -> Built[Write]:
        if isinstance(shape, StructureShape):
            emits: list[tuple[str, Write]] = []

            def structure() -> None:
                emits.extend((name, self._member(name, m)) for name, m in shape.members.items())

            return _structure(emits), structure
        inner: list[Write] = []
        if isinstance(shape, ListShape):
            tag = shape.member.serialization.get("name", self._item)
            return _deferred(inner), lambda: inner.append(
                partial(_each, self._element(tag, shape.member))
            )
        return _deferred(inner), lambda: inner.append(self._entry("entry", shape))

    def _member(self, name: str, shape: Shape) -> Write:
        """The element(s) one structure member writes."""
        flattened = shape.serialization.get("flattened")
        if isinstance(shape, ListShape) and flattened:
            tag = shape.member.serialization.get("name") or shape.serialization.get("name", name)
            return partial(_each, self._element(tag, shape.member))
        tag = shape.serialization.get("name", name)
        if isinstance(shape, MapShape) and flattened:
            return self._entry(tag, shape)
        return self._element(tag, shape)

    def _element(self, tag: str, shape: Shape) -> Write:
        start, end = f"<{tag}>", f"</{tag}>"
        if isinstance(shape, StructureShape | ListShape | MapShape):
            content = self.content(shape)

            def element(value: Any, out: list[str]) -> None:
                out.append(start)
                content(value, out)
                out.append(end)

            return element
        text = _text(shape)
        return lambda value, out: out.append(f"{start}{text(value)}{end}")

    def _entry(self, tag: str, shape: MapShape) -> Write:
        """A map's entries, each as `<tag><key/><value/></tag>`."""
        key = self._element(shape.key.serialization.get("name", "key"), shape.key)
        value = self._element(shape.value.serialization.get("name", "value"), shape.value)
        start, end = f"<{tag}>", f"</{tag}>"

        def entries(values: Any, out: list[str]) -> None:
            for k, v in values.items():
                if v is not None:
                    out.append(start)
                    key(k, out)
                    value(v, out)
                    out.append(end)

        return entries


def _structure(emits: list[tuple[str, Write]]) -> Write:
    def write(value: Any, out: list[str]) -> None:
        get = value.get
        for name, emit in emits:
            found = get(name)
            if found is not None:
                emit(found, out)

    return write


def _deferred(inner: list[Write]) -> Write:
    """A list's or a map's content, bound once its member writers are compiled."""

    def write(value: Any, out: list[str]) -> None:
        inner[0](value, out)

    return write


def _each(emit: Write, values: Any, out: list[str]) -> None:
    for value in values:
        if value is not None:
            emit(value, out)
