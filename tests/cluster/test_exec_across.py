"""ECS Exec across replicas (exec/across.py): two `portside server` replicas over one
PostgreSQL database, the task's agent connected to one of them only, ExecuteCommand called
on the other. The streamUrl names the replica that made the session; the offer reaches the
agent through the database's notifications, and the agent's stream, dialled to its own
replica, is forwarded to the session's. The simulated driver runs no processes, so the
session ends with the agent's own refusal: proof the two streams met."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet import register, wait_until
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from roles import iam_of, task_role
from test_replicas_failover import start_both
from websockets.sync.client import connect

from portside.agent.session import Agent
from portside.exec import frames
from portside.testing.agent import start_simulated_agent


def exec_ready(ecs: Any, cluster: str, arn: str) -> bool:
    (task,) = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
    agents = task["containers"][0].get("managedAgents") or []
    return task["lastStatus"] == "RUNNING" and bool(agents) and agents[0]["lastStatus"] == "RUNNING"


def session_frames(session: dict[str, Any]) -> list[frames.Frame]:
    got: list[frames.Frame] = []
    with connect(session["streamUrl"], open_timeout=10) as ws:
        ws.send(frames.encode_json(frames.OPEN, {"token": session["tokenValue"], "tty": False}))
        for message in ws:
            got.append(frames.decode(message))
    return got


def test_a_session_made_on_one_replica_reaches_the_agent_on_the_other(
    tmp_path: Path, postgres_url: str, name: str
) -> None:
    here, there = replicas = [
        ServerProcess(tmp_path / r, None, "--database", postgres_url) for r in ("a", "b")
    ]
    agent: Agent | None = None
    try:
        start_both(replicas)
        ecs = here.client()
        ecs.create_cluster(clusterName=name)
        agent = start_simulated_agent(  # connected to the other replica only
            there.endpoint, ACCESS_KEY, SECRET_KEY, tmp_path / "agent", name, region=REGION
        )
        role = task_role(iam_of(ecs), f"arn:aws:iam::000000000000:role/{name}", allow_all=False)
        td = register(ecs, name, taskRoleArn=role)
        (task,) = ecs.run_task(cluster=name, taskDefinition=td, enableExecuteCommand=True)["tasks"]
        wait_until(lambda: exec_ready(ecs, name, task["taskArn"]), 30, "the exec agent")
        for _ in range(2):  # twice: a second session goes the same way
            session = ecs.execute_command(
                cluster=name, task=task["taskArn"], command="echo hi", interactive=True
            )["session"]
            assert session["streamUrl"].startswith(f"ws://127.0.0.1:{here.port}/")
            got = session_frames(session)
            assert [f.channel for f in got] == [frames.EXIT]
            assert got[0].json() == {
                "error": "ECS Exec needs a real container: the simulated driver runs none."
            }
    finally:
        if agent is not None:
            agent.stop()
        for replica in replicas:
            replica.close()


def test_another_replicas_offer_is_handed_once_to_an_agent_of_its_instance() -> None:
    from portside.exec.across import payload, read_payload
    from portside.exec.registry import ExecRegistry
    from portside.gateway.protocol import ExecOffer

    offer = ExecOffer("ecs-execute-command-1", "tok", "task", "inst-1", "app", None, ("ls",), False)
    found = read_payload(payload(offer, "http://10.0.0.1:4566"))
    assert found == (offer, "http://10.0.0.1:4566")
    assert read_payload("not json") is None
    woken: list[bool] = []
    registry = ExecRegistry(endpoint="http://10.0.0.2:4566")
    registry.set_notifier(lambda: woken.append(True))
    registry.add_remote(offer, "http://10.0.0.1:4566")
    assert woken == [True]
    assert registry.offers_for({"inst-2"}) == []
    assert registry.offers_for({"inst-1"}) == [offer]
    assert registry.offers_for({"inst-1"}) == []
    assert registry.remote_home(offer.session_id) == "http://10.0.0.1:4566"
    assert registry.remote_home("ecs-execute-command-2") is None
