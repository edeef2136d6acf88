"""ECS deployments: CreateDeployment (an AppSpec revision), GetDeployment,
BatchGetDeployments, ListDeployments, StopDeployment, ContinueDeployment.

CreateDeployment checks the revision and the deployment group and writes the deployment
(status Created) with the engine's starting state: which task set is blue, which target group
each side uses, the listeners, the routing and the waits. The blue/green loop
(controllers/blue_green/loop.py) carries it out; StopDeployment and ContinueDeployment only
leave it a request."""

from __future__ import annotations

from typing import Any

from portside.codedeploy import appspec, groups, records
from portside.codedeploy.api_base import ACTIONS
from portside.codedeploy.configs import find as find_config
from portside.codedeploy.errors import error, no_deployment
from portside.controllers.blue_green.engine import START
from portside.ops import task_sets
from portside.ops.context import Op
from portside.ops.services import load as load_service
from portside.ops.task_definitions import find as find_task_definition
from portside.store.base import Tx

ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
_OVERVIEW = {"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0}


def shape(doc: dict[str, Any]) -> dict[str, Any]:
    """A deployment as CodeDeploy shows it (the engine's state left out)."""
    out = {k: v for k, v in doc.items() if k != "engine"}
    overview = dict(_OVERVIEW)
    status = doc["status"]
    if status in ("Created", "Queued"):
        overview["Pending"] = 1
    elif status == "Ready":
        overview["Ready"] = 1
    elif status in ("InProgress", "Baking"):
        overview["InProgress"] = 1
    elif status == "Succeeded":
        overview["Succeeded"] = 1
    else:
        overview["Failed"] = 1
    out["deploymentOverview"] = overview
    return out


def _load(op: Op, tx: Tx, ident: str) -> dict[str, Any]:
    if not ident.startswith("d-"):
        raise error("InvalidDeploymentIdException", f"The deployment ID {ident} is not valid.")
    doc = tx.get(records.DEPLOYMENTS, records.deployment_key(op, ident))
    if doc is None:
        raise no_deployment(ident)
    return doc


def _auto_rollback(config: dict[str, Any] | None) -> bool:
    config = config or {}
    return bool(config.get("enabled")) and "DEPLOYMENT_FAILURE" in (config.get("events") or ())


@ACTIONS.action("CreateDeployment")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    app, group_name = p["applicationName"], p.get("deploymentGroupName")
    if not group_name:
        raise error(
            "DeploymentGroupNameRequiredException", "The deployment group name is required."
        )
    if not p.get("revision"):
        raise error("RevisionRequiredException", "The revision is required.")
    spec = appspec.parse(appspec.content_of(p["revision"]))
    with op.store.transaction() as tx:
        group = groups.require(op, tx, app, group_name)
        config_name = p.get("deploymentConfigName") or group["deploymentConfigName"]
        config = find_config(op, config_name)
        for _, other in tx.scan(records.DEPLOYMENTS, where={"status": "InProgress"}):
            _busy(op, other, app, group_name)
        for status in ("Created", "Ready"):
            for _, other in tx.scan(records.DEPLOYMENTS, where={"status": status}):
                _busy(op, other, app, group_name)
        service = load_service(tx, groups.service_arn(op, group["ecsServices"][0]))
        if service is None or service.status != "ACTIVE":
            raise error(
                "InvalidECSServiceException", "The deployment group's ECS service does not exist."
            )
        td = find_task_definition(op, tx, spec.task_definition)
        if td is None:
            raise error(
                "InvalidRevisionException",
                f"The task definition {spec.task_definition} does not exist.",
            )
        containers = {c.get("name") for c in td.spec.get("containerDefinitions") or ()}
        if spec.container_name not in containers:
            raise error(
                "InvalidRevisionException",
                f"The container {spec.container_name} is not in task definition {td.arn}.",
            )  # wording: ours
        pair = groups.resolve_pair(op, tx, group["loadBalancerInfo"])
        blue = next(
            (d for d in task_sets.of_service(tx, service.arn) if d["status"] == "PRIMARY"), None
        )
        if blue is None:
            raise error(
                "InvalidECSServiceException",
                f"The ECS service {service.name} has no PRIMARY task set.",
            )
        blue_groups = [lb.get("targetGroupArn") for lb in blue.get("loadBalancers") or ()]
        blue_group = next(
            (g for g in pair["targetGroups"] if g in blue_groups), pair["targetGroups"][0]
        )
        green_group = next(g for g in pair["targetGroups"] if g != blue_group)
        blue_green = group["blueGreenDeploymentConfiguration"]
        ready = blue_green.get("deploymentReadyOption") or {}
        terminate = blue_green.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        rollback = p.get("autoRollbackConfiguration") or group["autoRollbackConfiguration"]
        now = op.now()
        ident = records.new_deployment_id(op)
        doc: dict[str, Any] = {
            "applicationName": app,
            "deploymentGroupName": group_name,
            "deploymentConfigName": config_name,
            "deploymentId": ident,
            "revision": p["revision"],
            "status": "Created",
            "createTime": now,
            "creator": "user",
            "ignoreApplicationStopFailures": bool(p.get("ignoreApplicationStopFailures")),
            "autoRollbackConfiguration": rollback,
            "updateOutdatedInstancesOnly": False,
            "deploymentStyle": group["deploymentStyle"],
            "instanceTerminationWaitTimeStarted": False,
            "blueGreenDeploymentConfiguration": blue_green,
            "loadBalancerInfo": group["loadBalancerInfo"],
            "fileExistsBehavior": "DISALLOW",
            "deploymentStatusMessages": [],
            "computePlatform": "ECS",
            "engine": {
                "scope": records.scope(op),
                "phase": START,
                "service": service.arn,
                "cluster": service.cluster_arn,
                "blue": blue["id"],
                "green": None,
                "blueGroup": blue_group,
                "greenGroup": green_group,
                "prod": pair["prod"],
                "test": pair["test"],
                "appspec": {
                    "taskDefinition": td.arn,
                    "containerName": spec.container_name,
                    "containerPort": spec.container_port,
                    "platformVersion": spec.platform_version,
                    "networkConfiguration": spec.network_configuration,
                    "capacityProviderStrategy": list(spec.capacity_provider_strategy)
                    if spec.capacity_provider_strategy is not None
                    else None,
                },
                "routing": config.get("trafficRoutingConfig"),
                "readyWaitMinutes": ready.get("waitTimeInMinutes")
                if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT"
                else None,
                "terminationWaitMinutes": terminate.get("terminationWaitTimeInMinutes", 0),
                "terminate": terminate.get("action", "TERMINATE") == "TERMINATE",
                "autoRollback": _auto_rollback(rollback),
                "request": None,
            },
        }
        if p.get("description"):
            doc["description"] = p["description"]
        tx.put(records.DEPLOYMENTS, records.deployment_key(op, ident), doc)
    return {"deploymentId": ident}


def _busy(op: Op, other: dict[str, Any], app: str, group: str) -> None:
    if (
        other["engine"]["scope"] == records.scope(op)
        and other["applicationName"] == app
        and other["deploymentGroupName"] == group
    ):
        # CodeDeploy's words.
        raise error(
            "DeploymentLimitExceededException",
            f"The Deployment Group '{group}' already has an active Deployment "
            f"'{other['deploymentId']}'",
        )


@ACTIONS.action("GetDeployment")
def get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"deploymentInfo": shape(_load(op, tx, p["deploymentId"]))}


@ACTIONS.action("BatchGetDeployments")
def batch_get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        found = []
        for ident in p.get("deploymentIds") or ():
            doc = tx.get(records.DEPLOYMENTS, records.deployment_key(op, ident))
            if doc is not None:
                found.append(shape(doc))
        return {"deploymentsInfo": found}


@ACTIONS.action("ListDeployments")
def list_all(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    app, group = p.get("applicationName"), p.get("deploymentGroupName")
    statuses = set(p.get("includeOnlyStatuses") or ())
    window = p.get("createTimeRange") or {}
    with op.store.read() as tx:
        if app and group:
            groups.require(op, tx, app, group)
        docs = [doc for _, doc in tx.scan(records.DEPLOYMENTS, prefix=f"{records.scope(op)}|")]
    picked = [
        d
        for d in docs
        if (not app or d["applicationName"] == app)
        and (not group or d["deploymentGroupName"] == group)
        and (not statuses or d["status"] in statuses)
        and (window.get("start") is None or d["createTime"] >= window["start"])
        and (window.get("end") is None or d["createTime"] <= window["end"])
    ]
    picked.sort(key=lambda d: -float(d["createTime"]))
    return {"deployments": [d["deploymentId"] for d in picked]}


@ACTIONS.action("StopDeployment")
def stop(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = _load(op, tx, p["deploymentId"])
        if doc["status"] not in ACTIVE_STATUSES:
            raise error(
                "DeploymentAlreadyCompletedException",
                f"The deployment {doc['deploymentId']} has already completed.",
            )
        doc["engine"]["request"] = "rollback" if p.get("autoRollbackEnabled") else "stop"
        tx.put(records.DEPLOYMENTS, records.deployment_key(op, doc["deploymentId"]), doc)
    return {
        "status": "Pending",
        "statusMessage": (
            "Stopping Pending. Stopping to schedule commands in the deployment instances"
        ),
    }


@ACTIONS.action("ContinueDeployment")
def continue_deployment(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    wait = p.get("deploymentWaitType") or "READY_WAIT"
    with op.store.transaction() as tx:
        doc = _load(op, tx, p["deploymentId"])
        if doc["status"] not in ACTIVE_STATUSES:
            raise error(
                "DeploymentAlreadyCompletedException",
                f"The deployment {doc['deploymentId']} has already completed.",
            )
        phase = doc["engine"]["phase"]
        if (wait == "READY_WAIT" and phase != "READY") or (
            wait == "TERMINATION_WAIT" and phase != "TERMINATION_WAIT"
        ):
            raise error(
                "DeploymentIsNotInReadyStateException",
                f"The deployment {doc['deploymentId']} is not waiting for {wait}.",
            )  # wording: ours
        doc["engine"]["request"] = "continue"
        tx.put(records.DEPLOYMENTS, records.deployment_key(op, doc["deploymentId"]), doc)
    return {}
