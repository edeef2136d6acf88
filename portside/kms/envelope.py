"""Encryption under a KMS key: the one path for KMS's own Encrypt/Decrypt/GenerateDataKey and
for the services that keep values encrypted at rest (Secrets Manager, SSM Parameter Store).

A ciphertext blob is opaque to callers and made of

    version (1 byte, 1) | key id (36 ASCII bytes) | nonce (12 bytes) | AES-256-GCM output

The key id in the clear lets Decrypt find the key without being told; the header and the
encryption context (as canonical JSON) are the associated data, so a blob opens only under
its own key and with the exact context it was sealed with. Anything else is
InvalidCiphertextException, which KMS sends without a message.

Both functions run inside the caller's transaction (`tx`); `seal` may write (an AWS managed
key made on first use), so give it a transaction that can.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portside.errors import NamedError
from portside.kms import lookup, master, records
from portside.kms.master import MasterKey
from portside.ops.context import Op
from portside.store.base import Document, Tx

VERSION = 1
_ID_BYTES = 36
_NONCE_BYTES = 12
_HEADER = 1 + _ID_BYTES
_MIN_BLOB = _HEADER + _NONCE_BYTES + 16


def invalid_ciphertext() -> NamedError:
    return NamedError("InvalidCiphertextException", "")


def _aad(header: bytes, context: Mapping[str, str] | None) -> bytes:
    return header + orjson.dumps(dict(context or {}), option=orjson.OPT_SORT_KEYS)


def seal(
    op: Op,
    tx: Tx,
    key_id: str | None,
    plaintext: bytes,
    *,
    context: Mapping[str, str] | None = None,
    default_alias: str,
) -> tuple[bytes, str]:
    """Encrypt under key_id (id, ARN, alias name or alias ARN) or, if None, the AWS managed
    key default_alias ("alias/aws/secretsmanager" or "alias/aws/ssm", created if absent).
    Returns (blob, key_arn). Raises KMS's errors as NamedError (NotFoundException,
    DisabledException, KMSInvalidStateException)."""
    secret = master.of(op.world)
    key = lookup.find(op, tx, key_id or default_alias, create_with=secret)
    return encrypt_with(key, secret, plaintext, context), key["Arn"]


def encrypt_with(
    key: Document, secret: MasterKey, plaintext: bytes, context: Mapping[str, str] | None
) -> bytes:
    """A blob of `plaintext` under `key` (checked usable first)."""
    records.check_usable(key)
    header = bytes([VERSION]) + key["KeyId"].encode()
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(records.material(key, secret)).encrypt(nonce, plaintext, _aad(header, context))
    return header + nonce + sealed


def blob_key_id(blob: bytes) -> str:
    """The id of the key a blob was sealed under; InvalidCiphertextException if it is none
    of ours."""
    if len(blob) < _MIN_BLOB or blob[0] != VERSION:
        raise invalid_ciphertext()
    try:
        key_id = blob[1:_HEADER].decode("ascii")
    except UnicodeDecodeError:
        raise invalid_ciphertext() from None
    if not records.KEY_ID.match(key_id):
        raise invalid_ciphertext()
    return key_id


def unseal(
    op: Op, tx: Tx, blob: bytes, *, context: Mapping[str, str] | None = None
) -> tuple[bytes, str]:
    """Decrypt a blob from seal or Encrypt. Returns (plaintext, key_arn). Raises
    InvalidCiphertextException (not a blob of ours, tampered, or another context) and the
    key's errors as seal does, all as NamedError."""
    key = lookup.find(op, tx, blob_key_id(blob))
    return decrypt_with(key, master.of(op.world), blob, context), key["Arn"]


def decrypt_with(
    key: Document, secret: MasterKey, blob: bytes, context: Mapping[str, str] | None
) -> bytes:
    """The plaintext of a blob sealed under `key` (checked usable first)."""
    records.check_usable(key)
    header, nonce, sealed = (
        blob[:_HEADER],
        blob[_HEADER : _HEADER + _NONCE_BYTES],
        blob[_HEADER + _NONCE_BYTES :],
    )
    try:
        return AESGCM(records.material(key, secret)).decrypt(nonce, sealed, _aad(header, context))
    except InvalidTag:
        raise invalid_ciphertext() from None
