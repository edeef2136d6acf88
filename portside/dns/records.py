"""The records a resource's document makes (pure: documents in, records out).

A task in `awsvpc` mode has one ENI attachment; once its agent reports the network, the
attachment's details carry `privateIPv4Address` and `privateDnsName` (agent/reports.py).
Its names are AWS's: `ip-10-0-1-23.ec2.internal` in us-east-1,
`ip-10-0-1-23.<region>.compute.internal` elsewhere, with the reverse PTR
(`23.1.0.10.in-addr.arpa` -> that name). The name the attachment reports is served too when it
differs, so what DescribeTasks shows always resolves.

A task has records while it is coming up or RUNNING with an address. They go as soon as it is
asked to stop (desiredStatus STOPPED) or starts deactivating, before its containers stop: a
client stops finding it while it still answers, rather than finding an address that no longer
answers (or that another task has been given).

A load balancer's `DNSName` points at the address its listeners bind on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.model.states import TaskStatus

A = "A"
PTR = "PTR"

TASK_TTL = 5  # seconds: a task's address goes with it, clients must not hold it long
LOAD_BALANCER_TTL = 60  # a load balancer's address does not change while it exists
NEGATIVE_TTL = 5  # NXDOMAIN/NODATA (the SOA's minimum): a task's name appears within seconds

US_EAST_1 = "us-east-1"
ENI = "ElasticNetworkInterface"
# The states in which a task with an address is served: not once it deactivates or stops.
SERVED = frozenset(
    {TaskStatus.PROVISIONING, TaskStatus.PENDING, TaskStatus.ACTIVATING, TaskStatus.RUNNING}
)


@dataclass(frozen=True, slots=True, order=True)
class Record:
    """One resource record. `name` is absolute and lower-case (`ip-10-0-1-23.ec2.internal.`);
    `value` is the record's data in presentation form (an address, a target name)."""

    name: str
    type: str
    value: str
    ttl: int


def absolute(name: str) -> str:
    """`name` lower-cased and ending with a dot."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def private_dns_name(address: str, region: str) -> str:
    """The name AWS gives a private IPv4 address in `region` (no trailing dot)."""
    host = "ip-" + address.replace(".", "-")
    if region == US_EAST_1:
        return f"{host}.ec2.internal"
    return f"{host}.{region}.compute.internal"


def reverse_name(address: str) -> str:
    """The in-addr.arpa name of an IPv4 address (absolute)."""
    return ipaddress.IPv4Address(address).reverse_pointer + "."


def _ipv4(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _valid_name(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in labels
    )


def task_records(arn: str, doc: Mapping[str, Any]) -> tuple[Record, ...]:
    """The records of one task document: none unless it has an ENI address and is served
    (see the module docstring)."""
    if doc.get("desiredStatus") == TaskStatus.STOPPED or doc.get("lastStatus") not in SERVED:
        return ()
    region = arn.split(":")[3] if arn.count(":") >= 5 else US_EAST_1
    out: set[Record] = set()
    for attachment in doc.get("attachments") or ():
        if attachment.get("type") != ENI or attachment.get("status") == "DELETED":
            continue
        details = {d.get("name"): d.get("value") for d in attachment.get("details") or ()}
        address = _ipv4(details.get("privateIPv4Address"))
        if address is None:
            continue
        name = absolute(private_dns_name(address, region))
        out.add(Record(name, A, address, TASK_TTL))
        out.add(Record(reverse_name(address), PTR, name, TASK_TTL))
        reported = details.get("privateDnsName")
        if isinstance(reported, str) and _valid_name(reported):
            out.add(Record(absolute(reported), A, address, TASK_TTL))
    return tuple(sorted(out))


def host_records(host: str, address: str) -> tuple[Record, ...]:
    """A host name an ECS-managed load balancer routes -> that load balancer's address."""
    if not _valid_name(host):
        return ()
    return (Record(absolute(host), A, address, LOAD_BALANCER_TTL),)


def load_balancer_records(doc: Mapping[str, Any], address: str) -> tuple[Record, ...]:
    """A load balancer's DNSName -> the address its listeners are reached on."""
    name = doc.get("DNSName")
    if not isinstance(name, str) or not _valid_name(name):
        return ()
    return (Record(absolute(name), A, address, LOAD_BALANCER_TTL),)
