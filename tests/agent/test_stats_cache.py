"""The agent's last Docker stats per container, as the task metadata endpoint serves them
(agent/stats_cache.py, metadata/shapes.py): the sampler's reading, the previous one as
`precpu_stats`/`preread` where the driver left them out, v4's network rates; pure."""

from __future__ import annotations

from typing import Any

import pytest

from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN
from portside.agent.load_model import LoadModel
from portside.agent.metadata.shapes import container_stats_document, task_stats_document
from portside.agent.stats import StatsSampler
from portside.agent.stats_cache import StatsCache, cache_of


def _doc(read: str, cpu: int, rx: int) -> dict[str, Any]:
    return {
        "read": read,
        "cpu_stats": {"cpu_usage": {"total_usage": cpu}},
        "memory_stats": {"usage": 1},
        "networks": {"eth0": {"rx_bytes": rx, "tx_bytes": 2 * rx}},
    }


def test_latest_reading_with_the_previous_one_and_rates() -> None:
    cache = StatsCache()
    assert cache.latest("c1") is None
    cache.put("c1", _doc("t1", 100, 1000), 10.0)
    first = cache.latest("c1")
    assert first == _doc("t1", 100, 1000)  # one reading: Docker's document as it came
    cache.put("c1", _doc("t2", 300, 3000), 20.0)
    doc = cache.latest("c1")
    assert doc is not None
    assert doc["cpu_stats"] == {"cpu_usage": {"total_usage": 300}}
    assert doc["precpu_stats"] == {"cpu_usage": {"total_usage": 100}}
    assert doc["preread"] == "t1"
    assert doc["network_rate_stats"] == {"rx_bytes_per_sec": 200.0, "tx_bytes_per_sec": 400.0}
    # Docker's own precpu_stats are kept.
    cache.put("c1", {**_doc("t3", 500, 3000), "precpu_stats": {"x": 1}, "preread": "p"}, 30.0)
    doc = cache.latest("c1")
    assert doc is not None and doc["precpu_stats"] == {"x": 1} and doc["preread"] == "p"
    cache.keep_only(["c2"])
    assert cache.latest("c1") is None


def test_version_3_has_no_network_rates() -> None:
    doc = {"read": "t", "network_rate_stats": {"rx_bytes_per_sec": 1.0}}
    assert "network_rate_stats" in container_stats_document(doc, version=4)
    assert container_stats_document(doc, version=3) == {"read": "t"}
    assert task_stats_document({"a": doc, "b": None}, version=3) == {"a": {"read": "t"}, "b": {}}


class _Driver:
    """The one driver call the sampler makes."""

    name = "fake"

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def stats(self, runtime_id: str) -> dict[str, Any]:
        return self.doc


def test_the_sampler_fills_its_drivers_cache() -> None:
    labels = {LABEL_TASK_ARN: "arn:aws:ecs:us-east-1:1:task/c/t", LABEL_CONTAINER: "app"}
    load = LoadModel()
    load.set(0.0, 512, 10)
    doc = load.docker_stats("rid", labels, 50.0, None, 100.0, host_cpus=1, host_memory_mib=64)
    driver = _Driver(doc)
    sampler = StatsSampler(lambda: [], driver, lambda _: None, interval=1, clock=lambda: 100.0)  # type: ignore[arg-type]
    assert sampler._sample("app", "rid") is not None
    cached = cache_of(driver).latest("rid")
    assert cached is not None
    assert cached["cpu_stats"]["cpu_usage"]["total_usage"] == pytest.approx(25e9)
    assert cache_of(driver) is cache_of(driver)
    assert cache_of(_Driver(doc)) is not cache_of(driver)  # one cache per host's driver
