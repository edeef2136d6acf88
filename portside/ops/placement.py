"""Where new tasks go: the store's view of a cluster turned into the placer's candidates, and
the placer's decisions turned back into instances. Shared by RunTask, StartTask and (later)
the service controller."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.errors import ClientException, InvalidParameterException
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.container_instance import INACTIVE, ContainerInstance
from portside.model.doc import from_doc
from portside.model.task_definition import TaskDefinition
from portside.ops import capacity_providers
from portside.ops.context import Op
from portside.scheduler import constraints, strategies
from portside.scheduler.candidates import EC2, EXTERNAL, Ask, Candidate, task_gpus
from portside.scheduler.demand import Demand
from portside.scheduler.placer import place
from portside.store.base import Tx

EXTERNAL_CAPABILITY = "ecs.capability.external"


@dataclass(frozen=True, slots=True)
class Fleet:
    """A cluster's instances as the placer sees them, and as the store holds them."""

    candidates: list[Candidate]
    instances: dict[str, ContainerInstance]


def fleet(op: Op, tx: Tx, cluster: Cluster) -> Fleet:
    custom: dict[str, list[dict[str, Any]]] = {}
    for _, doc in tx.scan("attributes", prefix=f"{cluster.arn}|"):
        custom.setdefault(doc["targetId"], []).append(doc)
    providers = capacity_providers.load_active(op, tx)
    cands: list[Candidate] = []
    stored: dict[str, ContainerInstance] = {}
    for _, doc in tx.scan("container_instances", where={"cluster": cluster.arn}):
        inst = from_doc(ContainerInstance, doc)
        if inst.fargate or inst.status == INACTIVE:
            continue
        names = {a["name"]: a.get("value") for a in (*inst.attributes, *custom.get(inst.arn, ()))}
        inst.capacity_provider_name = capacity_providers.provider_for_instance(names, providers)
        inst.running_tasks = sum(inst.group_counts.values())
        stored[inst.arn] = inst
        cands.append(
            Candidate.of(
                inst,
                group_counts=inst.group_counts,
                custom_attributes=custom.get(inst.arn, ()),
                launch_type=EXTERNAL if EXTERNAL_CAPABILITY in names else EC2,
            )
        )
    return Fleet(cands, stored)


def check_rules(
    params: Mapping[str, Any], td: TaskDefinition
) -> tuple[list[Mapping[str, str]], list[Mapping[str, str]]]:
    """The call's placement constraints plus the definition's, and the call's strategy;
    InvalidParameterException where ECS would refuse them."""
    rules = [
        *(params.get("placementConstraints") or ()),
        *(td.spec.get("placementConstraints") or ()),
    ]
    constraints.parse(rules)
    strategy = list(params.get("placementStrategy") or ())
    strategies.parse(strategy)
    return rules, strategy


def choose(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    td: TaskDefinition,
    demand: Demand,
    plan: Sequence[tuple[str, str | None]],
    *,
    group: str,
    rules: Sequence[Mapping[str, str]],
    strategy: Sequence[Mapping[str, str]],
    default_strategy: Sequence[Mapping[str, str]] = strategies.RUN_TASK_DEFAULT,
    rng: random.Random | None = None,
    pinned: frozenset[str] | None = None,
) -> tuple[list[ContainerInstance | None], list[dict[str, str]]]:
    """An instance (or None) for each entry of `plan` — (launch type, capacity provider) per
    task, FARGATE entries excluded by the caller — and ECS's failures for those that fit
    nowhere. `pinned` limits the candidates to those instances (StartTask)."""
    found = fleet(op, tx, cluster)
    if pinned is not None:
        found = Fleet(
            [c for c in found.candidates if c.arn in pinned],
            {a: i for a, i in found.instances.items() if a in pinned},
        )
    wanted = {lt for lt, _ in plan}
    if not any(c.launch_type in wanted for c in found.candidates) and pinned is None:
        raise InvalidParameterException("No Container Instances were found in your cluster.")
    chosen: list[ContainerInstance | None] = [None] * len(plan)
    failures: list[dict[str, str]] = []
    seen_failures: set[tuple[str, str]] = set()
    groups: dict[tuple[str, str | None], list[int]] = {}
    for n, key in enumerate(plan):
        groups.setdefault(key, []).append(n)
    # Each batch sees the previous batches' placements through the candidates it gets.
    candidates = list(found.candidates)
    for (launch_type, provider), slots in groups.items():
        ask = Ask(
            demand=demand,
            group=group,
            gpus=task_gpus(td.spec),
            requires_attributes=td.spec.get("requiresAttributes") or (),
            runtime_platform=td.spec.get("runtimePlatform"),
            constraints=rules,
            strategy=strategy or default_strategy,
            launch_type=launch_type,
            capacity_provider=provider,
        )
        if provider is not None and not any(c.capacity_provider == provider for c in candidates):
            raise ClientException(
                f"The capacity provider {provider} has no container instances in this cluster."
            )
        result = place(ask, len(slots), candidates, rng or random.Random())
        for slot, arn in zip(slots, result.chosen, strict=True):
            if arn is not None:
                inst = found.instances[arn]
                inst.reserve(
                    group, demand.cpu, demand.memory, list(demand.ports_tcp), list(demand.ports_udp)
                )
                chosen[slot] = inst
        for arn, reason in result.failures:
            if (arn, reason) not in seen_failures:
                seen_failures.add((arn, reason))
                failures.append({"arn": arn, "reason": reason})
        touched = {a for a in result.chosen if a}
        candidates = [
            _refreshed(c, found.instances[c.arn]) if c.arn in touched else c for c in candidates
        ]
    return chosen, failures


def _refreshed(old: Candidate, inst: ContainerInstance) -> Candidate:
    return Candidate.of(
        inst,
        group_counts=inst.group_counts,
        custom_attributes=[{"name": k, "value": v} for k, v in old.attributes.items()],
        launch_type=old.launch_type,
    )


def instance_prefix(op: Op) -> str:
    return arns.prefix(op.region, op.account, "container-instance")
