"""TagResource, UntagResource and ListTagsForResource through boto3, with ECS's limits."""

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
RESERVED = ["aws:owner", "AWS:owner", "Aws:x"]


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


def tags_of(ecs: Any, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}


@pytest.fixture
def cluster(ecs: Any, name: str) -> str:
    return str(ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"])


@pytest.fixture
def task_definition(ecs: Any, name: str) -> str:
    out = ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}]
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


@pytest.fixture(params=["cluster", "task_definition"])
def resource(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


# Happy paths


def test_tag_list_untag(ecs: Any, resource: str) -> None:
    assert ecs.list_tags_for_resource(resourceArn=resource)["tags"] == []
    ecs.tag_resource(
        resourceArn=resource,
        tags=[{"key": "team", "value": "web"}, {"key": "env", "value": "dev"}],
    )
    assert ecs.list_tags_for_resource(resourceArn=resource)["tags"] == [
        {"key": "team", "value": "web"},
        {"key": "env", "value": "dev"},
    ]
    ecs.untag_resource(resourceArn=resource, tagKeys=["team", "not-there"])
    assert tags_of(ecs, resource) == {"env": "dev"}


def test_tagging_an_existing_key_overwrites_its_value(ecs: Any, resource: str) -> None:
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "env", "value": "dev"}])
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "env", "value": "prod"}])
    assert ecs.list_tags_for_resource(resourceArn=resource)["tags"] == [
        {"key": "env", "value": "prod"}
    ]


def test_tags_show_in_describe_clusters(ecs: Any, cluster: str) -> None:
    ecs.tag_resource(resourceArn=cluster, tags=[{"key": "k", "value": "v"}])
    described = ecs.describe_clusters(clusters=[cluster], include=["TAGS"])["clusters"][0]
    assert described["tags"] == [{"key": "k", "value": "v"}]


def test_tags_show_in_describe_task_definition(ecs: Any, task_definition: str) -> None:
    ecs.tag_resource(resourceArn=task_definition, tags=[{"key": "k", "value": "v"}])
    out = ecs.describe_task_definition(taskDefinition=task_definition, include=["TAGS"])
    assert out["tags"] == [{"key": "k", "value": "v"}]


def test_key_and_value_lengths_at_the_limit(ecs: Any, resource: str) -> None:
    tags = [{"key": "k" * 128, "value": "v" * 256}, {"key": "empty", "value": ""}]
    ecs.tag_resource(resourceArn=resource, tags=tags)
    assert tags_of(ecs, resource) == {"k" * 128: "v" * 256, "empty": ""}


def test_allowed_characters(ecs: Any, resource: str) -> None:
    key = "a b+c-d=e.f_g:h/i@j"
    ecs.tag_resource(resourceArn=resource, tags=[{"key": key, "value": "Ünïcödé 1"}])
    assert tags_of(ecs, resource) == {key: "Ünïcödé 1"}


# The 50-tag limit


def test_fifty_tags_fit_and_the_fifty_first_is_refused(ecs: Any, resource: str) -> None:
    fifty = [{"key": f"k{i}", "value": str(i)} for i in range(50)]
    ecs.tag_resource(resourceArn=resource, tags=fifty[:30])
    ecs.tag_resource(resourceArn=resource, tags=fifty[30:])
    assert len(tags_of(ecs, resource)) == 50
    message = fails(
        "InvalidParameterException",
        ecs.tag_resource,
        resourceArn=resource,
        tags=[{"key": "k0", "value": "changed"}, {"key": "one-more", "value": "x"}],
    )
    assert "50" in message
    # Nothing was applied, not even the overwrite that came with the extra tag.
    assert tags_of(ecs, resource) == {t["key"]: t["value"] for t in fifty}
    # Overwriting at the limit is fine: the count does not grow.
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "k0", "value": "changed"}])
    assert tags_of(ecs, resource)["k0"] == "changed"


def test_fifty_one_tags_in_one_call_are_refused(ecs: Any, resource: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.tag_resource,
        resourceArn=resource,
        tags=[{"key": f"k{i}", "value": ""} for i in range(51)],
    )
    assert "less than or equal to 50" in message
    assert tags_of(ecs, resource) == {}


def test_create_cluster_refuses_fifty_one_tags(ecs: Any, name: str) -> None:
    fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        tags=[{"key": f"k{i}", "value": ""} for i in range(51)],
    )
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


# Bad keys and values


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ({"key": "k" * 129, "value": "v"}, ["128"]),
        ({"key": "k", "value": "v" * 257}, ["256"]),
        ({"key": "", "value": "v"}, ["key", "greater than or equal to 1"]),
        ({"key": "semi;colon", "value": "v"}, ["pattern"]),
        ({"key": "k", "value": "a<b"}, ["pattern"]),
    ],
    ids=["long key", "long value", "empty key", "bad key character", "bad value character"],
)
def test_bad_tags_are_refused(
    server: ServerProcess, resource: str, tag: dict[str, str], words: list[str]
) -> None:
    ecs = unvalidated(server)  # botocore itself would refuse the empty key
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "keep", "value": "1"}])
    message = fails("InvalidParameterException", ecs.tag_resource, resourceArn=resource, tags=[tag])
    for word in words:
        assert word in message, message
    assert tags_of(ecs, resource) == {"keep": "1"}


@pytest.mark.parametrize("key", RESERVED)
def test_the_aws_prefix_is_reserved_for_tagging(ecs: Any, resource: str, key: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.tag_resource,
        resourceArn=resource,
        tags=[{"key": "fine", "value": "1"}, {"key": key, "value": "x"}],
    )
    assert "aws:" in message and "reserved" in message
    assert tags_of(ecs, resource) == {}


@pytest.mark.parametrize("key", RESERVED)
def test_the_aws_prefix_is_reserved_for_untagging(ecs: Any, resource: str, key: str) -> None:
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "fine", "value": "1"}])
    message = fails(
        "InvalidParameterException", ecs.untag_resource, resourceArn=resource, tagKeys=["fine", key]
    )
    assert "aws:" in message and "reserved" in message
    assert tags_of(ecs, resource) == {"fine": "1"}


# Resources that are not there


def test_an_unknown_cluster_is_cluster_not_found(ecs: Any, name: str) -> None:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}"
    tag = [{"key": "k", "value": "v"}]
    for call, kwargs in (
        (ecs.tag_resource, {"tags": tag}),
        (ecs.untag_resource, {"tagKeys": ["k"]}),
        (ecs.list_tags_for_resource, {}),
    ):
        message = fails("ClusterNotFoundException", call, resourceArn=arn, **kwargs)
        assert "not found" in message.lower()
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


def test_an_unknown_task_definition_is_resource_not_found(ecs: Any, name: str) -> None:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:1"
    message = fails(
        "ResourceNotFoundException",
        ecs.tag_resource,
        resourceArn=arn,
        tags=[{"key": "k", "value": "v"}],
    )
    assert "could not be found" in message
    fails("ResourceNotFoundException", ecs.untag_resource, resourceArn=arn, tagKeys=["k"])
    # ListTagsForResource declares no ResourceNotFoundException: ECS's model gives it
    # ClusterNotFoundException, InvalidParameterException and ClientException only.
    message = fails("InvalidParameterException", ecs.list_tags_for_resource, resourceArn=arn)
    assert "could not be found" in message


def test_a_deleted_cluster_cannot_be_tagged(ecs: Any, cluster: str) -> None:
    ecs.tag_resource(resourceArn=cluster, tags=[{"key": "k", "value": "v"}])
    ecs.delete_cluster(cluster=cluster)
    for call, kwargs in (
        (ecs.tag_resource, {"tags": [{"key": "k2", "value": "v"}]}),
        (ecs.untag_resource, {"tagKeys": ["k"]}),
        (ecs.list_tags_for_resource, {}),
    ):
        message = fails("InvalidParameterException", call, resourceArn=cluster, **kwargs)
        assert message == (
            "The specified cluster is inactive. Specify an active cluster and try again."
        )
    described = ecs.describe_clusters(clusters=[cluster], include=["TAGS"])["clusters"][0]
    assert described["tags"] == [{"key": "k", "value": "v"}]


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:s3:::my-bucket",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:widget/w1",
        f"arn:aws:ecs:{REGION}:123456789012:cluster/elsewhere",
        f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/elsewhere",
    ],
)
def test_a_malformed_or_foreign_arn_is_an_invalid_parameter(ecs: Any, arn: str) -> None:
    for call, kwargs in (
        (ecs.tag_resource, {"tags": [{"key": "k", "value": "v"}]}),
        (ecs.untag_resource, {"tagKeys": ["k"]}),
        (ecs.list_tags_for_resource, {}),
    ):
        message = fails("InvalidParameterException", call, resourceArn=arn, **kwargs)
        assert "ARN" in message
