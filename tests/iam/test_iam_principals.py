"""What enforcement reads from IAM, in process: `principals.policies_of` (a user's inline and
attached policies and its groups' ones; a role's, and a session of it; the root and strangers
none) and `keys.lookup` (an IAM user's active key signs as the user; an inactive key, a
deleted user's or an unknown one does not)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside.api.auth import SigningKey, StaticKeyRing
from portside.iam import access_keys, groups, keys, policies, roles, users
from portside.iam.api import ACTIONS
from portside.iam.principals import identity, policies_of
from portside.ops.context import Caller, Op, World, root_principal
from portside.testing.store import sqlite_store

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
             "Action": "sts:AssumeRole"}
        ],
    }
)  # fmt: skip


def _doc(action: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = sqlite_store(tmp_path)
    yield Op(World(store=store), Caller(ACCOUNT, "us-east-1", "AK", root_principal(ACCOUNT)))
    store.close()


def _call(fn: Any, op: Op, **params: Any) -> Any:
    return fn(op, params)


def test_identity_of_arns() -> None:
    assert identity(f"arn:aws:iam::{ACCOUNT}:user/dev/alice") == (ACCOUNT, "user", "alice")
    assert identity(f"arn:aws:iam::{ACCOUNT}:role/app") == (ACCOUNT, "role", "app")
    assert identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/session-1") == (
        ACCOUNT,
        "role",
        "app",
    )
    assert identity(root_principal(ACCOUNT)) is None
    assert identity("not an arn") is None


def test_a_users_policies_include_its_groups(op: Op) -> None:
    _call(users.create_user, op, UserName="alice", Path="/dev/")
    _call(groups.create_group, op, GroupName="ops")
    _call(groups.add_user_to_group, op, GroupName="ops", UserName="alice")
    _call(ACTIONS["PutUserPolicy"], op, UserName="alice", PolicyName="own",
          PolicyDocument=json.dumps(_doc("ecs:ListClusters")))  # fmt: skip
    _call(ACTIONS["PutGroupPolicy"], op, GroupName="ops", PolicyName="team",
          PolicyDocument=json.dumps(_doc("ecs:DescribeClusters")))  # fmt: skip
    arn = _call(policies.create_policy, op, PolicyName="logs",
                PolicyDocument=json.dumps(_doc("logs:PutLogEvents")))["Policy"]["Arn"]  # fmt: skip
    _call(ACTIONS["AttachUserPolicy"], op, UserName="alice", PolicyArn=arn)
    _call(ACTIONS["AttachGroupPolicy"], op, GroupName="ops",
          PolicyArn="arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess")  # fmt: skip

    found = policies_of(op.store, f"arn:aws:iam::{ACCOUNT}:user/dev/alice")
    actions = sorted(a for doc in found for s in doc["Statement"] for a in _list(s["Action"]))
    assert actions == [
        "ecs:DescribeClusters",
        "ecs:ListClusters",
        "logs:PutLogEvents",
        "ssm:Describe*",
        "ssm:Get*",
        "ssm:List*",
    ]
    # A new default version is what counts from then on.
    _call(ACTIONS["CreatePolicyVersion"], op, PolicyArn=arn, SetAsDefault=True,
          PolicyDocument=json.dumps(_doc("logs:CreateLogStream")))  # fmt: skip
    after = policies_of(op.store, f"arn:aws:iam::{ACCOUNT}:user/dev/alice")
    assert "logs:CreateLogStream" in [s["Action"] for d in after for s in d["Statement"]]

    assert policies_of(op.store, root_principal(ACCOUNT)) == []
    assert policies_of(op.store, f"arn:aws:iam::{ACCOUNT}:user/nobody") == []


def test_a_roles_policies_and_its_sessions(op: Op) -> None:
    _call(roles.create_role, op, RoleName="app", AssumeRolePolicyDocument=TRUST)
    _call(ACTIONS["PutRolePolicy"], op, RoleName="app", PolicyName="p",
          PolicyDocument=json.dumps(_doc("s3:GetObject")))  # fmt: skip
    execution = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    _call(ACTIONS["AttachRolePolicy"], op, RoleName="app", PolicyArn=execution)
    as_role = policies_of(op.store, f"arn:aws:iam::{ACCOUNT}:role/app")
    as_session = policies_of(op.store, f"arn:aws:sts::{ACCOUNT}:assumed-role/app/task-1")
    assert as_role == as_session and len(as_role) == 2
    assert as_role[0]["Statement"][0]["Action"] == "s3:GetObject"
    assert "ecr:GetAuthorizationToken" in as_role[1]["Statement"][0]["Action"]


def test_lookup_signs_as_the_user_while_active(op: Op) -> None:
    _call(users.create_user, op, UserName="alice", Path="/dev/")
    key = _call(access_keys.create_access_key, op, UserName="alice")["AccessKey"]
    found = keys.lookup(op.store, key["AccessKeyId"])
    assert found == SigningKey(
        key["SecretAccessKey"], f"arn:aws:iam::{ACCOUNT}:user/dev/alice", ACCOUNT
    )
    ring = keys.IamKeyRing(op.store, StaticKeyRing({"ADMIN": "secret"}, ACCOUNT))
    assert ring.lookup("ADMIN") == SigningKey("secret", root_principal(ACCOUNT), ACCOUNT)
    assert ring.lookup(key["AccessKeyId"]) == found

    _call(users.update_user, op, UserName="alice", NewPath="/ops/")
    moved = keys.lookup(op.store, key["AccessKeyId"])
    assert moved is not None and moved.principal_arn.endswith(":user/ops/alice")
    assert ring.lookup(key["AccessKeyId"]) == moved

    _call(access_keys.update_access_key, op, UserName="alice", AccessKeyId=key["AccessKeyId"],
          Status="Inactive")  # fmt: skip
    assert keys.lookup(op.store, key["AccessKeyId"]) is None
    assert ring.lookup(key["AccessKeyId"]) is None  # the kept key went with the change
    assert keys.lookup(op.store, "AKIANOTAKEYATALL0000") is None
    assert ring.lookup("UNKNOWN") is None


def test_usage_is_recorded_at_most_once_an_interval(op: Op) -> None:
    from portside.iam import usage

    now = [1000.0]
    recorder = usage.UsageRecorder(op.store, lambda: now[0], interval=60)
    recorder.used("AKIAEXAMPLE000000000", "ecs", "us-east-1")
    now[0] += 10
    assert not recorder.due("AKIAEXAMPLE000000000", "ecs", "us-east-1")
    recorder.used("AKIAEXAMPLE000000000", "ecs", "us-east-1")
    assert recorder.due("AKIAEXAMPLE000000000", "logs", "us-east-1")
    with op.store.read() as tx:
        assert usage.key_last_used(tx, "AKIAEXAMPLE000000000") == {
            "LastUsedDate": 1000.0,
            "ServiceName": "ecs",
            "Region": "us-east-1",
        }
    now[0] += 60
    recorder.used("AKIAEXAMPLE000000000", "ecs", "eu-west-1")
    with op.store.read() as tx:
        assert usage.key_last_used(tx, "AKIAEXAMPLE000000000")["Region"] == "eu-west-1"


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]
