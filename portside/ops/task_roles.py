"""A task's roles checked as ECS checks them when it starts tasks or makes a service: the task
role and the execution role (RunTask's overrides first, else the definition's) must be IAM
roles whose trust policy lets `ecs-tasks.amazonaws.com` assume them, else ClientException
with ECS's words ("ECS was unable to assume the role '<arn>' that was provided for this task.
..."). A role is named by its ARN or, as ECS allows, by its name in the caller's account.

Checked again when the task starts (gateway/credentials.py, iam/enforce/execution.py): a role
deleted or changed in between fails the task then.
"""

from __future__ import annotations

from portside.errors import ClientException
from portside.model.overrides import TaskOverrides
from portside.model.task_definition import TaskDefinition
from portside.ops.context import Op
from portside.store.base import Tx
from portside.sts.assume import ECS_TASKS, service_may_assume, unable_to_assume


def check(op: Op, tx: Tx, td: TaskDefinition, overrides: TaskOverrides | None = None) -> None:
    """ClientException for the first of the task's roles ECS could not assume."""
    given = overrides or TaskOverrides()
    for override, key in (
        (given.task_role_arn, "taskRoleArn"),
        (given.execution_role_arn, "executionRoleArn"),
    ):
        role = str(override or td.spec.get(key) or "")
        if role and not service_may_assume(tx, role_arn(op, role), ECS_TASKS, op.now()):
            raise ClientException(unable_to_assume(role))


def role_arn(op: Op, role: str) -> str:
    """A role's ARN from an ARN or a name in the caller's account."""
    return role if role.startswith("arn:") else f"arn:aws:iam::{op.account}:role/{role}"
