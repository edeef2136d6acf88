"""The ENI of an awsvpc task: made in the launch's transaction (ec2/interfaces.py
`create_task_eni`), shown in the task's ElasticNetworkInterface attachment, deleted when the
task stops, so its address goes back to the subnet.

ECS checks the subnets and groups when the task is started and words EC2's answer as its own
InvalidParameterException: "Error retrieving subnet information for [subnet-x]: The subnet ID
'subnet-x' does not exist (ErrorCode: InvalidSubnetID.NotFound)" (CreateService's, seen in
eddmann/serverless-fargate#20; RunTask's the same call to EC2). The security-group message
follows that shape.

Transitional: a subnet id EC2 could not even parse (not `subnet-` and 8 or 17 hex digits,
as older tests and fixtures use) gets no ENI; the task keeps the address its agent gives it,
as before subnets were records. Every well-formed id must name a subnet of the account.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network
from typing import Any

from portside.ec2 import addresses, defaults
from portside.ec2.interfaces import create_task_eni
from portside.ec2.records import ENIS, GROUP, SUBNET
from portside.errors import InvalidParameterException, NamedError
from portside.model import arn as arns
from portside.model.container_instance import ContainerInstance
from portside.model.launch import AwsVpc
from portside.model.task import Task
from portside.ops.context import Op
from portside.store.base import Document, Tx

ENI_TYPE = "ElasticNetworkInterface"
# The details ECS shows for a task's ENI, in its order.
DETAILS = ("subnetId", "networkInterfaceId", "macAddress", "privateDnsName", "privateIPv4Address")
# Not shown by ECS: the agent's (see `attach`); wire/ecs_shapes.py should leave it out.
GATEWAY_DETAIL = "subnetGatewayIpv4Address"


def _well_formed(subnet_id: str) -> bool:
    try:
        SUBNET.check_id(subnet_id)
    except NamedError:
        return False
    return True


def _ecs_error(what: str, ids: Sequence[str], exc: NamedError) -> InvalidParameterException:
    return InvalidParameterException(
        f"Error retrieving {what} information for [{', '.join(ids)}]: {exc} (ErrorCode: {exc.code})"
    )


def subnets(op: Op, tx: Tx, awsvpc: AwsVpc | None, count: int) -> list[Document]:
    """The subnets of a start's awsvpcConfiguration (none when it names no subnet EC2 could
    parse), checked as ECS checks them before anything is written: each exists, so do the
    groups, in the subnets' VPC, and the subnets have an address for each of `count` tasks
    (so a start is refused whole, never half made)."""
    given = [s for s in (awsvpc.subnets if awsvpc is not None else None) or () if _well_formed(s)]
    if not given or awsvpc is None:
        return []
    defaults.ensure_in(op, tx)
    try:
        found = SUBNET.get_many(tx, op, given)
    except NamedError as exc:
        raise _ecs_error("subnet", given, exc) from exc
    groups = list(awsvpc.security_groups or ())
    if groups:
        try:
            docs = GROUP.get_many(tx, op, groups)
        except NamedError as exc:
            raise _ecs_error("security group", groups, exc) from exc
        for subnet in found:
            for group in docs:
                if group["VpcId"] != subnet["VpcId"]:
                    raise InvalidParameterException(
                        f"Security group {group['GroupId']} and subnet {subnet['SubnetId']} "
                        "belong to different networks."
                    )
    if sum(_free(tx, s) for s in found) < count:
        raise InvalidParameterException(
            f"There are not enough free addresses in subnets [{', '.join(given)}] to start "
            f"{count} tasks (ErrorCode: InsufficientFreeAddressesInSubnet)"
        )
    return found


def _free(tx: Tx, subnet: Document) -> int:
    used = sum(1 for _ in tx.index(ENIS, where={"subnet": subnet["SubnetId"]}))
    return addresses.available(IPv4Network(subnet["CidrBlock"]), used)


def _pick(tx: Tx, choices: Sequence[Document], zone: str | None) -> Document:
    """ECS spreads a task's ENIs over its subnets: one in the instance's zone if any has room
    (an ENI attaches only there), the one with most free addresses, the first given on a
    tie; `subnets` saw to it that one has room."""
    free = {s["SubnetId"]: _free(tx, s) for s in choices} if len(choices) > 1 else {}
    roomy = [s for s in choices if free.get(s["SubnetId"], 1) > 0]
    local = [s for s in roomy if s.get("AvailabilityZone") == zone] or roomy or list(choices)
    return max(local, key=lambda s: free.get(s["SubnetId"], 0))


def attach(
    op: Op,
    tx: Tx,
    task: Task,
    choices: Sequence[Document],
    awsvpc: AwsVpc | None,
    host: ContainerInstance | None,
) -> None:
    """Give `task` an ENI in one of `choices` (from `subnets`), written in `tx`, and show it
    in the task's ENI attachment. Nothing when there is no subnet or no such attachment."""
    attachment = next((a for a in task.attachments if a.get("type") == ENI_TYPE), None)
    if not choices or attachment is None:
        return
    zone = task.availability_zone or (host.attribute("ecs.availability-zone") if host else None)
    subnet = _pick(tx, choices, zone)
    description = arns.ecs(op.region, op.account, f"attachment/{attachment['id']}")
    instance_id = host.ec2_instance_id if host is not None and not host.fargate else None
    try:
        eni = create_task_eni(
            op,
            tx,
            subnet["SubnetId"],
            (awsvpc.security_groups if awsvpc is not None else None) or (),
            description,
            instance_id=instance_id or None,
        )
    except NamedError as exc:
        raise _ecs_error("subnet", [subnet["SubnetId"]], exc) from exc
    values = {
        "subnetId": eni["SubnetId"],
        "networkInterfaceId": eni["NetworkInterfaceId"],
        "macAddress": eni["MacAddress"],
        "privateDnsName": eni["PrivateDnsName"],
        "privateIPv4Address": eni["PrivateIpAddress"],
    }
    attachment["details"] = [{"name": k, "value": values[k]} for k in DETAILS]
    # For the agent, which makes the subnet's network on its host (agent/docker/subnets.py):
    # the VPC router's address with the block's length, as ACS gives it to the ECS agent.
    block = IPv4Network(subnet["CidrBlock"])
    router = f"{block.network_address + 1}/{block.prefixlen}"
    attachment["details"].append({"name": GATEWAY_DETAIL, "value": router})
    if task.availability_zone is None:
        task.availability_zone = eni["AvailabilityZone"]


def _detail(task: Task, name: str) -> str | None:
    for attachment in task.attachments:
        if attachment.get("type") == ENI_TYPE:
            for detail in attachment.get("details") or ():
                if detail.get("name") == name and detail.get("value"):
                    return str(detail["value"])
    return None


def eni_id(task: Task) -> str | None:
    """The ENI the control plane made for `task`, if any (shown before any agent report)."""
    found = _detail(task, "networkInterfaceId")
    return found if found is not None and found.startswith("eni-") else None


def allocated_address(task: Task) -> str | None:
    """The address of the ENI the control plane made for `task`, if it made one."""
    return _detail(task, "privateIPv4Address") if eni_id(task) is not None else None


def detach(tx: Tx, task: Task) -> None:
    """Delete a stopped task's ENI (its address is free again). Idempotent; an ENI the
    agent only reported (no record) is not there to delete."""
    eni = eni_id(task)
    if eni is None:
        return
    parsed = arns.parse(task.arn)
    if parsed is None:
        return
    # ec2/records.py keys every object ACCOUNT|REGION|ID.
    key = f"{parsed.account}|{parsed.region}|{eni}"
    if tx.get(ENIS, key) is not None:
        tx.delete(ENIS, key)


def merged_details(
    stored: dict[str, Any] | None, reported: Sequence[tuple[str, Any]]
) -> list[dict[str, Any]]:
    """An ENI attachment's details after an agent's report: what the control plane allocated
    (the stored details) stands; the report adds only what the task does not have yet."""
    have = {d["name"]: d.get("value") for d in (stored or {}).get("details") or ()}
    out = [{"name": k, "value": v} for k, v in have.items()]
    out += [{"name": k, "value": v} for k, v in reported if k not in have]
    return out
