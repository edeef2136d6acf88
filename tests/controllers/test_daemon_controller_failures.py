"""A daemon whose reconcile fails: the others are reconciled, the pass fails so the loop's
status shows it, and the daemon is tried again soon (controllers/daemons/controller.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portside.controllers.daemons.controller import RETRY_AFTER, DaemonController
from portside.ops.daemons_model import DAEMONS
from portside.testing.store import sqlite_store
from portside.testing.world import make_world

A = "arn:aws:ecs:us-east-1:000000000000:daemon/c/a"
B = "arn:aws:ecs:us-east-1:000000000000:daemon/c/b"


def test_a_failed_daemon_fails_the_pass_after_the_others(tmp_path: Path) -> None:
    world = make_world(sqlite_store(tmp_path))
    with world.store.transaction() as tx:
        for arn in (A, B):
            tx.put(DAEMONS, arn, {"daemonArn": arn, "cluster": "c"})
    controller = DaemonController(world, "000000000000")
    seen: list[str] = []

    def reconcile(arn: str) -> None:
        seen.append(arn)
        if arn == A:
            raise ValueError("broken")

    controller.reconcile = reconcile  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match=f"1 daemon\\(s\\) not reconciled: {A}: broken"):
        controller.run_once()
    assert seen == [A, B]
    assert controller._due[A] == world.clock() + RETRY_AFTER
