"""Policy variables (IAM User Guide, "IAM policy elements: Variables and tags"): filled in
from the request in Resource and condition values of a 2012-10-17 document, read as plain
text in an older one; `${*}`, `${?}`, `${$}` stand for the characters; a default after a
comma; a variable with no value makes the element it sits in match nothing."""

from __future__ import annotations

import json
from typing import Any

from portside.iam.policy import Caller, Request, Target, evaluate

ACCOUNT = "123456789012"
ALICE = Caller(
    f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, user_name="alice", user_id="AIDAALICE",
    tags={"team": "blue"},
)  # fmt: skip
ROLE = Caller(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/app/i-1", ACCOUNT, user_id="AROAAPP:i-1",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/app",
)  # fmt: skip


def policy(statement: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": [statement]})


def allowed(text: str, who: Caller, action: str, resource: str | Target, **context: Any) -> bool:
    return evaluate(Request.of(action, who, [resource], context), [text]).allowed


def param(name: str) -> str:
    return f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{name}"


HOME = policy(
    {
        "Effect": "Allow",
        "Action": "ssm:GetParameter",
        "Resource": f"arn:aws:ssm:*:{ACCOUNT}:parameter/home/${{aws:username}}/*",
    }
)


def test_username_fills_the_resource() -> None:
    # The User Guide's own example: a folder named after the user.
    assert allowed(HOME, ALICE, "ssm:GetParameter", param("home/alice/db"))
    assert not allowed(HOME, ALICE, "ssm:GetParameter", param("home/bob/db"))


def test_no_value_matches_nothing() -> None:
    # A role session has no aws:username: the resource cannot be built, nothing matches.
    assert not allowed(HOME, ROLE, "ssm:GetParameter", param("home//db"))
    assert not allowed(HOME, ROLE, "ssm:GetParameter", param("home/${aws:username}/db"))


def test_an_old_document_reads_variables_as_text() -> None:
    old = policy(json.loads(HOME)["Statement"][0], version="2008-10-17")
    assert not allowed(old, ALICE, "ssm:GetParameter", param("home/alice/db"))
    assert allowed(old, ALICE, "ssm:GetParameter", param("home/${aws:username}/db"))


def test_a_default_stands_in_for_a_missing_value() -> None:
    # The User Guide's example: ${aws:PrincipalTag/team, 'company-wide'}.
    text = policy({"Effect": "Allow", "Action": "ssm:GetParameter",
                   "Resource": param("${aws:PrincipalTag/team, 'company-wide'}/*")})  # fmt: skip
    assert allowed(text, ALICE, "ssm:GetParameter", param("blue/x"))
    assert allowed(text, ROLE, "ssm:GetParameter", param("company-wide/x"))
    assert not allowed(text, ROLE, "ssm:GetParameter", param("blue/x"))


def test_escapes_are_the_characters_not_wildcards() -> None:
    text = policy({"Effect": "Allow", "Action": "ssm:GetParameter",
                   "Resource": param("literal${*}star")})  # fmt: skip
    assert allowed(text, ALICE, "ssm:GetParameter", param("literal*star"))
    assert not allowed(text, ALICE, "ssm:GetParameter", param("literalXstar"))
    dollar = policy({"Effect": "Allow", "Action": "ssm:GetParameter",
                     "Resource": param("cost${$}${?}")})  # fmt: skip
    assert allowed(dollar, ALICE, "ssm:GetParameter", param("cost$?"))
    assert not allowed(dollar, ALICE, "ssm:GetParameter", param("cost$x"))


def test_a_value_is_taken_literally() -> None:
    # A tag value holding a wildcard is not a wildcard once filled in.
    starry = Caller(ALICE.arn, ACCOUNT, user_name="alice", tags={"team": "*"})
    text = policy({"Effect": "Allow", "Action": "ssm:GetParameter",
                   "Resource": param("${aws:PrincipalTag/team}/*")})  # fmt: skip
    assert allowed(text, starry, "ssm:GetParameter", param("*/x"))
    assert not allowed(text, starry, "ssm:GetParameter", param("blue/x"))


def test_variables_in_condition_values() -> None:
    like = policy(
        {
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:RequestTag/owner": "${aws:username}-*"}},
        }
    )
    assert allowed(like, ALICE, "ecs:TagResource", "*", **{"aws:RequestTag/owner": "alice-1"})
    assert not allowed(like, ALICE, "ecs:TagResource", "*", **{"aws:RequestTag/owner": "bob-1"})
    # With no value the condition fails, negated operator or not.
    neg = policy(
        {
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestTag/owner": "${aws:username}"}},
        }
    )
    assert allowed(neg, ALICE, "ecs:TagResource", "*", **{"aws:RequestTag/owner": "bob"})
    assert not allowed(neg, ROLE, "ecs:TagResource", "*", **{"aws:RequestTag/owner": "bob"})
    arn = policy(
        {
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": "*",
            "Condition": {
                "ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/${aws:PrincipalTag/team}-*"}
            },
        }
    )
    ok = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/blue-1"
    assert allowed(arn, ALICE, "ecs:RunTask", "*", **{"ecs:cluster": ok})
    assert not allowed(arn, ALICE, "ecs:RunTask", "*", **{"ecs:cluster": ok.replace("blue", "red")})


def test_a_not_resource_with_no_value_does_not_apply() -> None:
    # Deny everything but the user's own folder: a session with no user name is not denied
    # by a statement that cannot say what it spares.
    text = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ssm:*", "NotResource": param("home/${aws:username}/*")},
    ]})  # fmt: skip
    assert allowed(text, ALICE, "ssm:GetParameter", param("home/alice/x"))
    assert not allowed(text, ALICE, "ssm:GetParameter", param("home/bob/x"))
    assert allowed(text, ROLE, "ssm:GetParameter", param("home/bob/x"))
