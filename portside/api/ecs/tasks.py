"""ECS task actions: wire <-> ops."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.describing import describe_members, failures_shown
from portside.api.ecs.registry import action
from portside.ops import launch, tasks
from portside.ops.context import Op
from portside.wire import task_requests
from portside.wire.ecs_shapes import shape_task as shape
from portside.wire.replies import page


@action("RunTask")
def run_task(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = launch.run_task(op, task_requests.launch(p))
    return {"tasks": [shape(v) for v in views], "failures": failures_shown(failures)}


@action("StartTask")
def start_task(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    views, failures = launch.start_task(op, task_requests.start_task(p))
    return {"tasks": [shape(v) for v in views], "failures": failures_shown(failures)}


@action("StopTask")
def stop_task(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"task": shape(tasks.stop_task(op, p.get("cluster"), p["task"], p.get("reason")))}


describe_members("DescribeTasks", "tasks", tasks.describe_tasks, shape)


@action("ListTasks")
def list_tasks(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys, token = tasks.list_tasks(op, task_requests.task_query(p))
    return page("taskArns", keys, token)
