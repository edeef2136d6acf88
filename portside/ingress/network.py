"""Where ECS-managed load balancers and their target groups go: the default VPC's subnets when
none are given, and the one VPC of a set of subnets (through EC2's own reads)."""

from __future__ import annotations

from collections.abc import Sequence

from portside.ec2 import defaults as ec2_defaults
from portside.ec2 import lookup as ec2_lookup
from portside.ec2 import subnets as ec2_subnets
from portside.errors import InvalidParameterException, NamedError
from portside.ops.context import Op


def default_subnets(op: Op, most: int = 2) -> tuple[str, ...]:
    """The default VPC's default subnets, as ECS uses when none are given."""
    ec2_defaults.ensure(op)
    found = ec2_subnets.describe_subnets(
        op, {"Filters": [{"Name": "default-for-az", "Values": ["true"]}]}
    )
    return tuple(s["SubnetId"] for s in found.get("Subnets") or [])[:most]


def vpc_of(op: Op, subnets: Sequence[str]) -> str:
    try:
        with op.store.read() as tx:
            found = ec2_lookup.subnets(op, tx, subnets)
    except NamedError:
        found = []
    known = {s.subnet_id for s in found}
    missing = [s for s in subnets if s not in known]
    if missing or not found:
        raise InvalidParameterException(  # wording: ours, as ECS's awsvpc checks word it
            f"Error retrieving subnet information for [{', '.join(missing) or '(none)'}]: "
            "the subnet ID does not exist."
        )
    vpcs = {s.vpc_id for s in found}
    if len(vpcs) > 1:
        raise InvalidParameterException("The subnets must all be in the same VPC.")
    return found[0].vpc_id
