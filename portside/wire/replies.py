"""What every AWS reply builds alike, whichever service: members with no value are left out,
and a page of a List* call carries the token of the next one only when there is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]


def drop_none(d: Json) -> Json:
    return {k: v for k, v in d.items() if v is not None}


def page(
    key: str, items: Sequence[Any], token: str | None, *, token_key: str = "nextToken"
) -> Json:
    """`{key: items}`, and the token under `token_key` (ECS and Logs: nextToken; EventBridge
    and the Scheduler: NextToken) when another page follows."""
    out: Json = {key: items}
    if token:
        out[token_key] = token
    return out
