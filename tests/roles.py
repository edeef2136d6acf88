"""IAM roles a test's tasks can be given: ECS refuses a task or execution role it cannot
assume (ops/task_roles.py), so a test that names one makes it first. Idempotent, so tests on
several workers may share a name."""

from __future__ import annotations

import contextlib
import json
from typing import Any

TRUST_ECS_TASKS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# For roles ECS itself assumes (a gateway's infrastructure role).
ECS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def task_role(iam: Any, arn: str, *, allow_all: bool = True) -> str:
    """The role `arn` names (path `/`), trusting ecs-tasks.amazonaws.com, with an inline
    policy allowing everything when `allow_all` (an execution role reading any secret)."""
    name = arn.rsplit("/", 1)[-1]
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ECS_TASKS)
    if allow_all:
        iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
    return arn


def task_role_in(op: Any, arn: str) -> str:
    """`task_role` for a test on an in-process world (`op`: an Op of the role's account)."""
    from portside.iam import inline, roles

    name = arn.rsplit("/", 1)[-1]
    roles.create_role(op, {"RoleName": name, "AssumeRolePolicyDocument": TRUST_ECS_TASKS})
    inline._put(op, "role", {"RoleName": name, "PolicyName": "all", "PolicyDocument": ALLOW_ALL})
    return arn


def iam_of(client: Any) -> Any:
    """An IAM client on the endpoint and credentials of another service's client."""
    import boto3

    creds = client._request_signer._credentials
    return boto3.client(
        "iam",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
