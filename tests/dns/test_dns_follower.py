"""The record follower on a real store: read in full at start, then from the change feed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from portside.config import ServerConfig
from portside.controllers.loop import Loops
from portside.dns.follower import RecordFollower
from portside.dns.plane import DnsPlane
from portside.dns.sources import IngressHostSource, LoadBalancerSource, TaskSource
from portside.dns.zone import Zone
from portside.elb.addresses import own_address
from portside.elb.records import LBS
from portside.startup import StartupError
from portside.store.sqlite import SqliteStore
from portside.testing import sqlite_store

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/c1"
TASK = "arn:aws:ecs:us-east-1:000000000000:task/c1/0123456789abcdef0123456789abcdef"
OTHER = "arn:aws:ecs:us-east-1:000000000000:task/c1/fedcba9876543210fedcba9876543210"
LB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef"
LB_NAME = "web-1234567890.us-east-1.elb.portside.internal."


def task(ip: str | None, last: str = "RUNNING", desired: str = "RUNNING") -> dict[str, Any]:
    details = [{"name": "subnetId", "value": "subnet-1"}]
    if ip:
        details.append({"name": "privateIPv4Address", "value": ip})
    return {
        "clusterArn": CLUSTER,
        "lastStatus": last,
        "desiredStatus": desired,
        "version": 1,
        "attachments": [{"id": "a", "type": "ElasticNetworkInterface", "details": details}],
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = sqlite_store(tmp_path)
    yield store
    store.close()


def put(store: SqliteStore, table: str, key: str, doc: dict[str, Any] | None) -> None:
    with store.transaction() as tx:
        if doc is None:
            tx.delete(table, key)
        else:
            tx.put(table, key, doc)


def follower(store: SqliteStore) -> RecordFollower:
    sources = (TaskSource(), LoadBalancerSource("127.0.0.1"))
    return RecordFollower(store, Zone(z for s in sources for z in s.zones), sources)


def test_load_balancers_listening_on_one_address_are_all_there() -> None:
    source = LoadBalancerSource("192.0.2.10")
    doc = orjson.dumps({"LoadBalancerArn": LB, "DNSName": LB_NAME.rstrip(".")}).decode()
    ((_, (record,)),) = list(source.changed(LBS, LB, doc))
    assert record.value == "192.0.2.10"


def names(f: RecordFollower) -> dict[str, str]:
    return {r.name: r.value for r in f.zone.records() if r.type == "A"}


def test_what_the_store_holds_at_start_is_loaded(store: SqliteStore) -> None:
    put(store, "tasks", TASK, task("10.0.1.23"))
    put(store, "tasks", OTHER, task("10.0.1.24", last="STOPPED", desired="STOPPED"))
    put(store, LBS, LB, {"LoadBalancerArn": LB, "DNSName": LB_NAME.rstrip(".")})
    f = follower(store)
    f.load()
    # Load balancers listening on loopback: each at its own address (elb/addresses.py).
    mine = own_address(LB)
    assert names(f) == {"ip-10-0-1-23.ec2.internal.": "10.0.1.23", LB_NAME: mine}


def test_a_task_name_follows_its_document(store: SqliteStore) -> None:
    f = follower(store)
    f.load()
    put(store, "tasks", TASK, task(None, last="PROVISIONING"))
    f.follow()
    assert names(f) == {}
    put(store, "tasks", TASK, task("10.0.1.23", last="PENDING"))
    f.follow()
    assert names(f) == {"ip-10-0-1-23.ec2.internal.": "10.0.1.23"}
    assert f.zone.node("23.1.0.10.in-addr.arpa.") is not None
    # Asked to stop: gone while the task still runs.
    put(store, "tasks", TASK, task("10.0.1.23", last="RUNNING", desired="STOPPED"))
    f.follow()
    assert names(f) == {} and f.zone.node("23.1.0.10.in-addr.arpa.") is None


def test_only_a_keys_last_change_counts(store: SqliteStore) -> None:
    f = follower(store)
    f.load()
    put(store, "tasks", TASK, task("10.0.1.23"))
    put(store, "tasks", TASK, task("10.0.1.23", last="DEACTIVATING", desired="STOPPED"))
    put(store, "tasks", OTHER, task("10.0.1.24"))
    put(store, "tasks", OTHER, None)
    f.follow()
    assert names(f) == {}


def test_load_balancers_come_and_go(store: SqliteStore) -> None:
    f = follower(store)
    f.load()
    put(store, LBS, LB, {"LoadBalancerArn": LB, "DNSName": LB_NAME.rstrip(".")})
    f.follow()
    assert names(f) == {LB_NAME: own_address(LB)}
    put(store, LBS, LB, None)
    f.follow()
    assert names(f) == {}


def test_a_feed_trimmed_past_the_zone_is_read_in_full_again(store: SqliteStore) -> None:
    f = follower(store)
    put(store, "tasks", TASK, task("10.0.1.23"))
    f.load()
    put(store, "tasks", TASK, None)
    put(store, "tasks", OTHER, task("10.0.1.24"))
    put(store, "tasks", OTHER, task("10.0.1.24", last="RUNNING"))
    store.trim(before=float("inf"))  # only the newest change is kept
    f.follow()
    assert names(f) == {"ip-10-0-1-24.ec2.internal.": "10.0.1.24"}


def test_its_passes_are_the_dns_loop_on_a_thread_of_its_own(store: SqliteStore) -> None:
    f = follower(store)
    loops = Loops()
    f.register(loops)
    assert [s.name for s in loops.status()] == ["dns"] and loops.all() == []
    f.start()
    try:
        put(store, "tasks", TASK, task("10.0.1.23"))
        wait_for(lambda: names(f) == {"ip-10-0-1-23.ec2.internal.": "10.0.1.23"})
    finally:
        f.stop()


def test_a_failing_pass_shows_in_health(store: SqliteStore) -> None:
    f = follower(store)
    loops = Loops()
    f.register(loops)

    class Broken(TaskSource):
        def load(self, tx: Any) -> Iterator[Any]:
            raise RuntimeError("cannot read tasks")

    f.sources = (Broken(),)
    f.start()
    try:
        wait_for(lambda: loops.failing(after=1) == ["dns"])
    finally:
        f.stop()
    assert loops.status()[0].last_error == "RuntimeError: cannot read tasks"


def wait_for(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_given_port_that_is_taken_stops_the_start(tmp_path: Path) -> None:
    first = DnsPlane.open(ServerConfig(data_dir=tmp_path))
    try:
        with pytest.raises(StartupError, match="--dns-port"):
            DnsPlane.open(ServerConfig(data_dir=tmp_path, dns_port=first.port))
        # Without a port given, another is chosen.
        second = DnsPlane.open(ServerConfig(data_dir=tmp_path))
        assert second.port != first.port
        asyncio.run(second.stop())
    finally:
        asyncio.run(first.stop())


def test_a_restarted_server_keeps_its_dns_port(tmp_path: Path) -> None:
    first = DnsPlane.open(ServerConfig(data_dir=tmp_path))
    port = first.port
    (tmp_path / "server.json").write_text(f'{{"dns": "{first.address}"}}')
    asyncio.run(first.stop())
    again = DnsPlane.open(ServerConfig(data_dir=tmp_path))
    try:
        assert again.port == port
    finally:
        asyncio.run(again.stop())


def test_ecs_managed_host_names_are_authoritative_and_other_on_aws_names_are_not() -> None:
    """ECS's own `ecs.<region>.on.aws` is answered here (a miss is NXDOMAIN); any other
    `on.aws` name, a Lambda function URL's, goes to the upstream resolvers."""
    source = IngressHostSource("127.0.0.1")
    zone = Zone(source.zones)
    assert zone.apex_of("web-1a2b3c4d.ecs.eu-west-1.on.aws.") == "ecs.eu-west-1.on.aws."
    assert zone.apex_of("abc.lambda-url.us-east-1.on.aws.") is None
    routes = [{"ruleArn": "r1", "loadBalancerArn": LB}, {"ruleArn": "r2", "loadBalancerArn": "x"}]
    doc = orjson.dumps({"host": "web-1.ecs.us-east-1.on.aws", "routes": routes}).decode()
    ((_, (record,)),) = list(source.changed("ingress_hosts", "web-1.ecs.us-east-1.on.aws", doc))
    assert record.value == own_address(LB)
