"""Secret values sealed under KMS (`kms/envelope.py`), and KMS's failures in Secrets Manager's
words.

A version's value is sealed with the encryption context AWS uses for secrets
({"SecretARN": ..., "SecretVersionId": ...}), so a blob opens only as the version it was made
for. The plaintext is one kind byte (S: SecretString, B: SecretBinary) and the value. A
version holds a list of sealed copies, newest key first: changing a secret's key re-seals its
labelled versions under the new key and keeps the old copy, as AWS keeps them ("you can
decrypt AWSCURRENT, AWSPENDING and AWSPREVIOUS with the previous key or the new key").

KMS's errors become Secrets Manager's: on sealing EncryptionFailure, on opening
DecryptionFailure, each with KMS's message (the service answered `DecryptionFailure:
arn:aws:kms:...:key/... is pending deletion` for a key scheduled for deletion); KMS's
AccessDeniedException is `Access to KMS is not allowed`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from portside.errors import NamedError
from portside.kms import envelope
from portside.ops.context import Op
from portside.store.base import Tx

DEFAULT_ALIAS = "alias/aws/secretsmanager"
DEFAULT_KEY_NAME = "DefaultEncryptionKey"  # ListSecretVersionIds' KmsKeyIds for the default key
_CANT_DECRYPT = (
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
)
_CANT_ENCRYPT = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
    "Check that the KMS key is available, enabled, and not in an invalid state."
)


@dataclass(frozen=True, slots=True)
class Value:
    """A secret value: SecretString (text) or SecretBinary (bytes)."""

    text: str | None = None
    binary: bytes | None = None

    @classmethod
    def of(cls, p: dict[str, Any]) -> Value | None:
        if "SecretString" in p:
            return cls(text=p["SecretString"])
        if "SecretBinary" in p:
            return cls(binary=bytes(p["SecretBinary"]))
        return None

    def plaintext(self) -> bytes:
        if self.text is not None:
            return b"S" + self.text.encode()
        return b"B" + (self.binary or b"")

    @classmethod
    def from_plaintext(cls, plain: bytes) -> Value:
        if plain[:1] == b"S":
            return cls(text=plain[1:].decode())
        return cls(binary=plain[1:])

    def wire(self) -> dict[str, Any]:
        return (
            {"SecretString": self.text} if self.text is not None else {"SecretBinary": self.binary}
        )


def _context(arn: str, version_id: str) -> dict[str, str]:
    return {"SecretARN": arn, "SecretVersionId": version_id}


def _kms_error(e: NamedError, failure: str, fallback: str) -> NamedError:
    if e.code == "AccessDeniedException":
        return NamedError("AccessDeniedException", "Access to KMS is not allowed")
    return NamedError(failure, e.message or fallback)


def seal(
    op: Op, tx: Tx, kms_key_id: str | None, arn: str, version_id: str, value: Value
) -> dict[str, str]:
    """A sealed copy of `value` for the version: {"Blob", "KmsKeyId"} (the key as the secret
    names it, DefaultEncryptionKey for aws/secretsmanager)."""
    try:
        blob, _ = envelope.seal(
            op,
            tx,
            kms_key_id or None,
            value.plaintext(),
            context=_context(arn, version_id),
            default_alias=DEFAULT_ALIAS,
        )
    except NamedError as e:
        raise _kms_error(e, "EncryptionFailure", _CANT_ENCRYPT) from None
    return {"Blob": base64.b64encode(blob).decode(), "KmsKeyId": kms_key_id or DEFAULT_KEY_NAME}


def unseal(op: Op, tx: Tx, arn: str, version: dict[str, Any]) -> Value:
    """The value of a version document, from the first of its copies that opens."""
    first: NamedError | None = None
    for copy in version["Sealed"]:
        try:
            plain, _ = envelope.unseal(
                op, tx, base64.b64decode(copy["Blob"]), context=_context(arn, version["VersionId"])
            )
        except NamedError as e:
            first = first or e
            continue
        return Value.from_plaintext(plain)
    assert first is not None, "a version holds at least one sealed copy"
    raise _kms_error(first, "DecryptionFailure", _CANT_DECRYPT)


def key_ids(version: dict[str, Any]) -> list[str]:
    """The keys a version is sealed under, as ListSecretVersionIds shows them."""
    return [c["KmsKeyId"] for c in version["Sealed"]]
