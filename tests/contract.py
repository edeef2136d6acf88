"""The response contract: every body Portside sends must fit botocore's model of it.

API tests call `attach(client)` on each boto3 client they make; from then on every response
that client receives is checked here before the test sees it, so a stray member, a wrong
type or an enum value the SDKs do not know fails the test that provoked it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import orjson
from botocore.client import BaseClient
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

SERVICES = ("ecs", "logs")

# Error codes any AWS JSON service may answer with, though no model declares them.
COMMON_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "ExpiredTokenException",
        "IncompleteSignatureException",
        "InternalFailure",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "RequestExpired",
        "SerializationException",
        "ServerException",
        "ServiceUnavailableException",
        "ThrottlingException",
        "UnknownOperationException",
        "UnrecognizedClientException",
        "ValidationException",
    }
)

# Coral sends these bare, {"__type": ...} with no message, when it cannot read the request;
# Parameter Store's ParameterNotFound and KMS's InvalidCiphertextException come with an
# empty one.
MESSAGELESS_ERRORS = frozenset(
    {
        "SerializationException",
        "UnknownOperationException",
        "ParameterNotFound",
        "InvalidCiphertextException",
    }
)


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def check_output(service: str, operation: str, body: dict[str, Any]) -> None:
    """Raise AssertionError naming the path if `body` (the parsed JSON response) has a member
    the operation's output shape does not declare, a member of the wrong JSON type, an enum
    value outside the enum, or lacks a required member."""
    shape = service_model(service).operation_model(operation).output_shape
    where = f"{service} {operation} response"
    if shape is None:
        assert body == {}, f"{where}: the operation has no output, got {_show(body)}"
        return
    for problem in _problems(shape, body, ""):
        raise AssertionError(f"{where}: {problem}")


def check_error(
    body: dict[str, Any], operation: str | None = None, service: str | None = None
) -> None:
    """An error body has `__type` (a known ECS/Logs error code from the model's error shapes or
    the common ones) and a non-empty `message`. Given an operation, the code must be one the
    operation declares, or a common one; members beyond `__type` must be the error shape's."""
    assert isinstance(body, dict), f"error body is not a JSON object: {_show(body)}"
    kind = body.get("__type")
    assert isinstance(kind, str) and kind, f"error body has no __type: {_show(body)}"
    code = kind.rsplit("#", 1)[-1]  # Coral may qualify it: com.amazon.coral.service#...
    known = _declared_errors(operation, service)
    assert code in known or code in COMMON_ERRORS, (
        f"__type {code!r} is not an error {operation or 'ECS or Logs'} declares, nor a common one"
    )
    message = body.get("message")
    if code in MESSAGELESS_ERRORS:
        assert message is None or isinstance(message, str), f"{code}: message is not text"
    else:
        assert isinstance(message, str) and message, f"{code} needs a non-empty message: {body}"
    shape = known.get(code)
    # Some models leave `message` out of an error shape's members; every error may carry it.
    members = set(shape.members) if shape is not None else set()
    extra = set(body) - members - {"__type", "message"}
    assert not extra, f"{code} has members its shape does not declare: {sorted(extra)}"
    if shape is not None:
        for problem in _problems(shape, {k: v for k, v in body.items() if k in members}, ""):
            raise AssertionError(f"{code}: {problem}")


def attach(client: BaseClient) -> BaseClient:
    """Check every response `client` receives: check_output on success, check_error else.

    `after-call` fires once per call with the final HTTP response (retries are done by then)
    and runs before botocore raises the ClientError, so a bad error body fails loudly too.
    """
    described = client.meta.service_model
    service = described.service_name

    def check(http_response: Any, model: OperationModel, **_: Any) -> None:
        if getattr(http_response, "raw", None) is None:
            return  # a botocore Stubber answered; there is no wire body to check
        raw = http_response.content
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise AssertionError(f"{model.name} answered with non-JSON: {raw[:200]!r}") from None
        if http_response.status_code < 300:
            check_output(service, model.name, body)
        else:
            check_error(body, model.name, service)

    event = f"after-call.{described.service_id.hyphenize()}"
    client.meta.events.register(event, check, unique_id=f"portside-contract-{id(client)}")
    return client


def _declared_errors(operation: str | None, service: str | None) -> dict[str, StructureShape]:
    services = (service,) if service else SERVICES
    found: dict[str, StructureShape] = {}
    for name in services:
        model = service_model(name)
        if operation is None:
            shapes = model.error_shapes
        elif operation in model.operation_names:
            shapes = model.operation_model(operation).error_shapes
        else:
            continue
        found.update({shape.name: shape for shape in shapes})
    return found


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(shape: Shape, value: Any, path: str) -> Iterator[str]:
    """Every way `value` breaks `shape`, each naming its path (e.g. `clusters[0].status`)."""
    here = path or "(body)"
    if value is None:
        yield f"{here}: null; an absent member is omitted, not null"
        return
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return
        if not isinstance(value, dict):
            yield f"{here}: expected a {shape.name} object, got {_show(value)}"
            return
        for name in shape.required_members:
            if name not in value:
                yield f"{path + '.' if path else ''}{name}: required by {shape.name}, missing"
        for name, item in value.items():
            member = shape.members.get(name)
            where = f"{path}.{name}" if path else name
            if member is None:
                yield f"{where}: {shape.name} declares no such member"
            else:
                yield from _problems(member, item, where)
        if shape.is_tagged_union and len(value) != 1:
            yield f"{here}: the union {shape.name} must set exactly one member"
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            yield f"{here}: expected a list, got {_show(value)}"
            return
        for index, item in enumerate(value):
            yield from _problems(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            yield f"{here}: expected a map, got {_show(value)}"
            return
        for key, item in value.items():
            yield from _problems(shape.key, key, f"{path}{{key {key!r}}}")
            yield from _problems(shape.value, item, f"{path}[{key!r}]")
    else:
        problem = _scalar_problem(shape, kind, value)
        if problem:
            yield f"{here}: {problem}"


def _scalar_problem(shape: Shape, kind: str, value: Any) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        if not isinstance(value, str):
            return f"expected a string, got {_show(value)}"
        if shape.enum and value not in shape.enum:
            return f"{value!r} is not one of {shape.name}'s values {shape.enum}"
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected an integer, got {_show(value)}"
    elif kind in ("double", "float"):
        if not number and value not in ("NaN", "Infinity", "-Infinity"):
            return f"expected a number, got {_show(value)}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            return f"expected true or false, got {_show(value)}"
    elif kind == "timestamp":
        if not number:
            return f"expected epoch seconds (a number), got {_show(value)}"
    elif kind == "blob":
        try:
            base64.b64decode(value, validate=True)
        except (TypeError, ValueError, binascii.Error):
            return f"expected base64 text, got {_show(value)}"
    return None
