"""The same actions through the AWS CLI (v1, from the virtualenv), as a user types them.

Each CLI run costs a few hundred milliseconds, so each test walks a whole lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from harness import REGION, ServerProcess

ACCOUNT = "000000000000"


def arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{name}"


def test_cluster_lifecycle(server: ServerProcess, name: str) -> None:
    created = server.aws(
        "ecs",
        "create-cluster",
        "--cluster-name",
        name,
        "--settings",
        "name=containerInsights,value=enabled",
        "--tags",
        "key=team,value=web",
        "--capacity-providers",
        "FARGATE",
        "FARGATE_SPOT",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,weight=1,base=1",
    )["cluster"]
    assert created["clusterArn"] == arn(name)
    assert created["status"] == "ACTIVE"
    assert created["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert created["tags"] == [{"key": "team", "value": "web"}]
    assert created["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]

    described = server.aws(
        "ecs", "describe-clusters", "--clusters", name, "--include", "TAGS", "SETTINGS"
    )
    assert described["failures"] == []
    (cluster,) = described["clusters"]
    assert cluster["tags"] == [{"key": "team", "value": "web"}]
    assert cluster["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 1}
    ]

    # The CLI follows nextToken itself: every page, joined.
    assert arn(name) in server.aws("ecs", "list-clusters", "--page-size", "2")["clusterArns"]

    updated = server.aws(
        "ecs",
        "update-cluster-settings",
        "--cluster",
        name,
        "--settings",
        "name=containerInsights,value=enhanced",
    )["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enhanced"}]

    providers = server.aws(
        "ecs",
        "put-cluster-capacity-providers",
        "--cluster",
        name,
        "--capacity-providers",
        "FARGATE_SPOT",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE_SPOT,weight=2",
    )["cluster"]
    assert providers["capacityProviders"] == ["FARGATE_SPOT"]
    assert providers["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 0}
    ]

    attributes = server.aws(
        "ecs", "list-attributes", "--cluster", name, "--target-type", "container-instance"
    )
    assert attributes == {"attributes": []}

    deleted = server.aws("ecs", "delete-cluster", "--cluster", name)["cluster"]
    assert deleted["status"] == "INACTIVE"
    gone = server.aws("ecs", "describe-clusters", "--clusters", name, "missing-" + name)
    assert [c["status"] for c in gone["clusters"]] == ["INACTIVE"]
    assert gone["failures"] == [{"arn": arn("missing-" + name), "reason": "MISSING"}]


def test_tags(server: ServerProcess, ecs: Any, name: str) -> None:
    cluster = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    tagged = server.aws(
        "ecs",
        "tag-resource",
        "--resource-arn",
        cluster,
        "--tags",
        "key=team,value=web",
        "key=env,value=dev",
    )
    assert tagged is None  # TagResource answers with an empty body
    server.aws("ecs", "untag-resource", "--resource-arn", cluster, "--tag-keys", "team")
    listed = server.aws("ecs", "list-tags-for-resource", "--resource-arn", cluster)
    assert listed == {"tags": [{"key": "env", "value": "dev"}]}


def test_account_settings(server: ServerProcess) -> None:
    region = "ps-" + uuid.uuid4().hex[:8]  # settings are regional: keep these to this test
    put = server.aws(
        "ecs",
        "put-account-setting",
        "--name",
        "containerInsights",
        "--value",
        "enabled",
        "--region",
        region,
    )
    assert put["setting"] == {
        "name": "containerInsights",
        "value": "enabled",
        "principalArn": f"arn:aws:iam::{ACCOUNT}:root",
        "type": "user",
    }
    listed = server.aws("ecs", "list-account-settings", "--effective-settings", "--region", region)[
        "settings"
    ]
    by_name = {s["name"]: s for s in listed}
    assert by_name["containerInsights"]["value"] == "enabled"
    assert by_name["awsvpcTrunking"]["type"] == "aws_managed"
    deleted = server.aws(
        "ecs", "delete-account-setting", "--name", "containerInsights", "--region", region
    )
    assert deleted["setting"]["value"] == "enabled"
    assert server.aws("ecs", "list-account-settings", "--region", region) == {"settings": []}


def test_an_error_exits_non_zero_with_the_message_on_stderr(
    server: ServerProcess, name: str
) -> None:
    proc = server.aws("ecs", "delete-cluster", "--cluster", name, check=False)
    assert proc.returncode == 255
    assert proc.stdout == ""
    assert (
        "An error occurred (ClusterNotFoundException) when calling the DeleteCluster "
        "operation: Cluster not found." in proc.stderr
    )


def test_a_validation_error_names_the_allowed_values(server: ServerProcess) -> None:
    proc = server.aws(
        "ecs", "put-account-setting", "--name", "turboMode", "--value", "on", check=False
    )
    assert proc.returncode == 255
    assert "(InvalidParameterException)" in proc.stderr
    assert "name should be one of [serviceLongArnFormat," in proc.stderr
