"""The one mapping from the exception tree to AWS JSON error responses."""

from __future__ import annotations

import orjson

from portside.errors import PortsideError, ServerException


def error_body(exc: PortsideError) -> tuple[int, bytes]:
    """(HTTP status, JSON body) for an error, as AWS JSON 1.1 services send it."""
    return exc.status, orjson.dumps({"__type": exc.code, "message": exc.message})


def server_fault() -> tuple[int, bytes]:
    return error_body(ServerException("An internal error occurred. The request was not applied."))
