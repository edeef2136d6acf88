"""Attribute operations on a store holding container instances, written straight into it (the
agent that registers them arrives with a later issue)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside import testing
from portside.errors import (
    AttributeLimitExceededException,
    ClusterNotFoundException,
    InvalidParameterException,
    TargetNotFoundException,
)
from portside.ops import attributes, clusters
from portside.ops.attributes import MAX_CUSTOM
from portside.ops.context import Op

ACCOUNT = "000000000000"
REGION = "us-east-1"
TARGET = "container-instance"


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    world = testing.make_world(store, clock=testing.FakeClock(1_700_000_000.0))
    yield testing.make_op(world, REGION, ACCOUNT)
    store.close()


def add_instance(op: Op, cluster: str, instance_id: str) -> str:
    cluster_arn = clusters.cluster_arn(op, cluster)
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{instance_id}"
    with op.store.transaction() as tx:
        tx.put(
            "container_instances",
            arn,
            {"containerInstanceArn": arn, "clusterArn": cluster_arn, "status": "ACTIVE"},
        )
    return arn


@pytest.fixture
def instance(op: Op) -> str:
    clusters.create_cluster(op, name="web")
    return add_instance(op, "web", "aaaa1111")


def attr(name: str, value: str | None, target: str) -> dict[str, str]:
    out = {"name": name, "targetType": TARGET, "targetId": target}
    if value is not None:
        out["value"] = value
    return out


def listed(
    op: Op, cluster: str = "web", name: str | None = None, value: str | None = None
) -> list[dict[str, str]]:
    found, token = attributes.list_attributes(op, cluster, TARGET, name=name, value=value)
    assert token is None
    return found


def test_put_by_id_and_by_arn(op: Op, instance: str) -> None:
    by_id = attributes.put_attributes(op, "web", [attr("stack", "prod", "aaaa1111")])
    by_arn = attributes.put_attributes(op, "web", [attr("team", "web", instance)])
    # Either way the answer names the instance by its full ARN.
    assert by_id == [{"name": "stack", "value": "prod", "targetType": TARGET, "targetId": instance}]
    assert by_arn == [{"name": "team", "value": "web", "targetType": TARGET, "targetId": instance}]
    assert sorted(a["name"] for a in listed(op)) == ["stack", "team"]


def test_an_attribute_without_a_value(op: Op, instance: str) -> None:
    attributes.put_attributes(op, "web", [attr("gpu", None, instance)])
    assert listed(op) == [{"name": "gpu", "targetType": TARGET, "targetId": instance}]


def test_putting_an_attribute_again_replaces_its_value(op: Op, instance: str) -> None:
    attributes.put_attributes(op, "web", [attr("stack", "prod", instance)])
    attributes.put_attributes(op, "web", [attr("stack", "test", "aaaa1111")])
    assert [(a["name"], a.get("value")) for a in listed(op)] == [("stack", "test")]


def test_delete_by_id_and_by_arn(op: Op, instance: str) -> None:
    attributes.put_attributes(
        op, "web", [attr("stack", "prod", instance), attr("team", "web", instance)]
    )
    deleted = attributes.delete_attributes(op, "web", [attr("stack", None, "aaaa1111")])
    assert deleted == [{"name": "stack", "targetType": TARGET, "targetId": instance}]
    assert [a["name"] for a in listed(op)] == ["team"]
    attributes.delete_attributes(op, "web", [attr("team", None, instance)])
    assert listed(op) == []


def test_list_filters_by_name_and_value(op: Op, instance: str) -> None:
    other = add_instance(op, "web", "bbbb2222")
    attributes.put_attributes(
        op,
        "web",
        [
            attr("stack", "prod", instance),
            attr("stack", "test", other),
            attr("team", "web", instance),
        ],
    )
    assert {a["targetId"] for a in listed(op, name="stack")} == {instance, other}
    assert [a["targetId"] for a in listed(op, name="stack", value="test")] == [other]
    assert listed(op, name="stack", value="nope") == []
    assert listed(op, name="nope") == []
    with pytest.raises(InvalidParameterException):
        attributes.list_attributes(op, "web", TARGET, value="prod")


def test_list_pages_through_every_attribute_once(op: Op, instance: str) -> None:
    others = [add_instance(op, "web", f"cccc{i}") for i in range(3)]
    expected = set()
    for target in [instance, *others]:
        attributes.put_attributes(op, "web", [attr(f"a{i}", str(i), target) for i in range(3)])
        expected |= {(target, f"a{i}") for i in range(3)}
    seen: list[tuple[str, str]] = []
    token: str | None = None
    pages = 0
    while True:
        found, token = attributes.list_attributes(
            op, "web", TARGET, max_results=5, next_token=token
        )
        pages += 1
        assert len(found) <= 5
        seen += [(a["targetId"], a["name"]) for a in found]
        if token is None:
            break
    assert pages == 3
    assert len(seen) == len(expected) == 12
    assert set(seen) == expected


def test_list_is_per_cluster(op: Op, instance: str) -> None:
    clusters.create_cluster(op, name="other")
    elsewhere = add_instance(op, "other", "dddd4444")
    attributes.put_attributes(op, "web", [attr("stack", "prod", instance)])
    attributes.put_attributes(op, "other", [attr("stack", "prod", elsewhere)])
    assert [a["targetId"] for a in listed(op)] == [instance]
    assert [a["targetId"] for a in listed(op, "other")] == [elsewhere]


def test_ten_custom_attributes_and_no_more(op: Op, instance: str) -> None:
    ten = [attr(f"a{i}", "v", instance) for i in range(MAX_CUSTOM)]
    assert MAX_CUSTOM == 10
    attributes.put_attributes(op, "web", ten[:6])
    attributes.put_attributes(op, "web", ten[6:])
    with pytest.raises(AttributeLimitExceededException) as err:
        attributes.put_attributes(
            op, "web", [attr("a0", "new", instance), attr("a10", "v", instance)]
        )
    assert "10" in err.value.message
    # Nothing was applied, not even the replacement that came with the extra attribute.
    assert {a["name"]: a.get("value") for a in listed(op)} == {f"a{i}": "v" for i in range(10)}
    # Replacing a value at the limit is fine: the count does not grow.
    attributes.put_attributes(op, "web", [attr("a0", "new", "aaaa1111")])
    assert {a["name"]: a.get("value") for a in listed(op)}["a0"] == "new"
    # The limit is per instance.
    other = add_instance(op, "web", "eeee5555")
    attributes.put_attributes(op, "web", [attr("a0", "v", other)])


def test_eleven_in_one_call_are_refused(op: Op, instance: str) -> None:
    with pytest.raises(AttributeLimitExceededException):
        attributes.put_attributes(op, "web", [attr(f"a{i}", "v", instance) for i in range(11)])
    assert listed(op) == []


def test_an_instance_of_another_cluster_is_not_a_target(op: Op, instance: str) -> None:
    clusters.create_cluster(op, name="other")
    with pytest.raises(TargetNotFoundException):
        attributes.put_attributes(op, "other", [attr("stack", "prod", instance)])
    with pytest.raises(TargetNotFoundException):
        attributes.put_attributes(op, "other", [attr("stack", "prod", "aaaa1111")])
    assert listed(op, "other") == []


def test_one_bad_target_applies_nothing(op: Op, instance: str) -> None:
    with pytest.raises(TargetNotFoundException):
        attributes.put_attributes(
            op, "web", [attr("stack", "prod", instance), attr("stack", "prod", "ffff0000")]
        )
    assert listed(op) == []


@pytest.mark.parametrize("name", ["a\\b", "a/b", "ecs.custom-1_x", "n" * 128])
def test_names_ecs_allows(op: Op, instance: str, name: str) -> None:
    attributes.put_attributes(op, "web", [attr(name, "v", instance)])
    assert [a["name"] for a in listed(op)] == [name]


@pytest.mark.parametrize("value", ["a b", "user@host:/path\\x", "v" * 128])
def test_values_ecs_allows(op: Op, instance: str, value: str) -> None:
    attributes.put_attributes(op, "web", [attr("stack", value, instance)])
    assert listed(op)[0]["value"] == value


def test_a_deleted_cluster_takes_no_attributes(op: Op, instance: str) -> None:
    with op.store.transaction() as tx:
        tx.delete("container_instances", instance)
    clusters.delete_cluster(op, "web")
    with pytest.raises(ClusterNotFoundException):
        attributes.put_attributes(op, "web", [attr("stack", "prod", "aaaa1111")])
    with pytest.raises(ClusterNotFoundException):
        attributes.list_attributes(op, "web", TARGET)
