"""ExecuteCommand: ECS Exec's rules, and where a session's record goes.

The rules, in the order ECS applies them:
  - `interactive` must be true: "Interactive is the only mode supported currently."
    (InvalidParameterException; boto/boto3#2822). Whether the session gets a TTY is the
    client's choice when it opens the stream (see portside/exec/frames.py).
  - the cluster must exist (ClusterNotFoundException), the task must be in it, and the
    container must be named when the task has more than one (InvalidParameterException);
  - the task must have been started with enableExecuteCommand: InvalidParameterException
    with ECS's wording;
  - the container must be RUNNING (TargetNotConnectedException), its ExecuteCommandAgent too
    (InvalidParameterException, ECS's wording again), and its host's agent connected
    (TargetNotConnectedException).

Records (ECS sends session logs to CloudWatch Logs): the group is the cluster's
executeCommandConfiguration.logConfiguration.cloudWatchLogGroupName when set (it must exist,
as on AWS), otherwise `/aws/ecs/execute-command/<cluster-name>`, created when missing. The
stream is the session id. `logging: NONE` keeps the audit lines (who, when, what) but not the
command's output.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from portside.errors import InvalidParameterException, TargetNotConnectedException
from portside.model.cluster import Cluster
from portside.model.requests import ExecuteCommand
from portside.model.states import ContainerStatus, InstanceStatus
from portside.model.task import Container, Task
from portside.ops import instances as inst_ops
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.tasks import find

AGENT_NAME = "ExecuteCommandAgent"
DEFAULT_GROUP_PREFIX = "/aws/ecs/execute-command/"
MAX_COMMAND = 4096

NOT_INTERACTIVE = "Interactive is the only mode supported currently."
# ECS's wording (fabfuel/ecs-deploy#193, keidarcy/e1s#206).
NOT_ENABLED = (
    "The execute command failed because execute command was not enabled when the task was run "
    "or the execute command agent isn’t running. Wait and try again or run a new task with "  # noqa: RUF001
    "execute command enabled and try again."
)


@dataclass(frozen=True, slots=True)
class LogDestination:
    group: str
    create_group: bool  # the Portside default group is created when missing
    record_output: bool  # False under logging NONE


@dataclass(frozen=True, slots=True)
class ExecTarget:
    """What ExecuteCommand resolved: everything a session needs."""

    cluster_arn: str
    task_arn: str
    instance_arn: str
    container_name: str
    container_arn: str
    runtime_id: str | None
    command: str
    argv: tuple[str, ...]
    log: LogDestination


def parse_command(command: str) -> tuple[str, ...]:
    """The command string as an argv, split like a shell would (ECS runs it without a
    shell: `sh -c '...'` is how a user gets one)."""
    if not command.strip():
        raise InvalidParameterException("command cannot be empty.")
    if len(command) > MAX_COMMAND:
        raise InvalidParameterException(f"command can be at most {MAX_COMMAND} characters.")
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise InvalidParameterException(f"command could not be parsed: {exc}.") from None
    if not argv:
        raise InvalidParameterException("command cannot be empty.")
    return argv


def choose_container(task: Task, name: str | None) -> Container:
    if name is None:
        if len(task.containers) != 1:
            raise InvalidParameterException(
                "The task has more than one container: specify the container to run the command in."
            )
        return task.containers[0]
    for c in task.containers:
        if c.name == name:
            return c
    raise InvalidParameterException(f"The container {name} does not exist in the task.")


def check_target(task: Task, container: Container, agent_connected: bool) -> None:
    """ECS's checks on the task and container, once both are found."""
    agents = {a.get("name"): a for a in container.managed_agents}
    agent = agents.get(AGENT_NAME)
    if not task.enable_execute_command or agent is None:
        raise InvalidParameterException(NOT_ENABLED)
    if container.last_status != ContainerStatus.RUNNING:
        raise TargetNotConnectedException(
            f"The execute command failed because container {container.name} is "
            f"{container.last_status}, not RUNNING."
        )
    if agent.get("lastStatus") != "RUNNING":
        raise InvalidParameterException(NOT_ENABLED)
    if not agent_connected:
        raise TargetNotConnectedException(
            "The execute command failed because the agent on the task's container instance "
            "is not connected. Try again later."
        )


def log_destination(cluster: Cluster) -> LogDestination:
    exec_cfg = (cluster.configuration or {}).get("executeCommandConfiguration") or {}
    logging = exec_cfg.get("logging", "DEFAULT")
    group = (exec_cfg.get("logConfiguration") or {}).get("cloudWatchLogGroupName")
    if logging == "OVERRIDE" and group:
        return LogDestination(str(group), create_group=False, record_output=True)
    return LogDestination(
        DEFAULT_GROUP_PREFIX + cluster.name,
        create_group=True,
        record_output=logging != "NONE",
    )


def resolve(op: Op, request: ExecuteCommand) -> ExecTarget:
    """Apply ExecuteCommand's rules; the session itself is made by the caller."""
    if not request.interactive:
        raise InvalidParameterException(NOT_INTERACTIVE)
    command = request.command
    argv = parse_command(command)
    with op.store.read() as tx:
        cluster = get_active(op, tx, request.cluster)
        task = find(op, tx, cluster, request.task)[1] if request.task else None
        if task is None:
            raise InvalidParameterException("The referenced task was not found.")
        container = choose_container(task, request.container)
        inst = inst_ops.load(tx, task.instance_arn)
        connected = (
            inst is not None and inst.agent_connected and inst.status != InstanceStatus.INACTIVE
        )
    check_target(task, container, connected)
    return ExecTarget(
        cluster_arn=cluster.arn,
        task_arn=task.arn,
        instance_arn=task.instance_arn,
        container_name=container.name,
        container_arn=container.arn,
        runtime_id=container.runtime_id,
        command=command,
        argv=argv,
        log=log_destination(cluster),
    )
