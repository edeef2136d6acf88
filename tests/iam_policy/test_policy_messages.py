"""A refusal in AWS's words (IAM User Guide, "Troubleshoot access denied error messages":
`User: <arn> is not authorized to perform: <action> on resource: <arn> because no
<type> policy allows the <action> action` / `... with an explicit deny in a <type>
policy`), as ECS answers them, e.g. LBHackney-IT/Data-Platform#1818 (`... ecs:RunTask on
resource: arn:aws:ecs:eu-west-2:...:task-definition/a_test_task:9 because no identity-based
policy allows the ecs:RunTask action`) and cdklabs/construct-hub#1207 (`... ecs:ListTasks on
resource: * because ...`)."""

from __future__ import annotations

import json

from portside.iam.policy import Caller, Request, evaluate

ACCOUNT = "123456789012"
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, user_name="alice")
TD = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:9"


def doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ = doc({"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*"})


def test_implicit_deny() -> None:
    d = evaluate(Request.of("ecs:RunTask", ALICE, [TD]), [READ])
    assert d.message() == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: ecs:RunTask "
        f"on resource: {TD} because no identity-based policy allows the ecs:RunTask action"
    )


def test_no_resource_reads_star() -> None:
    d = evaluate(Request.of("ecs:ListTasks", ALICE), [])
    assert d.message() == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: ecs:ListTasks "
        "on resource: * because no identity-based policy allows the ecs:ListTasks action"
    )


def test_explicit_deny() -> None:
    deny = doc({"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*"})
    d = evaluate(Request.of("ecs:RunTask", ALICE, [TD]), [READ, deny])
    assert d.message() == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: ecs:RunTask "
        f"on resource: {TD} with an explicit deny in an identity-based policy"
    )


def test_other_policy_types() -> None:
    allow_all = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    request = Request.of("ecs:RunTask", ALICE, [TD])
    assert (
        evaluate(request, [allow_all], boundary=READ)
        .message()
        .endswith("because no permissions boundary allows the ecs:RunTask action")
    )
    assert (
        evaluate(request, [allow_all], session_policies=[READ])
        .message()
        .endswith("because no session policy allows the ecs:RunTask action")
    )
    bucket = doc({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"})
    assert (
        evaluate(request, [allow_all], resource_policy=bucket)
        .message()
        .endswith("with an explicit deny in a resource-based policy")
    )


def test_an_assumed_role_is_a_user_too() -> None:
    # AWS words a role session's refusal with "User:" and the session's ARN.
    session = Caller(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/app/task-1",
        ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/app",
    )
    d = evaluate(Request.of("ecs:ListClusters", session), [])
    assert d.message().startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app/task-1 is not authorized to perform: "
        "ecs:ListClusters on resource: *"
    )


def test_the_denying_policy_arn_on_request() -> None:
    # Since 2026 AWS adds the denying policy's ARN (AWS Security Blog, "Enhanced access
    # denied error messages with policy ARNs"); the caller chooses.
    from portside.iam.policy import compile_policy

    arn = f"arn:aws:iam::{ACCOUNT}:policy/NoRun"
    deny = compile_policy(
        doc({"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*"}), arn=arn
    )
    d = evaluate(Request.of("ecs:RunTask", ALICE, [TD]), [deny])
    assert d.message(with_policy_arn=True).endswith(
        f"with an explicit deny in an identity-based policy: {arn}"
    )
    assert d.message().endswith("with an explicit deny in an identity-based policy")
    assert d.statement is not None and d.statement.policy_arn == arn
