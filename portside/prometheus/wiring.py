"""Prometheus as `server.py` builds it: the metrics registry with its collectors, the task
stats the agents send, the service discovery source, and the routes that serve them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.routing import BaseRoute

from portside.ops.context import World
from portside.prometheus import routes as http
from portside.prometheus.gauges import StateGauges
from portside.prometheus.metrics import ControlPlaneMetrics
from portside.prometheus.targets import TargetSource
from portside.prometheus.task_stats import TaskStatsBook, TaskStatsCollector

TOKEN_ENV = "PORTSIDE_PROMETHEUS_TOKEN"


@dataclass
class Prometheus:
    metrics: ControlPlaneMetrics
    stats: TaskStatsBook  # the agents' latest container samples (CloudWatch reads them too)
    targets: TargetSource
    token: str | None

    def routes(self, authenticate: http.Authenticate) -> list[BaseRoute]:
        collector = TaskStatsCollector(self.stats)
        return http.routes(
            http.Access(self.token, authenticate),
            self.metrics.render,
            collector.render,
            self.targets.document,
            self.stats.clusters,
        )


def build(
    world: World,
    last_seen: Callable[[], Mapping[str, float]],
    token: str | None = None,
) -> Prometheus:
    """`last_seen`: instance ARN -> when its agent last synced (the gateway's)."""
    stats = TaskStatsBook(world.clock)
    metrics = ControlPlaneMetrics([StateGauges(world, last_seen)])
    return Prometheus(
        metrics=metrics,
        stats=stats,
        targets=TargetSource(world),
        token=token if token is not None else os.environ.get(TOKEN_ENV) or None,
    )
