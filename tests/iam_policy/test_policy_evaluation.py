"""Policy evaluation, case by case, from AWS's documentation of the evaluation logic
(IAM User Guide: "Policy evaluation logic", "Determining whether a request is allowed or
denied within an account", "The difference between explicit and implicit denies",
"Permissions boundaries for IAM entities", "Session policies", "IAM JSON policy elements:
Action / NotAction / Resource / NotResource"). Each case says where it comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from portside.iam.policy import Caller, Request, Target, evaluate

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def caller(**kw: Any) -> Caller:
    base: dict[str, Any] = {
        "arn": ALICE, "account": ACCOUNT, "user_name": "alice", "user_id": "AIDAALICE",
        "tags": {"team": "blue"},
    }  # fmt: skip
    base.update(kw)
    return Caller(**base)


def ecs(resource: str) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:{resource}"


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@dataclass
class Case:
    why: str
    action: str
    resources: list[str | Target]
    identity: list[str]
    allowed: bool
    explicit: bool = False
    context: dict[str, Any] = field(default_factory=dict)
    resource_policy: str | None = None
    boundary: str | None = None
    session: list[str] | None = None
    who: Caller = field(default_factory=caller)
    kind: str = "identity-based policy"


CASES = [
    # "Policy evaluation logic": by default, all requests are implicitly denied.
    Case("no policy: implicit deny", "ecs:ListClusters", ["*"], [], False),
    Case("an Allow grants", "ecs:ListClusters", ["*"], [policy(allow("ecs:ListClusters"))], True),
    # "An explicit deny in any policy overrides any allows."
    Case("explicit Deny beats Allow", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(allow("ecs:*")), policy(deny("ecs:RunTask"))], False, explicit=True),
    Case("Deny in the same policy as the Allow", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(deny("ecs:Run*"), allow("*"))], False, explicit=True),
    # "IAM JSON policy elements: Action": wildcards, and action names are not case-sensitive.
    Case("Describe* covers DescribeTasks", "ecs:DescribeTasks", [ecs("task/prod/1")],
         [policy(allow("ecs:Describe*"))], True),
    Case("? is one character", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(allow("ecs:?unTask"))], True),
    Case("actions ignore case", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(allow("ECS:runtask"))], True),
    Case("another service's wildcard", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(allow("ec2:*"))], False),
    # "NotAction": Allow with NotAction "iam:*" grants everything but IAM.
    Case("NotAction grants the rest", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], True),
    Case("NotAction leaves out what it names", "iam:CreateUser", [f"arn:aws:iam::{ACCOUNT}:user/x"],
         [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], False),
    # "Resource": ARNs with wildcards; matching is case-sensitive.
    Case("cluster wildcard", "ecs:DescribeClusters", [ecs("cluster/prod")],
         [policy(allow("ecs:DescribeClusters", f"arn:aws:ecs:*:{ACCOUNT}:cluster/*"))], True),
    Case("resource ARNs are case-sensitive", "ecs:DescribeClusters", [ecs("cluster/Prod")],
         [policy(allow("ecs:DescribeClusters", ecs("cluster/prod")))], False),
    Case("a cluster pattern is not a task", "ecs:StopTask", [ecs("task/prod/1")],
         [policy(allow("ecs:StopTask", ecs("cluster/*")))], False),
    # Actions with no resource-level permissions authorize "*" (Service Authorization
    # Reference: "you must specify all resources (*)").
    Case("ListClusters needs Resource *", "ecs:ListClusters", ["*"],
         [policy(allow("ecs:ListClusters", "arn:aws:ecs:*"))], False),
    # "NotResource": Deny everything outside one cluster.
    Case("NotResource Deny outside", "ecs:StopTask", [ecs("task/dev/1")],
         [policy(allow("ecs:*"), {"Effect": "Deny", "Action": "ecs:*",
                                  "NotResource": ecs("task/prod/*")})],
         False, explicit=True),
    Case("NotResource Deny spares inside", "ecs:StopTask", [ecs("task/prod/1")],
         [policy(allow("ecs:*"), {"Effect": "Deny", "Action": "ecs:*",
                                  "NotResource": ecs("task/prod/*")})], True),
    # A request for several resources: each must be allowed.
    Case("every resource must be allowed", "ecs:DescribeTasks",
         [ecs("task/prod/1"), ecs("task/dev/2")],
         [policy(allow("ecs:DescribeTasks", ecs("task/prod/*")))], False),
    # "Permissions boundaries": the effective permissions are the intersection.
    Case("boundary limits", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(allow("ecs:*"))], False, boundary=policy(allow("ecs:Describe*")),
         kind="permissions boundary"),
    Case("boundary alone grants nothing", "ecs:RunTask", [ecs("task-definition/web:1")],
         [], False, boundary=policy(allow("ecs:*"))),
    Case("boundary and identity both allow", "ecs:DescribeTasks", [ecs("task/prod/1")],
         [policy(allow("ecs:*"))], True, boundary=policy(allow("ecs:Describe*"))),
    Case("Deny in a boundary", "ecs:DescribeTasks", [ecs("task/prod/1")],
         [policy(allow("ecs:*"))], False, explicit=True,
         boundary=policy(allow("*"), deny("ecs:Describe*")), kind="permissions boundary"),
    # "Session policies": the session's permissions are the intersection with the role's.
    Case("session policy limits", "ecs:RunTask", [ecs("task-definition/web:1")],
         [policy(allow("ecs:*"))], False, session=[policy(allow("ecs:List*"))],
         kind="session policy"),
    Case("session policy allows within", "ecs:ListClusters", ["*"],
         [policy(allow("ecs:*"))], True, session=[policy(allow("ecs:List*"))]),
    # "Determining whether a request is allowed or denied within an account": a resource-based
    # policy naming the principal's ARN is enough on its own; naming the account is not.
    Case("resource policy naming the user", "secretsmanager:GetSecretValue",
         ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"], [], True,
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": ALICE},
                                 "Action": "secretsmanager:GetSecretValue", "Resource": "*"}),
         kind="resource-based policy"),
    Case("resource policy naming the account", "secretsmanager:GetSecretValue",
         ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"], [], False,
         resource_policy=policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                 "Action": "secretsmanager:GetSecretValue", "Resource": "*"})),
    Case("account grant plus identity Allow", "secretsmanager:GetSecretValue",
         ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"],
         [policy(allow("secretsmanager:GetSecretValue"))], True,
         resource_policy=policy({"Effect": "Allow",
                                 "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                 "Action": "secretsmanager:*", "Resource": "*"})),
    Case("Deny in a resource policy", "secretsmanager:GetSecretValue",
         ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"],
         [policy(allow("secretsmanager:*"))], False, explicit=True,
         resource_policy=policy({"Effect": "Deny", "Principal": "*",
                                 "Action": "secretsmanager:*", "Resource": "*"}),
         kind="resource-based policy"),
    Case("resource policy for someone else", "secretsmanager:GetSecretValue",
         ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"], [], False,
         resource_policy=policy({"Effect": "Allow",
                                 "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
                                 "Action": "secretsmanager:*", "Resource": "*"})),
    # A role's session is named by its role's ARN ("Principal": role sessions).
    Case("role ARN names its sessions", "secretsmanager:GetSecretValue", ["*"], [], True,
         who=Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/i-1", ACCOUNT,
                    role_arn=f"arn:aws:iam::{ACCOUNT}:role/app"),
         resource_policy=policy({"Effect": "Allow",
                                 "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
                                 "Action": "secretsmanager:*", "Resource": "*"}),
         kind="resource-based policy"),
    # Condition examples from "IAM JSON policy elements: Condition operators".
    Case("deny outside the office (NotIpAddress)", "ecs:UpdateService",
         [ecs("service/prod/web")],
         [policy(allow("ecs:*"), deny("*", Condition={
             "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}))],
         False, explicit=True, context={"aws:SourceIp": "198.51.100.7"}),
    Case("inside the office", "ecs:UpdateService", [ecs("service/prod/web")],
         [policy(allow("ecs:*"), deny("*", Condition={
             "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}))],
         True, context={"aws:SourceIp": "203.0.113.9"}),
    Case("MFA deny with BoolIfExists, key absent", "ecs:RunTask", [ecs("task-definition/w:1")],
         [policy(allow("ecs:*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                                  "Condition": {"BoolIfExists":
                                                {"aws:MultiFactorAuthPresent": "false"}}})],
         False, explicit=True),
    Case("MFA deny with BoolIfExists, MFA present", "ecs:RunTask", [ecs("task-definition/w:1")],
         [policy(allow("ecs:*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                                  "Condition": {"BoolIfExists":
                                                {"aws:MultiFactorAuthPresent": "false"}}})],
         True, context={"aws:MultiFactorAuthPresent": True}),
    # "Controlling access to AWS resources using tags": aws:ResourceTag with a variable.
    Case("own team's task", "ecs:StopTask",
         [Target(ecs("task/prod/1"), {"aws:ResourceTag/team": "blue"})],
         [policy(allow("ecs:StopTask", Condition={
             "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))], True),
    Case("another team's task", "ecs:StopTask",
         [Target(ecs("task/prod/1"), {"aws:ResourceTag/team": "red"})],
         [policy(allow("ecs:StopTask", Condition={
             "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))], False),
    Case("an untagged task", "ecs:StopTask", [ecs("task/prod/1")],
         [policy(allow("ecs:StopTask", Condition={
             "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))], False),
    # ECS's own keys ("Amazon ECS condition keys"): ExecuteCommand by container name.
    Case("exec into the allowed container", "ecs:ExecuteCommand", [ecs("task/prod/1")],
         [policy(allow("ecs:ExecuteCommand", Condition={
             "StringEquals": {"ecs:container-name": "app"}}))], True,
         context={"ecs:container-name": "app"}),
    Case("exec into another container", "ecs:ExecuteCommand", [ecs("task/prod/1")],
         [policy(allow("ecs:ExecuteCommand", Condition={
             "StringEquals": {"ecs:container-name": "app"}}))], False,
         context={"ecs:container-name": "sidecar"}),
    Case("RunTask on one cluster (ArnEquals ecs:cluster)", "ecs:RunTask",
         [ecs("task-definition/web:3")],
         [policy(allow("ecs:RunTask", Condition={
             "ArnEquals": {"ecs:cluster": ecs("cluster/prod")}}))], True,
         context={"ecs:cluster": ecs("cluster/prod")}),
    Case("RunTask on another cluster", "ecs:RunTask", [ecs("task-definition/web:3")],
         [policy(allow("ecs:RunTask", Condition={
             "ArnEquals": {"ecs:cluster": ecs("cluster/prod")}}))], False,
         context={"ecs:cluster": ecs("cluster/dev")}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.why for c in CASES])
def test_evaluation(case: Case) -> None:
    request = Request.of(case.action, case.who, case.resources, case.context)
    d = evaluate(request, case.identity, case.resource_policy, case.boundary, case.session)
    assert d.allowed is case.allowed, d
    assert d.explicit_deny is case.explicit, d
    if not case.allowed or case.kind != "identity-based policy":
        assert d.policy_type == case.kind, d


def test_the_refusal_names_the_resource_refused() -> None:
    request = Request.of(
        "ecs:DescribeTasks", caller(), [ecs("task/prod/1"), ecs("task/dev/2"), ecs("task/dev/3")]
    )
    d = evaluate(request, [policy(allow("ecs:DescribeTasks", ecs("task/prod/*")))])
    assert d.resource == ecs("task/dev/2")
    # An explicit deny on a later resource is what the refusal reports.
    both = [policy(allow("ecs:DescribeTasks", ecs("task/prod/*")), deny("*", ecs("task/dev/3")))]
    assert evaluate(request, both).resource == ecs("task/dev/3")


def test_the_decision_names_its_statement() -> None:
    text = policy({**allow("ecs:List*"), "Sid": "Lists"}, {**deny("ecs:Delete*"), "Sid": "NoDel"})
    ok = evaluate(Request.of("ecs:ListClusters", caller()), [text])
    assert ok.statement is not None and (ok.statement.sid, ok.statement.index) == ("Lists", 0)
    no = evaluate(Request.of("ecs:DeleteCluster", caller(), [ecs("cluster/x")]), [text])
    assert no.statement is not None and no.statement.effect == "Deny"
    assert evaluate(Request.of("ecs:RunTask", caller()), [text]).statement is None


def test_time_conditions_read_the_request_time() -> None:
    # "DateGreaterThan aws:CurrentTime" (Condition operators: Date condition operators).
    text = policy(allow("ecs:*", Condition={
        "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}))  # fmt: skip
    during = Request.of("ecs:ListClusters", caller(), now=1_780_000_000.0)  # 2026-05
    after = Request.of("ecs:ListClusters", caller(), now=1_800_000_000.0)  # 2027-01
    assert evaluate(during, [text]).allowed
    assert not evaluate(after, [text]).allowed
    assert not evaluate(Request.of("ecs:ListClusters", caller()), [text]).allowed


def test_a_document_is_compiled_once() -> None:
    from portside.iam.policy import compile_policy

    text = policy(allow("ecs:List*"), deny("ecs:Delete*"))
    first = compile_policy(text)
    assert compile_policy(text) is first
    assert compile_policy(json.loads(text)) is compile_policy(json.loads(text))
    assert compile_policy(first) is first
    assert [s.statement.index for s in first.for_action("ECS:ListTasks")] == [0]
    assert first.for_action("ecs:listtasks") is first.for_action("ecs:ListTasks")
