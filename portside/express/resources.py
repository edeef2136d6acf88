"""The resources an Express service owns beyond ECS, each made, changed, read and removed
through its own service's public operations (ELB v2, CloudWatch Logs, Application Auto
Scaling, EC2's subnets), never their tables: what Express Mode makes is what a user could
have made by hand, and every rule of those services holds for it.

Names: the target group `ecs-express-tg-<id>` (`<id>` from the service's ARN,
express/config.short_id), the scaling policy `<service>-express-scaling`, the service's host
name `<service>-<id>.ecs.<region>.on.aws`. The load balancers are Express Mode's own, shared
by the Express services of one VPC (ingress/albs.py, `ecs-express-<hash>-<n>`): HTTPS on 443
with the account's wildcard certificate, a default action answering 404, and one rule per
service forwarding its host name to its target group. The service's URL is
`https://<host name>`, which Portside's DNS answers with the load balancer's own address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portside.api import logs as logs_api
from portside.applicationautoscaling import policies as aas_policies
from portside.applicationautoscaling import targets as aas_targets
from portside.elb import listeners, rules, target_groups
from portside.errors import NamedError, ResourceAlreadyExistsException
from portside.express.config import METRICS, ExpressConfig, Scaling
from portside.ingress import albs, certificates, network
from portside.ops.context import Op

Json = dict[str, Any]
MANAGED_TAG = {"Key": "AmazonECSManaged", "Value": "true"}
MAX_ALBS = 10  # shared load balancers per VPC
DIMENSION = "ecs:service:DesiredCount"
NOT_FOUND = "Not Found"


@dataclass(frozen=True, slots=True)
class Ingress:
    """The load balancer side of one Express service."""

    load_balancer_arn: str
    target_group_arn: str
    listener_arn: str
    rule_arn: str
    host: str  # the service's host name under ecs.<region>.on.aws
    port: int
    certificate_arn: str = ""

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.certificate_arn else "http"
        default = 443 if scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{scheme}://{self.host}{port}"


def tg_name(sid: str) -> str:
    return f"ecs-express-tg-{sid}"


def policy_name(service: str) -> str:
    return f"{service}-express-scaling"


def resource_id(cluster: str, service: str) -> str:
    return f"service/{cluster}/{service}"


# -- network ---------------------------------------------------------------------------------


def default_subnets(op: Op) -> tuple[str, ...]:
    """The default VPC's default subnets, as Express Mode uses when none are given."""
    return network.default_subnets(op)


def vpc_of(op: Op, subnets: tuple[str, ...]) -> str:
    return network.vpc_of(op, subnets)


# -- logs ------------------------------------------------------------------------------------


def ensure_log_group(op: Op, name: str) -> bool:
    """Whether it was made now (False: it was there already)."""
    try:
        logs_api.create_log_group(op, {"logGroupName": name})
    except ResourceAlreadyExistsException:
        return False
    except NamedError as exc:
        if exc.code != "ResourceAlreadyExistsException":
            raise
        return False
    return True


def delete_log_group(op: Op, name: str) -> None:
    logs_api.delete_log_group(op, {"logGroupName": name})


# -- load balancing --------------------------------------------------------------------------


def _health(path: str) -> Json:
    return {
        "HealthCheckPath": path,
        "HealthCheckIntervalSeconds": 5,
        "HealthCheckTimeoutSeconds": 2,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 2,
    }


def create_target_group(op: Op, sid: str, config: ExpressConfig, vpc: str) -> str:
    made = target_groups.create(
        op,
        {
            "Name": tg_name(sid),
            "Protocol": "HTTP",
            "Port": config.port,
            "VpcId": vpc,
            "TargetType": "ip",
            **_health(config.health_check_path),
            "Tags": [MANAGED_TAG],
        },
    )
    return str(made["TargetGroups"][0]["TargetGroupArn"])


def set_health_check_path(op: Op, tg: str, path: str) -> None:
    target_groups.modify(op, {"TargetGroupArn": tg, "HealthCheckPath": path})


def _owner(op: Op, config: ExpressConfig, vpc: str) -> albs.Owner:
    """Express Mode's own shared load balancers: one set per VPC and scheme (services with
    the same network share them, a rule each)."""
    return albs.Owner(
        key=f"express|{op.account}|{op.region}|{vpc}|internet-facing",
        scheme="internet-facing",
        subnets=tuple(config.subnets),
        security_groups=tuple(config.security_groups),
        max_albs=MAX_ALBS,
        prefix="ecs-express",
    )


def host_of(op: Op, sid: str, service: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", service.lower()).strip("-")[:40] or "service"
    return f"{label}-{sid[:8]}.{certificates.zone(op.region)}"


def create_ingress(
    op: Op, sid: str, service: str, config: ExpressConfig, tg: str, vpc: str
) -> Ingress:
    """A rule for the service's host name to its target group on Express Mode's shared HTTPS
    load balancer of its VPC (made when none has room)."""
    route = albs.attach(op, _owner(op, config, vpc), host_of(op, sid, service), tg)
    return Ingress(
        route.load_balancer_arn,
        tg,
        route.listener_arn,
        route.rule_arn,
        route.host,
        albs.PORT,
        route.certificate_arn,
    )


def find_ingress(op: Op, tg: str) -> Ingress | None:
    """The ingress of the service whose target group is `tg`, read back from ELB."""
    try:
        group = target_groups.describe(op, {"TargetGroupArns": [tg]})["TargetGroups"][0]
    except NamedError:
        return None
    for lb_arn in group.get("LoadBalancerArns") or []:
        for listener in listeners.describe(op, {"LoadBalancerArn": lb_arn})["Listeners"]:
            for rule in rules.describe(op, {"ListenerArn": listener["ListenerArn"]})["Rules"]:
                if not any(a.get("TargetGroupArn") == tg for a in rule.get("Actions") or []):
                    continue
                hosts = [
                    v
                    for c in rule.get("Conditions") or []
                    if c.get("Field") == "host-header"
                    for v in (c.get("HostHeaderConfig") or {}).get("Values") or []
                ]
                certificates_ = listener.get("Certificates") or [{}]
                return Ingress(
                    lb_arn,
                    tg,
                    str(listener["ListenerArn"]),
                    str(rule["RuleArn"]),
                    hosts[0] if hosts else "",
                    int(listener["Port"]),
                    str(certificates_[0].get("CertificateArn") or ""),
                )
    return None


def health_check_path(op: Op, tg: str) -> str | None:
    try:
        group = target_groups.describe(op, {"TargetGroupArns": [tg]})["TargetGroups"][0]
    except NamedError:
        return None
    return str(group.get("HealthCheckPath") or "/")


def delete_ingress(op: Op, ingress: Ingress) -> None:
    """Its rule; the shared load balancer too when no other service is left on it."""
    albs.detach(
        op,
        albs.Route(
            ingress.host,
            ingress.load_balancer_arn,
            ingress.listener_arn,
            ingress.rule_arn,
            ingress.certificate_arn,
        ),
    )


def delete_target_group(op: Op, tg: str) -> None:
    _quietly(target_groups.delete, {"TargetGroupArn": tg}, op)


def _quietly(call: Callable[[Op, Json], Json], p: Json, op: Op) -> None:
    """A removal of what may be gone already."""
    try:
        call(op, p)
    except NamedError as exc:
        if not exc.code.endswith("NotFound") and not exc.code.endswith("NotFoundException"):
            raise


# -- scaling ---------------------------------------------------------------------------------


def set_scaling(op: Op, cluster: str, service: str, scaling: Scaling, ingress: Ingress) -> None:
    """The scalable target's bounds and its target tracking policy (made or replaced)."""
    rid = resource_id(cluster, service)
    aas_targets.register_scalable_target(
        op,
        {
            "ServiceNamespace": "ecs",
            "ResourceId": rid,
            "ScalableDimension": DIMENSION,
            "MinCapacity": scaling.min_tasks,
            "MaxCapacity": scaling.max_tasks,
        },
    )
    metric: Json = {"PredefinedMetricType": METRICS[scaling.metric]}
    if scaling.metric == "REQUEST_COUNT_PER_TARGET":
        lb_part = ingress.load_balancer_arn.split(":loadbalancer/", 1)[1]
        tg_part = ingress.target_group_arn.split(":", 5)[5]
        metric["ResourceLabel"] = f"{lb_part}/{tg_part}"
    aas_policies.put_scaling_policy(
        op,
        {
            "PolicyName": policy_name(service),
            "ServiceNamespace": "ecs",
            "ResourceId": rid,
            "ScalableDimension": DIMENSION,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": float(scaling.target_value),
                "PredefinedMetricSpecification": metric,
            },
        },
    )


def scaling_of(op: Op, cluster: str, service: str) -> Scaling | None:
    rid = resource_id(cluster, service)
    found = aas_targets.describe_scalable_targets(
        op, {"ServiceNamespace": "ecs", "ResourceIds": [rid], "ScalableDimension": DIMENSION}
    )["ScalableTargets"]
    if not found:
        return None
    target = found[0]
    policies = aas_policies.describe_scaling_policies(
        op,
        {
            "ServiceNamespace": "ecs",
            "ResourceId": rid,
            "ScalableDimension": DIMENSION,
            "PolicyNames": [policy_name(service)],
        },
    )["ScalingPolicies"]
    metric, value = "AVERAGE_CPU", 60
    if policies:
        tracking = policies[0]["TargetTrackingScalingPolicyConfiguration"]
        kind = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        metric = next((k for k, v in METRICS.items() if v == kind), metric)
        value = int(tracking["TargetValue"])
    return Scaling(int(target["MinCapacity"]), int(target["MaxCapacity"]), metric, value)


def delete_scaling(op: Op, cluster: str, service: str) -> None:
    try:
        aas_targets.deregister_scalable_target(
            op,
            {
                "ServiceNamespace": "ecs",
                "ResourceId": resource_id(cluster, service),
                "ScalableDimension": DIMENSION,
            },
        )
    except NamedError as exc:
        if exc.code != "ObjectNotFoundException":
            raise
