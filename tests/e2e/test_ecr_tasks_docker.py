"""Tasks whose images are in Portside's own ECR, on a real Docker Engine, with no `docker
login` on the agent's side: an image built here is pushed as a user pushes it (`docker
login` with get-login-password, `docker tag`, `docker push`), then removed locally and the
login undone; a fresh `portside agent --driver docker`, whose Docker client configuration
holds no login at all, runs a task of `<repositoryUri>:<tag>`: it pulls with its own ECR
login and the container runs the pushed image. A tag the repository does not have stops the
task with ECS's CannotPullContainerError."""

from __future__ import annotations

import base64
import io
import json
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import AgentProcess
from e2e.images import LABELS, busybox_image, docker_available
from fleet import wait_for_status, wait_until
from harness import ServerProcess

from portside.registry.process import find_binary

_unavailable = docker_available() or (
    None if find_binary() else "no docker-registry; run scripts/ensure-registry.sh"
)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

PULL_FAILED = "CannotPullContainerError: Error response from daemon: "


@dataclass(frozen=True)
class Pushed:
    repository: str
    uri: str  # repositoryUri
    tag: str
    digest: str
    marker: str  # what the image's command prints: in this image alone


def docker(config: Path, *args: str, stdin: str | None = None) -> str:
    """The docker CLI with a configuration directory of the test's own."""
    proc = subprocess.run(
        ["docker", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"docker {args[0]}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def build(tag: str, marker: str) -> None:
    """An image of its own (its config holds the marker) on the e2e busybox image."""
    import docker as docker_sdk

    dockerfile = (
        f"FROM {busybox_image()}\nENV MARKER={marker}\n"
        'CMD ["sh", "-c", "echo image-marker=$MARKER; trap \'exit 0\' TERM; sleep 600 & wait"]\n'
    )
    docker_sdk.from_env().images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, labels=LABELS
    )


@pytest.fixture(scope="module")
def pushed(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    ecr = server.client("ecr")
    repository = "e2e-" + uuid.uuid4().hex[:10]
    uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    (data,) = ecr.get_authorization_token()["authorizationData"]
    password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
    config = tmp_path_factory.mktemp("docker-config")
    image, marker = f"{uri}:v1", secrets.token_hex(8)
    build(image, marker)
    try:
        login = docker(
            config, "login", "-u", "AWS", "--password-stdin", data["proxyEndpoint"], stdin=password
        )
        assert "Login Succeeded" in login
        docker(config, "push", image)
    finally:
        # Neither the image nor any login stays behind: the agent must pull it, by itself.
        docker(config, "rmi", image)
        docker(config, "logout", data["proxyEndpoint"])
    assert data["proxyEndpoint"] not in (config / "config.json").read_text()
    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    yield Pushed(repository, uri, "v1", detail["imageDigest"], marker)
    subprocess.run(["docker", "rmi", "-f", image], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def agent(
    server: ServerProcess, pushed: Pushed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    """A fresh agent, started after the push, whose Docker client configuration is empty."""
    root = tmp_path_factory.mktemp("ecr-agents")
    cluster = "e2e" + uuid.uuid4().hex[:10]
    server.client().create_cluster(clusterName=cluster)
    proc = AgentProcess(server, cluster, root / cluster)
    (root / "docker-config").mkdir()
    proc.env["DOCKER_CONFIG"] = str(root / "docker-config")
    try:
        yield proc.start()
    finally:
        proc.close()


def run(ecs: Any, agent: AgentProcess, image: str) -> str:
    family = "ecr-" + uuid.uuid4().hex[:8]
    container = {"name": "app", "image": image, "memory": 32, "stopTimeout": 2}
    ecs.register_task_definition(family=family, containerDefinitions=[container])
    out = ecs.run_task(cluster=agent.cluster, taskDefinition=family)
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def test_a_task_runs_an_image_pushed_to_portsides_ecr(
    ecs: Any, agent: AgentProcess, pushed: Pushed
) -> None:
    arn = run(ecs, agent, f"{pushed.uri}:{pushed.tag}")
    task = wait_for_status(ecs, agent.cluster, arn, "RUNNING", timeout=30)
    (container,) = task["containers"]
    assert container["imageDigest"] == pushed.digest
    runtime_id = container["runtimeId"]

    def printed() -> str | None:
        logs = subprocess.run(
            ["docker", "logs", runtime_id], capture_output=True, text=True, timeout=30
        ).stdout
        return logs if "image-marker=" in logs else None

    assert wait_until(printed, 10).strip() == f"image-marker={pushed.marker}"
    inspected = json.loads(subprocess.check_output(["docker", "inspect", runtime_id]))[0]
    assert inspected["Config"]["Image"] == f"{pushed.uri}:{pushed.tag}"
    ecs.stop_task(cluster=agent.cluster, task=arn)


def test_a_tag_the_repository_lacks_stops_the_task(
    ecs: Any, agent: AgentProcess, pushed: Pushed
) -> None:
    image = f"{pushed.uri}:no-such-tag"
    task = wait_for_status(ecs, agent.cluster, run(ecs, agent, image), "STOPPED", timeout=30)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == (
        f"{PULL_FAILED}manifest for {image} not found: manifest unknown: manifest unknown"
    )
    assert "runtimeId" not in task["containers"][0]
