"""ECS cluster actions: wire <-> ops."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.model.cluster import ClusterSetting
from portside.model.launch import strategy_of
from portside.ops import clusters
from portside.ops.clusters import ClusterView
from portside.ops.context import Op
from portside.wire.replies import page

_INCLUDES = ("ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS")


def _settings(items: list[dict[str, Any]] | None) -> tuple[ClusterSetting, ...] | None:
    """None when the request left settings out (an update then keeps the cluster's)."""
    return ClusterSetting.all_of(items) if items is not None else None


def shape(view: ClusterView, include: frozenset[str] = frozenset(_INCLUDES)) -> dict[str, Any]:
    c = view.cluster
    out: dict[str, Any] = {
        "clusterArn": c.arn,
        "clusterName": c.name,
        "status": c.status,
        "registeredContainerInstancesCount": view.counts.registered_instances,
        "runningTasksCount": view.counts.running_tasks,
        "pendingTasksCount": view.counts.pending_tasks,
        "activeServicesCount": view.counts.active_services,
        "statistics": [{"name": n, "value": str(v)} for n, v in view.counts.statistics]
        if "STATISTICS" in include
        else [],
        "tags": list(view.tags) if "TAGS" in include else [],
        "capacityProviders": list(c.capacity_providers),
        "defaultCapacityProviderStrategy": list(c.default_strategy),
    }
    if "SETTINGS" in include:
        out["settings"] = list(c.settings)
    if "CONFIGURATIONS" in include and c.configuration is not None:
        out["configuration"] = c.configuration
    if "ATTACHMENTS" in include:
        out["attachments"] = []
    if c.service_connect_defaults:
        out["serviceConnectDefaults"] = c.service_connect_defaults
    return out


@action("CreateCluster")
def create_cluster(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = clusters.create_cluster(
        op,
        name=p.get("clusterName"),
        tags=p.get("tags") or (),
        settings_=_settings(p.get("settings")),
        configuration=p.get("configuration"),
        capacity_providers=p.get("capacityProviders"),
        default_strategy=strategy_of(p.get("defaultCapacityProviderStrategy")),
        service_connect_defaults=p.get("serviceConnectDefaults"),
    )
    return {"cluster": shape(view, frozenset({"SETTINGS", "TAGS", "CONFIGURATIONS"}))}


@action("DescribeClusters")
def describe_clusters(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    include = frozenset(p.get("include") or ())
    found, failures = clusters.describe_clusters(
        op, p.get("clusters"), statistics="STATISTICS" in include, tags="TAGS" in include
    )
    return {"clusters": [shape(v, include) for v in found], "failures": failures}


@action("ListClusters")
def list_clusters(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keys, token = clusters.list_clusters(
        op, max_results=p.get("maxResults"), next_token=p.get("nextToken")
    )
    return page("clusterArns", keys, token)


@action("UpdateCluster")
def update_cluster(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = clusters.update_cluster(
        op,
        p["cluster"],
        settings_=_settings(p.get("settings")),
        configuration=p.get("configuration"),
        service_connect_defaults=p.get("serviceConnectDefaults"),
    )
    return {"cluster": shape(view, frozenset({"SETTINGS", "CONFIGURATIONS"}))}


@action("UpdateClusterSettings")
def update_cluster_settings(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = clusters.update_cluster(op, p["cluster"], settings_=ClusterSetting.all_of(p["settings"]))
    return {"cluster": shape(view, frozenset({"SETTINGS"}))}


@action("PutClusterCapacityProviders")
def put_cluster_capacity_providers(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = clusters.put_capacity_providers(
        op, p["cluster"], p["capacityProviders"], strategy_of(p["defaultCapacityProviderStrategy"])
    )
    return {"cluster": shape(view, frozenset({"SETTINGS"}))}


@action("DeleteCluster")
def delete_cluster(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    view = clusters.delete_cluster(op, p["cluster"])
    return {"cluster": shape(view, frozenset({"SETTINGS"}))}
