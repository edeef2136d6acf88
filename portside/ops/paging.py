"""ECS-style pagination: maxResults and an opaque nextToken."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable

from portside.errors import InvalidParameterException, RequestError
from portside.store.base import Document


def encode_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode()


def _ecs_invalid(token: str) -> RequestError:
    return InvalidParameterException("Invalid token " + token[:64])


def decode_token(token: str | None, invalid: Callable[[str], RequestError] = _ecs_invalid) -> str:
    """The key a token resumes after ("" for none); `invalid(token)` is raised for a token
    that is not one (ECS's InvalidParameterException unless the service says otherwise)."""
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid(token) from None


def keys_page(
    rows: Iterable[tuple[str, Document]], limit: int, keep: Callable[[Document], bool]
) -> tuple[list[str], str | None]:
    """The keys of the first `limit` rows that `keep` admits, and the token of the next page
    when one more is admitted (the rows are read only that far)."""
    keys: list[str] = []
    for key, doc in rows:
        if not keep(doc):
            continue
        if len(keys) == limit:
            return keys, encode_token(keys[-1])
        keys.append(key)
    return keys, None


def check_max_results(value: int | None, default: int = 100, cap: int = 100) -> int:
    if value is None:
        return default
    if value < 1 or value > cap:
        raise InvalidParameterException(f"maxResults must be between 1 and {cap}.")
    return value
