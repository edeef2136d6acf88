"""Instances: RegisterInstance, DeregisterInstance, GetInstance, ListInstances,
GetInstancesHealthStatus, UpdateInstanceCustomHealthStatus; `put` and `remove`, the one way
an instance is written (the API's and ECS's registrations alike).

An instance's attributes are checked against its service's records: an A record needs
AWS_INSTANCE_IPV4, AAAA AWS_INSTANCE_IPV6, SRV AWS_INSTANCE_PORT, CNAME AWS_INSTANCE_CNAME.
Its health is HEALTHY or UNHEALTHY with HealthCheckCustomConfig (AWS_INIT_HEALTH_STATUS
first, then UpdateInstanceCustomHealthStatus), HEALTHY with a Route 53 HealthCheckConfig
(Portside runs no Route 53 checks), UNKNOWN with neither; only UNHEALTHY ones are left out of
DNS answers. Every change bumps the service's revision (DiscoverInstancesRevision).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.servicediscovery import errors, operations, paging, records
from portside.servicediscovery.actions import action
from portside.servicediscovery.errors import InvalidInput
from portside.store.base import Document, Tx

MAX_ATTRIBUTES = 30
_NEEDS = {
    "A": "AWS_INSTANCE_IPV4",
    "AAAA": "AWS_INSTANCE_IPV6",
    "SRV": "AWS_INSTANCE_PORT",
    "CNAME": "AWS_INSTANCE_CNAME",
}


def check_attributes(service: Document, attributes: dict[str, str]) -> None:
    """What Cloud Map refuses of an instance's attributes for `service`."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"An instance can have at most {MAX_ATTRIBUTES} attributes.")
    for record in (service.get("DnsConfig") or {}).get("DnsRecords") or ():
        need = _NEEDS[record["Type"]]
        if need not in attributes:
            raise InvalidInput(
                f"The service {service['Id']} has a {record['Type']} record: the instance "
                f"needs the attribute {need}."
            )
    for name, version in (("AWS_INSTANCE_IPV4", 4), ("AWS_INSTANCE_IPV6", 6)):
        if name in attributes:
            try:
                address = ipaddress.ip_address(attributes[name])
            except ValueError:
                address = None
            if address is None or address.version != version:
                raise InvalidInput(
                    f"{name} {attributes[name]} is not a valid IPv{version} address."
                )
    port = attributes.get("AWS_INSTANCE_PORT")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise InvalidInput(f"AWS_INSTANCE_PORT {port} is not a valid port.")
    init = attributes.get("AWS_INIT_HEALTH_STATUS")
    if init is not None and init not in ("HEALTHY", "UNHEALTHY"):
        raise InvalidInput("AWS_INIT_HEALTH_STATUS must be HEALTHY or UNHEALTHY.")


def _first_health(service: Document, attributes: dict[str, str]) -> str:
    if service.get("HealthCheckCustomConfig") is not None:
        return attributes.get("AWS_INIT_HEALTH_STATUS") or "HEALTHY"
    if service.get("HealthCheckConfig") is not None:
        return "HEALTHY"
    return "UNKNOWN"


def bump(tx: Tx, service: Document) -> None:
    """A change of the service's instances: its revision moves on."""
    service["_Revision"] = tx.next_value("sd-revision|" + service["Id"])
    tx.put(records.SERVICES, records.service_key(service), service)


def put(
    tx: Tx,
    service: Document,
    instance_id: str,
    attributes: dict[str, str],
    *,
    account: str,
    creator: str | None = None,
    task: str | None = None,
) -> None:
    """Register (or re-register) `instance_id` in `service`, its attributes checked."""
    check_attributes(service, attributes)
    key = records.instance_key(service, instance_id)
    held = tx.get(records.INSTANCES, key)
    health = (held or {}).get("Health") or _first_health(service, attributes)
    doc: Document = {
        "Id": instance_id,
        "Attributes": dict(attributes),
        "CreatedByAccount": account,
        "ServiceId": service["Id"],
        "Health": health,
    }
    if creator is not None:
        doc["CreatorRequestId"] = creator
    if task is not None:
        doc["Task"] = task
    tx.put(records.INSTANCES, key, doc)
    bump(tx, service)


def remove(tx: Tx, service: Document, instance_id: str) -> bool:
    """Deregister `instance_id` from `service`; False when it was not registered."""
    key = records.instance_key(service, instance_id)
    if tx.get(records.INSTANCES, key) is None:
        return False
    tx.delete(records.INSTANCES, key)
    bump(tx, service)
    return True


def set_health(tx: Tx, service: Document, instance_id: str, health: str) -> bool:
    """Set a registered instance's health; False when it is not registered or already so."""
    key = records.instance_key(service, instance_id)
    doc = tx.get(records.INSTANCES, key)
    if doc is None or doc["Health"] == health:
        return False
    doc["Health"] = health
    tx.put(records.INSTANCES, key, doc)
    bump(tx, service)
    return True


def shown(doc: Document) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in records.INSTANCE_PRIVATE}


@action("RegisterInstance")
def register_instance(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        service = records.service(op, tx, p["ServiceId"])
        creator = p.get("CreatorRequestId")
        put(
            tx,
            service,
            p["InstanceId"],
            dict(p["Attributes"]),
            account=op.account,
            creator=creator,
        )
        return {
            "OperationId": operations.record(
                op,
                tx,
                "REGISTER_INSTANCE",
                {"INSTANCE": p["InstanceId"], "SERVICE": service["Id"]},
            )
        }


@action("DeregisterInstance")
def deregister_instance(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        service = records.service(op, tx, p["ServiceId"])
        if not remove(tx, service, p["InstanceId"]):
            raise errors.instance_not_found(p["InstanceId"], service["Id"])
        return {
            "OperationId": operations.record(
                op,
                tx,
                "DEREGISTER_INSTANCE",
                {"INSTANCE": p["InstanceId"], "SERVICE": service["Id"]},
            )
        }


@action("GetInstance")
def get_instance(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        service = records.service(op, tx, p["ServiceId"])
        doc = tx.get(records.INSTANCES, records.instance_key(service, p["InstanceId"]))
    if doc is None:
        raise errors.instance_not_found(p["InstanceId"], service["Id"])
    return {"ResourceOwner": service["ResourceOwner"], "Instance": shown(doc)}


@action("ListInstances")
def list_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        service = records.service(op, tx, p["ServiceId"])
        found = [shown(d) for _, d in records.instances(tx, service)]
    for doc in found:
        doc.pop("CreatorRequestId", None)
    reply = paging.page(p, found, lambda i: i["Id"], "Instances")
    reply["ResourceOwner"] = service["ResourceOwner"]
    return reply


@action("GetInstancesHealthStatus")
def get_health(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        service = records.service(op, tx, p["ServiceId"])
        held = {d["Id"]: d["Health"] for _, d in records.instances(tx, service)}
    wanted = p.get("Instances")
    if wanted:
        for instance_id in wanted:
            if instance_id not in held:
                raise errors.instance_not_found(instance_id, service["Id"])
        held = {i: held[i] for i in sorted(set(wanted))}
    reply = paging.page(p, sorted(held.items()), lambda kv: kv[0], "Status")
    reply["Status"] = dict(reply["Status"])
    return reply


@action("UpdateInstanceCustomHealthStatus")
def update_health(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        service = records.service(op, tx, p["ServiceId"])
        doc = tx.get(records.INSTANCES, records.instance_key(service, p["InstanceId"]))
        if doc is None:
            raise errors.instance_not_found(p["InstanceId"], service["Id"])
        if service.get("HealthCheckCustomConfig") is None:
            raise NamedError(
                "CustomHealthNotFound",
                f"The service {service['Id']} has no custom health check configuration.",
            )
        set_health(tx, service, p["InstanceId"], p["Status"])
    return {}
