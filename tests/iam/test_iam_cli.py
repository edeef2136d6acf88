"""The AWS CLI v2 (Debian's /usr/bin/aws, --endpoint-url) on IAM: a role for ECS tasks with
an AWS managed policy attached, read back decoded as the CLI shows it; a user with an access
key; IAM's error as the CLI prints it. (Each CLI v2 call costs seconds: the rest is boto3.)"""

from __future__ import annotations

import json
from typing import Any

from harness import ServerProcess
from iam_clients import ACCOUNT

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
EXECUTION = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def test_cli_role_and_user(server: ServerProcess, iam: Any, name: str) -> None:
    def aws(*args: str) -> Any:
        return server.aws("iam", *args, v2=True)

    made = aws("create-role", "--role-name", name,
               "--assume-role-policy-document", json.dumps(TRUST))  # fmt: skip
    assert made["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    aws("attach-role-policy", "--role-name", name, "--policy-arn", EXECUTION)
    role = aws("get-role", "--role-name", name)
    assert role["Role"]["AssumeRolePolicyDocument"] == TRUST

    aws("create-user", "--user-name", name)
    key = aws("create-access-key", "--user-name", name)
    assert key["AccessKey"]["Status"] == "Active"
    refused = server.aws("iam", "delete-user", "--user-name", name, v2=True, check=False)
    assert refused.returncode != 0
    assert "(DeleteConflict)" in refused.stderr
    assert "must delete access keys first" in refused.stderr

    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKey"]["AccessKeyId"])
    iam.delete_user(UserName=name)
    iam.detach_role_policy(RoleName=name, PolicyArn=EXECUTION)
    iam.delete_role(RoleName=name)
