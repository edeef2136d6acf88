"""Cluster operations on a real store that holds instances, services and tasks, written straight
into it (the actions that make them arrive with later issues): DeleteCluster's refusals, and the
counts DescribeClusters reads from the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside import testing
from portside.errors import (
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    ClusterNotFoundException,
    ResourceInUseException,
)
from portside.model.cluster import ACTIVE, INACTIVE
from portside.ops import clusters
from portside.ops.context import Op

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    world = testing.make_world(store, clock=testing.FakeClock(1_700_000_000.0))
    yield testing.make_op(world, REGION, ACCOUNT)
    store.close()


@pytest.fixture
def cluster(op: Op) -> str:
    return clusters.create_cluster(op, name="web").cluster.arn


def put(op: Op, table: str, key: str, doc: dict[str, Any]) -> None:
    with op.store.transaction() as tx:
        tx.put(table, key, doc)


def add_instance(op: Op, cluster: str, instance_id: str, status: str = "ACTIVE") -> str:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/web/{instance_id}"
    put(
        op,
        "container_instances",
        arn,
        {"containerInstanceArn": arn, "clusterArn": cluster, "status": status},
    )
    return arn


def add_task(
    op: Op, cluster: str, task_id: str, last: str, launch_type: str = "EC2", desired: str = ""
) -> str:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/{task_id}"
    doc = {
        "taskArn": arn,
        "clusterArn": cluster,
        "lastStatus": last,
        "desiredStatus": desired or ("STOPPED" if last == "STOPPED" else "RUNNING"),
        "launchType": launch_type,
    }
    put(op, "tasks", arn, doc)
    return arn


def add_service(
    op: Op,
    cluster: str,
    name: str,
    status: str = "ACTIVE",
    launch_type: str = "EC2",
    strategy: list[dict[str, Any]] | None = None,
) -> str:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/web/{name}"
    doc: dict[str, Any] = {
        "serviceArn": arn,
        "clusterArn": cluster,
        "status": status,
        "launchType": launch_type,
    }
    if strategy is not None:
        doc["capacityProviderStrategy"] = strategy
        del doc["launchType"]
    put(op, "services", arn, doc)
    return arn


def status_of(op: Op, cluster: str) -> str:
    found, failures = clusters.describe_clusters(op, [cluster])
    assert failures == []
    return found[0].cluster.status


def statistics(op: Op, cluster: str) -> dict[str, int]:
    found, _ = clusters.describe_clusters(op, [cluster], statistics=True)
    return dict(found[0].counts.statistics)


# DeleteCluster's refusals


@pytest.mark.parametrize("status", ["ACTIVE", "DRAINING"])
def test_delete_is_refused_while_instances_are_registered(
    op: Op, cluster: str, status: str
) -> None:
    add_instance(op, cluster, "i1", status)
    with pytest.raises(ClusterContainsContainerInstancesException) as err:
        clusters.delete_cluster(op, "web")
    assert "Container Instances" in err.value.message
    assert status_of(op, cluster) == ACTIVE


def test_delete_is_allowed_once_instances_are_deregistered(op: Op, cluster: str) -> None:
    add_instance(op, cluster, "i1", "INACTIVE")
    assert clusters.delete_cluster(op, "web").cluster.status == INACTIVE
    assert status_of(op, cluster) == INACTIVE


@pytest.mark.parametrize("status", ["ACTIVE", "DRAINING"])
def test_delete_is_refused_while_services_are_active(op: Op, cluster: str, status: str) -> None:
    add_service(op, cluster, "api", status)
    with pytest.raises(ClusterContainsServicesException) as err:
        clusters.delete_cluster(op, cluster)
    assert "Services" in err.value.message
    assert status_of(op, cluster) == ACTIVE


def test_delete_is_allowed_with_only_inactive_services(op: Op, cluster: str) -> None:
    add_service(op, cluster, "api", "INACTIVE")
    assert clusters.delete_cluster(op, cluster).cluster.status == INACTIVE


@pytest.mark.parametrize("last", ["PROVISIONING", "PENDING", "RUNNING", "STOPPING"])
def test_delete_is_refused_while_tasks_are_live(op: Op, cluster: str, last: str) -> None:
    add_task(op, cluster, "t1", last)
    with pytest.raises(ClusterContainsTasksException) as err:
        clusters.delete_cluster(op, cluster)
    assert "Tasks" in err.value.message
    assert status_of(op, cluster) == ACTIVE


def test_delete_is_allowed_with_only_stopped_tasks(op: Op, cluster: str) -> None:
    add_task(op, cluster, "t1", "STOPPED")
    assert clusters.delete_cluster(op, cluster).cluster.status == INACTIVE


def test_instances_are_refused_before_services_and_tasks(op: Op, cluster: str) -> None:
    add_instance(op, cluster, "i1")
    add_service(op, cluster, "api")
    add_task(op, cluster, "t1", "RUNNING")
    with pytest.raises(ClusterContainsContainerInstancesException):
        clusters.delete_cluster(op, cluster)


def test_resources_of_another_cluster_do_not_block_a_delete(op: Op, cluster: str) -> None:
    other = clusters.create_cluster(op, name="other").cluster.arn
    add_instance(op, other, "i1")
    add_service(op, other, "api")
    add_task(op, other, "t1", "RUNNING")
    assert clusters.delete_cluster(op, cluster).cluster.status == INACTIVE
    with pytest.raises(ClusterNotFoundException):
        clusters.delete_cluster(op, cluster)


# Counts, from the store


def test_counts_come_from_the_store(op: Op, cluster: str) -> None:
    add_instance(op, cluster, "i1", "ACTIVE")
    add_instance(op, cluster, "i2", "DRAINING")
    add_instance(op, cluster, "i3", "INACTIVE")
    add_task(op, cluster, "t1", "RUNNING")
    add_task(op, cluster, "t2", "RUNNING", "FARGATE")
    add_task(op, cluster, "t3", "PENDING")
    add_task(op, cluster, "t4", "STOPPED")
    add_service(op, cluster, "a", "ACTIVE")
    add_service(op, cluster, "b", "DRAINING")
    add_service(op, cluster, "c", "INACTIVE")
    found, _ = clusters.describe_clusters(op, ["web"])
    counts = found[0].counts
    # registeredContainerInstancesCount counts ACTIVE and DRAINING instances.
    assert counts.registered_instances == 2
    assert counts.running_tasks == 2
    assert counts.pending_tasks == 1
    assert counts.active_services == 1
    # Statistics are only computed on request.
    assert counts.statistics == ()
    # The same counts come back from every call that shapes a cluster.
    assert clusters.update_cluster(op, "web").counts == counts


def test_statistics_split_by_launch_type(op: Op, cluster: str) -> None:
    add_task(op, cluster, "t1", "RUNNING", "EC2")
    add_task(op, cluster, "t2", "RUNNING", "FARGATE")
    add_task(op, cluster, "t3", "RUNNING", "FARGATE")
    add_task(op, cluster, "t4", "PENDING", "FARGATE")
    add_task(op, cluster, "t5", "PENDING", "EXTERNAL")
    add_task(op, cluster, "t6", "STOPPED", "EC2")
    add_service(op, cluster, "a", "ACTIVE", "EC2")
    add_service(op, cluster, "b", "ACTIVE", "FARGATE")
    add_service(op, cluster, "c", "DRAINING", "FARGATE")
    add_service(op, cluster, "d", "INACTIVE", "EC2")
    stats = statistics(op, cluster)
    assert stats["runningEC2TasksCount"] == 1
    assert stats["runningFargateTasksCount"] == 2
    assert stats["pendingEC2TasksCount"] == 0
    assert stats["pendingFargateTasksCount"] == 1
    assert stats["pendingExternalTasksCount"] == 1
    assert stats["activeEC2ServiceCount"] == 1
    assert stats["activeFargateServiceCount"] == 1
    assert stats["drainingFargateServiceCount"] == 1
    assert stats["drainingEC2ServiceCount"] == 0


def test_counts_of_a_fresh_cluster_are_zero(op: Op, cluster: str) -> None:
    found, _ = clusters.describe_clusters(op, [cluster], statistics=True)
    counts = found[0].counts
    assert (counts.registered_instances, counts.running_tasks, counts.pending_tasks) == (0, 0, 0)
    assert counts.active_services == 0
    assert set(dict(counts.statistics).values()) == {0}
    assert "runningEC2TasksCount" in dict(counts.statistics)


# PutClusterCapacityProviders and the services that use a provider


def test_a_provider_in_use_by_a_service_cannot_be_removed(op: Op, cluster: str) -> None:
    clusters.put_capacity_providers(op, "web", ["FARGATE", "FARGATE_SPOT"], [])
    add_service(op, cluster, "api", strategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    with pytest.raises(ResourceInUseException) as err:
        clusters.put_capacity_providers(op, "web", ["FARGATE"], [])
    assert "in use" in err.value.message
    found, _ = clusters.describe_clusters(op, ["web"])
    assert found[0].cluster.capacity_providers == ["FARGATE", "FARGATE_SPOT"]
    # A provider no service uses can go.
    assert clusters.put_capacity_providers(op, "web", ["FARGATE_SPOT"], []).cluster.arn == cluster


# Regions


def test_another_region_does_not_see_the_cluster(op: Op, cluster: str) -> None:
    elsewhere = testing.make_op(op.world, "eu-west-1", ACCOUNT)
    found, failures = clusters.describe_clusters(elsewhere, [cluster])
    assert found == []
    assert failures == [{"arn": cluster, "reason": "MISSING"}]
    with pytest.raises(ClusterNotFoundException):
        clusters.delete_cluster(elsewhere, cluster)
    assert clusters.list_clusters(elsewhere) == ([], None)
    assert status_of(op, cluster) == ACTIVE


def test_fargate_capacity_is_no_container_instance(op: Op, cluster: str) -> None:
    # What `portside up` registers so FARGATE tasks can run: ECS shows no instance for it.
    arn = add_instance(op, cluster, "fargate1")
    with op.store.transaction() as tx:
        doc = tx.get("container_instances", arn)
        assert doc is not None
        tx.put("container_instances", arn, {**doc, "fargate": True})
    found, _ = clusters.describe_clusters(op, [cluster])
    assert found[0].counts.registered_instances == 0
    assert clusters.delete_cluster(op, cluster).cluster.status == INACTIVE
