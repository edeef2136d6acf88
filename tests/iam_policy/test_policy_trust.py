"""sts:AssumeRole against trust policies (IAM User Guide, "Roles terms and concepts: trust
policy", "Granting a user permissions to switch roles", and the ECS Developer Guide's task
role trust policy with `ecs-tasks.amazonaws.com`)."""

from __future__ import annotations

import json
from typing import Any

from portside.iam.policy import Caller, allowed_to_assume

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def trust(principal: Any, **extra: Any) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ECS_TASKS = trust({"Service": "ecs-tasks.amazonaws.com"})
ASSUME = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE}]})  # fmt: skip


def test_the_ecs_task_service() -> None:
    assert allowed_to_assume(ECS_TASKS, service="ecs-tasks.amazonaws.com").allowed
    assert not allowed_to_assume(ECS_TASKS, service="lambda.amazonaws.com").allowed
    assert not allowed_to_assume(ECS_TASKS, ALICE).allowed


def test_a_named_user_needs_nothing_else() -> None:
    assert allowed_to_assume(trust({"AWS": ALICE}), ALICE, role_arn=ROLE).allowed
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert not allowed_to_assume(trust({"AWS": ALICE}), bob, role_arn=ROLE).allowed


def test_the_account_needs_the_users_own_allow() -> None:
    for account in (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"):
        policy = trust({"AWS": account})
        d = allowed_to_assume(policy, ALICE, role_arn=ROLE)
        assert not d.allowed and d.policy_type == "identity-based policy"
        assert allowed_to_assume(policy, ALICE, role_arn=ROLE, identity_policies=[ASSUME]).allowed
    other = trust({"AWS": "210987654321"})
    assert not allowed_to_assume(other, ALICE, role_arn=ROLE, identity_policies=[ASSUME]).allowed


def test_denies_and_conditions() -> None:
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}]})  # fmt: skip
    d = allowed_to_assume(deny, ALICE, role_arn=ROLE)
    assert d.explicit_deny and not d.allowed
    assert allowed_to_assume(deny, f"arn:aws:iam::{ACCOUNT}:user/bob", role_arn=ROLE).allowed
    # The ECS guide's confused-deputy guard: aws:SourceAccount on the task role's trust.
    guarded = trust(
        {"Service": "ecs-tasks.amazonaws.com"},
        Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    )
    ecs = "ecs-tasks.amazonaws.com"
    assert allowed_to_assume(guarded, service=ecs, context={"aws:SourceAccount": ACCOUNT}).allowed
    assert not allowed_to_assume(guarded, service=ecs, context={"aws:SourceAccount": "1"}).allowed
    # A user's own Deny of sts:AssumeRole wins over the trust policy's Allow.
    no = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "sts:*", "Resource": "*"}]})  # fmt: skip
    d = allowed_to_assume(trust({"AWS": ALICE}), ALICE, role_arn=ROLE, identity_policies=[no])
    assert d.explicit_deny


def test_a_session_of_a_named_role() -> None:
    session = Caller(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run-1",
        ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ci",
    )
    policy = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"})
    assert allowed_to_assume(policy, caller=session, role_arn=ROLE).allowed
