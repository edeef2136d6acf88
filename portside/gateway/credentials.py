"""A task role's credentials for its agent (server side).

    POST /_portside/agent/v1/credentials  {"session", "taskArn"} -> TaskCredentials

Only for a task placed on one of the asking session's instances and not asked to stop (else
AccessDeniedException): the role is read from the task here (RunTask's
`overrides.taskRoleArn`, else its definition's `taskRoleArn`), never taken from the agent.
STS assumes it for `ecs-tasks.amazonaws.com`, the service principal the role's trust policy
must allow, with the task's id as the session name (ECS's own choice: CloudTrail shows a
task's calls as `assumed-role/<role>/<task id>`).

A role whose trust policy refuses, or that IAM does not hold, stops a task that is not running
yet, with the reason ECS gives for a role it cannot assume, and answers that reason as
`failure` (a running task whose role changed keeps running: its refresh fails, and its
session expires). Each ask issues a new session; the agent keeps it and asks again before
it expires.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.errors import (
    AccessDeniedException,
    ClientException,
    NamedError,
    SerializationException,
)
from portside.gateway.protocol.credentials import (
    CREDENTIALS,
    CredentialsRequest,
    TaskCredentials,
)
from portside.model.states import TaskStatus
from portside.model.task_definition import TaskDefinition
from portside.ops import tasks as task_ops
from portside.ops.context import Op, World
from portside.sts.assume import ECS_TASKS, AssumeRequest, assume_role, unable_to_assume

InstancesOf = Callable[[str], set[str] | None]

# How long a task's session lasts. ECS's are hours; an operator may shorten it, to no less
# than STS's 15 minutes. For tests and demos of the agent's refresh only,
# PORTSIDE_TASK_CREDENTIALS_TEST_SECONDS (which wins) takes any duration from 10 s.
DURATION_ENV = "PORTSIDE_TASK_CREDENTIALS_SECONDS"
TEST_DURATION_ENV = "PORTSIDE_TASK_CREDENTIALS_TEST_SECONDS"
DEFAULT_DURATION = 6 * 3600
MIN_DURATION = 900
TEST_MIN_DURATION = 10
TASK_FAILED_TO_START = "TaskFailedToStart"


def configured_duration() -> int:
    test = os.environ.get(TEST_DURATION_ENV, "")
    if test.isdigit():
        return max(TEST_MIN_DURATION, int(test))
    text = os.environ.get(DURATION_ENV, "")
    return max(MIN_DURATION, int(text)) if text.isdigit() else DEFAULT_DURATION


class CredentialsDesk:
    def __init__(
        self, world: World, instances_of: InstancesOf, duration: int | None = None
    ) -> None:
        self.world = world
        self.instances_of = instances_of
        self.duration = duration if duration is not None else configured_duration()

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        """The route, wrapped by the gateway's signed-endpoint wrapper."""
        return [Route(CREDENTIALS, endpoint(self.answer), methods=["POST"])]

    async def answer(self, op: Op, params: dict[str, Any]) -> TaskCredentials:
        try:
            ask = CredentialsRequest.from_wire(params)
        except (KeyError, TypeError) as exc:
            raise SerializationException(f"The request is not a valid message: {exc!r}") from None
        instances = self.instances_of(ask.session)
        if instances is None:
            raise ClientException("UnknownSession: open a new session.")
        return await asyncio.to_thread(self.issue, op, ask.task_arn, instances)

    def issue(self, op: Op, task_arn: str, instances: set[str]) -> TaskCredentials:
        with op.store.read() as tx:
            task = task_ops.load(tx, task_arn)
            if (
                task is None
                or task.instance_arn not in instances
                or task.desired_status == TaskStatus.STOPPED
            ):
                raise AccessDeniedException(
                    f"The task {task_arn} is not running on an instance of this agent's session."
                )
            stored = tx.get("task_definitions", task.task_definition_arn)
        spec = TaskDefinition.from_doc(stored).spec if stored else {}
        role_arn = str((task.overrides or {}).get("taskRoleArn") or spec.get("taskRoleArn") or "")
        if not role_arn:
            raise ClientException(f"The task {task_arn} has no task role.")
        _, _, _, region, account, _ = task_arn.split(":", 5)
        request = AssumeRequest(
            role_arn=role_arn,
            session_name=task.id,
            caller_arn="",
            account=account,
            service=ECS_TASKS,
            duration=self.duration,
        )
        try:
            done = assume_role(op.store, request, now=op.now(), region=region)
        except NamedError as exc:
            if exc.code != "AccessDenied":
                raise
            reason = unable_to_assume(role_arn)
            if task.last_status < TaskStatus.RUNNING:
                # Not started yet: it does not start. A running task whose role changed
                # since keeps running, with the session it has until that expires.
                self._stop(op, task_arn, reason)
            return TaskCredentials(task_arn, role_arn, failure=reason)
        creds = done.credentials
        return TaskCredentials(
            task_arn,
            role_arn,
            creds.access_key_id,
            creds.secret_access_key,
            creds.session_token,
            creds.expiration,
        )

    def _stop(self, op: Op, task_arn: str, reason: str) -> None:
        with op.store.transaction() as tx:
            task = task_ops.load(tx, task_arn)
            if task is not None:
                task_ops.stop(tx, task, code=TASK_FAILED_TO_START, reason=reason, now=op.now())
