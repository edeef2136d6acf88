"""IAM roles and instance profiles through boto3: trust policies checked as IAM checks them
and answered URL-encoded as IAM answers them (botocore decodes them into dicts), updates,
tags, paths, and the conflicts that keep a role in use from being deleted."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from iam_clients import ACCOUNT, error

TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _raw_bodies(client: Any) -> list[bytes]:
    """The XML bodies of the client's answers, as they came off the wire."""
    bodies: list[bytes] = []
    client.meta.events.register(
        "after-call.iam", lambda http_response, **_: bodies.append(http_response.content)
    )
    return bodies


def test_role_lifecycle(iam: Any, name: str) -> None:
    text = json.dumps(TRUST, indent=2)
    role = iam.create_role(
        RoleName=name,
        Path="/ecs/",
        AssumeRolePolicyDocument=text,
        Description="task role",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "a"}],
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ecs/{name}"
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == TRUST
    got = iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "task role"
    assert got["RoleLastUsed"] == {} and got["Tags"] == [{"Key": "team", "Value": "a"}]

    listed = iam.list_roles(PathPrefix="/ecs/")["Roles"]
    assert name in [r["RoleName"] for r in listed]
    assert all(r["Path"] == "/ecs/" for r in listed)
    assert name not in [r["RoleName"] for r in iam.list_roles(PathPrefix="/other/")["Roles"]]

    iam.update_role(RoleName=name, Description="changed", MaxSessionDuration=3600)
    updated = iam.update_role_description(RoleName=name, Description="again")["Role"]
    assert updated["Description"] == "again" and updated["MaxSessionDuration"] == 3600
    with pytest.raises(ClientError) as too_long:
        iam.update_role(RoleName=name, MaxSessionDuration=43201)
    assert error(too_long)[0] == "ValidationError"

    ec2 = {
        **TRUST,
        "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}],
    }
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(ec2))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == ec2

    with pytest.raises(ClientError) as dup:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=text)
    assert error(dup) == (
        "EntityAlreadyExists",
        f"Role with name {name.upper()} already exists.",
        409,
    )
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as gone:
        iam.get_role(RoleName=name)
    assert error(gone) == ("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def test_trust_policy_is_answered_url_encoded(iam: Any, name: str) -> None:
    bodies = _raw_bodies(iam)
    text = json.dumps(TRUST, indent=2)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=text)
    iam.get_role(RoleName=name)
    body = bodies[-1].decode()
    encoded = body.split("<AssumeRolePolicyDocument>")[1].split("</AssumeRolePolicyDocument>")[0]
    assert encoded.startswith("%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22")
    assert unquote(encoded) == text  # the text as sent, white space and all
    iam.delete_role(RoleName=name)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "Syntax errors in policy."),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
            },
            None,
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "s3:GetObject",
                    }
                ],
            },
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Resource": "*",
                    }
                ],
            },
            "Has prohibited field Resource",
        ),
    ],
)
def test_bad_trust_policies_are_malformed(
    iam: Any, name: str, document: Any, message: str | None
) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(ClientError) as bad:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=text)
    code, said, status = error(bad)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    if message is not None:
        assert said == message
    with pytest.raises(ClientError) as absent:
        iam.get_role(RoleName=name)
    assert error(absent)[0] == "NoSuchEntity"


def test_trust_policy_size_quota(iam: Any, name: str) -> None:
    statement = TRUST["Statement"][0]
    many = {
        "Version": "2012-10-17",
        "Statement": [{**statement, "Sid": f"S{i}"} for i in range(40)],
    }
    with pytest.raises(ClientError) as big:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(many))
    assert error(big) == ("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409)


def test_instance_profiles(iam: Any, name: str) -> None:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName=name + "b", AssumeRolePolicyDocument=json.dumps(TRUST))
    profile = iam.create_instance_profile(InstanceProfileName=name, Path="/hosts/")
    assert (
        profile["InstanceProfile"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/hosts/{name}"
    )
    assert profile["InstanceProfile"]["InstanceProfileId"].startswith("AIPA")
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    with pytest.raises(ClientError) as full:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name + "b")
    assert error(full) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
        409,
    )
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [name]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    for_role = iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == [name]
    hosts = iam.list_instance_profiles(PathPrefix="/hosts/")["InstanceProfiles"]
    assert name in [p["InstanceProfileName"] for p in hosts]

    with pytest.raises(ClientError) as in_profile:
        iam.delete_role(RoleName=name)
    assert error(in_profile) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
        409,
    )
    with pytest.raises(ClientError) as holding:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert error(holding)[0] == "DeleteConflict"
    with pytest.raises(ClientError) as dup:
        iam.create_instance_profile(InstanceProfileName=name)
    assert error(dup) == ("EntityAlreadyExists", f"Instance Profile {name} already exists.", 409)

    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    iam.delete_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as gone:
        iam.get_instance_profile(InstanceProfileName=name)
    assert error(gone) == ("NoSuchEntity", f"Instance Profile {name} cannot be found.", 404)
    iam.delete_role(RoleName=name)
    iam.delete_role(RoleName=name + "b")


def test_role_tags(iam: Any, name: str) -> None:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.tag_role(RoleName=name, Tags=[{"Key": "env", "Value": "prod"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.untag_role(RoleName=name, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == []
    with pytest.raises(ClientError) as missing:
        iam.tag_role(RoleName=name + "x", Tags=[{"Key": "env", "Value": "prod"}])
    assert error(missing)[0] == "NoSuchEntity"
    iam.delete_role(RoleName=name)
