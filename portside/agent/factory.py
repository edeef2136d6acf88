"""Build an agent from settings: the driver by name, the client, the state directory."""

from __future__ import annotations

import contextlib
from pathlib import Path

from portside.agent.client import ControlPlaneClient
from portside.agent.driver import Driver
from portside.agent.ecr_login import EcrLogin, TakesRegistryLogin
from portside.agent.session import Agent, AgentConfig
from portside.agent.state import AgentState
from portside.credentials import Credentials


def make_driver(name: str, pull_behavior: str = "prefer-cached") -> Driver:
    if name == "simulated":
        from portside.agent.simulated import SimulatedDriver

        return SimulatedDriver()
    if name == "docker":
        import docker.errors
        import requests

        from portside.agent.docker import subnets
        from portside.agent.docker.driver import DockerDriver

        driver = DockerDriver(pull_behavior=pull_behavior)
        # Subnet networks an earlier agent left with no task on them go at start.
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
            subnets.prune(driver.client)
        return driver
    raise ValueError(f"unknown driver {name!r}")


def make_agent(
    *, endpoint: str, credentials: Credentials, state_dir: Path, driver: Driver, config: AgentConfig
) -> Agent:
    """An agent that signs its calls to `endpoint` with `credentials`, and logs its driver
    into the control plane's ECR with them."""
    key, secret = credentials.access_key_id, credentials.secret_access_key
    client = ControlPlaneClient(endpoint, key, secret, config.region)
    if isinstance(driver, TakesRegistryLogin):
        # Images pushed to the control plane's ECR pull with no `docker login` on the host.
        login = EcrLogin(lambda: client.ecr("GetAuthorizationToken"), client.endpoint)
        driver.use_registry_login(login)
    return Agent(client, driver, AgentState(state_dir), config)
