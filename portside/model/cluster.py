"""A cluster: a named group of container instances, tasks and services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"

BUILTIN_CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


@dataclass(frozen=True, slots=True)
class ClusterSetting:
    """A request's cluster setting (containerInsights is the one there is), as given: the
    cluster operations check it."""

    name: str | None
    value: str | None

    @classmethod
    def all_of(cls, items: Iterable[Mapping[str, Any]]) -> tuple[ClusterSetting, ...]:
        return tuple(cls(i.get("name"), i.get("value")) for i in items)


@dataclass(slots=True)
class Cluster:
    arn: str
    name: str
    status: str = ACTIVE
    settings: list[dict[str, str]] = field(default_factory=list)
    configuration: dict[str, Any] | None = None
    capacity_providers: list[str] = field(default_factory=list)
    default_strategy: list[dict[str, Any]] = field(default_factory=list)
    service_connect_defaults: dict[str, str] | None = None
    created_at: float = 0.0
    deleted_at: float | None = None  # DeleteCluster: INACTIVE since then

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        # Indexed columns are read from these document fields (store/tables.py).
        doc["clusterName"] = self.name
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Cluster:
        doc = dict(doc)
        doc.pop("clusterName", None)
        return cls(**doc)


@dataclass(frozen=True, slots=True)
class ClusterCounts:
    """What DescribeClusters counts, read from the store at the time of the call."""

    registered_instances: int = 0
    running_tasks: int = 0
    pending_tasks: int = 0
    active_services: int = 0
    statistics: tuple[tuple[str, int], ...] = ()
