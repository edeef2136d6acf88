"""Enforcement's parts in process, on a fresh store: an agent's key (an instance role) is
refused another cluster's instances; a principal's policies are kept until IAM's tables
change, and read again on the next call after; a refusal's shape in each protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portside.errors import AccessDeniedException, NamedError
from portside.iam.api import SERVICE
from portside.iam.enforce import enforcer
from portside.iam.enforce.agents import check_instances
from portside.iam.enforce.refusal import refusal
from portside.iam.policy import Caller, Request, evaluate
from portside.ops.context import Caller as OpCaller
from portside.ops.context import Op, World
from portside.testing.store import sqlite_store
from portside.testing.world import ACCOUNT, REGION, make_op, make_world

ECS = f"arn:aws:ecs:{REGION}:{ACCOUNT}"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(sqlite_store(tmp_path))


def _user(world: World, name: str, *statements: dict[str, Any]) -> Op:
    root = make_op(world)
    arn = SERVICE.handlers["CreateUser"](root, {"UserName": name})["User"]["Arn"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    SERVICE.handlers["PutUserPolicy"](
        root, {"UserName": name, "PolicyName": "p", "PolicyDocument": policy}
    )
    return Op(world, OpCaller(ACCOUNT, REGION, "AKIAUNITTEST", arn))


def test_an_instance_role_is_refused_another_clusters_instances(world: World) -> None:
    agent = _user(
        world,
        "instance-role",
        {
            "Effect": "Allow",
            "Action": ["ecs:Poll", "ecs:Submit*"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": f"{ECS}:cluster/web"}},
        },
    )
    mine = f"{ECS}:container-instance/web/0123"
    theirs = f"{ECS}:container-instance/db/4567"
    check_instances(agent, [mine])
    with pytest.raises(AccessDeniedException) as refused:
        check_instances(agent, [mine, theirs])
    assert refused.value.message == (
        f"User: {agent.caller.principal_arn} is not authorized to perform: ecs:Poll on "
        f"resource: {theirs} because no identity-based policy allows the ecs:Poll action"
    )
    check_instances(make_op(world), [mine, theirs])  # the root serves any


def test_policies_are_kept_until_iams_tables_change(world: World) -> None:
    op = _user(world, "alice", {"Effect": "Allow", "Action": "ecs:List*", "Resource": "*"})
    enforce = enforcer(world.store)
    first = enforce.identity(op)
    assert enforce.identity(op) is first
    with world.store.transaction() as tx:  # not IAM's: nothing read again
        tx.put("clusters", f"{ECS}:cluster/x", {"clusterArn": f"{ECS}:cluster/x"})
    assert enforce.identity(op) is first
    assert enforce.decide(op, "ecs", "ListClusters", {}) is None
    SERVICE.handlers["PutUserPolicy"](
        make_op(world),
        {
            "UserName": "alice",
            "PolicyName": "p",
            "PolicyDocument": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Deny", "Action": "ecs:ListClusters", "Resource": "*"}
                    ],
                }
            ),
        },
    )
    refused = enforce.decide(op, "ecs", "ListClusters", {})
    assert refused is not None and refused[0].explicit_deny
    assert enforce.identity(op) is not first


@pytest.mark.parametrize(
    ("protocol", "code", "status"),
    [
        ("json", "AccessDeniedException", 400),
        ("smithy-rpc-v2-cbor", "AccessDeniedException", 400),
        ("rest-json", "AccessDeniedException", 403),
        ("query", "AccessDenied", 403),
        ("ec2", "UnauthorizedOperation", 403),
    ],
)
def test_a_refusal_in_each_protocol(protocol: str, code: str, status: int) -> None:
    caller = Caller(f"arn:aws:iam::{ACCOUNT}:user/bob", ACCOUNT, user_name="bob")
    decision = evaluate(Request.of("ec2:DescribeVpcs", caller), [])
    error = refusal(protocol, decision)
    assert isinstance(error, NamedError)
    assert (error.code, error.status) == (code, status)
    reason = "because no identity-based policy allows the ec2:DescribeVpcs action"
    if protocol == "ec2":
        assert error.message == (
            "You are not authorized to perform this operation. User: "
            f"arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: ec2:DescribeVpcs "
            + reason
        )
    else:
        assert error.message == decision.message() and error.message.endswith(reason)
