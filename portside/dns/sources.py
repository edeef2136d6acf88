"""Where records come from: one `RecordSource` per kind of resource, read from the store.

A source names the tables it reads and the zones it alone answers for, reads every record
from a snapshot at start, and says which owners' records a change of one of its tables
sets. Tasks, load balancers and Cloud Map's services are sources; Cloud Map's DNS namespaces
are zones that come and go (`Zone.set_extra_apexes`, told by its source).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Protocol

import botocore.session
import orjson

from portside.dns.records import (
    SERVED,
    Record,
    host_records,
    load_balancer_records,
    task_records,
)
from portside.elb.addresses import on_loopback, own_address
from portside.elb.names import DNS_SUFFIX
from portside.elb.records import LBS
from portside.ingress.albs import HOSTS as INGRESS_HOSTS
from portside.ingress.certificates import zone
from portside.ops.tasks import TABLE as TASKS
from portside.servicediscovery import dns_view
from portside.store.base import Tx

Owned = tuple[str, tuple[Record, ...]]  # an owner (a resource's key) and all its records


class RecordSource(Protocol):
    name: str  # owners are kept as "<name>:<key>", so two sources never share one
    tables: tuple[str, ...]
    zones: tuple[str, ...]  # names only this source answers for: a miss there is NXDOMAIN

    def load(self, tx: Tx) -> Iterator[Owned]:
        """Every owner's records as the snapshot `tx` holds them."""
        ...

    def changed(self, table: str, key: str, doc: str | None) -> Iterator[Owned]:
        """The owners whose records one change sets, with their records now (none: they
        have none). `doc` is the document's stored JSON text, None when it was deleted."""
        ...


class TaskSource:
    """awsvpc tasks' private DNS names and their reverse (records.task_records)."""

    name: str = "task"
    tables: tuple[str, ...] = (TASKS,)
    zones: tuple[str, ...] = ("ec2.internal", "compute.internal")
    # Only a task with an address has records; most task changes are not of those.
    _MARK = "privateIPv4Address"

    def load(self, tx: Tx) -> Iterator[Owned]:
        for key, doc in tx.scan_raw(TASKS, where={"status": sorted(SERVED)}):
            if self._MARK in doc:
                yield from self.changed(TASKS, key, doc)

    def changed(self, table: str, key: str, doc: str | None) -> Iterator[Owned]:
        if doc is None or self._MARK not in doc:
            yield key, ()
        else:
            yield key, task_records(key, orjson.loads(doc))


class LoadBalancerSource:
    """ELB load balancers' DNS names, pointing at the address their listeners bind on."""

    name: str = "elb"
    tables: tuple[str, ...] = (LBS,)
    zones: tuple[str, ...] = (DNS_SUFFIX,)

    def __init__(self, address: str) -> None:
        self.address = address

    def load(self, tx: Tx) -> Iterator[Owned]:
        for key, doc in tx.scan_raw(LBS):
            yield from self.changed(LBS, key, doc)

    def changed(self, table: str, key: str, doc: str | None) -> Iterator[Owned]:
        if doc is None:
            yield key, ()
            return
        parsed = orjson.loads(doc)
        # On loopback, each load balancer listens on its own address too (elb/addresses.py).
        arn = str(parsed.get("LoadBalancerArn") or "")
        address = own_address(arn) if arn and on_loopback(self.address) else self.address
        yield key, load_balancer_records(parsed, address)


@cache
def _ecs_regions() -> tuple[str, ...]:
    return tuple(botocore.session.get_session().get_available_regions("ecs"))


class IngressHostSource:
    """The host names routed by ECS-managed load balancers (ingress/albs.py: gateway routes,
    Express services), pointing at their load balancer's address (its own on loopback, as
    LoadBalancerSource's). Authoritative for ECS's own `ecs.<region>.on.aws` of each region
    botocore knows; any other `on.aws` name (a Lambda function URL...) is forwarded."""

    name: str = "ingress"
    tables: tuple[str, ...] = (INGRESS_HOSTS,)

    def __init__(self, address: str) -> None:
        self.address = address
        self.zones: tuple[str, ...] = tuple(zone(r) for r in _ecs_regions())

    def load(self, tx: Tx) -> Iterator[Owned]:
        for key, doc in tx.scan_raw(INGRESS_HOSTS):
            yield from self.changed(INGRESS_HOSTS, key, doc)

    def changed(self, table: str, key: str, doc: str | None) -> Iterator[Owned]:
        if doc is None:
            yield key, ()
            return
        serving = orjson.loads(doc).get("routes") or [{}]
        lb = str(serving[0].get("loadBalancerArn") or "")
        if not lb:
            yield key, ()
            return
        address = own_address(lb) if on_loopback(self.address) else self.address
        yield key, host_records(key, address)


class CloudMapSource:
    """Cloud Map services' records in their DNS namespaces (servicediscovery/dns_view.py: the
    records are built there, from what it is shown); one owner per service."""

    name: str = "cloudmap"
    tables: tuple[str, ...] = dns_view.TABLES
    zones: tuple[str, ...] = ()  # the namespaces: they come and go (`on_zones`)

    def __init__(self, on_zones: Callable[[tuple[str, ...]], None] | None = None) -> None:
        self.view = dns_view.DnsView(on_zones)

    def load(self, tx: Tx) -> Iterator[Owned]:
        yield from self.view.load(tx)

    def changed(self, table: str, key: str, doc: str | None) -> Iterator[Owned]:
        yield from self.view.changed(table, key, doc)
