"""Task secrets on a simulated fleet, through boto3 against a real server: the agent asks the
gateway over HTTP when the task starts, exactly as a Docker agent does. With the secrets
there the task runs, its containers get the values, and no API answer shows them; with one
missing, the task stops with ECS's stoppedReason and stopCode, no container made; a changed
secret reaches the next task and leaves a running one as it was."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from aws_query import query_client
from fleet import start_agent, wait_for_status
from harness import ServerProcess
from roles import task_role

from portside.agent.driver import ContainerSpec
from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver

EXEC_ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"
PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: "


class Creating(SimulatedDriver):
    """The simulated driver, keeping the spec of every container it creates."""

    def __init__(self) -> None:
        super().__init__()
        self.specs: list[ContainerSpec] = []

    def create(self, spec: ContainerSpec) -> str:
        self.specs.append(spec)
        return super().create(spec)

    def environment_of(self, task_arn: str) -> dict[str, str]:
        return dict(next(s for s in self.specs if s.task.task_arn == task_arn).secrets.environment)


@pytest.fixture(scope="module")
def host(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    cluster = "secrets-" + uuid.uuid4().hex[:8]
    server.client().create_cluster(clusterName=cluster)
    task_role(query_client(server, "iam"), EXEC_ROLE)
    agent = start_agent(server, tmp_path_factory.mktemp("secrets"), cluster, driver=Creating())
    try:
        yield agent
    finally:
        agent.stop()


def driver_of(agent: Agent) -> Creating:
    assert isinstance(agent.driver, Creating)
    return agent.driver


def run(server: ServerProcess, agent: Agent, family: str, secrets: list[dict[str, str]]) -> str:
    ecs = server.client()
    ecs.register_task_definition(
        family=family,
        executionRoleArn=EXEC_ROLE,
        containerDefinitions=[
            {"name": "app", "image": "busybox", "memory": 32, "secrets": secrets}
        ],
    )
    out = ecs.run_task(cluster=agent.config.cluster, taskDefinition=family)
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def test_present_secrets_run_and_no_answer_shows_them(
    server: ServerProcess, host: Agent, name: str
) -> None:
    sm, ssm, ecs = server.client("secretsmanager"), server.client("ssm"), server.client()
    whole, password, parameter = (f"{what}-{uuid.uuid4().hex}" for what in ("w", "p", "s"))
    api = sm.create_secret(Name=f"{name}/api", SecretString=whole)["ARN"]
    db = sm.create_secret(Name=f"{name}/db", SecretString=json.dumps({"password": password}))
    ssm.put_parameter(Name=f"/{name}/param", Value=parameter, Type="SecureString")
    arn = run(
        server,
        host,
        name,
        [
            {"name": "WHOLE", "valueFrom": api},
            {"name": "PASSWORD", "valueFrom": db["ARN"] + ":password::"},
            {"name": "PARAMETER", "valueFrom": f"/{name}/param"},
        ],
    )
    task = wait_for_status(ecs, host.config.cluster, arn, "RUNNING")
    assert driver_of(host).environment_of(arn) == {
        "WHOLE": whole,
        "PASSWORD": password,
        "PARAMETER": parameter,
    }
    shown = json.dumps(
        [
            task,
            ecs.describe_tasks(cluster=host.config.cluster, tasks=[arn], include=["TAGS"]),
            ecs.describe_task_definition(taskDefinition=name),
        ],
        default=str,
    )
    assert f"/{name}/param" in shown  # the references are shown, as ECS shows them
    for value in (whole, password, parameter):
        assert value not in shown

    # A changed secret reaches the next task; the running one keeps what it started with.
    sm.put_secret_value(SecretId=api, SecretString="rotated-" + whole)
    again = run(server, host, name, [{"name": "WHOLE", "valueFrom": api}])
    wait_for_status(ecs, host.config.cluster, again, "RUNNING")
    assert driver_of(host).environment_of(again) == {"WHOLE": "rotated-" + whole}
    assert driver_of(host).environment_of(arn)["WHOLE"] == whole
    assert sum(s.task.task_arn == arn for s in driver_of(host).specs) == 1


@pytest.mark.parametrize(
    ("reference", "detail"),
    [
        ("{secret}-gone", "unable to retrieve secret from asm"),
        ("{secret}:nokey::", "did not contain json key nokey"),
        ("/{name}/missing", "invalid ssm parameters: /{name}/missing"),
    ],
)
def test_a_missing_secret_stops_the_task_before_any_container(
    server: ServerProcess, host: Agent, name: str, reference: str, detail: str
) -> None:
    secret = server.client("secretsmanager").create_secret(Name=name, SecretString="{}")["ARN"]
    arn = run(
        server, host, name, [{"name": "X", "valueFrom": reference.format(secret=secret, name=name)}]
    )
    task = wait_for_status(server.client(), host.config.cluster, arn, "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith(PREFIX + "execution resource retrieval failed: ")
    assert detail.format(name=name) in task["stoppedReason"], task["stoppedReason"]
    assert [c.get("runtimeId") for c in task["containers"]] == [None]
    assert [c["lastStatus"] for c in task["containers"]] == ["STOPPED"]
    assert not any(s.task.task_arn == arn for s in driver_of(host).specs)


def test_the_instances_advertise_what_secrets_need(server: ServerProcess, host: Agent) -> None:
    ecs = server.client()
    found = ecs.describe_container_instances(
        cluster=host.config.cluster, containerInstances=[host.instance_arn]
    )["containerInstances"][0]
    names = {a["name"] for a in found["attributes"]}
    for capability in (
        "ecs.capability.secrets.asm.environment-variables",
        "ecs.capability.secrets.ssm.environment-variables",
        "ecs.capability.secrets.asm.bootstrap.log-driver",
        "ecs.capability.secrets.ssm.bootstrap.log-driver",
        "ecs.capability.private-registry-authentication.secretsmanager",
    ):
        assert capability in names
