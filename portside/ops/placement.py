"""Where new tasks go: the store's view of a cluster turned into the placer's candidates, and
the placer's decisions turned back into instances. Shared by RunTask, StartTask and (later)
the service controller."""

from __future__ import annotations

import itertools
import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.errors import ClientException, InvalidParameterException
from portside.model import arn as arns
from portside.model.capacity_provider import CapacityProvider
from portside.model.cluster import Cluster
from portside.model.container_instance import INACTIVE, ContainerInstance
from portside.model.doc import from_doc
from portside.model.placement import PlacementConstraint, PlacementStrategy, constraints_of
from portside.model.task_definition import TaskDefinition
from portside.ops import capacity_providers, managed_scaling
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.scheduler import constraints, strategies
from portside.scheduler.candidates import EC2, EXTERNAL, Ask, Candidate, task_gpus
from portside.scheduler.demand import Demand
from portside.scheduler.placer import Placement, place
from portside.scheduler.session import Session
from portside.store.base import Tx

EXTERNAL_CAPABILITY = "ecs.capability.external"


class Fleet:
    """A cluster's instances as the placer sees them; the stored instances (read in the
    caller's transaction) only for those a call actually places on."""

    def __init__(
        self,
        tx: Tx,
        candidates: list[Candidate],
        providers: Mapping[str, str | None],
        view: _View | None = None,
    ) -> None:
        self.candidates = candidates
        self.view = view  # what the candidates came from (None once narrowed by `only`)
        self._tx = tx
        self._providers = providers
        self._parsed: dict[str, ContainerInstance] = {}

    def has(self, arn: str) -> bool:
        return arn in self._providers

    def instance(self, arn: str) -> ContainerInstance:
        inst = self._parsed.get(arn)
        if inst is None:
            doc = self._tx.get(inst_ops.TABLE, arn)
            assert doc is not None, arn  # read in this transaction, which would see a delete
            inst = from_doc(ContainerInstance, doc)
            inst.capacity_provider_name = self._providers.get(arn)
            inst.running_tasks = sum(inst.group_counts.values())
            self._parsed[arn] = inst
        return inst

    def only(self, arns: frozenset[str]) -> Fleet:
        return Fleet(
            self._tx,
            [c for c in self.candidates if c.arn in arns],
            {a: p for a, p in self._providers.items() if a in arns},
        )


@dataclass(frozen=True, slots=True)
class _View:
    """A cluster's candidates as of change `seq`. Never mutated: a call that finds changes
    builds the next view from this one, instance by instance."""

    seq: int
    generation: int  # a full read starts a new one; views updated from it keep it
    providers: tuple[tuple[str, str], ...]
    candidates: dict[str, Candidate]  # by ARN: placeable instances only
    provider_of: dict[str, str | None]
    custom: dict[str, tuple[Mapping[str, Any], ...]]  # instance ARN -> its custom attributes


# The newest view of each cluster, per store. Reading a 10,000-instance fleet on every RunTask
# was most of its cost; the change feed says which instances changed since a view's seq, so a
# call re-reads only those (in its own transaction, so its view is exact), and the result is
# kept once that transaction commits (a rolled-back one may have read its own writes).
# This relies on changes becoming visible in seq order, as they do with one writer at a time
# (SQLite: BEGIN IMMEDIATE). A PostgreSQL backend with concurrent writers must make
# `changed_keys` account for seqs still in flight (or full-read when there are any).
_views: weakref.WeakKeyDictionary[Any, dict[str, _View]] = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()
_generations = itertools.count(1)

# Past this many changed instances and this share of the fleet, one scan beats that many
# single reads.
_FULL_READ_AT = 64
_FULL_READ_SHARE = 0.5


def fleet(op: Op, tx: Tx, cluster: Cluster) -> Fleet:
    providers = capacity_providers.load_active(op, tx)
    providers_key = tuple(sorted((p.name, str(p.auto_scaling_group_provider)) for p in providers))
    with _views_lock:
        old = _views.get(op.store, {}).get(cluster.arn)
    seq = tx.feed_seq()
    view = None
    if old is not None and old.providers == providers_key and old.seq <= seq:
        view = old if old.seq == seq else _updated(tx, cluster, old, seq, providers)
    if view is None:
        view = _full_read(tx, cluster, seq, providers, providers_key)
    if view is not old:
        tx.on_commit(lambda: _keep(op.store, cluster.arn, view))
    return Fleet(tx, list(view.candidates.values()), view.provider_of, view)


def _keep(store: Any, cluster_arn: str, view: _View) -> None:
    with _views_lock:
        views = _views.setdefault(store, {})
        kept = views.get(cluster_arn)
        if kept is None or kept.seq <= view.seq:
            views[cluster_arn] = view


def _full_read(
    tx: Tx,
    cluster: Cluster,
    seq: int,
    providers: Sequence[CapacityProvider],
    providers_key: tuple[tuple[str, str], ...],
) -> _View:
    custom: dict[str, list[Mapping[str, Any]]] = {}
    for _, doc in tx.scan("attributes", prefix=f"{cluster.arn}|"):
        custom.setdefault(doc["targetId"], []).append(doc)
    view = _View(
        seq,
        next(_generations),
        providers_key,
        {},
        {},
        {a: tuple(docs) for a, docs in custom.items()},
    )
    for arn, doc in tx.scan(inst_ops.TABLE, where={"cluster": cluster.arn}):
        _put(view, arn, doc, providers)
    return view


def _updated(
    tx: Tx, cluster: Cluster, old: _View, seq: int, providers: Sequence[CapacityProvider]
) -> _View | None:
    """`old` brought up to `seq`, re-reading only the instances the feed says changed (their
    documents or their custom attributes); None when a full read is due instead."""
    found = _changed_since(tx, cluster, old.seq, len(old.candidates))
    if found is None:
        return None
    changed, targets = found
    view = _View(
        seq,
        old.generation,
        old.providers,
        dict(old.candidates),
        dict(old.provider_of),
        dict(old.custom),
    )
    for target in targets:
        docs = tuple(doc for _, doc in tx.scan("attributes", prefix=f"{cluster.arn}|{target}|"))
        if docs:
            view.custom[target] = docs
        else:
            view.custom.pop(target, None)
    for arn in changed | targets:
        view.candidates.pop(arn, None)
        view.provider_of.pop(arn, None)
        doc = tx.get(inst_ops.TABLE, arn)
        if doc is not None and doc.get("clusterArn") == cluster.arn:
            _put(view, arn, doc, providers)
    return view


def _changed_since(
    tx: Tx, cluster: Cluster, seq: int, fleet_size: int
) -> tuple[set[str], set[str]] | None:
    """The instances whose documents changed after `seq`, and those whose custom attributes
    did; None when the feed was trimmed past `seq` or so much changed that a full read is
    cheaper."""
    changed = tx.changed_keys(inst_ops.TABLE, seq)
    attrs = tx.changed_keys("attributes", seq, prefix=f"{cluster.arn}|")
    if changed is None or attrs is None:
        return None  # the feed was trimmed past the view
    targets = {key.split("|", 2)[1] for key in attrs}
    if len(changed) + len(targets) > max(_FULL_READ_AT, _FULL_READ_SHARE * fleet_size):
        return None
    return set(changed), targets


def _put(view: _View, arn: str, doc: dict[str, Any], providers: Sequence[CapacityProvider]) -> None:
    """Add one stored instance to a view under construction, if tasks can be placed on it."""
    inst = from_doc(ContainerInstance, doc)
    if inst.fargate or inst.status == INACTIVE:
        return
    extra = view.custom.get(arn, ())
    names = {a["name"]: a.get("value") for a in (*inst.attributes, *extra)}
    provider = capacity_providers.provider_for_instance(names, providers)
    inst.capacity_provider_name = provider
    inst.running_tasks = sum(inst.group_counts.values())
    view.candidates[arn] = Candidate.of(
        inst,
        group_counts=inst.group_counts,
        custom_attributes=extra,
        launch_type=EXTERNAL if EXTERNAL_CAPABILITY in names else EC2,
    )
    view.provider_of[arn] = provider


def check_rules(
    placement_constraints: Sequence[PlacementConstraint],
    placement_strategy: Sequence[PlacementStrategy],
    td: TaskDefinition,
) -> tuple[list[PlacementConstraint], list[PlacementStrategy]]:
    """The call's placement constraints plus the definition's (its spec is a document: read
    here as values), and the call's strategy; InvalidParameterException where ECS would refuse
    them."""
    rules = [*placement_constraints, *constraints_of(td.spec.get("placementConstraints"))]
    constraints.parse(rules)
    strategy = list(placement_strategy)
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
    rules: Sequence[PlacementConstraint],
    strategy: Sequence[PlacementStrategy],
    default_strategy: Sequence[PlacementStrategy] = strategies.RUN_TASK_DEFAULT,
    rng: random.Random | None = None,
    pinned: frozenset[str] | None = None,
) -> tuple[list[ContainerInstance | None], list[dict[str, str]]]:
    """An instance (or None) for each entry of `plan` — (launch type, capacity provider) per
    task, FARGATE entries excluded by the caller — and ECS's failures for those that fit
    nowhere. `pinned` limits the candidates to those instances (StartTask)."""
    began = time.perf_counter()
    found = fleet(op, tx, cluster)
    if pinned is not None:
        found = found.only(pinned)
    wanted = {lt for lt, _ in plan}
    # Managed scaling: a task for a provider whose group grows waits for its instances
    # (launch.py keeps it PROVISIONING) rather than failing.
    growing = {p for p in {p for _, p in plan} if managed_scaling.scales(op, tx, p)}
    if (
        not any(c.launch_type in wanted for c in found.candidates)
        and pinned is None
        and not all(p in growing for _, p in plan)
    ):
        raise InvalidParameterException("No Container Instances were found in your cluster.")
    chosen: list[ContainerInstance | None] = [None] * len(plan)
    failures: list[dict[str, str]] = []
    seen_failures: set[tuple[str, str]] = set()
    groups: dict[tuple[str, str | None], list[int]] = {}
    for n, key in enumerate(plan):
        groups.setdefault(key, []).append(n)
    # Each batch sees the previous batches' placements: a kept session through `earlier` (the
    # instances they placed on, as they are now), the fresh placer through its candidates.
    view = found.view if pinned is None else None
    candidates = list(found.candidates) if view is None else []
    earlier: dict[str, Candidate] = {}
    present: set[str | None] = set()
    if any(provider is not None for _, provider in groups):
        present = {c.capacity_provider for c in found.candidates}
    for n, ((launch_type, provider), slots) in enumerate(groups.items()):
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
        if provider in growing and provider not in present:
            continue  # none yet: its group is asked for some
        if provider is not None and provider not in present:
            raise ClientException(
                f"The capacity provider {provider} has no container instances in this cluster."
            )
        if view is not None:
            result = _place_kept(op, tx, cluster, view, ask, len(slots), rng, earlier)
        else:
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
        if not touched or n == len(groups) - 1:
            continue  # no later batch to see these placements
        if view is not None:
            for arn in touched:
                earlier[arn] = _refreshed(view.candidates[arn], found.instance(arn))
        else:
            candidates = [
                _refreshed(c, found.instance(c.arn)) if c.arn in touched else c for c in candidates
            ]
    if op.world.observe_placement is not None:
        op.world.observe_placement(time.perf_counter() - began)  # Prometheus's histogram
    return chosen, failures


# Placer sessions (scheduler/session.py) kept between calls, per store: by (cluster, ask), the
# session and the view it was last brought up to. A call takes its session out, brings it up
# to its own view with the instances the feed says changed since (and those the session
# placed on), places, and puts it back once its transaction commits: a rolled-back call's
# session holds placements that never happened, so it is dropped (the next call builds anew).
@dataclass(frozen=True, slots=True)
class _Kept:
    generation: int
    seq: int
    session: Session


_sessions: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[str, str], _Kept]] = (
    weakref.WeakKeyDictionary()
)
# Per store, least recently used dropped first, while the kept sessions hold more than this
# many instance slots in all (16 sessions at 10,000 instances, 160 at 1,000,
# so a cluster's services each keep theirs).
_SESSION_SLOTS = 160_000


def _place_kept(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    view: _View,
    ask: Ask,
    count: int,
    rng: random.Random | None,
    earlier: Mapping[str, Candidate],
) -> Placement:
    """Place with the kept session for this ask. `earlier`: instances that earlier batches of
    this call placed on, as they are now (not yet committed, so not in the view)."""
    key = (cluster.arn, repr(ask))
    with _views_lock:
        kept = _sessions.get(op.store, OrderedDict()).pop(key, None)
    session = None
    if kept is not None and kept.generation == view.generation and kept.seq <= view.seq:
        arns = set(kept.session.touched())
        found: tuple[set[str], set[str]] | None = (set(), set())
        if kept.seq != view.seq:
            found = _changed_since(tx, cluster, kept.seq, len(view.candidates))
        if found is not None:
            arns.update(*found)
            session = kept.session
            session.refresh({**{arn: view.candidates.get(arn) for arn in arns}, **earlier})
    if session is None:
        session = Session(ask, list(view.candidates.values()))
        if earlier:
            session.refresh(earlier)
    result = session.place(count, rng or random.Random())
    again = _Kept(view.generation, view.seq, session)
    tx.on_commit(lambda: _keep_session(op.store, key, again))
    return result


def _keep_session(store: Any, key: tuple[str, str], kept: _Kept) -> None:
    with _views_lock:
        sessions = _sessions.setdefault(store, OrderedDict())
        sessions[key] = kept
        slots = sum(len(k.session.run) for k in sessions.values())
        while slots > _SESSION_SLOTS and len(sessions) > 1:
            _, dropped = sessions.popitem(last=False)
            slots -= len(dropped.session.run)


def _refreshed(old: Candidate, inst: ContainerInstance) -> Candidate:
    return Candidate.of(
        inst,
        group_counts=inst.group_counts,
        custom_attributes=[{"name": k, "value": v} for k, v in old.attributes.items()],
        launch_type=old.launch_type,
    )


def instance_prefix(op: Op) -> str:
    return arns.prefix(op.region, op.account, "container-instance")
