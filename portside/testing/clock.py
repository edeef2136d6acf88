"""A clock a test moves by hand (DESIGN.md rule 6: time is injected)."""

from __future__ import annotations

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z: the epoch tests start at unless told


class FakeClock:
    """Callable like `time.time`; reads `now`, which only the test moves.

    `now` is a plain attribute, so `clock.now = T0 + 60` and `clock.now += 5` work too."""

    def __init__(self, now: float = T0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds`; return the new time."""
        self.now += seconds
        return self.now
