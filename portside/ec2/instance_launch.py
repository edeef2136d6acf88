"""Launching instances: what a RunInstances call (or an Auto Scaling group) asks for, read
from a launch template's version and the call's own members (the call's win, as in EC2), and
the new instances written pending with their primary network interfaces.

The `ec2-instances` loop (instance_hosts.py) hands pending instances to the provider their
ImageId names; this module only checks that one does (`hosts/registry.py`), so a call naming
an image no provider serves is refused at once, as EC2 refuses an unknown AMI.

Placement: a SubnetId (the call's, its first network interface's, or the template's) gives
the zone and the VPC; else Placement.AvailabilityZone picks the default VPC's subnet in that
zone; else the default subnet of the zone holding the fewest of the account's live instances.
Each instance gets a primary ENI with the subnet's next free address (`addresses.py`'s rules,
allocated for the whole batch from one read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from portside.ec2 import defaults, interfaces, tagging
from portside.ec2.addresses import usable
from portside.ec2.errors import invalid_value, missing
from portside.ec2.instance_records import (
    INSTANCES,
    LIVE,
    key,
    new_instance_id,
    put,
    scope_of,
    set_state,
)
from portside.ec2.launch_templates import resolve
from portside.ec2.records import ENI, GROUP, SUBNET, new_id
from portside.ec2.user_data import decode, settings
from portside.errors import NamedError
from portside.hosts import registry
from portside.ops.context import Op
from portside.store.base import Document, Tx

DEFAULT_TYPE = "m1.small"  # EC2's default when neither the call nor a template names one


@dataclass(slots=True)
class LaunchSpec:
    """What each instance of a launch is made from."""

    image_id: str
    instance_type: str = DEFAULT_TYPE
    user_data: str = ""  # base64, as sent
    key_name: str = ""
    subnet_id: str = ""
    zone: str = ""
    group_ids: list[str] = field(default_factory=list)
    group_names: list[str] = field(default_factory=list)
    iam_profile: dict[str, str] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)  # the instance's
    template: dict[str, Any] | None = None  # {LaunchTemplateId, LaunchTemplateName, Version}
    monitoring: bool = False
    client_token: str = ""
    private_ip: str = ""


def _instance_tags(specs: Any) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in specs or ():
        if spec.get("ResourceType") == "instance":
            tags = tagging.merged(tags, tagging.checked(spec.get("Tags") or ()))
    return tags


def _apply(spec: LaunchSpec, data: Mapping[str, Any]) -> None:
    """Lay the members of `data` (a template's LaunchTemplateData or a RunInstances call)
    over `spec`."""
    if data.get("ImageId"):
        spec.image_id = data["ImageId"]
    if data.get("InstanceType"):
        spec.instance_type = data["InstanceType"]
    if data.get("UserData"):
        spec.user_data = data["UserData"]
    if data.get("KeyName"):
        spec.key_name = data["KeyName"]
    if data.get("SecurityGroupIds"):
        spec.group_ids = list(data["SecurityGroupIds"])
    if data.get("SecurityGroups"):
        spec.group_names = list(data["SecurityGroups"])
    if data.get("IamInstanceProfile"):
        spec.iam_profile = dict(data["IamInstanceProfile"])
    if (data.get("Monitoring") or {}).get("Enabled") is not None:
        spec.monitoring = bool(data["Monitoring"]["Enabled"])
    placement = data.get("Placement") or {}
    if placement.get("AvailabilityZone"):
        spec.zone = placement["AvailabilityZone"]
    for eni in data.get("NetworkInterfaces") or ():
        if eni.get("DeviceIndex", 0) == 0:
            if eni.get("SubnetId"):
                spec.subnet_id = eni["SubnetId"]
            if eni.get("Groups"):
                spec.group_ids = list(eni["Groups"])
            if eni.get("PrivateIpAddress"):
                spec.private_ip = eni["PrivateIpAddress"]
    if data.get("SubnetId"):
        spec.subnet_id = data["SubnetId"]
    if data.get("PrivateIpAddress"):
        spec.private_ip = data["PrivateIpAddress"]
    tags = _instance_tags(data.get("TagSpecifications"))
    if tags:
        spec.tags = tagging.merged(spec.tags, tags)


def spec_of(
    tx: Tx, op: Op, template: Mapping[str, Any] | None, given: Mapping[str, Any]
) -> LaunchSpec:
    """The launch a call asks for: `template` (a LaunchTemplateSpecification) first, then the
    call's members `given`."""
    spec = LaunchSpec(image_id="")
    if template:
        doc, version = resolve(tx, op, dict(template))
        _apply(spec, version["LaunchTemplateData"])
        spec.template = {
            "LaunchTemplateId": doc["LaunchTemplateId"],
            "LaunchTemplateName": doc["LaunchTemplateName"],
            "Version": str(version["VersionNumber"]),
        }
    _apply(spec, given)
    if not spec.image_id:
        raise missing("ImageId")
    if registry.for_store(op.store).for_image(spec.image_id) is None:
        raise NamedError(
            "InvalidAMIID.NotFound",
            f"The image id '[{spec.image_id}]' does not exist (Portside's images: "
            f"{', '.join(registry.for_store(op.store).image_ids()) or 'none'})",
        )
    if spec.user_data:
        decode(spec.user_data)
    return spec


def _subnet(tx: Tx, op: Op, spec: LaunchSpec) -> Document:
    if spec.subnet_id:
        subnet = SUBNET.get(tx, op, spec.subnet_id)
        if spec.zone and subnet["AvailabilityZone"] != spec.zone:
            raise invalid_value(
                "availabilityZone",
                spec.zone,
                f"The subnet '{spec.subnet_id}' is in {subnet['AvailabilityZone']}.",
            )
        return subnet
    account = defaults.ensure_in(op, tx)
    vpc_id = account.get("DefaultVpcId")
    subnets = [s for s in SUBNET.all(tx, op, vpc=vpc_id) if s.get("DefaultForAz")]
    if not subnets:
        raise NamedError(
            "VPCIdNotSpecified",
            "No default VPC for this user. GroupName is only supported "
            "for EC2-Classic and default VPC.",
        )
    if spec.zone:
        for subnet in subnets:
            if subnet["AvailabilityZone"] == spec.zone:
                return subnet
        raise invalid_value(
            "availabilityZone", spec.zone, "The requested availability zone is not available."
        )
    live = [
        row
        for state in LIVE
        for row in tx.index(
            INSTANCES, prefix=scope_of(op.account, op.region), where={"state": state}
        )
    ]
    used: dict[str, int] = {}
    for row in live:
        doc = tx.get(INSTANCES, row[0])
        if doc is not None:
            zone = doc["Placement"]["AvailabilityZone"]
            used[zone] = used.get(zone, 0) + 1
    return min(subnets, key=lambda s: (used.get(s["AvailabilityZone"], 0), s["AvailabilityZone"]))


def _addresses(tx: Tx, subnet: Document, count: int, wanted: str) -> list[str]:
    """`count` free addresses of the subnet, from one read of its ENIs."""
    net = IPv4Network(subnet["CidrBlock"])
    taken = {
        int(IPv4Address(row[3]))
        for row in tx.index(ENI.table, where={"subnet": subnet["SubnetId"]})
        if row[3]
    }
    if wanted:
        at = int(IPv4Address(wanted))
        first, last = usable(net)
        if not first <= at <= last or at in taken:
            raise NamedError(
                "InvalidIPAddress.InUse" if at in taken else "InvalidParameterValue",
                f"Address {wanted} is in use."
                if at in taken
                else f"Address {wanted} does not fall within the subnet's address range",
            )
        return [wanted] * min(count, 1)
    first, last = usable(net)
    size = last - first + 1
    start = first
    if subnet.get("LastAddress"):
        after = int(IPv4Address(subnet["LastAddress"]))
        if first <= after < last:
            start = after + 1
    out: list[str] = []
    for step in range(max(size, 0)):
        candidate = first + (start - first + step) % size
        if candidate not in taken:
            out.append(str(IPv4Address(candidate)))
            if len(out) == count:
                break
    return out


def _groups(tx: Tx, op: Op, spec: LaunchSpec, subnet: Document) -> list[dict[str, str]]:
    ids = list(spec.group_ids)
    for name in spec.group_names:
        found = GROUP.all(tx, op, vpc=subnet["VpcId"], name=name)
        if not found:
            raise NamedError(
                "InvalidGroup.NotFound",
                f"The security group '{name}' does not exist in VPC '{subnet['VpcId']}'",
            )
        ids.append(found[0]["GroupId"])
    return interfaces._groups(tx, op, subnet, ids)


def launch(
    tx: Tx,
    op: Op,
    spec: LaunchSpec,
    min_count: int,
    max_count: int,
    *,
    group_key: str = "",
    extra_tags: list[dict[str, str]] | None = None,
    requester: str = "",
) -> list[Document]:
    """Write `max_count` new pending instances (fewer, down to `min_count`, when the subnet
    has fewer free addresses) in `tx`; the documents, in launch order."""
    subnet = _subnet(tx, op, spec)
    groups = _groups(tx, op, spec, subnet)
    addresses = _addresses(tx, subnet, max_count, spec.private_ip)
    if len(addresses) < min_count:
        raise NamedError(
            "InsufficientFreeAddressesInSubnet",
            f"There are not enough free addresses in subnet '{subnet['SubnetId']}' to satisfy "
            "the requested number of instances.",
        )
    ecs = settings(decode(spec.user_data) if spec.user_data else "")
    reservation = new_id(op, "r")
    tags = tagging.merged(spec.tags, extra_tags or [])
    now = op.now()
    docs: list[Document] = []
    for index, address in enumerate(addresses):
        instance_id = new_instance_id(op)
        dns = interfaces._dns_name(op.region, address)
        eni = _primary_eni(op, tx, subnet, groups, address, dns, instance_id, now)
        doc: Document = {
            "AmiLaunchIndex": index,
            "Architecture": "x86_64",
            "BlockDeviceMappings": [],
            "ClientToken": spec.client_token,
            "EbsOptimized": False,
            "EnaSupport": True,
            "Hypervisor": "xen",
            "ImageId": spec.image_id,
            "InstanceId": instance_id,
            "InstanceType": spec.instance_type,
            "LaunchTime": now,
            "Monitoring": {"State": "enabled" if spec.monitoring else "disabled"},
            "NetworkInterfaces": [_attached(eni)],
            "Placement": {
                "AvailabilityZone": subnet["AvailabilityZone"],
                "GroupName": "",
                "Tenancy": "default",
            },
            "PrivateDnsName": dns,
            "PrivateIpAddress": address,
            "ProductCodes": [],
            "PublicDnsName": "",
            "RootDeviceName": "/dev/xvda",
            "RootDeviceType": "ebs",
            "SecurityGroups": groups,
            "SourceDestCheck": True,
            "StateTransitionReason": "",
            "SubnetId": subnet["SubnetId"],
            "VirtualizationType": "hvm",
            "VpcId": subnet["VpcId"],
            "Tags": tags,
            "_Key": key(op, instance_id),
            "_Group": group_key,
            "_ReservationId": reservation,
            "_OwnerId": op.account,
            "_RequesterId": requester,
            "_Cluster": ecs.cluster,
            "_Attributes": ecs.attributes,
            "_UserData": spec.user_data,
            "_Host": "",
            "_Eni": eni["NetworkInterfaceId"],
        }
        if spec.key_name:
            doc["KeyName"] = spec.key_name
        if spec.iam_profile:
            doc["IamInstanceProfile"] = _profile(op, spec.iam_profile)
        if spec.template:
            doc["_Template"] = spec.template
        set_state(doc, "pending")
        put(tx, doc)
        docs.append(doc)
    if addresses and not spec.private_ip:
        subnet["LastAddress"] = addresses[-1]
        SUBNET.put(tx, op, subnet)
    return docs


def _profile(op: Op, given: Mapping[str, str]) -> dict[str, str]:
    arn = given.get("Arn") or f"arn:aws:iam::{op.account}:instance-profile/{given.get('Name')}"
    return {"Arn": arn, "Id": "AIPA" + op.world.new_id()[:17].upper()}


def _primary_eni(
    op: Op,
    tx: Tx,
    subnet: Document,
    groups: list[dict[str, str]],
    address: str,
    dns: str,
    instance_id: str,
    now: float,
) -> Document:
    eni_id = new_id(op, "eni")
    doc: Document = {
        "AvailabilityZone": subnet["AvailabilityZone"],
        "AvailabilityZoneId": subnet["AvailabilityZoneId"],
        "Description": "",
        "Groups": groups,
        "InterfaceType": "interface",
        "Ipv6Addresses": [],
        "MacAddress": interfaces._mac(eni_id),
        "NetworkInterfaceId": eni_id,
        "OwnerId": op.account,
        "PrivateDnsName": dns,
        "PrivateIpAddress": address,
        "PrivateIpAddresses": [
            {"Primary": True, "PrivateDnsName": dns, "PrivateIpAddress": address}
        ],
        "RequesterManaged": False,
        "SourceDestCheck": True,
        "Status": "in-use",
        "SubnetId": subnet["SubnetId"],
        "VpcId": subnet["VpcId"],
        "Tags": [],
        "Attachment": {
            "AttachTime": now,
            "AttachmentId": new_id(op, "eni-attach"),
            "DeleteOnTermination": True,
            "DeviceIndex": 0,
            "NetworkCardIndex": 0,
            "InstanceId": instance_id,
            "InstanceOwnerId": op.account,
            "Status": "attached",
        },
    }
    ENI.put(tx, op, doc)
    return doc


def _attached(eni: Document) -> dict[str, Any]:
    """The ENI as an instance shows it (InstanceNetworkInterface)."""
    attachment = eni["Attachment"]
    return {
        "Attachment": {
            "AttachTime": attachment["AttachTime"],
            "AttachmentId": attachment["AttachmentId"],
            "DeleteOnTermination": True,
            "DeviceIndex": 0,
            "NetworkCardIndex": 0,
            "Status": "attached",
        },
        "Description": "",
        "Groups": eni["Groups"],
        "InterfaceType": "interface",
        "Ipv6Addresses": [],
        "MacAddress": eni["MacAddress"],
        "NetworkInterfaceId": eni["NetworkInterfaceId"],
        "OwnerId": eni["OwnerId"],
        "PrivateDnsName": eni["PrivateDnsName"],
        "PrivateIpAddress": eni["PrivateIpAddress"],
        "PrivateIpAddresses": eni["PrivateIpAddresses"],
        "SourceDestCheck": True,
        "Status": "in-use",
        "SubnetId": eni["SubnetId"],
        "VpcId": eni["VpcId"],
    }
