"""Agents as separate processes, so a test can kill -9 them: `portside sim` (a simulated
fleet) here, `portside agent` (a Docker host) as harness.AgentCommand itself; each logs to a
file the log check reads."""

from __future__ import annotations

from pathlib import Path

from harness import AgentCommand, ServerProcess


def sim_command(
    server: ServerProcess, root: Path, cluster: str, instances: int, *extra: str
) -> AgentCommand:
    """`portside sim` with its own state directory (a restart comes back as the same
    instances)."""
    argv = ["sim", "--endpoint", server.endpoint, "--cluster", cluster]
    argv += ["--instances", str(instances), "--state-dir", str(root / f"{cluster}-sim"), *extra]
    return AgentCommand(server, root / f"{cluster}-sim.log", argv)
