"""ECS's checks of an awsvpc network configuration against EC2's objects, where ECS makes
them: CreateService, UpdateService (a new networkConfiguration), RunTask and StartTask. The
shape rules that need no EC2 (subnets given, at most 16 subnets and 5 groups, assignPublicIp
ENABLED refused on the EC2 launch type) are `task_build.check_network`'s and run first;
these read EC2 through `ec2/lookup.py` only.

What is refused, in this order, each as InvalidParameterException:

- a subnet EC2 does not have (or cannot parse, once some id is well formed): ECS relays
  EC2's answer in its own frame, "Error retrieving subnet information for [subnet-x]: The
  subnet ID 'subnet-x' does not exist (ErrorCode: InvalidSubnetID.NotFound)" (CreateService's,
  seen in eddmann/serverless-fargate#20; the same call to EC2 behind RunTask), the brackets
  naming the ids EC2 could not find;
- subnets of more than one VPC: the API reference says "All specified subnets must be from
  the same VPC" and no public record of ECS's reply was found; wording: ours, in those words;
- a security group EC2 does not have: "Error retrieving security group information for
  [sg-x]: The security group 'sg-x' does not exist (ErrorCode: InvalidGroup.NotFound)", the
  subnet message's frame with EC2's group message (as moto's ECS gives it);
- a group of another VPC than the subnets: EC2's own words when an ENI or instance is put
  in such a group, "Security group sg-x and subnet subnet-y belong to different networks."
  (InvalidParameter, quoted in philschmid/efsync#16); the API reference's "All specified
  security groups must be from the same VPC" follows, every group being checked against
  the subnets' one VPC.

Transitional: a configuration none of whose subnet ids EC2 could even parse (not `subnet-`
and 8 or 17 hex digits, as older tests and fixtures write: "subnet-abc", "subnet-0e2e") is
not checked at all, and its tasks keep the per-task network their agent gives them, as
before subnets were EC2 records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.ec2 import lookup
from portside.ec2.lookup import Subnet
from portside.errors import InvalidParameterException, NamedError
from portside.model.launch import AwsVpc
from portside.model.task_definition import TaskDefinition
from portside.ops.context import Op
from portside.store.base import Tx


def _relayed(what: str, exc: NamedError) -> InvalidParameterException:
    """EC2's error `exc` about some `what`s in ECS's frame, naming the ids EC2 named."""
    ids = _named_ids(exc.message)
    return InvalidParameterException(
        f"Error retrieving {what} information for [{', '.join(ids)}]: {exc.message} "
        f"(ErrorCode: {exc.code})"
    )


def _named_ids(message: str) -> list[str]:
    """The ids an EC2 message quotes: `'subnet-1'`, `'subnet-1, subnet-2'` or, malformed,
    `"subnet-x"`."""
    for quote in ("'", '"'):
        first = message.find(quote)
        last = message.find(quote, first + 1)
        if first >= 0 and last > first:
            return [i.strip() for i in message[first + 1 : last].split(",")]
    return []


def applies(network: AwsVpc | None) -> bool:
    """Whether EC2 is asked at all: some subnet id is one EC2 could parse (see the module's
    transitional note)."""
    return network is not None and any(
        lookup.well_formed_subnet_id(s) for s in network.subnets or ()
    )


def check(op: Op, tx: Tx, network: AwsVpc | None) -> list[Subnet]:
    """The subnets `network` names, checked against EC2 as ECS checks them (the module's
    list); none when the transitional rule leaves it unchecked."""
    if network is None or not applies(network):
        return []
    given = list(network.subnets or ())
    try:
        subnets = lookup.subnets(op, tx, given)
    except NamedError as exc:
        raise _relayed("subnet", exc) from exc
    vpc = subnets[0].vpc_id
    other = next((s for s in subnets if s.vpc_id != vpc), None)
    if other is not None:
        raise InvalidParameterException(
            "All specified subnets must be from the same VPC: "
            f"{subnets[0].subnet_id} is in {vpc}, {other.subnet_id} in {other.vpc_id}."
        )
    _check_groups(op, tx, network.security_groups or (), subnets[0])
    return subnets


def _check_groups(op: Op, tx: Tx, group_ids: Sequence[str], subnet: Subnet) -> None:
    if not group_ids:
        return  # the VPC's default group (ec2/interfaces.py)
    try:
        groups = lookup.groups(op, tx, group_ids)
    except NamedError as exc:
        raise _relayed("security group", exc) from exc
    for group in groups:
        if group.vpc_id != subnet.vpc_id:
            raise InvalidParameterException(
                f"Security group {group.group_id} and subnet {subnet.subnet_id} belong to "
                "different networks."
            )


def check_service(
    op: Op, tx: Tx, td: TaskDefinition, network_configuration: Mapping[str, Any] | None
) -> None:
    """CreateService's and UpdateService's check of the service's network configuration,
    for an awsvpc task definition (any other refuses a configuration before this)."""
    if td.spec.get("networkMode") == "awsvpc":
        check(op, tx, AwsVpc.of(network_configuration))
