"""A listener's or rule's actions and a rule's conditions, checked and written as ELB
describes them (pure but for `lookup`, which finds a target group's document).

ELB fills in what a request left out: a forward to one `TargetGroupArn` is shown with the
equivalent `ForwardConfig` (weight 1, stickiness off) too, a redirect's unset parts keep the
request's (`#{protocol}`, `#{host}`...), each action gets its `Order`, and a path-pattern or
host-header condition is shown both with `Values` and with its `...Config`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.elb.errors import ValidationError, tg_not_found
from portside.errors import NamedError
from portside.store.base import Document

Lookup = Callable[[str], Document | None]
TYPES = ("forward", "redirect", "fixed-response")
_REDIRECT = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}
_HTTP = ("HTTP", "HTTPS")


def actions(
    given: list[dict[str, Any]],
    lookup: Lookup,
    lb_type: str,
    lb_arn: str,
    used: dict[str, set[str]],
) -> list[dict[str, Any]]:
    """`given` checked and written out in full. A forward's target groups must exist, speak
    the load balancer's kind of protocol and receive traffic from no other load balancer."""
    if not given:
        raise ValidationError("At least one action must be specified")
    out = []
    for index, action in enumerate(sorted(given, key=lambda a: a.get("Order") or 0)):
        kind = action.get("Type")
        if kind not in TYPES:
            raise NamedError(
                "InvalidLoadBalancerAction", f"Action type '{kind}' is not supported by Portside"
            )
        if lb_type == "network" and kind != "forward":
            raise NamedError(
                "InvalidLoadBalancerAction",
                f"Action type '{kind}' must be one of 'forward' for a network load balancer",
            )
        order = action.get("Order") or index + 1
        if kind == "forward":
            out.append(_forward(action, order, lookup, lb_type, lb_arn, used))
        elif kind == "redirect":
            config = action.get("RedirectConfig")
            if not config or not config.get("StatusCode"):
                raise ValidationError("A redirect action must have a redirect configuration")
            full = {**_REDIRECT, **config}
            out.append({"Type": kind, "Order": order, "RedirectConfig": full})
        else:
            config = action.get("FixedResponseConfig")
            if not config or not config.get("StatusCode"):
                raise ValidationError(
                    "A fixed-response action must have a fixed-response configuration"
                )
            out.append({"Type": kind, "Order": order, "FixedResponseConfig": dict(config)})
    if len(out) > 1:
        raise NamedError("TooManyActions", "Portside takes one action per rule or listener")
    return out


def _forward(
    action: dict[str, Any],
    order: int,
    lookup: Lookup,
    lb_type: str,
    lb_arn: str,
    used: dict[str, set[str]],
) -> dict[str, Any]:
    config = action.get("ForwardConfig") or {}
    groups = [
        {"TargetGroupArn": g["TargetGroupArn"], "Weight": g.get("Weight", 1)}
        for g in config.get("TargetGroups") or []
    ]
    single = action.get("TargetGroupArn")
    if single and groups and [g["TargetGroupArn"] for g in groups] != [single]:
        raise ValidationError(
            "You cannot specify both a target group ARN and a forward configuration with "
            "different target groups"
        )
    if not groups:
        if not single:
            raise ValidationError("A forward action must specify a target group")
        groups = [{"TargetGroupArn": single, "Weight": 1}]
    if len(groups) > 5:
        raise NamedError("TooManyTargetGroups", "A forward action can have at most 5 target groups")
    for group in groups:
        _check_group(group["TargetGroupArn"], lookup, lb_type, lb_arn, used)
    stickiness = config.get("TargetGroupStickinessConfig") or {"Enabled": False}
    out: dict[str, Any] = {"Type": "forward", "Order": order}
    if len(groups) == 1:
        out["TargetGroupArn"] = groups[0]["TargetGroupArn"]
    out["ForwardConfig"] = {"TargetGroups": groups, "TargetGroupStickinessConfig": stickiness}
    return out


def _check_group(
    arn: str, lookup: Lookup, lb_type: str, lb_arn: str, used: dict[str, set[str]]
) -> None:
    doc = lookup(arn)
    if doc is None:
        raise tg_not_found(f"Target groups '{arn}' not found")
    http = doc["Protocol"] in _HTTP
    if http != (lb_type == "application"):
        raise NamedError(
            "IncompatibleProtocols",
            f"The target group '{arn}' has protocol '{doc['Protocol']}', which is not "
            f"compatible with a load balancer of type '{lb_type}'",
        )
    others = used.get(arn, set()) - {lb_arn}
    if others:
        raise NamedError(
            "TargetGroupAssociationLimit",
            "The following target groups cannot be associated with more than one load "
            f"balancer: {arn}",
        )


_CONFIG = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
_WITH_VALUES = ("path-pattern", "host-header")  # ELB shows their `Values` as well
MAX_CONDITION_VALUES = 5


def conditions(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    total = 0
    for condition in given:
        field = condition.get("Field")
        if field not in _CONFIG:
            raise ValidationError(
                f"Condition field '{field}' must be one of [{', '.join(sorted(_CONFIG))}]"
            )
        key = _CONFIG[field]
        config = dict(condition.get(key) or {})
        values = condition.get("Values")
        if values and config.get("Values") and config["Values"] != values:
            raise ValidationError(
                f"You cannot specify both 'Values' and '{key}' with different values"
            )
        if values and field in ("path-pattern", "host-header"):
            config["Values"] = list(values)
        elif values:
            raise ValidationError(f"The '{field}' condition takes its values in '{key}'")
        if field == "http-header" and not config.get("HttpHeaderName"):
            raise ValidationError("An http-header condition must have a header name")
        items = config.get("Values") or []
        if not items:
            raise ValidationError(f"A '{field}' condition must have at least one value")
        total += len(items)
        shown: dict[str, Any] = {"Field": field}
        if field in _WITH_VALUES:
            shown["Values"] = list(items)
        shown[key] = config
        out.append(shown)
    if total > MAX_CONDITION_VALUES:
        raise ValidationError(f"A rule can only have '{MAX_CONDITION_VALUES}' condition values")
    if not out:
        raise ValidationError("A rule must have at least one condition")
    return out
