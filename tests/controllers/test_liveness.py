from __future__ import annotations

from portside.controllers.liveness import compute


def test_silent_instances_are_lost_after_the_grace() -> None:
    seen = {"a": 100.0, "b": 125.0}
    assert compute(["a", "b"], seen, now=140.0, started=0.0, grace=30.0) == ["a"]


def test_unseen_since_start_get_the_grace_from_the_start() -> None:
    assert compute(["c"], {}, now=120.0, started=100.0, grace=30.0) == []
    assert compute(["c"], {}, now=131.0, started=100.0, grace=30.0) == ["c"]


def test_seen_before_a_restart_counts_from_the_restart() -> None:
    assert compute(["d"], {"d": 10.0}, now=120.0, started=100.0, grace=30.0) == []
