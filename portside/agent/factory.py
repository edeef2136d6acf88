"""Build an agent from settings: the driver by name, the client, the state directory."""

from __future__ import annotations

from pathlib import Path

from portside.agent.client import ControlPlaneClient
from portside.agent.driver import Driver
from portside.agent.session import Agent, AgentConfig
from portside.agent.state import AgentState
from portside.credentials import Credentials


def make_driver(name: str, pull_behavior: str = "prefer-cached") -> Driver:
    if name == "simulated":
        from portside.agent.simulated import SimulatedDriver

        return SimulatedDriver()
    if name == "docker":
        from portside.agent.docker.driver import DockerDriver

        return DockerDriver(pull_behavior=pull_behavior)
    raise ValueError(f"unknown driver {name!r}")


def make_agent(
    *, endpoint: str, credentials: Credentials, state_dir: Path, driver: Driver, config: AgentConfig
) -> Agent:
    """An agent that signs its calls to `endpoint` with `credentials`."""
    key, secret = credentials.access_key_id, credentials.secret_access_key
    client = ControlPlaneClient(endpoint, key, secret, config.region)
    return Agent(client, driver, AgentState(state_dir), config)
