"""Capacity provider references and strategies, as clusters and calls name them."""

from __future__ import annotations

from collections.abc import Sequence

from portside.errors import InvalidParameterException
from portside.model import arn as arns
from portside.model.cluster import BUILTIN_CAPACITY_PROVIDERS
from portside.model.launch import CapacityItem
from portside.ops.context import Op
from portside.store.base import Tx


def provider_name(ref: str) -> str:
    """Capacity providers may be named by name or ARN; clusters keep names."""
    parsed = arns.parse(ref)
    if parsed is not None and parsed.kind == "capacity-provider":
        return parsed.path
    return ref


def check_cluster_providers(op: Op, tx: Tx, refs: Sequence[str]) -> list[str]:
    names: list[str] = []
    for ref in refs:
        name = provider_name(ref)
        if name in names:
            raise InvalidParameterException(
                f"The capacity provider {name} is specified more than once."
            )
        if name not in BUILTIN_CAPACITY_PROVIDERS:
            doc = tx.get(
                "capacity_providers", arns.ecs(op.region, op.account, f"capacity-provider/{name}")
            )
            if doc is None or doc.get("status") != "ACTIVE":
                raise InvalidParameterException(
                    f"The specified capacity provider '{name}' does not exist. Specify a valid "
                    "name or ARN and try again."
                )
        names.append(name)
    return names


def check_strategy(items: Sequence[CapacityItem], providers: Sequence[str]) -> list[CapacityItem]:
    """Validate a capacity provider strategy against the providers a cluster has; providers
    named by ARN come back named by name."""
    out: list[CapacityItem] = []
    seen: set[str] = set()
    with_base = 0
    fargate = 0
    for item in items:
        name = provider_name(item.capacity_provider)
        weight, base = item.weight, item.base
        if name not in providers:
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider "
                "that is not associated with the cluster. Associate the capacity provider with "
                "the cluster or specify a valid capacity provider and try again."
            )
        if name in seen:
            raise InvalidParameterException(
                f"The capacity provider {name} is specified more than once in the strategy."
            )
        if not 0 <= weight <= 1000:
            raise InvalidParameterException("The weight must be between 0 and 1000.")
        if not 0 <= base <= 100000:
            raise InvalidParameterException("The base must be between 0 and 100000.")
        seen.add(name)
        with_base += base > 0
        fargate += name in BUILTIN_CAPACITY_PROVIDERS
        out.append(CapacityItem(name, weight, base))
    if with_base > 1:
        raise InvalidParameterException(
            "A base value can be specified for only one capacity provider in a strategy."
        )
    if out and 0 < fargate < len(out):
        raise InvalidParameterException(
            "A capacity provider strategy cannot mix Fargate capacity providers with Auto "
            "Scaling group capacity providers."
        )
    if out and not any(i.weight > 0 for i in out):
        raise InvalidParameterException(
            "At least one capacity provider in a strategy must have a weight greater than zero."
        )
    return out
