"""EventBridge resources: rules on the default bus, their targets, connections and API
destinations (a target whose Arn is an API destination is a webhook)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BUS = "default"
ENABLED = "ENABLED"
DISABLED = "DISABLED"
# EventBridge's own defaults for a target's RetryPolicy.
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_EVENT_AGE = 86400


def events_arn(region: str, account: str, resource: str) -> str:
    return f"arn:aws:events:{region}:{account}:{resource}"


@dataclass(slots=True)
class Rule:
    arn: str
    name: str
    region: str
    event_pattern: str
    state: str = ENABLED
    description: str | None = None
    role_arn: str | None = None
    created_by: str = ""
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        # ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is enabled too.
        return self.state.startswith(ENABLED)


@dataclass(slots=True)
class Target:
    """One target of a rule: `spec` is the Target as PutTargets gave it."""

    rule_arn: str
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        return target_key(self.rule_arn, self.spec["Id"])

    @property
    def max_attempts(self) -> int:
        policy = self.spec.get("RetryPolicy") or {}
        return int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))

    @property
    def max_age(self) -> float:
        policy = self.spec.get("RetryPolicy") or {}
        return float(policy.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE))


def target_key(rule_arn: str, target_id: str) -> str:
    return f"{rule_arn}|{target_id}"


@dataclass(slots=True)
class Connection:
    arn: str
    name: str
    region: str
    authorization_type: str  # API_KEY | BASIC
    auth_parameters: dict[str, Any]  # as CreateConnection took them, secrets included
    created_at: float
    modified_at: float
    description: str | None = None
    state: str = "AUTHORIZED"
    secret_arn: str = ""

    def headers(self) -> dict[str, str]:
        """The HTTP headers this connection's authorization adds to a request."""
        out: dict[str, str] = {}
        if self.authorization_type == "API_KEY":
            key = self.auth_parameters.get("ApiKeyAuthParameters") or {}
            out[key["ApiKeyName"]] = key["ApiKeyValue"]
        elif self.authorization_type == "BASIC":
            basic = self.auth_parameters.get("BasicAuthParameters") or {}
            pair = f"{basic['Username']}:{basic['Password']}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        extra = self.auth_parameters.get("InvocationHttpParameters") or {}
        for item in extra.get("HeaderParameters") or ():
            out[item["Key"]] = item["Value"]
        return out

    def query(self) -> dict[str, str]:
        extra = self.auth_parameters.get("InvocationHttpParameters") or {}
        return {i["Key"]: i["Value"] for i in extra.get("QueryStringParameters") or ()}


@dataclass(slots=True)
class ApiDestination:
    arn: str
    name: str
    region: str
    connection_arn: str
    endpoint: str
    http_method: str
    created_at: float
    modified_at: float
    rate_limit: int | None = None  # invocations per second
    description: str | None = None
    state: str = "ACTIVE"
