"""What ECS reads and writes of Cloud Map (its services' `serviceRegistries`), through these
functions only: a registry's record types (CreateService's checks), a task registered as an
instance, and a task's instances deregistered (its stop, in the stop's transaction).

An ECS task's instance has the task's id as its id and the task's ARN kept beside it (the
`task` index), so a stop finds its instances without knowing the services.
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.servicediscovery import instances, records
from portside.store.base import Document, Tx


@dataclass(frozen=True, slots=True)
class Registry:
    arn: str
    service_id: str
    record_types: frozenset[str]  # empty: the service has no DNS records (HTTP)
    custom_health: bool  # HealthCheckCustomConfig: its instances' health is set from outside


def _service(tx: Tx, registry_arn: str) -> Document | None:
    m = records.ARN.match(registry_arn)
    if m is None or m[3] != "service":
        return None
    return tx.get(records.SERVICES, records.scope(m[1], m[2]) + m[4])


def registry(tx: Tx, registry_arn: str) -> Registry | None:
    """The Cloud Map service `registry_arn` names, or None when there is none."""
    doc = _service(tx, registry_arn)
    if doc is None:
        return None
    types = frozenset(r["Type"] for r in (doc.get("DnsConfig") or {}).get("DnsRecords") or ())
    return Registry(doc["Arn"], doc["Id"], types, doc.get("HealthCheckCustomConfig") is not None)


def register_task(
    tx: Tx, registry_arn: str, task_arn: str, attributes: dict[str, str], account: str
) -> bool:
    """Register the task as an instance of the registry's service (id: the task's id);
    False when the service is gone."""
    doc = _service(tx, registry_arn)
    if doc is None:
        return False
    instance_id = task_arn.rsplit("/", 1)[-1]
    instances.put(tx, doc, instance_id, attributes, account=account, task=task_arn)
    return True


def deregister_task(tx: Tx, task_arn: str) -> int:
    """Deregister every instance the task registered: how many there were."""
    found = list(tx.scan(records.INSTANCES, where={"task": task_arn}))
    for key, doc in found:
        service = tx.get(records.SERVICES, key.rsplit("|", 1)[0])
        if service is None:
            tx.delete(records.INSTANCES, key)
        else:
            instances.remove(tx, service, doc["Id"])
    return len(found)


def registered_tasks(tx: Tx) -> dict[str, dict[str, str]]:
    """Every task registered as an instance -> the ARNs of the services it is in -> the
    instance's health there."""
    out: dict[str, dict[str, str]] = {}
    services: dict[str, str | None] = {}
    for key, doc in tx.scan(records.INSTANCES):
        task = doc.get("Task")
        if not task:
            continue
        service_key = key.rsplit("|", 1)[0]
        if service_key not in services:
            held = tx.get(records.SERVICES, service_key)
            services[service_key] = held["Arn"] if held else None
        arn = services[service_key]
        if arn is not None:
            out.setdefault(task, {})[arn] = str(doc.get("Health") or "UNKNOWN")
    return out


def deregister_task_from(tx: Tx, registry_arn: str, task_arn: str) -> bool:
    """Deregister the task's instance from one registry's service."""
    doc = _service(tx, registry_arn)
    return doc is not None and instances.remove(tx, doc, task_arn.rsplit("/", 1)[-1])


def set_task_health(tx: Tx, registry_arn: str, task_arn: str, health: str) -> bool:
    """The task's container health, as its instance's custom health status: HEALTHY or
    UNHEALTHY (only a service with HealthCheckCustomConfig keeps one)."""
    doc = _service(tx, registry_arn)
    return doc is not None and instances.set_health(tx, doc, task_arn.rsplit("/", 1)[-1], health)
