"""The agent a container host runs: `portside agent --driver docker` on the host's inner
Engine, registering the CPU and memory of its instance type (ops/instance_types.py) rather
than what the Engine reports (every host on one machine would report the whole machine); a
type the table lacks registers what the Engine reports, as the interface says. Its
instance identity is the EC2 instance's: entry.py saved it in the state directory, where
registration reads it.

Task DNS is off: the control plane's DNS server listens on the machine's loopback, which a
host's network namespace cannot reach (Docker's resolver stays, as on an agent run with
--no-task-dns).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from portside.agent.docker.driver import DockerDriver
from portside.ops.instance_types import size_of


class SizedDockerDriver(DockerDriver):
    """The Docker driver registering an instance type's resources."""

    def __init__(self, instance_type: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.size = size_of(instance_type)

    def host_resources(self) -> tuple[int, int]:
        if self.size is None:
            return super().host_resources()
        cpus, memory = self.size
        return cpus * 1024, memory - self.reserved_memory


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="portside-container-host-agent")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--cluster", default="default")
    p.add_argument("--zone", default="local-1a")
    p.add_argument("--instance-type", default="portside.local")
    p.add_argument("--attribute", action="append", default=[])
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import docker.errors
    import requests

    from portside.agent.docker import subnets
    from portside.agent.session import AgentConfig
    from portside.cli import agent_options
    from portside.cli.options import setup_logging
    from portside.dirlock import AGENT_LOCK, DirLock

    args = parse(argv)
    setup_logging(args.log_level)
    keys = agent_options.signing_keys()
    DirLock.acquire(args.state_dir, AGENT_LOCK, "agent state").record(endpoint=args.endpoint)
    driver = SizedDockerDriver(args.instance_type)
    with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
        subnets.prune(driver.client)
    config = AgentConfig(
        cluster=args.cluster,
        region=agent_options.region(),
        zone=args.zone,
        instance_type=args.instance_type,
        attributes=agent_options.attributes(tuple(args.attribute)),
        task_dns=False,
    )
    agent_options.run_until_signalled(args.endpoint, keys, args.state_dir, driver, config)


if __name__ == "__main__":
    main()
