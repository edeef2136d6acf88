"""Application Auto Scaling's names: the one scalable dimension Portside scales, resource
ids, ARNs, the service-linked role, and the store's keys; pure.

A scalable target is keyed `ACCOUNT|REGION|NAMESPACE|RESOURCE_ID|DIMENSION`; its policies,
scheduled actions and activities by that key, `|`, and their own name (activities: start time
and id, so a target's activities are one prefix scan in time order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portside.errors import ValidationException

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
NAMESPACES = (
    "ecs", "elasticmapreduce", "ec2", "appstream", "dynamodb", "rds", "sagemaker",
    "custom-resource", "comprehend", "lambda", "cassandra", "kafka", "elasticache", "neptune",
    "workspaces",
)  # fmt: skip
_SERVICE_ID = re.compile(r"service/([A-Za-z0-9_-]{1,255})/([A-Za-z0-9_-]{1,255})")

TARGETS = "aas_targets"
POLICIES = "aas_policies"
SCHEDULED = "aas_scheduled_actions"
ACTIVITIES = "aas_activities"


@dataclass(frozen=True, slots=True)
class Where:
    account: str
    region: str

    def target_key(self, namespace: str, resource_id: str, dimension: str) -> str:
        return f"{self.account}|{self.region}|{namespace}|{resource_id}|{dimension}"

    def prefix(self, namespace: str, resource_id: str | None = None) -> str:
        base = f"{self.account}|{self.region}|{namespace}|"
        return base if resource_id is None else f"{base}{resource_id}|"


def service_of(resource_id: str) -> tuple[str, str]:
    """(cluster, service) of an ECS ResourceId `service/<cluster>/<service>`."""
    m = _SERVICE_ID.fullmatch(resource_id)
    if m is None:
        raise ValidationException(
            f"Unsupported resource ID format: {resource_id}. "
            "Expected format: service/<cluster name>/<service name>."
        )
    return m.group(1), m.group(2)


def check_target(namespace: str, resource_id: str, dimension: str) -> tuple[str, str]:
    """The (cluster, service) a target names; ValidationException for what Portside does not
    scale (every namespace but ecs, every dimension but the service's desired count)."""
    if namespace != NAMESPACE:
        raise ValidationException(
            f"Unsupported service namespace {namespace}: Portside scales ECS services only "
            f"(service namespace {NAMESPACE}, scalable dimension {DIMENSION})."
        )
    if dimension != DIMENSION:
        raise ValidationException(
            f"Unsupported scalable dimension {dimension} for service namespace {namespace}."
        )
    return service_of(resource_id)


def role_arn(account: str) -> str:
    """The service-linked role AWS names when RegisterScalableTarget is given none (ECS)."""
    return (
        f"arn:aws:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService"
    )


def target_arn(where: Where, ident: str) -> str:
    return f"arn:aws:application-autoscaling:{where.region}:{where.account}:scalable-target/{ident}"


def policy_arn(where: Where, ident: str, namespace: str, resource_id: str, name: str) -> str:
    return (
        f"arn:aws:autoscaling:{where.region}:{where.account}:scalingPolicy:{ident}:"
        f"resource/{namespace}/{resource_id}:policyName/{name}"
    )


def scheduled_action_arn(
    where: Where, ident: str, namespace: str, resource_id: str, name: str
) -> str:
    return (
        f"arn:aws:autoscaling:{where.region}:{where.account}:scheduledAction:{ident}:"
        f"resource/{namespace}/{resource_id}:scheduledActionName/{name}"
    )


def uuid_text(hex32: str) -> str:
    h = hex32[:32].ljust(32, "0")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def where_of_arn(arn: str) -> Where:
    parts = arn.split(":")
    return Where(parts[4], parts[3])
