"""AWS's defaults: load balancer and target group attributes, health checks (pure).

The attribute keys and defaults are those the ELB API reference documents for
LoadBalancerAttribute and TargetGroupAttribute; a key not listed for the resource's type is
refused as ELB refuses it. Values are strings, as on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.elb.errors import ValidationError

_LOGS = {
    f"{kind}.s3.{leaf}": value
    for kind in ("access_logs", "connection_logs", "health_check_logs")
    for leaf, value in (("enabled", "false"), ("bucket", ""), ("prefix", ""))
}

LB_ATTRIBUTES: dict[str, dict[str, str]] = {
    "application": {
        **_LOGS,
        "deletion_protection.enabled": "false",
        "idle_timeout.timeout_seconds": "60",
        "client_keep_alive.seconds": "3600",
        "load_balancing.cross_zone.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive",
        "routing.http.drop_invalid_header_fields.enabled": "false",
        "routing.http.preserve_host_header.enabled": "false",
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
        "routing.http.xff_client_port.enabled": "false",
        "routing.http.xff_header_processing.mode": "append",
        "routing.http2.enabled": "true",
        "waf.fail_open.enabled": "false",
        "zonal_shift.config.enabled": "false",
    },
    "network": {
        "access_logs.s3.enabled": "false",
        "access_logs.s3.bucket": "",
        "access_logs.s3.prefix": "",
        "deletion_protection.enabled": "false",
        "load_balancing.cross_zone.enabled": "false",
        "dns_record.client_routing_policy": "any_availability_zone",
        "zonal_shift.config.enabled": "false",
    },
}

_HEALTH_ROUTING = {
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}


def tg_attributes(protocol: str, target_type: str) -> dict[str, str]:
    """A new target group's attributes."""
    common = {
        "deregistration_delay.timeout_seconds": "300",
        "stickiness.enabled": "false",
        "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
        **_HEALTH_ROUTING,
    }
    if protocol in ("HTTP", "HTTPS"):
        return {
            **common,
            "stickiness.type": "lb_cookie",
            "stickiness.lb_cookie.duration_seconds": "86400",
            "stickiness.app_cookie.cookie_name": "",
            "stickiness.app_cookie.duration_seconds": "86400",
            "slow_start.duration_seconds": "0",
            "load_balancing.algorithm.type": "round_robin",
            "load_balancing.algorithm.anomaly_mitigation": "off",
        }
    return {
        **common,
        "stickiness.type": "source_ip",
        "deregistration_delay.connection_termination.enabled": "false",
        "preserve_client_ip.enabled": "true" if target_type == "instance" else "false",
        "proxy_protocol_v2.enabled": "false",
        "target_health_state.unhealthy.connection_termination.enabled": "true",
        "target_health_state.unhealthy.draining_interval_seconds": "0",
    }


_BOOLS = ("true", "false")
_CHOICES: dict[str, tuple[str, ...]] = {
    "load_balancing.algorithm.type": (
        "round_robin",
        "least_outstanding_requests",
        "weighted_random",
    ),
    "load_balancing.algorithm.anomaly_mitigation": ("on", "off"),
    "routing.http.desync_mitigation_mode": ("monitor", "defensive", "strictest"),
    "routing.http.xff_header_processing.mode": ("append", "preserve", "remove"),
    "dns_record.client_routing_policy": (
        "availability_zone_affinity",
        "partial_availability_zone_affinity",
        "any_availability_zone",
    ),
    "load_balancing.cross_zone.enabled": ("true", "false", "use_load_balancer_configuration"),
}
# (lowest, highest) of the numeric attributes ELB bounds.
_RANGES: dict[str, tuple[int, int]] = {
    "idle_timeout.timeout_seconds": (1, 4000),
    "client_keep_alive.seconds": (60, 604800),
    "deregistration_delay.timeout_seconds": (0, 3600),
    "slow_start.duration_seconds": (0, 900),
    "stickiness.lb_cookie.duration_seconds": (1, 604800),
    "stickiness.app_cookie.duration_seconds": (1, 604800),
    "target_health_state.unhealthy.draining_interval_seconds": (0, 360000),
}


def apply_attributes(
    current: Mapping[str, str], given: list[dict[str, Any]], what: str
) -> dict[str, str]:
    """`current` with `given` (Key/Value pairs) applied; a key `current` lacks or a value out
    of its kind is ELB's ValidationError. `what` names the resource: "Load balancer" or
    "Target group"."""
    out = dict(current)
    for item in given:
        key, value = str(item.get("Key") or ""), str(item.get("Value") or "")
        if key not in out:
            raise ValidationError(f"{what} attribute key '{key}' is not recognized")
        _check_value(key, value)
        out[key] = value
    return out


def _check_value(key: str, value: str) -> None:
    if key == "load_balancing.cross_zone.enabled" and value == "use_load_balancer_configuration":
        return
    if key.endswith(".enabled") and value not in _BOOLS:
        raise ValidationError(f"{key} must be one of: {_BOOLS[0]}, {_BOOLS[1]}")
    choices = _CHOICES.get(key)
    if choices and value not in choices:
        raise ValidationError(f"{key} must be one of: {', '.join(choices)}")
    bounds = _RANGES.get(key)
    if bounds:
        low, high = bounds
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValidationError(f"{key} must be a number between {low} and {high}")


def health_check(protocol: str, target_type: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """A target group's health check settings: what the request gave, AWS's defaults for the
    rest (an application target group's, or a network one's for TCP)."""
    hc_protocol = given.get("HealthCheckProtocol") or (
        protocol if protocol in ("HTTP", "HTTPS") else "TCP"
    )
    http = hc_protocol in ("HTTP", "HTTPS")
    alb = protocol in ("HTTP", "HTTPS")
    out: dict[str, Any] = {
        "HealthCheckProtocol": hc_protocol,
        "HealthCheckPort": given.get("HealthCheckPort") or "traffic-port",
        "HealthCheckEnabled": given.get("HealthCheckEnabled", True),
        "HealthCheckIntervalSeconds": given.get("HealthCheckIntervalSeconds") or 30,
        "HealthCheckTimeoutSeconds": given.get("HealthCheckTimeoutSeconds")
        or (5 if alb else (6 if http else 10)),
        "HealthyThresholdCount": given.get("HealthyThresholdCount") or 5,
        "UnhealthyThresholdCount": given.get("UnhealthyThresholdCount") or 2,
    }
    if http:
        out["HealthCheckPath"] = given.get("HealthCheckPath") or "/"
        matcher = given.get("Matcher") or {"HttpCode": "200" if alb else "200-399"}
        out["Matcher"] = matcher
    check_health(out, protocol)
    return out


def check_health(hc: Mapping[str, Any], protocol: str) -> None:
    if hc["HealthCheckTimeoutSeconds"] >= hc["HealthCheckIntervalSeconds"]:
        raise ValidationError("Health check interval must be greater than the timeout.")
    if hc["HealthCheckProtocol"] == "TCP" and protocol in ("HTTP", "HTTPS"):
        raise ValidationError(
            f"Health check protocol 'TCP' is not supported for target groups with "
            f"the '{protocol}' protocol"
        )
    path = hc.get("HealthCheckPath")
    if path is not None and not str(path).startswith("/"):
        raise ValidationError("Health check path must begin with a '/' character")
    port = str(hc["HealthCheckPort"])
    if port != "traffic-port" and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise ValidationError(
            "Health check port must be either 'traffic-port' or a number between 1 and 65535"
        )
