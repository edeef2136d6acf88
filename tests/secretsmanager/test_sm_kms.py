"""Secrets under KMS keys: the default key and a customer's, KMS's refusals as Secrets
Manager's errors, and a change of key."""

from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess
from sm_support import error_of


@pytest.fixture
def kms(server: ServerProcess) -> Any:
    return server.client("kms")


def test_a_customer_key(sm: Any, kms: Any, name: str) -> None:
    key = kms.create_key(Description=name)["KeyMetadata"]
    sm.create_secret(Name=name, SecretString="under my key", KmsKeyId=key["Arn"])
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
    (version,) = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert version["KmsKeyIds"] == [key["Arn"]]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(sm.exceptions.DecryptionFailure) as closed:
        sm.get_secret_value(SecretId=name)
    assert error_of(closed)[1] == f"{key['Arn']} is disabled."
    with pytest.raises(sm.exceptions.EncryptionFailure):
        sm.put_secret_value(SecretId=name, SecretString="new")
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 1  # nothing half-made
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "under my key"


def test_changing_the_key_reseals_labelled_versions(sm: Any, kms: Any, name: str) -> None:
    key = kms.create_key(Description=name)["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key["KeyId"])
    sm.create_secret(Name=name, SecretString="v1", KmsKeyId=f"alias/{name}")
    sm.update_secret(SecretId=name, KmsKeyId="")  # back to aws/secretsmanager
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    (version,) = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert version["KmsKeyIds"] == ["DefaultEncryptionKey", f"alias/{name}"]
    kms.disable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"  # the default key's copy
    kms.enable_key(KeyId=key["KeyId"])


def test_an_unusable_key_makes_nothing(sm: Any, name: str) -> None:
    with pytest.raises(sm.exceptions.EncryptionFailure) as missing:
        sm.create_secret(Name=name, SecretString="x", KmsKeyId=f"alias/{name}-none")
    assert "is not found" in error_of(missing)[1]
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=name)


def test_the_default_key_is_aws_managed(sm: Any, kms: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="x")
    managed = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS" and managed["KeyState"] == "Enabled"
