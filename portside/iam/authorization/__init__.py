"""What each API call authorizes, pure: `checks(signing_name, operation, params, account,
region, resolver)` -> the `Check`s (IAM action, resources with their keys, request keys) the
evaluator must allow before the call runs.

Covered: every ECS action Portside serves, from the Service Authorization Reference for
Amazon ECS (`ecs.py`, with iam:PassRole and tag-on-create checks beside RunTask, StartTask,
RegisterTaskDefinition, CreateService, CreateCluster...); CloudWatch Logs, SSM Parameter
Store, ECR, Secrets Manager and KMS by resource (`services.py`); every other service's
actions (ec2, elasticloadbalancing, events, scheduler, sts, iam, acm, ...) on "*", which a
policy grants with `"Resource": "*"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.iam.authorization import ecs_newer  # noqa: F401  (daemons, gateways, Express)
from portside.iam.authorization.checks import NO_RESOLVER, Check, Resolver
from portside.iam.authorization.ecs import RULES as ECS_RULES
from portside.iam.authorization.ecs import ecs_checks
from portside.iam.authorization.prefixes import iam_action, iam_prefix
from portside.iam.authorization.services import service_checks

__all__ = [
    "ECS_RULES",
    "NO_RESOLVER",
    "Check",
    "Resolver",
    "checks",
    "ecs_checks",
    "iam_action",
    "iam_prefix",
    "service_checks",
]


def checks(
    signing_name: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
    resolver: Resolver = NO_RESOLVER,
) -> list[Check]:
    """Everything `operation` of the service signing as `signing_name` must be allowed,
    given its decoded `params`; the first is the call's own action."""
    prefix = iam_prefix(signing_name)
    if prefix == "ecs":
        found = ecs_checks(operation, params, account=account, region=region, resolver=resolver)
        if found is not None:
            return found
    return service_checks(
        prefix, operation, params, account=account, region=region, resolver=resolver
    )
