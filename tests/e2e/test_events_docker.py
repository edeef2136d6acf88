"""ECS events end to end: a task run by `portside agent --driver docker` on a real Docker
Engine, its task state change events delivered by an EventBridge rule (set up with boto3, the
AWS way: connection, API destination, rule, target) to a webhook in the test process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from e2e.images import busybox_image, docker_available
from harness import ServerProcess
from webhook import Webhook, subscribed

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

ORDER = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
]


def run_short_task(server: ServerProcess, agent: AgentProcess) -> str:
    ecs = server.client()
    family = "e2e-events-" + uuid.uuid4().hex[:8]
    td = ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "app",
                "image": busybox_image(),
                "memory": 32,
                "command": ["sh", "-c", "sleep 1"],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    out = ecs.run_task(cluster=agent.cluster, taskDefinition=td)
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def task_pattern(agent: AgentProcess) -> dict[str, Any]:
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"clusterArn": [{"suffix": f":cluster/{agent.cluster}"}]},
    }


def statuses(events: list[dict[str, Any]], task: str) -> list[str]:
    return [e["detail"]["lastStatus"] for e in events if e["resources"] == [task]]


@pytest.fixture
def hook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_a_webhook_gets_pending_running_and_stopped_in_order(
    server: ServerProcess, agent: AgentProcess, hook: Webhook
) -> None:
    name = "e2e-" + uuid.uuid4().hex[:8]
    with subscribed(server.client("events"), name, hook.url, task_pattern(agent)):
        arn = run_short_task(server, agent)
        got = hook.wait_for(lambda got: "STOPPED" in statuses(got, arn), timeout=60)
        seen = statuses(got, arn)
        for status in ("PENDING", "RUNNING", "STOPPED"):
            assert status in seen, seen
        assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen), seen
        mine = [e for e in got if e["resources"] == [arn]]
        versions = [e["detail"]["version"] for e in mine]
        assert versions == sorted(set(versions))
        stopped = mine[-1]["detail"]
        assert stopped["containers"][0]["exitCode"] == 0
        assert stopped["stopCode"] == "EssentialContainerExited"
        running = next(e for e in mine if e["detail"]["lastStatus"] == "RUNNING")
        assert running["detail"]["containers"][0]["runtimeId"]
        assert running["detail"]["startedAt"].endswith("Z")


def test_a_failing_webhook_gets_the_event_again_in_order(
    server: ServerProcess, agent: AgentProcess
) -> None:
    # The first RUNNING event is answered 500 twice, then 200.
    failing: set[str] = set()

    def answer(event: dict[str, Any], n: int) -> int:
        if event["detail"]["lastStatus"] == "RUNNING" and (not failing or event["id"] in failing):
            failing.add(event["id"])
            return 500 if n < 2 else 200
        return 200

    hook = Webhook(answer)
    try:
        name = "e2e-" + uuid.uuid4().hex[:8]
        with subscribed(server.client("events"), name, hook.url, task_pattern(agent)):
            arn = run_short_task(server, agent)
            got = hook.wait_for(lambda got: "STOPPED" in statuses(got, arn), timeout=60)
            (failed_id,) = failing
            tries = [c.status for c in hook.calls if c.event["id"] == failed_id]
            assert tries == [500, 500, 200]
            seen = statuses(got, arn)
            assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen), seen
            ids = [e["id"] for e in got if e["resources"] == [arn]]
            assert ids.count(failed_id) == 1
            # Nothing of this task was delivered while its RUNNING event waited for its retries.
            after = ids[ids.index(failed_id) + 1 :]
            first_retry = next(i for i, c in enumerate(hook.calls) if c.event["id"] == failed_id)
            delivered_ok = next(
                i
                for i, c in enumerate(hook.calls)
                if c.event["id"] == failed_id and c.status == 200
            )
            between = [c.event["id"] for c in hook.calls[first_retry:delivered_ok]]
            assert not set(between) & set(after)
    finally:
        hook.close()
