"""EventBridge actions (target prefix AWSEvents): wire <-> portside.events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from portside.api.registry import Operations, ServiceSpec
from portside.api.validation import CoralDialect
from portside.events import destinations, rules
from portside.events.errors import ValidationException
from portside.events.model import (
    DEFAULT_BUS,
    DISABLED,
    ENABLED,
    ApiDestination,
    Connection,
    Rule,
    Target,
)
from portside.events.patterns import compile_pattern
from portside.ops.context import Op
from portside.wire.replies import drop_none, page

ACTIONS = Operations("EventBridge")
action = ACTIONS.action
T = TypeVar("T")


def _listing(
    name: str,
    key: str,
    list_items: Callable[[Op, dict[str, Any]], tuple[list[T], str | None]],
    shape: Callable[[T], dict[str, Any]],
) -> None:
    """Register the List* action `name`: one page of what `list_items` finds, each item
    shaped, and the NextToken of the next page."""

    @action(name)
    def handler(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        found, token = list_items(op, p)
        return page(key, [shape(item) for item in found], token, token_key="NextToken")


def _target_spec(target: Target) -> dict[str, Any]:
    return target.spec


# -- rules -------------------------------------------------------------------------------------


def shape_rule(rule: Rule, full: bool = False) -> dict[str, Any]:
    out = drop_none(
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


_listing("ListRules", "Rules", rules.list_rules, shape_rule)


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


_listing("ListTargetsByRule", "Targets", rules.list_targets, _target_spec)


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
            drop_none(
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


_listing("ListConnections", "Connections", destinations.list_connections, shape_connection)


@action("DeleteConnection")
def delete_connection(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    conn = destinations.delete_connection(op, p)
    return {**_connection_state(conn), "LastAuthorizedTime": conn.modified_at}


def shape_destination(dest: ApiDestination, full: bool = False) -> dict[str, Any]:
    out = drop_none(
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


_listing(
    "ListApiDestinations", "ApiDestinations", destinations.list_api_destinations, shape_destination
)


@action("DeleteApiDestination")
def delete_api_destination(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    destinations.delete_api_destination(op, p)
    return {}


SERVICE = ServiceSpec(
    "events", ACTIONS, signing_name="events", dialect=CoralDialect(ValidationException)
)
