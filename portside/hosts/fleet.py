"""A simulated fleet whose instances come and go: one agent session (agent/session.py's
`Agent` on its own `SimulatedDriver`) that the simulated provider grows and shrinks. Imported
only when the first simulated host starts (the agent's modules are not the server's)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from portside.agent.client import ControlPlaneClient
from portside.agent.registration import AgentConfig
from portside.agent.session import Agent
from portside.agent.simulated import SimulatedDriver
from portside.agent.state import AgentState

log = logging.getLogger("portside.hosts")


class Fleet(Agent):
    """An agent session whose instances are added and removed while it runs."""

    def __init__(self, client: ControlPlaneClient, state_dir: Path, config: AgentConfig) -> None:
        super().__init__(client, SimulatedDriver(), AgentState(state_dir), config)
        self.first: list[str] = []
        self.stale = False  # its session does not list its instances yet: reopen it

    def register(self) -> None:
        # Instances are registered by the provider (`registered`); the session starts with
        # those registered before it.
        self.instance_arn = self.first[0] if self.first else ""
        self.more_arns = self.first[1:]

    def add(self, arns: Sequence[str]) -> None:
        workers = dict(self.workers)  # replaced, never changed: the loops iterate it
        for arn in arns:
            if arn not in workers:
                workers[arn] = self._make_worker(arn)
        self.workers = workers
        self.reopen()

    def remove(self, arns: Iterable[str]) -> None:
        gone = set(arns)
        self.workers = {a: w for a, w in self.workers.items() if a not in gone}
        self.reopen()

    def reopen(self) -> None:
        """A session for the instances it has now (retried while the control plane is
        away: until then the old session keeps speaking for the old set)."""
        try:
            self._open_session()
            self.stale = False
        except Exception as exc:
            self.stale = True
            log.warning("simulated fleet %s: session not renewed: %s", self.config.cluster, exc)
