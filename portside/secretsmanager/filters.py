"""ListSecrets' and BatchGetSecretValue's Filters (pure), as the API reference defines them:
description is a prefix match ignoring case; name, tag-key, tag-value, primary-region and
owning-service are case-sensitive prefix matches; all splits the value into words and looks
for each, ignoring case, at the start of any word of the name, description, tag keys and tag
values. A value starting with `!` excludes what it matches. Within a filter a secret must match
one of the plain values (when there are any) and none of the negated ones; every filter must
hold."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from portside.store.base import Document

_WORD = re.compile(r"[A-Za-z0-9]+")


def _fields(doc: Document, key: str) -> list[str]:
    tags = doc.get("Tags") or []
    if key == "name":
        return [doc["Name"]]
    if key == "description":
        return [doc["Description"]] if doc.get("Description") else []
    if key == "tag-key":
        return [t["Key"] for t in tags]
    if key == "tag-value":
        return [t.get("Value", "") for t in tags]
    if key == "primary-region":
        return [doc["PrimaryRegion"]] if doc.get("PrimaryRegion") else []
    if key == "owning-service":
        return [doc["OwningService"]] if doc.get("OwningService") else []
    return []


def _words(texts: Iterable[str]) -> list[str]:
    return [w.lower() for text in texts for w in _WORD.findall(text)]


def _hits(doc: Document, key: str, value: str) -> bool:
    if key == "all":
        words = _words(_fields(doc, "name") + _fields(doc, "description"))
        words += _words(_fields(doc, "tag-key") + _fields(doc, "tag-value"))
        wanted = _words([value])
        return bool(wanted) and all(any(w.startswith(x) for w in words) for x in wanted)
    fields = _fields(doc, key)
    if key == "description":
        return any(f.lower().startswith(value.lower()) for f in fields)
    return any(f.startswith(value) for f in fields)


def matches(doc: Document, filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        values = f.get("Values") or []
        plain = [v for v in values if not v.startswith("!")]
        negated = [v[1:] for v in values if v.startswith("!")]
        if plain and not any(_hits(doc, f["Key"], v) for v in plain):
            return False
        if any(_hits(doc, f["Key"], v) for v in negated):
            return False
    return True
