"""Container instances through boto3 against a real server: registered by in-process agents
(simulated driver) or directly with RegisterContainerInstance, then described, listed,
drained, given attributes and deregistered; their resources and task counts follow the tasks
placed on them. Agent liveness is tested on the ops level with a fake clock."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fleet import (
    describe_task,
    register,
    remaining,
    start_agent,
    start_fleet,
    wait_for_status,
)
from harness import REGION, ServerProcess

from portside import __version__, testing
from portside.agent.simulated import SimulatedDriver
from portside.controllers.liveness import LivenessLoop
from portside.model.container_instance import InstanceResources
from portside.ops import clusters, launch, task_definitions
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.wire import task_requests as wire

ACCOUNT = "000000000000"
TARGET = "container-instance"
AGENT_PORTS = {"22", "2375", "2376", "51678", "51679"}
NO_INSTANCES = "No Container Instances were found in your cluster."


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect the ECS error `code` with HTTP 400, and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.value.response["Error"]["Message"]
    assert message
    return str(message)


def instance_arn(cluster: str, instance_id: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{instance_id}"


def short(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def describe(ecs: Any, cluster: str, arn: str, **kwargs: Any) -> dict[str, Any]:
    out = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn], **kwargs)
    assert out["failures"] == []
    return out["containerInstances"][0]


def cluster_counts(ecs: Any, cluster: str) -> tuple[int, int, int]:
    c = ecs.describe_clusters(clusters=[cluster])["clusters"][0]
    return (
        c["registeredContainerInstancesCount"],
        c["runningTasksCount"],
        c["pendingTasksCount"],
    )


def resources(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        r["name"]: set(r.get("stringSetValue") or ())
        if r["type"] == "STRINGSET"
        else r["integerValue"]
        for r in items
    }


def register_directly(ecs: Any, cluster: str, **extra: Any) -> dict[str, Any]:
    """RegisterContainerInstance as an agent calls it (no agent will ever sync for it)."""
    out = ecs.register_container_instance(
        cluster=cluster,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
        ],
        versionInfo={"agentVersion": "1.80.0", "agentHash": "abc", "dockerVersion": "25.0"},
        **extra,
    )
    return out["containerInstance"]


# -- registration and DescribeContainerInstances ---------------------------------------------


def test_an_agent_registers_its_host(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with start_fleet(
        server,
        tmp_path,
        name,
        zones=["us-east-1c"],
        attributes=[{"stack": "blue"}],
        cpu=2048,
        memory=4096,
    ) as fleet:
        ecs = fleet.ecs
        (arn,) = fleet.instance_arns
        assert ecs.list_container_instances(cluster=name)["containerInstanceArns"] == [arn]
        assert arn.startswith(instance_arn(name, ""))
        inst = describe(ecs, name, short(arn))  # by ID as well as by ARN
        assert inst["containerInstanceArn"] == arn
        assert inst["status"] == "ACTIVE" and inst["agentConnected"] is True
        assert inst["ec2InstanceId"].startswith("i-")
        assert inst["versionInfo"]["agentVersion"] == __version__
        assert abs(inst["registeredAt"].timestamp() - time.time()) < 60
        registered = resources(inst["registeredResources"])
        assert registered["CPU"] == 2048 and registered["MEMORY"] == 4096
        assert registered["PORTS"] >= AGENT_PORTS
        assert resources(inst["remainingResources"]) == registered
        assert inst["runningTasksCount"] == 0 and inst["pendingTasksCount"] == 0
        attributes = {a["name"]: a.get("value") for a in inst["attributes"]}
        assert attributes["ecs.availability-zone"] == "us-east-1c"
        assert attributes["ecs.os-type"] == "linux"
        assert attributes["stack"] == "blue"
        assert "ecs.capability.task-eni" in attributes
        assert cluster_counts(ecs, name) == (1, 0, 0)

        ecs.tag_resource(resourceArn=arn, tags=[{"key": "rack", "value": "r1"}])
        assert describe(ecs, name, arn, include=["TAGS"])["tags"] == [
            {"key": "rack", "value": "r1"}
        ]
        assert describe(ecs, name, arn).get("tags", []) == []

        unknown = uuid.uuid4().hex
        out = ecs.describe_container_instances(
            cluster=name, containerInstances=[arn, unknown, instance_arn(name, "0" * 32)]
        )
        assert [i["containerInstanceArn"] for i in out["containerInstances"]] == [arn]
        assert out["failures"] == [
            {"arn": instance_arn(name, unknown), "reason": "MISSING"},
            {"arn": instance_arn(name, "0" * 32), "reason": "MISSING"},
        ]
        # An instance of another cluster is missing from this one.
        ecs.create_cluster(clusterName=name + "-other")
        other = ecs.describe_container_instances(cluster=name + "-other", containerInstances=[arn])
        assert other["failures"] == [{"arn": arn, "reason": "MISSING"}]
        fails(
            "ClusterNotFoundException",
            ecs.describe_container_instances,
            cluster="nope-" + name,
            containerInstances=[arn],
        )


def test_register_container_instance_directly_tags_and_pages(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    first = register_directly(ecs, name, tags=[{"key": "team", "value": "infra"}])
    arn = first["containerInstanceArn"]
    assert first["status"] == "ACTIVE"
    assert resources(first["registeredResources"])["CPU"] == 1024
    assert describe(ecs, name, arn, include=["TAGS"])["tags"] == [{"key": "team", "value": "infra"}]
    # An agent that restarts registers again with its ARN and stays the same instance.
    again = register_directly(ecs, name, containerInstanceArn=arn)
    assert again["containerInstanceArn"] == arn
    arns = {arn} | {register_directly(ecs, name)["containerInstanceArn"] for _ in range(2)}
    page = ecs.list_container_instances(cluster=name, maxResults=2)
    assert len(page["containerInstanceArns"]) == 2
    rest = ecs.list_container_instances(cluster=name, maxResults=2, nextToken=page["nextToken"])
    assert "nextToken" not in rest
    assert set(page["containerInstanceArns"] + rest["containerInstanceArns"]) == arns
    assert cluster_counts(ecs, name)[0] == 3
    fails("ClusterNotFoundException", register_directly, ecs=ecs, cluster="nope-" + name)


# -- status: DRAINING and ACTIVE -------------------------------------------------------------


def test_draining_takes_an_instance_out_of_placement(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name, count=2) as fleet:
        ecs = fleet.ecs
        a, b = fleet.instance_arns
        out = ecs.update_container_instances_state(
            cluster=name, containerInstances=[short(a)], status="DRAINING"
        )
        assert out["failures"] == []
        assert [i["status"] for i in out["containerInstances"]] == ["DRAINING"]

        def listed(**kwargs: Any) -> list[str]:
            return sorted(
                ecs.list_container_instances(cluster=name, **kwargs)["containerInstanceArns"]
            )

        assert listed(status="DRAINING") == [a]
        assert listed(status="ACTIVE") == [b]
        assert listed() == sorted([a, b])
        # DescribeClusters counts ACTIVE and DRAINING instances alike.
        assert cluster_counts(ecs, name)[0] == 2
        td = register(ecs, name)
        placed = ecs.run_task(cluster=name, taskDefinition=td, count=3)["tasks"]
        assert {t["containerInstanceArn"] for t in placed} == {b}

        missing = instance_arn(name, uuid.uuid4().hex)
        out = ecs.update_container_instances_state(
            cluster=name, containerInstances=[a, b, missing], status="ACTIVE"
        )
        assert [i["status"] for i in out["containerInstances"]] == ["ACTIVE", "ACTIVE"]
        assert [i["runningTasksCount"] for i in out["containerInstances"]] == [0, 3]
        assert out["failures"] == [{"arn": missing, "reason": "MISSING"}]
        # An instance is only found through its own cluster.
        ecs.create_cluster(clusterName=name + "-other")
        out = ecs.update_container_instances_state(
            cluster=name + "-other", containerInstances=[a], status="DRAINING"
        )
        assert out["failures"] == [{"arn": a, "reason": "MISSING"}]
        assert listed(status="ACTIVE") == sorted([a, b])
        assert listed(status="DRAINING") == []
        fails(
            "InvalidParameterException",
            ecs.update_container_instances_state,
            cluster=name,
            containerInstances=[a],
            status="REGISTERING",
        )


# -- resources and counts --------------------------------------------------------------------


def test_resources_and_counts_follow_the_tasks(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        (arn,) = fleet.instance_arns
        before = remaining(ecs, name, arn)
        assert (before["CPU"], before["MEMORY"]) == (4096, 16384)
        assert "8080" not in before["PORTS"]
        td = register(
            ecs,
            name,
            containers=[
                {
                    "name": "web",
                    "image": "busybox",
                    "cpu": 256,
                    "memory": 512,
                    "portMappings": [{"containerPort": 80, "hostPort": 8080}],
                }
            ],
        )
        task = ecs.run_task(cluster=name, taskDefinition=td)["tasks"][0]["taskArn"]
        # Reserved as the task is placed, before it runs.
        placed = remaining(ecs, name, arn)
        assert (placed["CPU"], placed["MEMORY"]) == (4096 - 256, 16384 - 512)
        assert placed["PORTS"] == before["PORTS"] | {"8080"}
        wait_for_status(ecs, name, task, "RUNNING")
        inst = describe(ecs, name, arn)
        assert (inst["runningTasksCount"], inst["pendingTasksCount"]) == (1, 0)
        assert cluster_counts(ecs, name) == (1, 1, 0)

        # A host whose containers take a second to start keeps its task PENDING meanwhile.
        slow = start_agent(server, tmp_path / "slow", name, driver=SimulatedDriver(start_delay=1.0))
        fleet.agents.append(slow)
        pending = ecs.start_task(
            cluster=name, taskDefinition=td, containerInstances=[slow.instance_arn]
        )["tasks"][0]["taskArn"]
        inst = describe(ecs, name, slow.instance_arn)
        # The ContainerInstance shape: runningTasksCount counts tasks whose desiredStatus is
        # RUNNING, pendingTasksCount tasks whose lastStatus is PENDING.
        assert (inst["runningTasksCount"], inst["pendingTasksCount"]) == (1, 1)
        assert cluster_counts(ecs, name) == (2, 1, 1)

        ecs.stop_task(cluster=name, task=task)
        assert describe(ecs, name, arn)["runningTasksCount"] == 0
        wait_for_status(ecs, name, task, "STOPPED")
        assert remaining(ecs, name, arn) == before
        wait_for_status(ecs, name, pending, "RUNNING")
        assert cluster_counts(ecs, name) == (2, 1, 0)


# -- deregistration --------------------------------------------------------------------------


def test_deregister_is_refused_while_tasks_run_and_forced_orphans_them(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        (arn,) = fleet.instance_arns
        ecs.put_attributes(
            cluster=name, attributes=[{"name": "stack", "value": "blue", "targetId": arn}]
        )
        td = register(ecs, name)
        task = ecs.run_task(cluster=name, taskDefinition=td)["tasks"][0]["taskArn"]
        wait_for_status(ecs, name, task, "RUNNING")
        message = fails(
            "InvalidParameterException",
            ecs.deregister_container_instance,
            cluster=name,
            containerInstance=short(arn),
        )
        assert message == "Found running tasks on the instance."
        assert describe(ecs, name, arn)["status"] == "ACTIVE"

        gone = ecs.deregister_container_instance(cluster=name, containerInstance=arn, force=True)
        inst = gone["containerInstance"]
        assert inst["containerInstanceArn"] == arn
        assert inst["status"] == "INACTIVE" and inst["agentConnected"] is False
        assert ecs.list_container_instances(cluster=name)["containerInstanceArns"] == []
        assert describe(ecs, name, arn)["status"] == "INACTIVE"
        assert cluster_counts(ecs, name)[0] == 0
        # Its tasks are orphaned, not stopped (DeregisterContainerInstance reference).
        orphan = describe_task(ecs, name, task)
        assert orphan["lastStatus"] == "RUNNING" and orphan["desiredStatus"] == "RUNNING"
        assert ecs.list_tasks(cluster=name)["taskArns"] == [task]
        assert ecs.list_attributes(cluster=name, targetType=TARGET)["attributes"] == []
        message = fails("InvalidParameterException", ecs.run_task, cluster=name, taskDefinition=td)
        assert message == NO_INSTANCES

        # An idle instance needs no force.
        idle = register_directly(ecs, name)["containerInstanceArn"]
        out = ecs.deregister_container_instance(cluster=name, containerInstance=idle)
        assert out["containerInstance"]["status"] == "INACTIVE"
        fails(
            "InvalidParameterException",
            ecs.deregister_container_instance,
            cluster=name,
            containerInstance=uuid.uuid4().hex,
        )


# -- attributes on a real instance -----------------------------------------------------------


def test_custom_attributes_on_a_registered_instance(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name, count=2) as fleet:
        ecs = fleet.ecs
        a, b = fleet.instance_arns
        put = ecs.put_attributes(
            cluster=name,
            attributes=[
                {"name": "stack", "value": "green", "targetId": a},
                {"name": "stack", "value": "blue", "targetType": TARGET, "targetId": short(b)},
                {"name": "gpu", "targetId": b},
            ],
        )["attributes"]
        assert {(x["name"], x["targetId"]) for x in put} == {("stack", a), ("stack", b), ("gpu", b)}
        on_a = {x["name"]: x.get("value") for x in describe(ecs, name, a)["attributes"]}
        assert on_a["stack"] == "green" and "gpu" not in on_a
        listed = ecs.list_attributes(
            cluster=name, targetType=TARGET, attributeName="stack", attributeValue="green"
        )["attributes"]
        assert listed == [{"name": "stack", "value": "green", "targetType": TARGET, "targetId": a}]
        found = ecs.list_container_instances(cluster=name, filter="attribute:stack == green")
        assert found["containerInstanceArns"] == [a]
        found = ecs.list_container_instances(cluster=name, filter="attribute:gpu exists")
        assert found["containerInstanceArns"] == [b]

        ecs.delete_attributes(cluster=name, attributes=[{"name": "stack", "targetId": a}])
        assert "stack" not in {x["name"] for x in describe(ecs, name, a)["attributes"]}
        assert (
            ecs.list_container_instances(cluster=name, filter="attribute:stack == green")[
                "containerInstanceArns"
            ]
            == []
        )
        names = ecs.list_attributes(cluster=name, targetType=TARGET, attributeName="stack")
        assert [x["targetId"] for x in names["attributes"]] == [b]
        fails(
            "TargetNotFoundException",
            ecs.put_attributes,
            cluster=name,
            attributes=[{"name": "x", "targetId": instance_arn(name, uuid.uuid4().hex)}],
        )


def test_list_attributes_includes_the_agents_attributes(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name) as fleet:
        listed = fleet.ecs.list_attributes(
            cluster=name, targetType=TARGET, attributeName="ecs.os-type", attributeValue="linux"
        )["attributes"]
        assert [x["targetId"] for x in listed] == fleet.instance_arns


# -- agent liveness (ops level, fake clock) --------------------------------------------------


class Seen:
    """What the gateway knows of agents: when each instance last synced."""

    def __init__(self) -> None:
        self.last_seen: dict[str, float] = {}


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    world = testing.make_world(store, clock=testing.FakeClock(1_700_000_000.0))
    yield testing.make_op(world, REGION, ACCOUNT)
    store.close()


def advance(op: Op, seconds: float) -> None:
    start = op.world.clock()
    op.world.clock = lambda: start + seconds


def test_an_instance_whose_agent_goes_quiet_is_disconnected_and_gets_no_tasks(op: Op) -> None:
    clusters.create_cluster(op, name="live")
    view = inst_ops.register(
        op,
        cluster="live",
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
            ]
        ),
    )
    arn = view.instance.arn
    assert view.instance.agent_connected
    seen = Seen()
    seen.last_seen[arn] = op.now()
    loop = LivenessLoop(op.world, seen)
    advance(op, 29)
    assert loop.run_once() == []
    advance(op, 2)  # past the 30 s grace
    assert loop.run_once() == [arn]
    (described,), _ = inst_ops.describe(op, "live", [arn])
    assert described.instance.agent_connected is False
    assert loop.run_once() == []  # already marked
    task_definitions.register(
        op, {"family": "web", "containerDefinitions": [{"name": "a", "image": "x", "memory": 64}]}
    )
    placed, failures = launch.run_task(
        op, wire.launch({"cluster": "live", "taskDefinition": "web"})
    )
    assert placed == []
    assert failures == [{"arn": arn, "reason": "AGENT"}]
