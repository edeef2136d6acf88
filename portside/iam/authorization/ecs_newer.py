"""ECS's newer resources as IAM sees them: daemons and their task definitions, gateways and
Express Mode services. Each action is authorized on the resources its call names (their ARNs,
or "*" for a name, a list or a create), with `ecs:cluster` where the call names a cluster, the
tags a create brings (and ecs:TagResource for them), and iam:PassRole on the roles it hands to
ECS. Registered into `ecs.RULES` when imported (`authorization/__init__.py`)."""

from __future__ import annotations

from typing import Any

from portside.iam.authorization.checks import Check, request_tags
from portside.iam.authorization.ecs import (
    Env,
    P,
    _one,
    _pass_role,
    _strings,
    _tag_on_create,
    rule,
)

ECS_TASKS = "ecs-tasks.amazonaws.com"
ECS = "ecs.amazonaws.com"

# The members that name the resource a call acts on, in the order they are looked for.
_REFERENCES = (
    "daemonArn", "daemonDeploymentArns", "daemonRevisionArns", "daemonTaskDefinition",
    "gateway", "gatewayRouteArn", "serviceArn",
)  # fmt: skip


def _targets(env: Env, p: P) -> list[Any]:
    cluster = p.get("cluster") or p.get("clusterArn")
    keys = {"ecs:cluster": env.cluster(str(cluster))} if cluster else {}
    arns: list[str] = []
    for member in _REFERENCES:
        value = p.get(member)
        arns += _strings(value if isinstance(value, list) else [value])
    return [env.on(a if a.startswith("arn:") else "*", keys) for a in arns]


@rule(
    "DeleteDaemon", "DeleteDaemonTaskDefinition", "DeleteExpressGatewayService", "DeleteGateway",
    "DescribeDaemon", "DescribeDaemonDeployments", "DescribeDaemonRevisions",
    "DescribeDaemonTaskDefinition", "DescribeExpressGatewayService", "DescribeGateway",
    "DescribeGatewayResources", "DescribeGatewayRoute", "AssociateGatewayWithCluster",
    "DisassociateGatewayFromCluster", "ListDaemonDeployments", "ListDaemonTaskDefinitions",
    "ListDaemons", "ListGatewayClusterAssociations", "ListGatewayRoutes", "ListGateways",
)  # fmt: skip
def _on_named(env: Env, p: P) -> list[Check]:
    return [_one(p["_operation"], _targets(env, p))]


@rule("UpdateDaemon", "UpdateGateway", "UpdateExpressGatewayService")
def _update(env: Env, p: P) -> list[Check]:
    roles = [p.get("executionRoleArn"), p.get("taskRoleArn")]
    return [
        _one(p["_operation"], _targets(env, p)),
        *_pass_role(roles, ECS_TASKS),
        *_pass_role([p.get("infrastructureRoleArn")], ECS),
    ]


@rule(
    "CreateDaemon", "CreateGateway", "CreateExpressGatewayService", "RegisterDaemonTaskDefinition"
)
def _create(env: Env, p: P) -> list[Check]:
    operation = p["_operation"]
    cluster = p.get("cluster") or p.get("clusterArn")
    keys: dict[str, Any] = request_tags(p.get("tags"))
    if cluster:
        keys["ecs:cluster"] = env.cluster(str(cluster))
    name = p.get("daemonName") or p.get("name") or p.get("serviceName") or p.get("family")
    kind = {
        "CreateDaemon": "daemon",
        "CreateGateway": "gateway",
        "CreateExpressGatewayService": "service",
        "RegisterDaemonTaskDefinition": "daemon-task-definition",
    }[operation]
    created = env.arn(f"{kind}/{name or '*'}")
    return [
        _one(operation, [], keys),
        *_tag_on_create(env, p, operation, created),
        *_pass_role([p.get("executionRoleArn"), p.get("taskRoleArn")], ECS_TASKS),
        *_pass_role([p.get("infrastructureRoleArn")], ECS),
    ]
