"""ECS service actions: wire <-> ops. ops/services.py says how our deployments map to ECS's
service deployments and service revisions."""

from __future__ import annotations

import math
from typing import Any

from portside.api.ecs import requests_services
from portside.api.ecs.describing import describe_members
from portside.api.ecs.registry import action
from portside.api.ecs.task_sets import shape_task_set
from portside.express.view import is_express
from portside.model.deployment import DeploymentAlarms
from portside.model.service import DEPLOYMENT_INACTIVE, FAILED, Deployment, Service
from portside.ops import gateway_services, service_revisions, services, task_sets
from portside.ops import service_deployments as deployments
from portside.ops.context import Op
from portside.ops.service_deployments import ServiceDeploymentView
from portside.ops.service_revisions import ServiceRevisionView
from portside.ops.services import ServiceView
from portside.wire.replies import drop_none, page

# The circuit breaker's failure threshold: half the desired count, at least 3, at most 200
# (API reference, ServiceDeploymentCircuitBreaker).
BREAKER_MIN, BREAKER_MAX = 3, 200


def _launch(launch_type: str | None, strategy: list[dict[str, Any]]) -> dict[str, Any]:
    """launchType or capacityProviderStrategy, whichever the service or deployment uses (the
    other is omitted, as DescribeServices does), and the platform family on Fargate."""
    fargate = launch_type == "FARGATE" or any(
        i["capacityProvider"] in ("FARGATE", "FARGATE_SPOT") for i in strategy
    )
    out: dict[str, Any] = {}
    if launch_type:
        out["launchType"] = launch_type
    else:
        out["capacityProviderStrategy"] = strategy
    if fargate:
        out["platformFamily"] = "Linux"
    return out


_HOOK_DETAIL = ("hookId", "targetType", "targetArn", "status", "expiresAt", "timeoutAction")


def shape_deployment(d: Deployment) -> dict[str, Any]:
    return drop_none(
        {
            "id": d.id,
            "status": d.status,
            "taskDefinition": d.task_definition,
            "desiredCount": d.desired_count,
            "pendingCount": d.pending_count,
            "runningCount": d.running_count,
            "failedTasks": d.failed_tasks,
            "createdAt": d.created_at,
            "updatedAt": d.updated_at,
            **_launch(d.launch_type, d.capacity_provider_strategy),
            "platformVersion": d.platform_version,
            "networkConfiguration": d.network_configuration,
            "rolloutState": d.rollout_state,
            "rolloutStateReason": d.rollout_state_reason or None,
            "serviceConnectConfiguration": d.service_connect,
            "serviceConnectResources": d.service_connect_resources or None,
        }
    )


def _revision(service: Service, d: Deployment) -> dict[str, Any]:
    return {
        "arn": deployments.service_revision_arn(service, d.id),
        "requestedTaskCount": d.desired_count,
        "runningTaskCount": d.running_count,
        "pendingTaskCount": d.pending_count,
    }


def shape(view: ServiceView, include_tags: bool = False) -> dict[str, Any]:
    s = view.service
    live = [d for d in s.deployments if d.status != DEPLOYMENT_INACTIVE]
    current = deployments.current_deployment(s)
    out = drop_none(
        {
            "serviceArn": s.arn,
            "serviceName": s.name,
            "clusterArn": s.cluster_arn,
            "loadBalancers": [lb.to_doc() for lb in s.load_balancers if lb.shown],
            "serviceRegistries": s.service_registries,
            "status": s.status,
            "desiredCount": s.desired_count,
            "runningCount": s.running_count,
            "pendingCount": s.pending_count,
            **_launch(s.launch_type, s.capacity_provider_strategy),
            "platformVersion": s.platform_version,
            "taskDefinition": s.task_definition,
            "deploymentConfiguration": s.deployment_configuration.to_doc(),
            "deployments": [shape_deployment(d) for d in live],
            "roleArn": s.role_arn,
            "events": [
                {"id": e.id, "createdAt": e.created_at, "message": e.message} for e in s.events
            ],
            "createdAt": s.created_at,
            "currentServiceDeployment": deployments.service_deployment_arn(s, current.id)
            if current is not None
            else None,
            "currentServiceRevisions": [_revision(s, d) for d in live],
            "placementConstraints": [c.to_doc() for c in s.placement_constraints],
            "placementStrategy": [p.to_doc() for p in s.placement_strategy],
            "networkConfiguration": s.network_configuration,
            "healthCheckGracePeriodSeconds": s.health_check_grace_period_seconds or 0,
            "availabilityZoneRebalancing": s.availability_zone_rebalancing or "DISABLED",
            "schedulingStrategy": s.scheduling_strategy,
            "deploymentController": s.deployment_controller,
            "createdBy": s.created_by,
            "enableECSManagedTags": s.enable_ecs_managed_tags,
            "propagateTags": s.propagate_tags or "NONE",
            "enableExecuteCommand": s.enable_execute_command,
            "resourceManagementType": "ECS" if is_express(view.tags) else "CUSTOMER",
        }
    )
    if task_sets.has_task_sets(s):
        # EXTERNAL and CODE_DEPLOY: the task sets are the deployments (ECS shows none).
        out["taskSets"] = [shape_task_set(d) for d in view.task_sets]
        out["deployments"] = []
        for member in ("currentServiceDeployment", "currentServiceRevisions"):
            out.pop(member, None)
        if not s.task_definition:
            out.pop("taskDefinition", None)
    if include_tags:
        out["tags"] = list(view.tags)
    return out


# -- service deployments --------------------------------------------------------------------


def _monitor(status: str, enabled: bool, tripped: bool) -> str:
    if not enabled:
        return "DISABLED"
    if tripped:
        return "TRIGGERED"
    return "MONITORING" if status == "IN_PROGRESS" else "MONITORING_COMPLETE"


def shape_service_deployment(view: ServiceDeploymentView) -> dict[str, Any]:
    s, d = view.service, view.deployment
    by_id = {x.id: x for x in s.deployments}
    config = s.deployment_configuration
    failed = d.rollout_state == FAILED
    alarms = config.alarms or DeploymentAlarms()
    sources = []
    for source_id in d.sources:
        source = by_id.get(source_id)
        sources.append(
            _revision(s, source)
            if source is not None
            else {
                "arn": deployments.service_revision_arn(s, source_id),
                "requestedTaskCount": 0,
                "runningTaskCount": 0,
                "pendingTaskCount": 0,
            }
        )
    rollback = view.rollback
    return drop_none(
        {
            "serviceDeploymentArn": deployments.service_deployment_arn(s, d.id),
            "serviceArn": s.arn,
            "clusterArn": s.cluster_arn,
            "createdAt": d.created_at,
            "startedAt": d.created_at,
            "finishedAt": view.finished_at,
            "stoppedAt": view.stopped_at,
            "updatedAt": max([d.updated_at] + ([rollback.updated_at] if rollback else [])),
            "sourceServiceRevisions": sources,
            "targetServiceRevision": _revision(s, d),
            "status": view.status,
            "statusReason": view.reason or None,
            # ECS's native blue/green (controllers/native_deployments/): its stage and hooks.
            "lifecycleStage": d.lifecycle_stage,
            "lifecycleHookDetails": [
                drop_none({k: h.get(k) for k in _HOOK_DETAIL}) for h in d.lifecycle_hooks
            ]
            or None,
            "deploymentConfiguration": config.to_doc(),
            "rollback": {
                "reason": d.rollout_state_reason or "The deployment failed.",
                "startedAt": rollback.created_at,
                "serviceRevisionArn": deployments.service_revision_arn(s, rollback.id),
            }
            if rollback is not None
            else None,
            "deploymentCircuitBreaker": {
                "status": _monitor(view.status, config.circuit_breaker.enabled, failed),
                "failureCount": d.failed_tasks,
                "threshold": min(BREAKER_MAX, max(BREAKER_MIN, math.ceil(d.desired_count / 2))),
            },
            "alarms": drop_none(
                {
                    "status": _monitor(view.status, bool(alarms.enable), False),
                    "alarmNames": list(alarms.alarm_names or ()) or None,
                }
            ),
        }
    )


def shape_brief(view: ServiceDeploymentView) -> dict[str, Any]:
    s, d = view.service, view.deployment
    return drop_none(
        {
            "serviceDeploymentArn": deployments.service_deployment_arn(s, d.id),
            "serviceArn": s.arn,
            "clusterArn": s.cluster_arn,
            "startedAt": d.created_at,
            "createdAt": d.created_at,
            "finishedAt": view.finished_at,
            "targetServiceRevisionArn": deployments.service_revision_arn(s, d.id),
            "status": view.status,
            "statusReason": view.reason or None,
        }
    )


# -- actions --------------------------------------------------------------------------------


@action("CreateService")
def create_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = gateway_services.create_service(op, requests_services.create_service(p))
    return {"service": shape(view)}


@action("UpdateService")
def update_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = gateway_services.update_service(op, requests_services.update_service(p))
    return {"service": shape(view)}


@action("DeleteService")
def delete_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = gateway_services.delete_service(op, p.get("cluster"), p["service"], bool(p.get("force")))
    return {"service": shape(view)}


describe_members("DescribeServices", "services", services.describe_services, shape)


@action("ListServices")
def list_services(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys, token = services.list_services(op, requests_services.service_query(p))
    return page("serviceArns", keys, token)


@action("ListServiceDeployments")
def list_service_deployments(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    query = requests_services.deployment_query(p)
    views, token = deployments.list_service_deployments(op, query)
    return page("serviceDeployments", [shape_brief(v) for v in views], token)


@action("DescribeServiceDeployments")
def describe_service_deployments(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, failures = deployments.describe_service_deployments(op, p["serviceDeploymentArns"])
    return {
        "serviceDeployments": [shape_service_deployment(v) for v in found],
        "failures": failures,
    }


@action("StopServiceDeployment")
def stop_service_deployment(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = deployments.stop_service_deployment(op, p["serviceDeploymentArn"], p.get("stopType"))
    return {"serviceDeploymentArn": arn}


@action("ContinueServiceDeployment")
def continue_service_deployment(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = deployments.continue_service_deployment(
        op, p["serviceDeploymentArn"], p["hookId"], p.get("action")
    )
    return {"serviceDeploymentArn": arn}


def shape_revision(view: ServiceRevisionView) -> dict[str, Any]:
    s, d = view.service, view.deployment
    return drop_none(
        {
            "serviceRevisionArn": view.arn,
            "serviceArn": s.arn,
            "clusterArn": s.cluster_arn,
            "taskDefinition": d.task_definition,
            **_launch(d.launch_type, d.capacity_provider_strategy),
            "platformVersion": d.platform_version,
            "loadBalancers": [lb.to_doc() for lb in s.load_balancers if lb.shown] or None,
            "gatewayConnectors": s.gateway_connectors or None,
            "serviceRegistries": s.service_registries or None,
            "networkConfiguration": d.network_configuration,
            "containerImages": [
                drop_none({"containerName": i.container, "image": i.image, "imageDigest": i.digest})
                for i in view.images
            ],
            "guardDutyEnabled": False,
            "serviceConnectConfiguration": d.service_connect,
            "createdAt": d.created_at,
        }
    )


@action("DescribeServiceRevisions")
def describe_service_revisions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, failures = service_revisions.describe_service_revisions(op, p["serviceRevisionArns"])
    return {"serviceRevisions": [shape_revision(v) for v in found], "failures": failures}
