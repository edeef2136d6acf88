"""Express services: CreateExpressGatewayService, DescribeExpressGatewayService,
UpdateExpressGatewayService and DeleteExpressGatewayService.

An Express service is an ECS service like any other (ListServices, DescribeServices and the
service controller see it as one), made together with what it needs from one call: its
task definition (family = the service's name), a log group, a target group, a load
balancer with a listener and a rule, and an Application Auto Scaling target with a target
tracking policy (express/resources.py). What makes it an Express service is the service's
own tags: `AmazonECSManaged` (ListServices' resourceManagementType ECS) and the
infrastructure role it was made with; everything else is read back from the resources
themselves (express/view.py), so there is no second record to drift from them.

Made in order, undone in reverse when a step fails, so a refused call leaves nothing
behind. The updates make a new task definition revision and an UpdateService when what the
tasks run changed (one new service revision, rolled out as any deployment), and change the
target group's health check and the scaling target in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from portside.api.ecs import requests_services
from portside.errors import (
    ClusterNotFoundException,
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from portside.express import config as cfg
from portside.express import resources as res
from portside.express.view import (
    INFRA_ROLE_TAG,
    MANAGED_KEY,
    ExpressView,
    load_express,
    read_view,
)
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.service import ACTIVE
from portside.ops import clusters, services
from portside.ops import task_definitions as td_ops
from portside.ops.context import Op
from portside.ops.tags import validate_tags

Json = dict[str, Any]
DEFAULT_CLUSTER = "default"
# A service revision of an Express service rolls out with the breaker on (Express Mode
# makes "a service with ... deployment failure detection").
DEPLOYMENT = {
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
}
GRACE_SECONDS = 60


def _cluster(op: Op, ref: str | None) -> Cluster:
    """The cluster named, or `default`, made if it does not exist (as Express Mode does)."""
    with op.store.read() as tx:
        try:
            return clusters.get_active(op, tx, ref)
        except ClusterNotFoundException:
            if ref not in (None, DEFAULT_CLUSTER, arns.cluster(op.region, op.account, "default")):
                raise
    return clusters.create_cluster(op, name=DEFAULT_CLUSTER).cluster


def _launch(op: Op, cluster: Cluster, fargate_ready: bool) -> Json:
    """The cluster's default capacity provider strategy; else FARGATE, as Express Mode runs,
    when this Portside has Fargate capacity and the definition can run there (Fargate's
    awslogs needs an execution role); else the EC2 instances."""
    if cluster.default_strategy:
        return {}
    if not fargate_ready:
        return {"launchType": "EC2"}
    with op.store.read() as tx:
        prefix = arns.prefix(op.region, op.account, "container-instance")
        fargate = any(
            doc.get("fargate") and doc.get("status") == ACTIVE
            for _, doc in tx.scan("container_instances", prefix=prefix)
        )
    return {"launchType": "FARGATE" if fargate else "EC2"}


class _Undo:
    """What was made so far, undone in reverse if a later step fails."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], object]] = []

    def push(self, step: Callable[[], object]) -> None:
        self.steps.append(step)

    def run(self) -> None:
        for step in reversed(self.steps):
            try:
                step()
            except Exception:
                continue


def create(op: Op, p: Json) -> ExpressView:
    container = p.get("primaryContainer")
    if not container:
        if p.get("taskDefinitionArn"):
            raise InvalidParameterException(
                "Portside makes an Express service's task definition from primaryContainer: "
                "taskDefinitionArn is not supported yet."
            )  # wording: ours
        raise InvalidParameterException("primaryContainer must be specified.")  # wording: ours
    name = cfg.service_name(p, container["image"])
    user_tags = validate_tags(p.get("tags") or [])
    if any(t["key"] in (MANAGED_KEY, INFRA_ROLE_TAG) for t in user_tags):
        raise InvalidParameterException(
            f"The tag keys {MANAGED_KEY} and {INFRA_ROLE_TAG} are reserved."
        )
    cluster = _cluster(op, p.get("cluster"))
    config = cfg.parse(p, cluster.name, name, op.region)
    arn = arns.ecs(op.region, op.account, f"service/{cluster.name}/{name}")
    with op.store.read() as tx:
        existing = services.load(tx, arn)
    if existing is not None and existing.status != "INACTIVE":
        raise InvalidParameterException(  # ECS's CreateService words for a taken name
            "Creation of service was not idempotent."
        )
    if not config.subnets:
        config = replace(config, subnets=res.default_subnets(op))
    vpc = res.vpc_of(op, config.subnets)
    sid = cfg.short_id(arn)
    undo = _Undo()
    try:
        if res.ensure_log_group(op, config.log_group):
            undo.push(lambda: res.delete_log_group(op, config.log_group))
        td, _ = td_ops.register(op, cfg.task_definition(config, name, op.region))
        undo.push(lambda: td_ops.deregister(op, td.arn))
        tg = res.create_target_group(op, sid, config, vpc)
        undo.push(lambda: res.delete_target_group(op, tg))
        ingress = res.create_ingress(op, sid, name, config, tg, vpc)
        undo.push(lambda: res.delete_ingress(op, ingress))
        wire: Json = {
            "serviceName": name,
            "cluster": cluster.arn,
            "taskDefinition": td.arn,
            "desiredCount": max(1, config.scaling.min_tasks),
            **_launch(op, cluster, cfg.fargate_ready(config)),
            "networkConfiguration": _network(config),
            "loadBalancers": [
                {
                    "targetGroupArn": tg,
                    "containerName": cfg.CONTAINER_NAME,
                    "containerPort": config.port,
                }
            ],
            "healthCheckGracePeriodSeconds": GRACE_SECONDS,
            "deploymentConfiguration": DEPLOYMENT,
            "propagateTags": "SERVICE",
            "enableECSManagedTags": True,
            "tags": [
                *user_tags,
                {"key": MANAGED_KEY, "value": "true"},
                {"key": INFRA_ROLE_TAG, "value": p["infrastructureRoleArn"]},
            ],
        }
        services.create_service(op, requests_services.create_service(wire))
        undo.push(lambda: services.delete_service(op, cluster.arn, name, True))
        res.set_scaling(op, cluster.name, name, config.scaling, ingress)
    except Exception:
        undo.run()
        raise
    view = read_view(op, arn)
    assert view is not None
    return view


def _network(config: cfg.ExpressConfig) -> Json:
    vpc: Json = {"subnets": list(config.subnets), "assignPublicIp": "DISABLED"}
    if config.security_groups:
        vpc["securityGroups"] = list(config.security_groups)
    return {"awsvpcConfiguration": vpc}


def describe(op: Op, arn: str) -> ExpressView:
    view = load_express(op, arn)
    return view


def _active(op: Op, arn: str) -> ExpressView:
    """Update's and Delete's service: it must exist (ServiceNotFoundException), be ACTIVE
    (ServiceNotActiveException, in UpdateService's words) and be an Express service."""
    with op.store.read() as tx:
        found = services.load(tx, arn) if arns.is_arn(arn) else None
    if found is None:
        raise ServiceNotFoundException("Service not found.")
    if found.status != ACTIVE:
        raise ServiceNotActiveException("Service was not ACTIVE.")
    view = read_view(op, arn)
    if view is None:
        raise InvalidParameterException(  # wording: ours
            f"The service {arn} is not an Express service."
        )
    return view


def update(op: Op, p: Json) -> tuple[ExpressView, cfg.ExpressConfig]:
    if p.get("taskDefinitionArn"):
        raise InvalidParameterException(
            "Portside makes an Express service's task definition from primaryContainer: "
            "taskDefinitionArn is not supported yet."
        )  # wording: ours
    view = _active(op, p["serviceArn"])
    service = view.service
    cluster_name = service.cluster_arn.rsplit("/", 1)[-1]
    old = view.current_config
    new = cfg.updated(old, p, cluster_name, service.name, op.region)
    if new.subnets != old.subnets:
        res.vpc_of(op, new.subnets)
    runs = (
        new.primary_container,
        new.execution_role,
        new.task_role,
        new.cpu,
        new.memory,
        new.arch,
    )
    ran = (old.primary_container, old.execution_role, old.task_role, old.cpu, old.memory, old.arch)
    wire: Json = {"service": service.name, "cluster": service.cluster_arn}
    if runs != ran:
        res.ensure_log_group(op, new.log_group)
        td, _ = td_ops.register(op, cfg.task_definition(new, service.name, op.region))
        wire["taskDefinition"] = td.arn
    if new.subnets != old.subnets or new.security_groups != old.security_groups:
        wire["networkConfiguration"] = _network(new)
    if len(wire) > 2:
        services.update_service(op, requests_services.update_service(wire))
    if new.health_check_path != old.health_check_path:
        res.set_health_check_path(op, view.ingress.target_group_arn, new.health_check_path)
    if new.scaling != old.scaling:
        res.set_scaling(op, cluster_name, service.name, new.scaling, view.ingress)
    after = read_view(op, service.arn)
    assert after is not None
    return after, new


def delete(op: Op, arn: str) -> ExpressView:
    view = _active(op, arn)
    service = view.service
    cluster_name = service.cluster_arn.rsplit("/", 1)[-1]
    res.delete_scaling(op, cluster_name, service.name)
    res.delete_ingress(op, view.ingress)
    gone = services.delete_service(op, service.cluster_arn, service.name, True)
    # Its targets are forgotten with it (nothing sends them traffic any more); the log group
    # stays, with the service's logs.
    res.delete_target_group(op, view.ingress.target_group_arn)
    return ExpressView(gone.service, view.tags, view.ingress, view.configs, view.scaling)
