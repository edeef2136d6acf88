"""Task roles through a real server and an in-process agent on the simulated driver: a task
whose role trusts ecs-tasks.amazonaws.com finds AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, the
agent's endpoint answers it in the ECS agent's shape with a key that signs as the task's
role session; an unknown id is the ECS agent's 400; a task without a role gets no variable.
A role ECS cannot assume is refused by RunTask (tests/iam_enforce/test_enforce_execution.py),
and one changed after RunTask stops the task (tests/gateway/test_task_credentials_desk.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import httpx
from aws_query import query_client
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from fleet import register, start_fleet, wait_for_status
from harness import REGION, ServerProcess

ACCOUNT = "000000000000"


def _role(server: ServerProcess, name: str, principal: dict[str, Any]) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }
    iam = query_client(server, "iam")
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def test_task_role_credentials(server: ServerProcess, tmp_path: Path, name: str) -> None:
    role = _role(server, name, {"Service": "ecs-tasks.amazonaws.com"})
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        family = register(ecs, name, taskRoleArn=role)
        task = ecs.run_task(cluster=name, taskDefinition=family)["tasks"][0]
        wait_for_status(ecs, name, task["taskArn"], "RUNNING")
        agent = fleet.agents[0]
        run = fleet.run_of(task)
        env = agent.env_for(run, run.containers["app"])
        uri = env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        assert uri == f"/v2/credentials/{agent.task_roles.id_for(task['taskArn'])}"
        assert env["AWS_ENDPOINT_URL"] == "http://169.254.170.2"

        base = f"http://127.0.0.1:{agent.config.metadata_port}"
        answer = httpx.get(base + uri)
        assert answer.status_code == 200
        creds = answer.json()
        assert set(creds) == {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
        assert creds["RoleArn"] == role
        assert creds["AccessKeyId"].startswith("ASIA")
        assert creds["Expiration"].endswith("Z")
        # The same session again while it is fresh.
        assert httpx.get(base + uri).json()["AccessKeyId"] == creds["AccessKeyId"]

        sts = boto3.client(
            "sts",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["Token"],
            config=Config(retries={"max_attempts": 1}),
        )
        task_id = task["taskArn"].rsplit("/", 1)[1]
        assert sts.get_caller_identity()["Arn"] == (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{task_id}"
        )

        # AWS_ENDPOINT_URL: a call signed for http://169.254.170.2 reaches the API through
        # the agent's listener (the host routes 169.254.170.2:80 there), its Host kept.
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        request = AWSRequest(
            "POST",
            "http://169.254.170.2/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        key = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"])
        SigV4Auth(key, "sts", REGION).add_auth(request)
        headers = {**dict(request.headers.items()), "Host": "169.254.170.2"}
        passed = httpx.post(base + "/", content=body, headers=headers)
        assert passed.status_code == 200, passed.text
        assert f"assumed-role/{name}/{task_id}" in passed.text

        unknown = httpx.get(base + "/v2/credentials/00000000-0000-0000-0000-000000000000")
        assert unknown.status_code == 400
        assert unknown.json() == {
            "code": "InvalidIdInRequest",
            "message": "CredentialsV2Request: Credentials not found",
            "HTTPErrorCode": 400,
        }
        # A stopped task's id no longer answers.
        ecs.stop_task(cluster=name, task=task["taskArn"])
        wait_for_status(ecs, name, task["taskArn"], "STOPPED")
        assert httpx.get(base + uri).status_code == 400


def test_task_without_role_gets_no_credentials(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with start_fleet(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        family = register(ecs, name)
        task = ecs.run_task(cluster=name, taskDefinition=family)["tasks"][0]
        wait_for_status(ecs, name, task["taskArn"], "RUNNING")
        run = fleet.run_of(task)
        env = fleet.agents[0].env_for(run, run.containers["app"])
        assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in env
        assert "AWS_ENDPOINT_URL" not in env
