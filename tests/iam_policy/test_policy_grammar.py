"""The policy grammar: what IAM refuses, with IAM's own words (MalformedPolicyDocument).

Texts as IAM answers them in public reports: `Syntax errors in policy.` (boto/boto3#180,
aws-cloudformation/cfn-lint#3751 for an operator-less condition), `Policy statement must
contain actions.` (aws/aws-cdk#7615), `Policy statement must contain resources.`
(trussworks/terraform-aws-s3-anti-virus#28), `Policy document should not specify a
principal.` (hashicorp/terraform#13449), `Actions/Condition can contain only one colon.`
(garnaat/kappa#111), `Resource ... must be in ARN format or "*".`
(ministryofjustice/modernisation-platform-environments#590).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from portside.iam.policy import MalformedPolicyDocument, parse


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    d: dict[str, Any] = {"Statement": list(statements)}
    if version:
        d["Version"] = version
    return json.dumps(d)


ALLOW = {"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}


def refused(text: str | dict[str, Any], kind: str = "identity") -> str:
    with pytest.raises(MalformedPolicyDocument) as e:
        parse(text, kind)  # type: ignore[arg-type]
    assert e.value.code == "MalformedPolicyDocument"
    return e.value.message


def test_a_good_policy_reads_as_statements() -> None:
    p = parse(doc(ALLOW, {**ALLOW, "Sid": "Two", "Effect": "Deny", "Action": ["ecs:Run*"]}))
    assert [s.effect for s in p.statements] == ["Allow", "Deny"]
    assert p.statements[1].actions == ("ecs:Run*",) and p.statements[1].sid == "Two"
    assert p.variables


def test_a_single_statement_object_and_an_old_or_absent_version_are_read() -> None:
    assert len(parse(json.dumps({"Version": "2008-10-17", "Statement": ALLOW})).statements) == 1
    p = parse(doc(ALLOW, version=None))
    assert p.version is None and not p.variables


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps({"Version": "2012-10-17", "Statement": [ALLOW], "Extra": 1}),
        doc({**ALLOW, "Effect": "allow"}),
        doc({k: v for k, v in ALLOW.items() if k != "Effect"}),
        doc({**ALLOW, "NotAction": "ecs:RunTask"}),
        doc({**ALLOW, "Unknown": 1}),
        doc({**ALLOW, "Action": [1]}),
        doc({**ALLOW, "Condition": {"StringEqualz": {"aws:username": "alice"}}}),
        doc({**ALLOW, "Condition": {"aws:username": "alice"}}),
        doc({**ALLOW, "Condition": {"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}}),
        doc({**ALLOW, "Condition": {"NullIfExists": {"aws:username": "true"}}}),
        doc({**ALLOW, "Condition": {"StringEquals": {"aws:username": {"a": 1}}}}),
    ],
)
def test_syntax_errors(text: str) -> None:
    assert refused(text) == "Syntax errors in policy."


def test_actions_and_resources_are_needed() -> None:
    no_action = {k: v for k, v in ALLOW.items() if k != "Action"}
    assert refused(doc(no_action)) == "Policy statement must contain actions."
    assert refused(doc({**ALLOW, "Action": []})) == "Policy statement must contain actions."
    no_resource = {k: v for k, v in ALLOW.items() if k != "Resource"}
    assert refused(doc(no_resource)) == "Policy statement must contain resources."


def test_an_identity_policy_names_no_principal() -> None:
    for member in ("Principal", "NotPrincipal"):
        text = doc({**ALLOW, member: {"AWS": "123456789012"}})
        assert refused(text) == "Policy document should not specify a principal."
    parse(doc({**ALLOW, "Principal": {"AWS": "123456789012"}}), "resource")


def test_action_and_resource_forms() -> None:
    assert refused(doc({**ALLOW, "Action": "RunTask"})) == (
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    )
    assert refused(doc({**ALLOW, "Action": "ecs:Run:Task"})) == (
        "Actions/Condition can contain only one colon."
    )
    assert refused(doc({**ALLOW, "Resource": "cluster/prod"})) == (
        'Resource cluster/prod must be in ARN format or "*".'
    )
    assert refused(doc({**ALLOW, "Condition": {"StringEquals": {"username": "a"}}})) == (
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    )


def test_version_and_sids() -> None:
    assert refused(doc(ALLOW, version="2020-01-01")) == (
        "Policy document must be version 2012-10-17 or greater."
    )
    twice = doc({**ALLOW, "Sid": "A"}, {**ALLOW, "Sid": "A"})
    assert refused(twice) == "Statement IDs (SID) in a single policy must be unique."


def test_trust_policies() -> None:
    trust = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
             "Action": "sts:AssumeRole"}  # fmt: skip
    p = parse(doc(trust), "trust")
    assert p.statements[0].principal is not None
    assert p.statements[0].principal.service == ("ecs-tasks.amazonaws.com",)
    assert refused(doc({**trust, "Resource": "*"}), "trust") == "Has prohibited field Resource"
    no_principal = {k: v for k, v in trust.items() if k != "Principal"}
    assert refused(doc(no_principal), "trust") == "Missing required field Principal"
    assert refused(doc({**trust, "Action": "ecs:RunTask"}), "trust") == (
        "AssumeRole policy may only specify STS AssumeRole actions."
    )
    everyone = parse(doc({**trust, "Principal": {"AWS": "*"}}), "trust")
    assert everyone.statements[0].principal is not None
    assert everyone.statements[0].principal.everyone


def test_condition_blocks_read_into_operator_key_values() -> None:
    p = parse(
        doc({**ALLOW, "Condition": {
            "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["team*", "env"]},
            "Bool": {"aws:SecureTransport": True},
            "NumericLessThan": {"ecs:task-cpu": 1024},
        }})
    )  # fmt: skip
    c = {x.operator: x for x in p.statements[0].conditions}
    like = c["StringLike"]
    assert (like.set_op, like.if_exists, like.values) == ("ForAnyValue", True, ("team*", "env"))
    assert c["Bool"].values == ("true",) and c["NumericLessThan"].values == ("1024",)
