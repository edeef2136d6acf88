"""A task's execution role asked for its secrets, on a simulated fleet through boto3: the
role's policies allow one secret and one parameter; a task taking them runs, a task taking
another secret or parameter stops before any container with ECS's ResourceInitializationError
naming the role's session and the refused action. Images from Portside's ECR need the role's
ecr:GetAuthorizationToken, then ecr:BatchGetImage on the repository; a Fargate task's awslogs
stream needs logs:CreateLogStream. A role ECS cannot assume is refused by RunTask, and one
deleted after RunTask fails the task's start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from enforce_users import ACCOUNT, allow, document
from fleet import start_agent, wait_for_status
from harness import REGION, ServerProcess

from portside.agent.session import Agent

PREFIX = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: "
)


@pytest.fixture(scope="module")
def host(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    cluster = "exec-role-" + uuid.uuid4().hex[:8]
    server.client().create_cluster(clusterName=cluster)
    agent = start_agent(server, tmp_path_factory.mktemp("exec-role"), cluster)
    try:
        yield agent
    finally:
        agent.stop()


def _run(
    server: ServerProcess,
    agent: Agent,
    family: str,
    role: str,
    value_from: str | None = None,
    image: str = "busybox",
    **task: Any,
) -> str:
    ecs = server.client()
    container: dict[str, Any] = {"name": "app", "image": image, "memory": 32}
    if value_from is not None:
        container["secrets"] = [{"name": "X", "valueFrom": value_from}]
    ecs.register_task_definition(
        family=family, executionRoleArn=role, containerDefinitions=[container], **task
    )
    out = ecs.run_task(cluster=agent.config.cluster, taskDefinition=family)
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def test_the_execution_role_must_allow_each_secret(
    server: ServerProcess, host: Agent, iam: Any, name: str
) -> None:
    sm, ssm, ecs = server.client("secretsmanager"), server.client("ssm"), server.client()
    allowed = sm.create_secret(Name=f"{name}/ok", SecretString="yes")["ARN"]
    other = sm.create_secret(Name=f"{name}/other", SecretString="no")["ARN"]
    ssm.put_parameter(Name=f"/{name}/ok", Value="yes", Type="String")
    ssm.put_parameter(Name=f"/{name}/other", Value="no", Type="String")
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    parameter_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name}/ok"
    iam.put_role_policy(
        RoleName=name,
        PolicyName="secrets",
        PolicyDocument=document(
            allow("secretsmanager:GetSecretValue", allowed),
            allow("ssm:GetParameters", parameter_arn),
        ),
    )
    try:
        for value_from in (allowed, f"/{name}/ok"):
            arn = _run(server, host, name, role, value_from)
            wait_for_status(ecs, host.config.cluster, arn, "RUNNING")
            ecs.stop_task(cluster=host.config.cluster, task=arn)

        arn = _run(server, host, name, role, other)
        task = wait_for_status(ecs, host.config.cluster, arn, "STOPPED")
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{arn.rsplit('/', 1)[1]}"
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["stoppedReason"].startswith(
            PREFIX + "unable to retrieve secret from asm: service call has been retried 1 "
            f"time(s): failed to fetch secret {other} from secrets manager: "
            f"AccessDeniedException: User: {session} is not authorized to perform: "
            f"secretsmanager:GetSecretValue on resource: {other} because no identity-based "
            "policy allows the secretsmanager:GetSecretValue action status code: 400, request "
            "id: "
        ), task["stoppedReason"]
        assert [c.get("runtimeId") for c in task["containers"]] == [None]

        arn = _run(server, host, name, role, f"/{name}/other")
        task = wait_for_status(ecs, host.config.cluster, arn, "STOPPED")
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{arn.rsplit('/', 1)[1]}"
        assert task["stoppedReason"].startswith(
            PREFIX + "unable to retrieve secrets from ssm: service call has been retried 1 "
            f"time(s): AccessDeniedException: User: {session} is not authorized to perform: "
            f"ssm:GetParameters on resource: arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name}/"
            "other because no identity-based policy allows the ssm:GetParameters action "
            "status code: 400, request id: "
        ), task["stoppedReason"]
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="secrets")
        iam.delete_role(RoleName=name)


def _trusting_role(iam: Any, name: str, *statements: dict[str, Any]) -> str:
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    role = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document(*statements))
    return role


def _forget(iam: Any, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def test_images_from_portsides_ecr_need_the_roles_ecr_permissions(
    server: ServerProcess, host: Agent, iam: Any, name: str
) -> None:
    ecs = server.client()
    uri = server.client("ecr").create_repository(repositoryName=name)["repository"]["repositoryUri"]
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"
    cluster = host.config.cluster
    try:
        role = _trusting_role(iam, name)  # no policy at all
        arn = _run(server, host, name, role, image=f"{uri}:v1")
        task = wait_for_status(ecs, cluster, arn, "STOPPED")
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{arn.rsplit('/', 1)[1]}"
        assert task["stoppedReason"].startswith(
            PREFIX + "unable to retrieve ecr registry auth: service call has been retried 3 "
            f"time(s): AccessDeniedException: User: {session} is not authorized to perform: "
            "ecr:GetAuthorizationToken on resource: * because no identity-based policy allows "
            "the ecr:GetAuthorizationToken action"
        ), task["stoppedReason"]

        token = allow("ecr:GetAuthorizationToken", "*")
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document(token))
        arn = _run(server, host, name, role, image=f"{uri}:v1")
        task = wait_for_status(ecs, cluster, arn, "STOPPED")
        host_part = uri.split("/", 1)[0]
        assert task["stoppedReason"] == (
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed "
            f"to resolve ref {uri}:v1: pulling from host {host_part} failed with status code "
            "[manifests v1]: 403 Forbidden"
        )
        assert task["stopCode"] == "TaskFailedToStart"

        pulls = allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], repository)
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document(token, pulls))
        arn = _run(server, host, name, role, image=f"{uri}:v1")
        wait_for_status(ecs, cluster, arn, "RUNNING")
        ecs.stop_task(cluster=cluster, task=arn)
        # Another registry's image is not ECR's business: the role needs nothing for it.
        iam.delete_role_policy(RoleName=name, PolicyName="p")
        arn = _run(server, host, name, role, image="registry.example.com/app:1")
        wait_for_status(ecs, cluster, arn, "RUNNING")
        ecs.stop_task(cluster=cluster, task=arn)
    finally:
        _forget(iam, name)


def test_a_role_ecs_cannot_assume_is_refused_by_run_task_and_create_service(
    server: ServerProcess, host: Agent, iam: Any, name: str
) -> None:
    ecs = server.client()
    cluster = host.config.cluster
    missing = f"arn:aws:iam::{ACCOUNT}:role/not-in-iam-{name}"
    untrusting = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=document(
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]["Arn"]
    try:
        for key, role in (("executionRoleArn", missing), ("taskRoleArn", untrusting)):
            family = f"{name}-{key}"
            ecs.register_task_definition(
                family=family,
                containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
                **{key: role},
            )
            expected = (
                f"ECS was unable to assume the role '{role}' that was provided for this task. "
                "Please verify that the role being passed has the proper trust relationship "
                "and permissions and that your IAM user has permissions to pass this role."
            )
            with pytest.raises(ecs.exceptions.ClientException) as refused:
                ecs.run_task(cluster=cluster, taskDefinition=family)
            assert refused.value.response["Error"]["Message"] == expected
            with pytest.raises(ecs.exceptions.ClientException) as refused:
                ecs.create_service(
                    cluster=cluster, serviceName=family, taskDefinition=family, desiredCount=1
                )
            assert refused.value.response["Error"]["Message"] == expected
            assert ecs.describe_services(cluster=cluster, services=[family])["services"] == []
        # RunTask's override names the role by its name: a role IAM has, trusting ECS.
        trusted = _trusting_role(iam, f"{name}-ok")
        out = ecs.run_task(
            cluster=cluster,
            taskDefinition=f"{name}-taskRoleArn",
            overrides={"taskRoleArn": f"{name}-ok"},
        )
        assert out["failures"] == [] and trusted.endswith(f"/{name}-ok")
        ecs.stop_task(cluster=cluster, task=out["tasks"][0]["taskArn"])
    finally:
        iam.delete_role(RoleName=name)
        _forget(iam, f"{name}-ok")
