"""Managed and inline policies through boto3: customer managed policies and their versions
(five at most, the default never deleted), attachments to users, groups and roles
(AttachmentCount, ListEntitiesForPolicy, the conflicts that keep an attached policy), the AWS
managed policies every account has, inline policies with IAM's size quotas, and the
MalformedPolicyDocument answers for documents IAM would refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_clients import ACCOUNT, error

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
             "Action": "sts:AssumeRole"}
        ],
    }
)  # fmt: skip


def _policy(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
    }


AWS_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    "arn:aws:iam::aws:policy/AmazonECS_FullAccess",
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceRole",
    "arn:aws:iam::aws:policy/aws-service-role/AmazonECSServiceRolePolicy",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
    "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
    "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}


def test_managed_policy_and_versions(iam: Any, name: str) -> None:
    v1 = _policy("logs:PutLogEvents")
    made = iam.create_policy(
        PolicyName=name,
        Path="/app/",
        PolicyDocument=json.dumps(v1),
        Description="write logs",
        Tags=[{"Key": "team", "Value": "a"}],
    )["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/app/{name}"
    assert made["Arn"] == arn and made["DefaultVersionId"] == "v1"
    assert made["AttachmentCount"] == 0 and made["IsAttachable"] is True
    assert made["PolicyId"].startswith("ANPA")
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "write logs"
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == v1 and version["IsDefaultVersion"] is True

    for i in range(2, 6):
        iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(_policy(f"logs:Action{i}"))
        )
    with pytest.raises(ClientError) as sixth:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v1))
    code, message, status = error(sixth)
    assert (code, status) == ("LimitExceeded", 409)
    assert message.startswith("A managed policy can have up to 5 versions.")
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]

    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    with pytest.raises(ClientError) as default:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(default) == (
        "DeleteConflict",
        "Cannot delete the default version of a policy.",
        409,
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    made6 = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(v1), SetAsDefault=True
    )["PolicyVersion"]
    assert made6["VersionId"] == "v6" and made6["IsDefaultVersion"] is True  # never reused
    with pytest.raises(ClientError) as missing:
        iam.get_policy_version(PolicyArn=arn, VersionId="v1")
    assert error(missing)[0] == "NoSuchEntity"

    with pytest.raises(ClientError) as versions_left:
        iam.delete_policy(PolicyArn=arn)
    assert error(versions_left)[0] == "DeleteConflict"
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as gone:
        iam.get_policy(PolicyArn=arn)
    assert error(gone) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_duplicate_policy_name_whatever_the_path(iam: Any, name: str) -> None:
    iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(_policy("s3:GetObject")))
    with pytest.raises(ClientError) as dup:
        iam.create_policy(
            PolicyName=name, Path="/x/", PolicyDocument=json.dumps(_policy("s3:GetObject"))
        )
    assert error(dup) == (
        "EntityAlreadyExists",
        f"A policy called {name} already exists. Duplicate names are not allowed.",
        409,
    )
    iam.delete_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{name}")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-17"}), "Syntax errors in policy."),
        (
            json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
            "Policy statement must contain actions.",
        ),
        (
            json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
            "Policy statement must contain resources.",
        ),
        (
            json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Action": "s3:GetObject", "Resource": "*"}]}),
            None,
        ),
        (
            json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}]}),
            "Policy document should not specify a principal.",
        ),
        (
            json.dumps(_policy("GetObject")),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
    ],
)  # fmt: skip
def test_malformed_documents(iam: Any, name: str, document: str, message: str | None) -> None:
    with pytest.raises(ClientError) as bad:
        iam.create_policy(PolicyName=name, PolicyDocument=document)
    code, said, status = error(bad)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    if message is not None:
        assert said == message
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as inline:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    assert error(inline)[0] == "MalformedPolicyDocument"
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []
    iam.delete_user(UserName=name)


def test_policy_size_quota(iam: Any, name: str) -> None:
    big = _policy(*(f"s3:Action{i:04d}" for i in range(400)))
    with pytest.raises(ClientError) as refused:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(big))
    assert error(refused) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)


def test_attachments(iam: Any, name: str) -> None:
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(_policy("ecs:List*")))[
        "Policy"
    ]["Arn"]
    iam.create_user(UserName=name)
    iam.create_group(GroupName=name)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    iam.attach_user_policy(UserName=name, PolicyArn=arn)  # twice: one attachment
    iam.attach_group_policy(GroupName=name, PolicyArn=arn)
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    execution = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    iam.attach_role_policy(RoleName=name, PolicyArn=execution)

    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == [
        {"PolicyName": name, "PolicyArn": arn}
    ]
    role_policies = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in role_policies} == {arn, execution}
    only_service_role = iam.list_attached_role_policies(RoleName=name, PathPrefix="/service-role/")
    assert [p["PolicyArn"] for p in only_service_role["AttachedPolicies"]] == [execution]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [name]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [name]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [name]
    roles_only = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert roles_only["PolicyUsers"] == [] and len(roles_only["PolicyRoles"]) == 1
    attached = iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert arn in [p["Arn"] for p in attached]

    with pytest.raises(ClientError) as in_use:
        iam.delete_policy(PolicyArn=arn)
    assert error(in_use) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    with pytest.raises(ClientError) as user_in_use:
        iam.delete_user(UserName=name)
    assert error(user_in_use) == (
        "DeleteConflict",
        "Cannot delete entity, must detach all policies first.",
        409,
    )
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{name}-missing"
    with pytest.raises(ClientError) as nothing:
        iam.attach_user_policy(UserName=name, PolicyArn=missing)
    assert error(nothing) == (
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
        404,
    )
    with pytest.raises(ClientError) as service_role:
        iam.attach_role_policy(
            RoleName=name,
            PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AmazonECSServiceRolePolicy",
        )
    assert error(service_role)[0] == "PolicyNotAttachable"

    iam.detach_user_policy(UserName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as detached:
        iam.detach_user_policy(UserName=name, PolicyArn=arn)
    assert error(detached) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)
    iam.detach_group_policy(GroupName=name, PolicyArn=arn)
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.detach_role_policy(RoleName=name, PolicyArn=execution)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName=name)
    iam.delete_group(GroupName=name)
    iam.delete_role(RoleName=name)


def test_ten_managed_policies_per_role(iam: Any, name: str) -> None:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    arns = sorted(a for a in AWS_MANAGED if "aws-service-role" not in a)[:11]
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as eleventh:
        iam.attach_role_policy(RoleName=name, PolicyArn=arns[10])
    assert error(eleventh) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", 409)
    for arn in arns[:10]:
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_role(RoleName=name)


def test_aws_managed_policies_are_in_every_account(iam: Any) -> None:
    pages = iam.get_paginator("list_policies").paginate(Scope="AWS")
    listed = {p["Arn"]: p for p in pages.build_full_result()["Policies"]}
    assert set(listed) >= AWS_MANAGED
    execution = listed["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    assert execution["Path"] == "/service-role/" and execution["DefaultVersionId"] == "v1"
    document = iam.get_policy_version(PolicyArn=execution["Arn"], VersionId="v1")
    assert document["PolicyVersion"]["Document"]["Statement"][0]["Action"] == [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    admin = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    got = iam.get_policy_version(PolicyArn=admin["Arn"], VersionId=admin["DefaultVersionId"])
    assert got["PolicyVersion"]["Document"]["Statement"] == [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}
    ]
    with pytest.raises(ClientError) as no_such:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchManagedPolicy")
    assert error(no_such)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as unchangeable:
        iam.delete_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert error(unchangeable)[0] == "InvalidInput"


def test_inline_policies(iam: Any, name: str) -> None:
    document = _policy("s3:GetObject", resource="arn:aws:s3:::bucket/*")
    iam.create_user(UserName=name)
    iam.create_group(GroupName=name)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(document))
    iam.put_group_policy(GroupName=name, PolicyName="read", PolicyDocument=json.dumps(document))
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps(document))
    got = iam.get_user_policy(UserName=name, PolicyName="read")
    assert got["PolicyDocument"] == document and got["UserName"] == name
    assert iam.get_group_policy(GroupName=name, PolicyName="read")["PolicyDocument"] == document
    assert iam.get_role_policy(RoleName=name, PolicyName="read")["PolicyDocument"] == document
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["read"]

    with pytest.raises(ClientError) as user_in_use:
        iam.delete_user(UserName=name)
    assert error(user_in_use) == (
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
        409,
    )
    with pytest.raises(ClientError) as missing:
        iam.get_role_policy(RoleName=name, PolicyName="write")
    assert error(missing) == (
        "NoSuchEntity",
        "The role policy with name write cannot be found.",
        404,
    )

    big = _policy(*(f"s3:Action{i:03d}" for i in range(150)))
    with pytest.raises(ClientError) as too_big:
        iam.put_user_policy(UserName=name, PolicyName="big", PolicyDocument=json.dumps(big))
    assert error(too_big) == (
        "LimitExceeded",
        f"Maximum policy size of 2048 bytes exceeded for user {name}",
        409,
    )
    iam.put_role_policy(RoleName=name, PolicyName="big", PolicyDocument=json.dumps(big))

    iam.delete_user_policy(UserName=name, PolicyName="read")
    iam.delete_group_policy(GroupName=name, PolicyName="read")
    for policy in ("read", "big"):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_user(UserName=name)
    iam.delete_group(GroupName=name)
    iam.delete_role(RoleName=name)


def test_policy_tags(iam: Any, name: str) -> None:
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(_policy("s3:GetObject")))[
        "Policy"
    ]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "1"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == []
    iam.delete_policy(PolicyArn=arn)
