"""Cloud Map as the DNS server sees it: what dns/sources.py's Cloud Map source reads, kept
here so that the DNS server never reads Cloud Map's tables itself.

`DnsView` holds the namespaces, services and instances it has been shown (a full read by
`load`, then each change by `changed`), and answers with the records of the services a change
touches, one owner per service (records_dns.service_records), and the DNS namespaces' names,
the zones the server answers authoritatively (`zones`). Instance documents are kept in memory
per service: a service's records are rebuilt from them without reading the store.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from portside.dns.records import Record
from portside.servicediscovery import records
from portside.servicediscovery.records_dns import service_records
from portside.store.base import Tx

Owned = tuple[str, tuple[Record, ...]]
TABLES = records.TABLES
_DNS = ("DNS_PRIVATE", "DNS_PUBLIC")


class DnsView:
    def __init__(
        self,
        on_zones: Callable[[tuple[str, ...]], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.on_zones = on_zones
        self.rng = rng or random.Random()
        self._namespaces: dict[str, dict[str, Any]] = {}  # ns id -> doc (DNS ones)
        self._services: dict[str, dict[str, Any]] = {}  # service key -> doc
        self._instances: dict[str, dict[str, dict[str, Any]]] = {}  # service key -> key -> doc
        self._zones: tuple[str, ...] = ()

    def zones(self) -> tuple[str, ...]:
        return tuple(sorted(n["Name"] for n in self._namespaces.values()))

    def load(self, tx: Tx) -> Iterator[Owned]:
        self._namespaces.clear()
        self._services.clear()
        self._instances.clear()
        for table in (records.NAMESPACES, records.SERVICES, records.INSTANCES):
            for key, doc in tx.scan_raw(table):
                self._take(table, key, doc)
        self._tell_zones()
        for key in list(self._services):
            yield self._owned(key)

    def changed(self, table: str, key: str, doc: str | None) -> Iterator[Owned]:
        touched = self._take(table, key, doc)
        if table == records.NAMESPACES:
            self._tell_zones()
        for service_key in touched:
            yield self._owned(service_key)

    def _take(self, table: str, key: str, raw: str | None) -> list[str]:
        """Hold one document (None: forget it); the service keys whose records it touches."""
        doc = orjson.loads(raw) if raw is not None else None
        if table == records.NAMESPACES:
            ns_id = key.rsplit("|", 1)[1]
            if doc is not None and doc.get("Type") in _DNS:
                self._namespaces[ns_id] = doc
            else:
                self._namespaces.pop(ns_id, None)
            return [k for k, s in self._services.items() if s["NamespaceId"] == ns_id]
        if table == records.SERVICES:
            if doc is None:
                self._services.pop(key, None)
                self._instances.pop(key, None)
            else:
                self._services[key] = doc
            return [key]
        service_key = key.rsplit("|", 1)[0]
        held = self._instances.setdefault(service_key, {})
        if doc is None:
            held.pop(key, None)
        else:
            held[key] = doc
        return [service_key]

    def _owned(self, service_key: str) -> Owned:
        service = self._services.get(service_key)
        if service is None:
            return service_key, ()
        namespace = self._namespaces.get(service["NamespaceId"])
        if namespace is None:
            return service_key, ()
        instances = self._instances.get(service_key, {}).values()
        return service_key, service_records(namespace["Name"], service, instances, self.rng)

    def _tell_zones(self) -> None:
        zones = self.zones()
        if zones != self._zones:
            self._zones = zones
            if self.on_zones is not None:
                self.on_zones(zones)
