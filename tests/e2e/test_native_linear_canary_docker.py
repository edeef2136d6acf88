"""ECS's native LINEAR and CANARY strategies end to end: a real server and its HAProxy,
`portside agent --driver docker`, busybox httpd tasks, boto3, under continuous load through
the production listener (the set-up is test_native_blue_green_docker.py's).

LINEAR at 50 % a step: production's rule forwards half to each revision for a step, and both
answer, then all of it to the new one. CANARY at 10 %: 90/10 for the canary's bake, then all.
No request fails. The server runs ECS's waits at 1/20 of their length
(PORTSIDE_CODEDEPLOY_WAIT_SCALE), so a one-minute step takes 3 s.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from e2e.images import docker_available
from e2e.test_native_blue_green_docker import NativeBlueGreen, until
from harness import ServerProcess

from portside.controllers.blue_green.loop import WAIT_SCALE_ENV

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

SCALE = "0.05"


class ScaledServer(ServerProcess):
    def env(self) -> dict[str, str]:
        return {**super().env(), WAIT_SCALE_ENV: SCALE}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ScaledServer(tmp_path_factory.mktemp("scaled")).start()
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture(scope="module")
def scaled_agent(
    scaled: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    from e2e.conftest import _new_agent

    proc = _new_agent(scaled, Path(tmp_path_factory.mktemp("agents")), 3600.0)
    try:
        yield proc.start()
    finally:
        proc.close()


def _deploy(bg: NativeBlueGreen, version: str, configuration: dict[str, Any]) -> None:
    bg.ecs.update_service(
        cluster=bg.cluster,
        service=bg.name,
        taskDefinition=bg.register(version),
        deploymentConfiguration={"bakeTimeInMinutes": 0, "lifecycleHooks": [], **configuration},
    )


def test_linear_then_canary_under_load(scaled: ServerProcess, scaled_agent: AgentProcess) -> None:
    bg = NativeBlueGreen(scaled, scaled_agent)
    answers: list[str | None] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            answers.append(bg.get())

    client = threading.Thread(target=load, daemon=True)
    try:
        until(lambda: bg.service()["runningCount"] == 2 and bg.get(), 90, "version 1 to answer")
        client.start()
        until(lambda: len(answers) > 20, 20, "the load to start")
        blue, green = bg.groups

        # LINEAR, 50 % a step of 2 minutes (6 s here): half and half, then all on 2.
        linear = {"stepPercent": 50.0, "stepBakeTimeInMinutes": 2}
        _deploy(bg, "2", {"strategy": "LINEAR", "linearConfiguration": linear})
        until(lambda: bg.weights() == {blue: 50, green: 50}, 90, "half the traffic on 2")
        mark = len(answers)
        until(lambda: bg.deployment()["status"] == "SUCCESSFUL", 90, "the linear shift")
        halfway = {a.split()[0] for a in answers[mark:] if a}
        assert halfway >= {"1", "2"}, "both revisions answered during the step"
        assert bg.weights() == {blue: 0, green: 100}
        until(lambda: bg.service()["runningCount"] == 2, 60, "version 1 to stop")

        # CANARY, 10 % for 4 minutes (12 s here), then the rest; the pair's roles swapped.
        canary = {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 4}
        _deploy(bg, "3", {"strategy": "CANARY", "canaryConfiguration": canary})
        until(lambda: bg.weights() == {green: 90, blue: 10}, 90, "the canary's 10 % on 3")
        until(lambda: bg.deployment()["status"] == "SUCCESSFUL", 90, "the canary shift")
        assert bg.weights() == {green: 0, blue: 100}
        until(lambda: {a.split()[0] for a in answers[-20:] if a} == {"3"}, 30, "version 3 only")
        deployments = bg.ecs.list_service_deployments(cluster=bg.cluster, service=bg.name)
        assert len(deployments["serviceDeployments"]) == 3
    finally:
        stop.set()
        if client.is_alive():
            client.join(10)
        bg.close()
    failed_requests = sum(1 for a in answers if a is None)
    assert failed_requests == 0, bg.errors
    assert {a.split()[0] for a in answers if a} == {"1", "2", "3"}
