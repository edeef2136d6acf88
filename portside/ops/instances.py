"""Container instance operations: register (by an agent), describe, list, deregister."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from portside.errors import ClientException, InvalidParameterException
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.container_instance import (
    ACTIVE,
    DRAINING,
    INACTIVE,
    ContainerInstance,
    InstanceResources,
)
from portside.model.doc import from_doc
from portside.model.states import INSTANCE_STATUS, TaskStatus
from portside.ops import records
from portside.ops.clusters import describe_members, get_active
from portside.ops.context import Op
from portside.ops.describing import Failure, RefLimits, found_or_missing
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import Tag, get_tags, merge_tags, set_tags
from portside.store.base import Tx

TABLE = "container_instances"
# The attribute an ECS Anywhere agent registers its instance with (amazon-ecs-agent,
# agent/app/agent_capability.go: externalSpecificCapabilities).
EXTERNAL_ATTRIBUTE = "ecs.capability.external"
DESCRIBE_LIMITS = RefLimits(
    100,
    "Container instance cannot be empty.",  # ECS's words
    "You can describe at most 100 container instances.",
)


@dataclass(frozen=True, slots=True)
class InstanceView:
    instance: ContainerInstance
    custom_attributes: list[dict[str, Any]]
    tags: list[Tag]


def load(tx: Tx, arn: str) -> ContainerInstance | None:
    return records.load(tx, TABLE, ContainerInstance, arn)


def save(tx: Tx, inst: ContainerInstance, *, bump: bool = True) -> None:
    """Store `inst`; the store gives it its next version unless `bump` is False (a change
    that is no new version of the instance: its reservations)."""
    records.save(tx, TABLE, inst, bump=bump)


def set_agent_connected(tx: Tx, arn: str, connected: bool, now: float) -> bool:
    """The one writer of an instance's agentConnected: the gateway sets it when the agent
    syncs again, liveness clears it when the agent has gone silent (a deregistration clears
    it for good). An INACTIVE instance is left as it is. True when it changed."""
    inst = load(tx, arn)
    if inst is None or inst.agent_connected == connected or inst.status == INACTIVE:
        return False
    inst.agent_connected = connected
    inst.disconnected_at = None if connected else now
    save(tx, inst)
    return True


def is_external(inst: ContainerInstance) -> bool:
    """An ECS Anywhere instance: only EXTERNAL tasks go there."""
    return any(a.get("name") == EXTERNAL_ATTRIBUTE for a in inst.attributes)


def instance_arn(op: Op, cluster_arn: str, ref: str) -> str:
    """The ARN an instance reference (ID or ARN) names within a cluster."""
    return arns.in_cluster(op.region, op.account, "container-instance", cluster_arn, ref)


def find(op: Op, tx: Tx, cluster: Cluster, ref: str) -> tuple[str, ContainerInstance | None]:
    """The ARN an instance reference names in `cluster`, and the instance: None unless it is
    one of the cluster's (the FARGATE capacity is no cluster's)."""
    arn = instance_arn(op, cluster.arn, ref)
    inst = load(tx, arn)
    if inst is None or inst.fargate or inst.cluster_arn != cluster.arn:
        return arn, None
    return arn, inst


def _given(value: int | None, name: str) -> int:
    if value is None:
        raise InvalidParameterException(f"totalResources must include {name}.")
    return value


def _ports(given: Sequence[str], name: str) -> list[int]:
    out: list[int] = []
    for p in given:
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise InvalidParameterException(f"Invalid port '{p}' in {name}.")
        out.append(int(p))
    return sorted(set(out))


def register(
    op: Op,
    *,
    cluster: str | None,
    total_resources: InstanceResources,
    version_info: Mapping[str, str] | None = None,
    attributes: Sequence[Mapping[str, Any]] = (),
    identity_document: str | None = None,
    existing_arn: str | None = None,
    tags: Sequence[Mapping[str, Any]] = (),
    fargate: bool = False,
) -> InstanceView:
    """RegisterContainerInstance: a new instance, or the same one again after an agent restart
    (the agent passes the ARN it was given)."""
    identity: dict[str, Any] = {}
    if identity_document:
        try:
            identity = orjson.loads(identity_document)
        except orjson.JSONDecodeError:
            raise InvalidParameterException("instanceIdentityDocument is not valid JSON.") from None
        if not isinstance(identity, dict):
            raise InvalidParameterException("instanceIdentityDocument is not valid JSON.")
    if total_resources == InstanceResources() and identity:
        # Registered from the identity document alone: its instance type's resources and
        # the attributes the ECS agent takes from it (the call's own attributes win).
        from portside.ops import instance_types

        known = instance_types.resources_of(identity)
        if known is not None:
            total_resources = known
            given = {a.get("name") for a in attributes}
            attributes = [
                *attributes,
                *(a for a in instance_types.attributes_of(identity) if a["name"] not in given),
            ]
    cpu = _given(total_resources.cpu, "CPU")
    memory = _given(total_resources.memory, "MEMORY")
    if cpu < 0 or memory <= 0:
        raise InvalidParameterException("CPU and MEMORY must be positive.")
    with op.store.transaction() as tx:
        cluster_obj = get_active(op, tx, cluster)
        inst = load(tx, existing_arn) if existing_arn else None
        if existing_arn and (inst is None or inst.cluster_arn != cluster_obj.arn):
            raise ClientException(
                f"The container instance {existing_arn} is not registered to this cluster."
            )
        now = op.now()
        if inst is None:
            arn = arns.ecs(
                op.region,
                op.account,
                f"container-instance/{cluster_obj.name}/{op.world.new_id()}",
            )
            inst = ContainerInstance(
                arn=arn,
                cluster_arn=cluster_obj.arn,
                ec2_instance_id=str(identity.get("instanceId") or "i-" + op.world.new_id()[:17]),
                registered_at=now,
            )
        inst.status = ACTIVE
        inst.status_reason = None
        inst.agent_connected = True
        inst.last_heartbeat = now
        inst.cpu = cpu
        inst.memory = memory
        inst.reserved_ports_tcp = _ports(total_resources.ports_tcp, "PORTS")
        inst.reserved_ports_udp = _ports(total_resources.ports_udp, "PORTS_UDP")
        from portside.ops import agent_update  # it reads instances through this module

        before = inst.version_info.get("agentVersion")
        inst.version_info = dict(version_info or {})
        agent_update.registered(inst, before, inst.version_info.get("agentVersion"))
        inst.attributes = [
            {k: v for k, v in a.items() if k in ("name", "value")} for a in attributes
        ]
        inst.fargate = fargate
        save(tx, inst)
        if tags:
            merge_tags(tx, inst.arn, tags)
        return _view(op, tx, inst)


def _view(op: Op, tx: Tx, inst: ContainerInstance) -> InstanceView:
    from portside.ops import capacity_providers
    from portside.ops.attributes import instance_attributes

    inst.running_tasks, inst.pending_tasks = counts(tx, inst)
    custom = instance_attributes(tx, inst.cluster_arn, inst.arn)
    # The provider whose Auto Scaling group the instance is in, as placement sees it.
    names = {a["name"]: a.get("value") for a in (*inst.attributes, *custom)}
    inst.capacity_provider_name = capacity_providers.provider_for_instance(
        names, capacity_providers.load_active(op, tx)
    )
    return InstanceView(inst, custom, get_tags(tx, inst.arn))


def counts(tx: Tx, inst: ContainerInstance) -> tuple[int, int]:
    """(runningTasksCount, pendingTasksCount) as the ContainerInstance shape defines them:
    tasks whose desiredStatus is RUNNING, and tasks whose lastStatus is PENDING."""
    # One grouped count on the instance's index. Two counts that also named `desired` (or
    # `status`) let SQLite pick that index instead, reading every RUNNING task of every
    # instance: 28 ms a registration with 20,000 tasks stored.
    tally = tx.tally("tasks", ("desired", "status"), where={"instance": inst.arn})
    running = sum(n for (desired, _), n in tally.items() if desired == TaskStatus.RUNNING)
    pending = sum(n for (_, status), n in tally.items() if status == TaskStatus.PENDING)
    return running, pending


def describe(
    op: Op, cluster: str | None, refs: Sequence[str]
) -> tuple[list[InstanceView], list[Failure]]:
    return describe_members(
        op, cluster, refs, DESCRIBE_LIMITS, partial(find, op), partial(_view, op)
    )


def list_arns(
    op: Op,
    cluster: str | None,
    *,
    status: str | None = None,
    filter_: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[str], str | None]:
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    if filter_:
        from portside.scheduler.query import compile_query

        matches = compile_query(filter_)
    else:
        matches = None
    with op.store.read() as tx:
        cluster_obj = get_active(op, tx, cluster)
        keys: list[str] = []
        more = False
        # Read in chunks in key order (LIMIT in SQL): a page of 100 out of 10,000 instances
        # reads about 100 rows, not all of them. Skipped rows (FARGATE capacity, INACTIVE,
        # filtered out) make a page read another chunk. The cluster's instances are those
        # under its ARN prefix: a range of the primary key, where `where={"cluster": ...}`
        # would have SQLite read the whole cluster through that index and sort it per page.
        prefix = instance_arn(op, cluster_obj.arn, "")
        chunk = limit + 1 if matches is None else _FILTER_CHUNK
        while not more:
            rows = list(tx.scan(TABLE, prefix=prefix, after=after, limit=chunk))
            for key, doc in rows:
                inst = from_doc(ContainerInstance, doc)
                if inst.fargate or inst.cluster_arn != cluster_obj.arn:
                    continue
                if inst.status != status if status else inst.status == INACTIVE:
                    continue
                if matches is not None and not matches(_query_view(tx, inst)):
                    continue
                if len(keys) == limit:
                    more = True
                    break
                keys.append(key)
            if len(rows) < chunk:
                break
            after = rows[-1][0]
    return keys, (encode_token(keys[-1]) if more else None)


_FILTER_CHUNK = 256  # rows read at a time when a filter decides which ones a page shows


def _query_view(tx: Tx, inst: ContainerInstance) -> Any:
    from portside.ops.attributes import instance_attributes
    from portside.scheduler.query import InstanceFacts

    attrs = {a["name"]: a.get("value") for a in inst.attributes}
    attrs.update(
        {a["name"]: a.get("value") for a in instance_attributes(tx, inst.cluster_arn, inst.arn)}
    )
    running, _ = counts(tx, inst)
    return InstanceFacts(
        attributes=attrs,
        ec2_instance_id=inst.ec2_instance_id,
        registered_at=inst.registered_at,
        running_tasks_count=running,
        task_groups=frozenset(
            d.get("group") or ""
            for _, d in tx.scan("tasks", where={"instance": inst.arn})
            if d.get("lastStatus") != TaskStatus.STOPPED
        ),
        agent_connected=inst.agent_connected,
        agent_version=inst.version_info.get("agentVersion"),
    )


def deregister(op: Op, cluster: str | None, ref: str, *, force: bool = False) -> InstanceView:
    with op.store.transaction() as tx:
        _, inst = find(op, tx, get_active(op, tx, cluster), ref)
        if inst is None:
            raise InvalidParameterException("The referenced container instance was not found.")
        running, pending = counts(tx, inst)
        if (running or pending) and not force:
            # ECS's wording (moto's ecs backend and its users' scripts match on it).
            raise InvalidParameterException("Found running tasks on the instance.")
        inst.status = INACTIVE
        inst.agent_connected = False
        save(tx, inst)
        view = _view(op, tx, inst)
        for key, _ in list(tx.scan("attributes", prefix=f"{inst.cluster_arn}|{inst.arn}|")):
            tx.delete("attributes", key)
        return view


def update_state(
    op: Op, cluster: str | None, refs: Sequence[str], status: str
) -> tuple[list[InstanceView], list[Failure]]:
    if status not in (ACTIVE, DRAINING):
        raise InvalidParameterException("status must be ACTIVE or DRAINING.")
    with op.store.transaction() as tx:
        cluster_obj = get_active(op, tx, cluster)

        def registered(ref: str) -> tuple[str, ContainerInstance | None]:
            arn, inst = find(op, tx, cluster_obj, ref)
            return arn, (inst if inst is not None and inst.status != INACTIVE else None)

        def updated(inst: ContainerInstance) -> InstanceView:
            if inst.status != status:
                inst.status = INSTANCE_STATUS[status]
                save(tx, inst)
            return _view(op, tx, inst)

        return found_or_missing(refs, registered, updated)


def drop_tags(tx: Tx, arn: str) -> None:
    set_tags(tx, arn, [])
