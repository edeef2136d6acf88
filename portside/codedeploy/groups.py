"""Deployment groups: CreateDeploymentGroup, GetDeploymentGroup, ListDeploymentGroups,
DeleteDeploymentGroup, for ECS blue/green: one ECS service of the CODE_DEPLOY deployment
controller, one target group pair (two target groups, the production listener, an optional
test listener), the blue/green settings (termination wait, ready option) and automatic
rollback."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portside.codedeploy import applications, records, tagging
from portside.codedeploy.api_base import ACTIONS
from portside.codedeploy.configs import DEFAULT_ECS, find
from portside.codedeploy.errors import error, no_group
from portside.elb import listeners as elb_listeners
from portside.elb import target_groups as elb_groups
from portside.errors import PortsideError
from portside.model import arn as arns
from portside.ops import task_sets
from portside.ops.context import Op
from portside.ops.services import load as load_service
from portside.store.base import Tx

_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,100}$")
_BLUE_GREEN_DEFAULT = {
    "terminateBlueInstancesOnDeploymentSuccess": {
        "action": "TERMINATE",
        "terminationWaitTimeInMinutes": 0,
    },
    "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
}


def require(op: Op, tx: Tx, app: str, name: str) -> dict[str, Any]:
    applications.require(op, tx, app)
    doc = tx.get(records.GROUPS, records.group_key(op, app, name))
    if doc is None:
        raise no_group(name)
    return doc


def service_arn(op: Op, ecs_service: Mapping[str, Any]) -> str:
    cluster = str(ecs_service.get("clusterName") or "default")
    cluster = cluster.rsplit("/", 1)[-1]
    return arns.ecs(op.region, op.account, f"service/{cluster}/{ecs_service.get('serviceName')}")


def _check_service(op: Op, tx: Tx, given: list[dict[str, Any]]) -> None:
    if len(given) != 1:
        raise error(
            "InvalidECSServiceException",
            "An ECS deployment group takes exactly one ECS service.",
        )  # wording: ours
    service = load_service(tx, service_arn(op, given[0]))
    if service is None or service.status != "ACTIVE":
        raise error(
            "InvalidECSServiceException",
            f"The ECS service {given[0].get('serviceName')} in cluster "
            f"{given[0].get('clusterName')} does not exist.",
        )  # wording: ours
    if task_sets.controller_of(service) != task_sets.CODE_DEPLOY:
        raise error(
            "InvalidECSServiceException",
            f"Deployment group's ECS service {service.name} must be configured for a "
            "CODE_DEPLOY deployment controller.",
        )  # wording: ours, after CodeDeploy's


def resolve_pair(op: Op, tx: Tx, info: Mapping[str, Any] | None) -> dict[str, Any]:
    """The target group pair as the engine uses it: both groups' ARNs, the production and
    test listeners' ARNs; CodeDeploy's errors when it is not one it can shift."""
    pairs = (info or {}).get("targetGroupPairInfoList") or []
    if len(pairs) != 1:
        raise error(
            "InvalidLoadBalancerInfoException",
            "An ECS deployment group takes one target group pair in loadBalancerInfo.",
        )  # wording: ours
    pair = pairs[0]
    groups = pair.get("targetGroups") or []
    if len(groups) != 2:
        raise error(
            "InvalidTargetGroupPairException", "A target group pair takes two target groups."
        )
    arns_found = []
    for group in groups:
        doc = elb_groups.by_name(tx, op.region, op.account, str(group.get("name")))
        if doc is None:
            raise error(
                "InvalidTargetGroupPairException",
                f"The target group {group.get('name')} does not exist.",
            )  # wording: ours
        arns_found.append(str(doc["TargetGroupArn"]))
    prod = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
    test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
    if len(prod) != 1 or len(test) > 1:
        raise error(
            "InvalidTargetGroupPairException",
            "A target group pair takes one production listener and at most one test listener.",
        )  # wording: ours
    for listener in (*prod, *test):
        try:
            elb_listeners.load(tx, listener)
        except PortsideError:
            raise error(
                "InvalidTargetGroupPairException", f"The listener {listener} does not exist."
            ) from None
    return {"targetGroups": arns_found, "prod": prod, "test": test}


@ACTIONS.action("CreateDeploymentGroup")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    app, name = p["applicationName"], p["deploymentGroupName"]
    if not _NAME.match(name):
        raise error(
            "InvalidDeploymentGroupNameException",
            "The deployment group name was specified in an invalid format.",
        )
    if not p.get("serviceRoleArn"):
        raise error("RoleRequiredException", "The service role ARN was not specified.")
    config_name = p.get("deploymentConfigName") or DEFAULT_ECS
    config = find(op, config_name)
    if config.get("computePlatform") != "ECS":
        raise error(
            "InvalidDeploymentConfigNameException",
            f"{config_name} is not an ECS deployment configuration.",
        )
    style = p.get("deploymentStyle") or {}
    if (
        style.get("deploymentType") != "BLUE_GREEN"
        or style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL"
    ):
        raise error(
            "InvalidDeploymentStyleException",
            "An ECS deployment group must use deploymentType BLUE_GREEN with "
            "deploymentOption WITH_TRAFFIC_CONTROL.",
        )  # wording: ours
    with op.store.transaction() as tx:
        application = applications.require(op, tx, app)
        key = records.group_key(op, app, name)
        if tx.get(records.GROUPS, key) is not None:
            raise error(
                "DeploymentGroupAlreadyExistsException",
                f"Deployment Group already exists with name {name}",
            )
        services = [dict(s) for s in p.get("ecsServices") or ()]
        _check_service(op, tx, services)
        resolve_pair(op, tx, p.get("loadBalancerInfo"))
        blue_green = {**_BLUE_GREEN_DEFAULT, **(p.get("blueGreenDeploymentConfiguration") or {})}
        doc = {
            "applicationName": app,
            "deploymentGroupId": records.new_uuid(op),
            "deploymentGroupName": name,
            "deploymentConfigName": config_name,
            "serviceRoleArn": p["serviceRoleArn"],
            "autoRollbackConfiguration": p.get("autoRollbackConfiguration")
            or {"enabled": False, "events": []},
            "deploymentStyle": style,
            "blueGreenDeploymentConfiguration": blue_green,
            "loadBalancerInfo": p["loadBalancerInfo"],
            "computePlatform": application["computePlatform"],
            "ecsServices": services,
            "alarmConfiguration": p.get("alarmConfiguration")
            or {"enabled": False, "ignorePollAlarmFailure": False, "alarms": []},
            "triggerConfigurations": [],
            "ec2TagFilters": [],
            "onPremisesInstanceTagFilters": [],
            "autoScalingGroups": [],
            "outdatedInstancesStrategy": "UPDATE",
            "terminationHookEnabled": False,
            tagging.HIDDEN: tagging.given(p.get("tags")),
        }
        tx.put(records.GROUPS, key, doc)
    return {"deploymentGroupId": doc["deploymentGroupId"]}


@ACTIONS.action("GetDeploymentGroup")
def get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        found = require(op, tx, p["applicationName"], p["deploymentGroupName"])
        return {"deploymentGroupInfo": tagging.shown(found)}


@ACTIONS.action("ListDeploymentGroups")
def list_all(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    app = p["applicationName"]
    with op.store.read() as tx:
        applications.require(op, tx, app)
        names = sorted(d["deploymentGroupName"] for d in records.groups_of(tx, op, app))
    return {"applicationName": app, "deploymentGroups": names}


@ACTIONS.action("DeleteDeploymentGroup")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    app, name = p["applicationName"], p["deploymentGroupName"]
    with op.store.transaction() as tx:
        applications.require(op, tx, app)
        tx.delete(records.GROUPS, records.group_key(op, app, name))
    return {"hooksNotCleanedUp": []}
