"""EventBridge Scheduler's API (rest-json, signing name `scheduler`) on the same endpoint.

    POST /schedules/{Name}            CreateSchedule        GET /schedules     ListSchedules
    GET|PUT|DELETE /schedules/{Name}  Get/Update/DeleteSchedule
    POST|GET|DELETE /schedule-groups/{Name}, GET /schedule-groups   the group operations
    GET|POST|DELETE /tags/{ResourceArn}  List/Tag/UntagResource (schedule groups)

A request is signature-checked (the credential scope's service must be `scheduler`), its URI
and query members merged into the body's, validated against botocore's model, and handed to
schedules/ops.py. Errors leave as rest-json services send them: the code in the
`x-amzn-ErrorType` header, `{"Message": ...}` in the body, and the status the model gives
the error (ValidationException 400, ResourceNotFoundException 404, ConflictException 409,
ServiceQuotaExceededException 402, ThrottlingException 429, InternalServerException 500).
Authentication faults are 403.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import botocore.session
import orjson
from botocore.model import OperationModel, Shape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portside.api.auth import Principal, SigV4Verifier
from portside.api.validation import CoralDialect, InputValidator, Violation, parse_body
from portside.errors import (
    AuthError,
    InvalidSignatureException,
    PortsideError,
    RequestError,
    ValidationException,
)
from portside.model.doc import to_doc
from portside.ops import task_build
from portside.ops.context import Caller, Op, World, root_principal
from portside.schedules import ops
from portside.schedules import target as targets
from portside.schedules.model import Schedule

log = logging.getLogger("portside.api.scheduler")

SIGNING_NAME = "scheduler"
# Portside's own, signed like the API: where a schedule's firing stands (the Scheduler's API
# has no member for it). `portside schedule get` shows it.
STATUS = "/_portside/scheduler/v1/status/{Group}/{Name}"
_STATUS = {
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "InternalServerException": 500,
}


class SchedulerDialect(CoralDialect):
    """Coral's wording, with the Scheduler's error type for constraint faults."""

    def report(self, faults: list[Violation]) -> RequestError:
        return ValidationException(super().report(faults).message)


def _error(exc: PortsideError) -> Response:
    status = 403 if isinstance(exc, AuthError) else _STATUS.get(exc.code, exc.status)
    return Response(
        orjson.dumps({"Message": exc.message}),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": exc.code, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _fault() -> Response:
    return Response(
        orjson.dumps({"Message": "An internal error occurred."}),
        status_code=500,
        media_type="application/json",
        headers={"x-amzn-ErrorType": "InternalServerException"},
    )


def _query_value(shape: Shape, raw: str) -> Any:
    if shape.type_name in ("integer", "long") and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


class SchedulerApi:
    def __init__(self, world: World, account: str, secret_for: Callable[[str], str | None]) -> None:
        session = botocore.session.get_session()
        self.model = session.get_service_model("scheduler")
        self.validator = InputValidator(self.model, SchedulerDialect())
        self.run_task = InputValidator(session.get_service_model("ecs"))
        self.world = world
        self.account = account
        self.verifier = SigV4Verifier(secret_for, world.clock)

    def routes(self) -> list[BaseRoute]:
        def at(path: str, **by_method: str) -> Route:
            return Route(path, self._endpoint(by_method), methods=list(by_method))

        return [
            at("/schedules", GET="ListSchedules"),
            at(
                "/schedules/{Name}",
                POST="CreateSchedule",
                GET="GetSchedule",
                PUT="UpdateSchedule",
                DELETE="DeleteSchedule",
            ),
            Route(STATUS, self._status, methods=["GET"]),
            at(
                "/tags/{ResourceArn:path}",
                GET="ListTagsForResource",
                POST="TagResource",
                DELETE="UntagResource",
            ),
            at("/schedule-groups", GET="ListScheduleGroups"),
            at(
                "/schedule-groups/{Name}",
                POST="CreateScheduleGroup",
                GET="GetScheduleGroup",
                DELETE="DeleteScheduleGroup",
            ),
        ]

    def _endpoint(self, by_method: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            name = by_method[request.method]
            try:
                op, params = self._prepare(request, name, await request.body())
                handler = _HANDLERS[name]
                if request.method == "GET":
                    result = handler(self, op, params)
                else:
                    # A write waits for its fsync; let reads go on meanwhile.
                    result = await asyncio.to_thread(handler, self, op, params)
            except PortsideError as exc:
                if exc.status >= 500:
                    log.error("%s failed: %s", name, exc.message)
                return _error(exc)
            except Exception:
                log.exception("%s failed", name)
                return _fault()
            return Response(
                orjson.dumps(result),
                media_type="application/json",
                headers={"x-amzn-RequestId": str(uuid.uuid4())},
            )

        return handle

    async def _status(self, request: Request) -> Response:
        try:
            principal = self._principal(request, await request.body())
            op = Op(self.world, _caller(self.account, principal.region, principal.access_key))
            found = ops.get_schedule(op, request.path_params["Name"], request.path_params["Group"])
        except PortsideError as exc:
            return _error(exc)
        status = {
            "nextFire": found.next_fire,
            "pending": to_doc(found.pending),
            "lastRun": to_doc(found.last_run),
        }
        return Response(orjson.dumps(status), media_type="application/json")

    def _principal(self, request: Request, body: bytes) -> Principal:
        principal = self.verifier.verify(
            method=request.method,
            # SigV4 encodes a non-S3 path twice: the canonical form of /schedules/a%21b is
            # /schedules/a%2521b (the verifier encodes once more, leaving % alone).
            path=quote(request.scope.get("raw_path", b"/").decode("latin-1") or "/", safe="/~"),
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=request.headers,
            multi_headers=request.headers.getlist,
            body=body,
        )
        if principal.service != SIGNING_NAME:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{SIGNING_NAME}'. "
            )
        return principal

    def _prepare(self, request: Request, name: str, body: bytes) -> tuple[Op, dict[str, Any]]:
        principal = self._principal(request, body)
        operation = self.model.operation_model(name)
        wire: Any = parse_body(body) if body.strip() else {}
        if isinstance(wire, dict):
            _merge_location(operation, request, wire)
        checked = self.validator.validate(name, wire)
        caller = _caller(self.account, principal.region, principal.access_key)
        return Op(self.world, caller), _member_names(operation, checked)

    def check_run_task(self, target: dict[str, Any], name: str) -> None:
        """The target must make a valid RunTask request (validated as ECS would)."""
        targets.check(target)
        try:
            # A copy: the validator drops unknown members in place.
            params = orjson.loads(orjson.dumps(targets.run_task_params(target, name)))
            self.run_task.validate("RunTask", params)
            # RunTask's own parameter rules, which its model does not carry.
            task_build.check_count(params.get("count"))
            task_build.check_started_by(params.get("startedBy"))
            task_build.check_group(params.get("group"))
        except PortsideError as exc:
            raise ValidationException(
                f"The target does not make a valid RunTask request: {exc.message}"
            ) from None


def _caller(account: str, region: str, access_key: str) -> Caller:
    return Caller(account, region, access_key, root_principal(account))


def _merge_location(operation: OperationModel, request: Request, wire: dict[str, Any]) -> None:
    """Put the URI and query-string members where the validator expects them: under their
    wire names, as a JSON body would carry them."""
    shape = operation.input_shape
    if shape is None:
        return
    for member in shape.members.values():
        location = member.serialization.get("location")
        key = member.serialization.get("name")
        if location == "uri" and key in request.path_params:
            wire[key] = request.path_params[key]
        elif location == "querystring" and key in request.query_params:
            if member.type_name == "list":
                wire[key] = request.query_params.getlist(key)
            else:
                wire[key] = _query_value(member, request.query_params[key])


def _member_names(operation: OperationModel, checked: dict[str, Any]) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    out: dict[str, Any] = {}
    for member, member_shape in shape.members.items():
        key = member_shape.serialization.get("name", member)
        if key in checked:
            out[member] = checked[key]
    return out


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def shape_schedule(s: Schedule) -> dict[str, Any]:
    return _drop_none(
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


def _paged(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if token:
        out["NextToken"] = token
    return out


# -- the actions -----------------------------------------------------------------------------


def _create(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    api.check_run_task(p["Target"], p["Name"])
    return {"ScheduleArn": ops.create_schedule(op, p)}


def _update(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    api.check_run_task(p["Target"], p["Name"])
    return {"ScheduleArn": ops.update_schedule(op, p)}


def _get(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return shape_schedule(ops.get_schedule(op, p["Name"], p.get("GroupName")))


def _delete(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.delete_schedule(op, p["Name"], p.get("GroupName"))
    return {}


def _list(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = ops.list_schedules(
        op,
        p.get("GroupName"),
        p.get("NamePrefix"),
        p.get("State"),
        p.get("MaxResults"),
        p.get("NextToken"),
    )
    return _paged("Schedules", [_summary(s) for s in found], token)


def _create_group(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = ops.create_group(op, p["Name"], p.get("Tags") or [], p.get("ClientToken"))
    return {"ScheduleGroupArn": arn}


def _get_group(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _group(ops.get_group(op, p["Name"]))


def _list_groups(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = ops.list_groups(op, p.get("NamePrefix"), p.get("MaxResults"), p.get("NextToken"))
    return _paged("ScheduleGroups", [_group(d) for d in found], token)


def _delete_group(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.delete_group(op, p["Name"])
    return {}


def _list_tags(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": ops.list_tags(op, p["ResourceArn"])}


def _tag(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.tag_resource(op, p["ResourceArn"], p["Tags"])
    return {}


def _untag(api: SchedulerApi, op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ops.untag_resource(op, p["ResourceArn"], p["TagKeys"])
    return {}


_HANDLERS: dict[str, Callable[[SchedulerApi, Op, dict[str, Any]], dict[str, Any]]] = {
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
