"""The placer's view of a cluster (ops/placement.fleet): kept between calls and brought up to
date from the change feed, re-reading only the instances that changed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside import testing
from portside.model.cluster import Cluster
from portside.model.container_instance import InstanceResources
from portside.ops import attributes, clusters, placement
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.scheduler.candidates import Candidate
from portside.store.base import Tx
from portside.store.sqlite import SqliteStore

ACCOUNT = "000000000000"
REGION = "us-east-1"


def make_op(path: Path) -> Op:
    store = testing.sqlite_store(path.parent, name=path.name)
    clock = testing.FakeClock(1_700_000_000.0)
    world = testing.make_world(store, clock=clock, new_id=testing.counted_ids())
    return testing.make_op(world, REGION, ACCOUNT)


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    op = make_op(tmp_path / "portside.db")
    clusters.create_cluster(op, name="web")
    yield op
    op.store.close()


def register(op: Op, cluster: str = "web", cpu: int = 4096) -> str:
    view = inst_ops.register(
        op,
        cluster=cluster,
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
            ]
        ),
        attributes=[{"name": "ecs.availability-zone", "value": "us-east-1a"}],
    )
    return view.instance.arn


class Spy:
    """A transaction that counts the instance reads going through it."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.scans = 0
        self.gets: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    def scan(self, table: str, **kw: Any) -> Any:
        if table == inst_ops.TABLE:
            self.scans += 1
        return self.tx.scan(table, **kw)

    def get(self, table: str, key: str) -> Any:
        if table == inst_ops.TABLE:
            self.gets.append(key)
        return self.tx.get(table, key)


def read(op: Op, cluster: str = "web") -> tuple[dict[str, Candidate], Spy]:
    with op.store.transaction() as tx:
        spy = Spy(tx)
        found = placement.fleet(op, spy, web(op, tx, cluster))
        return {c.arn: c for c in found.candidates}, spy


def web(op: Op, tx: Tx, name: str = "web") -> Cluster:
    return clusters.get_active(op, tx, name)


def change(op: Op, arn: str, **fields: Any) -> None:
    with op.store.transaction() as tx:
        inst = inst_ops.load(tx, arn)
        assert inst is not None
        for k, v in fields.items():
            setattr(inst, k, v)
        inst_ops.save(tx, inst)


def test_a_second_call_rereads_only_the_changed_instances(op: Op) -> None:
    a, b, c = register(op), register(op), register(op)
    first, spy = read(op)
    assert set(first) == {a, b, c} and spy.scans == 1

    change(op, b, used_cpu=1000, used_memory=512, group_counts={"family:x": 2})
    second, spy = read(op)
    assert spy.scans == 0 and spy.gets == [b]
    assert second[b].cpu_free == 4096 - 1000
    assert second[b].memory_free == 8192 - 512
    assert second[b].group_counts == {"family:x": 2}
    assert second[b].running_tasks_count == 2
    assert second[a] is first[a] and second[c] is first[c]  # untouched: the same values

    third, spy = read(op)  # nothing changed since
    assert spy.scans == 0 and spy.gets == [] and third == second


def test_a_new_instance_joins_and_a_deleted_one_leaves(op: Op) -> None:
    a, b, d = register(op), register(op), register(op)
    read(op)
    c = register(op)
    with op.store.transaction() as tx:
        tx.delete(inst_ops.TABLE, a)
    found, spy = read(op)
    assert set(found) == {b, c, d}
    assert spy.scans == 0 and sorted(spy.gets) == sorted([a, c])


def test_status_changes_take_effect(op: Op) -> None:
    a, b = register(op), register(op)
    read(op)
    inst_ops.update_state(op, "web", [a], "DRAINING")
    found, _ = read(op)
    assert found[a].status == "DRAINING"
    inst_ops.deregister(op, "web", b)  # INACTIVE: no longer a candidate
    found, _ = read(op)
    assert set(found) == {a}
    inst_ops.update_state(op, "web", [a], "ACTIVE")
    found, _ = read(op)
    assert found[a].status == "ACTIVE"


def test_custom_attributes_changes_take_effect(op: Op) -> None:
    a, b = register(op), register(op)
    read(op)
    target = {"targetType": "container-instance", "targetId": a}
    attributes.put_attributes(op, "web", [{"name": "stack", "value": "prod", **target}])
    found, spy = read(op)
    assert found[a].attributes["stack"] == "prod" and "stack" not in found[b].attributes
    assert spy.scans == 0 and spy.gets == [a]
    attributes.delete_attributes(op, "web", [{"name": "stack", **target}])
    found, _ = read(op)
    assert "stack" not in found[a].attributes


def test_a_trimmed_feed_falls_back_to_a_full_read(op: Op) -> None:
    a, b = register(op), register(op)
    read(op)
    change(op, a, used_cpu=100)
    change(op, b, used_cpu=200)
    # Forget every change but the newest: the one to `a` is gone from the feed.
    assert op.store.trim(time.time() + 60) > 0
    found, spy = read(op)
    assert spy.scans == 1
    assert found[a].cpu_free == 4096 - 100 and found[b].cpu_free == 4096 - 200


def test_a_rolled_back_transaction_leaves_no_trace(op: Op) -> None:
    a = register(op)
    read(op)
    with pytest.raises(RuntimeError), op.store.transaction() as tx:
        inst = inst_ops.load(tx, a)
        assert inst is not None
        inst.used_cpu = 4000
        inst_ops.save(tx, inst)
        inside = placement.fleet(op, tx, web(op, tx))
        assert inside.candidates[0].cpu_free == 96  # the transaction sees its own write
        raise RuntimeError("abandon")
    found, _ = read(op)
    assert found[a].cpu_free == 4096
    change(op, a, used_cpu=10)  # may reuse the abandoned change's seq
    found, _ = read(op)
    assert found[a].cpu_free == 4086


def test_instances_of_other_clusters_stay_out(op: Op) -> None:
    clusters.create_cluster(op, name="batch")
    a = register(op)
    read(op)
    read(op, "batch")
    b = register(op, "batch")
    change(op, a, used_cpu=1)
    found, _ = read(op)
    assert set(found) == {a} and found[a].cpu_free == 4095
    found, _ = read(op, "batch")
    assert set(found) == {b}


def test_views_are_per_store(op: Op, tmp_path: Path) -> None:
    register(op)
    read(op)
    other = make_op(tmp_path / "other.db")
    try:
        clusters.create_cluster(other, name="web")  # the same cluster ARN, another database
        found, spy = read(other)
        assert found == {} and spy.scans == 1
    finally:
        other.store.close()


def test_kept_placer_sessions_are_bounded_by_the_instances_they_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sessions are dropped least recently used first once they hold more instance slots
    than the budget; the newest is always kept."""
    from portside.scheduler.candidates import Ask
    from portside.scheduler.demand import Demand
    from portside.scheduler.session import Session

    monkeypatch.setattr(placement, "_SESSION_SLOTS", 25)
    store = object.__new__(SqliteStore)  # only a weak-referenceable key here
    fleet = [Candidate(arn=f"arn:{n}", cpu_free=1024, memory_free=1024) for n in range(10)]

    def kept(group: str, size: int) -> Any:
        ask = Ask(demand=Demand(cpu=1, memory=1), group=group)
        return placement._Kept(1, 1, Session(ask, fleet[:size]))

    for name, size in (("a", 10), ("b", 10), ("c", 5)):
        placement._keep_session(store, ("c", name), kept(name, size))
    assert list(placement._sessions[store]) == [("c", "a"), ("c", "b"), ("c", "c")]
    placement._keep_session(store, ("c", "d"), kept("d", 10))  # 35 slots: "a" goes
    assert list(placement._sessions[store]) == [("c", "b"), ("c", "c"), ("c", "d")]
    placement._keep_session(store, ("c", "e"), kept("e", 10))
    placement._keep_session(store, ("c", "f"), kept("f", 10))
    assert list(placement._sessions[store]) == [("c", "e"), ("c", "f")]
