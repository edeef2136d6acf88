"""ops/task_enis.py's pure parts: what an agent's report may change in an ENI attachment."""

from __future__ import annotations

from portside.ops.task_enis import merged_details


def test_the_allocated_details_stand_against_a_report() -> None:
    stored = {
        "details": [
            {"name": "subnetId", "value": "subnet-0123456789abcdef0"},
            {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
            {"name": "privateIPv4Address", "value": "10.0.1.4"},
        ]
    }
    reported = (
        ("subnetId", "subnet-0123456789abcdef0"),
        ("networkInterfaceId", "eni-agentmade"),
        ("privateIPv4Address", "172.18.0.2"),
        ("macAddress", "02:42:ac:12:00:02"),
    )
    assert merged_details(stored, reported) == [
        {"name": "subnetId", "value": "subnet-0123456789abcdef0"},
        {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
        {"name": "privateIPv4Address", "value": "10.0.1.4"},
        {"name": "macAddress", "value": "02:42:ac:12:00:02"},
    ]


def test_without_an_allocation_the_report_fills_the_details() -> None:
    stored = {"details": [{"name": "subnetId", "value": "subnet-0e2e"}]}
    reported = (("subnetId", "subnet-0e2e"), ("privateIPv4Address", "172.18.0.2"))
    assert merged_details(stored, reported) == [
        {"name": "subnetId", "value": "subnet-0e2e"},
        {"name": "privateIPv4Address", "value": "172.18.0.2"},
    ]
    assert merged_details(None, reported) == [
        {"name": "subnetId", "value": "subnet-0e2e"},
        {"name": "privateIPv4Address", "value": "172.18.0.2"},
    ]
