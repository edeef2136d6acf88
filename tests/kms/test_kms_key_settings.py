"""What a key carries besides its material, through boto3: tags, its policy, and the
rotation flag Terraform's aws_kms_key reads."""

from __future__ import annotations

import json
from typing import Any

from kms_errors import error_of


def test_tags(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    kms.tag_resource(
        KeyId=key_id,
        Tags=[{"TagKey": "b", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}],
    )
    kms.tag_resource(KeyId=key["Arn"], Tags=[{"TagKey": "b", "TagValue": "3"}])
    first = kms.list_resource_tags(KeyId=key_id, Limit=1)
    assert first["Tags"] == [{"TagKey": "a", "TagValue": "2"}] and first["Truncated"]
    rest = kms.list_resource_tags(KeyId=key_id, Marker=first["NextMarker"])
    assert rest["Tags"] == [{"TagKey": "b", "TagValue": "3"}] and not rest["Truncated"]
    kms.untag_resource(KeyId=key_id, TagKeys=["b", "absent"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "a", "TagValue": "2"}]
    code, _ = error_of(kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "aws:x", "TagValue": ""}])
    assert code == "TagException"
    many = [{"TagKey": f"k{i}", "TagValue": ""} for i in range(50)]
    assert error_of(kms.tag_resource, KeyId=key_id, Tags=many)[0] == "LimitExceededException"
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert error_of(kms.tag_resource, KeyId=key_id, Tags=many[:1])[0] == (
        "KMSInvalidStateException"
    )


def test_key_policy(kms: Any, name: str) -> None:
    given: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
        ],
    }
    key_id = kms.create_key(Description=name, Policy=json.dumps(given))["KeyMetadata"]["KeyId"]
    got = kms.get_key_policy(KeyId=key_id, PolicyName="default")
    assert json.loads(got["Policy"]) == given and got["PolicyName"] == "default"
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    given["Statement"][0]["Action"] = "kms:Decrypt"
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(given))
    assert json.loads(kms.get_key_policy(KeyId=key_id)["Policy"]) == given
    assert error_of(kms.get_key_policy, KeyId=key_id, PolicyName="other") == (
        "NotFoundException",
        "No such policy exists",
    )
    assert (
        error_of(kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy='{"Version": "x"}')[
            0
        ]
        == "MalformedPolicyDocumentException"
    )


def test_rotation(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key["Arn"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    assert status["KeyId"] == key["Arn"] and "NextRotationDate" in status
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.disable_key(KeyId=key_id)
    assert error_of(kms.enable_key_rotation, KeyId=key_id) == (
        "DisabledException",
        f"{key['Arn']} is disabled.",
    )
