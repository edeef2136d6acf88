"""Agents as separate processes, so a test can kill -9 them: `portside sim` (a simulated
fleet) and `portside agent` (a Docker host), each logging to a file the log check reads."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from harness import BIN, ServerProcess
from logcheck import LOGS


class AgentCommand:
    """A `portside` agent command run against `server`, restartable with the same
    arguments and state directory; `started` marks a (re)start in its log."""

    def __init__(
        self,
        server: ServerProcess,
        log_path: Path,
        argv: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        self.server = server
        self.log_path = log_path
        self.argv = argv
        self.env = {**server.env(), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60) -> AgentCommand:
        """Start it and wait until it says it runs (registered, its session open)."""
        offset = len(self.log())
        LOGS.watch(self.log_path)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "portside"), *self.argv],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while "agent running" not in self.log()[offset:]:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited: {self.log()[offset:][-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent did not start: {self.log()[offset:][-3000:]}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """kill -9: the agent gets no chance to tidy anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def sim_command(
    server: ServerProcess, root: Path, cluster: str, instances: int, *extra: str
) -> AgentCommand:
    """`portside sim` with its own state directory (a restart comes back as the same
    instances)."""
    argv = ["sim", "--endpoint", server.endpoint, "--cluster", cluster]
    argv += ["--instances", str(instances), "--state-dir", str(root / f"{cluster}-sim"), *extra]
    return AgentCommand(server, root / f"{cluster}-sim.log", argv)
