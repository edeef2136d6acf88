"""ECS-style pagination: maxResults and an opaque nextToken."""

from __future__ import annotations

import base64
import binascii

from portside.errors import InvalidParameterException


def encode_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode()


def decode_token(token: str | None) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameterException("Invalid token " + token[:64]) from None


def check_max_results(value: int | None, default: int = 100, cap: int = 100) -> int:
    if value is None:
        return default
    if value < 1 or value > cap:
        raise InvalidParameterException(f"maxResults must be between 1 and {cap}.")
    return value
