"""ECS gateways: CreateGateway, DescribeGateway, UpdateGateway, DeleteGateway, ListGateways,
their cluster associations, routes and resources.

A gateway (`gateway/NAME`, account level) holds the ingress configuration services of its
associated clusters connect to (developer guide, "Create and manage an Amazon ECS
Gateway"). Creating one provisions nothing: the first shared Application Load Balancer is made
when a service connects (CreateService's `gatewayConnectors`), and each connected service is a
gateway route with its target group and listener rule (gateway_routes.py), which
ListGatewayRoutes, DescribeGatewayRoute and DescribeGatewayResources read. A cluster whose
services still have routes through the gateway cannot be disassociated from it (Portside does
not keep the association DISASSOCIATING until they go: it refuses, naming them).

What Portside has no part for is refused as AWS refuses a reference to a resource that does
not exist: an S3 bucket for access logs (Portside has no S3) and a WAF web ACL (no WAF).
Texts marked `# wording: ours` are refusals whose exact ECS words we did not find.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from portside.errors import ClientException, InvalidParameterException, NamedError
from portside.iam import records as iam
from portside.model import arn as arns
from portside.ops.clusters import cluster_arn, get_active
from portside.ops.context import Op
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import get_tags, set_tags, validate_tags
from portside.store.base import Tx

GATEWAYS = "ecs_gateways"
ASSOCIATIONS = "ecs_gateway_associations"
ACTIVE = "ACTIVE"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
DELETED = "DELETED"
INACTIVE = "INACTIVE"
DISASSOCIATING = "DISASSOCIATING"
MAX_GATEWAYS_PER_CLUSTER = 5  # AssociateGatewayWithCluster reference

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")


def not_found(ref: str) -> NamedError:
    return NamedError("GatewayNotFoundException", f"The specified gateway {ref} was not found.")


def gateway_arn(op: Op, ref: str) -> str:
    if arns.is_arn(ref):
        return ref
    return arns.ecs(op.region, op.account, f"gateway/{ref}")


def load(op: Op, tx: Tx, ref: str) -> dict[str, Any]:
    arn = gateway_arn(op, ref)
    parsed = arns.parse(arn)
    doc = None
    if parsed is not None and (parsed.region, parsed.account) == (op.region, op.account):
        doc = tx.get(GATEWAYS, arn)
    if doc is None:
        raise not_found(ref)
    return doc


def _check_role(op: Op, tx: Tx, arn: str) -> None:
    m = _ROLE.match(arn)
    if m is None:
        raise InvalidParameterException(
            f"infrastructureRoleArn {arn} is not a valid IAM role ARN."
        )  # wording: ours
    if m.group(1) != op.account or iam.entity(tx, op.account, "role", m.group(2)) is None:
        raise InvalidParameterException(
            f"The infrastructure role {arn} does not exist or Amazon ECS cannot assume it."
        )  # wording: ours


def _check_parts(config: Mapping[str, Any]) -> None:
    """What the configuration names that Portside has no part for: the resource does not
    exist, as AWS says of a bucket or web ACL that does not."""
    logs = (config.get("accessLogs") or {}).get("destination") or {}
    bucket = (logs.get("s3") or {}).get("bucket")
    if bucket:
        raise InvalidParameterException(
            f"The access log bucket {bucket} does not exist. Portside has no Amazon S3."
        )  # wording: ours
    if config.get("webACLArn"):
        raise InvalidParameterException(
            f"The web ACL {config['webACLArn']} does not exist. Portside has no AWS WAF."
        )  # wording: ours
    count = config.get("maxAlbCount")
    if count is not None and not 1 <= int(count) <= 100:
        raise InvalidParameterException("maxAlbCount must be between 1 and 100.")  # ours
    port = config.get("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise InvalidParameterException("port must be between 1 and 65535.")  # ours


def _alb(given: Mapping[str, Any]) -> dict[str, Any]:
    """The hostSharedAlb configuration as DescribeGateway shows it: as given, with the
    defaults filled in and no load balancer made yet."""
    out = dict(given)
    out.setdefault("scheme", "internet-facing")
    out.setdefault("protocol", "HTTPS")
    out.setdefault("port", 443 if out["protocol"] == "HTTPS" else 80)
    out.setdefault("httpDesync", "defensive")
    out.setdefault("maxAlbCount", 1)
    out["currentAlbCount"] = 0
    return out


def _digest(p: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(dict(p), option=orjson.OPT_SORT_KEYS)).hexdigest()


def create(op: Op, p: Mapping[str, Any]) -> dict[str, Any]:
    name = str(p["name"])
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Gateway name can have up to 255 letters, numbers, hyphens and underscores."
        )  # wording: ours
    alb = (p.get("configuration") or {}).get("hostSharedAlb")
    if alb is None:
        raise InvalidParameterException("configuration must specify hostSharedAlb.")  # ours
    _check_parts(alb)
    tags = validate_tags(p.get("tags") or ())
    digest = _digest({k: v for k, v in p.items() if k != "clientToken"})
    arn = gateway_arn(op, name)
    with op.store.transaction() as tx:
        existing = tx.get(GATEWAYS, arn)
        if existing is not None:
            token = p.get("clientToken")
            if token and existing.get("clientToken") == token and existing["digest"] == digest:
                return existing
            raise InvalidParameterException(
                f"A gateway named {name} already exists."
            )  # wording: ours
        _check_role(op, tx, str(p["infrastructureRoleArn"]))
        now = op.now()
        scheme = alb.get("scheme") or "internet-facing"
        doc: dict[str, Any] = {
            "gatewayArn": arn,
            "name": name,
            "status": ACTIVE,
            "infrastructureRoleArn": p["infrastructureRoleArn"],
            "deletionProtection": bool(p.get("deletionProtection", False)),
            "configuration": {"hostSharedAlb": _alb(alb)},
            "accessType": "PUBLIC" if scheme == "internet-facing" else "PRIVATE",
            "propagateTags": p.get("propagateTags") or "NONE",
            "createdAt": now,
            "updatedAt": now,
            "clientToken": p.get("clientToken"),
            "digest": digest,
        }
        tx.put(GATEWAYS, arn, doc)
        set_tags(tx, arn, tags)
        return doc


def describe(op: Op, ref: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    with op.store.read() as tx:
        doc = load(op, tx, ref)
        return doc, get_tags(tx, doc["gatewayArn"])


def update(op: Op, p: Mapping[str, Any]) -> dict[str, Any]:
    """Applied to every load balancer the gateway manages (their subnets and inbound security
    group; a scheme is an ALB's for life): the change is complete when the call returns."""
    given = (p.get("configuration") or {}).get("hostSharedAlb") or {}
    _check_parts(given)
    with op.store.transaction() as tx:
        doc = load(op, tx, str(p["gateway"]))
        if p.get("infrastructureRoleArn"):
            _check_role(op, tx, str(p["infrastructureRoleArn"]))
            doc["infrastructureRoleArn"] = p["infrastructureRoleArn"]
        if p.get("deletionProtection") is not None:
            doc["deletionProtection"] = bool(p["deletionProtection"])
        if p.get("propagateTags"):
            doc["propagateTags"] = p["propagateTags"]
        alb = doc["configuration"]["hostSharedAlb"]
        for key, value in given.items():
            if key == "networkConfiguration":
                alb.setdefault("networkConfiguration", {}).update(value)
            else:
                alb[key] = value
        doc["status"] = UPDATE_COMPLETE
        doc.pop("statusReason", None)
        doc["updatedAt"] = op.now()
        tx.put(GATEWAYS, doc["gatewayArn"], doc)
    if given.get("networkConfiguration"):
        from portside.ingress import albs
        from portside.ops import gateway_routes as routes

        albs.reconfigure(op, routes.owner(op, doc))
    return doc


def delete(op: Op, ref: str) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(op, tx, ref)
        if doc.get("deletionProtection"):
            raise InvalidParameterException(
                "The gateway has deletion protection enabled. Disable it before deleting the "
                "gateway."
            )  # wording: ours
        held = [
            a
            for _, a in tx.scan(ASSOCIATIONS, where={"gateway": doc["gatewayArn"]})
            if a["status"] in (ACTIVE, DISASSOCIATING)
        ]
        if held:
            raise InvalidParameterException(
                "The gateway is associated with clusters. Disassociate every cluster before "
                "deleting the gateway."
            )  # wording: ours
        for key, _ in tx.scan(ASSOCIATIONS, where={"gateway": doc["gatewayArn"]}):
            tx.delete(ASSOCIATIONS, key)
        tx.delete(GATEWAYS, doc["gatewayArn"])
        set_tags(tx, doc["gatewayArn"], [])
        doc["status"] = DELETED
        return doc


def list_gateways(
    op: Op,
    *,
    names: Sequence[str] = (),
    status: Sequence[str] = (),
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    with op.store.read() as tx:
        rows = tx.scan(GATEWAYS, prefix=arns.prefix(op.region, op.account, "gateway"))
    picked = [
        d
        for key, d in rows
        if key > after
        and (not names or d["name"] in names)
        and (not status or d["status"] in status)
    ]
    page = picked[:limit]
    token = encode_token(page[-1]["gatewayArn"]) if len(picked) > limit else None
    return page, token


# -- cluster associations -------------------------------------------------------------------


def _association_key(gateway: str, cluster: str) -> str:
    return f"{gateway}|{cluster}"


def associate(op: Op, gateway: str, cluster: str) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(op, tx, gateway)
        found = get_active(op, tx, cluster_arn(op, cluster))
        key = _association_key(doc["gatewayArn"], found.arn)
        existing = tx.get(ASSOCIATIONS, key)
        if existing is not None and existing["status"] == ACTIVE:
            return existing
        if existing is not None and existing["status"] == DISASSOCIATING:
            raise ClientException(
                "The gateway is being disassociated from the cluster."
            )  # wording: ours
        live = [
            a
            for _, a in tx.scan(ASSOCIATIONS, where={"cluster": found.arn})
            if a["status"] != INACTIVE
        ]
        if len(live) >= MAX_GATEWAYS_PER_CLUSTER:
            raise InvalidParameterException(
                f"A cluster can be associated with up to {MAX_GATEWAYS_PER_CLUSTER} gateways."
            )  # wording: ours, after the API reference
        assoc = {"gatewayArn": doc["gatewayArn"], "clusterArn": found.arn, "status": ACTIVE}
        tx.put(ASSOCIATIONS, key, assoc)
        return assoc


def disassociate(op: Op, gateway: str, cluster: str) -> dict[str, Any]:
    """The association ends at once (INACTIVE) when no service of the cluster has a route
    through the gateway; else the call is refused."""
    from portside.ops import gateway_routes as routes

    with op.store.transaction() as tx:
        doc = load(op, tx, gateway)
        found = get_active(op, tx, cluster_arn(op, cluster))
        key = _association_key(doc["gatewayArn"], found.arn)
        held = [
            r["serviceArn"]
            for _, r in tx.scan(routes.ROUTES, where={"gateway": doc["gatewayArn"]})
            if r["clusterArn"] == found.arn
        ]
        if held:
            raise ClientException(
                "Services of the cluster are connected to the gateway: remove their gateway "
                f"connectors first ({', '.join(sorted(held))})."
            )  # wording: ours
        existing = tx.get(ASSOCIATIONS, key)
        if existing is None or existing["status"] == INACTIVE:
            raise NamedError(
                "ResourceNotFoundException",
                "The gateway is not associated with the cluster.",
            )  # wording: ours
        existing["status"] = INACTIVE
        tx.put(ASSOCIATIONS, key, existing)
        return existing


def list_associations(
    op: Op,
    *,
    gateway: str | None = None,
    cluster: str | None = None,
    status: Sequence[str] = (),
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    with op.store.read() as tx:
        where: dict[str, Any] = {}
        if gateway is not None:
            # A filter naming no gateway matches nothing (the action declares no
            # GatewayNotFoundException).
            where["gateway"] = gateway_arn(op, gateway)
        if cluster is not None:
            where["cluster"] = cluster_arn(op, cluster)
        prefix = arns.prefix(op.region, op.account, "gateway")
        rows = tx.scan(ASSOCIATIONS, prefix=prefix, where=where)
    picked = [a for key, a in rows if key > after and (not status or a["status"] in status)]
    page = picked[:limit]
    token = None
    if len(picked) > limit:
        token = encode_token(_association_key(page[-1]["gatewayArn"], page[-1]["clusterArn"]))
    return page, token


# -- routes and resources -------------------------------------------------------------------


def list_routes(
    op: Op,
    *,
    gateway: str | None = None,
    cluster: str | None = None,
    service: str | None = None,
    port_name: str | None = None,
    status: Sequence[str] = (),
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Gateway routes (ops/gateway_routes.py), by route ARN, filtered as ListGatewayRoutes
    filters them."""
    from portside.ops import gateway_routes as routes

    limit = check_max_results(max_results)
    after = decode_token(next_token)
    where: dict[str, Any] = {}
    with op.store.read() as tx:
        if gateway is not None:
            where["gateway"] = load(op, tx, gateway)["gatewayArn"]
        if cluster is not None:
            where["cluster"] = cluster_arn(op, cluster)
        prefix = arns.prefix(op.region, op.account, "gateway-route")
        rows = tx.scan(routes.ROUTES, prefix=prefix, where=where)
    picked = [
        routes.summary(doc)
        for key, doc in rows
        if key > after
        and (port_name is None or doc["serviceContainerPortName"] == port_name)
        and (not status or doc["status"] in status)
        and (service is None or service in (doc["serviceArn"], doc["serviceArn"].rsplit("/")[-1]))
    ]
    page = picked[:limit]
    token = encode_token(page[-1]["gatewayRouteArn"]) if len(picked) > limit else None
    return page, token


def describe_route(op: Op, route_arn: str) -> dict[str, Any]:
    from portside.ops import gateway_routes as routes

    with op.store.read() as tx:
        doc = tx.get(routes.ROUTES, route_arn)
        if doc is None:
            raise NamedError(
                "ResourceNotFoundException",
                f"The specified gateway route {route_arn} was not found.",
            )  # wording: ours
        gateway = tx.get(GATEWAYS, doc["gatewayArn"]) or {}
    inbound = (
        ((gateway.get("configuration") or {}).get("hostSharedAlb") or {}).get(
            "networkConfiguration"
        )
        or {}
    ).get("inboundSecurityGroup")
    return routes.shown(doc, [inbound] if inbound else [])


def resources(op: Op, gateway: str) -> dict[str, Any]:
    """The load balancers the gateway made, each with its listener and the routes on it."""
    from portside.ops import gateway_routes as routes

    with op.store.read() as tx:
        doc = load(op, tx, gateway)
        held = [r for _, r in tx.scan(routes.ROUTES, where={"gateway": doc["gatewayArn"]})]
    by_lb: dict[str, dict[str, Any]] = {}
    for route in sorted(held, key=lambda r: r["gatewayRouteArn"]):
        entry = by_lb.setdefault(
            route["loadBalancerArn"],
            {
                "loadBalancerArn": route["loadBalancerArn"],
                "listenerArn": route["listenerArn"],
                "gatewayRouteArns": [],
            },
        )
        entry["gatewayRouteArns"].append(route["gatewayRouteArn"])
    inbound = ((doc["configuration"]["hostSharedAlb"].get("networkConfiguration")) or {}).get(
        "inboundSecurityGroup"
    )
    albs = [
        {**e, **({"securityGroup": inbound} if inbound else {})} for _, e in sorted(by_lb.items())
    ]
    return {"gatewayArn": doc["gatewayArn"], "resources": {"hostSharedAlb": albs}}
