"""A deleted cluster stays discoverable, INACTIVE, to ListClusters and DescribeClusters for
clusters.INACTIVE_VISIBLE seconds, then is gone from both (MISSING)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside import testing
from portside.ops import clusters
from portside.ops.context import Op

T0 = 1_700_000_000.0


@pytest.fixture
def clock() -> testing.FakeClock:
    return testing.FakeClock(T0)


@pytest.fixture
def op(tmp_path: Path, clock: testing.FakeClock) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=clock), "us-east-1", "000000000000")
    store.close()


def test_deleted_cluster_listed_inactive_for_a_while(op: Op, clock: testing.FakeClock) -> None:
    gone = clusters.create_cluster(op, name="gone").cluster.arn
    kept = clusters.create_cluster(op, name="kept").cluster.arn
    clusters.delete_cluster(op, "gone")
    assert clusters.list_clusters(op) == ([gone, kept], None)
    [view], failures = clusters.describe_clusters(op, ["gone"])
    assert view.cluster.status == "INACTIVE" and failures == []

    clock.advance(clusters.INACTIVE_VISIBLE - 1)
    assert clusters.list_clusters(op)[0] == [gone, kept]
    clock.advance(1)
    assert clusters.list_clusters(op) == ([kept], None)
    assert clusters.describe_clusters(op, ["gone"]) == ([], [{"arn": gone, "reason": "MISSING"}])

    # The name can be used again: ACTIVE at once.
    clusters.create_cluster(op, name="gone")
    assert clusters.list_clusters(op)[0] == [gone, kept]


def test_paging_skips_expired_clusters(op: Op, clock: testing.FakeClock) -> None:
    arns = [clusters.create_cluster(op, name=f"c{n}").cluster.arn for n in range(4)]
    clusters.delete_cluster(op, "c1")
    clock.advance(clusters.INACTIVE_VISIBLE)
    first, token = clusters.list_clusters(op, max_results=2)
    assert first == [arns[0], arns[2]] and token is not None
    assert clusters.list_clusters(op, max_results=2, next_token=token) == ([arns[3]], None)
