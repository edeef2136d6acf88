"""EventBridge Scheduler's operations (rest-json, signing name `scheduler`) on the edge.

    POST /schedules/{Name}            CreateSchedule        GET /schedules     ListSchedules
    GET|PUT|DELETE /schedules/{Name}  Get/Update/DeleteSchedule
    POST|GET|DELETE /schedule-groups/{Name}, GET /schedule-groups   the group operations
    GET|POST|DELETE /tags/{ResourceArn}  List/Tag/UntagResource (schedule groups)

The edge routes, signs, decodes (the rest-json codec merges URI, query and body members) and
validates against botocore's model with the Scheduler's ValidationException; the handlers
here hand the canonical params to schedules/ops.py. Errors leave as rest-json services send
them (api/protocols/rest_json.py): the code in `x-amzn-ErrorType`, `{"Message": ...}`, and
the status the model gives the error (ValidationException 400, ResourceNotFoundException
404, ConflictException 409, ServiceQuotaExceededException 402, InternalServerException 500).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import botocore.session
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portside.api.auth import Principal
from portside.api.protocols.base import WireRequest, request_head
from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect, InputValidator
from portside.errors import (
    AuthError,
    InvalidSignatureException,
    PortsideError,
    ValidationException,
)
from portside.model.doc import to_doc
from portside.ops import task_build
from portside.ops.context import Caller, Op, World, root_principal
from portside.schedules import ops
from portside.schedules import target as targets
from portside.schedules.model import Schedule
from portside.wire.replies import drop_none, page

SIGNING_NAME = "scheduler"
# Portside's own, signed like the API: where a schedule's firing stands (the Scheduler's API
# has no member for it). `portside schedule get` shows it.
STATUS = "/_portside/scheduler/v1/status/{Group}/{Name}"


def _error(exc: PortsideError) -> Response:
    status = (
        403
        if isinstance(exc, AuthError)
        else (404 if exc.code == "ResourceNotFoundException" else exc.status)
    )
    return Response(
        orjson.dumps({"Message": exc.message}),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": exc.code},
    )


_RUN_TASK = InputValidator(botocore.session.get_session().get_service_model("ecs"))


def check_run_task(target: dict[str, Any], name: str) -> None:
    """The target must make a valid RunTask request (validated as ECS would)."""
    targets.check(target)
    try:
        # A copy: the validator drops unknown members in place.
        params = orjson.loads(orjson.dumps(targets.run_task_params(target, name)))
        _RUN_TASK.validate("RunTask", params)
        # RunTask's own parameter rules, which its model does not carry.
        task_build.check_count(params.get("count"))
        task_build.check_started_by(params.get("startedBy"))
        task_build.check_group(params.get("group"))
    except PortsideError as exc:
        raise ValidationException(
            f"The target does not make a valid RunTask request: {exc.message}"
        ) from None


def status_routes(
    authenticate: Callable[[WireRequest], Principal], world: World, account: str
) -> list[BaseRoute]:
    """Portside's own, signed like the API: where a schedule's firing stands."""

    async def status(request: Request) -> Response:
        try:
            principal = authenticate(
                replace(request_head(request.scope), body=await request.body())
            )
            if principal.service != SIGNING_NAME:
                raise InvalidSignatureException(
                    f"Credential should be scoped to correct service: '{SIGNING_NAME}'. "
                )
            caller = Caller(
                account, principal.region, principal.access_key, root_principal(account)
            )
            found = ops.get_schedule(
                Op(world, caller), request.path_params["Name"], request.path_params["Group"]
            )
        except PortsideError as exc:
            return _error(exc)
        body = {
            "nextFire": found.next_fire,
            "pending": to_doc(found.pending),
            "lastRun": to_doc(found.last_run),
        }
        return Response(orjson.dumps(body), media_type="application/json")

    return [Route(STATUS, status, methods=["GET"])]


def shape_schedule(s: Schedule) -> dict[str, Any]:
    return drop_none(
        {
            "Arn": s.arn,
            "GroupName": s.group_name,
            "Name": s.name,
            "ScheduleExpression": s.expression,
            "StartDate": s.start_date,
            "EndDate": s.end_date,
            "Description": s.description,
            "ScheduleExpressionTimezone": s.timezone,
            "State": s.state,
            "CreationDate": s.created_at,
            "LastModificationDate": s.modified_at,
            "KmsKeyArn": s.kms_key_arn,
            "Target": s.target,
            "FlexibleTimeWindow": s.flexible_window,
            "ActionAfterCompletion": s.action_after_completion,
        }
    )


def _summary(s: Schedule) -> dict[str, Any]:
    return {
        "Arn": s.arn,
        "Name": s.name,
        "GroupName": s.group_name,
        "State": s.state,
        "CreationDate": s.created_at,
        "LastModificationDate": s.modified_at,
        "Target": {"Arn": s.target["Arn"]},
    }


def _group(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "Arn": doc["arn"],
        "Name": doc["name"],
        "State": doc["state"],
        "CreationDate": doc["creationDate"],
        "LastModificationDate": doc["lastModificationDate"],
    }


# -- the actions -----------------------------------------------------------------------------


def _create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    check_run_task(p["Target"], p["Name"])
    return {"ScheduleArn": ops.create_schedule(op, p)}


def _update(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    check_run_task(p["Target"], p["Name"])
    return {"ScheduleArn": ops.update_schedule(op, p)}


def _get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return shape_schedule(ops.get_schedule(op, p["Name"], p.get("GroupName")))


def _delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.delete_schedule(op, p["Name"], p.get("GroupName"))
    return {}


def _list(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = ops.list_schedules(
        op,
        p.get("GroupName"),
        p.get("NamePrefix"),
        p.get("State"),
        p.get("MaxResults"),
        p.get("NextToken"),
    )
    return page("Schedules", [_summary(s) for s in found], token, token_key="NextToken")


def _create_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = ops.create_group(op, p["Name"], p.get("Tags") or [], p.get("ClientToken"))
    return {"ScheduleGroupArn": arn}


def _get_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _group(ops.get_group(op, p["Name"]))


def _list_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = ops.list_groups(op, p.get("NamePrefix"), p.get("MaxResults"), p.get("NextToken"))
    return page("ScheduleGroups", [_group(d) for d in found], token, token_key="NextToken")


def _delete_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.delete_group(op, p["Name"])
    return {}


def _list_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": ops.list_tags(op, p["ResourceArn"])}


def _tag(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.tag_resource(op, p["ResourceArn"], p["Tags"])
    return {}


def _untag(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.untag_resource(op, p["ResourceArn"], p["TagKeys"])
    return {}


HANDLERS: dict[str, Callable[[Op, dict[str, Any]], dict[str, Any]]] = {
    "CreateSchedule": _create,
    "UpdateSchedule": _update,
    "GetSchedule": _get,
    "DeleteSchedule": _delete,
    "ListSchedules": _list,
    "CreateScheduleGroup": _create_group,
    "GetScheduleGroup": _get_group,
    "ListScheduleGroups": _list_groups,
    "DeleteScheduleGroup": _delete_group,
    "ListTagsForResource": _list_tags,
    "TagResource": _tag,
    "UntagResource": _untag,
}


SERVICE = ServiceSpec(
    "scheduler",
    HANDLERS,
    signing_name=SIGNING_NAME,
    dialect=CoralDialect(ValidationException),
)
