"""ECS events from a simulated fleet on a real server: delivered to a webhook by a rule, and
streamed by `portside events`."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet import register, start_agent, start_fleet, wait_for_status
from harness import BIN, ServerProcess
from webhook import Webhook, subscribed

from portside.agent.simulated import SimulatedDriver

HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}
MISSING_IMAGE = "registry.example.com/missing:1"


@pytest.fixture
def hook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def cluster_arn(name: str) -> str:
    return f"arn:aws:ecs:us-east-1:000000000000:cluster/{name}"


def statuses(events: list[dict[str, Any]], task: str) -> list[str]:
    return [e["detail"]["lastStatus"] for e in events if e["resources"] == [task]]


def test_a_tasks_state_changes_reach_the_webhook_in_order(
    server: ServerProcess, tmp_path: Path, name: str, hook: Webhook
) -> None:
    events = server.client("events")
    pattern = {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"clusterArn": [cluster_arn(name)]},
    }
    with subscribed(events, name, hook.url, pattern), start_fleet(server, tmp_path, name) as fleet:
        td = register(fleet.ecs, name)
        (task,) = fleet.ecs.run_task(cluster=name, taskDefinition=td)["tasks"]
        arn = task["taskArn"]
        wait_for_status(fleet.ecs, name, arn, "RUNNING")
        fleet.ecs.stop_task(cluster=name, task=arn, reason="done here")
        wait_for_status(fleet.ecs, name, arn, "STOPPED")
        time.sleep(0.5)  # (the stopped task's last updates)
        final = fleet.ecs.describe_tasks(cluster=name, tasks=[arn])["tasks"][0]
        # The events reach the version DescribeTasks shows.
        got = hook.wait_for(
            lambda got: (
                final["version"] in [e["detail"]["version"] for e in got if e["resources"] == [arn]]
            )
        )
        mine = [e for e in got if e["resources"] == [arn]]
        seen = statuses(mine, arn)
        assert seen[0] == "PENDING" and "RUNNING" in seen and seen[-1] == "STOPPED"
        order = [
            "PROVISIONING",
            "PENDING",
            "ACTIVATING",
            "RUNNING",
            "DEACTIVATING",
            "STOPPING",
            "DEPROVISIONING",
            "STOPPED",
        ]
        assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
        versions = [e["detail"]["version"] for e in mine]
        assert versions == sorted(set(versions)), "one event per version, in order"
        last = mine[-1]
        assert last["detail-type"] == "ECS Task State Change" and last["source"] == "aws.ecs"
        assert last["detail"]["version"] >= final["version"]
        assert last["detail"]["stoppedReason"] == "done here"
        assert last["detail"]["stopCode"] == "UserInitiated"
        assert last["detail"]["containers"][0]["lastStatus"] == "STOPPED"
        assert last["detail"]["stoppedAt"].endswith("Z")
        # The connection's API key rides on every call.
        assert {c.headers["x-portside-test"] for c in hook.calls} == {name}
        assert len({e["id"] for e in mine}) == len(mine)


def service_events(got: list[dict[str, Any]], service: str) -> list[tuple[str, str]]:
    return [
        (e["detail-type"], e["detail"]["eventName"]) for e in got if e["resources"] == [service]
    ]


def test_service_action_and_deployment_events(
    server: ServerProcess, tmp_path: Path, name: str, hook: Webhook
) -> None:
    events = server.client("events")
    pattern = {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Service Action", "ECS Deployment State Change"],
        "resources": [{"prefix": f"arn:aws:ecs:us-east-1:000000000000:service/{name}/"}],
    }
    with (
        subscribed(events, name, hook.url, pattern),
        start_fleet(server, tmp_path, name, memory=2048) as fleet,
    ):
        containers = [
            {"name": "app", "image": "busybox", "memory": 1024, "healthCheck": HEALTH_CHECK}
        ]
        td = register(fleet.ecs, name, containers=containers)
        service = fleet.ecs.create_service(
            cluster=name,
            serviceName="web",
            taskDefinition=td,
            desiredCount=2,
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}
            },
        )["service"]
        arn = service["serviceArn"]
        first = service["deployments"][0]["id"]
        got = hook.wait_for(
            lambda got: ("ECS Service Action", "SERVICE_STEADY_STATE") in service_events(got, arn)
        )
        assert service_events(got, arn) == [
            ("ECS Deployment State Change", "SERVICE_DEPLOYMENT_IN_PROGRESS"),
            ("ECS Deployment State Change", "SERVICE_DEPLOYMENT_COMPLETED"),
            ("ECS Service Action", "SERVICE_STEADY_STATE"),
        ]
        started, completed, steady = [e for e in got if e["resources"] == [arn]]
        assert started["detail"]["deploymentId"] == completed["detail"]["deploymentId"] == first
        assert started["detail"]["reason"] == f"ECS deployment {first} in progress."
        assert completed["detail"]["reason"] == f"ECS deployment {first} completed."
        assert steady["detail"]["clusterArn"] == cluster_arn(name)
        assert steady["detail"]["eventType"] == "INFO"

        # A third task does not fit on the one 2 GiB instance.
        fleet.ecs.update_service(cluster=name, service="web", desiredCount=3)
        got = hook.wait_for(
            lambda got: (
                ("ECS Service Action", "SERVICE_TASK_PLACEMENT_FAILURE") in service_events(got, arn)
            )
        )
        failure = next(
            e for e in got if e["detail"].get("eventName") == "SERVICE_TASK_PLACEMENT_FAILURE"
        )
        assert failure["detail"]["eventType"] == "WARN"
        assert failure["detail"]["reason"] == "RESOURCE:MEMORY"

        # A deployment whose image cannot be pulled fails and rolls back.
        fleet.ecs.update_service(cluster=name, service="web", desiredCount=1)
        fleet.agents.append(
            start_agent(
                server,
                tmp_path / "broken",
                name,
                driver=SimulatedDriver(missing_images=frozenset({MISSING_IMAGE}), memory=16384),
            )
        )
        bad_td = register(fleet.ecs, name, containers=[{**containers[0], "image": MISSING_IMAGE}])
        bad = fleet.ecs.update_service(cluster=name, service="web", taskDefinition=bad_td)[
            "service"
        ]
        bad_id = bad["deployments"][0]["id"]
        got = hook.wait_for(
            lambda got: any(
                e["detail"].get("eventName") == "SERVICE_DEPLOYMENT_FAILED" for e in got
            ),
            timeout=40,
        )
        (failed,) = [e for e in got if e["detail"].get("eventName") == "SERVICE_DEPLOYMENT_FAILED"]
        assert failed["detail"]["deploymentId"] == bad_id
        assert failed["detail"]["eventType"] == "ERROR"
        assert failed["detail"]["reason"].startswith("ECS deployment circuit breaker")
        got = hook.wait_for(
            lambda got: any(
                e["detail"]
                .get("reason", "")
                .startswith("ECS deployment circuit breaker: rolling back")
                for e in got
            )
        )
        mine = service_events(got, arn)
        assert mine.index(("ECS Deployment State Change", "SERVICE_DEPLOYMENT_FAILED")) < len(mine)


def portside_events(
    server: ServerProcess, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "portside"), "events", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_portside_events_prints_and_follows(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    pattern = json.dumps({"detail": {"clusterArn": [cluster_arn(name)]}})
    follower = subprocess.Popen(
        # (--after 0: from the start of the feed, so the test need not wait for it to connect.)
        [str(BIN / "portside"), "events", "--follow", "--after", "0", "--pattern", pattern],
        env=server.env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with start_fleet(server, tmp_path, name) as fleet:
            td = register(fleet.ecs, name)
            (task,) = fleet.ecs.run_task(cluster=name, taskDefinition=td)["tasks"]
            wait_for_status(fleet.ecs, name, task["taskArn"], "RUNNING")
            assert follower.stdout is not None
            followed: list[dict[str, Any]] = []
            deadline = time.monotonic() + 15
            while not any(e["detail"].get("lastStatus") == "RUNNING" for e in followed):
                assert time.monotonic() < deadline, followed
                followed.append(json.loads(follower.stdout.readline()))
            tasks = [e for e in followed if e["detail-type"] == "ECS Task State Change"]
            assert tasks[0]["detail"]["lastStatus"] == "PENDING"
            assert any(e["detail-type"] == "ECS Container Instance State Change" for e in followed)
    finally:
        follower.terminate()
        follower.wait(10)

    # Without --follow: what the feed holds, then exit.
    done = portside_events(server, "--pattern", pattern)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    tasks = [e for e in printed if e["detail-type"] == "ECS Task State Change"]
    assert [e["detail"]["lastStatus"] for e in tasks][:1] == ["PENDING"]
    assert {e["resources"][0] for e in tasks} == {task["taskArn"]}
    assert all(e["detail"]["clusterArn"] == cluster_arn(name) for e in printed)

    bad = portside_events(server, "--pattern", '{"detail": "x"}')
    assert bad.returncode == 254
    assert (
        'InvalidEventPatternException: Event pattern is not valid. Reason: "detail" must be'
        in bad.stderr
    )


def test_the_stream_refuses_unsigned_calls(server: ServerProcess) -> None:
    import httpx

    reply = httpx.get(server.endpoint + "/_portside/events/v1/stream")
    assert reply.status_code == 403
    assert reply.json()["__type"] == "MissingAuthenticationTokenException"
