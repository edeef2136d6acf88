"""Capacity provider operations: create, update, delete, describe; and which provider a
container instance belongs to.

Portside has no EC2 Auto Scaling, so a provider's Auto Scaling group is a label that groups
container instances: an instance belongs to the provider whose group name equals the
instance's `portside.autoscaling-group` attribute (set it with `portside agent --attribute
portside.autoscaling-group=NAME`). The group name is the part of `autoScalingGroupArn` after
`autoScalingGroupName/`, or the whole value when a plain group name was given (ECS takes
either). One group belongs to one provider at a time, so an instance has at most one provider;
`provider_for_instance` is that rule, for placement to use.

As on ECS, a delete answers at once and finishes on its own: the provider becomes INACTIVE with
updateStatus DELETE_COMPLETE (here before the call returns), stays describable, and its name
may be used again. A provider a cluster or a service still names is not deleted: the call
succeeds, the provider stays ACTIVE with updateStatus DELETE_FAILED and a reason.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.errors import ClientException, InvalidParameterException
from portside.model import arn as arns
from portside.model.capacity_provider import (
    ACTIVE,
    DELETE_COMPLETE,
    DELETE_FAILED,
    DELETE_IN_PROGRESS,
    DISABLED,
    ENABLED,
    INACTIVE,
    UPDATE_COMPLETE,
    UPDATE_IN_PROGRESS,
    AutoScalingGroupProvider,
    AutoScalingGroupRequest,
    CapacityProvider,
    ManagedScaling,
    ProviderRequest,
    ScalingRequest,
    asg_name,
)
from portside.model.cluster import BUILTIN_CAPACITY_PROVIDERS, Cluster
from portside.ops import managed_scaling
from portside.ops.capacity import provider_name
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.describing import Failure, found_or_missing
from portside.ops.given import apply_given
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.store.base import Tx

TABLE = "capacity_providers"
GROUP_ATTRIBUTE = "portside.autoscaling-group"
MAX_DESCRIBE = 100
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_RESERVED_PREFIXES = ("aws", "ecs", "fargate")
_ASG_ARN = re.compile(
    r"^arn:aws[a-z-]*:autoscaling:([a-z0-9-]+):(\d+):autoScalingGroup:[^:]+:"
    r"autoScalingGroupName/(.+)$"
)
_SCALING_FIELDS = (
    "status",
    "target_capacity",
    "minimum_scaling_step_size",
    "maximum_scaling_step_size",
    "instance_warmup_period",
)


@dataclass(frozen=True, slots=True)
class ProviderView:
    provider: CapacityProvider
    tags: list[Tag]


def provider_for_instance(
    attributes: Mapping[str, str | None], providers: Sequence[CapacityProvider]
) -> str | None:
    """The name of the ACTIVE provider whose Auto Scaling group the instance's
    `portside.autoscaling-group` attribute names, or None."""
    group = attributes.get(GROUP_ATTRIBUTE)
    if not group:
        return None
    for p in providers:
        asg = p.auto_scaling_group_provider
        if p.status == ACTIVE and asg is not None and asg.group_name == group:
            return p.name
    return None


def provider_arn(op: Op, name: str) -> str:
    return arns.ecs(op.region, op.account, f"capacity-provider/{name}")


def builtin(op: Op, name: str) -> CapacityProvider:
    return CapacityProvider(arn=provider_arn(op, name), name=name, type=name)


def load(op: Op, tx: Tx, ref: str) -> CapacityProvider | None:
    """The provider a name or ARN names in the caller's region and account: a stored one, or
    FARGATE / FARGATE_SPOT."""
    parsed = arns.parse(ref)
    if parsed is not None and (parsed.region, parsed.account) != (op.region, op.account):
        return None
    name = provider_name(ref)
    if name in BUILTIN_CAPACITY_PROVIDERS:
        return builtin(op, name)
    doc = tx.get(TABLE, provider_arn(op, name))
    return CapacityProvider.from_doc(doc) if doc else None


def load_active(op: Op, tx: Tx) -> list[CapacityProvider]:
    """Every ACTIVE provider of the caller's region and account, built-ins aside."""
    rows = tx.scan(TABLE, prefix=arns.prefix(op.region, op.account, "capacity-provider"))
    return [p for p in (CapacityProvider.from_doc(d) for _, d in rows) if p.status == ACTIVE]


def _missing() -> ClientException:
    # ECS's wording (hashicorp/terraform-provider-aws, internal/service/ecs/capacity_provider.go).
    return ClientException(
        "The specified capacity provider does not exist. Specify a valid name or ARN and try again."
    )


def _reserved(name: str) -> ClientException:
    return ClientException(
        f"The {name} capacity provider is reserved by Amazon ECS and cannot be changed or deleted."
    )


def _check_name(name: str) -> None:
    if not _NAME.match(name) or name.lower().startswith(_RESERVED_PREFIXES):
        # ECS's wording (aws/aws-cdk#29151); the prefixes are refused in any case (#36584).
        raise ClientException(
            "The specified capacity provider name is invalid. Up to 255 characters are allowed, "
            "including letters (upper and lowercase), numbers, underscores, and hyphens. The name "
            'cannot be prefixed with "aws", "ecs", or "fargate". Specify a valid name and try '
            "again."
        )


def _check_group(op: Op, value: str) -> str:
    """An Auto Scaling group ARN of the caller's account and region, or a plain group name."""
    m = _ASG_ARN.match(value)
    plain = bool(value) and not value.startswith("arn:")
    if not plain and (m is None or (m.group(1), m.group(2)) != (op.region, op.account)):
        raise ClientException(
            f"The specified Auto Scaling group ARN '{value}' is not valid. Specify the ARN or "
            f"the name of an Auto Scaling group in {op.region} of account {op.account}."
        )
    return asg_name(value)


def _scaling(given: ScalingRequest | None, base: ManagedScaling) -> ManagedScaling:
    out = dataclasses.replace(base)
    if given is not None:
        apply_given(out, given, _SCALING_FIELDS)
    return out


def _refuse_cluster(cluster: str | None) -> None:
    if cluster is not None:
        raise InvalidParameterException(
            "The cluster parameter applies only to Amazon ECS Managed Instances capacity "
            "providers; an Auto Scaling group capacity provider is not scoped to a cluster."
        )


def _asg_request(request: ProviderRequest) -> AutoScalingGroupRequest:
    """The request's Auto Scaling group provider, the only kind Portside has: a Managed
    Instances provider is refused, and so is a request with neither."""
    if request.managed_instances:
        raise ClientException(
            "Portside does not support Amazon ECS Managed Instances capacity providers "
            "(managedInstancesProvider). Use an autoScalingGroupProvider."
        )
    _refuse_cluster(request.cluster)
    if request.auto_scaling_group is None:
        # The ECS front end's wording for a required member left out (api/validation.py).
        raise InvalidParameterException("AutoScalingGroupProvider can not be blank.")
    return request.auto_scaling_group


def create_capacity_provider(
    op: Op, *, name: str, request: ProviderRequest, tags: Sequence[Mapping[str, Any]] = ()
) -> ProviderView:
    _check_name(name)
    given = _asg_request(request)
    group_arn = given.auto_scaling_group_arn or ""  # required by the shape (api/validation.py)
    group = _check_group(op, group_arn)
    checked_tags = validate_tags(tags)
    asg = AutoScalingGroupProvider(
        auto_scaling_group_arn=group_arn,
        managed_scaling=_scaling(given.managed_scaling, ManagedScaling()),
        managed_termination_protection=given.managed_termination_protection or DISABLED,
        managed_draining=given.managed_draining or ENABLED,
    )
    arn = provider_arn(op, name)
    with op.store.transaction() as tx:
        existing = tx.get(TABLE, arn)
        if existing is not None and existing["status"] != INACTIVE:
            # ECS's wording (cloudposse/terraform-aws-ecs-cluster#68).
            raise ClientException(
                "The specified capacity provider already exists. To change the configuration of "
                "an existing capacity provider, update the capacity provider."
            )
        if group in _groups_in_use(op, tx):
            # ECS's wording (aws/containers-roadmap#632).
            raise ClientException(
                "The specified Auto Scaling group ARN is already being used by another capacity "
                "provider. Specify a unique Auto Scaling group ARN and try again."
            )
        managed_scaling.check(op, tx, asg)  # ECS's ranges and rules; a scaled group exists
        managed_scaling.tag_group(op, tx, asg)
        provider = CapacityProvider(
            arn=arn, name=name, auto_scaling_group_provider=asg, created_at=op.now()
        )
        tx.put(TABLE, arn, provider.to_doc())
        set_tags(tx, arn, checked_tags)  # a reused name starts without the old tags
        return ProviderView(provider, checked_tags)


def _groups_in_use(op: Op, tx: Tx) -> set[str]:
    return {
        p.auto_scaling_group_provider.group_name
        for p in load_active(op, tx)
        if p.auto_scaling_group_provider is not None
    }


def _get_live(op: Op, tx: Tx, ref: str) -> CapacityProvider:
    if provider_name(ref) in BUILTIN_CAPACITY_PROVIDERS:
        raise _reserved(provider_name(ref))
    provider = load(op, tx, ref)
    if (
        provider is None
        or provider.status != ACTIVE
        or provider.auto_scaling_group_provider is None
    ):
        raise _missing()
    return provider


def update_capacity_provider(op: Op, ref: str, request: ProviderRequest) -> ProviderView:
    """Change managed scaling, termination protection and draining. The call answers
    UPDATE_IN_PROGRESS, as ECS's does; the stored provider reads UPDATE_COMPLETE at once."""
    given = _asg_request(request)
    with op.store.transaction() as tx:
        provider = _get_live(op, tx, ref)
        asg = provider.auto_scaling_group_provider
        assert asg is not None  # _get_live checked
        asg.managed_scaling = _scaling(given.managed_scaling, asg.managed_scaling)
        apply_given(asg, given, ("managed_termination_protection", "managed_draining"))
        managed_scaling.check(op, tx, asg)
        managed_scaling.tag_group(op, tx, asg)
        provider.update_status, provider.update_status_reason = UPDATE_COMPLETE, None
        tx.put(TABLE, provider.arn, provider.to_doc())
        answer = dataclasses.replace(provider, update_status=UPDATE_IN_PROGRESS)
        return ProviderView(answer, get_tags(tx, provider.arn))


def in_use(op: Op, tx: Tx, name: str) -> str | None:
    """Why a provider cannot be deleted: the cluster that names it, or a service's strategy."""
    for _, doc in tx.scan(
        "clusters", prefix=arns.prefix(op.region, op.account, "cluster"), where={"status": ACTIVE}
    ):
        cluster = Cluster.from_doc(doc)
        if name in cluster.capacity_providers:
            return _associated(cluster.name)
    for _, svc in tx.scan("services", prefix=arns.prefix(op.region, op.account, "service")):
        if svc.get("status") not in ("ACTIVE", "DRAINING"):
            continue
        used = {provider_name(str(i.get("capacityProvider", ""))) for i in _strategy(svc)}
        if name in used:
            parsed = arns.parse(str(svc.get("clusterArn", "")))
            return _associated(parsed.path if parsed else str(svc.get("clusterArn")))
    return None


def _strategy(svc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(svc.get("capacityProviderStrategy") or ())


def _associated(cluster: str) -> str:
    # ECS's updateStatusReason (repost.aws/knowledge-center/ecs-capacity-provider-error).
    return (
        f"The capacity provider cannot be deleted because it is associated with cluster: "
        f"{cluster}. Remove the capacity provider from the cluster and try again."
    )


def delete_capacity_provider(op: Op, ref: str, *, cluster: str | None = None) -> ProviderView:
    """Delete, or record why not (DELETE_FAILED). The call answers what ECS's answers: ACTIVE
    with DELETE_IN_PROGRESS, or DELETE_FAILED and its reason."""
    _refuse_cluster(cluster)
    with op.store.transaction() as tx:
        provider = _get_live(op, tx, ref)
        reason = in_use(op, tx, provider.name)
        if reason is not None:
            provider.update_status, provider.update_status_reason = DELETE_FAILED, reason
            tx.put(TABLE, provider.arn, provider.to_doc())
            return ProviderView(provider, get_tags(tx, provider.arn))
        answer = dataclasses.replace(
            provider, update_status=DELETE_IN_PROGRESS, update_status_reason=None
        )
        provider.status, provider.update_status = INACTIVE, DELETE_COMPLETE
        provider.update_status_reason = None
        tx.put(TABLE, provider.arn, provider.to_doc())
        return ProviderView(answer, get_tags(tx, provider.arn))


def describe_capacity_providers(
    op: Op,
    refs: Sequence[str] | None,
    *,
    cluster: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[ProviderView], list[dict[str, str]], str | None]:
    """The named providers (failures for the unknown), or a page of every provider of the
    region, FARGATE and FARGATE_SPOT first. With `cluster`, only the cluster's providers."""
    if refs and len(refs) > MAX_DESCRIBE:
        raise InvalidParameterException(
            f"At most {MAX_DESCRIBE} capacity providers can be described in one call."
        )
    limit = check_max_results(max_results, default=10, cap=10)
    after = decode_token(next_token)
    with op.store.read() as tx:
        allowed = get_active(op, tx, cluster).capacity_providers if cluster else None
        if refs:
            found, failures = _named(op, tx, refs, allowed)
            return found, failures, None
        everything = _everyone(op, tx, allowed)
        start = _resume(everything, after)
        page = everything[start : start + limit]
        token = encode_token(page[-1].arn) if start + limit < len(everything) else None
        return [ProviderView(p, get_tags(tx, p.arn)) for p in page], [], token


def _named(
    op: Op, tx: Tx, refs: Sequence[str], allowed: Sequence[str] | None
) -> tuple[list[ProviderView], list[Failure]]:
    def usable(ref: str) -> tuple[str, CapacityProvider | None]:
        name = provider_name(ref)
        arn = ref if arns.is_arn(ref) else provider_arn(op, name)
        provider = load(op, tx, ref)
        if provider is None or (allowed is not None and name not in allowed):
            return arn, None
        return arn, provider

    return found_or_missing(
        refs, usable, lambda provider: ProviderView(provider, get_tags(tx, provider.arn))
    )


def _everyone(op: Op, tx: Tx, allowed: Sequence[str] | None) -> list[CapacityProvider]:
    stored = tx.scan(TABLE, prefix=arns.prefix(op.region, op.account, "capacity-provider"))
    providers = [builtin(op, n) for n in BUILTIN_CAPACITY_PROVIDERS]
    providers += [CapacityProvider.from_doc(doc) for _, doc in stored]
    if allowed is not None:
        providers = [p for p in providers if p.name in allowed]
    return providers


def _resume(providers: Sequence[CapacityProvider], after: str) -> int:
    """Where the page after the token's ARN starts: the built-ins come first, then the stored
    providers in ARN order (so a provider deleted meanwhile does not lose the place)."""
    if not after:
        return 0
    for i, p in enumerate(providers):
        if p.arn == after:
            return i + 1
    first_stored = sum(1 for p in providers if p.name in BUILTIN_CAPACITY_PROVIDERS)
    for i in range(first_stored, len(providers)):
        if providers[i].arn > after:
            return i
    return len(providers)
