"""What one placement call decided: `Placement`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Placement:
    chosen: list[str | None]  # per task, the instance ARN, or None where it fits nowhere
    failures: list[tuple[str, str]]  # (instance ARN, ECS reason), by ARN; empty if all placed
    explain: dict[str, int] = field(default_factory=dict)  # reason -> instances it turned away
    # The instance that came nearest (failed the latest filter), for "The closest matching
    # container-instance ... " service events.
    closest: tuple[str, str] | None = None

    def why(self) -> str:
        """The explanation in words, like swarmkit's "insufficient resources on 3 nodes"."""
        if not self.explain:
            return "no container instances" if None in self.chosen else "placed"
        parts = [
            f"{reason} on {n} instance{'s' if n != 1 else ''}"
            for reason, n in sorted(self.explain.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return "no container instance met all requirements: " + ", ".join(parts)
