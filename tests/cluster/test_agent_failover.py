"""An agent given two `portside server` replicas over one PostgreSQL database: the replica it
talks to is killed with kill -9, and it carries on with the other without restarting its
tasks: its reports and long poll continue there (a scaled-up service places on it, a task
stopped through the survivor stops), and its instance stays connected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet import register, wait_until
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from test_replicas_failover import running, start_both

from portside.agent.session import Agent
from portside.testing.agent import start_simulated_agent


def runtime_ids(agent: Agent) -> dict[str, list[str | None]]:
    """Each task's containers' runtime ids on the agent: a restarted task gets new ones."""
    return {
        arn: [c.runtime_id for c in run.containers.values()]
        for worker in agent.workers.values()
        for arn, run in worker.runs.items()
    }


def connected(ecs: Any, cluster: str, instance: str) -> bool:
    (found,) = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance])[
        "containerInstances"
    ]
    return bool(found["agentConnected"])


def test_an_agent_fails_over_to_the_other_replica_without_restarting_its_tasks(
    tmp_path: Path, postgres_url: str, name: str
) -> None:
    first, second = replicas = [
        ServerProcess(tmp_path / "a", None, "--database", postgres_url),
        ServerProcess(tmp_path / "b", None, "--database", postgres_url),
    ]
    agent: Agent | None = None
    try:
        start_both(replicas)
        ecs = second.client()  # the survivor answers the test's calls throughout
        ecs.create_cluster(clusterName=name)
        endpoints = f"{first.endpoint},{second.endpoint}"
        agent = start_simulated_agent(
            endpoints, ACCESS_KEY, SECRET_KEY, tmp_path / "agent", name, region=REGION
        )
        assert agent.client.endpoint == first.endpoint
        td = register(ecs, name)
        ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=2)
        wait_until(lambda: len(running(ecs, name, "web")) == 2, 30, "2 tasks")
        before = running(ecs, name, "web")
        ids = runtime_ids(agent)

        first.kill()
        # The next long poll finds the replica gone and the agent moves over.
        wait_until(lambda: agent.client.endpoint == second.endpoint, 30, "the failover")
        ecs.update_service(cluster=name, service="web", desiredCount=3)
        wait_until(lambda: len(running(ecs, name, "web")) == 3, 30, "a 3rd task")
        after = running(ecs, name, "web")
        assert set(before) < set(after)
        # Its tasks ran on: the same containers, never restarted.
        now = runtime_ids(agent)
        assert all(now[arn] == ids[arn] for arn in before)
        assert connected(ecs, name, agent.instance_arn)

        # A stop asked of the survivor reaches the agent, and its report comes back.
        ecs.stop_task(cluster=name, task=before[0])
        wait_until(
            lambda: (
                ecs.describe_tasks(cluster=name, tasks=[before[0]])["tasks"][0]["lastStatus"]
                == "STOPPED"
            ),
            30,
            "the stop",
        )
        assert agent.client.endpoint == second.endpoint
    finally:
        if agent is not None:
            agent.stop()
        for replica in replicas:
            replica.close()
