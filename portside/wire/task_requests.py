"""The task family's requests, wire -> values (model/launch.py, model/requests.py): for the API

Members are read as botocore's model validated them. A schedule's RunTask request (its
target, schedules/target.py) comes through `launch` too: it was checked against RunTask's
shape when the schedule was made."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.model.doc import from_doc
from portside.model.launch import AwsVpc, Launch, StartTask, strategy_of
from portside.model.overrides import TaskOverrides
from portside.model.placement import constraints_of, strategies_of
from portside.model.requests import ExecuteCommand, TaskQuery

Wire = Mapping[str, Any]


def launch(p: Wire) -> Launch:
    """RunTask's request (StartTask's members are a subset)."""
    return Launch(
        task_definition=p["taskDefinition"],
        cluster=p.get("cluster"),
        count=p.get("count"),
        launch_type=p.get("launchType"),
        capacity_provider_strategy=strategy_of(p.get("capacityProviderStrategy")),
        placement_constraints=constraints_of(p.get("placementConstraints")),
        placement_strategy=strategies_of(p.get("placementStrategy")),
        network=AwsVpc.of(p.get("networkConfiguration")),
        overrides=_overrides(p.get("overrides")),
        tags=tuple(p.get("tags") or ()),
        started_by=p.get("startedBy"),
        group=p.get("group"),
        enable_execute_command=bool(p.get("enableExecuteCommand")),
        propagate_tags=p.get("propagateTags"),
        reference_id=p.get("referenceId"),
        client_token=p.get("clientToken"),
    )


def _overrides(given: Wire | None) -> TaskOverrides | None:
    return None if given is None else TaskOverrides.from_doc(given)


def start_task(p: Wire) -> StartTask:
    return StartTask(launch(p), tuple(p["containerInstances"]))


def task_query(p: Wire) -> TaskQuery:
    """ListTasks: its members are the query's fields, in ECS's names."""
    return from_doc(TaskQuery, dict(p))


def execute_command(p: Wire) -> ExecuteCommand:
    return ExecuteCommand(
        cluster=p.get("cluster"),
        task=str(p.get("task") or ""),
        command=str(p.get("command") or ""),
        interactive=p.get("interactive") is True,
        container=p.get("container"),
    )
