"""The whole task path on the simulated driver: a real server, a real agent session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver
from portside.testing.agent import start_simulated_agent


@pytest.fixture
def fleet(server: ServerProcess, tmp_path: Path, name: str) -> Iterator[tuple[Agent, Any, str]]:
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    driver = SimulatedDriver(missing_images=frozenset({"nowhere/missing:1"}))
    agent = start_simulated_agent(
        server.endpoint,
        ACCESS_KEY,
        SECRET_KEY,
        tmp_path / "agent",
        name,
        region=REGION,
        fargate=True,
        driver=driver,
        poll_wait=5,
    )
    yield agent, ecs, name
    agent.stop()


def wait_for(ecs: Any, cluster: str, arn: str, status: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
        if task["lastStatus"] == status or time.monotonic() > deadline:
            assert task["lastStatus"] == status, task
            return task  # type: ignore[no-any-return]
        time.sleep(0.05)


def register(ecs: Any, family: str, **extra: Any) -> str:
    containers = extra.pop("containers", [{"name": "app", "image": "busybox", "memory": 64}])
    return ecs.register_task_definition(  # type: ignore[no-any-return]
        family=family, containerDefinitions=containers, **extra
    )["taskDefinition"]["taskDefinitionArn"]


def test_instance_registers_with_ecs_resources_and_attributes(fleet: Any) -> None:
    agent, ecs, cluster = fleet
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    assert arns == [agent.instance_arn]  # the FARGATE capacity is not listed
    inst = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)[
        "containerInstances"
    ][0]
    assert inst["agentConnected"] is True and inst["status"] == "ACTIVE"
    reg = {r["name"]: r for r in inst["registeredResources"]}
    assert reg["CPU"]["integerValue"] == 4096 and reg["MEMORY"]["integerValue"] == 16384
    assert {"22", "2375", "2376", "51678", "51679"} <= set(reg["PORTS"]["stringSetValue"])
    names = {a["name"]: a.get("value") for a in inst["attributes"]}
    assert names["ecs.availability-zone"] == "us-east-1a"
    assert names["ecs.os-type"] == "linux"
    assert "ecs.capability.task-eni" in names
    counts = ecs.describe_clusters(clusters=[cluster])["clusters"][0]
    assert counts["registeredContainerInstancesCount"] == 1


def test_run_then_stop(fleet: Any) -> None:
    agent, ecs, cluster = fleet
    td = register(
        ecs,
        cluster + "-web",
        containers=[
            {
                "name": "web",
                "image": "busybox",
                "memory": 128,
                "cpu": 256,
                "portMappings": [{"containerPort": 80, "hostPort": 8080}],
            }
        ],
    )
    out = ecs.run_task(cluster=cluster, taskDefinition=td, startedBy="me")
    assert out["failures"] == []
    arn = out["tasks"][0]["taskArn"]
    assert out["tasks"][0]["lastStatus"] == "PENDING"
    task = wait_for(ecs, cluster, arn, "RUNNING")
    assert task["startedAt"] >= task["createdAt"]
    assert task["containers"][0]["runtimeId"]
    assert task["containers"][0]["networkBindings"][0]["hostPort"] == 8080
    inst = ecs.describe_container_instances(
        cluster=cluster, containerInstances=[agent.instance_arn]
    )["containerInstances"][0]
    remaining = {r["name"]: r for r in inst["remainingResources"]}
    assert remaining["CPU"]["integerValue"] == 4096 - 256
    assert remaining["MEMORY"]["integerValue"] == 16384 - 128
    assert "8080" in remaining["PORTS"]["stringSetValue"]
    assert inst["runningTasksCount"] == 1
    assert ecs.list_tasks(cluster=cluster, startedBy="me")["taskArns"] == [arn]
    ecs.stop_task(cluster=cluster, task=arn, reason="done here")
    task = wait_for(ecs, cluster, arn, "STOPPED")
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "done here"
    assert task["desiredStatus"] == "STOPPED"
    assert task["stoppedAt"] >= task["stoppingAt"]
    inst = ecs.describe_container_instances(
        cluster=cluster, containerInstances=[agent.instance_arn]
    )["containerInstances"][0]
    remaining = {r["name"]: r for r in inst["remainingResources"]}
    assert remaining["CPU"]["integerValue"] == 4096
    assert "8080" not in remaining["PORTS"]["stringSetValue"]


def test_essential_exit_stops_the_task_non_essential_does_not(fleet: Any) -> None:
    agent, ecs, cluster = fleet
    td = register(
        ecs,
        cluster + "-pair",
        containers=[
            {"name": "main", "image": "busybox", "memory": 64},
            {"name": "side", "image": "busybox", "memory": 64, "essential": False},
        ],
    )
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    task = wait_for(ecs, cluster, arn, "RUNNING")
    ids = {c["name"]: c["runtimeId"] for c in task["containers"]}
    agent.driver.exit(ids["side"], 3)

    def side(task: dict[str, Any]) -> dict[str, Any]:
        return next(c for c in task["containers"] if c["name"] == "side")

    # Once the agent has reported the exit, it has decided what the exit means for the task
    # (in the same step): the task runs on. And had it stopped the task, main's exit code
    # below would be the stop's, not 7.
    deadline = time.monotonic() + 30
    while side(task)["lastStatus"] != "STOPPED":
        assert time.monotonic() < deadline, task
        time.sleep(0.05)
        task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
    assert side(task)["exitCode"] == 3
    agent.driver.exit(ids["main"], 7)
    task = wait_for(ecs, cluster, arn, "STOPPED")
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    main = next(c for c in task["containers"] if c["name"] == "main")
    assert main["exitCode"] == 7


def test_missing_image_stops_with_cannot_pull(fleet: Any) -> None:
    _agent, ecs, cluster = fleet
    td = register(
        ecs,
        cluster + "-bad",
        containers=[{"name": "app", "image": "nowhere/missing:1", "memory": 64}],
    )
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    task = wait_for(ecs, cluster, arn, "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")
    assert task["containers"][0]["reason"].startswith("CannotPullContainerError")


def test_fargate_task_runs_on_hidden_capacity_with_an_eni(fleet: Any) -> None:
    _agent, ecs, cluster = fleet
    td = register(
        ecs,
        cluster + "-fg",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containers=[{"name": "app", "image": "busybox"}],
    )
    out = ecs.run_task(
        cluster=cluster,
        taskDefinition=td,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": ["subnet-12345"], "securityGroups": ["sg-1"]}
        },
    )
    arn = out["tasks"][0]["taskArn"]
    assert out["tasks"][0]["lastStatus"] == "PROVISIONING"
    task = wait_for(ecs, cluster, arn, "RUNNING")
    assert "containerInstanceArn" not in task
    assert task["launchType"] == "FARGATE"
    eni = task["attachments"][0]
    assert eni["type"] == "ElasticNetworkInterface" and eni["status"] == "ATTACHED"
    details = {d["name"]: d["value"] for d in eni["details"]}
    assert details["subnetId"] == "subnet-12345"
    assert details["privateIPv4Address"]
    assert (
        task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        == details["privateIPv4Address"]
    )


def test_run_task_failures_when_nothing_fits(fleet: Any) -> None:
    agent, ecs, cluster = fleet
    td = register(
        ecs, cluster + "-huge", containers=[{"name": "app", "image": "busybox", "memory": 10**6}]
    )
    out = ecs.run_task(cluster=cluster, taskDefinition=td, count=2)
    assert out["tasks"] == []
    assert [f["reason"] for f in out["failures"]] == ["RESOURCE:MEMORY"]
    assert out["failures"][0]["arn"] == agent.instance_arn


def test_metadata_endpoint_describes_the_running_task(fleet: Any) -> None:
    import httpx

    agent, ecs, cluster = fleet
    td = register(
        ecs,
        cluster + "-meta",
        containers=[{"name": "app", "image": "busybox", "memory": 64, "cpu": 128}],
    )
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    wait_for(ecs, cluster, arn, "RUNNING")
    run = agent.workers[agent.instance_arn].runs[arn]
    env = agent.env_for(run, run.containers["app"])
    uri = env["ECS_CONTAINER_METADATA_URI_V4"]
    assert uri.startswith("http://127.0.0.1:")
    task = httpx.get(uri + "/task").json()
    assert task["TaskARN"] == arn
    assert task["Cluster"] == cluster
    assert task["KnownStatus"] == "RUNNING"
    assert [c["Name"] for c in task["Containers"]] == ["app"]
    me = httpx.get(uri).json()
    assert me["DockerId"] == run.containers["app"].runtime_id
    assert httpx.get(uri.rsplit("/", 1)[0] + "/nope").status_code == 404
