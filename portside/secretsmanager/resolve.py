"""A task's secret, as ECS hands it to a container: the value of a Secrets Manager secret named
by a container definition's `valueFrom`, or the reason the task cannot start, in ECS's words.

`valueFrom` is the secret's ARN (full or partial), or that ARN followed by ECS's
`:json-key:version-stage:version-id` (each part may be empty: `arn...:secret:db:password::`).
As the ECS agent does, a JSON key reads the SecretString as a JSON object and gives the key's
value as Go prints it (`govalue.py`); a version stage or id picks the version, AWSCURRENT
otherwise. A bare name is taken as the secret's name in the task's account and region.

A failure is `SecretRetrievalError`, whose message is the task's stoppedReason as Fargate words
it (ResourceInitializationError: unable to pull secrets or registry auth: execution resource
retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s):
...), ending with
  `failed to fetch secret ARN from secrets manager: CODE: MESSAGE status code: 400, request
  id: ID` for an error of Secrets Manager (the AWS SDK for Go's words for a service error),
  `retrieved secret from Secrets Manager did not contain json key KEY` for a missing key,
  Go's encoding/json message for a value that is no JSON object (`invalid character 'x'
  looking for beginning of value`, `unexpected end of JSON input`, `json: cannot unmarshal
  array into Go value of type map[string]interface {}`), and the agent's words for a
  valueFrom it cannot read (`an invalid ARN format for the AWS Secrets Manager secret was
  specified. Specify a valid ARN and try again.`).
"""

from __future__ import annotations

import json
from typing import Any

from portside.errors import NamedError
from portside.ops.context import Caller, Op, World, root_principal
from portside.secretsmanager import names, records, values
from portside.secretsmanager.govalue import format_value

PREFIX = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: unable to retrieve secret from asm: service call has been retried 1 "
    "time(s): "
)
_INVALID_ARN = (
    "an invalid ARN format for the AWS Secrets Manager secret was specified. Specify a valid "
    "ARN and try again."
)


class SecretRetrievalError(Exception):
    """The secret cannot be given to the task; the message is ECS's stoppedReason."""

    def __init__(self, detail: str) -> None:
        super().__init__(PREFIX + detail)
        self.message = PREFIX + detail


class Reference:
    """A `valueFrom` read: the SecretId to ask for, where, and the ECS suffix's parts."""

    def __init__(self, value_from: str, account: str, region: str) -> None:
        self.secret_id = value_from
        self.account, self.region = account, region
        self.json_key: str | None = None
        self.stage: str | None = None
        self.version_id: str | None = None
        if not value_from.startswith("arn:"):
            return
        parts = value_from.split(":", 5)
        if len(parts) < 6 or parts[2] != "secretsmanager" or not parts[5].startswith("secret:"):
            raise SecretRetrievalError(_INVALID_ARN)
        self.region, self.account = parts[3], parts[4]
        resource = parts[5].split(":")
        if len(resource) == 5:
            self.secret_id = ":".join(parts[:5] + resource[:2])
            self.json_key, self.stage, self.version_id = (p or None for p in resource[2:])
        elif len(resource) != 2:
            raise SecretRetrievalError(_INVALID_ARN)


def resolve(world: World, account: str, region: str, value_from: str) -> str:
    """The text ECS injects for `valueFrom`, for a task of `account` in `region`."""
    ref = Reference(value_from, account, region)
    op = Op(world, Caller(ref.account, ref.region, "", root_principal(ref.account)))
    try:
        with op.store.read() as tx:
            doc = records.get(op, tx, ref.secret_id)
            out, access = values.read(op, tx, doc, ref.version_id, ref.stage)
    except NamedError as e:
        request_id = names.version_id(world.new_id())
        raise SecretRetrievalError(
            f"failed to fetch secret {ref.secret_id} from secrets manager: {e.code}: "
            f"{e.message} status code: {e.status}, request id: {request_id}"
        ) from None
    values.note(op, [access] if access else [])
    text = out.get("SecretString") or ""
    if ref.json_key is None:
        return text
    held = _object(text)
    if ref.json_key not in held:
        raise SecretRetrievalError(
            f"retrieved secret from Secrets Manager did not contain json key {ref.json_key}"
        )
    return format_value(held[ref.json_key])


def _object(text: str) -> dict[str, Any]:
    """`text` decoded as Go decodes it into a map[string]interface{}, failing in its words."""
    try:
        held = json.loads(text)
    except json.JSONDecodeError as e:
        raise SecretRetrievalError(_go_syntax_error(text, e)) from None
    if held is None:
        return {}
    if not isinstance(held, dict):
        kind = {bool: "bool", str: "string", list: "array"}.get(type(held), "number")
        raise SecretRetrievalError(
            f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
        )
    return held


_GO_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": (
        "looking for beginning of object key string"
    ),
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
}


def _go_syntax_error(text: str, e: json.JSONDecodeError) -> str:
    if e.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    char = text[e.pos]
    quoted = "'\\''" if char == "'" else "'" + json.dumps(char)[1:-1].replace('\\"', '"') + "'"
    return f"invalid character {quoted} {_GO_CONTEXT.get(e.msg, 'looking for beginning of value')}"
