"""kill -9 of the Docker Engine under a service's running tasks, then the engine started
again (real Docker: a second dockerd of the test's own, tests/chaos/dockerd.py).

`portside agent --driver docker` runs against that engine (DOCKER_HOST); a service of three
`sleep` tasks runs on it. The engine is killed once the agent has seen its tasks RUNNING,
kept down until the agent has noticed, and started again:

- without --live-restore the engine stops every container it finds when it starts: the
  agent sees them exit, the tasks stop and the service replaces them. Down until the
  agent's event stream fails;
- with --live-restore the containers run on through the outage: the agent re-adopts them
  and the tasks never stop. Down until the agent has also failed to refresh a task from the
  engine (its 10 s backstop sweep), which must not pass for the container's end. Then, since
  an agent that got it wrong would only act once the engine is back, the test waits until
  the agent has refreshed every container from the restarted engine twice (its API calls, in
  the engine's debug log): by then whatever it concluded the first time is done, and it must
  have stopped nothing.

Either way the service returns to a steady state: three RUNNING tasks, each with its
container running in the engine, no task left between states, no container left over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos.dockerd import Dockerd, unavailable
from chaos.watch import describe_service, describe_tasks, list_arns
from e2e.images import busybox_image, docker_available
from harness import AgentCommand, ServerProcess, free_port

from portside.agent.driver import LABEL_INSTANCE, LABEL_TASK_ARN

_unavailable = docker_available() or unavailable()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

DESIRED = 3
TIMEOUT = 120.0
# The agent's one WARNING when the engine stops answering (agent/outage.py), and its debug
# line for each refresh of a task that the outage puts off (the 10 s backstop sweep).
ENGINE_DOWN = "the Docker Engine does not answer"
REFRESH_PUT_OFF = "step put off"
ENGINE_BACK = "the Docker Engine answers again"


def wait_for(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


@pytest.fixture(params=[False, True], ids=["replaced", "re-adopted-after-a-failed-refresh"])
def daemon(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dockerd]:
    name = uuid.uuid4().hex[:8]
    engine = Dockerd(name, live_restore=request.param, log_path=tmp_path / "dockerd.log")
    try:
        engine.start()
    except RuntimeError as exc:
        engine.close()
        pytest.skip(f"cannot start a second dockerd here: {exc}")
    try:
        yield engine
    finally:
        engine.close()


def running_containers(engine: Dockerd, instance: str) -> dict[str, str]:
    """Container id -> task ARN of the agent's running containers in the engine."""
    client = engine.client()
    try:
        found = client.containers.list(filters={"label": f"{LABEL_INSTANCE}={instance}"})
        return {c.id: c.labels.get(LABEL_TASK_ARN, "") for c in found}
    finally:
        client.close()


class Service:
    def __init__(self, server: ServerProcess, cluster: str, engine: Dockerd) -> None:
        self.ecs = server.client()
        self.cluster = cluster
        self.engine = engine
        self.instance = ""

    def steady(self) -> list[dict[str, Any]] | None:
        """The service's RUNNING tasks when it is steady and the engine agrees, else None."""
        service = describe_service(self.ecs, self.cluster, "web")
        if (service["runningCount"], service["pendingCount"]) != (DESIRED, 0):
            return None
        wanted = list_arns(self.ecs, self.cluster, "RUNNING")
        stopping = list_arns(self.ecs, self.cluster, "STOPPED")
        tasks = describe_tasks(self.ecs, self.cluster, wanted + stopping)
        up = [t for t in tasks if t["desiredStatus"] == "RUNNING"]
        if len(up) != DESIRED or any(t["lastStatus"] != "RUNNING" for t in up):
            return None
        if any(t["lastStatus"] != "STOPPED" for t in tasks if t["desiredStatus"] == "STOPPED"):
            return None
        # The engine runs exactly the RUNNING tasks' containers: none lost, none left over.
        ids = {t["containers"][0].get("runtimeId") for t in up}
        return up if set(running_containers(self.engine, self.instance)) == ids else None


def test_service_tasks_come_back_after_the_engine_restarts(
    server: ServerProcess, tmp_path: Path, name: str, daemon: Dockerd
) -> None:
    image = busybox_image(daemon.client())
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    argv = ["agent", "--endpoint", server.endpoint, "--cluster", name, "--driver", "docker"]
    argv += ["--state-dir", str(tmp_path / "agent"), "--metadata-port", str(free_port())]
    agent = AgentCommand(
        server,
        tmp_path / "agent.log",
        [*argv, "--log-level", "debug"],
        {"DOCKER_HOST": daemon.host},
    )
    agent.start()
    try:
        svc = Service(server, name, daemon)
        (svc.instance,) = wait_for(
            lambda: ecs.list_container_instances(cluster=name)["containerInstanceArns"],
            "the agent's instance",
        )
        container = {
            "name": "app",
            "image": image,
            "memory": 32,
            "command": ["sleep", "3600"],
            "linuxParameters": {"initProcessEnabled": True},  # SIGTERM ends it at once
            "stopTimeout": 2,
        }
        td = ecs.register_task_definition(
            family=name, networkMode="host", containerDefinitions=[container]
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=DESIRED)
        before = {t["taskArn"]: t for t in wait_for(svc.steady, "the service to be steady")}

        offset = len(agent.log())
        daemon.kill()
        noticed = REFRESH_PUT_OFF if daemon.live_restore else ENGINE_DOWN
        wait_for(lambda: noticed in agent.log()[offset:], "the agent to notice")
        restarted = len(daemon.log())
        daemon.start()
        if daemon.live_restore:
            ids = [t["containers"][0]["runtimeId"] for t in before.values()]

            def stopped(calls: str) -> list[str]:
                """Containers the agent stopped, killed or removed."""
                ends = ("/stop", "/kill", "?")  # a removal is DELETE /containers/{id}?...
                return [i for i in ids if any(f"/containers/{i}{e}" in calls for e in ends)]

            def swept_twice_or_stopped() -> bool:
                calls = daemon.log()[restarted:]
                swept = all(calls.count(f"/containers/{i}/json") >= 2 for i in ids)
                return swept or bool(stopped(calls))

            wait_for(swept_twice_or_stopped, "the agent to refresh every container twice")
            stops = stopped(daemon.log()[restarted:])
            assert not stops, f"the agent stopped containers it should have re-adopted: {stops}"

        after = {t["taskArn"]: t for t in wait_for(svc.steady, "the service to be steady again")}
        old = describe_tasks(ecs, name, sorted(before))
        if daemon.live_restore:
            # The containers ran on: the same tasks, the same containers.
            assert set(after) == set(before)
            for arn, task in after.items():
                assert (
                    task["containers"][0]["runtimeId"]
                    == (before[arn]["containers"][0]["runtimeId"])
                )
        else:
            # The engine stopped them as it started: each task stopped and was replaced.
            assert not set(after) & set(before)
            for task in old:
                assert task["lastStatus"] == "STOPPED", task
                assert task["stopCode"] == "EssentialContainerExited", task
        assert agent.running()
        # The outage in the agent's log: one warning as it began (and maybe one for the
        # events stream it broke), one line as it ended.
        lines = agent.log()[offset:].splitlines()
        warnings = [x for x in lines if " WARNING " in x and "events stream broke" not in x]
        assert len(warnings) == 1 and ENGINE_DOWN in warnings[0], warnings
        assert len([x for x in lines if ENGINE_BACK in x]) == 1, lines
    finally:
        agent.stop()
