"""The pure parts of Cloud Map and its ECS registrations: a service's DNS records, the DNS
view followed through a real store's feed (zones that come and go), DiscoverInstances'
choice, the registries loop's plan and the attributes ECS registers a task with."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import pytest

from portside.controllers.registries import Wanted, attributes, plan
from portside.dns import answer
from portside.dns.follower import RecordFollower
from portside.dns.records import Record
from portside.dns.sources import CloudMapSource
from portside.dns.zone import Zone
from portside.servicediscovery import records
from portside.servicediscovery.discovery import select
from portside.servicediscovery.records_dns import service_records
from portside.store.sqlite import SqliteStore
from portside.testing import sqlite_store

SCOPE = "000000000000|us-east-1|"


def _service(*types: str, policy: str = "MULTIVALUE", name: str = "backend") -> dict[str, Any]:
    return {
        "Id": "srv-1",
        "Name": name,
        "NamespaceId": "ns-1",
        "Type": "DNS_HTTP",
        "DnsConfig": {
            "RoutingPolicy": policy,
            "DnsRecords": [{"Type": t, "TTL": 7} for t in types],
        },
    }


def _instance(i: int, health: str = "HEALTHY", **attrs: str) -> dict[str, Any]:
    base = {"AWS_INSTANCE_IPV4": f"10.0.0.{i}", "AWS_INSTANCE_PORT": str(8000 + i)}
    return {"Id": f"t{i}", "Health": health, "Attributes": {**base, **attrs}}


def test_a_records_of_healthy_instances_with_the_services_ttl() -> None:
    found = service_records(
        "local",
        _service("A"),
        [_instance(1), _instance(2, "UNHEALTHY"), _instance(3, "UNKNOWN")],
        random.Random(1),
    )
    assert found == (
        Record("backend.local.", "A", "10.0.0.1", 7),
        Record("backend.local.", "A", "10.0.0.3", 7),
    )


def test_multivalue_answers_eight_at_most_and_weighted_one() -> None:
    many = [_instance(i) for i in range(1, 12)]
    assert len(service_records("local", _service("A"), many, random.Random(2))) == 8
    assert (
        len(service_records("local", _service("A", policy="WEIGHTED"), many, random.Random(2))) == 1
    )


def test_srv_records_point_at_each_instances_own_name() -> None:
    found = service_records(
        "local", _service("SRV", name="_web._tcp"), [_instance(1)], random.Random(0)
    )
    assert found == (
        Record("_web._tcp.local.", "SRV", "1 1 8001 t1._web._tcp.local.", 7),
        Record("t1._web._tcp.local.", "A", "10.0.0.1", 7),
    )
    http = {**_service("A"), "Type": "HTTP"}
    assert service_records("local", http, [_instance(1)], random.Random(0)) == ()


def test_discover_filters_then_samples() -> None:
    held = [_instance(1, color="red"), _instance(2, "UNHEALTHY", color="blue"), _instance(3)]
    rng = random.Random(3)
    assert [d["Id"] for d in select(held, {"color": "blue"}, {}, "ALL", 10, rng)] == ["t2"]
    assert [d["Id"] for d in select(held, {}, {"color": "red"}, "HEALTHY", 10, rng)] == ["t1"]
    assert len(select(held, {}, {"color": "green"}, "HEALTHY", 10, rng)) == 2
    unhealthy = [_instance(1, "UNHEALTHY")]
    assert select(unhealthy, {}, {}, "HEALTHY", 10, rng) == []
    assert len(select(unhealthy, {}, {}, "HEALTHY_OR_ELSE_ALL", 10, rng)) == 1
    assert len(select(held, {}, {}, "ALL", 2, rng)) == 2
    unchecked = [_instance(1, "UNKNOWN"), _instance(2, "UNKNOWN")]
    assert len(select(unchecked, {}, {}, "UNHEALTHY", 10, rng)) == 2  # no health checking


def test_registries_plan_registers_and_deregisters() -> None:
    wanted = [Wanted("task/a", "reg/1", {}), Wanted("task/b", "reg/1", {})]
    held = {"task/a": {"reg/1": "UNKNOWN", "reg/2": "UNKNOWN"}, "task/c": {"reg/1": "HEALTHY"}}
    found = plan(wanted, held)
    assert [w.task_arn for w in found.register] == ["task/b"]
    assert found.deregister == [("task/a", "reg/2"), ("task/c", "reg/1")]
    assert plan([], {}).empty()


def test_registries_plan_follows_container_health() -> None:
    starting = Wanted("task/a", "reg/1", {}, "UNKNOWN", custom=True)
    assert plan([starting], {}).empty()  # registered once HEALTHY, not before
    healthy = Wanted("task/a", "reg/1", {}, "HEALTHY", custom=True)
    assert plan([healthy], {}).register == [healthy]
    sick = Wanted("task/a", "reg/1", {}, "UNHEALTHY", custom=True)
    assert plan([sick], {"task/a": {"reg/1": "HEALTHY"}}).health == [
        ("task/a", "reg/1", "UNHEALTHY")
    ]
    assert plan([healthy], {"task/a": {"reg/1": "UNHEALTHY"}}).health == [
        ("task/a", "reg/1", "HEALTHY")
    ]
    plain = Wanted("task/a", "reg/1", {}, "UNHEALTHY", custom=False)
    assert plan([plain], {"task/a": {"reg/1": "UNKNOWN"}}).deregister == [("task/a", "reg/1")]


def test_attributes_ecs_registers() -> None:
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c1/abc",
        "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/c1",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
        "availabilityZone": "us-east-1b",
        "attachments": [{"details": [{"name": "privateIPv4Address", "value": "10.1.0.5"}]}],
        "containers": [
            {"name": "web", "networkBindings": [{"containerPort": 80, "hostPort": 32768}]}
        ],
    }
    awsvpc = attributes(task, {"registryArn": "r", "port": 80}, "awsvpc", None, "svc", True)
    assert awsvpc == {
        "AWS_INSTANCE_IPV4": "10.1.0.5",
        "AWS_INSTANCE_PORT": "80",
        "AWS_INIT_HEALTH_STATUS": "HEALTHY",
        "AVAILABILITY_ZONE": "us-east-1b",
        "ECS_CLUSTER_NAME": "c1",
        "ECS_SERVICE_NAME": "svc",
        "ECS_TASK_DEFINITION_FAMILY": "web",
        "REGION": "us-east-1",
    }
    instance = {"privateIpAddress": "192.168.1.9", "ec2InstanceId": "i-0abc"}
    item = {"registryArn": "r", "containerName": "web", "containerPort": 80}
    bridge = attributes(task, item, "bridge", instance, "svc", True)
    assert bridge is not None
    assert (bridge["AWS_INSTANCE_IPV4"], bridge["AWS_INSTANCE_PORT"]) == ("192.168.1.9", "32768")
    assert bridge["EC2_INSTANCE_ID"] == "i-0abc"
    unbound = {**task, "containers": [{"name": "web", "networkBindings": []}]}
    assert attributes(unbound, item, "bridge", instance, "svc", True) is None


# -- the DNS view on a real store ------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = sqlite_store(tmp_path)
    yield store
    store.close()


def _put(store: SqliteStore, table: str, key: str, doc: dict[str, Any] | None) -> None:
    with store.transaction() as tx:
        if doc is None:
            tx.delete(table, key)
        else:
            tx.put(table, key, doc)


def _rcode(zone: Zone, name: str, rdtype: str = "A") -> Any:
    response = answer.respond(dns.message.make_query(name, rdtype), zone)
    return None if response is None else response.rcode()


def test_namespaces_are_zones_and_records_follow_instances(store: SqliteStore) -> None:
    zone = Zone(["ec2.internal"])
    follower = RecordFollower(store, zone, [CloudMapSource(zone.set_extra_apexes)])
    follower.load()
    assert _rcode(zone, "backend.corp.local.") is None  # not ours yet: forwarded
    ns = {"Id": "ns-1", "Name": "corp.local", "Type": "DNS_PRIVATE"}
    _put(store, records.NAMESPACES, SCOPE + "ns-1", ns)
    _put(store, records.SERVICES, SCOPE + "srv-1", _service("A"))
    follower.follow()
    assert _rcode(zone, "backend.corp.local.") == dns.rcode.NXDOMAIN
    assert _rcode(zone, "corp.local.", "SOA") == dns.rcode.NOERROR
    _put(store, records.INSTANCES, SCOPE + "srv-1|t1", _instance(1))
    _put(store, records.INSTANCES, SCOPE + "srv-1|t2", _instance(2))
    follower.follow()
    node = zone.node("backend.corp.local.")
    assert node is not None and [r.value for r in node.rrsets["A"]] == ["10.0.0.1", "10.0.0.2"]
    _put(store, records.INSTANCES, SCOPE + "srv-1|t1", None)
    follower.follow()
    node = zone.node("backend.corp.local.")
    assert node is not None and [r.value for r in node.rrsets["A"]] == ["10.0.0.2"]
    # A restart reads it all again, to the same records.
    again = Zone(["ec2.internal"])
    RecordFollower(store, again, [CloudMapSource(again.set_extra_apexes)]).load()
    assert again.records() == zone.records() and again.apexes == zone.apexes
    # An HTTP namespace is no zone; a deleted namespace stops being one.
    _put(store, records.INSTANCES, SCOPE + "srv-1|t2", None)
    _put(store, records.SERVICES, SCOPE + "srv-1", None)
    _put(store, records.NAMESPACES, SCOPE + "ns-1", None)
    _put(store, records.NAMESPACES, SCOPE + "ns-2", {**ns, "Id": "ns-2", "Type": "HTTP"})
    follower.follow()
    assert zone.records() == [] and zone.apexes == ("ec2.internal.",)


def test_a_public_namespace_is_answered_too(store: SqliteStore) -> None:
    zone = Zone()
    follower = RecordFollower(store, zone, [CloudMapSource(zone.set_extra_apexes)])
    follower.load()
    ns = {"Id": "ns-9", "Name": "example.com", "Type": "DNS_PUBLIC"}
    _put(store, records.NAMESPACES, SCOPE + "ns-9", ns)
    _put(store, records.SERVICES, SCOPE + "srv-1", {**_service("A"), "NamespaceId": "ns-9"})
    _put(store, records.INSTANCES, SCOPE + "srv-1|t1", _instance(4))
    follower.follow()
    response = answer.respond(dns.message.make_query("backend.example.com.", "A"), zone)
    assert response is not None
    assert [r.to_text() for rrset in response.answer for r in rrset] == ["10.0.0.4"]
    assert response.answer[0].ttl == 7
