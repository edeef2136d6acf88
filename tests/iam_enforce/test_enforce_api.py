"""Enforcement at the edge, through boto3 against a running server: every call of an IAM
user is evaluated against its policies before it runs, and a refusal is AWS's in each
protocol (ECS's JSON AccessDeniedException, HTTP 400; a query service's AccessDenied, HTTP
403; EC2's UnauthorizedOperation, HTTP 403, with its encoded message that STS decodes).
Explicit Deny wins, a policy change applies from the next call, iam:PassRole is asked where
ECS asks it, and SimulatePrincipalPolicy gives the decisions enforcement makes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aws_query import query_client
from botocore.config import Config
from botocore.exceptions import ClientError
from enforce_users import ACCOUNT, User, allow, deny, document, refusal
from harness import REGION, ServerProcess

ECS = f"arn:aws:ecs:{REGION}:{ACCOUNT}"


def _cluster_only(cluster: str) -> str:
    """ecs:Describe* and ecs:List* on one cluster and what is in it, nothing else."""
    arn = f"{ECS}:cluster/{cluster}"
    inside = [arn] + [
        f"{ECS}:{kind}/{cluster}/*" for kind in ("task", "service", "container-instance")
    ]
    return document(
        allow(["ecs:Describe*", "ecs:List*"], inside),
        allow("ecs:List*", "*", Condition={"ArnEquals": {"ecs:cluster": arn}}),
    )


def _definition(ecs: Any, family: str, **extra: Any) -> str:
    return str(
        ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}],
            **extra,
        )["taskDefinition"]["taskDefinitionArn"]
    )


def test_describe_and_list_one_cluster_but_not_run_task(
    ecs: Any, make_user: Callable[..., User], name: str
) -> None:
    ecs.create_cluster(clusterName=name)
    ecs.create_cluster(clusterName=name + "-other")
    definition = _definition(ecs, name)
    user = make_user(_cluster_only(name))
    mine = user.client("ecs")

    found = mine.describe_clusters(clusters=[name])["clusters"]
    assert [c["clusterName"] for c in found] == [name]
    assert mine.list_tasks(cluster=name)["taskArns"] == []
    assert mine.list_services(cluster=name)["serviceArns"] == []
    assert mine.list_container_instances(cluster=name)["containerInstanceArns"] == []

    with pytest.raises(ClientError) as run:
        mine.run_task(cluster=name, taskDefinition=name)  # by family: its latest revision
    assert refusal(run) == (
        "AccessDeniedException",
        user.not_authorized("ecs:RunTask", definition),
        400,
    )
    with pytest.raises(ClientError) as other:
        mine.describe_clusters(clusters=[name + "-other"])
    assert refusal(other) == (
        "AccessDeniedException",
        user.not_authorized("ecs:DescribeClusters", f"{ECS}:cluster/{name}-other"),
        400,
    )
    with pytest.raises(ClientError) as listing:
        mine.list_tasks(cluster=name + "-other")
    assert refusal(listing)[1] == user.not_authorized("ecs:ListTasks", "*")
    with pytest.raises(ClientError) as clusters:
        mine.list_clusters()  # ListClusters has no resource: "*", which no statement names
    assert refusal(clusters)[1] == user.not_authorized("ecs:ListClusters", "*")


def test_query_services_answer_access_denied(
    server: ServerProcess, make_user: Callable[..., User]
) -> None:
    user = make_user(document(allow("ecs:ListClusters")))
    # GetCallerIdentity needs no permission.
    assert user.client("sts").get_caller_identity()["Arn"] == user.arn
    with pytest.raises(ClientError) as elb:
        user.client("elbv2").describe_load_balancers()
    action = "elasticloadbalancing:DescribeLoadBalancers"
    assert refusal(elb) == ("AccessDenied", user.not_authorized(action, "*"), 403)
    with pytest.raises(ClientError) as iam:
        user.client("iam").list_users()
    assert refusal(iam) == ("AccessDenied", user.not_authorized("iam:ListUsers", "*"), 403)
    # CloudWatch speaks CBOR to botocore, with query's codes (awsQueryCompatible).
    with pytest.raises(ClientError) as metrics:
        user.client("cloudwatch").list_metrics()
    action = "cloudwatch:ListMetrics"
    assert refusal(metrics) == ("AccessDenied", user.not_authorized(action, "*"), 403)


def test_ec2_answers_unauthorized_operation_with_an_encoded_message(
    server: ServerProcess, make_user: Callable[..., User]
) -> None:
    user = make_user(document(allow("ecs:ListClusters")))
    ec2 = user.client("ec2")
    with pytest.raises(ClientError) as described:
        ec2.describe_vpcs()
    code, message, status = refusal(described)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert message == (
        f"You are not authorized to perform this operation. User: {user.arn} is not "
        "authorized to perform: ec2:DescribeVpcs because no identity-based policy allows the "
        "ec2:DescribeVpcs action"
    )
    with pytest.raises(ClientError) as created:
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    code, message, status = refusal(created)
    assert (code, status) == ("UnauthorizedOperation", 403)
    head, _, encoded = message.partition(". Encoded authorization failure message: ")
    assert head == "You are not authorized to perform this operation. " + user.not_authorized(
        "ec2:CreateVpc", "*"
    )
    decoded = json.loads(
        query_client(server, "sts").decode_authorization_message(EncodedMessage=encoded)[
            "DecodedMessage"
        ]
    )
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["principal"]["arn"] == user.arn
    assert decoded["context"]["action"] == "ec2:CreateVpc"


def test_explicit_deny_wins(ecs: Any, make_user: Callable[..., User], name: str) -> None:
    ecs.create_cluster(clusterName=name)
    user = make_user(document(allow("ecs:*"), deny("ecs:DeleteCluster", f"{ECS}:cluster/{name}")))
    mine = user.client("ecs")
    assert name in str(mine.describe_clusters(clusters=[name]))
    with pytest.raises(ClientError) as refused:
        mine.delete_cluster(cluster=name)
    assert refusal(refused) == (
        "AccessDeniedException",
        f"User: {user.arn} is not authorized to perform: ecs:DeleteCluster on resource: "
        f"{ECS}:cluster/{name} with an explicit deny in an identity-based policy",
        400,
    )
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "ACTIVE"


def test_a_policy_change_applies_on_the_next_call(
    iam: Any, make_user: Callable[..., User], name: str
) -> None:
    user = make_user(document(allow("ecs:ListClusters")))
    mine = user.client("ecs")
    mine.list_clusters()
    user.set_policy(document(allow("ecs:DescribeClusters")))
    with pytest.raises(ClientError) as refused:
        mine.list_clusters()
    assert refusal(refused)[0] == "AccessDeniedException"
    # Through a group, and a managed policy attached to it.
    group = iam.create_group(GroupName=name)["Group"]["GroupName"]
    arn = iam.create_policy(PolicyName=name, PolicyDocument=document(allow("ecs:List*")))["Policy"][
        "Arn"
    ]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.add_user_to_group(GroupName=group, UserName=user.name)
    try:
        mine.list_clusters()
    finally:
        iam.detach_group_policy(GroupName=group, PolicyArn=arn)
        iam.remove_user_from_group(GroupName=group, UserName=user.name)
        iam.delete_policy(PolicyArn=arn)
        iam.delete_group(GroupName=group)
    with pytest.raises(ClientError):
        mine.list_clusters()


def test_pass_role_is_asked_for_a_task_definitions_roles(
    ecs: Any, make_user: Callable[..., User], name: str
) -> None:
    allowed = f"arn:aws:iam::{ACCOUNT}:role/{name}-app"
    other = f"arn:aws:iam::{ACCOUNT}:role/{name}-admin"
    user = make_user(
        document(
            allow("ecs:RegisterTaskDefinition"),
            allow(
                "iam:PassRole",
                allowed,
                Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        )
    )
    mine = user.client("ecs")
    arn = _definition(mine, name, taskRoleArn=allowed)
    assert arn.endswith(f"task-definition/{name}:1")
    with pytest.raises(ClientError) as refused:
        _definition(mine, name, taskRoleArn=allowed, executionRoleArn=other)
    assert refusal(refused) == (
        "AccessDeniedException",
        user.not_authorized("iam:PassRole", other),
        400,
    )
    # Nothing was registered by the refused call.
    assert ecs.list_task_definitions(familyPrefix=name)["taskDefinitionArns"] == [arn]


def test_simulate_principal_policy_agrees(
    ecs: Any, iam: Any, make_user: Callable[..., User], name: str
) -> None:
    ecs.create_cluster(clusterName=name)
    user = make_user(
        document(
            allow("ecs:Describe*", f"{ECS}:cluster/{name}"),
            allow("ecs:*", "*"),
            deny("ecs:DeleteCluster", "*"),
        )
    )
    cluster = f"{ECS}:cluster/{name}"
    simulated = iam.simulate_principal_policy(
        PolicySourceArn=user.arn,
        ActionNames=["ecs:DescribeClusters", "ecs:DeleteCluster", "s3:GetObject"],
        ResourceArns=[cluster],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in simulated}
    assert decisions == {
        "ecs:DescribeClusters": "allowed",
        "ecs:DeleteCluster": "explicitDeny",
        "s3:GetObject": "implicitDeny",
    }
    assert simulated[1]["MatchedStatements"] == [
        {"SourcePolicyId": "main", "SourcePolicyType": "user"}
    ]
    mine = user.client("ecs")
    mine.describe_clusters(clusters=[name])  # allowed, as simulated
    with pytest.raises(ClientError) as refused:
        mine.delete_cluster(cluster=name)
    assert "with an explicit deny" in refusal(refused)[1]

    custom = iam.simulate_custom_policy(
        PolicyInputList=[document(allow("ecs:RunTask", "*"))],
        ActionNames=["ecs:RunTask", "ecs:StopTask"],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in custom] == [
        ("ecs:RunTask", "allowed"),
        ("ecs:StopTask", "implicitDeny"),
    ]


def test_a_role_session_has_its_roles_permissions(
    iam: Any, make_user: Callable[..., User], name: str
) -> None:
    user = make_user(document(allow("sts:AssumeRole")))
    trust = document(
        {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole"}
    )
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(
        RoleName=name, PolicyName="list", PolicyDocument=document(allow("ecs:ListClusters"))
    )
    try:
        creds = user.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")[
            "Credentials"
        ]
        session = boto3.client(
            "ecs",
            endpoint_url=user.server.endpoint,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(retries={"max_attempts": 1}),
        )
        session.list_clusters()
        with pytest.raises(ClientError) as refused:
            session.describe_clusters(clusters=["default"])
        assert refusal(refused)[1] == (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1 is not authorized to perform: "
            f"ecs:DescribeClusters on resource: {ECS}:cluster/default because no "
            "identity-based policy allows the ecs:DescribeClusters action"
        )
        with pytest.raises(ClientError):
            user.client("ecs").list_clusters()  # the user itself may not
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="list")
        iam.delete_role(RoleName=name)


def test_simulate_principal_policy_for_a_group_and_its_errors(iam: Any, name: str) -> None:
    group = iam.create_group(GroupName=name)["Group"]
    iam.put_group_policy(
        GroupName=name, PolicyName="logs", PolicyDocument=document(allow("logs:*"))
    )
    try:
        found = iam.simulate_principal_policy(
            PolicySourceArn=group["Arn"],
            ActionNames=["logs:PutLogEvents", "ecs:ListClusters"],
            PolicyInputList=[document(allow("ecs:ListClusters"))],
        )["EvaluationResults"]
        assert [(r["EvalDecision"], r["MatchedStatements"]) for r in found] == [
            ("allowed", [{"SourcePolicyId": "logs", "SourcePolicyType": "group"}]),
            ("allowed", [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none"}]),
        ]
        with pytest.raises(ClientError) as missing:
            iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{name}-nobody",
                ActionNames=["ecs:ListClusters"],
            )
        assert refusal(missing) == (
            "NoSuchEntity",
            f"The user with name {name}-nobody cannot be found.",
            404,
        )
        with pytest.raises(ClientError) as bad:
            iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/x",
                ActionNames=["ecs:ListClusters"],
            )
        assert refusal(bad)[0] == "InvalidInput"
    finally:
        iam.delete_group_policy(GroupName=name, PolicyName="logs")
        iam.delete_group(GroupName=name)


def test_source_ip_conditions_see_the_callers_address(make_user: Callable[..., User]) -> None:
    """aws:SourceIp is the address the request came from (here loopback): IpAddress on it
    admits this client, on another network it does not."""
    here = {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}
    user = make_user(document(allow("ecs:ListClusters", Condition=here)))
    mine = user.client("ecs")
    mine.list_clusters()
    user.set_policy(
        document(allow("ecs:ListClusters", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    )
    with pytest.raises(ClientError) as refused:
        mine.list_clusters()
    assert refusal(refused)[0] == "AccessDeniedException"
