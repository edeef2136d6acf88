"""Connections (how to authorize a webhook call) and API destinations (where to send it):
the only writer of their store rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
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


def _by_name(tx: Tx, table: str, op: Op, kind: str, name: str) -> tuple[str, dict[str, Any]] | None:
    prefix = events_arn(op.region, op.account, f"{kind}/{name}/")
    for key, doc in tx.scan(table, prefix=prefix, limit=1):
        return key, doc
    return None


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
        ident = op.world.new_id()
        uid = f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:32]}"
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


def load_connection(tx: Tx, op: Op, name: str) -> Connection:
    found = _by_name(tx, CONNECTIONS, op, "connection", name)
    if found is None:
        raise ResourceNotFoundException(
            f"Failed to describe the connection(s). Connection '{name}' does not exist."
        )
    return from_doc(Connection, found[1])


def describe_connection(op: Op, p: Mapping[str, Any]) -> Connection:
    with op.store.read() as tx:
        return load_connection(tx, op, p["Name"])


def delete_connection(op: Op, p: Mapping[str, Any]) -> Connection:
    with op.store.transaction() as tx:
        conn = load_connection(tx, op, p["Name"])
        tx.delete(CONNECTIONS, conn.arn)
    conn.state = "DELETING"
    return conn


def list_connections(op: Op, p: Mapping[str, Any]) -> tuple[list[Connection], str | None]:
    limit = int(p.get("Limit") or 100)
    prefix = events_arn(op.region, op.account, f"connection/{p.get('NamePrefix') or ''}")
    with op.store.read() as tx:
        rows = list(tx.scan(CONNECTIONS, prefix=prefix, after=decode_token(p.get("NextToken"))))
    found = [from_doc(Connection, doc) for _, doc in rows]
    if p.get("ConnectionState"):
        found = [c for c in found if c.state == p["ConnectionState"]]
    token = encode_token(found[limit - 1].arn) if len(found) > limit else None
    return found[:limit], token


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
        ident = op.world.new_id()
        uid = f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:32]}"
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


def load_destination(tx: Tx, op: Op, name: str) -> ApiDestination:
    found = _by_name(tx, DESTINATIONS, op, "api-destination", name)
    if found is None:
        raise ResourceNotFoundException(
            "Failed to describe the api-destination(s). "
            f"An api-destination '{name}' does not exist."
        )
    return from_doc(ApiDestination, found[1])


def describe_api_destination(op: Op, p: Mapping[str, Any]) -> ApiDestination:
    with op.store.read() as tx:
        return load_destination(tx, op, p["Name"])


def delete_api_destination(op: Op, p: Mapping[str, Any]) -> None:
    with op.store.transaction() as tx:
        dest = load_destination(tx, op, p["Name"])
        tx.delete(DESTINATIONS, dest.arn)


def list_api_destinations(op: Op, p: Mapping[str, Any]) -> tuple[list[ApiDestination], str | None]:
    limit = int(p.get("Limit") or 100)
    prefix = events_arn(op.region, op.account, f"api-destination/{p.get('NamePrefix') or ''}")
    with op.store.read() as tx:
        rows = list(tx.scan(DESTINATIONS, prefix=prefix, after=decode_token(p.get("NextToken"))))
    found = [from_doc(ApiDestination, doc) for _, doc in rows]
    if p.get("ConnectionArn"):
        found = [d for d in found if d.connection_arn == p["ConnectionArn"]]
    token = encode_token(found[limit - 1].arn) if len(found) > limit else None
    return found[:limit], token
