"""The gateway's task-role desk (gateway/credentials.py) in process: a task whose role was
deleted, or stopped trusting ECS, after RunTask accepted it does not start: the desk stops it
with ECS's reason and answers the failure; a running task is left running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from roles import task_role_in

from portside.agent.attributes import default_attributes
from portside.gateway.credentials import CredentialsDesk
from portside.iam import inline, roles
from portside.model.container_instance import InstanceResources
from portside.ops import clusters, launch, task_definitions
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.testing import ACCOUNT, make_op, make_world, sqlite_store
from portside.wire import task_requests as wire

ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
REASON = (
    f"ECS was unable to assume the role '{ROLE}' that was provided for this task. Please "
    "verify that the role being passed has the proper trust relationship and permissions and "
    "that your IAM user has permissions to pass this role."
)


@pytest.fixture
def op(tmp_path: Path) -> Op:
    return make_op(make_world(sqlite_store(tmp_path)))


def _placed(op: Op) -> tuple[str, str]:
    clusters.create_cluster(op, name="c")
    instance = inst_ops.register(
        op,
        cluster="c",
        attributes=default_attributes("us-east-1a", "portside.local"),
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
            ]
        ),
    ).instance.arn
    container = {"name": "app", "image": "busybox", "memory": 64}
    task_definitions.register(
        op, {"family": "web", "taskRoleArn": ROLE, "containerDefinitions": [container]}
    )
    placed, failures = launch.run_task(op, wire.launch({"cluster": "c", "taskDefinition": "web"}))
    assert failures == [] and len(placed) == 1, failures
    return placed[0].task.arn, instance


def _status(op: Op, task_arn: str) -> tuple[str, str | None]:
    with op.store.read() as tx:
        doc = tx.get("tasks", task_arn)
    assert doc is not None
    return doc["desiredStatus"], doc.get("stoppedReason")


def test_a_role_deleted_after_run_task_stops_the_task(op: Op) -> None:
    task_role_in(op, ROLE)
    task_arn, instance = _placed(op)
    desk = CredentialsDesk(op.world, {"s": {instance}}.get, duration=900)
    assert desk.issue(op, task_arn, {instance}).failure is None
    inline._delete(op, "role", {"RoleName": "app", "PolicyName": "all"})
    roles.delete_role(op, {"RoleName": "app"})
    answer = desk.issue(op, task_arn, {instance})
    assert answer.failure == REASON
    assert _status(op, task_arn) == ("STOPPED", REASON)


def test_a_role_that_stopped_trusting_ecs_stops_the_task(op: Op) -> None:
    task_role_in(op, ROLE)
    task_arn, instance = _placed(op)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ],
    }
    roles.update_assume_role_policy(op, {"RoleName": "app", "PolicyDocument": json.dumps(trust)})
    desk = CredentialsDesk(op.world, {"s": {instance}}.get, duration=900)
    assert desk.issue(op, task_arn, {instance}).failure == REASON
    assert _status(op, task_arn) == ("STOPPED", REASON)
