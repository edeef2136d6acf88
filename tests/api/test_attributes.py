"""PutAttributes, DeleteAttributes and ListAttributes through boto3. No container instance exists
at this level yet, so these cover the refusals; tests/ops/test_attributes_ops.py covers the rest
on a store that holds instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from contract import attach
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

ACCOUNT = "000000000000"
TARGET = "container-instance"


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.value.response["Error"]["Message"]
    assert message
    return str(message)


def unvalidated(server: ServerProcess) -> Any:
    """A client that skips botocore's own parameter checks, so the server's are exercised."""
    client = boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    return attach(client)


@pytest.fixture
def cluster(ecs: Any, name: str) -> str:
    ecs.create_cluster(clusterName=name)
    return name


def instance_arn(cluster: str, instance_id: str = "0123456789abcdef") -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{instance_id}"


def nothing_listed(ecs: Any, cluster: str) -> None:
    assert ecs.list_attributes(cluster=cluster, targetType=TARGET)["attributes"] == []


def test_a_fresh_cluster_lists_no_attributes(ecs: Any, cluster: str) -> None:
    out = ecs.list_attributes(cluster=cluster, targetType=TARGET)
    assert out["attributes"] == []
    assert "nextToken" not in out
    filtered = ecs.list_attributes(
        cluster=cluster, targetType=TARGET, attributeName="stack", attributeValue="prod"
    )
    assert filtered["attributes"] == []


@pytest.mark.parametrize("target", ["0123456789abcdef", "ARN"])
def test_an_unknown_target_is_not_found(ecs: Any, cluster: str, target: str) -> None:
    target_id = instance_arn(cluster) if target == "ARN" else target
    attr = {"name": "stack", "value": "prod", "targetType": TARGET, "targetId": target_id}
    message = fails(
        "TargetNotFoundException", ecs.put_attributes, cluster=cluster, attributes=[attr]
    )
    assert target_id in message
    fails("TargetNotFoundException", ecs.delete_attributes, cluster=cluster, attributes=[attr])
    nothing_listed(ecs, cluster)


def test_a_target_id_is_required(ecs: Any, cluster: str) -> None:
    attr = {"name": "stack", "value": "prod", "targetType": TARGET}
    message = fails(
        "InvalidParameterException", ecs.put_attributes, cluster=cluster, attributes=[attr]
    )
    assert "targetId" in message
    fails("InvalidParameterException", ecs.delete_attributes, cluster=cluster, attributes=[attr])
    nothing_listed(ecs, cluster)


def test_a_short_target_id_needs_a_target_type(ecs: Any, cluster: str) -> None:
    attr = {"name": "stack", "value": "prod", "targetId": "0123456789abcdef"}
    message = fails(
        "InvalidParameterException", ecs.put_attributes, cluster=cluster, attributes=[attr]
    )
    assert "targetType" in message
    nothing_listed(ecs, cluster)


@pytest.mark.parametrize(
    ("attr", "words"),
    [
        ({"name": "has space", "value": "v"}, ["name", "has space"]),
        ({"name": "n" * 129, "value": "v"}, ["name", "128"]),
        ({"name": "", "value": "v"}, ["name"]),
        ({"name": "stack", "value": "semi;colon"}, ["value", "semi;colon"]),
        ({"name": "stack", "value": " leading"}, ["value", "space"]),
        ({"name": "stack", "value": "trailing "}, ["value", "space"]),
        ({"name": "stack", "value": "v" * 129}, ["value", "128"]),
    ],
    ids=[
        "space in name",
        "long name",
        "empty name",
        "bad value character",
        "leading space",
        "trailing space",
        "long value",
    ],
)
def test_invalid_names_and_values_are_refused(
    server: ServerProcess, cluster: str, attr: dict[str, str], words: list[str]
) -> None:
    ecs = unvalidated(server)
    full = {**attr, "targetType": TARGET, "targetId": "0123456789abcdef"}
    message = fails(
        "InvalidParameterException", ecs.put_attributes, cluster=cluster, attributes=[full]
    )
    for word in words:
        assert word in message, message
    nothing_listed(ecs, cluster)


def test_an_invalid_target_type_is_refused(server: ServerProcess, cluster: str) -> None:
    ecs = unvalidated(server)
    attr = {"name": "stack", "targetType": "task", "targetId": "0123456789abcdef"}
    message = fails(
        "InvalidParameterException", ecs.put_attributes, cluster=cluster, attributes=[attr]
    )
    assert message == "targetType should be one of [container-instance]"
    message = fails(
        "InvalidParameterException", ecs.list_attributes, cluster=cluster, targetType="task"
    )
    assert message == "targetType should be one of [container-instance]"


def test_list_attributes_needs_a_name_to_filter_by_value(ecs: Any, cluster: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.list_attributes,
        cluster=cluster,
        targetType=TARGET,
        attributeValue="prod",
    )
    assert "attributeValue" in message and "attributeName" in message


@pytest.mark.parametrize("bad", [0, 101])
def test_list_attributes_max_results_is_one_to_a_hundred(ecs: Any, cluster: str, bad: int) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.list_attributes,
        cluster=cluster,
        targetType=TARGET,
        maxResults=bad,
    )
    assert "maxResults" in message


def test_an_unknown_cluster_is_cluster_not_found(ecs: Any, name: str) -> None:
    attr = {"name": "stack", "targetType": TARGET, "targetId": "0123456789abcdef"}
    for call, kwargs in (
        (ecs.put_attributes, {"attributes": [attr]}),
        (ecs.delete_attributes, {"attributes": [attr]}),
        (ecs.list_attributes, {"targetType": TARGET}),
    ):
        message = fails("ClusterNotFoundException", call, cluster=name, **kwargs)
        assert "not found" in message.lower()
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


def test_a_deleted_cluster_is_cluster_not_found(ecs: Any, cluster: str) -> None:
    ecs.delete_cluster(cluster=cluster)
    fails("ClusterNotFoundException", ecs.list_attributes, cluster=cluster, targetType=TARGET)
