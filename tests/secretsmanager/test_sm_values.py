"""Secret values through boto3: versions and their staging labels, binary values, retried
requests, BatchGetSecretValue, the access date."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sm_support import error_of


def stages_of(sm: Any, name: str, **kw: Any) -> dict[str, list[str]]:
    versions = sm.list_secret_version_ids(SecretId=name, **kw)["Versions"]
    return {v["VersionId"]: v.get("VersionStages", []) for v in versions}


def test_versions_and_staging_labels(sm: Any, name: str) -> None:
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    put = sm.put_secret_value(SecretId=name, SecretString="two")
    v2 = put["VersionId"]
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert stages_of(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    got = sm.get_secret_value(SecretId=name, VersionId=v1)
    assert (got["SecretString"], got["VersionStages"]) == ("one", ["AWSPREVIOUS"])
    # A pending version leaves AWSCURRENT where it is.
    v3 = sm.put_secret_value(SecretId=name, SecretString="three", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    assert sm.get_secret_value(SecretId=name)["VersionId"] == v2
    with pytest.raises(sm.exceptions.InvalidParameterException) as unnamed:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v3)
    assert error_of(unnamed)[1] == (
        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is "
        f"currently attached to version {v2}, so you must explicitly reference that version in "
        "RemoveFromVersionId."
    )
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v3, RemoveFromVersionId=v1
        )
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v3, RemoveFromVersionId=v2
    )
    assert stages_of(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT", "AWSPENDING"]}
    with_deprecated = stages_of(sm, name, IncludeDeprecated=True)
    assert with_deprecated[v1] == []  # no label left: deprecated, still listed on request
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=v3)
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v3
        )
    # Custom labels move as any label does.
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v1)
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "one"
    described = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert described == {v1: ["blue"], v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as no_stage:
        sm.get_secret_value(SecretId=name, VersionStage="green")
    assert error_of(no_stage)[1] == (
        "Secrets Manager can't find the specified secret value for staging label: green"
    )
    unknown = "0" * 32
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as no_version:
        sm.get_secret_value(SecretId=name, VersionId=unknown)
    assert error_of(no_version)[1].endswith(f"for VersionId: {unknown}")
    page = sm.list_secret_version_ids(SecretId=name, MaxResults=2)
    rest = sm.list_secret_version_ids(SecretId=name, MaxResults=2, NextToken=page["NextToken"])
    assert [v["VersionId"] for v in page["Versions"] + rest["Versions"]] == [v1, v2, v3]


def test_binary_values_and_update(sm: Any, name: str) -> None:
    data = bytes(range(256))
    sm.create_secret(Name=name, SecretBinary=data)
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == data and "SecretString" not in got
    updated = sm.update_secret(SecretId=name, SecretString="now text")
    assert sm.get_secret_value(SecretId=name)["VersionId"] == updated["VersionId"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "now text"
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.put_secret_value(SecretId=name)


def test_a_retried_put_makes_one_version(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="one")
    token = "b" * 40
    first = sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)
    again = sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)
    assert first["VersionId"] == again["VersionId"] == token
    assert len(stages_of(sm, name)) == 2
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.put_secret_value(SecretId=name, SecretString="three", ClientRequestToken=token)
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.update_secret(SecretId=name, SecretString="three", ClientRequestToken=token)


def test_batch_get_secret_value(sm: Any, name: str) -> None:
    a = sm.create_secret(Name=f"{name}-a", SecretString="A")["ARN"]
    sm.create_secret(Name=f"{name}-b", SecretBinary=b"B")
    sm.create_secret(Name=f"{name}-gone", SecretString="G")
    sm.delete_secret(SecretId=f"{name}-gone")
    got = sm.batch_get_secret_value(SecretIdList=[a, f"{name}-b", f"{name}-gone", f"{name}-nope"])
    assert [
        (v["Name"], v.get("SecretString"), v.get("SecretBinary")) for v in got["SecretValues"]
    ] == [
        (f"{name}-a", "A", None),
        (f"{name}-b", None, b"B"),
    ]
    assert [(e["SecretId"], e["ErrorCode"]) for e in got["Errors"]] == [
        (f"{name}-gone", "InvalidRequestException"),
        (f"{name}-nope", "ResourceNotFoundException"),
    ]
    by_name = [{"Key": "name", "Values": [name]}]
    first = sm.batch_get_secret_value(Filters=by_name, MaxResults=1)
    rest = sm.batch_get_secret_value(Filters=by_name, MaxResults=1, NextToken=first["NextToken"])
    assert [v["Name"] for v in first["SecretValues"] + rest["SecretValues"]] == [
        f"{name}-a",
        f"{name}-b",
    ]
    assert "NextToken" not in rest
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.batch_get_secret_value(SecretIdList=[a], Filters=by_name)


def test_reading_notes_the_day(sm: Any, name: str) -> None:
    version = sm.create_secret(Name=name, SecretString="x")["VersionId"]
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=name)
    sm.get_secret_value(SecretId=name)
    today = time.time() // 86400 * 86400
    assert sm.describe_secret(SecretId=name)["LastAccessedDate"].timestamp() == today
    (listed,) = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert listed["VersionId"] == version
    assert listed["LastAccessedDate"].timestamp() == today
    assert listed["KmsKeyIds"] == ["DefaultEncryptionKey"]
