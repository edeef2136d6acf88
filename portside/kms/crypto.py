"""Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext) and ReEncrypt: KMS's cryptographic
operations, on the same path as the services that seal values (envelope.seal/unseal)."""

from __future__ import annotations

import secrets
from typing import Any

from portside.errors import NamedError, ValidationException
from portside.kms import envelope, lookup
from portside.kms.operations import action
from portside.ops.context import Op

SYMMETRIC = "SYMMETRIC_DEFAULT"
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


def _algorithm(p: dict[str, Any], member: str) -> str:
    algorithm = p.get(member) or SYMMETRIC
    if algorithm != SYMMETRIC:
        raise NamedError(
            "InvalidKeyUsageException",
            f"The encryption algorithm {algorithm} is not compatible with the key spec "
            f"{SYMMETRIC}.",
        )
    return algorithm


def _no_recipient(p: dict[str, Any]) -> None:
    if p.get("Recipient"):
        raise NamedError(
            "UnsupportedOperationException", "Recipient (Nitro Enclaves) is not supported"
        )


def _dry_run(p: dict[str, Any]) -> None:
    """After every check has passed: a DryRun request stops here, as KMS answers it."""
    if p.get("DryRun"):
        raise NamedError(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        )


def _seal(op: Op, ref: str, plaintext: bytes, context: dict[str, str] | None) -> tuple[bytes, str]:
    lookup.ensure_managed(op, ref)
    with op.store.read() as tx:
        return envelope.seal(op, tx, ref, plaintext, context=context, default_alias=ref)


def _unseal(
    op: Op, blob: bytes, named: str | None, context: dict[str, str] | None
) -> tuple[bytes, str]:
    """The plaintext of `blob`; the key the request `named`, if any, must be the blob's."""
    with op.store.read() as tx:
        if named is not None:
            key_id = envelope.blob_key_id(blob)
            if lookup.find(op, tx, named)["KeyId"] != key_id:
                raise NamedError(
                    "IncorrectKeyException",
                    "The key ID in the request does not identify a CMK that can perform this "
                    "operation.",
                )
        return envelope.unseal(op, tx, blob, context=context)


@action("Encrypt")
def encrypt(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    algorithm = _algorithm(p, "EncryptionAlgorithm")
    blob, arn = _seal(op, p["KeyId"], bytes(p["Plaintext"]), p.get("EncryptionContext"))
    _dry_run(p)
    return {"CiphertextBlob": blob, "KeyId": arn, "EncryptionAlgorithm": algorithm}


@action("Decrypt")
def decrypt(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    algorithm = _algorithm(p, "EncryptionAlgorithm")
    _no_recipient(p)
    plaintext, arn = _unseal(
        op, bytes(p["CiphertextBlob"]), p.get("KeyId"), p.get("EncryptionContext")
    )
    _dry_run(p)
    return {"KeyId": arn, "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}


def _data_key(op: Op, p: dict[str, Any]) -> tuple[bytes, bytes, str]:
    spec, size = p.get("KeySpec"), p.get("NumberOfBytes")
    if (spec is None) == (size is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    plaintext = secrets.token_bytes(DATA_KEY_BYTES[str(spec)] if size is None else size)
    blob, arn = _seal(op, p["KeyId"], plaintext, p.get("EncryptionContext"))
    _dry_run(p)
    return plaintext, blob, arn


@action("GenerateDataKey")
def generate_data_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _no_recipient(p)
    plaintext, blob, arn = _data_key(op, p)
    return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": arn}


@action("GenerateDataKeyWithoutPlaintext")
def generate_data_key_without_plaintext(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _, blob, arn = _data_key(op, p)
    return {"CiphertextBlob": blob, "KeyId": arn}


@action("ReEncrypt")
def re_encrypt(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    source_algorithm = _algorithm(p, "SourceEncryptionAlgorithm")
    destination_algorithm = _algorithm(p, "DestinationEncryptionAlgorithm")
    plaintext, source = _unseal(
        op, bytes(p["CiphertextBlob"]), p.get("SourceKeyId"), p.get("SourceEncryptionContext")
    )
    blob, arn = _seal(op, p["DestinationKeyId"], plaintext, p.get("DestinationEncryptionContext"))
    _dry_run(p)
    return {
        "CiphertextBlob": blob,
        "SourceKeyId": source,
        "KeyId": arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": destination_algorithm,
    }
