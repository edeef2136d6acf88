"""Cluster actions through boto3 against a real server: each happy path and each error ECS gives."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from contract import attach
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

ACCOUNT = "000000000000"
ALL_INCLUDES = ["ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"]
OVERRIDE_LOGGING = {
    "executeCommandConfiguration": {
        "logging": "OVERRIDE",
        "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec"},
    }
}


def arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{name}"


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect the ECS error `code` with HTTP 400, and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.value.response["Error"]["Message"]
    assert message
    return str(message)


def unvalidated(server: ServerProcess, region: str = REGION) -> Any:
    """A client that skips botocore's own parameter checks, so the server's are exercised."""
    client = boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    return attach(client)


def describe(ecs: Any, name: str, include: list[str] | None = None) -> dict[str, Any]:
    out = ecs.describe_clusters(clusters=[name], include=include or ALL_INCLUDES)
    assert len(out["clusters"]) == 1, out
    return dict(out["clusters"][0])


def missing(ecs: Any, name: str) -> None:
    out = ecs.describe_clusters(clusters=[name])
    assert out["clusters"] == []
    assert out["failures"] == [{"arn": arn(name), "reason": "MISSING"}]


def listed(ecs: Any) -> list[str]:
    found: list[str] = []
    for page in ecs.get_paginator("list_clusters").paginate():
        found += page["clusterArns"]
    return found


# CreateCluster


def test_create_cluster_returns_an_active_empty_cluster(ecs: Any, name: str) -> None:
    cluster = ecs.create_cluster(clusterName=name)["cluster"]
    assert cluster["clusterArn"] == arn(name)
    assert cluster["clusterName"] == name
    assert cluster["status"] == "ACTIVE"
    for count in (
        "registeredContainerInstancesCount",
        "runningTasksCount",
        "pendingTasksCount",
        "activeServicesCount",
    ):
        assert cluster[count] == 0
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert cluster["capacityProviders"] == []
    assert cluster["defaultCapacityProviderStrategy"] == []
    assert cluster["tags"] == []
    assert arn(name) in listed(ecs)


def test_create_cluster_without_a_name_creates_default(ecs: Any) -> None:
    cluster = ecs.create_cluster()["cluster"]
    assert cluster["clusterName"] == "default"
    assert cluster["clusterArn"] == arn("default")
    # Calls that omit the cluster mean `default`.
    assert [c["clusterArn"] for c in ecs.describe_clusters()["clusters"]] == [arn("default")]


def test_create_cluster_is_idempotent_by_name(ecs: Any, name: str) -> None:
    first = ecs.create_cluster(clusterName=name, tags=[{"key": "team", "value": "a"}])["cluster"]
    again = ecs.create_cluster(
        clusterName=name, settings=[{"name": "containerInsights", "value": "enabled"}]
    )["cluster"]
    assert again["clusterArn"] == first["clusterArn"]
    assert again["status"] == "ACTIVE"
    # The cluster that exists is the answer: the second call changed nothing.
    cluster = describe(ecs, name)
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert cluster["tags"] == [{"key": "team", "value": "a"}]
    assert listed(ecs).count(arn(name)) == 1


@pytest.mark.parametrize("value", ["enabled", "disabled", "enhanced"])
def test_create_cluster_with_container_insights(ecs: Any, name: str, value: str) -> None:
    settings = [{"name": "containerInsights", "value": value}]
    assert ecs.create_cluster(clusterName=name, settings=settings)["cluster"]["settings"] == (
        settings
    )
    assert describe(ecs, name, ["SETTINGS"])["settings"] == settings


def test_create_cluster_refuses_an_unknown_insights_value(ecs: Any, name: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        settings=[{"name": "containerInsights", "value": "sometimes"}],
    )
    assert "containerInsights" in message and "sometimes" in message
    missing(ecs, name)


def test_create_cluster_refuses_an_unknown_setting_name(ecs: Any, name: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        settings=[{"name": "turbo", "value": "enabled"}],
    )
    assert message == "name should be one of [containerInsights]"
    missing(ecs, name)


def test_create_cluster_with_execute_command_configuration(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name, configuration=OVERRIDE_LOGGING)
    assert describe(ecs, name, ["CONFIGURATIONS"])["configuration"] == OVERRIDE_LOGGING


def test_override_logging_requires_a_log_configuration(ecs: Any, name: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        configuration={"executeCommandConfiguration": {"logging": "OVERRIDE"}},
    )
    assert "logConfiguration" in message and "OVERRIDE" in message
    missing(ecs, name)


def test_a_log_configuration_requires_override_logging(ecs: Any, name: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        configuration={
            "executeCommandConfiguration": {
                "logging": "DEFAULT",
                "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec"},
            }
        },
    )
    assert "OVERRIDE" in message and "log configuration" in message
    missing(ecs, name)


def test_create_cluster_with_fargate_capacity_providers(ecs: Any, name: str) -> None:
    strategy = [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
        {"capacityProvider": "FARGATE_SPOT", "weight": 4, "base": 0},
    ]
    cluster = ecs.create_cluster(
        clusterName=name,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=strategy,
    )["cluster"]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategy"] == strategy
    assert describe(ecs, name)["defaultCapacityProviderStrategy"] == strategy


def test_a_strategy_item_defaults_to_weight_and_base_zero(ecs: Any, name: str) -> None:
    cluster = ecs.create_cluster(
        clusterName=name,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[
            {"capacityProvider": "FARGATE", "weight": 1},
            {"capacityProvider": "FARGATE_SPOT"},
        ],
    )["cluster"]
    assert cluster["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 0},
        {"capacityProvider": "FARGATE_SPOT", "weight": 0, "base": 0},
    ]


BAD_CAPACITY: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "provider not associated with the cluster",
        {
            "capacityProviders": ["FARGATE"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        },
        ["not associated with the cluster"],
    ),
    (
        "strategy without providers",
        {"defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]},
        ["not associated with the cluster"],
    ),
    (
        "two providers with a base",
        {
            "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
            "defaultCapacityProviderStrategy": [
                {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 1},
            ],
        },
        ["base", "only one"],
    ),
    (
        "every weight zero",
        {
            "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
            "defaultCapacityProviderStrategy": [
                {"capacityProvider": "FARGATE", "weight": 0},
                {"capacityProvider": "FARGATE_SPOT", "weight": 0},
            ],
        },
        ["weight greater than zero"],
    ),
    (
        "weight above 1000",
        {
            "capacityProviders": ["FARGATE"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1001}],
        },
        ["weight", "less than or equal to 1000"],
    ),
    (
        "base above 100000",
        {
            "capacityProviders": ["FARGATE"],
            "defaultCapacityProviderStrategy": [
                {"capacityProvider": "FARGATE", "weight": 1, "base": 100001}
            ],
        },
        ["base", "less than or equal to 100000"],
    ),
    (
        "negative weight",
        {
            "capacityProviders": ["FARGATE"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": -1}],
        },
        ["weight", "greater than or equal to 0"],
    ),
    (
        "provider twice in the strategy",
        {
            "capacityProviders": ["FARGATE"],
            "defaultCapacityProviderStrategy": [
                {"capacityProvider": "FARGATE", "weight": 1},
                {"capacityProvider": "FARGATE", "weight": 2},
            ],
        },
        ["FARGATE", "more than once"],
    ),
    ("provider twice in the list", {"capacityProviders": ["FARGATE", "FARGATE"]}, ["once"]),
    (
        "unknown capacity provider",
        {"capacityProviders": ["nosuchprovider"]},
        ["nosuchprovider", "does not exist"],
    ),
]


@pytest.mark.parametrize(
    ("params", "words"), [c[1:] for c in BAD_CAPACITY], ids=[c[0] for c in BAD_CAPACITY]
)
def test_create_cluster_refuses_a_bad_capacity_setup(
    server: ServerProcess, name: str, params: dict[str, Any], words: list[str]
) -> None:
    ecs = unvalidated(server)  # botocore itself would refuse the negative weight
    message = fails("InvalidParameterException", ecs.create_cluster, clusterName=name, **params)
    for word in words:
        assert word in message, message
    missing(ecs, name)


def test_create_cluster_with_tags(ecs: Any, name: str) -> None:
    tags = [{"key": "team", "value": "web"}, {"key": "empty", "value": ""}]
    assert ecs.create_cluster(clusterName=name, tags=tags)["cluster"]["tags"] == tags
    assert describe(ecs, name, ["TAGS"])["tags"] == tags
    assert ecs.list_tags_for_resource(resourceArn=arn(name))["tags"] == tags


def test_create_cluster_refuses_reserved_tags(ecs: Any, name: str) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        tags=[{"key": "aws:owner", "value": "x"}],
    )
    assert "aws:" in message and "reserved" in message
    missing(ecs, name)


@pytest.mark.parametrize(
    "bad", ["has space", "slash/name", "dot.name", "x" * 256, "ünïcode"], ids=str
)
def test_create_cluster_refuses_an_invalid_name(ecs: Any, bad: str) -> None:
    message = fails("InvalidParameterException", ecs.create_cluster, clusterName=bad)
    assert "255" in message and "letters" in message
    assert not any(a.endswith("/" + bad) for a in listed(ecs))


def test_a_name_of_255_characters_is_allowed(ecs: Any, name: str) -> None:
    long_name = name + "-" * (255 - len(name))
    assert ecs.create_cluster(clusterName=long_name)["cluster"]["clusterName"] == long_name
    ecs.delete_cluster(cluster=long_name)


# DescribeClusters


def test_describe_without_include_leaves_the_extras_out(ecs: Any, name: str) -> None:
    ecs.create_cluster(
        clusterName=name, tags=[{"key": "a", "value": "b"}], configuration=OVERRIDE_LOGGING
    )
    cluster = ecs.describe_clusters(clusters=[name])["clusters"][0]
    assert cluster["statistics"] == []
    assert cluster["tags"] == []
    for extra in ("settings", "configuration", "attachments"):
        assert extra not in cluster


@pytest.mark.parametrize("include", ALL_INCLUDES)
def test_describe_includes_each_extra_on_request(ecs: Any, name: str, include: str) -> None:
    ecs.create_cluster(
        clusterName=name, tags=[{"key": "a", "value": "b"}], configuration=OVERRIDE_LOGGING
    )
    cluster = describe(ecs, name, [include])
    expected = {
        "ATTACHMENTS": ("attachments", []),
        "CONFIGURATIONS": ("configuration", OVERRIDE_LOGGING),
        "SETTINGS": ("settings", [{"name": "containerInsights", "value": "disabled"}]),
        "TAGS": ("tags", [{"key": "a", "value": "b"}]),
    }
    if include == "STATISTICS":
        stats = {s["name"]: s["value"] for s in cluster["statistics"]}
        for name_ in (
            "runningEC2TasksCount",
            "runningFargateTasksCount",
            "pendingEC2TasksCount",
            "pendingFargateTasksCount",
            "activeEC2ServiceCount",
            "activeFargateServiceCount",
            "drainingEC2ServiceCount",
            "drainingFargateServiceCount",
        ):
            assert stats[name_] == "0"
    else:
        key, value = expected[include]
        assert cluster[key] == value
    others = {k for i, (k, _) in expected.items() if i != include}
    assert not others & {k for k, v in cluster.items() if v}


def test_describe_by_name_and_by_arn(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    by_name = describe(ecs, name)
    by_arn = describe(ecs, arn(name))
    assert by_name == by_arn
    assert by_name["clusterArn"] == arn(name)


def test_describe_reports_missing_clusters_with_their_full_arn(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    gone = name + "-none"
    out = ecs.describe_clusters(clusters=[name, gone, arn(gone + "2")])
    assert [c["clusterName"] for c in out["clusters"]] == [name]
    assert out["failures"] == [
        {"arn": arn(gone), "reason": "MISSING"},
        {"arn": arn(gone + "2"), "reason": "MISSING"},
    ]


def test_describe_refuses_an_unknown_include(server: ServerProcess, name: str) -> None:
    ecs = unvalidated(server)
    message = fails(
        "InvalidParameterException", ecs.describe_clusters, clusters=[name], include=["ALL"]
    )
    assert (
        message == "include should be one of [ATTACHMENTS,CONFIGURATIONS,SETTINGS,STATISTICS,TAGS]"
    )


# ListClusters


def test_list_clusters_pages_through_every_cluster_exactly_once(server: ServerProcess) -> None:
    # A region of its own, so the listing holds exactly the clusters made here.
    region = "ps-" + uuid.uuid4().hex[:8]
    ecs = server.client("ecs", region=region)
    names = [f"c{i}" for i in range(7)]
    for n in names:
        ecs.create_cluster(clusterName=n)
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"maxResults": 3}
        if token:
            kwargs["nextToken"] = token
        page = ecs.list_clusters(**kwargs)
        pages += 1
        assert len(page["clusterArns"]) <= 3
        seen += page["clusterArns"]
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 3
    assert sorted(seen) == sorted(arn(n, region) for n in names)
    assert len(set(seen)) == len(seen)
    assert ecs.list_clusters()["clusterArns"] == seen
    assert "nextToken" not in ecs.list_clusters()


def test_list_clusters_keeps_a_deleted_cluster_for_a_while(ecs: Any, name: str) -> None:
    # As ECS: INACTIVE and still listed (clusters.INACTIVE_VISIBLE; tests/ops/
    # test_inactive_clusters.py follows it to its end).
    ecs.create_cluster(clusterName=name)
    assert arn(name) in listed(ecs)
    ecs.delete_cluster(cluster=name)
    assert arn(name) in listed(ecs)
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"


@pytest.mark.parametrize("bad", [0, 101, -1])
def test_list_clusters_refuses_max_results_out_of_range(server: ServerProcess, bad: int) -> None:
    ecs = unvalidated(server)
    message = fails("InvalidParameterException", ecs.list_clusters, maxResults=bad)
    assert "maxResults" in message and "100" in message


# UpdateCluster and UpdateClusterSettings


def test_update_cluster_changes_settings_and_configuration(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name, tags=[{"key": "k", "value": "v"}])
    cluster = ecs.update_cluster(
        cluster=name,
        settings=[{"name": "containerInsights", "value": "enhanced"}],
        configuration=OVERRIDE_LOGGING,
    )["cluster"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    assert cluster["configuration"] == OVERRIDE_LOGGING
    after = describe(ecs, name)
    assert after["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    assert after["configuration"] == OVERRIDE_LOGGING
    assert after["tags"] == [{"key": "k", "value": "v"}]


def test_update_cluster_refuses_override_without_log_configuration(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    fails(
        "InvalidParameterException",
        ecs.update_cluster,
        cluster=name,
        configuration={"executeCommandConfiguration": {"logging": "OVERRIDE"}},
    )
    assert "configuration" not in describe(ecs, name)


def test_update_cluster_settings(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    settings = [{"name": "containerInsights", "value": "enabled"}]
    cluster = ecs.update_cluster_settings(cluster=arn(name), settings=settings)["cluster"]
    assert cluster["clusterArn"] == arn(name)
    assert cluster["settings"] == settings
    assert describe(ecs, name)["settings"] == settings


def test_update_cluster_settings_refuses_a_bad_value(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    message = fails(
        "InvalidParameterException",
        ecs.update_cluster_settings,
        cluster=name,
        settings=[{"name": "containerInsights", "value": "on"}],
    )
    assert "containerInsights" in message
    assert describe(ecs, name)["settings"] == [{"name": "containerInsights", "value": "disabled"}]


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("update_cluster", {"settings": [{"name": "containerInsights", "value": "enabled"}]}),
        (
            "update_cluster_settings",
            {"settings": [{"name": "containerInsights", "value": "enabled"}]},
        ),
        (
            "put_cluster_capacity_providers",
            {"capacityProviders": ["FARGATE"], "defaultCapacityProviderStrategy": []},
        ),
        ("delete_cluster", {}),
    ],
)
def test_calls_on_an_unknown_cluster_fail(
    ecs: Any, name: str, action: str, params: dict[str, Any]
) -> None:
    message = fails("ClusterNotFoundException", getattr(ecs, action), cluster=name, **params)
    assert "not found" in message.lower()
    missing(ecs, name)


# PutClusterCapacityProviders


def test_put_cluster_capacity_providers_replaces_both_lists(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1}]
    cluster = ecs.put_cluster_capacity_providers(
        cluster=name,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=strategy,
    )["cluster"]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategy"] == strategy
    assert describe(ecs, name)["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    # Omitted providers are disassociated; an empty strategy clears the default.
    ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=[]
    )
    after = describe(ecs, name)
    assert after["capacityProviders"] == ["FARGATE"]
    assert after["defaultCapacityProviderStrategy"] == []


@pytest.mark.parametrize(
    ("providers", "strategy", "words"),
    [
        (["FARGATE"], [{"capacityProvider": "FARGATE_SPOT", "weight": 1}], ["not associated"]),
        (["nosuchprovider"], [], ["nosuchprovider", "does not exist"]),
        (["FARGATE"], [{"capacityProvider": "FARGATE", "weight": 0}], ["weight greater"]),
    ],
)
def test_put_cluster_capacity_providers_refuses_bad_input(
    ecs: Any, name: str, providers: list[str], strategy: list[dict[str, Any]], words: list[str]
) -> None:
    before = [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    ecs.create_cluster(
        clusterName=name, capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=before
    )
    message = fails(
        "InvalidParameterException",
        ecs.put_cluster_capacity_providers,
        cluster=name,
        capacityProviders=providers,
        defaultCapacityProviderStrategy=strategy,
    )
    for word in words:
        assert word in message, message
    after = describe(ecs, name)
    assert after["capacityProviders"] == ["FARGATE"]
    assert after["defaultCapacityProviderStrategy"] == before


# DeleteCluster


def test_delete_cluster_makes_it_inactive(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name, tags=[{"key": "k", "value": "v"}])
    deleted = ecs.delete_cluster(cluster=name)["cluster"]
    assert deleted["clusterArn"] == arn(name)
    assert deleted["status"] == "INACTIVE"
    # Still describable, as ECS keeps INACTIVE clusters discoverable for a while.
    assert describe(ecs, name)["status"] == "INACTIVE"
    assert ecs.describe_clusters(clusters=[name])["failures"] == []


def test_delete_cluster_by_arn(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    assert ecs.delete_cluster(cluster=arn(name))["cluster"]["status"] == "INACTIVE"


def test_a_deleted_cluster_is_gone_for_every_other_call(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    ecs.delete_cluster(cluster=name)
    fails("ClusterNotFoundException", ecs.delete_cluster, cluster=name)
    fails(
        "ClusterNotFoundException",
        ecs.update_cluster_settings,
        cluster=name,
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )
    fails(
        "ClusterNotFoundException",
        ecs.update_cluster,
        cluster=name,
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )
    fails(
        "ClusterNotFoundException",
        ecs.put_cluster_capacity_providers,
        cluster=name,
        capacityProviders=["FARGATE"],
        defaultCapacityProviderStrategy=[],
    )
    fails(
        "ClusterNotFoundException",
        ecs.list_attributes,
        cluster=name,
        targetType="container-instance",
    )
    cluster = describe(ecs, name)
    assert cluster["status"] == "INACTIVE"
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_create_after_delete_makes_the_cluster_active_again(ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name, tags=[{"key": "old", "value": "1"}])
    ecs.delete_cluster(cluster=name)
    again = ecs.create_cluster(clusterName=name)["cluster"]
    assert again["clusterArn"] == arn(name)
    assert again["status"] == "ACTIVE"
    assert describe(ecs, name)["status"] == "ACTIVE"
    assert describe(ecs, name)["tags"] == []
    assert arn(name) in listed(ecs)


# Regions and the account


def test_each_region_sees_its_own_clusters(server: ServerProcess, ecs: Any, name: str) -> None:
    eu = server.client("ecs", region="eu-west-1")
    here = ecs.create_cluster(clusterName=name)["cluster"]
    there = eu.create_cluster(clusterName=name + "-eu")["cluster"]
    assert here["clusterArn"] == f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{name}"
    assert there["clusterArn"] == f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/{name}-eu"
    assert here["clusterArn"] in listed(ecs)
    assert here["clusterArn"] not in listed(eu)
    assert there["clusterArn"] in listed(eu)
    assert there["clusterArn"] not in listed(ecs)
    # By name, in the other region: a cluster of that region's, which does not exist.
    out = eu.describe_clusters(clusters=[name])
    assert out["failures"] == [{"arn": arn(name, "eu-west-1"), "reason": "MISSING"}]
    # Not even by the other region's full ARN.
    out = eu.describe_clusters(clusters=[here["clusterArn"]])
    assert out["clusters"] == []
    assert out["failures"] == [{"arn": here["clusterArn"], "reason": "MISSING"}]
    fails("ClusterNotFoundException", eu.delete_cluster, cluster=here["clusterArn"])
    assert describe(ecs, name)["status"] == "ACTIVE"


def test_the_same_name_in_two_regions_is_two_clusters(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    eu = server.client("ecs", region="eu-west-1")
    ecs.create_cluster(clusterName=name)
    eu.create_cluster(clusterName=name)
    eu.delete_cluster(cluster=name)
    assert describe(eu, name)["status"] == "INACTIVE"
    assert describe(ecs, name)["status"] == "ACTIVE"
