"""What one host needs to know of EC2 to enforce and wire its awsvpc tasks' networks, read
from the store (EC2 owns its tables; the gateway sends this to the host's agent).

For a set of container instances (an agent session's), `host_network` reads:

- the ENI of every awsvpc task on them (tasks not STOPPED whose ENI attachment names an ENI
  EC2 keeps; the ENI goes when its task stops), with its groups;
- the rules of those groups, as stored (the documents `traffic.py` judges by);
- for each group those rules name as a peer, the addresses of its ENIs in the region, on any
  host: a source-group rule admits the addresses of the group's members;
- the local subnets' blocks and VPCs, and for each, the underlay addresses of the other
  container instances running tasks with ENIs in it (their ENI attachment's instance id
  found among the container instances, their address as the load balancers read it: the
  `ecs.private-ip` attribute, else the registered `privateIpAddress`; an instance with
  neither is left out, since loopback is nowhere for another host).

Pure in the sense that matters: one read transaction in, plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import orjson

from portside.ec2.records import ENIS, RULES, SUBNETS
from portside.ops.tasks import UNSTOPPED
from portside.store.base import Tx

TASKS = "tasks"
INSTANCES = "container_instances"
# What the view is made of: a change to any wakes a waiting agent's long poll.
WATCHED = (TASKS, INSTANCES, ENIS, RULES, SUBNETS, "ec2_security_groups")
ADDRESS_ATTRIBUTE = "ecs.private-ip"  # as controllers/load_balancers.py reads it
ADDRESS_FIELD = "privateIpAddress"
# The members of a stored rule `traffic.Rule.from_doc` reads (the rest stays home).
RULE_MEMBERS = (
    "SecurityGroupRuleId",
    "GroupId",
    "IsEgress",
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIpv4",
    "CidrIpv6",
    "PrefixListId",
    "ReferencedGroupInfo",
)


@dataclass(frozen=True, slots=True)
class TaskInterface:
    task_arn: str
    eni_id: str
    address: str
    subnet_id: str
    vpc_id: str
    mac: str
    groups: tuple[str, ...]


@dataclass(slots=True)
class HostNetwork:
    interfaces: list[TaskInterface] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    subnets: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (cidr, vpc)
    subnet_peers: dict[str, list[str]] = field(default_factory=dict)


def _scope(arn: str) -> str | None:
    """`ACCOUNT|REGION|` of an ECS ARN (EC2's key prefix)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return f"{parts[4]}|{parts[3]}|"


def _eni_id(task: Mapping[str, Any]) -> str | None:
    for attachment in task.get("attachments") or ():
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details") or ():
            value = detail.get("value")
            if detail.get("name") == "networkInterfaceId" and str(value).startswith("eni-"):
                return str(value)
    return None


def instance_address(doc: Mapping[str, Any]) -> str | None:
    """Where another host reaches a container instance: its `ecs.private-ip` attribute, else
    its registered private address; None when it gave neither or no IP address (pure)."""
    attributes = doc.get("attributes") or ()
    given = next((a.get("value") for a in attributes if a.get("name") == ADDRESS_ATTRIBUTE), None)
    given = given or doc.get(ADDRESS_FIELD)
    if not given:
        return None
    try:
        return str(ip_address(str(given).strip()))
    except ValueError:
        return None


def _rule(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in RULE_MEMBERS if k in doc}


def host_network(tx: Tx, instance_arns: Iterable[str]) -> HostNetwork:
    """The network view of the container instances `instance_arns` (see the module)."""
    out = HostNetwork()
    mine = set(instance_arns)
    scopes: set[str] = set()
    for arn in sorted(mine):
        scope = _scope(arn)
        if scope is None:
            continue
        for key, task in tx.scan(TASKS, where={"instance": arn, "status": UNSTOPPED}):
            eni_id = _eni_id(task)
            eni = tx.get(ENIS, scope + eni_id) if eni_id else None
            if eni is None or not eni.get("PrivateIpAddress"):
                continue
            scopes.add(scope)
            out.interfaces.append(
                TaskInterface(
                    task_arn=str(key),
                    eni_id=str(eni["NetworkInterfaceId"]),
                    address=str(eni["PrivateIpAddress"]),
                    subnet_id=str(eni["SubnetId"]),
                    vpc_id=str(eni["VpcId"]),
                    mac=str(eni.get("MacAddress") or ""),
                    groups=tuple(str(g["GroupId"]) for g in eni.get("Groups") or ()),
                )
            )
    out.interfaces.sort(key=lambda i: (i.address, i.task_arn))
    groups = sorted({g for i in out.interfaces for g in i.groups})
    referenced: set[str] = set()
    for group in groups:
        for _, doc in tx.scan(RULES, where={"grp": group}):
            out.rules.append(_rule(doc))
            peer = (doc.get("ReferencedGroupInfo") or {}).get("GroupId")
            if peer:
                referenced.add(str(peer))
    out.rules.sort(key=lambda r: str(r["SecurityGroupRuleId"]))
    vpcs = sorted({i.vpc_id for i in out.interfaces})
    subnet_ids = sorted({i.subnet_id for i in out.interfaces})
    remote_hosts: dict[str, set[str]] = {s: set() for s in subnet_ids}  # subnet -> EC2 ids
    local_ids = _ec2_ids(tx, mine)
    if referenced:
        members: dict[str, set[str]] = {g: set() for g in referenced}
        for vpc in vpcs:  # a group's rules name groups of its own VPC
            for _, eni in tx.scan(ENIS, where={"vpc": vpc}):
                for g in eni.get("Groups") or ():
                    if g["GroupId"] in members and eni.get("PrivateIpAddress"):
                        members[g["GroupId"]].add(str(eni["PrivateIpAddress"]))
        out.members = {g: sorted(members[g], key=ip_address) for g in sorted(members)}
    for scope in sorted(scopes):
        for subnet_id in subnet_ids:
            subnet = tx.get(SUBNETS, scope + subnet_id)
            if subnet is None:
                continue
            out.subnets[subnet_id] = (str(subnet["CidrBlock"]), str(subnet["VpcId"]))
            for _, eni in tx.scan(ENIS, where={"subnet": subnet_id}):
                host = (eni.get("Attachment") or {}).get("InstanceId")
                if host and host not in local_ids:
                    remote_hosts[subnet_id].add(str(host))
    addresses = _addresses_of(tx, {h for hs in remote_hosts.values() for h in hs})
    out.subnet_peers = {
        s: sorted({addresses[h] for h in hs if h in addresses}, key=ip_address)
        for s, hs in remote_hosts.items()
        if s in out.subnets
    }
    return out


def _ec2_ids(tx: Tx, instance_arns: Iterable[str]) -> set[str]:
    found = set()
    for arn in instance_arns:
        doc = tx.get(INSTANCES, arn)
        if doc is not None and doc.get("ec2InstanceId"):
            found.add(str(doc["ec2InstanceId"]))
    return found


def _addresses_of(tx: Tx, ec2_ids: set[str]) -> dict[str, str]:
    """EC2 instance id -> the underlay address of its live container instance. Container
    instances are not indexed by EC2 id: their stored text is scanned for the ids wanted,
    and only the ones that hold one are parsed."""
    if not ec2_ids:
        return {}
    found: dict[str, tuple[str, bool]] = {}
    for _, raw in tx.scan_raw(INSTANCES):
        if not any(i in raw for i in ec2_ids):
            continue
        doc = orjson.loads(raw)
        ec2_id = str(doc.get("ec2InstanceId"))
        address = instance_address(doc)
        if ec2_id not in ec2_ids or address is None:
            continue
        active = doc.get("status") != "INACTIVE"
        if ec2_id not in found or (active and not found[ec2_id][1]):
            found[ec2_id] = (address, active)
    return {k: v[0] for k, v in found.items()}
