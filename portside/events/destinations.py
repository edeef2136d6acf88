"""Connections (how to authorize a webhook call) and API destinations (where to send it):
the only writer of their store rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from portside.errors import ResourceNotFoundException
from portside.events.egress import check_endpoint
from portside.events.errors import ResourceAlreadyExistsException, ValidationException
from portside.events.model import ApiDestination, Connection, events_arn
from portside.events.rules import decode_token
from portside.model.doc import from_doc, to_doc
from portside.ops.context import Op
from portside.ops.paging import encode_token
from portside.store.base import Tx

CONNECTIONS = "event_connections"
DESTINATIONS = "event_api_destinations"

T = TypeVar("T")


def _by_name(tx: Tx, table: str, op: Op, kind: str, name: str) -> tuple[str, dict[str, Any]] | None:
    prefix = events_arn(op.region, op.account, f"{kind}/{name}/")
    for key, doc in tx.scan(table, prefix=prefix, limit=1):
        return key, doc
    return None


def _uid(op: Op) -> str:
    """The UUID that ends a new connection's or API destination's ARN."""
    ident = op.world.new_id()
    return f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:32]}"


@dataclass(frozen=True)
class _Family(Generic[T]):
    """Connections or API destinations as their operations read them: one document per
    resource in `table`, under its ARN (`.../{kind}/{name}/{uuid}`)."""

    table: str
    kind: str
    cls: type[T]
    missing: str  # DescribeX's message for a name not found, with {name}

    def _found(self, tx: Tx, op: Op, name: str) -> tuple[str, T]:
        found = _by_name(tx, self.table, op, self.kind, name)
        if found is None:
            raise ResourceNotFoundException(self.missing.format(name=name))
        return found[0], from_doc(self.cls, found[1])

    def describe(self, op: Op, name: str) -> T:
        with op.store.read() as tx:
            return self._found(tx, op, name)[1]

    def delete(self, op: Op, name: str) -> T:
        """The one named `name`, as it was before it was deleted."""
        with op.store.transaction() as tx:
            key, held = self._found(tx, op, name)
            tx.delete(self.table, key)
        return held

    def listed(
        self, op: Op, p: Mapping[str, Any], keep: Callable[[T], bool]
    ) -> tuple[list[T], str | None]:
        """A List* page: those whose name starts with NamePrefix that `keep` admits, past
        NextToken, at most Limit of them, and the token of the next page when more remain."""
        limit = int(p.get("Limit") or 100)
        prefix = events_arn(op.region, op.account, f"{self.kind}/{p.get('NamePrefix') or ''}")
        with op.store.read() as tx:
            rows = list(tx.scan(self.table, prefix=prefix, after=decode_token(p.get("NextToken"))))
        items = [(key, from_doc(self.cls, doc)) for key, doc in rows]
        found = [(key, item) for key, item in items if keep(item)]
        token = encode_token(found[limit - 1][0]) if len(found) > limit else None
        return [item for _, item in found[:limit]], token


_CONNECTION = _Family(
    CONNECTIONS,
    "connection",
    Connection,
    "Failed to describe the connection(s). Connection '{name}' does not exist.",
)
_DESTINATION = _Family(
    DESTINATIONS,
    "api-destination",
    ApiDestination,
    "Failed to describe the api-destination(s). An api-destination '{name}' does not exist.",
)


# -- connections -------------------------------------------------------------------------------


def _check_auth(kind: str, params: Mapping[str, Any]) -> None:
    if kind == "OAUTH_CLIENT_CREDENTIALS":
        raise ValidationException(
            "Portside does not support OAUTH_CLIENT_CREDENTIALS connections; use API_KEY or BASIC."
        )
    needed = {"API_KEY": "ApiKeyAuthParameters", "BASIC": "BasicAuthParameters"}[kind]
    if needed not in params:
        raise ValidationException(f"{needed} must be provided for authorization type {kind}.")
    others = {"ApiKeyAuthParameters", "BasicAuthParameters", "OAuthParameters"} - {needed}
    if others & set(params):
        raise ValidationException(f"Only {needed} may be provided for authorization type {kind}.")


def create_connection(op: Op, p: Mapping[str, Any]) -> Connection:
    kind = p["AuthorizationType"]
    _check_auth(kind, p["AuthParameters"])
    name = p["Name"]
    with op.store.transaction() as tx:
        if _by_name(tx, CONNECTIONS, op, "connection", name) is not None:
            raise ResourceAlreadyExistsException(f"Connection {name} already exists.")
        uid = _uid(op)
        now = op.now()
        conn = Connection(
            arn=events_arn(op.region, op.account, f"connection/{name}/{uid}"),
            name=name,
            region=op.region,
            authorization_type=kind,
            auth_parameters=dict(p["AuthParameters"]),
            created_at=now,
            modified_at=now,
            description=p.get("Description"),
            secret_arn=(
                f"arn:aws:secretsmanager:{op.region}:{op.account}:secret:"
                f"events!connection/{name}/{uid}"
            ),
        )
        tx.put(CONNECTIONS, conn.arn, to_doc(conn))
    return conn


def describe_connection(op: Op, p: Mapping[str, Any]) -> Connection:
    return _CONNECTION.describe(op, p["Name"])


def delete_connection(op: Op, p: Mapping[str, Any]) -> Connection:
    conn = _CONNECTION.delete(op, p["Name"])
    conn.state = "DELETING"
    return conn


def list_connections(op: Op, p: Mapping[str, Any]) -> tuple[list[Connection], str | None]:
    state = p.get("ConnectionState")
    return _CONNECTION.listed(op, p, lambda c: not state or c.state == state)


# -- API destinations --------------------------------------------------------------------------


def _check_endpoint(url: str) -> None:
    # EventBridge takes only https; a self-hosted bus also delivers to plain http (a webhook on
    # the same host or network is the common case).
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValidationException(
            f"InvocationEndpoint '{url}' is not valid: give an http:// or https:// URL."
        )


def create_api_destination(op: Op, p: Mapping[str, Any]) -> ApiDestination:
    _check_endpoint(p["InvocationEndpoint"])
    check_endpoint(p["InvocationEndpoint"], op.world.allow_link_local_destinations)
    name = p["Name"]
    with op.store.transaction() as tx:
        if _by_name(tx, DESTINATIONS, op, "api-destination", name) is not None:
            raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.")
        if tx.get(CONNECTIONS, p["ConnectionArn"]) is None:
            raise ResourceNotFoundException(f"Connection '{p['ConnectionArn']}' does not exist.")
        uid = _uid(op)
        now = op.now()
        dest = ApiDestination(
            arn=events_arn(op.region, op.account, f"api-destination/{name}/{uid}"),
            name=name,
            region=op.region,
            connection_arn=p["ConnectionArn"],
            endpoint=p["InvocationEndpoint"],
            http_method=p["HttpMethod"],
            created_at=now,
            modified_at=now,
            rate_limit=p.get("InvocationRateLimitPerSecond"),
            description=p.get("Description"),
        )
        tx.put(DESTINATIONS, dest.arn, to_doc(dest))
    return dest


def describe_api_destination(op: Op, p: Mapping[str, Any]) -> ApiDestination:
    return _DESTINATION.describe(op, p["Name"])


def delete_api_destination(op: Op, p: Mapping[str, Any]) -> None:
    _DESTINATION.delete(op, p["Name"])


def list_api_destinations(op: Op, p: Mapping[str, Any]) -> tuple[list[ApiDestination], str | None]:
    conn = p.get("ConnectionArn")
    return _DESTINATION.listed(op, p, lambda d: not conn or d.connection_arn == conn)
