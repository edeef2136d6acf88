"""Cloud Map's paging: MaxResults (1..100, 100 by default) and an opaque NextToken naming the
last item of the page before."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from portside.ops import paging
from portside.servicediscovery.errors import InvalidInput

T = TypeVar("T")


def page(
    p: dict[str, Any],
    items: Iterable[T],
    position: Callable[[T], str],
    member: str,
    default: int = 100,
) -> dict[str, Any]:
    """One page of `items` (in `position` order): the reply's list and NextToken."""
    limit = p.get("MaxResults") or default
    start = paging.decode_token(
        p.get("NextToken"), lambda _: InvalidInput("The NextToken is not valid.")
    )
    out: list[T] = []
    for item in items:
        if start and position(item) <= start:
            continue
        if len(out) == limit:
            return {member: out, "NextToken": paging.encode_token(position(out[-1]))}
        out.append(item)
    return {member: out}
