"""Calls a new user's tools make, through boto3 and the AWS CLI v2 against a real server:
ListClusters and DescribeClusters right after DeleteCluster, an EFS volume without
rootDirectory, DescribeContainerInstances with no instance, RegisterContainerInstance from
an instance identity document alone, the agent-facing actions called by a user; and a probe
of every action in botocore's ECS model for the ones still not implemented."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def test_deleted_cluster_is_listed_inactive(server: ServerProcess, ecs: Any, name: str) -> None:
    arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    assert ecs.delete_cluster(cluster=name)["cluster"]["status"] == "INACTIVE"
    listed = [a for p in ecs.get_paginator("list_clusters").paginate() for a in p["clusterArns"]]
    assert arn in listed
    [shown] = ecs.describe_clusters(clusters=[name])["clusters"]
    assert shown["status"] == "INACTIVE"
    cli = server.aws("ecs", "list-clusters", v2=True)
    assert arn in cli["clusterArns"]
    cli = server.aws("ecs", "describe-clusters", "--clusters", name, v2=True)
    assert cli["clusters"][0]["status"] == "INACTIVE"
    # Deleted: no task runs there.
    assert _error(ecs.list_tasks, cluster=name)["Code"] == "ClusterNotFoundException"


def test_efs_volume_root_directory_defaults(server: ServerProcess, ecs: Any, name: str) -> None:
    volume = {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1234abcd"}}
    out = ecs.register_task_definition(
        family=name,
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
        volumes=[volume],
    )["taskDefinition"]
    assert out["volumes"] == [
        {
            "name": "data",
            "efsVolumeConfiguration": {"fileSystemId": "fs-1234abcd", "rootDirectory": "/"},
        }
    ]
    cli = server.aws("ecs", "describe-task-definition", "--task-definition", name, v2=True)
    efs = cli["taskDefinition"]["volumes"][0]["efsVolumeConfiguration"]
    assert efs == {"fileSystemId": "fs-1234abcd", "rootDirectory": "/"}
    given = {"fileSystemId": "fs-1234abcd", "rootDirectory": "/exports"}
    again = ecs.register_task_definition(
        family=name,
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
        volumes=[{"name": "data", "efsVolumeConfiguration": given}],
    )["taskDefinition"]
    assert again["volumes"][0]["efsVolumeConfiguration"] == given


def test_describe_no_container_instance(server: ServerProcess, ecs: Any) -> None:
    err = _error(ecs.describe_container_instances, cluster="default", containerInstances=[])
    assert err == {
        "Code": "InvalidParameterException",
        "Message": "Container instance cannot be empty.",
    }
    proc = server.aws(
        "ecs", "describe-container-instances", "--container-instances", "[]", v2=True, check=False
    )
    assert proc.returncode != 0 and "Container instance cannot be empty." in proc.stderr


def test_register_from_identity_document_alone(server: ServerProcess, ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    document = {
        "accountId": "000000000000",
        "architecture": "x86_64",
        "availabilityZone": "us-east-1b",
        "imageId": "ami-0abcdef1234567890",
        "instanceId": "i-" + uuid.uuid4().hex[:17],
        "instanceType": "m5.large",
        "privateIp": "10.0.1.23",
        "region": "us-east-1",
    }
    inst = ecs.register_container_instance(
        cluster=name, instanceIdentityDocument=json.dumps(document)
    )["containerInstance"]
    try:
        total = {r["name"]: r for r in inst["registeredResources"]}
        assert total["CPU"]["integerValue"] == 2048
        assert total["MEMORY"]["integerValue"] == 8192
        assert set(total["PORTS"]["stringSetValue"]) == {"22", "2375", "2376", "51678", "51679"}
        assert inst["ec2InstanceId"] == document["instanceId"]
        attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
        assert attrs["ecs.ami-id"] == "ami-0abcdef1234567890"
        assert attrs["ecs.availability-zone"] == "us-east-1b"
        assert attrs["ecs.instance-type"] == "m5.large"

        # The CLI v2, a Graviton type.
        document2 = {
            **document,
            "instanceId": "i-" + uuid.uuid4().hex[:17],
            "instanceType": "t4g.small",
        }
        cli = server.aws(
            "ecs", "register-container-instance", "--cluster", name,
            "--instance-identity-document", json.dumps(document2), v2=True,
        )["containerInstance"]  # fmt: skip
        total = {r["name"]: r for r in cli["registeredResources"]}
        assert (total["CPU"]["integerValue"], total["MEMORY"]["integerValue"]) == (2048, 2048)
        attrs = {a["name"]: a.get("value") for a in cli["attributes"]}
        assert attrs["ecs.cpu-architecture"] == "arm64"
        ecs.deregister_container_instance(
            cluster=name, containerInstance=cli["containerInstanceArn"], force=True
        )

        # A type the table lacks: totalResources is needed, as before.
        unknown = {**document, "instanceType": "u-12tb1.112xlarge"}
        err = _error(
            ecs.register_container_instance,
            cluster=name,
            instanceIdentityDocument=json.dumps(unknown),
        )
        assert err["Code"] == "InvalidParameterException"
    finally:
        ecs.deregister_container_instance(
            cluster=name, containerInstance=inst["containerInstanceArn"], force=True
        )


def test_agent_actions_for_a_user(server: ServerProcess, ecs: Any, name: str) -> None:
    found = ecs.discover_poll_endpoint()
    assert found["endpoint"] == server.endpoint.rstrip("/") + "/"
    assert found["telemetryEndpoint"] == found["endpoint"]
    cli = server.aws("ecs", "discover-poll-endpoint", v2=True)
    assert cli["endpoint"] == found["endpoint"]
    # Any cluster: the endpoint is the same.
    assert ecs.discover_poll_endpoint(cluster="nope-" + name)["endpoint"] == found["endpoint"]

    ecs.create_cluster(clusterName=name)
    err = _error(ecs.submit_task_state_change, cluster=name, task="0" * 32, status="RUNNING")
    assert err == {
        "Code": "InvalidParameterException",
        "Message": "The referenced task was not found.",
    }
    err = _error(ecs.submit_container_state_change, cluster="nope-" + name, task="x")
    assert err["Code"] == "ClusterNotFoundException"
    err = _error(
        ecs.submit_attachment_state_changes,
        cluster=name,
        attachments=[
            {
                "attachmentArn": "arn:aws:ecs:us-east-1:000000000000:attachment/x",
                "status": "ATTACHED",
            }
        ],
    )
    assert err["Code"] == "AccessDeniedException"
    proc = server.aws(
        "ecs", "submit-task-state-change", "--cluster", name, "--task", "0" * 32,
        "--status", "RUNNING", v2=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "InvalidParameterException" in proc.stderr


def test_agent_report_for_a_real_task_is_refused(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    # A task written by RunTask on a registered (agentless) instance.
    ecs.create_cluster(clusterName=name)
    document = {"instanceId": "i-" + uuid.uuid4().hex[:17], "instanceType": "t3.medium"}
    inst = ecs.register_container_instance(
        cluster=name, instanceIdentityDocument=json.dumps(document)
    )
    td = ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}]
    )["taskDefinition"]["taskDefinitionArn"]
    task = ecs.run_task(cluster=name, taskDefinition=td)["tasks"][0]["taskArn"]
    try:
        err = _error(ecs.submit_task_state_change, cluster=name, task=task, status="RUNNING")
        assert err["Code"] == "AccessDeniedException"
        assert task in err["Message"]
        err = _error(
            ecs.submit_container_state_change,
            cluster=name,
            task=task,
            containerName="app",
            status="RUNNING",
        )
        assert err["Code"] == "AccessDeniedException"
        # Nothing changed.
        shown = ecs.describe_tasks(cluster=name, tasks=[task])["tasks"][0]
        assert shown["lastStatus"] == "PENDING"
    finally:
        ecs.stop_task(cluster=name, task=task)
        ecs.deregister_container_instance(
            cluster=name,
            containerInstance=inst["containerInstance"]["containerInstanceArn"],
            force=True,
        )


# -- the probe ----------------------------------------------------------------------------

# The actions that answered "not implemented" when this probe was written (issue 21). The
# list may only shrink: an action missing from it that answers so has regressed. Remove an
# action from it once it is implemented.
KNOWN_REMAINDER = frozenset({})


# The calls that would change something with no parameters get an invalid one instead.
PROBE_PARAMS: dict[str, dict[str, Any]] = {"CreateCluster": {"clusterName": "not a valid name!"}}


def not_implemented(server: ServerProcess) -> set[str]:
    """Every action of botocore's ECS model called with no parameters (client-side validation
    off): those answered UnknownOperationException."""
    model = botocore.session.get_session().get_service_model("ecs")
    client = boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    missing: set[str] = set()
    for op in model.operation_names:
        method = getattr(client, botocore.xform_name(op))
        try:
            method(**PROBE_PARAMS.get(op, {}))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "UnknownOperationException":
                missing.add(op)
        else:
            assert op not in PROBE_PARAMS, f"{op} was not refused"
    return missing


def test_not_implemented_only_shrinks(server: ServerProcess) -> None:
    missing = not_implemented(server)
    regressed = missing - KNOWN_REMAINDER
    assert not regressed, f"these actions answer 'not implemented' again: {sorted(regressed)}"
    for op in ("UpdateTaskProtection", "GetTaskProtection", "DiscoverPollEndpoint",
               "SubmitTaskStateChange", "SubmitContainerStateChange",
               "SubmitAttachmentStateChanges"):  # fmt: skip
        assert op not in missing
