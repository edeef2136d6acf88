"""IAM users, groups and access keys through boto3, with IAM's errors; a user's access key
signs calls as that user (GetCallerIdentity answers with the user's ARN) until it is made
Inactive or deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess
from iam_clients import ACCOUNT, client, error


def test_user_lifecycle(iam: Any, name: str) -> None:
    made = iam.create_user(UserName=name, Path="/team/", Tags=[{"Key": "team", "Value": "a"}])
    user = made["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    got = iam.get_user(UserName=name.upper())["User"]  # names are case-insensitive
    assert got["UserName"] == name and got["Tags"] == [{"Key": "team", "Value": "a"}]
    listed = iam.list_users(PathPrefix="/team/")["Users"]
    assert [u["UserName"] for u in listed] == [name] and "Tags" not in listed[0]

    with pytest.raises(ClientError) as dup:
        iam.create_user(UserName=name.upper())
    message = f"User with name {name.upper()} already exists."
    assert error(dup) == ("EntityAlreadyExists", message, 409)

    iam.update_user(UserName=name, NewUserName=name + "x", NewPath="/other/")
    moved = iam.get_user(UserName=name + "x")["User"]
    assert moved["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/other/{name}x"
    assert moved["UserId"] == user["UserId"]
    iam.delete_user(UserName=name + "x")
    with pytest.raises(ClientError) as gone:
        iam.get_user(UserName=name + "x")
    assert error(gone) == ("NoSuchEntity", f"The user with name {name}x cannot be found.", 404)


def test_get_user_without_a_name_is_the_caller(server: ServerProcess) -> None:
    # The root has no UserName (nor Path) in IAM's answer, though the model requires one:
    # a client without the model check reads it.
    root = client(server, "iam").get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and root["UserId"] == ACCOUNT


def test_bad_names_are_validation_errors(iam: Any) -> None:
    with pytest.raises(ClientError) as bad:
        iam.create_user(UserName="no spaces allowed")
    code, message, status = error(bad)
    assert (code, status) == ("ValidationError", 400)
    assert "failed to satisfy constraint" in message
    with pytest.raises(ClientError) as path:
        iam.create_user(UserName="fine", Path="no-slashes")
    assert error(path)[0] == "ValidationError"


def test_users_page_with_marker(iam: Any, name: str) -> None:
    for i in range(5):
        iam.create_user(UserName=f"{name}{i}", Path=f"/{name}/")
    seen: list[str] = []
    marker: dict[str, str] = {}
    while True:
        page = iam.list_users(PathPrefix=f"/{name}/", MaxItems=2, **marker)
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        marker = {"Marker": page["Marker"]}
    assert seen == [f"{name}{i}" for i in range(5)]
    paginator = iam.get_paginator("list_users")
    pages = paginator.paginate(PathPrefix=f"/{name}/", PaginationConfig={"PageSize": 3})
    names = [u["UserName"] for p in pages for u in p["Users"]]
    assert names == seen
    for i in range(5):
        iam.delete_user(UserName=f"{name}{i}")


def test_groups_and_memberships(iam: Any, name: str) -> None:
    iam.create_user(UserName=name)
    group = iam.create_group(GroupName=name + "g", Path="/ops/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/ops/{name}g"
    iam.add_user_to_group(GroupName=name + "g", UserName=name)
    iam.add_user_to_group(GroupName=name + "g", UserName=name)  # twice: still one member
    got = iam.get_group(GroupName=name + "g")
    assert [u["UserName"] for u in got["Users"]] == [name]
    groups = iam.list_groups_for_user(UserName=name)["Groups"]
    assert [g["GroupName"] for g in groups] == [name + "g"]
    assert name + "g" in [g["GroupName"] for g in iam.list_groups(PathPrefix="/ops/")["Groups"]]

    with pytest.raises(ClientError) as in_use:
        iam.delete_group(GroupName=name + "g")
    assert error(in_use) == (
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
        409,
    )
    with pytest.raises(ClientError) as member:
        iam.delete_user(UserName=name)  # IAM says the same of a user still in a group
    assert error(member) == error(in_use)

    iam.update_group(GroupName=name + "g", NewGroupName=name + "h")
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]] == [
        name + "h"
    ]
    iam.remove_user_from_group(GroupName=name + "h", UserName=name)
    with pytest.raises(ClientError) as not_member:
        iam.remove_user_from_group(GroupName=name + "h", UserName=name)
    assert error(not_member)[0] == "NoSuchEntity"
    iam.delete_group(GroupName=name + "h")
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as gone:
        iam.get_group(GroupName=name + "h")
    assert error(gone) == ("NoSuchEntity", f"The group with name {name}h cannot be found.", 404)


def test_access_keys(iam: Any, name: str) -> None:
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    second = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError) as third:
        iam.create_access_key(UserName=name)
    assert error(third) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)

    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)

    iam.update_access_key(UserName=name, AccessKeyId=first["AccessKeyId"], Status="Inactive")
    metadata = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    statuses = {k["AccessKeyId"]: k["Status"] for k in metadata}
    assert statuses[first["AccessKeyId"]] == "Inactive"
    with pytest.raises(ClientError) as bad_status:
        iam.update_access_key(UserName=name, AccessKeyId=first["AccessKeyId"], Status="Paused")
    assert error(bad_status)[0] == "ValidationError"

    last = iam.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert last["UserName"] == name
    assert last["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}

    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName=name)
    assert error(conflict) == (
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
        409,
    )
    for key in (first, second):
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as missing:
        iam.delete_access_key(UserName=name, AccessKeyId=first["AccessKeyId"])
    assert error(missing) == (
        "NoSuchEntity",
        f"The Access Key with id {first['AccessKeyId']} cannot be found.",
        404,
    )
    iam.delete_user(UserName=name)


def test_a_users_key_signs_as_the_user(server: ServerProcess, iam: Any, name: str) -> None:
    user = iam.create_user(UserName=name, Path="/dev/")["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sts = client(server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    me = sts.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/dev/{name}"
    assert me["Account"] == ACCOUNT and me["UserId"] == user["UserId"]

    # Without a UserName, key calls act on the caller's own keys (once a policy allows it).
    allow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ListAccessKeys", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName=name, PolicyName="keys", PolicyDocument=json.dumps(allow))
    own = client(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert [k["AccessKeyId"] for k in own.list_access_keys()["AccessKeyMetadata"]] == [
        key["AccessKeyId"]
    ]

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as refused:
        sts.get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(f":user/dev/{name}")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as deleted:
        sts.get_caller_identity()
    assert deleted.value.response["Error"]["Code"] == "InvalidClientTokenId"
    iam.delete_user_policy(UserName=name, PolicyName="keys")
    iam.delete_user(UserName=name)


def test_user_tags(iam: Any, name: str) -> None:
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "a", "Value": "3"}])
    assert iam.list_user_tags(UserName=name)["Tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    iam.untag_user(UserName=name, TagKeys=["a"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as too_many:
        iam.tag_user(UserName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error(too_many)[0] == "LimitExceeded"
    with pytest.raises(ClientError) as reserved:
        iam.tag_user(UserName=name, Tags=[{"Key": "aws:x", "Value": "v"}])
    assert error(reserved)[0] == "InvalidInput"
    iam.delete_user(UserName=name)


def test_account_summary_counts(iam: Any, name: str) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    iam.create_user(UserName=name)
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 1
    assert after["AccessKeysPerUserQuota"] == 2
    iam.delete_user(UserName=name)
