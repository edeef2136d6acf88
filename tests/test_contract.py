from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import orjson
import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from contract import attach, check_error, check_output

CLUSTER = {
    "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/web",
    "clusterName": "web",
    "status": "ACTIVE",
    "registeredContainerInstancesCount": 0,
    "runningTasksCount": 0,
    "pendingTasksCount": 0,
    "activeServicesCount": 0,
    "statistics": [],
    "tags": [{"key": "env", "value": "dev"}],
    "settings": [{"name": "containerInsights", "value": "disabled"}],
    "capacityProviders": [],
    "defaultCapacityProviderStrategy": [],
}
DESCRIBE_CLUSTERS = {"clusters": [CLUSTER], "failures": []}

TASK_DEFINITION = {
    "taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        "family": "web",
        "revision": 1,
        "status": "ACTIVE",
        "networkMode": "bridge",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "nginx",
                "cpu": 0,
                "memory": 128,
                "essential": True,
                "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [],
                "dockerLabels": {"team": "web"},
                "mountPoints": [],
                "volumesFrom": [],
            }
        ],
        "volumes": [],
        "placementConstraints": [],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
        "compatibilities": ["EC2"],
        "registeredAt": 1_700_000_000.123,
        "registeredBy": "arn:aws:iam::000000000000:root",
    },
    "tags": [],
}


def edited(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    change(copied)
    return copied


def fails(service: str, operation: str, body: dict[str, Any], *words: str) -> None:
    with pytest.raises(AssertionError) as caught:
        check_output(service, operation, body)
    for word in words:
        assert word in str(caught.value), str(caught.value)


# check_output


def test_good_bodies_pass() -> None:
    check_output("ecs", "DescribeClusters", DESCRIBE_CLUSTERS)
    check_output("ecs", "RegisterTaskDefinition", TASK_DEFINITION)


def test_undeclared_member_fails_naming_its_path() -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b["clusters"][0].update(bogus=1))
    fails("ecs", "DescribeClusters", body, "clusters[0].bogus", "declares no such member")


def test_undeclared_top_level_member_fails() -> None:
    body = edited(TASK_DEFINITION, lambda b: b.update(revision=2))
    fails("ecs", "RegisterTaskDefinition", body, "revision")


def test_wrong_type_fails() -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b["clusters"][0].update(runningTasksCount="1"))
    fails("ecs", "DescribeClusters", body, "clusters[0].runningTasksCount", "integer")


def test_boolean_is_not_an_integer() -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b["clusters"][0].update(pendingTasksCount=True))
    fails("ecs", "DescribeClusters", body, "clusters[0].pendingTasksCount")


def test_list_where_a_structure_belongs_fails() -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b.update(clusters=CLUSTER))
    fails("ecs", "DescribeClusters", body, "clusters", "expected a list")


def test_timestamp_must_be_epoch_seconds() -> None:
    change = lambda b: b["taskDefinition"].update(registeredAt="2024-01-01T00:00:00Z")  # noqa: E731
    fails("ecs", "RegisterTaskDefinition", edited(TASK_DEFINITION, change), "registeredAt")


def test_enum_value_outside_the_enum_fails() -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b["clusters"][0]["settings"][0].update(name="x"))
    fails("ecs", "DescribeClusters", body, "clusters[0].settings[0].name", "ClusterSettingName")

    def udp(b: dict[str, Any]) -> None:
        b["taskDefinition"]["containerDefinitions"][0]["portMappings"][0]["protocol"] = "UDP"

    fails("ecs", "RegisterTaskDefinition", edited(TASK_DEFINITION, udp), "portMappings[0].protocol")


def test_missing_required_member_fails() -> None:
    change = lambda b: b["taskDefinition"]["requiresAttributes"][0].pop("name")  # noqa: E731
    body = edited(TASK_DEFINITION, change)
    fails("ecs", "RegisterTaskDefinition", body, "requiresAttributes[0].name", "required")


def test_null_member_fails() -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b["clusters"][0].update(clusterName=None))
    fails("ecs", "DescribeClusters", body, "clusters[0].clusterName", "null")


def test_map_values_are_checked() -> None:
    change = lambda b: b["taskDefinition"]["containerDefinitions"][0].update(dockerLabels={"a": 1})  # noqa: E731
    fails("ecs", "RegisterTaskDefinition", edited(TASK_DEFINITION, change), "dockerLabels['a']")


def test_operation_without_output_takes_an_empty_body() -> None:
    check_output("logs", "DeleteLogGroup", {})
    fails("logs", "DeleteLogGroup", {"deleted": True}, "no output")


# check_error


def test_good_error_passes() -> None:
    check_error({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
    check_error({"__type": "InvalidParameterException", "message": "x"}, "DescribeClusters")


def test_coral_qualified_type_passes() -> None:
    check_error({"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": "x"})


def test_serialization_fault_may_have_no_message() -> None:
    check_error({"__type": "SerializationException"})
    check_error({"__type": "SerializationException", "message": ""})


@pytest.mark.parametrize(
    "body",
    [
        {"__type": "NoSuchThing", "message": "x"},
        {"__type": "ClientException", "message": ""},
        {"__type": "ClientException"},
        {"message": "x"},
        {"__type": "ClientException", "message": "x", "detail": 1},
        {"__type": "ConflictException", "message": "x", "resourceIds": "arn"},
    ],
)
def test_bad_error_fails(body: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_error(body)


def test_error_must_be_declared_by_the_operation() -> None:
    body = {"__type": "ClusterNotFoundException", "message": "Cluster not found."}
    check_error(body)
    check_error(body, "RunTask")
    with pytest.raises(AssertionError, match="DescribeClusters"):
        check_error(body, "DescribeClusters")


def test_error_members_of_the_shape_pass() -> None:
    body = {"__type": "ConflictException", "message": "x", "resourceIds": ["arn:task"]}
    check_error(body, "RunTask")


# attach: a real boto3 client, answered at `before-send` so no server is needed


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self) -> Iterator[bytes]:
        yield self._body


@pytest.fixture
def answer() -> Iterator[Callable[..., BaseClient]]:
    def client(status: int, body: object, service: str = "ecs") -> BaseClient:
        made = boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
        )
        raw = orjson.dumps(body)

        def send(request: Any, **_: Any) -> AWSResponse:
            headers = {"Content-Type": "application/x-amz-json-1.1"}
            return AWSResponse(request.url, status, headers, _Raw(raw))

        made.meta.events.register(
            f"before-send.{made.meta.service_model.service_id.hyphenize()}", send
        )
        return attach(made)

    yield client


def test_attached_client_passes_a_good_response(answer: Callable[..., BaseClient]) -> None:
    result = answer(200, DESCRIBE_CLUSTERS).describe_clusters(clusters=["web"])
    assert result["clusters"][0]["clusterName"] == "web"


def test_attached_client_fails_a_bad_response(answer: Callable[..., BaseClient]) -> None:
    body = edited(DESCRIBE_CLUSTERS, lambda b: b["clusters"][0].update(bogus=1))
    with pytest.raises(AssertionError, match=re.escape("clusters[0].bogus")):
        answer(200, body).describe_clusters(clusters=["web"])


def test_attached_client_passes_a_good_error(answer: Callable[..., BaseClient]) -> None:
    body = {"__type": "ClusterNotFoundException", "message": "Cluster not found."}
    with pytest.raises(ClientError) as caught:
        answer(400, body).run_task(taskDefinition="web")
    assert caught.value.response["Error"]["Code"] == "ClusterNotFoundException"


def test_attached_client_fails_a_bad_error(answer: Callable[..., BaseClient]) -> None:
    with pytest.raises(AssertionError, match="message"):
        answer(400, {"__type": "ClientException"}).run_task(taskDefinition="web")


def test_attached_logs_client(answer: Callable[..., BaseClient]) -> None:
    answer(200, {}, service="logs").delete_log_group(logGroupName="g")
    with pytest.raises(AssertionError, match="logGroups"):
        answer(200, {"logGroups": [{"logGroupName": 1}]}, service="logs").describe_log_groups()
