"""EventBridge actions (target prefix AWSEvents): wire <-> portside.events."""

from __future__ import annotations

from typing import Any

import orjson

from portside.api.registry import Operations, ServiceSpec
from portside.events import destinations, rules
from portside.events.errors import ValidationException
from portside.events.model import DEFAULT_BUS, DISABLED, ENABLED, ApiDestination, Connection, Rule
from portside.events.patterns import compile_pattern
from portside.ops.context import Op

ACTIONS = Operations("EventBridge")
action = ACTIONS.action


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _paged(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if token:
        out["NextToken"] = token
    return out


# -- rules -------------------------------------------------------------------------------------


def shape_rule(rule: Rule, full: bool = False) -> dict[str, Any]:
    out = _drop_none(
        {
            "Name": rule.name,
            "Arn": rule.arn,
            "EventPattern": rule.event_pattern,
            "State": rule.state,
            "Description": rule.description,
            "RoleArn": rule.role_arn,
            "EventBusName": DEFAULT_BUS,
        }
    )
    if full:
        out["CreatedBy"] = rule.created_by
    return out


@action("PutRule")
def put_rule(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"RuleArn": rules.put_rule(op, p).arn}


@action("DescribeRule")
def describe_rule(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return shape_rule(rules.describe_rule(op, p), full=True)


@action("ListRules")
def list_rules(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = rules.list_rules(op, p)
    return _paged("Rules", [shape_rule(r) for r in found], token)


@action("DeleteRule")
def delete_rule(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rules.delete_rule(op, p)
    return {}


@action("EnableRule")
def enable_rule(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rules.set_state(op, p, ENABLED)
    return {}


@action("DisableRule")
def disable_rule(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rules.set_state(op, p, DISABLED)
    return {}


@action("PutTargets")
def put_targets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    failed = rules.put_targets(op, p)
    return {"FailedEntryCount": len(failed), "FailedEntries": failed}


@action("RemoveTargets")
def remove_targets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rules.remove_targets(op, p)
    return {"FailedEntryCount": 0, "FailedEntries": []}


@action("ListTargetsByRule")
def list_targets_by_rule(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = rules.list_targets(op, p)
    return _paged("Targets", [t.spec for t in found], token)


_REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


@action("TestEventPattern")
def test_event_pattern(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    pattern = compile_pattern(p["EventPattern"])
    try:
        event = orjson.loads(p["Event"])
    except orjson.JSONDecodeError:
        raise ValidationException("Parameter Event is not valid.") from None
    if not isinstance(event, dict) or any(f not in event for f in _REQUIRED_EVENT_FIELDS):
        raise ValidationException("Parameter Event is not valid.")
    return {"Result": pattern.matches(event)}


# -- connections and API destinations ----------------------------------------------------------


def _auth_shown(conn: Connection) -> dict[str, Any]:
    """The connection's auth parameters without their secrets, as DescribeConnection shows."""
    params = conn.auth_parameters
    out: dict[str, Any] = {}
    if "ApiKeyAuthParameters" in params:
        out["ApiKeyAuthParameters"] = {"ApiKeyName": params["ApiKeyAuthParameters"]["ApiKeyName"]}
    if "BasicAuthParameters" in params:
        out["BasicAuthParameters"] = {"Username": params["BasicAuthParameters"]["Username"]}
    if "InvocationHttpParameters" in params:
        out["InvocationHttpParameters"] = params["InvocationHttpParameters"]
    return out


def _connection_state(conn: Connection) -> dict[str, Any]:
    return {
        "ConnectionArn": conn.arn,
        "ConnectionState": conn.state,
        "CreationTime": conn.created_at,
        "LastModifiedTime": conn.modified_at,
    }


def shape_connection(conn: Connection, full: bool = False) -> dict[str, Any]:
    out = {
        **_connection_state(conn),
        "Name": conn.name,
        "AuthorizationType": conn.authorization_type,
        "LastAuthorizedTime": conn.modified_at,
    }
    if full:
        out.update(
            _drop_none(
                {
                    "Description": conn.description,
                    "SecretArn": conn.secret_arn,
                    "AuthParameters": _auth_shown(conn),
                }
            )
        )
    return out


@action("CreateConnection")
def create_connection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _connection_state(destinations.create_connection(op, p))


@action("DescribeConnection")
def describe_connection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return shape_connection(destinations.describe_connection(op, p), full=True)


@action("ListConnections")
def list_connections(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = destinations.list_connections(op, p)
    return _paged("Connections", [shape_connection(c) for c in found], token)


@action("DeleteConnection")
def delete_connection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    conn = destinations.delete_connection(op, p)
    return {**_connection_state(conn), "LastAuthorizedTime": conn.modified_at}


def shape_destination(dest: ApiDestination, full: bool = False) -> dict[str, Any]:
    out = _drop_none(
        {
            "ApiDestinationArn": dest.arn,
            "Name": dest.name,
            "ApiDestinationState": dest.state,
            "ConnectionArn": dest.connection_arn,
            "InvocationEndpoint": dest.endpoint,
            "HttpMethod": dest.http_method,
            "InvocationRateLimitPerSecond": dest.rate_limit,
            "CreationTime": dest.created_at,
            "LastModifiedTime": dest.modified_at,
        }
    )
    if full and dest.description is not None:
        out["Description"] = dest.description
    return out


@action("CreateApiDestination")
def create_api_destination(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    dest = destinations.create_api_destination(op, p)
    return {
        "ApiDestinationArn": dest.arn,
        "ApiDestinationState": dest.state,
        "CreationTime": dest.created_at,
        "LastModifiedTime": dest.modified_at,
    }


@action("DescribeApiDestination")
def describe_api_destination(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return shape_destination(destinations.describe_api_destination(op, p), full=True)


@action("ListApiDestinations")
def list_api_destinations(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = destinations.list_api_destinations(op, p)
    return _paged("ApiDestinations", [shape_destination(d) for d in found], token)


@action("DeleteApiDestination")
def delete_api_destination(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    destinations.delete_api_destination(op, p)
    return {}


SERVICE = ServiceSpec("events", ACTIONS, signing_name="events")
