"""The ENI of an awsvpc task: made in the launch's transaction (ec2/interfaces.py
`create_task_eni`), shown in the task's ElasticNetworkInterface attachment, deleted when the
task stops, so its address goes back to the subnet.

The subnets and groups are checked first, as ECS checks them when a task is started
(ops/network_validation.py: the same checks as CreateService's), then whether the subnets
have an address for every task of the start, so a start is refused whole, never half made.
EC2 is read only through ec2/lookup.py and written only through ec2/interfaces.py.

Transitional (network_validation.py): a configuration none of whose subnet ids EC2 could
parse gets no ENI; its tasks keep the address their agent gives them, as before subnets were
records.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network
from typing import Any

from portside.ec2 import lookup
from portside.ec2.interfaces import create_task_eni, release_task_eni
from portside.ec2.lookup import Subnet
from portside.errors import InvalidParameterException, NamedError
from portside.model import arn as arns
from portside.model.container_instance import ContainerInstance
from portside.model.launch import AwsVpc
from portside.model.task import Task
from portside.ops import network_validation
from portside.ops.context import Op
from portside.store.base import Tx

ENI_TYPE = "ElasticNetworkInterface"
# The details ECS shows for a task's ENI, in its order.
DETAILS = ("subnetId", "networkInterfaceId", "macAddress", "privateDnsName", "privateIPv4Address")
# Not shown by ECS: the agent's (see `attach`); wire/ecs_shapes.py should leave it out.
GATEWAY_DETAIL = "subnetGatewayIpv4Address"


def subnets(op: Op, tx: Tx, awsvpc: AwsVpc | None, count: int) -> list[Subnet]:
    """The subnets a start's tasks take their ENIs from, checked (network_validation.py),
    with an address for each of `count` tasks among them; none when the configuration is
    left unchecked (transitional)."""
    found = network_validation.check(op, tx, awsvpc)
    if found and sum(lookup.free_addresses(tx, s) for s in found) < count:
        # wording: ours, in the frame of ECS's other EC2 errors
        raise InvalidParameterException(
            f"There are not enough free addresses in subnets "
            f"[{', '.join(s.subnet_id for s in found)}] to start {count} tasks "
            "(ErrorCode: InsufficientFreeAddressesInSubnet)"
        )
    return found


def _pick(tx: Tx, choices: Sequence[Subnet], zone: str | None) -> Subnet:
    """ECS spreads a task's ENIs over its subnets: one in the instance's zone if any has room
    (an ENI attaches only there), the one with most free addresses, the first given on a
    tie; `subnets` saw to it that one has room."""
    free = {s.subnet_id: lookup.free_addresses(tx, s) for s in choices} if len(choices) > 1 else {}
    roomy = [s for s in choices if free.get(s.subnet_id, 1) > 0]
    local = [s for s in roomy if s.availability_zone == zone] or roomy or list(choices)
    return max(local, key=lambda s: free.get(s.subnet_id, 0))


def attach(
    op: Op,
    tx: Tx,
    task: Task,
    choices: Sequence[Subnet],
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
            subnet.subnet_id,
            (awsvpc.security_groups if awsvpc is not None else None) or (),
            description,
            instance_id=instance_id or None,
        )
    except NamedError as exc:
        raise InvalidParameterException(
            f"Error retrieving subnet information for [{subnet.subnet_id}]: {exc.message} "
            f"(ErrorCode: {exc.code})"
        ) from exc
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
    block = IPv4Network(subnet.cidr_block)
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
    parsed = arns.parse(task.arn)
    if eni is not None and parsed is not None:
        release_task_eni(tx, parsed.account, parsed.region, eni)


def merged_details(
    stored: dict[str, Any] | None, reported: Sequence[tuple[str, Any]]
) -> list[dict[str, Any]]:
    """An ENI attachment's details after an agent's report: what the control plane allocated
    (the stored details) stands; the report adds only what the task does not have yet."""
    have = {d["name"]: d.get("value") for d in (stored or {}).get("details") or ()}
    out = [{"name": k, "value": v} for k, v in have.items()]
    out += [{"name": k, "value": v} for k, v in reported if k not in have]
    return out
