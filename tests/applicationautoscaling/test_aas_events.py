"""ECS's SERVICE_DESIRED_COUNT_UPDATED service action: made from the change feed when
Application Auto Scaling sets a service's desired count, never for a manual UpdateService."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside import testing
from portside.api.ecs import requests_services as wire
from portside.events.envelope import Seen, envelopes, remember
from portside.ops import clusters, services, task_definitions
from portside.ops.context import Op
from portside.store.base import Change

T0 = 1_800_000_000.0
ARN = "arn:aws:ecs:us-east-1:000000000000:service/c1/web"


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    made = testing.make_op(testing.make_world(store, clock=testing.FakeClock(T0)))
    clusters.create_cluster(made, name="c1")
    task_definitions.register(
        made, {"family": "web", "containerDefinitions": [{"name": "w", "image": "b", "memory": 64}]}
    )
    services.create_service(
        made,
        wire.create_service(
            {"serviceName": "web", "cluster": "c1", "taskDefinition": "web", "desiredCount": 2}
        ),
    )
    yield made
    store.close()


def _doc(op: Op) -> dict[str, object]:
    with op.store.read() as tx:
        doc = tx.get("services", ARN)
    assert doc is not None
    return doc


def _names(op: Op, before: dict[str, object]) -> list[tuple[str, object]]:
    seen: Seen = remember("services", before)
    events, _ = envelopes(Change(9, T0 + 1, "services", ARN, "put", _doc(op)), seen)
    return [(e["detail"]["eventName"], e["detail"].get("desiredCount")) for e in events]


def test_scaling_says_desired_count_updated(op: Op) -> None:
    before = _doc(op)
    with op.store.transaction() as tx:
        message = (
            "Message: Successfully set desired count to 4. Change successfully fulfilled by "
            "ecs. Cause: monitor alarm TargetTracking-service/c1/web-AlarmHigh-x in state "
            "ALARM triggered policy cpu"
        )
        assert services.set_desired_count_by_scaling(op.world, tx, ARN, 4, T0 + 1, message) == 2
    assert _names(op, before) == [("SERVICE_DESIRED_COUNT_UPDATED", 4)]


def test_a_manual_update_does_not(op: Op) -> None:
    before = _doc(op)
    services.update_service(
        op, wire.update_service({"cluster": "c1", "service": "web", "desiredCount": 4})
    )
    assert _names(op, before) == []
