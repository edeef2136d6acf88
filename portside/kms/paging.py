"""KMS's paging: Limit (1..1000, 100 by default) and an opaque Marker; a reply says
Truncated, with NextMarker when it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from portside.errors import NamedError
from portside.ops import paging

T = TypeVar("T")


def after(p: dict[str, Any]) -> str:
    """The position the request's Marker resumes after ("" for the first page)."""
    return paging.decode_token(
        p.get("Marker"), lambda _: NamedError("InvalidMarkerException", "Invalid marker")
    )


def page(
    p: dict[str, Any], items: Iterable[T], position: Callable[[T], str], member: str
) -> dict[str, Any]:
    """One page of `items` (in `position` order, those past the Marker): the reply."""
    limit = p.get("Limit") or 100
    start = after(p)
    out: list[T] = []
    for item in items:
        if start and position(item) <= start:
            continue
        if len(out) == limit:
            return {
                member: out,
                "NextMarker": paging.encode_token(position(out[-1])),
                "Truncated": True,
            }
        out.append(item)
    return {member: out, "Truncated": False}
