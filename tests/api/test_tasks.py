"""RunTask, StartTask, StopTask, DescribeTasks and ListTasks through boto3 and the AWS CLI,
against a real server whose tasks run on in-process agents (simulated driver).

Most tests share one fleet of two agents (zones a and b; the first also offers FARGATE
capacity) and keep apart by task definition family; tests that count or fill instances start
their own. ECS's API reference and developer guide are the spec."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fleet import (
    FARGATE_PROVIDERS,
    Fleet,
    describe_task,
    register,
    start_fleet,
    wait_for_status,
    wait_until,
)
from harness import REGION, ServerProcess
from roles import iam_of, task_role

ACCOUNT = "000000000000"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c"], "securityGroups": ["sg-0a1b2c"]}}
HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}
NO_INSTANCES = "No Container Instances were found in your cluster."


@pytest.fixture(scope="module")
def fleet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with start_fleet(
        server,
        tmp_path_factory.mktemp("fleet"),
        "tasks-" + uuid.uuid4().hex[:8],
        count=2,
        zones=["us-east-1a", "us-east-1b"],
        fargate=True,
        capacityProviders=FARGATE_PROVIDERS,
    ) as shared:
        yield shared


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect the ECS error `code` with HTTP 400, and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.value.response["Error"]["Message"]
    assert message
    return str(message)


def task_arn(cluster: str, task_id: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{task_id}"


def short(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def register_fargate(ecs: Any, family: str) -> str:
    return register(
        ecs,
        family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containers=[{"name": "app", "image": "busybox"}],
    )


def by_name(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in task["containers"]}


def tags_of(task: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in task.get("tags") or ()}


# -- RunTask: how many, where ----------------------------------------------------------------


def test_run_task_count_is_1_to_10(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name, containers=[{"name": "app", "image": "busybox", "memory": 16}])
    for bad in (0, 11):
        fails(
            "InvalidParameterException", ecs.run_task, cluster=cluster, taskDefinition=td, count=bad
        )
    assert ecs.list_tasks(cluster=cluster, family=name)["taskArns"] == []
    out = ecs.run_task(cluster=cluster, taskDefinition=td, count=10)
    assert out["failures"] == []
    arns = [t["taskArn"] for t in out["tasks"]]
    assert len(set(arns)) == 10
    assert sorted(ecs.list_tasks(cluster=cluster, family=name)["taskArns"]) == sorted(arns)
    for arn in arns:
        ecs.stop_task(cluster=cluster, task=arn)


def test_run_task_on_ec2_describes_the_new_task(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    # No launch type, no strategy, no cluster default strategy: EC2.
    task = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]
    assert task["launchType"] == "EC2"
    assert task["taskArn"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/")
    assert task["clusterArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"
    assert task["taskDefinitionArn"] == td
    assert task["containerInstanceArn"] in fleet.instance_arns
    zone = fleet.agent_of(task["containerInstanceArn"]).config.zone
    assert task["availabilityZone"] == zone
    assert task["lastStatus"] == "PENDING" and task["desiredStatus"] == "RUNNING"
    assert task["group"] == f"family:{name}"
    assert "capacityProviderName" not in task and "startedBy" not in task
    assert task["enableExecuteCommand"] is False
    (container,) = task["containers"]
    assert container["name"] == "app" and container["image"] == "busybox"
    assert container["lastStatus"] == "PENDING"
    assert container["containerArn"].startswith(
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/{cluster}/{short(task['taskArn'])}/"
    )
    assert container["taskArn"] == task["taskArn"]
    running = wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    assert running["version"] > task["version"]
    explicit = ecs.run_task(cluster=cluster, taskDefinition=td, launchType="EC2")["tasks"][0]
    assert explicit["launchType"] == "EC2"


def test_external_tasks_run_only_on_external_instances(
    server: ServerProcess, fleet: Fleet, tmp_path: Path, name: str
) -> None:
    """EXTERNAL places on ECS Anywhere instances only (their agent registers the attribute
    ecs.capability.external); a cluster without one has no instance for it, as an EC2 task
    has none on a cluster of external instances only."""
    ecs = fleet.ecs
    td = register(ecs, name)  # bridge: compatibilities EXTERNAL and EC2
    message = fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=fleet.cluster,
        taskDefinition=td,
        launchType="EXTERNAL",
    )
    assert message == NO_INSTANCES
    with start_fleet(
        server, tmp_path, name, attributes=[{"ecs.capability.external": "true"}]
    ) as anywhere:
        message = fails(
            "InvalidParameterException",
            ecs.run_task,
            cluster=name,
            taskDefinition=td,
            launchType="EC2",
        )
        assert message == NO_INSTANCES
        task = ecs.run_task(cluster=name, taskDefinition=td, launchType="EXTERNAL")["tasks"][0]
        assert task["launchType"] == "EXTERNAL"
        assert task["containerInstanceArn"] == anywhere.instance_arns[0]
        wait_for_status(ecs, name, task["taskArn"], "RUNNING")
        assert ecs.list_tasks(cluster=name, launchType="EXTERNAL")["taskArns"] == [task["taskArn"]]
        assert ecs.list_tasks(cluster=name, launchType="EC2")["taskArns"] == []


def test_strategy_base_then_weights_name_each_tasks_provider(fleet: Fleet, name: str) -> None:
    """The developer guide: the provider with a base gets that many tasks first; past the
    bases, weights 1 and 4 give FARGATE_SPOT four tasks for every one on FARGATE."""
    ecs = fleet.ecs
    ecs.create_cluster(clusterName=name, capacityProviders=FARGATE_PROVIDERS)
    td = register_fargate(ecs, name)
    strategy = [
        {"capacityProvider": "FARGATE", "base": 2, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 4},
    ]

    def run(count: int) -> list[dict[str, Any]]:
        out = ecs.run_task(
            cluster=name,
            taskDefinition=td,
            count=count,
            capacityProviderStrategy=strategy,
            networkConfiguration=NETWORK,
        )
        assert out["failures"] == []
        return out["tasks"]

    seven = run(7)  # 2 by the base, then 5 at 1:4
    names = [t["capacityProviderName"] for t in seven]
    assert names[:2] == ["FARGATE", "FARGATE"]
    assert (names.count("FARGATE"), names.count("FARGATE_SPOT")) == (3, 4)
    for t in seven:
        assert t["launchType"] == "FARGATE" and "containerInstanceArn" not in t
        assert t["lastStatus"] == "PROVISIONING"
    ten = [t["capacityProviderName"] for t in run(10)]  # 2, then 8 at 1:4 (1.6 : 6.4)
    assert ten[:2] == ["FARGATE", "FARGATE"]
    assert (ten.count("FARGATE"), ten.count("FARGATE_SPOT")) == (3, 7)
    running = wait_for_status(ecs, name, seven[-1]["taskArn"], "RUNNING")
    assert running["capacityProviderName"] == seven[-1]["capacityProviderName"]
    assert running["platformVersion"] and running["platformFamily"] == "Linux"


def test_cluster_default_strategy_applies_without_launch_type_or_strategy(
    fleet: Fleet, name: str
) -> None:
    ecs = fleet.ecs
    ecs.create_cluster(
        clusterName=name,
        capacityProviders=FARGATE_PROVIDERS,
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
    )
    td = register_fargate(ecs, name)
    task = ecs.run_task(cluster=name, taskDefinition=td, networkConfiguration=NETWORK)["tasks"][0]
    assert task["capacityProviderName"] == "FARGATE_SPOT"
    assert task["launchType"] == "FARGATE"
    explicit = ecs.run_task(
        cluster=name, taskDefinition=td, launchType="FARGATE", networkConfiguration=NETWORK
    )["tasks"][0]
    assert explicit["launchType"] == "FARGATE"
    assert explicit.get("capacityProviderName") != "FARGATE_SPOT"
    wait_for_status(ecs, name, task["taskArn"], "RUNNING")


def test_launch_type_and_strategy_together_are_refused(fleet: Fleet, name: str) -> None:
    ecs = fleet.ecs
    ecs.create_cluster(clusterName=name)  # no capacity providers associated
    td = register_fargate(ecs, name)
    message = fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=name,
        taskDefinition=td,
        launchType="FARGATE",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration=NETWORK,
    )
    assert "launch type" in message and "capacity provider strategy" in message
    message = fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=name,
        taskDefinition=td,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration=NETWORK,
    )
    assert "not associated with the cluster" in message


# -- RunTask: what the task carries ------------------------------------------------------------


def test_overrides_are_echoed_and_applied_by_the_agent(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(
        ecs,
        name,
        containers=[
            {
                "name": "app",
                "image": "busybox",
                "cpu": 64,
                "memory": 128,
                "command": ["sleep", "1d"],
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "side", "image": "busybox", "memory": 64, "essential": False},
        ],
    )
    app_override = {
        "name": "app",
        "command": ["echo", "hi"],
        "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
        "cpu": 128,
        "memory": 256,
        "memoryReservation": 192,
    }
    overrides = {"containerOverrides": [app_override], "cpu": "512", "memory": "1024"}
    task = ecs.run_task(cluster=cluster, taskDefinition=td, overrides=overrides)["tasks"][0]
    assert task["overrides"]["containerOverrides"] == [app_override, {"name": "side"}]
    assert task["overrides"]["cpu"] == "512" and task["overrides"]["memory"] == "1024"
    assert task["cpu"] == "512" and task["memory"] == "1024"
    app = by_name(task)["app"]
    assert (app["cpu"], app["memory"], app["memoryReservation"]) == ("128", "256", "192")
    wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    definition = fleet.container_run(task, "app").definition
    assert definition["command"] == ["echo", "hi"]
    env = {e["name"]: e["value"] for e in definition["environment"]}
    assert env == {"A": "1", "B": "3", "C": "4"}
    assert (definition["cpu"], definition["memory"], definition["memoryReservation"]) == (
        128,
        256,
        192,
    )
    side = fleet.container_run(task, "side").definition
    assert "command" not in side and side["memory"] == 64
    assert fleet.run_of(task).task.memory == "1024"
    message = fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=cluster,
        taskDefinition=td,
        overrides={"containerOverrides": [{"name": "nope", "command": ["x"]}]},
    )
    assert "nope" in message


def test_started_by_and_group(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    task = ecs.run_task(cluster=cluster, taskDefinition=td, startedBy="job/42", group="batch")[
        "tasks"
    ][0]
    assert task["startedBy"] == "job/42" and task["group"] == "batch"
    assert describe_task(ecs, cluster, task["taskArn"])["group"] == "batch"
    fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=cluster,
        taskDefinition=td,
        startedBy="x" * 129,
    )


def test_tags_and_propagation_from_the_task_definition(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(
        ecs, name, tags=[{"key": "team", "value": "core"}, {"key": "env", "value": "def"}]
    )
    task = ecs.run_task(
        cluster=cluster,
        taskDefinition=td,
        tags=[{"key": "env", "value": "run"}],
        propagateTags="TASK_DEFINITION",
    )["tasks"][0]
    want = {"team": "core", "env": "run"}
    assert tags_of(task) == want
    arn = task["taskArn"]
    assert describe_task(ecs, cluster, arn).get("tags", []) == []  # only with include TAGS
    assert tags_of(describe_task(ecs, cluster, arn, include=["TAGS"])) == want
    listed = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
    assert {t["key"]: t["value"] for t in listed} == want
    plain = ecs.run_task(cluster=cluster, taskDefinition=td, tags=[{"key": "k", "value": "v"}])
    assert tags_of(plain["tasks"][0]) == {"k": "v"}
    none = ecs.run_task(cluster=cluster, taskDefinition=td, propagateTags="NONE")["tasks"][0]
    assert tags_of(none) == {}
    # RunTask's reference: SERVICE is an error for a task run by hand.
    fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=cluster,
        taskDefinition=td,
        propagateTags="SERVICE",
    )


def test_execute_command_needs_a_task_role_and_adds_the_managed_agent(
    fleet: Fleet, name: str
) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    no_role = register(ecs, name)
    message = fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=cluster,
        taskDefinition=no_role,
        enableExecuteCommand=True,
    )
    assert "valid task role" in message
    role = task_role(iam_of(ecs), f"arn:aws:iam::{ACCOUNT}:role/app", allow_all=False)
    with_role = register(
        ecs,
        name,
        taskRoleArn=role,
        containers=[
            {"name": "app", "image": "busybox", "memory": 64},
            {"name": "side", "image": "busybox", "memory": 64},
        ],
    )
    task = ecs.run_task(cluster=cluster, taskDefinition=with_role, enableExecuteCommand=True)[
        "tasks"
    ][0]
    assert task["enableExecuteCommand"] is True
    for container in task["containers"]:
        assert [a["name"] for a in container["managedAgents"]] == ["ExecuteCommandAgent"]
    overridden = ecs.run_task(
        cluster=cluster,
        taskDefinition=no_role,
        enableExecuteCommand=True,
        overrides={"taskRoleArn": role},
    )["tasks"][0]
    assert overridden["enableExecuteCommand"] is True
    plain = ecs.run_task(cluster=cluster, taskDefinition=with_role)["tasks"][0]
    assert plain["enableExecuteCommand"] is False
    assert all("managedAgents" not in c for c in plain["containers"])


def test_network_configuration_is_required_for_awsvpc_and_refused_otherwise(
    fleet: Fleet, name: str
) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    awsvpc = register(ecs, name + "-vpc", networkMode="awsvpc")
    bridge = register(ecs, name)
    message = fails(
        "InvalidParameterException", ecs.run_task, cluster=cluster, taskDefinition=awsvpc
    )
    assert (
        message == "Network Configuration must be provided when networkMode 'awsvpc' is specified."
    )
    message = fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=cluster,
        taskDefinition=bridge,
        networkConfiguration=NETWORK,
    )
    assert message == (
        "Network Configuration is not valid for the given networkMode of this task definition."
    )
    public = {
        "awsvpcConfiguration": {**NETWORK["awsvpcConfiguration"], "assignPublicIp": "ENABLED"}
    }
    fails(
        "InvalidParameterException",
        ecs.run_task,
        cluster=cluster,
        taskDefinition=awsvpc,
        networkConfiguration=public,
    )
    task = ecs.run_task(cluster=cluster, taskDefinition=awsvpc, networkConfiguration=NETWORK)[
        "tasks"
    ][0]
    assert task["lastStatus"] == "PROVISIONING"
    (eni,) = task["attachments"]
    assert eni["type"] == "ElasticNetworkInterface"
    assert {d["name"]: d["value"] for d in eni["details"]}["subnetId"] == "subnet-0a1b2c"
    running = wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    (eni,) = running["attachments"]
    assert eni["status"] == "ATTACHED"
    assert {d["name"]: d["value"] for d in eni["details"]}["privateIPv4Address"]


def test_client_token_makes_run_task_idempotent(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    first = ecs.run_task(cluster=cluster, taskDefinition=td, count=2, clientToken=name)
    again = ecs.run_task(cluster=cluster, taskDefinition=td, count=2, clientToken=name)
    arns = sorted(t["taskArn"] for t in first["tasks"])
    assert len(arns) == 2
    assert sorted(t["taskArn"] for t in again["tasks"]) == arns
    assert sorted(ecs.list_tasks(cluster=cluster, family=name)["taskArns"]) == arns
    other = ecs.run_task(cluster=cluster, taskDefinition=td, clientToken=name + "-2")
    assert other["tasks"][0]["taskArn"] not in arns


def test_run_task_refusals(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    ecs.deregister_task_definition(taskDefinition=td)
    message = fails("InvalidParameterException", ecs.run_task, cluster=cluster, taskDefinition=td)
    assert message == "TaskDefinition is inactive"
    message = fails(
        "InvalidParameterException",
        ecs.start_task,
        cluster=cluster,
        taskDefinition=td,
        containerInstances=fleet.instance_arns[:1],
    )
    assert message == "TaskDefinition is inactive"
    message = fails(
        "ClientException", ecs.run_task, cluster=cluster, taskDefinition=name + "-nope:1"
    )
    assert message == "TaskDefinition not found."
    live = register(ecs, name)
    fails("ClusterNotFoundException", ecs.run_task, cluster="nope-" + name, taskDefinition=live)
    ecs.create_cluster(clusterName=name)
    message = fails("InvalidParameterException", ecs.run_task, cluster=name, taskDefinition=live)
    assert message == NO_INSTANCES


def test_placement_failures_name_the_resource_and_each_instance(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    everywhere = sorted(fleet.instance_arns)

    def failures(containers: list[dict[str, Any]], count: int = 1) -> list[tuple[str, str]]:
        td = register(ecs, name, containers=containers)
        out = ecs.run_task(cluster=cluster, taskDefinition=td, count=count)
        assert out["tasks"] == []
        return sorted((f["arn"], f["reason"]) for f in out["failures"])

    app = {"name": "app", "image": "busybox"}
    cpu = failures([{**app, "memory": 64, "cpu": 8192}])
    assert cpu == [(a, "RESOURCE:CPU") for a in everywhere]
    memory = failures([{**app, "memory": 10**6}])
    assert memory == [(a, "RESOURCE:MEMORY") for a in everywhere]
    # 22 is among the ports every agent reserves at registration.
    reserved = failures(
        [{**app, "memory": 64, "portMappings": [{"containerPort": 22, "hostPort": 22}]}]
    )
    assert reserved == [(a, "RESOURCE:PORTS") for a in everywhere]
    web = [{**app, "memory": 64, "portMappings": [{"containerPort": 80, "hostPort": 18080}]}]
    td = register(ecs, name, containers=web)
    placed = ecs.run_task(cluster=cluster, taskDefinition=td, count=2)
    assert sorted(t["containerInstanceArn"] for t in placed["tasks"]) == everywhere
    assert failures(web) == [(a, "RESOURCE:PORTS") for a in everywhere]


def test_a_count_beyond_the_room_places_what_fits(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name, memory=1000) as small:
        ecs = small.ecs
        td = register(ecs, name, containers=[{"name": "app", "image": "busybox", "memory": 300}])
        out = ecs.run_task(cluster=name, taskDefinition=td, count=5)
        assert len(out["tasks"]) == 3
        (instance,) = small.instance_arns
        # ECS names each instance that turned the rest away, with its reason (the tasks of
        # one call are identical, so one entry per instance says it all).
        assert out["failures"] == [{"arn": instance, "reason": "RESOURCE:MEMORY"}]


# -- StartTask -------------------------------------------------------------------------------


def test_start_task_on_named_instances(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    a, b = fleet.instance_arns
    out = ecs.start_task(
        cluster=cluster, taskDefinition=td, containerInstances=[short(a), b], startedBy=name
    )
    assert out["failures"] == []
    assert [t["containerInstanceArn"] for t in out["tasks"]] == [a, b]
    for task in out["tasks"]:
        assert task["launchType"] == "EC2" and task["startedBy"] == name
        assert task["group"] == f"family:{name}"
        wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    missing = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{uuid.uuid4().hex}"
    out = ecs.start_task(cluster=cluster, taskDefinition=td, containerInstances=[short(missing), a])
    assert out["failures"] == [{"arn": missing, "reason": "MISSING"}]
    assert [t["containerInstanceArn"] for t in out["tasks"]] == [a]


# -- StopTask and the lifecycle ----------------------------------------------------------------


def test_stop_task_by_id_and_arn_and_the_lifecycle_times(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    first, second = ecs.run_task(cluster=cluster, taskDefinition=td, count=2)["tasks"]
    for task in (first, second):
        wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    stopping = ecs.stop_task(cluster=cluster, task=short(first["taskArn"]), reason="maintenance")
    task = stopping["task"]
    assert task["taskArn"] == first["taskArn"]
    assert task["desiredStatus"] == "STOPPED"
    assert task["stopCode"] == "UserInitiated" and task["stoppedReason"] == "maintenance"
    assert "stoppingAt" in task
    # Stopping again is no error and changes nothing.
    again = ecs.stop_task(cluster=cluster, task=first["taskArn"], reason="other")["task"]
    assert again["stoppedReason"] == "maintenance" and again["stopCode"] == "UserInitiated"
    by_arn = ecs.stop_task(cluster=cluster, task=second["taskArn"])["task"]
    assert by_arn["desiredStatus"] == "STOPPED" and by_arn["stopCode"] == "UserInitiated"

    done = wait_for_status(ecs, cluster, first["taskArn"], "STOPPED")
    times = [
        done[k]
        for k in (
            "createdAt",
            "pullStartedAt",
            "pullStoppedAt",
            "startedAt",
            "stoppingAt",
            "executionStoppedAt",
            "stoppedAt",
        )
    ]
    assert times == sorted(times)
    (container,) = done["containers"]
    assert container["lastStatus"] == "STOPPED" and container["exitCode"] == 143
    assert done["stopCode"] == "UserInitiated" and done["stoppedReason"] == "maintenance"
    # Stopping a stopped task is fine too.
    assert ecs.stop_task(cluster=cluster, task=first["taskArn"])["task"]["lastStatus"] == "STOPPED"


def test_stop_task_refusals(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    message = fails("InvalidParameterException", ecs.stop_task, cluster=cluster, task="0" * 32)
    assert message == "The referenced task was not found."
    td = register(ecs, name)
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    fails("InvalidParameterException", ecs.stop_task, cluster=cluster, task=arn, reason="r" * 256)
    fails("ClusterNotFoundException", ecs.stop_task, cluster="nope-" + name, task=arn)


# -- DescribeTasks ---------------------------------------------------------------------------


def test_describe_tasks_by_id_and_arn_with_failures(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(
        ecs,
        name,
        containers=[
            {
                "name": "web",
                "image": "busybox",
                "memory": 64,
                "portMappings": [{"containerPort": 80, "hostPort": 0}],
            }
        ],
        tags=[{"key": "team", "value": "web"}],
    )
    one, two = ecs.run_task(
        cluster=cluster, taskDefinition=td, count=2, propagateTags="TASK_DEFINITION"
    )["tasks"]
    for task in (one, two):
        wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    unknown = uuid.uuid4().hex
    out = ecs.describe_tasks(
        cluster=cluster, tasks=[short(one["taskArn"]), two["taskArn"], unknown], include=["TAGS"]
    )
    assert [t["taskArn"] for t in out["tasks"]] == [one["taskArn"], two["taskArn"]]
    assert out["failures"] == [{"arn": task_arn(cluster, unknown), "reason": "MISSING"}]
    task = out["tasks"][0]
    assert tags_of(task) == {"team": "web"}
    (web,) = task["containers"]
    assert web["lastStatus"] == "RUNNING" and web["runtimeId"]
    assert web["healthStatus"] == "UNKNOWN"  # no health check
    assert "exitCode" not in web
    (binding,) = web["networkBindings"]
    assert binding["containerPort"] == 80 and binding["protocol"] == "tcp"
    assert 32768 <= binding["hostPort"] <= 61000  # a dynamic host port
    assert task["healthStatus"] == "UNKNOWN"
    message = fails("InvalidParameterException", ecs.describe_tasks, cluster=cluster, tasks=[])
    assert message == "Tasks cannot be empty."
    fails("ClusterNotFoundException", ecs.describe_tasks, cluster="nope-" + name, tasks=[unknown])


def test_task_health_follows_its_essential_containers(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    checked = {"image": "busybox", "memory": 64, "healthCheck": HEALTH_CHECK}
    td = register(
        ecs,
        name,
        containers=[
            {"name": "web", **checked},
            {"name": "db", **checked},
            {"name": "side", "essential": False, **checked},
        ],
    )
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    task = wait_for_status(ecs, cluster, arn, "RUNNING")
    driver = fleet.driver_of(task["containerInstanceArn"])
    ids = {c["name"]: c["runtimeId"] for c in task["containers"]}

    def health_becomes(task_health: str, **containers: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            now = describe_task(ecs, cluster, arn)
            have = {c["name"]: c["healthStatus"] for c in now["containers"]}
            ok = now["healthStatus"] == task_health and all(
                have[k] == v for k, v in containers.items()
            )
            return now if ok else None

        return wait_until(check, what=f"task {task_health}, containers {containers}")

    health_becomes("HEALTHY", web="HEALTHY", db="HEALTHY", side="HEALTHY")
    driver.set_health(ids["side"], "UNHEALTHY")  # not essential: the task stays HEALTHY
    health_becomes("HEALTHY", side="UNHEALTHY")
    driver.set_health(ids["db"], "UNHEALTHY")
    health_becomes("UNHEALTHY", db="UNHEALTHY")
    driver.set_health(ids["db"], "HEALTHY")
    now = health_becomes("HEALTHY", db="HEALTHY")
    assert now["lastStatus"] == "RUNNING"


# -- ListTasks -------------------------------------------------------------------------------


def test_list_tasks_filters_and_pages(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with start_fleet(server, tmp_path, name, count=2) as own:
        ecs = own.ecs
        alpha = register(ecs, name + "-alpha")
        beta = register(ecs, name + "-beta")
        a, b = own.instance_arns
        on_a = [
            t["taskArn"]
            for t in ecs.start_task(
                cluster=name, taskDefinition=alpha, containerInstances=[a] * 3, startedBy="one"
            )["tasks"]
        ]
        on_b = [
            t["taskArn"]
            for t in ecs.start_task(
                cluster=name, taskDefinition=beta, containerInstances=[b] * 2, startedBy="two"
            )["tasks"]
        ]
        every = sorted(on_a + on_b)

        def listed(**kwargs: Any) -> list[str]:
            return sorted(ecs.list_tasks(cluster=name, **kwargs)["taskArns"])

        assert listed() == every == listed(desiredStatus="RUNNING")
        assert listed(containerInstance=short(a)) == sorted(on_a)
        assert listed(containerInstance=b) == sorted(on_b)
        assert listed(family=name + "-alpha") == sorted(on_a)
        assert listed(startedBy="two") == sorted(on_b)
        assert listed(launchType="EC2") == every
        assert listed(launchType="FARGATE") == []
        assert listed(desiredStatus="STOPPED") == []
        # ECS never sets a desired status of PENDING (ListTasks reference).
        assert listed(desiredStatus="PENDING") == []
        message = fails("ServiceNotFoundException", ecs.list_tasks, cluster=name, serviceName="web")
        assert message == "Service not found."

        first = ecs.list_tasks(cluster=name, maxResults=2)
        assert len(first["taskArns"]) == 2
        second = ecs.list_tasks(cluster=name, maxResults=2, nextToken=first["nextToken"])
        third = ecs.list_tasks(cluster=name, maxResults=2, nextToken=second["nextToken"])
        assert len(third["taskArns"]) == 1 and "nextToken" not in third
        assert sorted(first["taskArns"] + second["taskArns"] + third["taskArns"]) == every
        pages = ecs.get_paginator("list_tasks").paginate(
            cluster=name, PaginationConfig={"PageSize": 3}
        )
        assert sorted(arn for page in pages for arn in page["taskArns"]) == every
        for bad in (0, 101):
            fails("InvalidParameterException", ecs.list_tasks, cluster=name, maxResults=bad)

        ecs.stop_task(cluster=name, task=on_b[0])
        assert listed(desiredStatus="STOPPED") == [on_b[0]]
        assert listed() == sorted(on_a + on_b[1:])
        wait_for_status(ecs, name, on_b[0], "STOPPED")
        assert listed(desiredStatus="STOPPED", startedBy="two") == [on_b[0]]
    fails("ClusterNotFoundException", ecs.list_tasks, cluster="nope-" + name)


# -- Waiters and the AWS CLI -----------------------------------------------------------------


def test_boto3_waiters_follow_the_lifecycle(fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = register(ecs, name)
    arns = [
        t["taskArn"] for t in ecs.run_task(cluster=cluster, taskDefinition=td, count=2)["tasks"]
    ]
    fast = {"Delay": 0.05, "MaxAttempts": 200}
    ecs.get_waiter("tasks_running").wait(cluster=cluster, tasks=arns, WaiterConfig=fast)
    assert {t["lastStatus"] for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]} == {
        "RUNNING"
    }
    for arn in arns:
        ecs.stop_task(cluster=cluster, task=arn)
    ecs.get_waiter("tasks_stopped").wait(cluster=cluster, tasks=arns, WaiterConfig=fast)


def test_aws_cli_runs_waits_lists_and_stops(server: ServerProcess, fleet: Fleet, name: str) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    register(ecs, name)
    run = server.aws(
        "ecs", "run-task", "--cluster", cluster, "--task-definition", name, "--started-by", name
    )
    assert run["failures"] == []
    arn = run["tasks"][0]["taskArn"]
    # The CLI's waiters poll every 6 s: get there first, so each answers on its first poll.
    wait_for_status(ecs, cluster, arn, "RUNNING")
    assert server.aws("ecs", "wait", "tasks-running", "--cluster", cluster, "--tasks", arn) is None
    listed = server.aws("ecs", "list-tasks", "--cluster", cluster, "--started-by", name)
    assert listed["taskArns"] == [arn]
    stopped = server.aws(
        "ecs", "stop-task", "--cluster", cluster, "--task", short(arn), "--reason", "from the cli"
    )["task"]
    assert stopped["desiredStatus"] == "STOPPED" and stopped["stopCode"] == "UserInitiated"
    wait_for_status(ecs, cluster, arn, "STOPPED")
    assert server.aws("ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", arn) is None
    described = server.aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", arn)
    (task,) = described["tasks"]
    assert task["lastStatus"] == "STOPPED" and task["stoppedReason"] == "from the cli"
    # A stopped task is a terminal failure for tasks-running.
    waited = server.aws(
        "ecs", "wait", "tasks-running", "--cluster", cluster, "--tasks", arn, check=False
    )
    assert waited.returncode != 0
    assert "Waiter TasksRunning failed" in waited.stderr
