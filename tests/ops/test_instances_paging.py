"""ListContainerInstances pages: read in SQL-limited chunks, skipping what a page must not
show (INACTIVE and FARGATE capacity, instances a filter turns away) across chunk ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside import testing
from portside.model.container_instance import InstanceResources
from portside.ops import attributes, clusters
from portside.ops import instances as inst_ops
from portside.ops.context import Op

ACCOUNT = "000000000000"
RESOURCES = [
    {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
    {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
]


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    clock = testing.FakeClock(1_700_000_000.0)
    world = testing.make_world(store, clock=clock, new_id=testing.counted_ids())
    op = testing.make_op(world, "us-east-1", ACCOUNT)
    clusters.create_cluster(op, name="web")
    yield op
    store.close()


def pages(op: Op, size: int, **kw: str) -> list[list[str]]:
    out: list[list[str]] = []
    token = None
    while True:
        keys, token = inst_ops.list_arns(op, "web", max_results=size, next_token=token, **kw)
        out.append(keys)
        if token is None:
            return out


def test_pages_skip_inactive_instances_across_chunks(op: Op) -> None:
    arns = [
        inst_ops.register(
            op, cluster="web", total_resources=InstanceResources.of(RESOURCES)
        ).instance.arn
        for _ in range(9)
    ]
    for gone in (arns[1], arns[2], arns[3], arns[7]):
        inst_ops.deregister(op, "web", gone)
    active = [a for n, a in enumerate(arns) if n not in (1, 2, 3, 7)]
    assert pages(op, 2) == [active[0:2], active[2:4], active[4:5]]
    assert pages(op, 5) == [active]
    assert pages(op, 1, status="INACTIVE") == [[arns[1]], [arns[2]], [arns[3]], [arns[7]]]


def test_filtered_pages(op: Op) -> None:
    arns = [
        inst_ops.register(
            op, cluster="web", total_resources=InstanceResources.of(RESOURCES)
        ).instance.arn
        for _ in range(600)  # more than one chunk of filtered reads
    ]
    chosen = arns[5::50]
    attributes.put_attributes(
        op,
        "web",
        [
            {"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": a}
            for a in chosen
        ],
    )
    got = pages(op, 4, filter_="attribute:stack == prod")
    assert [a for page in got for a in page] == chosen
    assert [len(p) for p in got] == [4, 4, 4]
