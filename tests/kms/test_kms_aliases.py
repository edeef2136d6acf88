"""Aliases through boto3 (CreateAlias, UpdateAlias, DeleteAlias, ListAliases) and the AWS
managed keys alias/aws/secretsmanager and alias/aws/ssm, which exist from the start."""

from __future__ import annotations

from typing import Any

from harness import ServerProcess
from kms_errors import error_of

ACCOUNT = "000000000000"


def _alias_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:{name}"


def _all_aliases(kms: Any, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = kms.list_aliases(**params)
    while True:
        out += page["Aliases"]
        if not page["Truncated"]:
            return out
        page = kms.list_aliases(**params, Marker=page["NextMarker"])


def test_create_list_update_delete(kms: Any, key: dict[str, Any], name: str) -> None:
    other = kms.create_key(Description=name)["KeyMetadata"]
    alias = f"alias/{name}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    kms.create_alias(AliasName=f"{alias}-2", TargetKeyId=key["Arn"])
    listed = {a["AliasName"]: a for a in _all_aliases(kms, Limit=1)}
    assert listed[alias]["AliasArn"] == _alias_arn(alias)
    assert listed[alias]["TargetKeyId"] == key["KeyId"]
    assert listed[alias]["CreationDate"] == listed[alias]["LastUpdatedDate"]
    of_key = _all_aliases(kms, KeyId=key["Arn"])
    assert sorted(a["AliasName"] for a in of_key) == [alias, f"{alias}-2"]
    kms.update_alias(AliasName=alias, TargetKeyId=other["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == other["KeyId"]
    assert [a["AliasName"] for a in _all_aliases(kms, KeyId=key["KeyId"])] == [f"{alias}-2"]
    kms.delete_alias(AliasName=alias)
    assert alias not in {a["AliasName"] for a in _all_aliases(kms)}
    assert error_of(kms.delete_alias, AliasName=alias) == (
        "NotFoundException",
        f"Alias {_alias_arn(alias)} is not found.",
    )
    assert error_of(kms.update_alias, AliasName=alias, TargetKeyId=key["KeyId"])[0] == (
        "NotFoundException"
    )


def test_alias_errors_in_kms_words(kms: Any, key: dict[str, Any], name: str) -> None:
    alias = f"alias/{name}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    assert error_of(kms.create_alias, AliasName=alias, TargetKeyId=key["KeyId"]) == (
        "AlreadyExistsException",
        f"An alias with the name {_alias_arn(alias)} already exists",
    )
    assert error_of(kms.create_alias, AliasName=name, TargetKeyId=key["KeyId"]) == (
        "ValidationException",
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    )
    assert error_of(kms.create_alias, AliasName="alias/a b", TargetKeyId=key["KeyId"]) == (
        "ValidationException",
        "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    )
    reserved = f"alias/aws/{name}"
    assert error_of(kms.create_alias, AliasName=reserved, TargetKeyId=key["KeyId"]) == (
        "InvalidAliasNameException",
        f"Alias {reserved} cannot begin with alias/aws/: the prefix is reserved for AWS "
        "managed keys.",
    )
    code, message = error_of(kms.update_alias, AliasName="alias/aws/ssm", TargetKeyId=key["KeyId"])
    assert code == "AccessDeniedException" and "kms:UpdateAlias" in message
    assert error_of(kms.delete_alias, AliasName="alias/aws/ssm")[0] == "AccessDeniedException"
    assert error_of(kms.create_alias, AliasName=f"{alias}-x", TargetKeyId=alias) == (
        "ValidationException",
        "Aliases must refer to keys. Not aliases",
    )
    assert (
        error_of(
            kms.create_alias,
            AliasName=f"{alias}-x",
            TargetKeyId="0" * 8 + "-0000-0000-0000-" + "0" * 12,
        )[0]
        == "NotFoundException"
    )
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert error_of(kms.create_alias, AliasName=f"{alias}-y", TargetKeyId=key["KeyId"]) == (
        "KMSInvalidStateException",
        f"{key['Arn']} is pending deletion.",
    )


def test_aws_managed_keys_exist_from_the_start(server: ServerProcess) -> None:
    region = "eu-north-1"  # no test makes keys here: the aliases come before their keys
    kms = server.client("kms", region=region)
    managed = {"alias/aws/secretsmanager", "alias/aws/ssm"}
    first = {a["AliasName"]: a for a in _all_aliases(kms) if a["AliasName"] in managed}
    assert set(first) == managed
    ssm = first["alias/aws/ssm"]
    assert ssm["AliasArn"] == _alias_arn("alias/aws/ssm", region)
    meta = kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["KeyState"] == "Enabled"
    assert meta["Description"] == (
        "Default key that protects my SSM parameters when no other key is defined"
    )
    again = kms.describe_key(KeyId=_alias_arn("alias/aws/ssm", region))["KeyMetadata"]
    assert again["KeyId"] == meta["KeyId"]
    listed = {a["AliasName"]: a for a in _all_aliases(kms)}
    assert listed["alias/aws/ssm"]["TargetKeyId"] == meta["KeyId"]
    assert meta["Arn"] in {k["KeyArn"] for k in kms.list_keys()["Keys"]}
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True
    denied = error_of(kms.disable_key, KeyId=meta["KeyId"])
    assert denied[0] == "AccessDeniedException" and "kms:DisableKey" in denied[1]
    assert error_of(kms.schedule_key_deletion, KeyId=meta["KeyId"])[0] == "AccessDeniedException"
    secrets = kms.encrypt(KeyId="alias/aws/secretsmanager", Plaintext=b"s")
    described = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert secrets["KeyId"] == described["Arn"] != meta["Arn"]
