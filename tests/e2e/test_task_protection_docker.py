"""The task scale-in protection endpoint inside a task on a real Docker Engine with
`portside agent`: `$ECS_AGENT_URI/task-protection/v1/state` read with busybox wget (GET) and
set with busybox nc (PUT, which wget cannot send), answered in the ECS agent's shapes and
seen by GetTaskProtection; a standalone task gets ECS's TASK_NOT_VALID failure."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e.conftest import AgentProcess
from e2e.images import busybox_image, docker_available
from e2e.test_tasks_docker import register, run, wait_task
from harness import ServerProcess

from portside.agent.credentials import routing
from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
# GET with wget; PUT with nc (wget sends GET and POST only). nc reads the request from a fifo
# held open until the answer is in: on a half-closed connection the endpoint answers nothing.
GET = 'wget -qO- "$ECS_AGENT_URI/task-protection/v1/state"'
PUT = (
    "u=${ECS_AGENT_URI#http://}; hp=${u%%/*}; p=/${u#*/}/task-protection/v1/state; "
    "b='BODY'; "
    "d=$(mktemp -d); mkfifo $d/in; nc ${hp%:*} ${hp##*:} < $d/in > $d/out & n=$!; "
    "exec 3>$d/in; "
    'printf "PUT %s HTTP/1.0\\r\\nHost: %s\\r\\nContent-Type: application/json\\r\\n'
    'Content-Length: %d\\r\\n\\r\\n%s" "$p" "$hp" ${#b} "$b" >&3; '
    "wait $n; exec 3>&-; cat $d/out; rm -r $d"
)


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


def _app(client: Any, task_arn: str) -> Any:
    found = client.containers.list(
        filters={"label": [f"{LABEL_TASK_ARN}={task_arn}", f"{LABEL_CONTAINER}=app"]}
    )
    assert len(found) == 1, found
    return found[0]


def _sh(container: Any, script: str, timeout: float = 20) -> str:
    """Run `script` in the container until it prints something (the endpoint may not listen
    on the task's network yet), and return its output."""
    deadline = time.monotonic() + timeout
    while True:
        code, out = container.exec_run(["sh", "-c", script])
        text = str(out.decode(errors="replace"))
        if (code == 0 and text.strip()) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def _put(container: Any, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(status line, JSON body) of a PUT to the endpoint."""
    out = _sh(container, PUT.replace("BODY", json.dumps(body)))
    head, _, rest = out.partition("\r\n\r\n")
    return head.splitlines()[0], json.loads(rest)


def test_protection_endpoint_inside_a_service_task(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    ecs = server.client()
    container = {"name": "app", "image": busybox_image(), "memory": 32, "command": SLEEP}
    td = register(ecs, [container])
    name = "prot-" + uuid.uuid4().hex[:8]
    ecs.create_service(cluster=agent.cluster, serviceName=name, taskDefinition=td, desiredCount=1)
    try:
        arn = _wait_service_task(ecs, agent, name)
        wait_task(ecs, agent, arn, "RUNNING")
        app = _app(client, arn)
        env = app.exec_run(["env"])[1].decode()
        assert "ECS_AGENT_URI=http://" in env

        got = json.loads(_sh(app, GET))
        assert got == {
            "protection": {"ExpirationDate": None, "ProtectionEnabled": False, "TaskArn": arn}
        }

        before = time.time()
        status, put = _put(app, {"ProtectionEnabled": True, "ExpiresInMinutes": 60})
        assert " 200 " in status + " ", status
        shown = put["protection"]
        assert shown["ProtectionEnabled"] is True and shown["TaskArn"] == arn
        api = ecs.get_task_protection(cluster=agent.cluster, tasks=[arn])["protectedTasks"][0]
        assert api["protectionEnabled"] is True
        expires = api["expirationDate"].timestamp()
        assert before + 3590 < expires < time.time() + 3610
        assert shown["ExpirationDate"].startswith(
            time.strftime("%Y-%m-%dT%H:%M", time.gmtime(expires))
        )

        # The agent's own refusals, in its shape.
        status, put = _put(app, {"ExpiresInMinutes": 60})
        assert " 400 " in status + " ", status
        assert put == {
            "error": {
                "Arn": arn,
                "Code": "InvalidParameterException",
                "Message": "Invalid request: does not contain 'ProtectionEnabled' field",
            }
        }
        status, put = _put(app, {"ProtectionEnabled": True, "ExpiresInMinutes": 0})
        assert " 400 " in status + " ", status
        assert put["error"]["Code"] == "InvalidParameterException"
        assert put["error"]["Arn"] == arn

        status, put = _put(app, {"ProtectionEnabled": False})
        assert put["protection"]["ProtectionEnabled"] is False
    finally:
        ecs.delete_service(cluster=agent.cluster, service=name, force=True)


def test_protection_endpoint_in_a_standalone_task(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    ecs = server.client()
    container = {"name": "app", "image": busybox_image(), "memory": 32, "command": SLEEP}
    arn = run(ecs, agent, register(ecs, [container]))
    wait_task(ecs, agent, arn, "RUNNING")
    got = json.loads(_sh(_app(client, arn), GET))
    assert got == {"failure": {"Arn": arn, "Detail": None, "Reason": "TASK_NOT_VALID"}}
    ecs.stop_task(cluster=agent.cluster, task=arn)
    wait_task(ecs, agent, arn, "STOPPED")


def _wait_service_task(ecs: Any, agent: AgentProcess, service: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        arns = ecs.list_tasks(cluster=agent.cluster, serviceName=service)["taskArns"]
        if arns:
            return str(arns[0])
        assert time.monotonic() < deadline, "the service never started a task"
        time.sleep(0.1)
