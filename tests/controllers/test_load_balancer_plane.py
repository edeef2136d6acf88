"""The load balancers' loop on a store, with a proxy that records what it is asked (the real
HAProxy is tests/elb/test_elb_haproxy.py's): the spec it applies, and the health it reports
written back as ELB shows it, a new target's first failures included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portside import testing
from portside.controllers import load_balancers as plane_mod
from portside.controllers.load_balancers import LoadBalancerPlane, judged
from portside.dataplane.haproxy import spec
from portside.dataplane.haproxy.health import INITIAL, TargetHealth
from portside.elb import registrations
from portside.elb.records import HEALTH
from portside.elb.registrations import Target
from portside.ops.context import Op
from portside.testing.elb import load_balanced_group

T0 = 1_700_000_000.0
FAILED = TargetHealth("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
HEALTHY = TargetHealth("healthy", None, "")


class FakeProxy:
    def __init__(self) -> None:
        self.applied: list[spec.ProxySpec] = []
        self.verdict = FAILED

    def apply(self, given: spec.ProxySpec) -> str:
        self.applied.append(given)
        return "started"

    def bound(self) -> set[tuple[str, int]]:
        return set()

    def health(self) -> dict[tuple[str, str], TargetHealth]:
        last = self.applied[-1]
        return {(b.id, s.key): self.verdict for b in last.backends for s in b.servers}

    def detach(self) -> None:
        pass


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=testing.FakeClock(T0)))
    store.close()


def test_a_new_targets_first_failures_are_initial_until_elb_would_judge(
    op: Op, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plane_mod, "PASS_EVERY", 0.0)
    tg = load_balanced_group(op, listener_port=18080, target_type="ip")
    with op.world.store.transaction() as tx:
        registrations.register(tx, [Target(tg, "127.0.0.1", 9000)], T0, "us-east-1a")
    fake = FakeProxy()
    clock = op.world.clock
    plane = LoadBalancerPlane(
        op.world.store,
        tmp_path / "haproxy",
        clock=clock,
        proxy_factory=lambda _: fake,  # type: ignore[arg-type,return-value]
    )
    plane.step()
    (backend,) = fake.applied[-1].backends
    assert [(s.address, s.port) for s in backend.servers] == [("127.0.0.1", 9000)]
    assert [f.port for f in fake.applied[-1].frontends] == [18080]
    with op.world.store.read() as tx:
        assert list(tx.scan(HEALTH)) == []  # failed once: still initial for ELB
    # AWS's defaults for HTTP: 30 s interval, unhealthy after 2 failures, 5 s timeout.
    clock.advance(2 * 30 + 5 + 1)  # type: ignore[attr-defined]
    plane.step()
    with op.world.store.read() as tx:
        ((_, doc),) = list(tx.scan(HEALTH))
    assert (doc["state"], doc["reason"]) == ("unhealthy", "Target.FailedHealthChecks")
    fake.verdict = HEALTHY
    plane.step()
    with op.world.store.read() as tx:
        ((_, doc),) = list(tx.scan(HEALTH))
    assert doc["state"] == "healthy"


def test_judged_keeps_a_known_targets_failure() -> None:
    backend = spec.Backend(
        "tg", "http", health=spec.HealthCheck(interval=5, timeout=2, unhealthy_threshold=2)
    )
    assert judged(FAILED, None, T0, backend, T0 + 11) is INITIAL
    assert judged(FAILED, None, T0, backend, T0 + 13) is FAILED
    assert judged(FAILED, ("healthy", None), T0, backend, T0 + 1) is FAILED
    assert judged(HEALTHY, None, T0, backend, T0 + 1) is HEALTHY
