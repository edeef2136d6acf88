"""Replicas over one SQLite data directory (`portside server --replica`): each holds the
directory's lock shared, so they run side by side, while a server alone holds it exclusive
and neither kind starts beside the other (portside/dirlock.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portside.controllers.loop import LEADER, REPLICA, Loops
from portside.dirlock import DirectoryInUse, DirLock


def test_replicas_share_a_data_directory_a_lone_server_does_not(tmp_path: Path) -> None:
    first = DirLock.acquire(tmp_path, shared=True)
    second = DirLock.acquire(tmp_path, shared=True)
    with pytest.raises(DirectoryInUse):
        DirLock.acquire(tmp_path)
    first.release()
    second.release()
    alone = DirLock.acquire(tmp_path)
    with pytest.raises(DirectoryInUse):
        DirLock.acquire(tmp_path, shared=True)
    alone.release()


def test_a_part_registers_its_loops_in_the_leaders_group_unchanged() -> None:
    loops = Loops()
    loops.add("dns", lambda: None, interval=1.0)
    leader = loops.group(LEADER)
    leader.add("services", lambda: None, interval=1.0)
    leader.watch("events", interval=1.0)
    assert [loop.name for loop in loops.all(LEADER)] == ["services"]
    assert [loop.name for loop in loops.all(REPLICA)] == ["dns"]
    assert {s.name: s.group for s in loops.status()} == {
        "dns": REPLICA,
        "services": LEADER,
        "events": LEADER,
    }
