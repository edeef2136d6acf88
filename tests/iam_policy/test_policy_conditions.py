"""Condition operators, one row each: operator, key, policy values, request context,
expected. Semantics from the IAM User Guide, "IAM JSON policy elements: Condition operators"
and "Single-valued vs. multivalued context keys" (cited per group below)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portside.iam.policy import Caller, ContextValue, Request, evaluate

ACCOUNT = "123456789012"
ALICE = Caller(
    f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, user_name="alice", user_id="AIDAALICE",
    tags={"team": "blue", "CostCenter": "42"},
)  # fmt: skip


def allowed(operator: str, key: str, values: Any, context: dict[str, Any]) -> bool:
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:ListClusters",
         "Resource": "*", "Condition": {operator: {key: values}}}]}
    )  # fmt: skip
    return evaluate(Request.of("ecs:ListClusters", ALICE, context=context), [text]).allowed


ROWS: list[tuple[str, str, Any, dict[str, Any], bool]] = [
    # String condition operators: exact and case-sensitive; IgnoreCase; Like with * and ?.
    ("StringEquals", "ecs:cluster", "prod", {"ecs:cluster": "prod"}, True),
    ("StringEquals", "ecs:cluster", "prod", {"ecs:cluster": "Prod"}, False),
    ("StringEquals", "ecs:cluster", ["dev", "prod"], {"ecs:cluster": "prod"}, True),  # values OR
    ("StringNotEquals", "ecs:cluster", ["dev", "test"], {"ecs:cluster": "prod"}, True),
    ("StringNotEquals", "ecs:cluster", ["dev", "prod"], {"ecs:cluster": "prod"}, False),
    ("StringEqualsIgnoreCase", "ecs:cluster", "PROD", {"ecs:cluster": "prod"}, True),
    ("StringNotEqualsIgnoreCase", "ecs:cluster", "PROD", {"ecs:cluster": "prod"}, False),
    ("StringLike", "ecs:cluster", "pr*", {"ecs:cluster": "prod"}, True),
    ("StringLike", "ecs:cluster", "pro?", {"ecs:cluster": "prod"}, True),
    ("StringLike", "ecs:cluster", "pro?", {"ecs:cluster": "production"}, False),
    ("StringNotLike", "ecs:cluster", "dev*", {"ecs:cluster": "prod"}, True),
    ("StringLike", "ecs:cluster", "a.b", {"ecs:cluster": "axb"}, False),  # no regex leaks
    # Condition key names are not case-sensitive ("Condition element").
    ("StringEquals", "ECS:Cluster", "prod", {"ecs:cluster": "prod"}, True),
    ("StringEquals", "aws:PrincipalTag/Team", "blue", {}, True),
    # Numeric condition operators.
    ("NumericLessThanEquals", "ecs:task-cpu", "1024", {"ecs:task-cpu": 512}, True),
    ("NumericLessThan", "ecs:task-cpu", "512", {"ecs:task-cpu": 512}, False),
    ("NumericGreaterThan", "ecs:task-cpu", 256, {"ecs:task-cpu": "512"}, True),
    ("NumericGreaterThanEquals", "ecs:task-cpu", "512", {"ecs:task-cpu": "512"}, True),
    ("NumericEquals", "ecs:task-cpu", "512", {"ecs:task-cpu": "512.0"}, True),
    ("NumericNotEquals", "ecs:task-cpu", "512", {"ecs:task-cpu": "1024"}, True),
    ("NumericEquals", "ecs:task-cpu", "512", {"ecs:task-cpu": "lots"}, False),
    # Date condition operators: ISO 8601 or epoch.
    ("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z",
     {"aws:CurrentTime": "2026-12-07T10:00:00Z"}, True),
    ("DateGreaterThan", "aws:CurrentTime", "2030-01-01", {"aws:CurrentTime": "2026-12-07"}, False),
    ("DateEquals", "aws:TokenIssueTime", "1700000000",
     {"aws:TokenIssueTime": "2023-11-14T22:13:20Z"}, True),
    ("DateNotEquals", "aws:TokenIssueTime", "1700000000",
     {"aws:TokenIssueTime": "2023-11-14T22:13:21Z"}, True),
    # Boolean and binary.
    ("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": True}, True),
    ("Bool", "aws:SecureTransport", True, {"aws:SecureTransport": "false"}, False),
    ("BinaryEquals", "ecs:blob", "QmluYXJ5VmFsdWU=", {"ecs:blob": b"BinaryValue"}, True),
    # IP address operators: CIDR and single addresses, IPv4 and IPv6.
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.7"}, True),
    ("IpAddress", "aws:SourceIp", "203.0.113.7", {"aws:SourceIp": "203.0.113.7"}, True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, False),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "2001:db8::1"}, True),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "not an ip"}, False),
    # ARN operators: segment by segment, wildcards within.
    ("ArnEquals", "aws:SourceArn", f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod",
     {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"}, True),
    ("ArnLike", "aws:SourceArn", f"arn:aws:ecs:*:{ACCOUNT}:cluster/*",
     {"aws:SourceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/dev"}, True),
    ("ArnLike", "aws:SourceArn", "arn:aws:ecs:*:*:cluster/*",
     {"aws:SourceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/dev/web"}, False),
    ("ArnNotLike", "aws:SourceArn", "arn:aws:ecs:*:*:cluster/*",
     {"aws:SourceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/dev/web"}, True),
    ("ArnEquals", "aws:SourceArn", "arn:aws:ecs:*:*:cluster/*", {"aws:SourceArn": "c"}, False),
    # A missing key: positive operators fail, negated ones pass, ...IfExists passes.
    ("StringEquals", "ecs:cluster", "prod", {}, False),
    ("StringNotEquals", "ecs:cluster", "prod", {}, True),
    ("StringNotLike", "ecs:cluster", "prod", {}, True),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {}, True),
    ("StringEqualsIfExists", "ecs:cluster", "prod", {}, True),
    ("StringEqualsIfExists", "ecs:cluster", "prod", {"ecs:cluster": "dev"}, False),
    ("NumericLessThanIfExists", "ecs:task-cpu", "1024", {}, True),
    # Null: "true" when the key is absent, "false" when present.
    ("Null", "aws:TokenIssueTime", "true", {}, True),
    ("Null", "aws:TokenIssueTime", "true", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, False),
    ("Null", "aws:TokenIssueTime", "false", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, True),
    ("Null", "aws:RequestTag/team", False, {}, False),
    # Set operators ("Single-valued vs. multivalued context keys").
    ("ForAllValues:StringEquals", "aws:TagKeys", ["team", "env"], {"aws:TagKeys": ["team"]}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["team", "env"],
     {"aws:TagKeys": ["team", "owner"]}, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["team"], {}, True),  # empty set: true
    ("ForAllValues:StringEquals", "aws:TagKeys", ["team"], {"aws:TagKeys": []}, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["team"], {"aws:TagKeys": ["env", "team"]}, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["team"], {"aws:TagKeys": ["env"]}, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["team"], {}, False),  # missing: false
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", ["team"], {"aws:TagKeys": ["team", "x"]}, True),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"],
     {"aws:TagKeys": ["team", "env"]}, True),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"],
     {"aws:TagKeys": ["team", "secret"]}, False),
    ("ForAnyValue:StringLike", "aws:TagKeys", ["te*"], {"aws:TagKeys": ["env", "team"]}, True),
    ("ForAllValues:StringLikeIfExists", "aws:TagKeys", ["te*"], {}, True),
    # A multivalued key without a set operator: any value for positive, none for negated.
    ("StringEquals", "aws:TagKeys", "team", {"aws:TagKeys": ["env", "team"]}, True),
    ("StringNotEquals", "aws:TagKeys", "team", {"aws:TagKeys": ["env", "team"]}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("operator", "key", "values", "context", "expected"),
    ROWS,
    ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)],
)
def test_operator(
    operator: str, key: str, values: Any, context: dict[str, Any], expected: bool
) -> None:
    assert allowed(operator, key, values, context) is expected


def test_keys_and_operators_are_anded() -> None:
    block = {
        "StringEquals": {"ecs:cluster": "prod", "aws:RequestTag/team": "blue"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:*",
         "Resource": "*", "Condition": block}]}
    )  # fmt: skip
    ok: dict[str, ContextValue] = {
        "ecs:cluster": "prod",
        "aws:RequestTag/team": "blue",
        "aws:SecureTransport": True,
    }
    assert evaluate(Request.of("ecs:ListClusters", ALICE, context=ok), [text]).allowed
    for missing in ok:
        partial = {k: v for k, v in ok.items() if k != missing}
        assert not evaluate(Request.of("ecs:ListClusters", ALICE, context=partial), [text]).allowed
