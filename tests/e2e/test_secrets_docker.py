"""Task secrets end to end: a real server, `portside agent --driver docker`, a real Docker
Engine. A container's `secrets` (a whole Secrets Manager secret, a JSON key of another, an
SSM SecureString) arrive as its environment and its log `secretOptions` as its log driver's
options, and nothing a user or another process can read shows them: no API answer, no file
of the server's data directory, neither of the agent's logs nor its state directory, no
metadata endpoint answer, no Docker label. A missing secret stops the task with ECS's
reason before any container exists; `repositoryCredentials` pulls from a registry that
requires a password, which fails without them as ECS's CannotPullContainerError."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.conftest import AgentProcess
from e2e.images import busybox_image, docker_available
from fleet import wait_for_status
from harness import Process, ServerProcess, free_port
from roles import iam_of, task_role

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

EXEC_ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"
REGISTRY_BINARY = Path("/usr/bin/docker-registry")
PULL_FAILED = "CannotPullContainerError: "
SECRETS_FAILED = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: "
)
# Prints its environment, then runs until SIGTERM.
PRINT_ENV = ["sh", "-c", "env; echo env-done; trap 'exit 0' TERM; sleep 600 & wait"]


def printing_env(**extra: Any) -> dict[str, Any]:
    """A container that prints its environment, then runs until SIGTERM."""
    return {
        "name": "app",
        "image": busybox_image(),
        "memory": 32,
        "command": PRINT_ENV,
        "stopTimeout": 2,
        **extra,
    }


def register(ecs: Any, containers: list[dict[str, Any]]) -> str:
    task_role(iam_of(ecs), EXEC_ROLE)
    family = "secrets-" + uuid.uuid4().hex[:8]
    out = ecs.register_task_definition(
        family=family, executionRoleArn=EXEC_ROLE, containerDefinitions=containers
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


def run(ecs: Any, agent: AgentProcess, containers: list[dict[str, Any]]) -> str:
    out = ecs.run_task(cluster=agent.cluster, taskDefinition=register(ecs, containers))
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def task_containers(task_arn: str) -> list[str]:
    """Every container (running or not) Docker has for a task."""
    label = f"label=com.amazonaws.ecs.task-arn={task_arn}"
    return docker("ps", "-a", "-q", "--no-trunc", "--filter", label).split()


def files_under(root: Path) -> Iterator[bytes]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):  # a file removed while we walk
                yield path.read_bytes()


def test_secrets_reach_the_container_and_nothing_else_shows_them(
    server: ServerProcess, ecs: Any, agent: AgentProcess, name: str
) -> None:
    sm, ssm = server.client("secretsmanager"), server.client("ssm")
    whole, password, parameter, tag = (f"{w}-{secrets.token_hex(8)}" for w in "wpst")
    api = sm.create_secret(Name=f"{name}/api", SecretString=whole)["ARN"]
    db = sm.create_secret(Name=f"{name}/db", SecretString=json.dumps({"password": password}))
    ssm.put_parameter(Name=f"/{name}/param", Value=parameter, Type="SecureString")
    ssm.put_parameter(Name=f"/{name}/tag", Value=tag, Type="SecureString")
    arn = run(
        ecs,
        agent,
        [
            printing_env(
                secrets=[
                    {"name": "WHOLE", "valueFrom": api},
                    {"name": "PASSWORD", "valueFrom": db["ARN"] + ":password::"},
                    {"name": "PARAMETER", "valueFrom": f"/{name}/param"},
                ],
                logConfiguration={
                    "logDriver": "json-file",
                    "secretOptions": [{"name": "tag", "valueFrom": f"/{name}/tag"}],
                },
            )
        ],
    )
    task = wait_for_status(ecs, agent.cluster, arn, "RUNNING", timeout=30)
    runtime_id = task["containers"][0]["runtimeId"]
    deadline = time.monotonic() + 10
    while "env-done" not in (logged := docker("logs", runtime_id)):
        assert time.monotonic() < deadline, logged
        time.sleep(0.1)
    env = dict(line.split("=", 1) for line in logged.splitlines() if "=" in line)
    assert (env["WHOLE"], env["PASSWORD"], env["PARAMETER"]) == (whole, password, parameter)
    inspected = json.loads(docker("inspect", runtime_id))[0]
    assert inspected["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"tag": tag}}
    assert f"WHOLE={whole}" in inspected["Config"]["Env"]  # where Docker keeps them, as ECS

    # The metadata endpoint, as the container reads it, and everything else a user reads.
    fetch = 'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4$0"'
    metadata = [docker("exec", runtime_id, "sh", "-c", fetch, path) for path in ("/task", "")]
    assert json.loads(metadata[0])["TaskARN"] == arn
    shown = json.dumps(
        [
            ecs.describe_tasks(cluster=agent.cluster, tasks=[arn], include=["TAGS"]),
            ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"]),
            ecs.list_tasks(cluster=agent.cluster),
            metadata,
            inspected["Config"]["Labels"],
        ],
        default=str,
    )
    assert f"/{name}/param" in shown  # the references are there, as ECS shows them
    at_rest = b"".join(
        [*files_under(server.data_dir), *files_under(agent.state_dir), agent.log().encode()]
    )
    for value in (whole, password, parameter, tag):
        assert value not in shown
        assert value.encode() not in at_rest
    ecs.stop_task(cluster=agent.cluster, task=arn)


def test_a_missing_secret_stops_the_task_before_any_container(
    server: ServerProcess, ecs: Any, agent: AgentProcess, name: str
) -> None:
    gone = [{"name": "GONE", "valueFrom": f"/{name}/never-put"}]
    arn = run(ecs, agent, [printing_env(secrets=gone)])
    task = wait_for_status(ecs, agent.cluster, arn, "STOPPED", timeout=30)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == (
        SECRETS_FAILED + "unable to retrieve secrets from ssm: service call has been retried 1 "
        f"time(s): invalid ssm parameters: /{name}/never-put"
    )
    assert "runtimeId" not in task["containers"][0]
    assert task_containers(arn) == []


# -- a private registry ---------------------------------------------------------------------


def bcrypt_line(user: str, password: str) -> str | None:
    """An htpasswd line (bcrypt, the only hash the registry reads; cost 4 keeps its checks
    fast), from the bcrypt package, apache2-utils' htpasswd or the C library's crypt(3)."""
    try:
        import bcrypt  # type: ignore[import-not-found,unused-ignore]

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        return f"{user}:{hashed}"
    except ImportError:
        pass
    if shutil.which("htpasswd"):
        out = subprocess.run(
            ["htpasswd", "-nbB", "-C", "4", user, password], capture_output=True, text=True
        )
        if out.returncode == 0:
            return out.stdout.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crypt: gone in Python 3.13
        try:
            import crypt
        except ImportError:
            return None
    if crypt.METHOD_BLOWFISH not in crypt.methods:
        return None
    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(address, user, password) of a registry on a loopback port that requires them."""
    if not REGISTRY_BINARY.exists():
        pytest.skip("no /usr/bin/docker-registry: run scripts/ensure-registry.sh")
    user, password = "robot", "reg-" + secrets.token_hex(8)
    line = bcrypt_line(user, password)
    if line is None:
        pytest.skip("no bcrypt: neither the bcrypt package, htpasswd nor crypt(3) makes one")
    (tmp_path / "htpasswd").write_text(line + "\n")
    port = free_port()
    (tmp_path / "config.yml").write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        f"auth: {{htpasswd: {{realm: portside-test, path: {tmp_path / 'htpasswd'}}}}}\n"
    )
    proc = Process(tmp_path / "registry.log", name="docker-registry", checked=False)
    proc.spawn([str(REGISTRY_BINARY), "serve", str(tmp_path / "config.yml")])

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 401
        except httpx.TransportError:
            return False

    try:
        proc.wait_until(answers, 10)
        yield f"127.0.0.1:{port}", user, password
    finally:
        proc.stop()


def test_repository_credentials_pull_from_a_registry_that_requires_them(
    server: ServerProcess,
    ecs: Any,
    agent: AgentProcess,
    registry: tuple[str, str, str],
    name: str,
) -> None:
    import docker as docker_sdk

    address, user, password = registry
    client = docker_sdk.from_env()
    repository, tag = f"{address}/{name}", "1"
    image = f"{repository}:{tag}"
    client.images.get(busybox_image()).tag(repository, tag)
    try:
        for chunk in client.api.push(
            repository,
            tag,
            stream=True,
            decode=True,
            auth_config={"username": user, "password": password},
        ):
            assert "error" not in chunk, chunk
    finally:
        client.images.remove(image)  # the agent must pull it (prefer-cached would not)
    credentials = server.client("secretsmanager").create_secret(
        Name=name, SecretString=json.dumps({"username": user, "password": password})
    )["ARN"]
    container = {"name": "app", "image": image, "memory": 32, "command": ["true"]}
    try:
        refused = wait_for_status(
            ecs, agent.cluster, run(ecs, agent, [container]), "STOPPED", timeout=30
        )
        assert refused["stopCode"] == "TaskFailedToStart"
        assert refused["stoppedReason"].startswith(PULL_FAILED), refused["stoppedReason"]
        # The daemon's words, as ECS passes them on.
        assert refused["stoppedReason"] == (
            f'{PULL_FAILED}Error response from daemon: Head "http://{address}/v2/{name}/'
            f'manifests/{tag}": no basic auth credentials'
        )

        container["repositoryCredentials"] = {"credentialsParameter": credentials}
        pulled = wait_for_status(
            ecs, agent.cluster, run(ecs, agent, [container]), "STOPPED", timeout=30
        )
        assert pulled["containers"][0].get("exitCode") == 0, pulled
        assert pulled["stopCode"] == "EssentialContainerExited"
        labels = json.dumps(
            docker(
                "inspect",
                "--format",
                "{{json .Config.Labels}}",
                pulled["containers"][0]["runtimeId"],
            )
        )
        assert password not in labels
        assert password.encode() not in b"".join(files_under(server.data_dir))
    finally:
        with contextlib.suppress(docker_sdk.errors.ImageNotFound):
            client.images.remove(image)
