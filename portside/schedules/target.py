"""A schedule's target as RunTask's parameters: a RunTask request in ECS's wire names, which
the schedule controller turns into a `Launch` with the ECS edge's own parser
(wire/task_requests.py), as a RunTask call would be.

Two targets run ECS tasks, as on AWS:

* the templated ECS target: Target.Arn is a cluster ARN and EcsParameters says what to run;
  Input, when given, is a JSON object used as RunTask's `overrides` (what EventBridge's ECS
  targets do with their input);
* the universal target `arn:aws:scheduler:::aws-sdk:ecs:runTask`: Input is RunTask's
  request as JSON (ECS's member names; a leading capital, as SDK-generated input has, is
  accepted too).

Tasks are started by `chronos-schedule/<name>` (cut to 36 characters), as on AWS, unless the
universal target's input says otherwise. Each invocation carries a clientToken made from the
schedule, the occurrence and the attempt, so an invocation repeated after a crash returns the
tasks it already started instead of starting more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from portside.errors import ValidationException
from portside.model import arn as arns
from portside.schedules.model import started_by

UNIVERSAL_RUN_TASK = "arn:aws:scheduler:::aws-sdk:ecs:runTask"


def check(target: Mapping[str, Any]) -> None:
    """ValidationException unless the target is one Portside can invoke."""
    arn = str(target.get("Arn", ""))
    if arn == UNIVERSAL_RUN_TASK:
        if "Input" not in target:
            raise ValidationException(f"Input is required for the universal target {arn}.")
        _json_object(target["Input"], "the RunTask request")
        return
    parsed = arns.parse(arn)
    if parsed is None or parsed.service != "ecs" or parsed.kind != "cluster":
        # Portside runs containers; it has no Lambda, SQS or other targets to call.
        raise ValidationException(
            f"Invalid target {arn}: Portside invokes ECS targets only (a cluster ARN with "
            f"EcsParameters, or {UNIVERSAL_RUN_TASK})."
        )
    if not target.get("EcsParameters"):
        raise ValidationException("EcsParameters is required for an Amazon ECS target.")
    if "Input" in target:
        _json_object(target["Input"], "the task overrides")


def _json_object(text: Any, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ValidationException(f"Input must be a JSON object: {what}.")
    return value


def run_task_params(target: Mapping[str, Any], name: str) -> dict[str, Any]:
    """RunTask's parameters (ECS's wire names) for one invocation, without a clientToken."""
    if target.get("Arn") == UNIVERSAL_RUN_TASK:
        given = _json_object(target["Input"], "the RunTask request")
        params = {key[:1].lower() + key[1:]: value for key, value in given.items()}
        params.setdefault("startedBy", started_by(name))
        return params
    ecs: Mapping[str, Any] = target.get("EcsParameters") or {}
    params = {
        "cluster": target["Arn"],
        "taskDefinition": ecs["TaskDefinitionArn"],
        "count": ecs.get("TaskCount") or 1,
        "startedBy": started_by(name),
        "launchType": ecs.get("LaunchType"),
        "capacityProviderStrategy": ecs.get("CapacityProviderStrategy"),
        "placementConstraints": ecs.get("PlacementConstraints"),
        "placementStrategy": ecs.get("PlacementStrategy"),
        "platformVersion": ecs.get("PlatformVersion"),
        "group": ecs.get("Group"),
        "enableECSManagedTags": ecs.get("EnableECSManagedTags"),
        "enableExecuteCommand": ecs.get("EnableExecuteCommand"),
        "propagateTags": ecs.get("PropagateTags"),
        "referenceId": ecs.get("ReferenceId"),
    }
    network = (ecs.get("NetworkConfiguration") or {}).get("awsvpcConfiguration")
    if network:
        params["networkConfiguration"] = {
            "awsvpcConfiguration": {
                "subnets": network.get("Subnets"),
                "securityGroups": network.get("SecurityGroups"),
                "assignPublicIp": network.get("AssignPublicIp"),
            }
        }
    if ecs.get("Tags"):
        # The Scheduler's tags are a list of one-entry maps; RunTask's are key/value pairs.
        params["tags"] = [{"key": k, "value": v} for item in ecs["Tags"] for k, v in item.items()]
    if "Input" in target:
        params["overrides"] = _json_object(target["Input"], "the task overrides")
    return _drop_none(params)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def client_token(schedule_arn: str, nominal: int, attempt: int) -> str:
    """RunTask's clientToken for one attempt at one occurrence (64 hex digits)."""
    return hashlib.sha256(f"{schedule_arn}|{nominal}|{attempt}".encode()).hexdigest()
