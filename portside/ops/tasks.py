"""Task operations: RunTask, StartTask, StopTask, DescribeTasks, ListTasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.errors import ClientException, InvalidParameterException, ServiceNotFoundException
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.container_instance import ContainerInstance
from portside.model.doc import from_doc, to_doc
from portside.model.task import Task
from portside.model.task_definition import ACTIVE, TaskDefinition
from portside.ops import instances as inst_ops
from portside.ops import placement, task_build
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.ops.task_definitions import find as find_task_definition
from portside.scheduler import strategies
from portside.scheduler.capacity_split import split
from portside.scheduler.demand import task_demand
from portside.store.base import Tx

TABLE = "tasks"


@dataclass(frozen=True, slots=True)
class TaskView:
    task: Task
    tags: list[Tag]


def load(tx: Tx, arn: str) -> Task | None:
    doc = tx.get(TABLE, arn)
    return from_doc(Task, doc) if doc else None


def save(tx: Tx, task: Task) -> None:
    tx.put(TABLE, task.arn, to_doc(task))


def task_arn(op: Op, cluster_arn: str, ref: str) -> str:
    if arns.is_arn(ref):
        return ref
    return arns.ecs(op.region, op.account, f"task/{cluster_arn.rsplit('/', 1)[1]}/{ref}")


def _runnable(op: Op, tx: Tx, ref: str) -> TaskDefinition:
    """The revision RunTask and StartTask launch: it must exist and be ACTIVE. ECS's types and
    wording: ClientException "TaskDefinition not found." (Cloud-CV/EvalAI#2419, for
    CreateService) and InvalidParameterException "TaskDefinition is inactive"
    (DefangLabs/defang#775, for RunTask)."""
    td = find_task_definition(op, tx, ref)
    if td is None:
        raise ClientException("TaskDefinition not found.")
    if td.status != ACTIVE:
        raise InvalidParameterException("TaskDefinition is inactive")
    return td


def _launch_plan(
    op: Op, cluster: Cluster, params: Mapping[str, Any], count: int
) -> list[tuple[str, str | None]]:
    """(launch type, capacity provider) per task."""
    launch_type = params.get("launchType")
    strategy = params.get("capacityProviderStrategy")
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported."
        )
    if launch_type:
        return [(launch_type, None)] * count
    if not strategy and cluster.default_strategy:
        strategy = cluster.default_strategy
    if not strategy:
        return [("EC2", None)] * count
    from portside.ops.capacity import check_strategy

    checked = check_strategy(strategy, cluster.capacity_providers)
    # An Auto Scaling group provider's tasks are EC2 tasks on the provider's instances.
    return [
        ("FARGATE" if name in ("FARGATE", "FARGATE_SPOT") else "EC2", name)
        for name in split(checked, count)
    ]


def _fargate_instances(op: Op, tx: Tx) -> list[ContainerInstance]:
    prefix = arns.prefix(op.region, op.account, "container-instance")
    found = []
    for _, doc in tx.scan(inst_ops.TABLE, prefix=prefix):
        if doc.get("fargate") and doc.get("agentConnected") and doc.get("status") == "ACTIVE":
            found.append(from_doc(ContainerInstance, doc))
    return found


def run_task(op: Op, params: Mapping[str, Any]) -> tuple[list[TaskView], list[dict[str, str]]]:
    count = task_build.check_count(params.get("count"))
    task_build.check_started_by(params.get("startedBy"))
    task_build.check_group(params.get("group"))
    task_build.check_propagate_tags(params.get("propagateTags"))
    tags = validate_tags(params.get("tags") or ())
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
        token = params.get("clientToken")
        if token:
            earlier = [
                from_doc(Task, d)
                for _, d in tx.scan(TABLE, where={"cluster": cluster.arn, "token": token})
            ]
            if earlier:
                return [TaskView(t, get_tags(tx, t.arn)) for t in earlier], []
        td = _runnable(op, tx, params["taskDefinition"])
        task_build.check_overrides(td.spec, params.get("overrides"))
        task_build.check_execute_command(td, params)
        plan = _launch_plan(op, cluster, params, count)
        for launch_type, _ in set(plan):
            task_build.check_launch_type(td, launch_type)
            task_build.check_network(td, launch_type, params.get("networkConfiguration"))
        demand = task_demand(td.spec, params.get("overrides"))
        return place_and_save(op, tx, cluster, td, plan, demand, params, tags, None)


def start_task(op: Op, params: Mapping[str, Any]) -> tuple[list[TaskView], list[dict[str, str]]]:
    refs = params["containerInstances"]
    if not 1 <= len(refs) <= 10:
        raise InvalidParameterException("containerInstances must list 1 to 10 instances.")
    task_build.check_started_by(params.get("startedBy"))
    task_build.check_group(params.get("group"))
    task_build.check_propagate_tags(params.get("propagateTags"))
    tags = validate_tags(params.get("tags") or ())
    with op.store.transaction() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
        td = _runnable(op, tx, params["taskDefinition"])
        task_build.check_overrides(td.spec, params.get("overrides"))
        task_build.check_execute_command(td, params)
        task_build.check_launch_type(td, "EC2")
        task_build.check_network(td, "EC2", params.get("networkConfiguration"))
        demand = task_demand(td.spec, params.get("overrides"))
        targets: list[ContainerInstance] = []
        failures: list[dict[str, str]] = []
        for ref in refs:
            arn = inst_ops.instance_arn(op, cluster.arn, ref)
            inst = inst_ops.load(tx, arn)
            if inst is None or inst.fargate or inst.cluster_arn != cluster.arn:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                targets.append(inst)
        views, more = place_and_save(
            op, tx, cluster, td, [("EC2", None)] * len(targets), demand, params, tags, targets
        )
        return views, failures + more


def place_and_save(
    op: Op,
    tx: Tx,
    cluster: Cluster,
    td: Any,
    plan: Sequence[tuple[str, str | None]],
    demand: Any,
    params: Mapping[str, Any],
    tags: list[Tag],
    pinned: list[ContainerInstance] | None,
    default_strategy: Sequence[Mapping[str, str]] = strategies.RUN_TASK_DEFAULT,
) -> tuple[list[TaskView], list[dict[str, str]]]:
    group = params.get("group") or f"family:{td.family}"
    rules, strategy = placement.check_rules(params, td)
    hosted = [n for n, (lt, _) in enumerate(plan) if lt != "FARGATE"]
    hosts: list[ContainerInstance | None] = [None] * len(plan)
    failures: list[dict[str, str]] = []
    if hosted:
        if pinned is not None:
            chosen: list[ContainerInstance | None] = []
            for inst in pinned:
                # StartTask: each named instance takes one task if the placer's filters pass.
                one, why = placement.choose(
                    op,
                    tx,
                    cluster,
                    td,
                    demand,
                    [plan[hosted[len(chosen)]]],
                    group=group,
                    rules=rules,
                    strategy=strategy,
                    rng=op.world.rng,
                    pinned=frozenset({inst.arn}),
                )
                chosen += one
                failures += why
        else:
            chosen, failures = placement.choose(
                op,
                tx,
                cluster,
                td,
                demand,
                [plan[n] for n in hosted],
                group=group,
                rules=rules,
                strategy=strategy,
                default_strategy=default_strategy,
                rng=op.world.rng,
            )
        for n, picked in zip(hosted, chosen, strict=True):
            hosts[n] = picked
    fargate = _fargate_instances(op, tx) if any(lt == "FARGATE" for lt, _ in plan) else []
    if any(lt == "FARGATE" for lt, _ in plan):
        task_build.require_fargate_capacity(bool(fargate))
    extra_tags = get_tags(tx, td.arn) if params.get("propagateTags") == "TASK_DEFINITION" else []
    views: list[TaskView] = []
    touched: dict[str, ContainerInstance] = {}
    for n, (launch_type, provider) in enumerate(plan):
        if launch_type == "FARGATE":
            # The most recently (re)registered capacity: an agent that went away without
            # deregistering stays "connected" until liveness notices.
            host: ContainerInstance | None = max(fargate, key=lambda i: i.last_heartbeat)
        else:
            host = hosts[n]
            if host is None:
                continue
            touched[host.arn] = host
        assert host is not None
        task = task_build.build_task(
            region=op.region,
            account=op.account,
            cluster_arn=cluster.arn,
            td=td,
            task_id=op.world.new_id(),
            new_id=op.world.new_id,
            instance_arn=host.arn,
            launch_type=launch_type,
            now=op.now(),
            demand=demand,
            params=params,
            # Only a task placed through a capacity provider names one: "If a task uses a
            # launch type, the capacity it uses isn't counted by any capacity providers"
            # (developer guide, capacity provider concepts).
            capacity_provider=provider,
            availability_zone=host.attribute("ecs.availability-zone"),
        )
        save(tx, task)
        merged = {t["key"]: t["value"] for t in extra_tags}
        merged.update({t["key"]: t["value"] for t in tags})
        task_tags = [{"key": k, "value": v} for k, v in merged.items()]
        set_tags(tx, task.arn, task_tags)
        views.append(TaskView(task, task_tags))
    for inst in touched.values():
        inst_ops.save(tx, inst)
    return views, failures


def stop_task(op: Op, cluster: str | None, ref: str, reason: str | None) -> TaskView:
    if reason is not None and len(reason) > 255:
        raise InvalidParameterException("reason can be at most 255 characters.")
    with op.store.transaction() as tx:
        cluster_obj = get_active(op, tx, cluster)
        task = load(tx, task_arn(op, cluster_obj.arn, ref))
        if task is None or task.cluster_arn != cluster_obj.arn:
            raise InvalidParameterException("The referenced task was not found.")
        if task.desired_status != "STOPPED":
            task.desired_status = "STOPPED"
            task.stop_code = task.stop_code or "UserInitiated"
            task.stopped_reason = task.stopped_reason or reason or "Task stopped by user"
            task.stopping_at = op.now()
            task.version += 1
            save(tx, task)
        return TaskView(task, get_tags(tx, task.arn))


def describe_tasks(
    op: Op, cluster: str | None, refs: Sequence[str]
) -> tuple[list[TaskView], list[dict[str, str]]]:
    if not refs:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(refs) > 100:
        raise InvalidParameterException("You can describe at most 100 tasks.")
    found: list[TaskView] = []
    failures: list[dict[str, str]] = []
    with op.store.read() as tx:
        cluster_obj = get_active(op, tx, cluster)
        for ref in refs:
            arn = task_arn(op, cluster_obj.arn, ref)
            task = load(tx, arn)
            if task is None or task.cluster_arn != cluster_obj.arn:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(TaskView(task, get_tags(tx, arn)))
    return found, failures


def _service_name(op: Op, tx: Tx, cluster: Cluster, ref: str) -> str:
    """The name of the cluster's service a ListTasks `serviceName` names (name or ARN)."""
    name = ref.rsplit("/", 1)[1] if arns.is_arn(ref) else ref
    arn = arns.ecs(op.region, op.account, f"service/{cluster.name}/{name}")
    if tx.get("services", arn) is None:
        raise ServiceNotFoundException("Service not found.")
    return name


def list_tasks(op: Op, params: Mapping[str, Any]) -> tuple[list[str], str | None]:
    limit = check_max_results(params.get("maxResults"))
    after = decode_token(params.get("nextToken"))
    with op.store.read() as tx:
        cluster = get_active(op, tx, params.get("cluster"))
        where: dict[str, Any] = {"cluster": cluster.arn}
        desired = params.get("desiredStatus") or "RUNNING"
        where["desired"] = desired
        if params.get("startedBy"):
            where["started_by"] = params["startedBy"]
        if params.get("serviceName"):
            service = _service_name(op, tx, cluster, params["serviceName"])
            where["grp"] = f"service:{service}"
        if params.get("containerInstance"):
            where["instance"] = inst_ops.instance_arn(op, cluster.arn, params["containerInstance"])
        family = params.get("family")
        launch_type = params.get("launchType")
        keys: list[str] = []
        more = False
        for key, doc in tx.scan(TABLE, where=where, after=after):
            if family and doc["taskDefinitionArn"].rsplit("/", 1)[1].rsplit(":", 1)[0] != family:
                continue
            if launch_type and doc.get("launchType") != launch_type:
                continue
            if len(keys) == limit:
                more = True
                break
            keys.append(key)
    return keys, (encode_token(keys[-1]) if more else None)
