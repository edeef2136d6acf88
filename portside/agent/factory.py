"""Build an agent from settings: the driver by name, the client, the state directory."""

from __future__ import annotations

from pathlib import Path

from portside.agent.client import ControlPlaneClient
from portside.agent.driver import Driver
from portside.agent.session import Agent, AgentConfig
from portside.agent.state import AgentState


def make_driver(name: str, pull_behavior: str = "prefer-cached") -> Driver:
    if name == "simulated":
        from portside.agent.simulated import SimulatedDriver

        return SimulatedDriver()
    if name == "docker":
        from portside.agent.docker.driver import DockerDriver

        return DockerDriver(pull_behavior=pull_behavior)
    raise ValueError(f"unknown driver {name!r}")


def make_agent(
    *,
    endpoint: str,
    access_key: str,
    secret_key: str,
    state_dir: Path,
    driver: Driver,
    config: AgentConfig,
) -> Agent:
    client = ControlPlaneClient(endpoint, access_key, secret_key, config.region)
    return Agent(client, driver, AgentState(state_dir), config)
