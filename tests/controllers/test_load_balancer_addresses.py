"""The load balancers' loop on a store, with test_load_balancer_plane.py's recording proxy:
an `instance` target is reached at its container instance's address as its agent registered
it (loopback when it gave none), and a target registered again is judged afresh, whatever
the proxy last said of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_load_balancer_plane import FAILED, HEALTHY, T0, FakeProxy

from portside import testing
from portside.controllers import load_balancers as plane_mod
from portside.controllers.load_balancers import (
    ADDRESS_ATTRIBUTE,
    ADDRESS_FIELD,
    Address,
    LoadBalancerPlane,
    instance_address,
)
from portside.elb import registrations
from portside.elb.records import HEALTH
from portside.elb.registrations import Target
from portside.model.container_instance import InstanceResources
from portside.ops import clusters
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.testing.elb import load_balanced_group

RESOURCES = InstanceResources.of(
    [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
    ]
)


@pytest.fixture
def op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Op]:
    monkeypatch.setattr(plane_mod, "PASS_EVERY", 0.0)
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=testing.FakeClock(T0)))
    store.close()


def plane(op: Op, tmp_path: Path, proxy: FakeProxy) -> LoadBalancerPlane:
    return LoadBalancerPlane(
        op.world.store,
        tmp_path / "haproxy",
        clock=op.world.clock,
        proxy_factory=lambda _: proxy,  # type: ignore[arg-type,return-value]
    )


def instance(op: Op, ec2_id: str, attributes: Mapping[str, str] = {}) -> None:
    """A container instance registered by an agent that gave `attributes`."""
    inst_ops.register(
        op,
        cluster="c",
        total_resources=RESOURCES,
        attributes=[{"name": k, "value": v} for k, v in attributes.items()],
        identity_document=orjson.dumps({"instanceId": ec2_id}).decode(),
    )


def servers(proxy: FakeProxy) -> dict[str, str]:
    """Target id -> the address the proxy was told to reach it at."""
    (backend,) = proxy.applied[-1].backends
    return {s.key.split("|")[1]: s.address for s in backend.servers}


def test_each_instance_target_is_reached_at_its_agents_address(
    op: Op, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clusters.create_cluster(op, name="c")
    instance(op, "i-0here")  # an agent on this host gives no address
    instance(op, "i-0far", {ADDRESS_ATTRIBUTE: "10.0.3.7"})
    instance(op, "i-0near", {ADDRESS_ATTRIBUTE: "127.0.0.2"})
    instance(op, "i-0odd", {ADDRESS_ATTRIBUTE: "db.internal"})
    # The address a registration's identity document gives, once it is kept (ADDRESS_FIELD).
    instance(op, "i-0doc")
    with op.world.store.transaction() as tx:
        ((key, doc),) = [
            (k, d) for k, d in tx.scan(inst_ops.TABLE) if d["ec2InstanceId"] == "i-0doc"
        ]
        tx.put(inst_ops.TABLE, key, {**doc, ADDRESS_FIELD: "10.0.4.9"})
    tg = load_balanced_group(op, listener_port=18081)
    ids = ["i-0here", "i-0far", "i-0near", "i-0odd", "i-0doc", "i-0unknown"]
    with op.world.store.transaction() as tx:
        registrations.register(tx, [Target(tg, i, 8080) for i in ids], T0, "us-east-1a")
    proxy = FakeProxy()
    with caplog.at_level(logging.WARNING, "portside.load-balancers"):
        plane(op, tmp_path, proxy).step()
    # An unknown instance, and one whose address is no IP address, are left out.
    assert servers(proxy) == {
        "i-0here": "127.0.0.1",
        "i-0far": "10.0.3.7",
        "i-0near": "127.0.0.2",
        "i-0doc": "10.0.4.9",
    }
    assert (
        "load balancer: instance i-0odd: its ecs.private-ip 'db.internal' is not an IP "
        "address; its targets are left out"
    ) in caplog.messages


def test_an_instance_whose_address_changes_is_reached_at_the_new_one(
    op: Op, tmp_path: Path
) -> None:
    clusters.create_cluster(op, name="c")
    instance(op, "i-0moved", {ADDRESS_ATTRIBUTE: "10.0.0.1"})
    tg = load_balanced_group(op, listener_port=18082)
    with op.world.store.transaction() as tx:
        registrations.register(tx, [Target(tg, "i-0moved", 80)], T0, "us-east-1a")
    proxy = FakeProxy()
    loop = plane(op, tmp_path, proxy)
    loop.step()
    assert servers(proxy) == {"i-0moved": "10.0.0.1"}
    with op.world.store.transaction() as tx:
        ((key, doc),) = list(tx.scan(inst_ops.TABLE))
        attrs = [
            {**a, "value": "10.0.0.2"} if a["name"] == ADDRESS_ATTRIBUTE else a
            for a in doc["attributes"]
        ]
        tx.put(inst_ops.TABLE, key, {**doc, "attributes": attrs})
    loop.step()
    assert servers(proxy) == {"i-0moved": "10.0.0.2"}

    # Registered again as a new container instance (the old one INACTIVE), at a third
    # address, with the change feed trimmed meanwhile: the live instance's address.
    with op.world.store.transaction() as tx:
        tx.put(inst_ops.TABLE, key, {**doc, "status": "INACTIVE"})
    instance(op, "i-0moved", {ADDRESS_ATTRIBUTE: "10.0.0.3"})
    op.world.store.trim(float("inf"))
    loop.step()
    assert servers(proxy) == {"i-0moved": "10.0.0.3"}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({}, Address("127.0.0.1")),
        ({ADDRESS_FIELD: "10.1.2.3"}, Address("10.1.2.3")),
        # The agent's own attribute wins over what its registration found.
        (
            {
                ADDRESS_FIELD: "10.1.2.3",
                "attributes": [{"name": ADDRESS_ATTRIBUTE, "value": "10.9.9.9"}],
            },
            Address("10.9.9.9"),
        ),
        ({ADDRESS_FIELD: " fd00:0::7 "}, Address("fd00::7")),
        ({"attributes": [{"name": ADDRESS_ATTRIBUTE}]}, Address("127.0.0.1")),
    ],
)
def test_instance_address(doc: dict[str, Any], expected: Address) -> None:
    assert instance_address(doc) == expected


def test_an_address_that_is_no_ip_address_says_why() -> None:
    found = instance_address({ADDRESS_FIELD: "10.0.0.300"})
    assert found.ip is None
    assert found.problem == (
        "its privateIpAddress '10.0.0.300' is not an IP address; its targets are left out"
    )


# -- a target registered again -----------------------------------------------------------------


def state(op: Op, target: Target) -> str:
    with op.world.store.read() as tx:
        return registrations.states(tx, [target], op.world.clock())[target]


@pytest.mark.parametrize("verdict", [FAILED, HEALTHY])
def test_a_target_registered_again_is_judged_afresh(op: Op, tmp_path: Path, verdict: Any) -> None:
    # ip targets: no instance to resolve; delay 30 s, so the target drains in between.
    tg = load_balanced_group(op, listener_port=18083, target_type="ip", delay=30)
    target = Target(tg, "127.0.0.1", 9000)
    with op.world.store.transaction() as tx:
        registrations.register(tx, [target], T0, "us-east-1a")
    proxy = FakeProxy()
    proxy.verdict = verdict
    loop = plane(op, tmp_path, proxy)
    clock: Any = op.world.clock
    clock.advance(2 * 30 + 5 + 1)  # past ELB's first verdict (AWS's defaults for HTTP)
    loop.step()
    assert state(op, target) == verdict.state

    # Deregistered, then registered again while still draining (a replacement task on the
    # same instance and port): the proxy's verdict has not changed, but this registration
    # has had no health check of its own yet.
    clock.advance(1)
    with op.world.store.transaction() as tx:
        registrations.deregister(tx, [target], clock())
    loop.step()
    assert state(op, target) == "draining"
    clock.advance(1)
    with op.world.store.transaction() as tx:
        registrations.register(tx, [target], clock(), "us-east-1a")
    clock.advance(1)
    loop.step()
    if verdict is FAILED:
        # Failing from the start: initial until ELB would have seen enough failures.
        assert state(op, target) == "initial"
        with op.world.store.read() as tx:
            assert tx.get(HEALTH, f"{tg}|127.0.0.1|9000") is None
        clock.advance(2 * 30 + 5)
        loop.step()
    assert state(op, target) == verdict.state
