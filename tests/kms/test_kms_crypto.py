"""Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext) and ReEncrypt through boto3, and an
encrypt/decrypt round trip through the AWS CLI v2."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from harness import ServerProcess
from kms_errors import error_of

CONTEXT = {"app": "billing", "stage": "prod"}


def test_encrypt_decrypt_with_context(kms: Any, key: dict[str, Any]) -> None:
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"card 4111", EncryptionContext=CONTEXT)
    assert out["KeyId"] == key["Arn"] and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = out["CiphertextBlob"]
    assert b"card 4111" not in blob
    back = kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(CONTEXT.items())))
    assert back["Plaintext"] == b"card 4111" and back["KeyId"] == key["Arn"]
    assert back["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key["Arn"], EncryptionContext=CONTEXT)
    invalid = ("InvalidCiphertextException", "")
    for wrong in ({}, {"app": "billing"}, {**CONTEXT, "stage": "dev"}):
        assert error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext=wrong) == invalid
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    assert error_of(kms.decrypt, CiphertextBlob=tampered, EncryptionContext=CONTEXT) == (invalid)
    assert error_of(kms.decrypt, CiphertextBlob=b"not one of ours") == invalid


def test_decrypt_with_another_key_named(kms: Any, key: dict[str, Any], name: str) -> None:
    other = kms.create_key(Description=name)["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"p")["CiphertextBlob"]
    assert error_of(kms.decrypt, CiphertextBlob=blob, KeyId=other["KeyId"]) == (
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )
    absent = str(uuid.uuid4())
    assert error_of(kms.encrypt, KeyId=absent, Plaintext=b"p")[0] == "NotFoundException"


def test_generate_data_keys(kms: Any, key: dict[str, Any]) -> None:
    for params, size in (
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 64}, 64),
    ):
        out = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=CONTEXT, **params)
        assert len(out["Plaintext"]) == size and out["KeyId"] == key["Arn"]
        back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CONTEXT)
        assert back["Plaintext"] == out["Plaintext"]
    bare = kms.generate_data_key_without_plaintext(KeyId=key["Arn"], KeySpec="AES_256")
    assert "Plaintext" not in bare and bare["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    either = ("ValidationException", "Please specify either number of bytes or key spec.")
    assert error_of(kms.generate_data_key, KeyId=key["KeyId"]) == either
    assert (
        error_of(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256", NumberOfBytes=32)
        == either
    )


def test_re_encrypt_and_dry_run(kms: Any, key: dict[str, Any], name: str) -> None:
    other = kms.create_key(Description=name)["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"moved", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=other["KeyId"],
        DestinationEncryptionContext={"to": "other"},
    )
    assert (out["SourceKeyId"], out["KeyId"]) == (key["Arn"], other["Arn"])
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"to": "other"})
    assert back["Plaintext"] == b"moved" and back["KeyId"] == other["Arn"]
    assert error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"p", DryRun=True) == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )


def test_cli_v2_round_trip(server: ServerProcess, key: dict[str, Any], tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"from the CLI\n")
    out = server.aws(
        "kms",
        "encrypt",
        "--key-id",
        key["Arn"],
        "--plaintext",
        f"fileb://{plain}",
        "--encryption-context",
        "purpose=cli",
        v2=True,
    )
    assert out["KeyId"] == key["Arn"]
    blob = tmp_path / "blob"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    back = server.aws(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        f"fileb://{blob}",
        "--encryption-context",
        "purpose=cli",
        v2=True,
    )
    assert base64.b64decode(back["Plaintext"]) == b"from the CLI\n"
    assert back["KeyId"] == key["Arn"]
