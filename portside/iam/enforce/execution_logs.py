"""A Fargate task's awslogs streams, made as its execution role: on Fargate the awslogs
driver calls CloudWatch Logs with the role's session, so the role's policies must allow

    logs:CreateLogGroup     on arn:aws:logs:<r>:<a>:log-group:<group>   (awslogs-create-group)
    logs:CreateLogStream    on ...:log-group:<group>:log-stream:<stream>
    logs:PutLogEvents       on the same stream

else the container does not start (the agent words it as ECS does: `failed to create
Cloudwatch log stream: AccessDeniedException: User: ... is not authorized to perform ...`).
On EC2 the driver writes as the instance (the agent's key), as ECS's does: nothing to check.
"""

from __future__ import annotations

from portside.iam.enforce.execution import execution_identity, role_of
from portside.iam.enforce.identities import denied
from portside.model.task_definition import TaskDefinition
from portside.ops.context import World


def logs_refusal(world: World, task_arn: str, group: str, stream: str, create: bool) -> str | None:
    """IAM's message when the task's execution role may not make or write its stream;
    None when it may, or when the task is not a Fargate task with an execution role."""
    with world.store.read() as tx:
        task = tx.get("tasks", task_arn)
        if task is None or task.get("launchType") != "FARGATE":
            return None
        stored = tx.get("task_definitions", task["taskDefinitionArn"])
    definition = TaskDefinition.from_doc(stored).spec if stored else {}
    role_arn = role_of(task, definition)
    identity = execution_identity(world, task_arn, role_arn) if role_arn else None
    if identity is None:
        return None  # no role; or one ECS cannot assume, which failed the task's start
    _, _, _, region, account, _ = task_arn.split(":", 5)
    group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    stream_arn = f"{group_arn}:log-stream:{stream}"
    wanted = [("logs:CreateLogGroup", group_arn)] if create else []
    wanted += [("logs:CreateLogStream", stream_arn), ("logs:PutLogEvents", stream_arn)]
    for action, resource in wanted:
        message = denied(identity, action, resource)
        if message is not None:
            return message
    return None
