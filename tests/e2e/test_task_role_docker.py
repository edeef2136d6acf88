"""Task roles on a real Docker Engine with `portside agent`: inside a task whose role trusts
ecs-tasks.amazonaws.com, `wget http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
returns credentials whose key signs GetCallerIdentity as the task's role session, in awsvpc
and bridge mode; AWS_ENDPOINT_URL (http://169.254.170.2) reaches Portside's API from the
task; a task without a role finds no AWS_CONTAINER_CREDENTIALS_RELATIVE_URI.

The agent is killed at the end (kill -9), so the test removes its nat chains itself.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_query import query_client
from botocore.config import Config
from e2e.conftest import AgentProcess
from e2e.images import busybox_image, docker_available
from e2e.test_tasks_docker import AWSVPC, register, run, wait_task
from harness import REGION, ServerProcess

from portside.agent.credentials import routing
from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

ACCOUNT = "000000000000"
SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]


@pytest.fixture(scope="module")
def client() -> Any:
    import docker

    return docker.from_env()


@pytest.fixture
def agent(start_agent: Callable[..., AgentProcess]) -> Iterator[AgentProcess]:
    proc = start_agent()
    yield proc
    proc.close()
    routing.remove(routing.owner_of(proc.state_dir))


def _role(server: ServerProcess, principal: dict[str, Any]) -> tuple[str, str]:
    name = "task-role-" + uuid.uuid4().hex[:8]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }
    iam = query_client(server, "iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    return name, str(role["Arn"])


def _app(client: Any, task_arn: str) -> Any:
    found = client.containers.list(
        filters={"label": [f"{LABEL_TASK_ARN}={task_arn}", f"{LABEL_CONTAINER}=app"]}
    )
    assert len(found) == 1, found
    return found[0]


def _sh(container: Any, script: str, timeout: float = 20) -> tuple[int, str]:
    """Run `script` in the container until it succeeds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        code, out = container.exec_run(["sh", "-c", script])
        text = out.decode(errors="replace")
        if code == 0 or time.monotonic() > deadline:
            return code, text
        time.sleep(0.2)


@pytest.mark.parametrize("mode", ["awsvpc", "bridge"])
def test_task_role_credentials_inside_the_task(
    server: ServerProcess, agent: AgentProcess, client: Any, mode: str
) -> None:
    ecs = server.client()
    name, role = _role(server, {"Service": "ecs-tasks.amazonaws.com"})
    container = {"name": "app", "image": busybox_image(), "memory": 32, "command": SLEEP}
    td = register(ecs, [container], taskRoleArn=role, networkMode=mode)
    extra = {"networkConfiguration": AWSVPC} if mode == "awsvpc" else {}
    arn = run(ecs, agent, td, **extra)
    wait_task(ecs, agent, arn, "RUNNING")
    app = _app(client, arn)

    code, out = _sh(app, "wget -qO- http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    assert code == 0, f"{out}\nagent log:\n{agent.log()[-3000:]}"
    creds = json.loads(out)
    assert creds["RoleArn"] == role
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["Token"],
        config=Config(retries={"max_attempts": 1}),
    )
    task_id = arn.rsplit("/", 1)[1]
    assert sts.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{task_id}"
    )

    # AWS_ENDPOINT_URL reaches Portside's API: an unsigned call is refused by it.
    code, out = _sh(app, "echo $AWS_ENDPOINT_URL; wget -qO- --post-data=x $AWS_ENDPOINT_URL/ 2>&1")
    assert out.startswith("http://169.254.170.2\n"), out
    assert "403" in out, out

    # An id the agent never gave is the ECS agent's 400.
    code, out = _sh(app, "wget -qO- http://169.254.170.2/v2/credentials/nope 2>&1", timeout=0)
    assert code != 0 and "400" in out, out
    ecs.stop_task(cluster=agent.cluster, task=arn)
    wait_task(ecs, agent, arn, "STOPPED")


def test_task_without_role_finds_no_credentials(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    ecs = server.client()
    container = {"name": "app", "image": busybox_image(), "memory": 32, "command": SLEEP}
    arn = run(ecs, agent, register(ecs, [container]))
    wait_task(ecs, agent, arn, "RUNNING")
    code, out = _app(client, arn).exec_run(["env"])
    assert code == 0
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in out.decode()
    assert "ECS_CONTAINER_METADATA_URI_V4" in out.decode()
    ecs.stop_task(cluster=agent.cluster, task=arn)
    wait_task(ecs, agent, arn, "STOPPED")
