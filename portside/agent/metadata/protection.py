"""The task scale-in protection endpoint, as the ECS agent serves it inside a task:

    GET  $ECS_AGENT_URI/task-protection/v1/state   the task's protection
    PUT  $ECS_AGENT_URI/task-protection/v1/state   {"ProtectionEnabled": true,
                                                    "ExpiresInMinutes": 60}

`ECS_AGENT_URI` is `http://<the task network's gateway>:<port>/api/<token>` (ECS:
`http://169.254.170.2/api/<v4 endpoint id>`), the token naming the container as the
metadata endpoint's does. The agent forwards the call to the control plane through the
gateway (gateway/protection.py), for its own task only. Answers are the ECS agent's:

    200 {"protection": {"ExpirationDate": "2026-12-07T12:00:00Z" | null,
                        "ProtectionEnabled": true, "TaskArn": "arn:..."}}
    200 {"failure": {"Arn": "arn:...", "Detail": null, "Reason": "TASK_NOT_VALID"}}
    4xx/5xx {"error": {"Arn": "arn:...", "Code": "...", "Message": "..."}}

(the agent's Go structs marshalled by field name). A body that does not decode, or names a
member the request has not, is InvalidParameterException "UpdateTaskProtection: failed to
decode request"; no ProtectionEnabled is "Invalid request: does not contain
'ProtectionEnabled' field"; an unknown token is a 404 ResourceNotFoundException "Failed to
find a task for the request". Unlike the ECS agent, no task role is needed: the ECS agent
calls ECS with the task's own credentials, Portside's agent through its gateway session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from portside.agent.client import ControlPlaneClient
    from portside.agent.metadata.server import MetadataServer
    from portside.agent.runner import TaskRun

log = logging.getLogger("portside.agent.metadata")

PATH = "/api/{token}/task-protection/v1/state"
_MEMBERS = {"protectionenabled": "ProtectionEnabled", "expiresinminutes": "ExpiresInMinutes"}
_DECODE = "UpdateTaskProtection: failed to decode request"
_NO_FLAG = "Invalid request: does not contain 'ProtectionEnabled' field"
_NO_TASK = "Failed to find a task for the request"

# token -> the task ARN it was issued for (None: unknown token). Called on the event loop.
TaskOf = Callable[[str], str | None]
# (task ARN, enabled or None to read, minutes) -> ECS's response members
# {"protectedTasks", "failures"}; raises with `.status`, `.code`, `.message` for ECS's errors.
Ask = Callable[[str, bool | None, int | None], dict[str, Any]]


class Refused(Exception):
    """An error ECS answered (the gateway's error, passed on as the agent does)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(code: str, message: str, status: int, arn: str = "") -> Response:
    error: dict[str, str] = {"Arn": arn} if arn else {}
    error.update({"Code": code, "Message": message})
    return _json({"error": error}, status)


def go_time(epoch: float) -> str:
    """A time as Go's encoding/json writes it (RFC 3339, fraction only when there is one)."""
    text = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    return text.rstrip(".") + "Z"


def answer_of(members: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """ECS's response for one task as the ECS agent answers it."""
    failures = members.get("failures") or []
    if failures:
        f = failures[0]
        failure = {"Arn": f.get("arn"), "Detail": f.get("detail"), "Reason": f.get("reason")}
        return {"failure": failure}, 200
    p = (members.get("protectedTasks") or [{}])[0]
    expires = p.get("expirationDate")
    protection = {
        "ExpirationDate": go_time(float(expires)) if expires is not None else None,
        "ProtectionEnabled": bool(p.get("protectionEnabled")),
        "TaskArn": p.get("taskArn"),
    }
    return {"protection": protection}, 200


def decode(body: bytes) -> tuple[bool | None, int | None] | None:
    """(ProtectionEnabled, ExpiresInMinutes) as the agent's Go decoder reads the body (member
    names match without regard to case; unknown members refused); None: it does not decode."""
    try:
        doc = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        return None
    if doc is None:
        return (None, None)
    if not isinstance(doc, dict):
        return None
    found: dict[str, Any] = {}
    for key, value in doc.items():
        name = _MEMBERS.get(key.lower())
        if name is None:
            return None
        found[name] = value
    enabled, minutes = found.get("ProtectionEnabled"), found.get("ExpiresInMinutes")
    if enabled is not None and not isinstance(enabled, bool):
        return None
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
        return None
    return enabled, minutes


class ProtectionEndpoint:
    def __init__(self, task_of: TaskOf, ask: Ask) -> None:
        self.task_of = task_of
        self.ask = ask

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self._handle, methods=["GET", "PUT"])]

    async def _handle(self, request: Request) -> Response:
        body = await request.body() if request.method == "PUT" else b""
        wanted: tuple[bool | None, int | None] = (None, None)
        if request.method == "PUT":
            decoded = decode(body)
            if decoded is None:
                return _error("InvalidParameterException", _DECODE, 400)
            wanted = decoded
        task_arn = self.task_of(request.path_params["token"])
        if task_arn is None:
            return _error("ResourceNotFoundException", _NO_TASK, 404)
        enabled, minutes = wanted
        if request.method == "PUT" and enabled is None:
            return _error("InvalidParameterException", _NO_FLAG, 400, task_arn)
        try:
            members = await asyncio.to_thread(self.ask, task_arn, enabled, minutes)
        except Refused as exc:
            return _error(exc.code, exc.message, exc.status, task_arn)
        except Exception as exc:
            log.warning("task protection for %s: %s", task_arn, exc)
            return _error("ServerException", str(exc), 500, task_arn)
        doc, status = answer_of(members)
        return _json(doc, status)


def mount(server: MetadataServer, endpoint: ProtectionEndpoint) -> None:
    """Serve the endpoint on the metadata endpoint's listeners, ahead of any catch-all route
    mounted since (the credentials endpoint's pass-through)."""
    server.app.router.routes[:0] = endpoint.routes()


def gateway_ask(
    client: ControlPlaneClient, session: Callable[[], str], reopen: Callable[[], None]
) -> Ask:
    """Asks the control plane through the agent's gateway session (a new session when the
    control plane restarted); ECS's errors come back as `Refused`."""
    from portside.agent.client import ApiError
    from portside.gateway.protocol.protection import PROTECTION, ProtectionRequest

    def send(task_arn: str, enabled: bool | None, minutes: int | None) -> dict[str, Any]:
        return client.send(PROTECTION, ProtectionRequest(session(), task_arn, enabled, minutes))

    def ask(task_arn: str, enabled: bool | None, minutes: int | None) -> dict[str, Any]:
        try:
            try:
                return send(task_arn, enabled, minutes)
            except ApiError as exc:
                if "UnknownSession" not in exc.message:
                    raise
                reopen()
                return send(task_arn, enabled, minutes)
        except ApiError as exc:
            raise Refused(exc.status, exc.code, exc.message) from None

    return ask


def task_of_runs(runs: Callable[[], Iterable[TaskRun]]) -> TaskOf:
    """token -> task ARN over the agent's task runs (each container's token)."""

    def task_of(token: str) -> str | None:
        for run in runs():
            for c in run.containers.values():
                if c.token == token:
                    return run.arn
        return None

    return task_of
