"""What a task run becomes for the driver (pure): a new run from the control plane's task,
the container definitions with RunTask's overrides applied, the TaskSpec and the labels every
container carries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from portside.agent import driver as drv
from portside.agent.driver import TaskSpec
from portside.agent.runner import ContainerRun, TaskRun
from portside.gateway.protocol import AgentTask, TaskOverrides


def new_run(task: AgentTask, new_token: Callable[[], str]) -> TaskRun:
    """The run of a task this host has not run before; each container gets its metadata
    endpoint token."""
    return TaskRun(
        arn=task.arn,
        task=task,
        containers={
            c["name"]: ContainerRun(c["name"], with_overrides(c, task.overrides), new_token())
            for c in task.definition.get("containerDefinitions") or ()
        },
        status=task.last_status,
    )


def with_overrides(container: Mapping[str, Any], overrides: TaskOverrides) -> dict[str, Any]:
    """The container definition with RunTask's containerOverrides applied."""
    out = dict(container)
    for o in overrides.containers:
        if o.name != container.get("name"):
            continue
        out.update(o.replacements())
        if o.environment:
            env = {e["name"]: e.get("value", "") for e in out.get("environment") or ()}
            env.update(o.environment)
            out["environment"] = [{"name": k, "value": v} for k, v in env.items()]
        if o.environment_files:
            out["environmentFiles"] = list(out.get("environmentFiles") or ()) + list(
                o.environment_files
            )
    return out


def task_spec(run: TaskRun, instance_arn: str) -> TaskSpec:
    task = run.task
    definition = run.definition
    eni = task.eni
    return TaskSpec(
        task_arn=run.arn,
        task_id=run.arn.rsplit("/", 1)[1],
        cluster=task.cluster,
        instance_arn=instance_arn,
        family=task.family,
        revision=task.revision,
        definition=definition,
        cpu=task.cpu if definition.get("cpu") or task.overrides.cpu else None,
        memory=task.memory if definition.get("memory") or task.overrides.memory else None,
        attachment=eni.to_wire() if eni is not None else None,
    )


def labels(run: TaskRun, c: ContainerRun, instance_arn: str) -> dict[str, str]:
    task = run.task
    return {
        drv.LABEL_CLUSTER: task.cluster,
        drv.LABEL_TASK_ARN: run.arn,
        drv.LABEL_CONTAINER: c.name,
        drv.LABEL_FAMILY: task.family,
        drv.LABEL_VERSION: str(task.revision),
        drv.LABEL_MANAGED: "true",
        drv.LABEL_INSTANCE: instance_arn,
        drv.LABEL_ROLE: "container",
    }
