"""A service model's error shapes, looked up by the code an exception carries.

`PortsideError.code` is the shape's name (`ResourceNotFoundException`, `DashboardNotFoundError`)
or, for a service that left the query protocol (`awsQueryCompatible`), its query code
(`ResourceNotFound`): botocore exposes the `awsQueryError` trait as the shape's
`metadata['error']` (`code`, `httpStatusCode`, `senderFault`), and the `httpError` trait as
the same `httpStatusCode`. A shape named exactly as the code wins over one whose query code
it is (CloudWatch's `ResourceNotFound` is both a shape and `DashboardNotFoundError`'s code).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from botocore.model import ServiceModel

from portside.errors import AuthError, NamedError, PortsideError


def unknown_operation(message: str) -> NamedError:
    """No operation of the model's is named: 404, as smithy-rs's servers answer an unrouted
    request in both rpcv2Cbor and restJson1 (aws-smithy-http-server, protocol/rpc_v2/router.rs
    and protocol/rest_json_1/router.rs: `Error::NotFound` -> 404 `UnknownOperationException`)
    and as Amazon's service framework answers a request no protocol claims
    (smithy-lang/smithy#1368)."""
    return NamedError("UnknownOperationException", message, 404)


@dataclass(frozen=True, slots=True)
class ErrorShape:
    name: str  # the shape's name: what `__type` / `x-amzn-ErrorType` carry
    status: int | None  # the model's HTTP status, if it gives one
    query_code: str  # the awsQuery code (the name when the model gives none)
    sender: bool  # the caller's fault (awsQuery's `Sender`), else `Receiver`
    message_key: str | None  # the member declared for the text (`message`/`Message`), if any
    modeled: bool = True  # one of the model's shapes (else made up for an error it lacks)


class ErrorShapes:
    """The model's error shapes. `aliases` spells the query codes of errors the model does
    not declare (query.py's names for the edge's authentication faults)."""

    def __init__(self, model: ServiceModel, aliases: Mapping[str, str] | None = None) -> None:
        by_name: dict[str, ErrorShape] = {}
        by_code: dict[str, ErrorShape] = {}
        for shape in model.error_shapes:
            meta = shape.metadata.get("error") or {}
            status = meta.get("httpStatusCode")
            found = ErrorShape(
                name=shape.name,
                status=int(status) if status else None,
                query_code=meta.get("code") or shape.name,
                sender=bool(meta.get("senderFault")) or (int(status or 400) < 500),
                message_key=next((m for m in shape.members if m.lower() == "message"), None),
            )
            by_name[shape.name] = found
            by_code.setdefault(found.query_code, found)
        self._by_name = by_name
        self._by_code = by_code
        self._aliases = aliases or {}

    def answer(self, exc: PortsideError) -> tuple[ErrorShape, int]:
        """The shape `exc` answers as, and the status it answers with: the model's status for
        the shape when it names one, else the exception's. An error the model lacks answers
        as a shape of its own code (a sender fault below 500); an authentication fault stays
        403 whatever a model says of a shape of that name."""
        code = exc.code
        # An authentication fault keeps the edge's code (aliased for query services) even
        # where the model has a shape of that name (STS's ExpiredTokenException is for web
        # identity tokens; an expired session key is ExpiredToken).
        aliased = isinstance(exc, AuthError) and code in self._aliases
        shape = None if aliased else (self._by_name.get(code) or self._by_code.get(code))
        if shape is None:
            own = ErrorShape(
                name=code,
                status=None,
                query_code=self._aliases.get(code, code),
                sender=exc.status < 500,
                message_key=None,
                modeled=False,
            )
            return own, exc.status
        if isinstance(exc, AuthError) or shape.status is None:
            return shape, exc.status
        return shape, shape.status
