"""Encoded authorization messages (DecodeAuthorizationMessage).

Where a refusal carries an "encoded authorization failure message" (EC2's
UnauthorizedOperation does), the message is the refusal's context (allowed, explicitPolicy
deny, matched statements, the caller, the action, the resource, the condition keys) as JSON,
sealed with the server's master key (AES-GCM, bound to the account), so only a principal
who may call sts:DecodeAuthorizationMessage in that account reads it back. `encode` makes
one; STS's DecodeAuthorizationMessage opens it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from portside.errors import NamedError, ServerException
from portside.kms import master
from portside.ops.context import World

_AAD = b"portside:sts:authorization-message:"
_NONCE = 12


def encode(world: World, account: str, context: Mapping[str, Any]) -> str:
    """The encoded message for a refusal's `context` (AWS's decoded shape: `allowed`,
    `explicitDeny`, `matchedStatements`, `failures`, `context`)."""
    plain = json.dumps(dict(context), separators=(",", ":")).encode()
    sealed = master.of(world).wrap(plain, _AAD + account.encode())
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode(world: World, account: str, encoded: str) -> str:
    """The JSON text of a message `encode` made for `account`, or AWS's error."""
    invalid = NamedError(
        "InvalidAuthorizationMessageException",
        "The encoded authorization message is invalid.",
        400,
    )
    try:
        sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(sealed) <= _NONCE:
        raise invalid
    try:
        # unwrap words its refusal for KMS's material; a message that does not open is this.
        plain = master.of(world).unwrap(sealed, _AAD + account.encode())
    except ServerException:
        raise invalid from None
    return plain.decode()
