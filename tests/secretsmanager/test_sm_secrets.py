"""Secrets through boto3: create, describe (by name, ARN and partial ARN), update, delete with
a recovery window, restore, delete for good; AWS's errors for each."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sm_support import ARN, UUID, error_of

NOT_FOUND = ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
MARKED = (
    "InvalidRequestException",
    "You can't perform this operation on the secret because it was marked for deletion.",
)


def test_create_describe_update(sm: Any, name: str) -> None:
    made = sm.create_secret(
        Name=name,
        Description="the database",
        SecretString="pw",
        Tags=[{"Key": "team", "Value": "data"}],
    )
    match = ARN.match(made["ARN"])
    assert match and match[1] == name
    assert made["Name"] == name and UUID.match(made["VersionId"])
    partial = made["ARN"][: -len("-XXXXXX")]
    for secret_id in (name, made["ARN"], partial):
        found = sm.describe_secret(SecretId=secret_id)
        assert found["ARN"] == made["ARN"]
    assert found["Description"] == "the database"
    assert found["Tags"] == [{"Key": "team", "Value": "data"}]
    assert found["VersionIdsToStages"] == {made["VersionId"]: ["AWSCURRENT"]}
    for absent in ("KmsKeyId", "LastAccessedDate", "DeletedDate", "RotationEnabled"):
        assert absent not in found
    sm.update_secret(SecretId=name, Description="the main database")
    again = sm.describe_secret(SecretId=name)
    assert again["Description"] == "the main database"
    assert again["VersionIdsToStages"] == found["VersionIdsToStages"]  # no new version
    assert again["LastChangedDate"] >= found["LastChangedDate"]


def test_secret_without_a_value(sm: Any, name: str) -> None:
    made = sm.create_secret(Name=name)
    assert "VersionId" not in made
    assert "VersionIdsToStages" not in sm.describe_secret(SecretId=name)
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as missing:
        sm.get_secret_value(SecretId=name)
    assert error_of(missing) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    )


def test_delete_restore_and_delete_for_good(sm: Any, name: str) -> None:
    made = sm.create_secret(Name=name, SecretString="v1")
    before = time.time()
    gone = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert gone["ARN"] == made["ARN"]
    assert abs(gone["DeletionDate"].timestamp() - (before + 7 * 86400)) < 60
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    named = [{"Key": "name", "Values": [name]}]
    assert sm.list_secrets(Filters=named)["SecretList"] == []
    listed = sm.list_secrets(Filters=named, IncludePlannedDeletion=True)["SecretList"]
    assert [s["ARN"] for s in listed] == [made["ARN"]]
    for call in (
        lambda: sm.get_secret_value(SecretId=name),
        lambda: sm.put_secret_value(SecretId=name, SecretString="v2"),
        lambda: sm.update_secret(SecretId=name, Description="x"),
        lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
    ):
        with pytest.raises(sm.exceptions.InvalidRequestException) as marked:
            call()
        assert error_of(marked) == MARKED
    with pytest.raises(sm.exceptions.InvalidRequestException) as scheduled:
        sm.create_secret(Name=name, SecretString="v1")
    assert "already scheduled for deletion" in error_of(scheduled)[1]
    with pytest.raises(sm.exceptions.InvalidRequestException):
        sm.delete_secret(SecretId=name)  # already scheduled
    restored = sm.restore_secret(SecretId=name)
    assert (restored["ARN"], restored["Name"]) == (made["ARN"], name)
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as missing:
        sm.describe_secret(SecretId=made["ARN"])
    assert error_of(missing) == NOT_FOUND
    # Forcing the deletion of a secret that is not there is answered as done, as AWS does.
    again_gone = sm.delete_secret(SecretId=made["ARN"], ForceDeleteWithoutRecovery=True)
    assert (again_gone["ARN"], again_gone["Name"]) == (made["ARN"], made["ARN"].split(":")[-1])
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.delete_secret(SecretId=made["ARN"])
    again = sm.create_secret(Name=name, SecretString="new")
    assert again["ARN"] != made["ARN"]  # another random suffix
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=made["ARN"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "new"


def test_errors(sm: Any, sm_raw: Any, name: str) -> None:
    with pytest.raises(sm.exceptions.ClientError) as bad_name:
        sm.create_secret(Name=f"{name} with spaces", SecretString="x")
    assert error_of(bad_name) == (
        "ValidationException",
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
        "following: -/_+=.@!",
    )
    with pytest.raises(sm.exceptions.InvalidParameterException) as both:
        sm.create_secret(Name=name, SecretString="x", SecretBinary=b"x")
    assert "both a binary secret value and a string secret value" in error_of(both)[1]
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(sm.exceptions.ResourceExistsException) as exists:
        sm.create_secret(Name=name, SecretString="y")
    assert error_of(exists) == (
        "ResourceExistsException",
        f"The operation failed because the secret {name} already exists.",
    )
    with pytest.raises(sm.exceptions.InvalidParameterException) as window:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=6)
    assert error_of(window)[1] == (
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    )
    with pytest.raises(sm.exceptions.InvalidParameterException) as both_ways:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert "in conjunction with RecoveryWindowInDays" in error_of(both_ways)[1]
    arn = sm.describe_secret(SecretId=name)["ARN"]
    for missing_id in (name + "-nope", arn.replace("us-east-1", "eu-west-1"), arn + "x"):
        with pytest.raises(sm.exceptions.ResourceNotFoundException) as missing:
            sm.describe_secret(SecretId=missing_id)
        assert error_of(missing) == NOT_FOUND
    with pytest.raises(sm.exceptions.ClientError) as short:
        sm_raw.get_secret_value(SecretId=name, VersionId="too-short")
    assert error_of(short)[0] == "ValidationException"
    assert "versionId" in error_of(short)[1]


def test_create_is_idempotent_with_its_token(sm: Any, name: str) -> None:
    token = "a" * 32
    first = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=token)
    again = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=token)
    assert (again["ARN"], again["VersionId"]) == (first["ARN"], token)
    with pytest.raises(sm.exceptions.ResourceExistsException) as changed:
        sm.create_secret(Name=name, SecretString="other", ClientRequestToken=token)
    assert error_of(changed)[1] == (
        "You can't modify an existing version, you can only create a new version."
    )
    assert sm.list_secret_version_ids(SecretId=name)["Versions"][0]["VersionId"] == token


def test_list_filters_sorting_and_paging(sm: Any, name: str) -> None:
    made = [
        sm.create_secret(
            Name=f"{name}/{suffix}",
            Description=f"{suffix.upper()} Database",
            Tags=[{"Key": f"tier-{suffix}", "Value": f"owner-{suffix}"}],
        )["ARN"]
        for suffix in ("a", "b", "c")
    ]
    prefix = [{"Key": "name", "Values": [name]}]
    first = sm.list_secrets(Filters=prefix, MaxResults=2)
    rest = sm.list_secrets(Filters=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert [s["ARN"] for s in first["SecretList"] + rest["SecretList"]] == made
    assert "NextToken" not in rest

    def arns(*filters: dict[str, Any], **kw: Any) -> list[str]:
        return [s["ARN"] for s in sm.list_secrets(Filters=[*prefix, *filters], **kw)["SecretList"]]

    assert arns({"Key": "description", "Values": ["b data"]}) == [made[1]]  # ignores case
    assert arns({"Key": "tag-key", "Values": ["tier-c"]}) == [made[2]]
    assert arns({"Key": "tag-value", "Values": ["owner-a", "owner-c"]}) == [made[0], made[2]]
    assert arns({"Key": "tag-value", "Values": ["Owner-a"]}) == []  # case-sensitive
    assert arns({"Key": "name", "Values": [f"!{name}/b"]}) == [made[0], made[2]]
    assert arns({"Key": "all", "Values": ["c database"]}) == [made[2]]
    assert arns(SortBy="name", SortOrder="desc") == made[::-1]
    with pytest.raises(sm.exceptions.InvalidNextTokenException):
        sm.list_secrets(NextToken="bm90IGEgdG9rZW4")
