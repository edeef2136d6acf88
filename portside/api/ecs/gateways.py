"""ECS gateways: wire <-> ops (ops/gateways.py)."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import gateways
from portside.ops.context import Op

_SHOWN = (
    "gatewayArn",
    "name",
    "status",
    "statusReason",
    "infrastructureRoleArn",
    "deletionProtection",
    "configuration",
    "accessType",
    "propagateTags",
    "createdAt",
    "updatedAt",
)


def _brief(doc: dict[str, Any]) -> dict[str, Any]:
    return {"gatewayArn": doc["gatewayArn"], "name": doc["name"], "status": doc["status"]}


def _paged(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if token:
        out["nextToken"] = token
    return out


@action("CreateGateway")
def create_gateway(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _brief(gateways.create(op, p))


@action("DescribeGateway")
def describe_gateway(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    doc, tags = gateways.describe(op, p["gateway"])
    out = {k: doc[k] for k in _SHOWN if doc.get(k) is not None}
    out["failures"] = []
    out["tags"] = tags
    return {"gateway": out}


@action("UpdateGateway")
def update_gateway(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _brief(gateways.update(op, p))


@action("DeleteGateway")
def delete_gateway(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _brief(gateways.delete(op, p["gateway"]))


@action("ListGateways")
def list_gateways(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = gateways.list_gateways(
        op,
        names=p.get("names") or (),
        status=p.get("status") or (),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    summaries = [{**_brief(d), "createdAt": d["createdAt"]} for d in found]
    return _paged("gateways", summaries, token)


@action("AssociateGatewayWithCluster")
def associate_gateway_with_cluster(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return gateways.associate(op, p["gateway"], p["cluster"])


@action("DisassociateGatewayFromCluster")
def disassociate_gateway_from_cluster(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return gateways.disassociate(op, p["gateway"], p["cluster"])


@action("ListGatewayClusterAssociations")
def list_gateway_cluster_associations(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = gateways.list_associations(
        op,
        gateway=p.get("gateway"),
        cluster=p.get("cluster"),
        status=p.get("status") or (),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return _paged("gatewayClusterAssociations", found, token)


@action("ListGatewayRoutes")
def list_gateway_routes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = gateways.list_routes(
        op,
        gateway=p.get("gateway"),
        cluster=p.get("cluster"),
        service=p.get("service"),
        port_name=p.get("serviceContainerPortName"),
        status=p.get("status") or (),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return {"gatewayRoutes": found, **({"nextToken": token} if token else {})}


@action("DescribeGatewayRoute")
def describe_gateway_route(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"gatewayRoute": gateways.describe_route(op, p["gatewayRouteArn"])}


@action("DescribeGatewayResources")
def describe_gateway_resources(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"gatewayResources": gateways.resources(op, p["gateway"])}
