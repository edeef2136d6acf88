"""The control plane's metrics registry: what is counted as it happens (API calls, placement
decisions) and the collectors that read the rest at scrape time (`gauges.py`,
`task_stats.py`).

Each server has a `CollectorRegistry` of its own, never prometheus_client's global one, so
two servers in one process (the tests, `portside up`) neither clash nor count each other's
calls. An API call costs one dict lookup and one histogram observation (~1 µs): the labelled
child of each (service, action, code) is kept, not looked up through `labels()` each time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST

# API calls are mostly sub-millisecond reads and 1-20 ms fsynced writes.
API_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
PLACEMENT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)


class ControlPlaneMetrics:
    """One server's metrics. `api_call` and `placement` are called where those happen;
    `render()` answers a scrape."""

    def __init__(self, collectors: Iterable[Collector] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._api = Histogram(
            "portside_api_request_duration_seconds",
            "AWS API calls answered by the edge, by service, action and HTTP status code: "
            "seconds from the request read whole to its reply (_count: the number of calls).",
            ["service", "action", "code"],
            buckets=API_BUCKETS,
            registry=self.registry,
        )
        self._placement = Histogram(
            "portside_placement_duration_seconds",
            "Seconds the placer took to choose instances for one RunTask, StartTask or "
            "service launch.",
            buckets=PLACEMENT_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], Histogram] = {}
        self._lock = threading.Lock()
        for collector in collectors:
            self.registry.register(collector)

    def api_call(self, service: str, action: str, code: int, seconds: float) -> None:
        """One API call answered (called on the event loop and from write threads)."""
        key = (service, action, code)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._api.labels(service, action or "unknown", str(code))
                if len(self._children) < 10_000:  # bounded: actions are a finite set
                    self._children[key] = child
        child.observe(seconds)

    def placement(self, seconds: float) -> None:
        """One placement decision (`ops/placement.choose`)."""
        self._placement.observe(seconds)

    def render(self) -> bytes:
        """The text exposition of everything (reads the store: call it in a thread)."""
        return generate_latest(self.registry)
