"""A wake-up asking the worker to look at the driver again is never lost, even when a step of
the task is already queued: the stop of a task finishes with such a wake-up, and losing it
left the task STOPPING for good (with the simulated driver, which has no periodic sweep)."""

from __future__ import annotations

from portside.agent.simulated import SimulatedDriver
from portside.agent.worker import Worker
from portside.gateway.protocol import AgentTask
from portside.testing.agent import ManualExecutor, agent_task, pools

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/web"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/web/1"
ARN = "arn:aws:ecs:us-east-1:000000000000:task/web/" + "a" * 32
DEFINITION = {
    "family": "web",
    "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}],
}


Manual = ManualExecutor


def doc(last: str, desired: str, version: int) -> AgentTask:
    return agent_task(
        ARN,
        cluster_arn=CLUSTER,
        definition=DEFINITION,
        last_status=last,
        desired_status=desired,
        version=version,
    )


def test_a_stop_that_completes_while_a_step_is_queued_still_stops_the_task() -> None:
    steps, stops = Manual(), Manual()
    reported: list[str] = []
    worker = Worker(
        SimulatedDriver(),
        instance_arn=INSTANCE,
        cluster=CLUSTER,
        report=lambda run: reported.append(run.status),
        env_for=lambda run, c: {},
        pools=pools(steps, stops),
    )
    worker.desired(doc("PENDING", "RUNNING", 1), lambda: "token")
    steps.run_all()
    assert worker.runs[ARN].status == "RUNNING"

    worker.desired(doc("RUNNING", "STOPPED", 2), lambda: "token")
    steps.run_all()  # sends the stop, in the background
    assert len(stops.queue) == 1
    assert reported[-1] == "STOPPING"
    # The control plane echoes the STOPPING report back: a step is queued for it ...
    worker.desired(doc("STOPPING", "STOPPED", 3), lambda: "token")
    # ... when the stop completes and asks for a fresh look at the driver.
    stops.run_all()
    steps.run_all()
    assert worker.runs[ARN].status == "STOPPED"
    assert reported[-1] == "STOPPED"
