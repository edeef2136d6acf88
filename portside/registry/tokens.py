"""The registry's token server, on Portside's own port.

Docker's token flow (distribution's `token` auth): the registry answers 401 with
`WWW-Authenticate: Bearer realm=...,service=...,scope=...`; the client calls the realm with
its `docker login` credentials (HTTP Basic) and the scopes it wants, and gets back a JWT
listing the access granted, which the registry checks against the certificate it trusts.

Who may do what is the `Authorizer`'s to say (ECR's: portside/ecr/access.py); this module
reads the request, signs the grant and answers as the token specification asks.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portside.registry.config import ISSUER, SERVICE
from portside.registry.keys import SigningKey

TOKEN_PATH = "/_portside/ecr/token"
LIFETIME = 300  # seconds a registry token is valid (the client asks again as needed)


@dataclass(frozen=True, slots=True)
class Access:
    """One scope: `repository:NAME:pull,push` or `registry:catalog:*`."""

    kind: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict[str, object]:
        return {"type": self.kind, "name": self.name, "actions": list(self.actions)}


class Authorizer(Protocol):
    def authorize(
        self, username: str, password: str, requested: Sequence[Access]
    ) -> tuple[str, list[Access]] | None:
        """For good credentials, (subject, the part of `requested` granted); None for
        bad ones."""


def parse_scopes(values: Sequence[str]) -> list[Access]:
    """`scope` parameters (each may hold several scopes separated by spaces). A repository
    name may hold a colon (a host:port prefix), so the type ends at the first colon and the
    actions start after the last. Malformed scopes are dropped (never granted)."""
    out = []
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name and actions:
                out.append(Access(kind, name, tuple(a for a in actions.split(",") if a)))
    return out


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        text = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


class TokenIssuer:
    def __init__(self, key: SigningKey, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.clock = clock

    def sign(self, subject: str, grants: Sequence[Access], lifetime: int = LIFETIME) -> str:
        now = int(self.clock())
        return self.key.sign(
            {
                "iss": ISSUER,
                "sub": subject,
                "aud": SERVICE,
                "exp": now + lifetime,
                "nbf": now - 5,
                "iat": now,
                "jti": secrets.token_hex(16),
                "access": [g.claim() for g in grants],
            }
        )

    def reply(self, subject: str, grants: Sequence[Access]) -> dict[str, object]:
        token = self.sign(subject, grants)
        issued = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        return {
            "token": token,
            "access_token": token,
            "expires_in": LIFETIME,
            "issued_at": issued.isoformat().replace("+00:00", "Z"),
        }


def _unauthorized(message: str) -> Response:
    return JSONResponse(
        {"errors": [{"code": "UNAUTHORIZED", "message": message, "detail": None}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="portside-ecr"'},
    )


def token_route(issuer: TokenIssuer, authorizer: Authorizer) -> Route:
    async def token(request: Request) -> Response:
        given = basic_credentials(request.headers.get("authorization"))
        if given is None:
            return _unauthorized("authentication required: docker login with ECR's password")
        requested = parse_scopes(request.query_params.getlist("scope"))
        decided = authorizer.authorize(given[0], given[1], requested)
        if decided is None:
            return _unauthorized("the username or password is not valid, or has expired")
        subject, grants = decided
        return JSONResponse(issuer.reply(subject, grants))

    return Route(TOKEN_PATH, token, methods=["GET"])
