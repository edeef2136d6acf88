"""Capacity provider operations on a real store: which provider an instance belongs to, and the
clusters and services (written straight into the store) that keep a provider from deletion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside import testing
from portside.errors import ClientException
from portside.model.capacity_provider import (
    ACTIVE,
    DELETE_COMPLETE,
    DELETE_FAILED,
    INACTIVE,
    AutoScalingGroupProvider,
    AutoScalingGroupRequest,
    CapacityProvider,
    ProviderRequest,
    asg_name,
)
from portside.ops import capacity_providers as cps
from portside.ops import clusters
from portside.ops.context import Op

ACCOUNT = "000000000000"
REGION = "us-east-1"
GROUP = "portside.autoscaling-group"


def group_arn(name: str, region: str = REGION) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:"
        f"0e1c1b2a-1111-2222-3333-444455556666:autoScalingGroupName/{name}"
    )


def provider(name: str, group: str, status: str = ACTIVE) -> CapacityProvider:
    return CapacityProvider(
        arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/{name}",
        name=name,
        status=status,
        auto_scaling_group_provider=AutoScalingGroupProvider(auto_scaling_group_arn=group),
    )


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    world = testing.make_world(store, clock=testing.FakeClock(1_700_000_000.0))
    yield testing.make_op(world, REGION, ACCOUNT)
    store.close()


def in_region(op: Op, region: str) -> Op:
    return testing.make_op(op.world, region, ACCOUNT)


def create(op: Op, name: str, group: str | None = None) -> CapacityProvider:
    asg = AutoScalingGroupRequest(group_arn(group or f"{name}-asg", op.region))
    return cps.create_capacity_provider(op, name=name, request=ProviderRequest(asg)).provider


def add_service(
    op: Op, cluster: str, name: str, strategy: list[Any], status: str = "ACTIVE"
) -> None:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"
    doc = {
        "serviceArn": arn,
        "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}",
        "status": status,
        "capacityProviderStrategy": strategy,
    }
    with op.store.transaction() as tx:
        tx.put("services", arn, doc)


def stored(op: Op, name: str) -> CapacityProvider:
    found, failures, _ = cps.describe_capacity_providers(op, [name])
    assert failures == []
    return found[0].provider


# The group rule


@pytest.mark.parametrize(
    ("value", "group"),
    [
        (group_arn("web"), "web"),
        ("web", "web"),
        ("web-asg_1", "web-asg_1"),
        # Only an ARN's name part counts; a plain name is taken whole.
        ("arn:aws:autoscaling:r:1:autoScalingGroup:u:autoScalingGroupName/a/b", "a/b"),
        ("name-with-autoScalingGroupName/x", "name-with-autoScalingGroupName/x"),
    ],
)
def test_asg_name(value: str, group: str) -> None:
    assert asg_name(value) == group


def test_an_instance_belongs_to_the_provider_of_its_group() -> None:
    providers = [provider("web", group_arn("web-asg")), provider("batch", "batch-asg")]
    assert cps.provider_for_instance({GROUP: "web-asg"}, providers) == "web"
    assert cps.provider_for_instance({GROUP: "batch-asg", "other": "x"}, providers) == "batch"


@pytest.mark.parametrize(
    "attributes",
    [{}, {GROUP: None}, {GROUP: ""}, {GROUP: "nobody-asg"}, {"ecs.os-type": "linux"}],
)
def test_an_instance_without_a_known_group_has_no_provider(attributes: dict[str, Any]) -> None:
    providers = [provider("web", group_arn("web-asg"))]
    assert cps.provider_for_instance(attributes, providers) is None


def test_only_an_active_provider_claims_its_group() -> None:
    old = provider("old", "web-asg", status=INACTIVE)
    assert cps.provider_for_instance({GROUP: "web-asg"}, [old]) is None
    new = provider("new", group_arn("web-asg"))
    assert cps.provider_for_instance({GROUP: "web-asg"}, [old, new]) == "new"
    fargate = CapacityProvider(arn="arn:aws:ecs:r:1:capacity-provider/FARGATE", name="FARGATE")
    assert cps.provider_for_instance({GROUP: "FARGATE"}, [fargate]) is None


def test_load_active_reads_the_region_s_live_providers(op: Op) -> None:
    create(op, "web")
    create(op, "gone")
    cps.delete_capacity_provider(op, "gone")
    create(in_region(op, "eu-west-1"), "elsewhere")
    with op.store.read() as tx:
        active = cps.load_active(op, tx)
    assert [p.name for p in active] == ["web"]
    assert cps.provider_for_instance({GROUP: "web-asg"}, active) == "web"
    assert cps.provider_for_instance({GROUP: "gone-asg"}, active) is None


# What keeps a provider from deletion


def test_a_cluster_that_names_the_provider_keeps_it(op: Op) -> None:
    create(op, "web")
    clusters.create_cluster(op, name="prod", capacity_providers=["FARGATE", "web"])
    answer = cps.delete_capacity_provider(op, "web").provider
    assert (answer.status, answer.update_status) == (ACTIVE, DELETE_FAILED)
    assert answer.update_status_reason is not None
    assert "associated with cluster: prod." in answer.update_status_reason
    assert stored(op, "web").update_status == DELETE_FAILED
    # Still usable: another cluster may take it.
    clusters.create_cluster(op, name="staging", capacity_providers=["web"])


def test_a_service_strategy_keeps_the_provider(op: Op) -> None:
    create(op, "web")
    # Written directly: a service whose cluster no longer lists the provider.
    add_service(op, "api-cluster", "api", [{"capacityProvider": "web", "weight": 1}])
    answer = cps.delete_capacity_provider(op, "web").provider
    assert answer.update_status == DELETE_FAILED
    assert answer.update_status_reason is not None
    assert "cluster: api-cluster." in answer.update_status_reason
    assert stored(op, "web").status == ACTIVE


def test_a_strategy_may_name_the_provider_by_arn(op: Op) -> None:
    web = create(op, "web")
    add_service(op, "c", "api", [{"capacityProvider": web.arn, "weight": 1}], status="DRAINING")
    assert cps.delete_capacity_provider(op, "web").provider.update_status == DELETE_FAILED


def test_inactive_services_and_clusters_let_go(op: Op) -> None:
    create(op, "web")
    add_service(op, "c", "old", [{"capacityProvider": "web", "weight": 1}], status="INACTIVE")
    add_service(op, "c", "fargate", [{"capacityProvider": "FARGATE", "weight": 1}])
    clusters.create_cluster(op, name="gone", capacity_providers=["web"])
    clusters.delete_cluster(op, "gone")
    answer = cps.delete_capacity_provider(op, "web").provider
    assert answer.update_status == "DELETE_IN_PROGRESS"
    after = stored(op, "web")
    assert (after.status, after.update_status) == (INACTIVE, DELETE_COMPLETE)


def test_another_region_s_cluster_does_not_keep_it(op: Op) -> None:
    create(op, "web")
    elsewhere = in_region(op, "eu-west-1")
    create(elsewhere, "web")
    clusters.create_cluster(elsewhere, name="prod", capacity_providers=["web"])
    assert cps.delete_capacity_provider(op, "web").provider.update_status == "DELETE_IN_PROGRESS"
    assert stored(elsewhere, "web").status == ACTIVE


def test_a_failed_delete_succeeds_once_the_cluster_lets_go(op: Op) -> None:
    create(op, "web")
    clusters.create_cluster(op, name="prod", capacity_providers=["web"])
    cps.delete_capacity_provider(op, "web")
    clusters.put_capacity_providers(op, "prod", [], [])
    cps.delete_capacity_provider(op, "web")
    after = stored(op, "web")
    assert (after.status, after.update_status, after.update_status_reason) == (
        INACTIVE,
        DELETE_COMPLETE,
        None,
    )
    with pytest.raises(ClientException):
        cps.delete_capacity_provider(op, "web")


def test_a_deleted_provider_frees_its_group_and_name(op: Op) -> None:
    create(op, "web", group="shared")
    with pytest.raises(ClientException):
        create(op, "web2", group="shared")
    cps.delete_capacity_provider(op, "web")
    assert create(op, "web2", group="shared").status == ACTIVE
    assert create(op, "web", group="fresh").created_at == 1_700_000_000.0
    with op.store.read() as tx:
        groups = {
            p.name: p.auto_scaling_group_provider.group_name
            for p in cps.load_active(op, tx)
            if p.auto_scaling_group_provider
        }
    assert groups == {"web": "fresh", "web2": "shared"}
