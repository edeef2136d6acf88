"""Services connected to ECS gateways (CreateService's and UpdateService's `gatewayConnectors`).

A service with a gateway connector is connected to every compatible gateway associated with
its cluster (developer guide, "Connect Amazon ECS services to a gateway"): the association is
ACTIVE, the gateway's load balancers are in the VPC of the service's subnets, and its access
type (PUBLIC for internet-facing, PRIVATE for internal) is one the connector's filter admits.
No associated gateway, or none compatible, refuses the call before anything is made.

Each connection is a gateway route (`gateway-route/GATEWAY/CLUSTER/SERVICE`, table
`ecs_gateway_routes`) with a host name of its own under `ecs.<region>.on.aws` and its
resources: a target group of `ip` targets on the connector's named container port with the
connector's health check and deregistration delay, and a `host-header` rule on one of the
gateway's shared HTTPS load balancers (ingress/albs.py). The target group goes among the
service's load balancers marked with its route, so the scheduler registers the service's
tasks in it as in any other, and DescribeServices does not show it. The route is ACTIVE when
the call returns; the DNS server answers its host name with its load balancer's address.

Removing a connector (UpdateService with none, DeleteService) removes the routes: the rule,
the target group, and the load balancer when no route is left on it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.elb import target_groups
from portside.errors import InvalidParameterException, NamedError, RequestError
from portside.ingress import albs, certificates, network
from portside.model import arn as arns
from portside.model.load_balancer import LoadBalancer
from portside.ops import gateways
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.task_definitions import find as find_task_definition
from portside.store.base import Tx

ROUTES = "ecs_gateway_routes"
ACTIVE = "ACTIVE"
MAX_CONNECTORS = 1  # GatewayConnector: "A service can have at most one gateway connector."
_LABEL = re.compile(r"[^a-z0-9-]+")
_MATCHERS = {"httpCode": "HttpCode", "grpcCode": "GrpcCode"}


@dataclass(frozen=True, slots=True)
class Target:
    """What a connector points at in the task definition."""

    port_name: str
    container_name: str
    container_port: int


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked connector and the gateways it connects to."""

    connector: Mapping[str, Any]
    target: Target
    gateways: tuple[dict[str, Any], ...]
    vpc: str
    cluster_arn: str


@dataclass(frozen=True, slots=True)
class Connection:
    route_arn: str
    gateway_arn: str
    target_group_arn: str
    route: albs.Route
    target: Target


# -- checks ----------------------------------------------------------------------------------


def plan(
    op: Op,
    cluster: str | None,
    connectors: Sequence[Mapping[str, Any]],
    task_definition: str,
    network_configuration: Mapping[str, Any] | None,
) -> Plan | None:
    """The connector checked against the task definition, the cluster's gateways and the
    service's network; None for no connector."""
    if not connectors:
        return None
    if len(connectors) > MAX_CONNECTORS:
        raise InvalidParameterException("A service can have at most one gateway connector.")
    connector = connectors[0]
    name = str(connector.get("portName") or "")
    if not name:
        raise InvalidParameterException("A gateway connector must name a portName.")
    subnets = list(
        ((network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or ()
    )
    with op.store.read() as tx:
        found = get_active(op, tx, cluster)
        td = find_task_definition(op, tx, task_definition)
        if td is None:
            return None  # CreateService's own check answers it
        target = _target(td.spec, name)
        associated = _associated(tx, found.arn)
    if not associated:
        raise InvalidParameterException(
            f"No gateway is associated with the cluster {found.name}. Associate a gateway "
            "with the cluster before you connect a service to it."
        )  # wording: ours
    vpc = network.vpc_of(op, subnets or network.default_subnets(op))
    kinds = set((connector.get("filters") or {}).get("accessTypes") or ("PUBLIC", "PRIVATE"))
    fit = tuple(g for g in associated if g.get("accessType") in kinds and _vpc(op, g) == vpc)
    if not fit:
        raise InvalidParameterException(
            f"No gateway associated with the cluster {found.name} is compatible with the "
            f"service: none is in {vpc} with an access type of {', '.join(sorted(kinds))}."
        )  # wording: ours
    return Plan(connector, target, fit, vpc, found.arn)


def _target(spec: Mapping[str, Any], port_name: str) -> Target:
    if (spec.get("networkMode") or "bridge") != "awsvpc":
        raise InvalidParameterException(
            "A service with a gateway connector must use a task definition with the awsvpc "
            "network mode."
        )  # wording: ours
    for container in spec.get("containerDefinitions") or ():
        for mapping in container.get("portMappings") or ():
            if mapping.get("name") == port_name:
                return Target(port_name, str(container["name"]), int(mapping["containerPort"]))
    raise InvalidParameterException(
        f"The gateway connector's portName {port_name} is not the name of a port mapping in "
        "the task definition."
    )  # wording: ours


def _associated(tx: Tx, cluster_arn: str) -> tuple[dict[str, Any], ...]:
    out = []
    for _, a in tx.scan(gateways.ASSOCIATIONS, where={"cluster": cluster_arn}):
        if a["status"] != gateways.ACTIVE:
            continue
        doc = tx.get(gateways.GATEWAYS, a["gatewayArn"])
        if doc is not None:
            out.append(doc)
    return tuple(out)


def _alb_config(gateway: Mapping[str, Any]) -> dict[str, Any]:
    return dict((gateway.get("configuration") or {}).get("hostSharedAlb") or {})


def _subnets(op: Op, gateway: Mapping[str, Any]) -> tuple[str, ...]:
    given = (_alb_config(gateway).get("networkConfiguration") or {}).get("subnets")
    return tuple(given) if given else network.default_subnets(op)


def _vpc(op: Op, gateway: Mapping[str, Any]) -> str | None:
    try:
        return network.vpc_of(op, _subnets(op, gateway))
    except NamedError:
        return None


def owner(op: Op, gateway: Mapping[str, Any]) -> albs.Owner:
    config = _alb_config(gateway)
    inbound = (config.get("networkConfiguration") or {}).get("inboundSecurityGroup")
    return albs.Owner(
        key=str(gateway["gatewayArn"]),
        scheme=str(config.get("scheme") or "internet-facing"),
        subnets=_subnets(op, gateway),
        security_groups=(str(inbound),) if inbound else (),
        max_albs=int(config.get("maxAlbCount") or 1),
        protocol=str(config.get("protocol") or "HTTPS"),
        port=int(config.get("port") or albs.PORT),
    )


# -- names -----------------------------------------------------------------------------------


def route_arn(op: Op, gateway_arn: str, cluster_arn: str, service: str) -> str:
    gateway = gateway_arn.rsplit("/", 1)[1]
    cluster = cluster_arn.rsplit("/", 1)[1]
    return arns.ecs(op.region, op.account, f"gateway-route/{gateway}/{cluster}/{service}")


def host_of(region: str, gateway_arn: str, service_arn: str, service: str) -> str:
    """The route's host name: the service's name (as a DNS label) and a hash of the route."""
    label = _LABEL.sub("-", service.lower()).strip("-")[:40] or "service"
    digest = hashlib.sha256(f"{gateway_arn}|{service_arn}".encode()).hexdigest()[:8]
    return f"{label}-{digest}.{certificates.zone(region)}"


def _group_name(op: Op, route: str) -> str:
    """Unique to this making of the route: an UpdateService makes the new route's group
    while the old one still serves."""
    seed = f"{route}|{op.world.new_id()}"
    return "ecs-gw-tg-" + hashlib.sha256(seed.encode()).hexdigest()[:12]


# -- making and removing ---------------------------------------------------------------------


def connect(op: Op, planned: Plan, service: str) -> list[Connection]:
    """The routes of `planned` for the service named `service`: target groups and rules made,
    all undone when one fails."""
    service_arn = arns.ecs(
        op.region, op.account, f"service/{planned.cluster_arn.rsplit('/', 1)[1]}/{service}"
    )
    made: list[Connection] = []
    try:
        for gateway in planned.gateways:
            arn = route_arn(op, gateway["gatewayArn"], planned.cluster_arn, service)
            try:
                made.append(_connect_one(op, planned, gateway, arn, service_arn, service))
            except RequestError as exc:
                if exc.code in ("InvalidParameterException", "ClientException"):
                    raise
                # ELB's refusal of what the connector asks (a health check ELB does not
                # take...), in ECS's words for CreateService.
                raise InvalidParameterException(
                    f"The gateway connector cannot be applied: {exc.message}"
                ) from None
    except Exception:
        undo(op, made)
        raise
    return made


def _connect_one(
    op: Op,
    planned: Plan,
    gateway: Mapping[str, Any],
    arn: str,
    service_arn: str,
    service: str,
) -> Connection:
    group = _target_group(op, planned, arn)
    try:
        host = host_of(op.region, gateway["gatewayArn"], service_arn, service)
        try:
            route = albs.attach(op, owner(op, gateway), host, group)
        except albs.NoRoom as exc:
            raise InvalidParameterException(
                f"The gateway cannot take the service: {exc}."
            ) from None
    except Exception:
        _quietly(target_groups.delete, {"TargetGroupArn": group}, op)
        raise
    return Connection(arn, gateway["gatewayArn"], group, route, planned.target)


def _target_group(op: Op, planned: Plan, route: str) -> str:
    check = planned.connector.get("healthCheck") or {}
    p: dict[str, Any] = {
        "Name": _group_name(op, route),
        "Protocol": "HTTP",
        "Port": planned.target.container_port,
        "VpcId": planned.vpc,
        "TargetType": "ip",
        "Tags": [albs.MANAGED_TAG],
    }
    settings = {
        "healthCheckProtocol": "HealthCheckProtocol",
        "healthCheckPath": "HealthCheckPath",
        "healthCheckTimeoutSeconds": "HealthCheckTimeoutSeconds",
        "healthCheckIntervalSeconds": "HealthCheckIntervalSeconds",
        "healthyThresholdCount": "HealthyThresholdCount",
        "unhealthyThresholdCount": "UnhealthyThresholdCount",
    }
    for ours, elbs in settings.items():
        if check.get(ours) is not None:
            p[elbs] = check[ours]
    if check.get("healthCheckPort") is not None:
        p["HealthCheckPort"] = str(check["healthCheckPort"])
    matcher = {_MATCHERS[k]: v for k, v in (check.get("matcher") or {}).items() if k in _MATCHERS}
    if matcher:
        p["Matcher"] = matcher
    arn = str(target_groups.create(op, p)["TargetGroups"][0]["TargetGroupArn"])
    delay = (planned.connector.get("deregistrationDelay") or {}).get("timeoutSeconds")
    if delay is not None:
        try:
            target_groups.modify_attributes(
                op,
                {
                    "TargetGroupArn": arn,
                    "Attributes": [
                        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}
                    ],
                },
            )
        except Exception:
            _quietly(target_groups.delete, {"TargetGroupArn": arn}, op)
            raise
    return arn


def load_balancers(made: Sequence[Connection]) -> tuple[LoadBalancer, ...]:
    """The service's load balancer entries for its routes' target groups."""
    return tuple(
        LoadBalancer(
            target_group_arn=c.target_group_arn,
            container_name=c.target.container_name,
            container_port=c.target.container_port,
            gateway_route=c.route_arn,
        )
        for c in made
    )


def record(op: Op, made: Sequence[Connection], service_arn: str, cluster_arn: str) -> None:
    now = op.now()
    with op.store.transaction() as tx:
        for c in made:
            tx.put(
                ROUTES,
                c.route_arn,
                {
                    "gatewayRouteArn": c.route_arn,
                    "gatewayArn": c.gateway_arn,
                    "clusterArn": cluster_arn,
                    "serviceArn": service_arn,
                    "serviceContainerPortName": c.target.port_name,
                    "status": ACTIVE,
                    "serviceUrl": _url(c.route),
                    "host": c.route.host,
                    "targetGroupArn": c.target_group_arn,
                    "loadBalancerArn": c.route.load_balancer_arn,
                    "listenerArn": c.route.listener_arn,
                    "listenerRuleArn": c.route.rule_arn,
                    "acmCertificateArn": c.route.certificate_arn,
                    "createdAt": now,
                },
            )


def _url(route: albs.Route) -> str:
    if not route.certificate_arn:
        return f"http://{route.host}"
    return f"https://{route.host}"


def undo(op: Op, made: Sequence[Connection]) -> None:
    for c in reversed(made):
        albs.detach(op, c.route)
        _quietly(target_groups.delete, {"TargetGroupArn": c.target_group_arn}, op)


def routes_of(op: Op, service_arn: str) -> list[dict[str, Any]]:
    with op.store.read() as tx:
        return [doc for _, doc in tx.scan(ROUTES, where={"service": service_arn})]


def disconnect(op: Op, routes: Sequence[Mapping[str, Any]]) -> None:
    """Remove `routes` (their rules, target groups, and emptied load balancers)."""
    for doc in routes:
        route = albs.Route(
            str(doc["host"]),
            str(doc["loadBalancerArn"]),
            str(doc["listenerArn"]),
            str(doc["listenerRuleArn"]),
            str(doc.get("acmCertificateArn") or ""),
        )
        albs.detach(op, route)
        _quietly(target_groups.delete, {"TargetGroupArn": doc["targetGroupArn"]}, op)
        with op.store.transaction() as tx:
            tx.delete(ROUTES, str(doc["gatewayRouteArn"]))


def _quietly(call: Any, p: dict[str, Any], op: Op) -> None:
    """A removal of what may be gone already."""
    try:
        call(op, p)
    except NamedError as exc:
        if not exc.code.endswith("NotFound") and not exc.code.endswith("NotFoundException"):
            raise


# -- views -----------------------------------------------------------------------------------


def shown(doc: Mapping[str, Any], alb_security_groups: Sequence[str] = ()) -> dict[str, Any]:
    """A route as DescribeGatewayRoute shows it (security groups by ARN)."""
    _, _, _, region, account, _ = str(doc["gatewayRouteArn"]).split(":", 5)
    alb = {
        "acmCertificateArn": doc.get("acmCertificateArn"),
        "loadBalancerArn": doc["loadBalancerArn"],
        "listenerArn": doc["listenerArn"],
        "listenerRuleArn": doc["listenerRuleArn"],
        "testListenerRuleArns": [],
        "loadBalancerSecurityGroups": [
            {"arn": f"arn:aws:ec2:{region}:{account}:security-group/{g}", "ruleArns": []}
            for g in alb_security_groups
        ],
    }
    return {
        "gatewayRouteArn": doc["gatewayRouteArn"],
        "serviceArn": doc["serviceArn"],
        "serviceContainerPortName": doc["serviceContainerPortName"],
        "status": doc["status"],
        "serviceUrl": doc["serviceUrl"],
        "resources": {"hostSharedAlb": [{k: v for k, v in alb.items() if v is not None}]},
    }


def summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("gatewayRouteArn", "gatewayArn", "clusterArn", "serviceArn")
    return {
        **{k: doc[k] for k in keys},
        "serviceContainerPortName": doc["serviceContainerPortName"],
        "status": doc["status"],
    }
