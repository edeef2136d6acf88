"""The AWS CLI inside a task, on a real Docker Engine with `portside agent`, with nothing but
the default credential chain: a task whose role allows only logs:PutLogEvents on one log
group puts an event there (root reads it back with GetLogEvents) and is refused
ecs:ListClusters with AWS's AccessDeniedException naming its role session; its credentials
are refreshed across an expiry (sessions of 20 s here) and the CLI keeps working; a task
without a role finds no credentials.

The test images have no AWS CLI and no registry is reachable, so the task mounts the host's
read-only (host volumes, as a user mounts tools into a container): /usr, /lib and /lib64 for
the dynamic loader and the C libraries, and the project's venv with the Python it was made
from for AWS CLI v1, which honours AWS_ENDPOINT_URL (the agent sets it to
http://169.254.170.2 for a task with a role), so `aws logs put-log-events ...` needs no
flag. Debian's /usr/bin/aws (CLI v2 2.9, older than AWS_ENDPOINT_URL) is run once with
`--endpoint-url "$AWS_ENDPOINT_URL"` to show CLI v2's container provider reads the same.

The server is the module's own, started with PORTSIDE_TASK_CREDENTIALS_TEST_SECONDS=20 (the
test knob of gateway/credentials.py: operators' sessions last at least 15 minutes), so the
agent asks for a new session at half life, 10 s.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_query import query_client
from botocore.config import Config
from botocore.exceptions import ClientError
from e2e.conftest import AgentProcess, remove_made_by
from e2e.images import busybox_image, docker_available
from e2e.test_tasks_docker import AWSVPC, register, run, wait_task
from harness import REGION, ServerProcess, free_port

from portside.agent.credentials import routing
from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

ACCOUNT = "000000000000"
SESSION_SECONDS = 20
SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
VENV = Path(sys.prefix)  # /work/main/.venv
PYTHON_HOME = Path(sys.base_prefix)  # the Python the venv was made from
CLI_V1 = VENV / "bin" / "aws"
CLI_V2 = "/usr/bin/aws"
HOST_PATHS = {"usr": "/usr", "lib": "/lib", "lib64": "/lib64", "venv": str(VENV)}
if not PYTHON_HOME.is_relative_to("/usr"):
    HOST_PATHS["python"] = str(PYTHON_HOME)


class ShortSessionServer(ServerProcess):
    """A server whose task role sessions last SESSION_SECONDS."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "PORTSIDE_TASK_CREDENTIALS_TEST_SECONDS": str(SESSION_SECONDS)}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, AgentProcess]]:
    root = tmp_path_factory.mktemp("cli-roles")
    srv = ShortSessionServer(root / "server", free_port())
    cluster = "cli" + uuid.uuid4().hex[:8]
    agent = AgentProcess(srv, cluster, root / cluster)
    try:
        srv.start().client().create_cluster(clusterName=cluster)
        yield srv, agent.start()
    finally:
        agent.kill()
        srv.stop()
        remove_made_by(agent.instance_arns)
        routing.remove(routing.owner_of(agent.state_dir))
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def client() -> Any:
    import docker

    return docker.from_env()


def _cli_task(ecs: Any, agent: AgentProcess, **extra: Any) -> str:
    """A task whose container can run the host's AWS CLIs (read-only host mounts)."""
    container = {
        "name": "app",
        "image": busybox_image(),
        "memory": 256,
        "command": SLEEP,
        "stopTimeout": 2,
        # What a user sets for an EC2 task (the agent gives a region to Fargate tasks only).
        "environment": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "AWS_DEFAULT_REGION", "value": REGION},
        ],
        "mountPoints": [
            {"sourceVolume": name, "containerPath": path, "readOnly": True}
            for name, path in HOST_PATHS.items()
        ],
    }
    volumes = [{"name": name, "host": {"sourcePath": path}} for name, path in HOST_PATHS.items()]
    td = register(ecs, [container], volumes=volumes, networkMode="awsvpc", **extra)
    arn = run(ecs, agent, td, networkConfiguration=AWSVPC)
    wait_task(ecs, agent, arn, "RUNNING")
    return arn


def _app(client: Any, task_arn: str) -> Any:
    found = client.containers.list(
        filters={"label": [f"{LABEL_TASK_ARN}={task_arn}", f"{LABEL_CONTAINER}=app"]}
    )
    assert len(found) == 1, found
    return found[0]


def _sh(container: Any, script: str) -> tuple[int, str, str]:
    """`script` in the container: exit code, stdout, stderr."""
    code, (out, err) = container.exec_run(["sh", "-c", script], demux=True)
    return code, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")


def _credentials(container: Any) -> dict[str, Any]:
    uri = "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
    code, out, err = _sh(container, f"wget -qO- {uri}")
    assert code == 0, err
    return dict(json.loads(out))


def _expiration(creds: dict[str, Any]) -> float:
    return (
        datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )


def _put(container: Any, group: str, stream: str, message: str) -> None:
    code, out, err = _sh(
        container,
        f"{CLI_V1} logs put-log-events --log-group-name {group} --log-stream-name {stream} "
        f'--log-events "timestamp=$(date +%s)000,message={message}"',
    )
    assert code == 0, f"exit {code}\n{out}\n{err}"


def _messages(logs: Any, group: str, stream: str) -> list[str]:
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in events["events"]]


def test_cli_in_a_task_has_exactly_its_roles_permissions(
    own: tuple[ServerProcess, AgentProcess], client: Any
) -> None:
    server, agent = own
    ecs = server.client()
    logs = server.client("logs")
    group, stream = "/app/" + uuid.uuid4().hex[:8], "events"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    other = group + "-other"
    logs.create_log_group(logGroupName=other)
    logs.create_log_stream(logGroupName=other, logStreamName=stream)

    role_name = "cli-role-" + uuid.uuid4().hex[:8]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = query_client(server, "iam")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "logs:PutLogEvents",
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*",
            }
        ],
    }
    iam.put_role_policy(RoleName=role_name, PolicyName="put", PolicyDocument=json.dumps(allow))

    arn = _cli_task(ecs, agent, taskRoleArn=role["Role"]["Arn"])
    app = _app(client, arn)
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{arn.rsplit('/', 1)[1]}"

    # The default chain: no keys, no endpoint flag; the role's one permission works.
    first = _credentials(app)
    _put(app, group, stream, "first")
    assert _messages(logs, group, stream) == ["first"]

    # Everything else is refused, with AWS's message naming the role session.
    code, out, err = _sh(app, f"{CLI_V1} ecs list-clusters")
    assert code != 0, out
    assert (
        "An error occurred (AccessDeniedException) when calling the ListClusters operation: "
        f"User: {session} is not authorized to perform: ecs:ListClusters on resource: * "
        "because no identity-based policy allows the ecs:ListClusters action"
    ) in err, err
    code, out, err = _sh(
        app,
        f"{CLI_V1} logs put-log-events --log-group-name {other} --log-stream-name {stream} "
        '--log-events "timestamp=$(date +%s)000,message=no"',
    )
    assert code != 0 and "AccessDeniedException" in err, (out, err)
    assert _messages(logs, other, stream) == []

    # CLI v2 (Debian's 2.9) reads the same container credentials.
    code, out, err = _sh(
        app, f'{CLI_V2} sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL" --output json'
    )
    assert code == 0, err
    assert json.loads(out)["Arn"] == session

    # Across the first session's expiry: the old key is refused, the CLI goes on working
    # with a session the agent asked for since.
    old = boto3.client(
        "logs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=first["AccessKeyId"],
        aws_secret_access_key=first["SecretAccessKey"],
        aws_session_token=first["Token"],
        config=Config(retries={"max_attempts": 1}),
    )

    def refusal() -> str:
        try:
            old.describe_log_groups()  # never allowed: refused until the key expires
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        raise AssertionError("the role may DescribeLogGroups")

    deadline = time.monotonic() + SESSION_SECONDS + 10
    while (answer := refusal()) == "AccessDeniedException" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert answer == "ExpiredTokenException"
    assert time.time() >= _expiration(first)  # not before it said
    _put(app, group, stream, "second")
    assert _messages(logs, group, stream) == ["first", "second"]
    now = _credentials(app)
    assert now["AccessKeyId"] != first["AccessKeyId"]
    assert _expiration(now) > _expiration(first)

    ecs.stop_task(cluster=agent.cluster, task=arn)
    wait_task(ecs, agent, arn, "STOPPED")


def test_cli_in_a_task_without_a_role_finds_no_credentials(
    own: tuple[ServerProcess, AgentProcess], client: Any
) -> None:
    server, agent = own
    ecs = server.client()
    arn = _cli_task(ecs, agent)
    app = _app(client, arn)
    code, out, err = _sh(app, f"{CLI_V1} sts get-caller-identity")
    assert code != 0, out
    assert "Unable to locate credentials" in err, err
    ecs.stop_task(cluster=agent.cluster, task=arn)
    wait_task(ecs, agent, arn, "STOPPED")
