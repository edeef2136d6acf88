"""Network interfaces: DescribeNetworkInterfaces, and the ENIs ECS makes for awsvpc tasks.

ECS calls `create_task_eni` inside its own transaction when it launches an awsvpc task and
`delete_task_eni` when the task is gone: the ENI, its address (the subnet's next free one,
`addresses.next_free`) and the subnet's allocation cursor are written together, so an address
is never held by two ENIs. An ENI is described as ECS's are: `arn:aws:ecs:...:attachment/ID`,
status `in-use`, interface type `interface`, requester-managed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from ipaddress import IPv4Network
from typing import Any

from portside.ec2 import addresses, defaults
from portside.ec2.filters import each, one
from portside.ec2.operations import action
from portside.ec2.records import ENI, GROUP, SUBNET, describe, new_id, wire
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

FIELDS = {
    "addresses.private-ip-address": each("PrivateIpAddresses", "PrivateIpAddress"),
    "attachment.attachment-id": lambda d: ((d.get("Attachment") or {}).get("AttachmentId"),),
    "attachment.instance-id": lambda d: ((d.get("Attachment") or {}).get("InstanceId"),),
    "attachment.instance-owner-id": lambda d: ((d.get("Attachment") or {}).get("InstanceOwnerId"),),
    "attachment.device-index": lambda d: ((d.get("Attachment") or {}).get("DeviceIndex"),),
    "attachment.status": lambda d: ((d.get("Attachment") or {}).get("Status"),),
    "availability-zone": one("AvailabilityZone"),
    "description": one("Description"),
    "group-id": each("Groups", "GroupId"),
    "group-name": each("Groups", "GroupName"),
    "interface-type": one("InterfaceType"),
    "mac-address": one("MacAddress"),
    "network-interface-id": one("NetworkInterfaceId"),
    "owner-id": one("OwnerId"),
    "private-dns-name": one("PrivateDnsName"),
    "private-ip-address": one("PrivateIpAddress"),
    "requester-managed": one("RequesterManaged"),
    "source-dest-check": one("SourceDestCheck"),
    "status": one("Status"),
    "subnet-id": one("SubnetId"),
    "vpc-id": one("VpcId"),
}


def shown(doc: Document) -> dict[str, Any]:
    """An ENI as EC2 shows it: its tags are `TagSet`."""
    out = wire({k: v for k, v in doc.items() if k != "Tags"})
    if doc.get("Tags"):
        out["TagSet"] = doc["Tags"]
    return out


@action("DescribeNetworkInterfaces")
def describe_network_interfaces(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return describe(op, p, ENI, "NetworkInterfaceIds", FIELDS, "NetworkInterfaces", shown)


def _dns_name(region: str, address: str) -> str:
    host = "ip-" + address.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def _mac(eni_id: str) -> str:
    digest = hashlib.sha256(eni_id.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def _groups(tx: Tx, op: Op, subnet: Document, group_ids: Iterable[str]) -> list[dict[str, str]]:
    """The groups an ENI of `subnet` is put in: those named (each in the subnet's VPC), else
    the VPC's default group (as CreateNetworkInterface does)."""
    wanted = list(dict.fromkeys(group_ids))
    if wanted:
        docs = GROUP.get_many(tx, op, wanted)
    else:
        docs = [g for g in GROUP.all(tx, op, vpc=subnet["VpcId"], name="default")]
    for group in docs:
        if group["VpcId"] != subnet["VpcId"]:
            raise NamedError(
                "InvalidParameter",
                f"Security group {group['GroupId']} and subnet {subnet['SubnetId']} belong to "
                "different networks.",
            )
    return [{"GroupId": g["GroupId"], "GroupName": g["GroupName"]} for g in docs]


def create_task_eni(
    op: Op,
    tx: Tx,
    subnet_id: str,
    group_ids: Iterable[str],
    description: str,
    *,
    instance_id: str | None = None,
) -> Document:
    """A new ENI for a task in `subnet_id` with `group_ids`, written in `tx` with its address
    (EC2's errors for a missing subnet or group, a group of another VPC, a full subnet).
    `instance_id`: the container instance's EC2 instance it is attached to (none on
    Fargate)."""
    defaults.ensure_in(op, tx)
    subnet = SUBNET.get(tx, op, subnet_id)
    groups = _groups(tx, op, subnet, group_ids)
    # index rows: key, then tables.py's columns in order (subnet, vpc, address).
    used = [row[3] for row in tx.index(ENI.table, where={"subnet": subnet_id}) if row[3]]
    address = addresses.next_free(IPv4Network(subnet["CidrBlock"]), used, subnet.get("LastAddress"))
    if address is None:
        raise NamedError(
            "InsufficientFreeAddressesInSubnet",
            f"There are not enough free addresses in subnet '{subnet_id}' to satisfy the "
            "requested number of instances.",
        )
    eni_id = new_id(op, "eni")
    dns = _dns_name(op.region, address)
    doc: Document = {
        "AvailabilityZone": subnet["AvailabilityZone"],
        "AvailabilityZoneId": subnet["AvailabilityZoneId"],
        "Description": description,
        "Groups": groups,
        "InterfaceType": "interface",
        "Ipv6Addresses": [],
        "MacAddress": _mac(eni_id),
        "NetworkInterfaceId": eni_id,
        "OwnerId": op.account,
        "PrivateDnsName": dns,
        "PrivateIpAddress": address,
        "PrivateIpAddresses": [
            {"Primary": True, "PrivateDnsName": dns, "PrivateIpAddress": address}
        ],
        "RequesterManaged": True,
        "SourceDestCheck": True,
        "Status": "in-use",
        "SubnetId": subnet_id,
        "VpcId": subnet["VpcId"],
        "Tags": [],
    }
    if instance_id:
        doc["Attachment"] = {
            "AttachTime": op.now(),
            "AttachmentId": new_id(op, "eni-attach"),
            "DeleteOnTermination": False,
            "DeviceIndex": 1,
            "NetworkCardIndex": 0,
            "InstanceId": instance_id,
            "InstanceOwnerId": op.account,
            "Status": "attached",
        }
    ENI.put(tx, op, doc)
    subnet["LastAddress"] = address
    SUBNET.put(tx, op, subnet)
    return doc


def delete_task_eni(op: Op, tx: Tx, eni_id: str) -> None:
    """Remove a task's ENI (its address is free again); EC2's error when there is none."""
    ENI.get(tx, op, eni_id)
    ENI.delete(tx, op, eni_id)


def release_task_eni(tx: Tx, account: str, region: str, eni_id: str) -> None:
    """Remove a stopped task's ENI, if it is still there (its address is free again): ECS
    calls this when the task stops, with the task's account and region, and again harmlessly
    on a repeated stop."""
    stored = f"{account}|{region}|{eni_id}"  # records.key's form
    if tx.get(ENI.table, stored) is not None:
        tx.delete(ENI.table, stored)
