"""DiscoverInstances and DiscoverInstancesRevision: a service's instances found by the
namespace's HTTP name and the service's name, as Cloud Map's data plane answers.

`select` is the choice (pure): instances whose attributes hold every QueryParameter; then
the OptionalParameters, when some instance holds them all; then the HealthStatus filter
(HEALTHY, UNHEALTHY, ALL, HEALTHY_OR_ELSE_ALL; ignored for a service without health
checking, whose instances are all returned); then MaxResults of them at random.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from portside.ops.context import Op
from portside.servicediscovery import errors, records
from portside.servicediscovery.actions import action
from portside.store.base import Document, Tx


def _holds(doc: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    attributes = doc["Attributes"]
    return all(attributes.get(k) == v for k, v in wanted.items())


def healthy(doc: Mapping[str, Any]) -> bool:
    """Whether an instance counts as healthy (no health checking: it does)."""
    return doc.get("Health") != "UNHEALTHY"


def select(
    instances: Sequence[Mapping[str, Any]],
    query: Mapping[str, str],
    optional: Mapping[str, str],
    health: str,
    limit: int,
    rng: random.Random,
) -> list[Mapping[str, Any]]:
    found = [d for d in instances if _holds(d, query)]
    if optional:
        narrowed = [d for d in found if _holds(d, optional)]
        found = narrowed or found
    checked = any(d.get("Health") != "UNKNOWN" for d in found)
    if checked:
        if health == "HEALTHY":
            found = [d for d in found if d.get("Health") == "HEALTHY"]
        elif health == "UNHEALTHY":
            found = [d for d in found if d.get("Health") == "UNHEALTHY"]
        elif health == "HEALTHY_OR_ELSE_ALL":
            found = [d for d in found if d.get("Health") == "HEALTHY"] or found
    if len(found) > limit:
        found = rng.sample(found, limit)
    return found


def _service(op: Op, tx: Tx, p: dict[str, Any]) -> Document:
    account = p.get("OwnerAccount") or op.account
    ns = records.namespace_by_name(tx, op.region, account, p["NamespaceName"])
    if ns is None:
        raise errors.namespace_not_found(p["NamespaceName"])
    for service in records.services_of(tx, op.region, account, ns["Id"]):
        if service["Name"].lower() == p["ServiceName"].lower():
            return service
    raise errors.service_not_found(p["ServiceName"])


@action("DiscoverInstances")
def discover_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        service = _service(op, tx, p)
        held = [d for _, d in records.instances(tx, service)]
    ns_name, name = p["NamespaceName"], service["Name"]
    chosen = select(
        held,
        p.get("QueryParameters") or {},
        p.get("OptionalParameters") or {},
        p.get("HealthStatus") or "HEALTHY",
        p.get("MaxResults") or 100,
        op.world.rng,
    )
    return {
        "Instances": [
            {
                "InstanceId": d["Id"],
                "NamespaceName": ns_name,
                "ServiceName": name,
                "HealthStatus": d.get("Health") or "UNKNOWN",
                "Attributes": d["Attributes"],
            }
            for d in chosen
        ],
        "InstancesRevision": service.get("_Revision", 0),
    }


@action("DiscoverInstancesRevision")
def discover_revision(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        service = _service(op, tx, p)
    return {"InstancesRevision": service.get("_Revision", 0)}
