"""Where new tasks go: the store's view of a cluster turned into the placer's candidates, and
the placer's decisions turned back into instances. Shared by RunTask, StartTask and (later)
the service controller."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

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


class Fleet:
    """A cluster's instances as the placer sees them, and as the store holds them (parsed
    only for the instances a call actually places on)."""

    def __init__(
        self, candidates: list[Candidate], raw: dict[str, str], providers: dict[str, str | None]
    ) -> None:
        self.candidates = candidates
        self._raw = raw
        self._providers = providers
        self._parsed: dict[str, ContainerInstance] = {}

    def has(self, arn: str) -> bool:
        return arn in self._raw

    def instance(self, arn: str) -> ContainerInstance:
        inst = self._parsed.get(arn)
        if inst is None:
            inst = from_doc(ContainerInstance, orjson.loads(self._raw[arn]))
            inst.capacity_provider_name = self._providers.get(arn)
            inst.running_tasks = sum(inst.group_counts.values())
            self._parsed[arn] = inst
        return inst

    def only(self, arns: frozenset[str]) -> Fleet:
        return Fleet(
            [c for c in self.candidates if c.arn in arns],
            {a: r for a, r in self._raw.items() if a in arns},
            self._providers,
        )


# Candidates built from unchanged documents are reused: reading a 1,000-instance fleet on
# every RunTask was most of its cost. Keyed by cluster, then instance; an entry is valid while
# the instance document, its custom attributes and the providers are what they were. Callers
# hold the store's write lock (placement happens in write transactions).
_cache: dict[str, dict[str, tuple[tuple[Any, ...], Candidate, str | None]]] = {}


def fleet(op: Op, tx: Tx, cluster: Cluster) -> Fleet:
    custom: dict[str, list[dict[str, Any]]] = {}
    for _, doc in tx.scan("attributes", prefix=f"{cluster.arn}|"):
        custom.setdefault(doc["targetId"], []).append(doc)
    providers = capacity_providers.load_active(op, tx)
    providers_key = tuple(sorted((p.name, str(p.auto_scaling_group_provider)) for p in providers))
    old = _cache.get(cluster.arn, {})
    fresh: dict[str, tuple[tuple[Any, ...], Candidate, str | None]] = {}
    cands: list[Candidate] = []
    raw_docs: dict[str, str] = {}
    provider_of: dict[str, str | None] = {}
    for arn, raw in tx.scan_raw("container_instances", where={"cluster": cluster.arn}):
        extra = custom.get(arn, ())
        key = (raw, tuple((a["name"], a.get("value")) for a in extra), providers_key)
        hit = old.get(arn)
        if hit is not None and hit[0] == key:
            fresh[arn] = hit
        else:
            inst = from_doc(ContainerInstance, orjson.loads(raw))
            if inst.fargate or inst.status == INACTIVE:
                continue
            names = {a["name"]: a.get("value") for a in (*inst.attributes, *extra)}
            provider = capacity_providers.provider_for_instance(names, providers)
            inst.capacity_provider_name = provider
            inst.running_tasks = sum(inst.group_counts.values())
            cand = Candidate.of(
                inst,
                group_counts=inst.group_counts,
                custom_attributes=extra,
                launch_type=EXTERNAL if EXTERNAL_CAPABILITY in names else EC2,
            )
            fresh[arn] = (key, cand, provider)
        cands.append(fresh[arn][1])
        raw_docs[arn] = raw
        provider_of[arn] = fresh[arn][2]
    _cache[cluster.arn] = fresh
    return Fleet(cands, raw_docs, provider_of)


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
        found = found.only(pinned)
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
                inst = found.instance(arn)
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
            _refreshed(c, found.instance(c.arn)) if c.arn in touched else c for c in candidates
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
