"""The data channel's JSON payloads and the messages built around them, pure.

opening text message   the client's first websocket message, text: {"MessageSchemaVersion":
                       "1.0", "RequestId", "TokenValue", "ClientId", "ClientVersion"}
acknowledge            {"AcknowledgedMessageType", "AcknowledgedMessageId",
                       "AcknowledgedMessageSequenceNumber", "IsSequentialMessage": true};
                       sequence number 0, flags 3
channel_closed         {"MessageId", "CreatedDate", "DestinationId", "SessionId",
                       "MessageType": "channel_closed", "SchemaVersion": 1, "Output"}: the
                       session is over; Output, when not empty, says why
handshake request      agent -> client, payload type 5: {"AgentVersion",
                       "RequestedClientActions": [{"ActionType": "SessionType",
                       "ActionParameters": {"SessionType": "Standard_Stream", "Properties"}}]}
handshake response     client -> agent, payload type 6: {"ClientVersion",
                       "ProcessedClientActions": [{"ActionType", "ActionStatus" (1 success,
                       2 failed, 3 unsupported), "ActionResult", "Error"}], "Errors"}
handshake complete     agent -> client, payload type 7: {"HandshakeTimeToComplete" (ns),
                       "CustomerMessage"}
size                   client -> agent, payload type 3: {"cols", "rows"}
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from portside.exec.ssm.message import (
    ACKNOWLEDGE,
    CHANNEL_CLOSED,
    SCHEMA_VERSION,
    Message,
    MessageError,
)

SCHEMA = "1.0"
SHELL = "Standard_Stream"
SHELL_TYPES = frozenset({SHELL, "InteractiveCommands", "NonInteractiveCommands"})
SESSION_TYPE_ACTION = "SessionType"
SUCCESS, FAILED, UNSUPPORTED = 1, 2, 3
ACK_FLAGS = 3


def json_of(payload: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(payload or b"{}")
    except orjson.JSONDecodeError:
        raise MessageError("the payload is not JSON") from None
    if not isinstance(value, dict):
        raise MessageError("the payload is not a JSON object")
    return value


def open_channel(token: str, client_id: str, client_version: str) -> str:
    return orjson.dumps(
        {
            "MessageSchemaVersion": SCHEMA,
            "RequestId": str(uuid.uuid4()),
            "TokenValue": token,
            "ClientId": client_id,
            "ClientVersion": client_version,
        }
    ).decode()


def opening(text: str | bytes) -> dict[str, Any] | None:
    """The opening message's fields when `text` is one (a JSON object with a TokenValue)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and isinstance(value.get("TokenValue"), str):
        return value
    return None


def acknowledge(of: Message, now_ms: int) -> Message:
    body = {
        "AcknowledgedMessageType": of.message_type,
        "AcknowledgedMessageId": str(of.message_id),
        "AcknowledgedMessageSequenceNumber": of.sequence_number,
        "IsSequentialMessage": True,
    }
    return Message(ACKNOWLEDGE, 0, orjson.dumps(body), flags=ACK_FLAGS, created_date=now_ms)


def acknowledged_sequence(m: Message) -> int:
    value = json_of(m.payload).get("AcknowledgedMessageSequenceNumber")
    if not isinstance(value, int):
        raise MessageError("the acknowledgement has no sequence number")
    return value


def channel_closed(session_id: str, now_ms: int, output: str = "", sequence: int = 0) -> Message:
    mid = uuid.uuid4()
    body = {
        "MessageId": str(mid),
        "CreatedDate": str(now_ms),
        "DestinationId": "",
        "SessionId": session_id,
        "MessageType": CHANNEL_CLOSED,
        "SchemaVersion": SCHEMA_VERSION,
        "Output": output,
    }
    return Message(
        CHANNEL_CLOSED, sequence, orjson.dumps(body), created_date=now_ms, message_id=mid
    )


def handshake_request(agent_version: str) -> bytes:
    action = {
        "ActionType": SESSION_TYPE_ACTION,
        "ActionParameters": {"SessionType": SHELL, "Properties": {}},
    }
    return orjson.dumps({"AgentVersion": agent_version, "RequestedClientActions": [action]})


def handshake_response(request: dict[str, Any], client_version: str) -> bytes:
    """The client's answer: the shell session type is taken, anything else is not supported
    (KMS encryption is the other action an agent may ask for)."""
    processed: list[dict[str, Any]] = []
    errors: list[str] = []
    for action in request.get("RequestedClientActions") or []:
        kind = action.get("ActionType") if isinstance(action, dict) else None
        params = action.get("ActionParameters") if isinstance(action, dict) else None
        session_type = params.get("SessionType") if isinstance(params, dict) else None
        if kind == SESSION_TYPE_ACTION and session_type in SHELL_TYPES:
            processed.append({"ActionType": kind, "ActionStatus": SUCCESS})
            continue
        error = f"Unsupported action {kind}"
        if kind == SESSION_TYPE_ACTION:
            error = f"Unknown session type {session_type}"
        processed.append({"ActionType": kind, "ActionStatus": FAILED, "Error": error})
        errors.append(error)
    body: dict[str, Any] = {"ClientVersion": client_version, "ProcessedClientActions": processed}
    if errors:
        body["Errors"] = errors
    return orjson.dumps(body)


def handshake_complete(elapsed_ns: int, customer_message: str = "") -> bytes:
    return orjson.dumps(
        {"HandshakeTimeToComplete": elapsed_ns, "CustomerMessage": customer_message}
    )


def size(rows: int, cols: int) -> bytes:
    return orjson.dumps({"cols": cols, "rows": rows})


def size_of(payload: bytes) -> tuple[int, int] | None:
    """(rows, cols) of a size payload, when both are sane terminal sizes."""
    body = json_of(payload)
    rows, cols = body.get("rows"), body.get("cols")
    if isinstance(rows, int) and isinstance(cols, int) and 0 < rows < 10000 and 0 < cols < 10000:
        return rows, cols
    return None
