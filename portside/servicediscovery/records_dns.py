"""The DNS records of a Cloud Map service (pure: documents in, records out).

For a service with a DnsConfig in a DNS namespace `ns`, named `svc`:

- A / AAAA at `svc.ns`: the instances' AWS_INSTANCE_IPV4 / AWS_INSTANCE_IPV6;
- SRV at `svc.ns` (a service named `_backend._tcp` gives `_backend._tcp.ns`, the usual SRV
  form): `1 1 AWS_INSTANCE_PORT <instance-id>.svc.ns.`, each target with its own A / AAAA
  record, as Route 53 holds them for Cloud Map;
- CNAME at `svc.ns`: AWS_INSTANCE_CNAME (WEIGHTED only; one instance's).

Only instances that are not UNHEALTHY are answered. MULTIVALUE answers up to eight of them,
chosen at random; WEIGHTED one. The choice is made each time the service's records are
rebuilt (any change of its instances), and the answer is then the same until the next
change: the DNS server caches encoded answers per name. Every record has the TTL its
DnsConfig gives its type.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping
from typing import Any

from portside.dns.records import Record, absolute

MULTIVALUE_MAX = 8  # Route 53's multivalue answers: up to eight healthy records


def _label_ok(label: str) -> bool:
    return 0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()


def _address(value: Any, version: int) -> str | None:
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return None
    return str(address) if address.version == version else None


def service_records(
    namespace_name: str,
    service: Mapping[str, Any],
    instances: Iterable[Mapping[str, Any]],
    rng: random.Random,
) -> tuple[Record, ...]:
    """Every record of one service (see the module docstring)."""
    config = service.get("DnsConfig")
    if not config or service.get("Type") == "HTTP":
        return ()
    name = absolute(f"{service['Name']}.{namespace_name}")
    ttls = {r["Type"]: int(r.get("TTL") or 0) for r in config.get("DnsRecords") or ()}
    served = sorted(
        (i for i in instances if i.get("Health") != "UNHEALTHY"), key=lambda i: str(i["Id"])
    )
    cap = MULTIVALUE_MAX if config.get("RoutingPolicy", "MULTIVALUE") == "MULTIVALUE" else 1
    chosen = rng.sample(served, cap) if len(served) > cap else served
    out: set[Record] = set()
    for instance in chosen:
        attributes = instance.get("Attributes") or {}
        v4 = _address(attributes.get("AWS_INSTANCE_IPV4"), 4)
        v6 = _address(attributes.get("AWS_INSTANCE_IPV6"), 6)
        if "A" in ttls and v4:
            out.add(Record(name, "A", v4, ttls["A"]))
        if "AAAA" in ttls and v6:
            out.add(Record(name, "AAAA", v6, ttls["AAAA"]))
        if "CNAME" in ttls and attributes.get("AWS_INSTANCE_CNAME"):
            out.add(
                Record(name, "CNAME", absolute(attributes["AWS_INSTANCE_CNAME"]), ttls["CNAME"])
            )
        port = str(attributes.get("AWS_INSTANCE_PORT") or "")
        if "SRV" in ttls and port.isdigit() and _label_ok(str(instance["Id"])) and (v4 or v6):
            target = absolute(f"{instance['Id']}.{name}")
            ttl = ttls["SRV"]
            out.add(Record(name, "SRV", f"1 1 {int(port)} {target}", ttl))
            if v4:
                out.add(Record(target, "A", v4, ttls.get("A", ttl)))
            if v6:
                out.add(Record(target, "AAAA", v6, ttls.get("AAAA", ttl)))
    return tuple(sorted(out))
