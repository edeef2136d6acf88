"""Service Connect's proxy counts on their way to Prometheus: the agent's sampler sends its
host's per-target counts with its container samples, the control plane keeps them per
(host, target) and writes them as `portside_service_connect_*_total` counters; a report
with bad counts is refused whole."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portside.agent.simulated import SimulatedDriver
from portside.agent.stats import StatsSampler
from portside.errors import InvalidParameterException
from portside.gateway.protocol.stats import ProxyCount, StatsReport
from portside.prometheus.task_stats import STALE_AFTER, TaskStatsBook, TaskStatsCollector
from portside.testing import FakeClock

HOST = "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/abc123"
TARGET = "arn:aws:ecs:us-east-1:000000000000:service/prod/backend#backend"


def test_the_sampler_sends_its_hosts_proxy_counts_with_no_task_running() -> None:
    sent: list[StatsReport] = []
    counts = [ProxyCount(TARGET, requests=12, responses_5xx=1, redispatches=2)]
    sampler = StatsSampler(
        lambda: [], SimulatedDriver(), sent.append, interval=1, proxy=lambda: (HOST, counts)
    )
    sampler.pass_once()
    (report,) = sent
    again = StatsReport.from_wire(report.to_wire())
    assert again.host == HOST and again.service_connect == tuple(counts) and again.tasks == ()


def test_counts_are_written_per_host_and_target_and_go_when_stale() -> None:
    clock = FakeClock()
    book = TaskStatsBook(clock)
    book.put_proxy_counts(HOST, (ProxyCount(TARGET, requests=40, connection_errors=3),))
    text = TaskStatsCollector(book).render().decode()
    samples = {
        (s.name, s.labels.get("service"), s.labels.get("host")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("portside_service_connect_requests_total", "backend", "abc123")] == 40
    assert samples[("portside_service_connect_connection_errors_total", "backend", "abc123")] == 3
    other = TaskStatsCollector(book).render(frozenset({"staging"})).decode()
    assert "portside_service_connect_requests_total{" not in other  # another cluster's
    clock.advance(STALE_AFTER + 1)
    assert book.proxy_counts() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"target": "backend", "requests": 1},
        {"target": TARGET, "requests": -1},
        {"target": TARGET, "requests": "many"},
    ],
)
def test_a_report_with_bad_counts_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterException):
        StatsReport.from_wire({"tasks": [], "host": HOST, "serviceConnect": [bad]})
