"""A key's life through boto3: CreateKey, DescribeKey by each of its names, ListKeys' pages,
EnableKey/DisableKey, ScheduleKeyDeletion/CancelKeyDeletion, and KMS's errors."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from kms_errors import error_of

ACCOUNT = "000000000000"
PREFIX = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/"


def test_create_key_as_kms_describes_it(kms: Any, name: str) -> None:
    before = time.time()
    meta = kms.create_key(
        Description=name,
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        Tags=[{"TagKey": "team", "TagValue": "web"}],
    )["KeyMetadata"]
    assert uuid.UUID(meta["KeyId"]) and meta["Arn"] == PREFIX + meta["KeyId"]
    assert meta["AWSAccountId"] == ACCOUNT
    assert before - 1 <= meta["CreationDate"].timestamp() <= time.time() + 1
    expected = {
        "Enabled": True,
        "Description": name,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    assert {k: meta[k] for k in expected} == expected
    assert "DeletionDate" not in meta
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"])["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [
        {"TagKey": "team", "TagValue": "web"}
    ]


def test_describe_key_by_id_arn_alias_and_alias_arn(
    kms: Any, key: dict[str, Any], name: str
) -> None:
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key["Arn"])
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/{name}"
    for ref in (key["KeyId"], key["Arn"], f"alias/{name}", alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"] == key["Arn"]


def test_missing_keys_in_kms_words(kms: Any) -> None:
    absent = str(uuid.uuid4())
    assert error_of(kms.describe_key, KeyId=absent) == (
        "NotFoundException",
        f"Key '{PREFIX}{absent}' does not exist",
    )
    assert error_of(kms.describe_key, KeyId=PREFIX + absent)[0] == "NotFoundException"
    assert error_of(kms.describe_key, KeyId="not-a-key") == (
        "NotFoundException",
        "Invalid keyId 'not-a-key'",
    )
    assert error_of(kms.describe_key, KeyId="alias/nobody-has-this") == (
        "NotFoundException",
        f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nobody-has-this is not found.",
    )
    assert error_of(kms.enable_key, KeyId=absent)[0] == "NotFoundException"


def test_list_keys_pages(kms: Any, name: str) -> None:
    mine = {kms.create_key(Description=name)["KeyMetadata"]["Arn"] for _ in range(3)}
    seen: list[str] = []
    page = kms.list_keys(Limit=2)
    while True:
        assert len(page["Keys"]) <= 2
        seen += [k["KeyArn"] for k in page["Keys"]]
        assert all(k["KeyArn"] == PREFIX + k["KeyId"] for k in page["Keys"])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        page = kms.list_keys(Limit=2, Marker=page["NextMarker"])
    assert len(seen) == len(set(seen)) and mine <= set(seen)
    assert error_of(kms.list_keys, Marker="!!not-a-marker")[0] == "InvalidMarkerException"


def test_disable_and_enable(kms: Any, key: dict[str, Any]) -> None:
    kms.disable_key(KeyId=key["KeyId"])
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "Disabled")
    assert error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == (
        "DisabledException",
        f"{key['Arn']} is disabled.",
    )
    kms.enable_key(KeyId=key["Arn"])
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (True, "Enabled")
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]


def test_schedule_and_cancel_deletion(kms: Any, key: dict[str, Any]) -> None:
    key_id, arn = key["KeyId"], key["Arn"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    for days, bound in ((6, "greater than or equal to 7"), (31, "less than or equal to 30")):
        assert error_of(kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=days) == (
            "ValidationException",
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            f"satisfy constraint: Member must have value {bound}",
        )
    before = time.time()
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert (out["KeyId"], out["KeyState"], out["PendingWindowInDays"]) == (
        arn,
        "PendingDeletion",
        7,
    )
    week = 7 * 86400
    assert before + week - 1 <= out["DeletionDate"].timestamp() <= time.time() + week + 1
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("PendingDeletion", False)
    assert meta["DeletionDate"] == out["DeletionDate"]
    pending = ("KMSInvalidStateException", f"{arn} is pending deletion.")
    assert error_of(kms.encrypt, KeyId=key_id, Plaintext=b"x") == pending
    assert error_of(kms.decrypt, CiphertextBlob=blob) == pending
    assert error_of(kms.enable_key, KeyId=key_id) == pending
    assert error_of(kms.schedule_key_deletion, KeyId=key_id) == pending
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == arn
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in meta
    assert error_of(kms.cancel_key_deletion, KeyId=key_id) == (
        "KMSInvalidStateException",
        f"{arn} is not pending deletion.",
    )
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


def test_create_key_refusals(kms: Any) -> None:
    assert error_of(kms.create_key, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")[0] == (
        "UnsupportedOperationException"
    )
    assert error_of(kms.create_key, Origin="EXTERNAL")[0] == "UnsupportedOperationException"
    assert error_of(kms.create_key, Policy="{not json")[0] == "MalformedPolicyDocumentException"
    assert error_of(kms.create_key, KeyUsage="SIGN_VERIFY")[0] == "ValidationException"
    assert error_of(kms.create_key, Description="d" * 8193) == (
        "ValidationException",
        "1 validation error detected: Value '" + "d" * 8193 + "' at 'description' failed to "
        "satisfy constraint: Member must have length less than or equal to 8192",
    )
