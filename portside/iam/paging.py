"""IAM's paging: MaxItems (1..1000, 100 by default) and an opaque Marker; a reply says
IsTruncated, with the Marker of the next page when it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from portside.iam import errors
from portside.ops import paging

T = TypeVar("T")


def _bad_marker(_: str) -> errors.NamedError:
    return errors.invalid("Invalid Marker.")


def page(
    p: dict[str, Any], items: Iterable[T], position: Callable[[T], str], member: str
) -> dict[str, Any]:
    """One page of `items` (in `position` order; those past the request's Marker)."""
    limit = p.get("MaxItems") or 100
    start = paging.decode_token(p.get("Marker"), _bad_marker)
    out: list[T] = []
    for item in items:
        if start and position(item) <= start:
            continue
        if len(out) == limit:
            return {
                member: out,
                "IsTruncated": True,
                "Marker": paging.encode_token(position(out[-1])),
            }
        out.append(item)
    return {member: out, "IsTruncated": False}
