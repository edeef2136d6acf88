from __future__ import annotations

from pathlib import Path

from portside import testing
from portside.controllers.liveness import LivenessLoop, compute
from portside.model.container_instance import InstanceResources
from portside.ops import clusters
from portside.ops import instances as inst_ops


def test_silent_instances_are_lost_after_the_grace() -> None:
    seen = {"a": 100.0, "b": 125.0}
    assert compute(["a", "b"], seen, now=140.0, started=0.0, grace=30.0) == ["a"]


def test_unseen_since_start_get_the_grace_from_the_start() -> None:
    assert compute(["c"], {}, now=120.0, started=100.0, grace=30.0) == []
    assert compute(["c"], {}, now=131.0, started=100.0, grace=30.0) == ["c"]


def test_seen_before_a_restart_counts_from_the_restart() -> None:
    assert compute(["d"], {"d": 10.0}, now=120.0, started=100.0, grace=30.0) == []


def test_a_registration_counts_with_the_registration_grace() -> None:
    # A fleet registering for longer than the grace: its first instance registered at 101
    # and has not synced yet (its agent is still registering the rest).
    registered = {"e": 101.0}
    assert compute(["e"], {}, now=150.0, started=100.0, registered=registered) == []
    assert compute(["e"], {}, now=400.0, started=100.0, registered=registered) == []
    assert compute(["e"], {}, now=402.0, started=100.0, registered=registered) == ["e"]


def test_once_seen_the_sync_grace_applies_again() -> None:
    registered = {"f": 101.0}
    seen = {"f": 200.0}
    assert compute(["f"], seen, now=229.0, started=100.0, registered=registered) == []
    assert compute(["f"], seen, now=231.0, started=100.0, registered=registered) == ["f"]


def test_a_registration_before_the_restart_counts_from_the_restart() -> None:
    registered = {"g": 50.0}
    assert compute(["g"], {}, now=131.0, started=100.0, registered=registered) == ["g"]


def test_a_long_fleet_registration_loses_no_instance(tmp_path: Path) -> None:
    clock = testing.FakeClock(1_700_000_000.0)
    store = testing.sqlite_store(tmp_path, name="db")
    op = testing.make_op(testing.make_world(store, clock=clock))
    clusters.create_cluster(op, name="sim")
    gateway = Seen()
    loop = LivenessLoop(op.world, gateway)
    resources = [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
    ]
    arns = []
    for _ in range(4):  # one registration every 20 s: 60 s in all, twice the sync grace
        arns.append(
            inst_ops.register(
                op, cluster="sim", total_resources=InstanceResources.of(resources)
            ).instance.arn
        )
        assert loop.run_once() == []
        clock.advance(20)
    for arn in arns:  # the session opens: the gateway sees them all
        gateway.last_seen[arn] = clock.now
    assert loop.run_once() == []
    clock.advance(31)  # then the agent goes quiet
    assert sorted(loop.run_once()) == sorted(arns)
    store.close()


class Seen:
    def __init__(self) -> None:
        self.last_seen: dict[str, float] = {}
