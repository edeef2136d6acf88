"""A Fargate task's awslogs stream, made as its execution role (iam/enforce/execution_logs.py):
the role must allow logs:CreateLogGroup (awslogs-create-group), logs:CreateLogStream and
logs:PutLogEvents on the stream; an EC2 task writes as its instance and is not checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from roles import task_role_in

from portside.iam import inline
from portside.iam.enforce.execution_logs import logs_refusal
from portside.ops.context import Op
from portside.testing import ACCOUNT, REGION, make_op, make_world, sqlite_store

ROLE = f"arn:aws:iam::{ACCOUNT}:role/logs-exec"
TD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
TASK = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/c/0123456789abcdef0123456789abcdef"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/web"
STREAM = "ecs/app/0123456789abcdef0123456789abcdef"


@pytest.fixture
def op(tmp_path: Path) -> Op:
    op = make_op(make_world(sqlite_store(tmp_path)))
    task_role_in(op, ROLE)
    inline._delete(op, "role", {"RoleName": "logs-exec", "PolicyName": "all"})
    with op.store.transaction() as tx:
        tx.put(
            "task_definitions",
            TD,
            {
                "taskDefinitionArn": TD,
                "family": "web",
                "revision": 1,
                "status": "ACTIVE",
                "spec": {
                    "executionRoleArn": ROLE,
                    "containerDefinitions": [{"name": "app", "image": "busybox"}],
                },
            },
        )
    return op


def _task(op: Op, launch_type: str) -> None:
    with op.store.transaction() as tx:
        tx.put(
            "tasks",
            TASK,
            {
                "arn": TASK,
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c",
                "taskDefinitionArn": TD,
                "launchType": launch_type,
                "lastStatus": "PENDING",
                "desiredStatus": "RUNNING",
            },
        )


def _allow(op: Op, *statements: dict[str, Any]) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    inline._put(
        op, "role", {"RoleName": "logs-exec", "PolicyName": "p", "PolicyDocument": document}
    )


def test_a_fargate_tasks_stream_needs_the_roles_logs_permissions(op: Op) -> None:
    _task(op, "FARGATE")
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/logs-exec/{TASK.rsplit('/', 1)[1]}"
    stream_arn = f"{GROUP_ARN}:log-stream:{STREAM}"
    assert logs_refusal(op.world, TASK, "/ecs/web", STREAM, False) == (
        f"User: {session} is not authorized to perform: logs:CreateLogStream on resource: "
        f"{stream_arn} because no identity-based policy allows the logs:CreateLogStream action"
    )
    stream = {"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": f"{GROUP_ARN}:*"}
    _allow(op, stream)
    refused = logs_refusal(op.world, TASK, "/ecs/web", STREAM, False)
    assert refused is not None and "logs:PutLogEvents" in refused
    put = {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"{GROUP_ARN}:*"}
    _allow(op, stream, put)
    assert logs_refusal(op.world, TASK, "/ecs/web", STREAM, False) is None
    # awslogs-create-group: the group too.
    refused = logs_refusal(op.world, TASK, "/ecs/web", STREAM, True)
    assert refused is not None and f"logs:CreateLogGroup on resource: {GROUP_ARN} " in refused
    _allow(op, stream, put, {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"})
    assert logs_refusal(op.world, TASK, "/ecs/web", STREAM, True) is None


def test_an_ec2_task_writes_as_its_instance(op: Op) -> None:
    _task(op, "EC2")
    assert logs_refusal(op.world, TASK, "/ecs/web", STREAM, True) is None
    assert logs_refusal(op.world, TASK.replace("0123", "ffff"), "/ecs/web", STREAM, True) is None
