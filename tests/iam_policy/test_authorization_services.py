"""The other services' actions: IAM action names from signing names, the resources mapped
for the calls tasks and agents make (CloudWatch Logs' `log-group:<name>:*` form, SSM
parameters, ECR repositories, Secrets Manager and KMS), "*" for the rest."""

from __future__ import annotations

import json
from typing import Any

from portside.iam.authorization import Check, checks, iam_action
from portside.iam.policy import Caller, evaluate

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def one(signing: str, op: str, **params: Any) -> Check:
    (c,) = checks(signing, op, params, account=ACCOUNT, region=REGION)
    return c


def test_action_names() -> None:
    assert iam_action("ecs", "RunTask") == "ecs:RunTask"
    assert iam_action("monitoring", "PutMetricData") == "cloudwatch:PutMetricData"
    assert iam_action("elasticloadbalancing", "CreateLoadBalancer") == (
        "elasticloadbalancing:CreateLoadBalancer"
    )
    assert one("monitoring", "PutMetricData").action == "cloudwatch:PutMetricData"


def test_logs() -> None:
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/web"
    assert one("logs", "PutLogEvents", logGroupName="/ecs/web", logStreamName="s").targets[
        0
    ].arn == (f"{group}:log-stream:s")
    assert one("logs", "CreateLogGroup", logGroupName="/ecs/web").targets[0].arn == f"{group}:*"
    assert one("logs", "DescribeLogGroups").targets[0].arn == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"
    )
    # The e2e policy: PutLogEvents on one group, refused on another.
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"{group}:*"}]})  # fmt: skip
    role = Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/t", ACCOUNT)
    ok = one("logs", "PutLogEvents", logGroupName="/ecs/web", logStreamName="s")
    other = one("logs", "PutLogEvents", logGroupName="/ecs/api", logStreamName="s")
    assert evaluate(ok.request(role), [policy]).allowed
    assert not evaluate(other.request(role), [policy]).allowed
    assert not evaluate(one("ecs", "ListClusters").request(role), [policy]).allowed


def test_ssm_ecr_secrets_kms() -> None:
    p = one("ssm", "GetParameters", Names=["/app/db", "plain:3"])
    assert [t.arn for t in p.targets] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain",
    ]
    assert one("ecr", "BatchGetImage", repositoryName="web").targets[0].arn == (
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/web"
    )
    assert one("ecr", "GetAuthorizationToken").targets[0].arn == "*"
    assert one("secretsmanager", "GetSecretValue", SecretId="db").targets[0].arn == (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-??????"
    )
    assert one("kms", "Decrypt", KeyId="1234abcd-12ab-34cd-56ef-1234567890ab").targets[0].arn == (
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )


def test_everything_else_is_star_with_its_request_tags() -> None:
    c = one("ec2", "CreateSecurityGroup", GroupName="g")
    assert c.action == "ec2:CreateSecurityGroup" and c.targets[0].arn == "*"
    tagged = one("secretsmanager", "CreateSecret", Name="db", Tags=[{"Key": "team", "Value": "b"}])
    assert tagged.context == {"aws:RequestTag/team": "b", "aws:TagKeys": ["team"]}
    logs = one("logs", "CreateLogGroup", logGroupName="g", tags={"team": "b"})
    assert logs.context == {"aws:RequestTag/team": "b", "aws:TagKeys": ["team"]}


def test_a_check_takes_the_edges_keys() -> None:
    # aws:SourceIp and the like come from the edge; the call's own keys win over them.
    check = checks("ecs", "ListServices", {"cluster": "prod"}, account=ACCOUNT, region=REGION)[0]
    caller = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, user_name="alice")
    request = check.request(caller, {"aws:SourceIp": "10.0.0.1", "ecs:cluster": "spoofed"})
    assert request.context == {
        "aws:SourceIp": "10.0.0.1",
        "ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod",
    }
