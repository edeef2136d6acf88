"""Turning a task definition plus a Launch into Task objects, and the checks a launch must
pass against its definition (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.errors import ClientException, InvalidParameterException
from portside.model import arn as arns
from portside.model.launch import AwsVpc, Launch
from portside.model.overrides import NO_OVERRIDES, TaskOverrides
from portside.model.states import TaskStatus
from portside.model.task import Container, Reservation, Task
from portside.model.task_definition import TaskDefinition
from portside.scheduler.demand import Demand

LAUNCH_TYPES = ("EC2", "FARGATE", "EXTERNAL")


def check_overrides(spec: Mapping[str, Any], overrides: TaskOverrides | None) -> None:
    names = {c["name"] for c in spec.get("containerDefinitions") or ()}
    for o in (overrides or NO_OVERRIDES).container_overrides or ():
        if o.name not in names:
            raise InvalidParameterException(
                f"Override for container named {o.name} is not a container in the TaskDefinition."
            )
        for key, value in (
            ("cpu", o.cpu),
            ("memory", o.memory),
            ("memoryReservation", o.memory_reservation),
        ):
            if value is not None and value < 0:
                raise InvalidParameterException(f"Container override {key} must not be negative.")


def check_execute_command(
    td: TaskDefinition, enabled: bool, overrides: TaskOverrides | None
) -> None:
    """ECS Exec needs a task role, from the definition or the task override."""
    if not enabled:
        return
    if td.spec.get("taskRoleArn") or (overrides or NO_OVERRIDES).task_role_arn:
        return
    # ECS's wording (boto/boto3#3173).
    raise InvalidParameterException(
        "The execute command failed because a valid task role is not being used. Specify a "
        "valid task role in your task definition or as a task override and try again."
    )


def check_propagate_tags(propagate: str | None) -> None:
    # RunTask's reference: "An error will be received if you specify the SERVICE option when
    # running a task." Wording: ours.
    if propagate == "SERVICE":
        raise InvalidParameterException(
            "propagateTags SERVICE is only valid for tasks a service starts; use "
            "TASK_DEFINITION or NONE."
        )


def check_launch_type(td: TaskDefinition, launch_type: str) -> None:
    compat = td.spec.get("compatibilities") or ["EC2"]
    if launch_type not in compat:
        raise InvalidParameterException(
            f"Task definition does not support launch_type {launch_type}."
        )


def check_network(td: TaskDefinition, launch_type: str, awsvpc: AwsVpc | None) -> None:
    mode = td.spec.get("networkMode") or "bridge"
    if mode == "awsvpc":
        if awsvpc is None or awsvpc.empty:
            raise InvalidParameterException(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        if not awsvpc.subnets:
            raise InvalidParameterException("subnets can not be empty.")
        if len(awsvpc.subnets) > 16:
            raise InvalidParameterException("At most 16 subnets can be given.")
        if len(awsvpc.security_groups or ()) > 5:
            raise InvalidParameterException("At most 5 security groups can be given.")
        if launch_type == "EC2" and awsvpc.assign_public_ip == "ENABLED":
            raise InvalidParameterException(
                "Assign public IP is not supported for this launch type."
            )
    elif awsvpc is not None:
        raise InvalidParameterException(
            "Network Configuration is not valid for the given networkMode of this task definition."
        )


def build_task(
    *,
    region: str,
    account: str,
    cluster_arn: str,
    td: TaskDefinition,
    task_id: str,
    new_id: Any,
    instance_arn: str,
    launch_type: str,
    now: float,
    demand: Demand,
    launch: Launch,
    capacity_provider: str | None,
    availability_zone: str | None,
) -> Task:
    cluster_name = cluster_arn.rsplit("/", 1)[1]
    task_arn = arns.ecs(region, account, f"task/{cluster_name}/{task_id}")
    overrides = launch.overrides or NO_OVERRIDES
    managed_agents = _managed_agents(launch.enable_execute_command)
    containers = []
    definitions = td.spec.get("containerDefinitions") or ()
    for c in definitions:
        cpu, memory, reservation = overrides.for_container(c["name"]).resources_of(c)
        containers.append(
            Container(
                arn=arns.ecs(region, account, f"container/{cluster_name}/{task_id}/{new_id()}"),
                name=c["name"],
                image=c["image"],
                cpu=str(cpu),
                memory=str(memory) if memory is not None else None,
                memory_reservation=str(reservation) if reservation is not None else None,
                essential=bool(c.get("essential", True)),
                health_status="UNKNOWN" if c.get("healthCheck") else None,
                managed_agents=[dict(a) for a in managed_agents],
            )
        )
    mode = td.spec.get("networkMode") or "bridge"
    attachments: list[dict[str, Any]] = []
    awsvpc = launch.network
    if mode == "awsvpc":
        subnets = (awsvpc.subnets if awsvpc is not None else None) or ("",)
        attachments.append(
            {
                "id": new_id_uuid(new_id),
                "type": "ElasticNetworkInterface",
                "status": "PRECREATED",
                "details": [{"name": "subnetId", "value": subnets[0]}],
            }
        )
    fargate = launch_type == "FARGATE"
    return Task(
        arn=task_arn,
        cluster_arn=cluster_arn,
        task_definition_arn=td.arn,
        instance_arn=instance_arn,
        launch_type=launch_type,
        last_status=TaskStatus.PROVISIONING if mode == "awsvpc" else TaskStatus.PENDING,
        desired_status=TaskStatus.RUNNING,
        created_at=now,
        cpu=str(overrides.cpu or td.spec.get("cpu") or demand.cpu),
        memory=str(overrides.memory or td.spec.get("memory") or demand.memory),
        containers=containers,
        capacity_provider_name=capacity_provider,
        availability_zone=availability_zone,
        started_by=launch.started_by,
        group=launch.group or f"family:{td.family}",
        overrides=overrides.echoed(c["name"] for c in definitions).to_doc(),
        attachments=attachments,
        network_configuration=awsvpc.document() if awsvpc is not None else None,
        enable_execute_command=launch.enable_execute_command,
        platform_version="1.4.0" if fargate else None,
        platform_family="Linux" if fargate else None,
        client_token=launch.client_token,
        reservation=Reservation(
            cpu=demand.cpu if not fargate else 0,
            memory=demand.memory if not fargate else 0,
            ports_tcp=list(demand.ports_tcp) if not fargate else [],
            ports_udp=list(demand.ports_udp) if not fargate else [],
        ),
    )


def new_id_uuid(new_id: Any) -> str:
    raw = str(new_id()).replace("-", "")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def _managed_agents(enable_execute_command: bool) -> list[dict[str, Any]]:
    if not enable_execute_command:
        return []
    return [{"name": "ExecuteCommandAgent", "lastStatus": "PENDING"}]


def check_count(count: int | None) -> int:
    count = 1 if count is None else count
    if not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    return count


def check_started_by(started_by: str | None) -> None:
    if started_by is not None and len(started_by) > 128:
        raise InvalidParameterException("startedBy can be at most 128 characters.")


def check_group(group: str | None) -> None:
    if group is not None and len(group) > 255:
        raise InvalidParameterException("group can be at most 255 characters.")


def require_instances_exist(instances: Sequence[object]) -> None:
    if not instances:
        raise InvalidParameterException("No Container Instances were found in your cluster.")


def require_fargate_capacity(found: bool) -> None:
    if not found:
        raise ClientException(
            "No Fargate capacity is connected: run `portside up` (its local agent provides "
            "FARGATE capacity) or an agent with --fargate."
        )
