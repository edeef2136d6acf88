"""A task's secrets on the agent: asked for before anything of the task is made, given to the
driver as the container's environment, log options and pull auth (never its labels), dropped
once every container is created and never written to the state directory; a task whose
secrets cannot be had stops with the reason, no container made; a control plane that does not
answer is asked again a few times, then the task fails with ECS's network words."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from portside.agent.client import ApiError, ControlPlaneClient
from portside.agent.docker.config import create_kwargs
from portside.agent.driver import ContainerSpec, DriverError, TaskResources, TaskSpec
from portside.agent.runner import TaskRun, next_action
from portside.agent.secrets import RETRIEVAL, fetch
from portside.agent.simulated import SimulatedDriver
from portside.agent.specs import new_run
from portside.agent.state import AgentState, run_from_doc, run_to_doc
from portside.agent.worker import NO_CONTROL_PLANE, Worker
from portside.gateway.protocol import ContainerSecrets, RegistryAuth, TaskSecrets
from portside.testing.agent import InlineExecutor, agent_task, pools

INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/web/1"
TASK = "arn:aws:ecs:us-east-1:000000000000:task/web/" + "b" * 32
ASM = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf"
DEFINITION = {
    "family": "web",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "registry.example.com/app:1",
            "memory": 64,
            "environment": [{"name": "DB", "value": "plain"}, {"name": "KEEP", "value": "k"}],
            "secrets": [{"name": "DB", "valueFrom": ASM}, {"name": "API", "valueFrom": "/p/api"}],
            "repositoryCredentials": {"credentialsParameter": ASM},
            "logConfiguration": {
                "logDriver": "json-file",
                "secretOptions": [{"name": "tag", "valueFrom": "/p/tag"}],
            },
        },
        {"name": "side", "image": "busybox", "memory": 16},
    ],
}
RESOLVED = TaskSecrets(
    TASK,
    (
        ContainerSecrets(
            "app",
            (("DB", "db-secret-1"), ("API", "api-secret-2")),
            (("tag", "tag-secret-3"),),
            RegistryAuth("robot", "reg-secret-4"),
        ),
    ),
)
VALUES = ("db-secret-1", "api-secret-2", "tag-secret-3", "reg-secret-4")


class Recording(SimulatedDriver):
    """The simulated driver, keeping what it was asked to pull and create."""

    def __init__(self) -> None:
        super().__init__()
        self.pulls: list[tuple[str, RegistryAuth | None]] = []
        self.specs: list[ContainerSpec] = []
        self.setups = 0

    def pull(self, image: str, auth: RegistryAuth | None = None) -> str | None:
        self.pulls.append((image, auth))
        return super().pull(image, auth)

    def setup_task(self, task: TaskSpec) -> TaskResources:
        self.setups += 1
        return super().setup_task(task)

    def create(self, spec: ContainerSpec) -> str:
        self.specs.append(spec)
        return super().create(spec)


def make(tmp_path: Path, secrets: Any) -> tuple[Worker, Recording, AgentState]:
    driver = Recording()
    driver.containers_outlive_agent = True  # its runs are written down, as Docker's are
    state = AgentState(tmp_path / "state")
    worker = Worker(
        driver,
        instance_arn=INSTANCE,
        cluster="web",
        report=lambda run: None,
        env_for=lambda run, c: {"ECS_CONTAINER_METADATA_URI_V4": "http://x/v4/t"},
        persist=state.save_run,
        forget=state.forget,
        pools=pools(InlineExecutor()),
        secrets=secrets,
    )
    return worker, driver, state


def start(worker: Worker) -> TaskRun:
    worker.desired(agent_task(TASK, definition=DEFINITION), lambda: "token")
    return worker.runs[TASK]


def test_values_reach_the_containers_and_nowhere_else(tmp_path: Path) -> None:
    asked: list[str] = []

    def secrets(run: TaskRun) -> TaskSecrets:
        asked.append(run.arn)
        assert driver.setups == 0 and driver.pulls == []  # before anything is made
        return RESOLVED

    worker, driver, _ = make(tmp_path, secrets)
    run = start(worker)
    assert run.status == "RUNNING" and asked == [TASK]
    assert driver.pulls == [
        ("registry.example.com/app:1", RegistryAuth("robot", "reg-secret-4")),
        ("busybox", None),
    ]
    app, side = driver.specs
    assert dict(app.secrets.environment) == {"DB": "db-secret-1", "API": "api-secret-2"}
    assert side.secrets == ContainerSecrets("")
    assert run.secrets is None  # every container made: the values are not kept
    written = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    shown = repr(run) + repr(app) + str(run_to_doc(run)) + str(app.labels)
    for value in VALUES:
        assert value.encode() not in written and value not in shown
    assert written  # the run was written down (its containers were made)


def test_docker_gets_them_as_environment_and_log_options() -> None:
    app = DEFINITION["containerDefinitions"][0]  # type: ignore[index]
    spec = ContainerSpec(
        task=TaskSpec(TASK, "b" * 32, "web", INSTANCE, "web", 1, DEFINITION, None, None),
        name="app",
        definition=app,
        resources=TaskResources("bridge"),
        environment={"API": "agent-wins"},
        labels={"com.amazonaws.ecs.container-name": "app"},
        secrets=RESOLVED.of("app"),
    )
    kw = create_kwargs(spec)
    # A secret wins over the definition's environment; the agent's own variables over both.
    assert kw["environment"] == {"DB": "db-secret-1", "KEEP": "k", "API": "agent-wins"}
    assert kw["log_config"] == {"type": "json-file", "config": {"tag": "tag-secret-3"}}
    assert not any(v in str(kw["labels"]) for v in VALUES)
    missing = ContainerSecrets("app", (("DB", "x"), ("API", "y")))
    with pytest.raises(DriverError, match="log option 'tag'"):
        create_kwargs(replace(spec, secrets=missing))


def test_a_secret_that_cannot_be_had_stops_the_task_before_anything(tmp_path: Path) -> None:
    reason = RETRIEVAL + "unable to retrieve secrets from ssm: invalid ssm parameters: /p/api"
    worker, driver, _ = make(tmp_path, lambda run: TaskSecrets(run.arn, failure=reason))
    run = start(worker)
    assert run.status == "STOPPED"
    assert (run.stop_code, run.stopped_reason) == ("TaskFailedToStart", reason)
    assert (driver.setups, driver.pulls, driver.specs) == (0, [], [])
    assert all(c.runtime_id is None for c in run.containers.values())

    worker, driver, _ = make(tmp_path / "none", None)  # an agent without a control plane
    run = start(worker)
    assert (run.status, run.stopped_reason) == ("STOPPED", NO_CONTROL_PLANE)
    assert driver.specs == []


def test_a_task_without_secrets_asks_nothing(tmp_path: Path) -> None:
    def secrets(run: TaskRun) -> TaskSecrets:
        raise AssertionError("asked")

    worker, _, _ = make(tmp_path, secrets)
    plain = {"containerDefinitions": [{"name": "a", "image": "busybox", "memory": 8}]}
    worker.desired(agent_task(TASK, definition=plain), lambda: "t")
    assert worker.runs[TASK].status == "RUNNING"


# -- asking the control plane ----------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_control_plane_is_asked_again_then_fails_in_ecs_words() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    client = ControlPlaneClient(endpoint, "AK", "SK", "us-east-1")
    waits: list[float] = []
    url = endpoint + "/_portside/agent/v1/secrets"
    try:
        got = fetch(
            lambda arn: client.secrets("s", arn), TASK, DEFINITION, url=url, sleep=waits.append
        )
    finally:
        client.close()
    assert waits == [0.5, 1.0, 2.0]
    assert got.containers == () and got.failure is not None
    assert got.failure.startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution "
        "resource retrieval failed: unable to retrieve secret from asm: service call has been "
        f'retried 3 time(s): RequestError: send request failed caused by: Post "{url}": '
    ), got.failure
    ssm_only = {
        "containerDefinitions": [{"name": "a", "secrets": [{"name": "X", "valueFrom": "/x"}]}]
    }
    down = httpx.ConnectError("connection refused")
    got = fetch(_raises(down), TASK, ssm_only, url=url, attempts=2, sleep=waits.append)
    assert str(got.failure).startswith(
        RETRIEVAL + "unable to retrieve secrets from ssm: service call has been retried 1 time(s)"
    ), got.failure


def _raises(*outcomes: Any) -> Any:
    """An ask that raises (or returns) each outcome in turn."""
    left = list(outcomes)

    def ask(arn: str) -> TaskSecrets:
        out = left.pop(0) if len(left) > 1 else left[0]
        if isinstance(out, BaseException):
            raise out
        return out  # type: ignore[no-any-return]

    return ask


def test_faults_are_retried_refusals_are_not() -> None:
    waits: list[float] = []
    down = httpx.ConnectError("connection refused")
    got = fetch(
        _raises(down, ApiError(500, "ServerException", "x"), RESOLVED),
        TASK,
        DEFINITION,
        url="u",
        sleep=waits.append,
    )
    assert got == RESOLVED and waits == [0.5, 1.0]
    refused = ApiError(400, "AccessDeniedException", "not placed on an instance of yours")
    got = fetch(_raises(refused), TASK, DEFINITION, url="u", sleep=waits.append)
    assert got.failure == RETRIEVAL + "AccessDeniedException: not placed on an instance of yours"
    assert waits == [0.5, 1.0]


def test_a_restarted_agent_asks_again_only_for_containers_still_to_make() -> None:
    def kind(run: TaskRun) -> str | None:
        action = next_action(run)
        return None if action is None else action.kind

    run = new_run(agent_task(TASK, definition=DEFINITION), lambda: "t")
    assert kind(run) == "secrets"
    run.secrets = RESOLVED
    assert kind(run) == "setup"
    run.containers["app"].state, run.containers["app"].runtime_id = "running", "c1"
    restored = run_from_doc(run_to_doc(run))
    assert restored.secrets is None  # never written down
    assert kind(restored) == "secrets"  # "side" is still to be made
    restored.containers["side"].state, restored.containers["side"].runtime_id = "running", "c2"
    assert not restored.needs_secrets
