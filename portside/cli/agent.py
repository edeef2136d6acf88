"""`portside agent`: register this host as a container instance and run its tasks."""

from __future__ import annotations

from pathlib import Path

import click

from portside.cli import agent_options
from portside.cli.options import setup_logging


@click.command()
@agent_options.control_plane
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    metavar="NAME=VALUE",
    help="A custom attribute for this instance (repeatable).",
)
@click.option(
    "--zone", default="local-1a", show_default=True, help="ecs.availability-zone of this instance."
)
@click.option("--instance-type", default="portside.local", show_default=True)
@click.option(
    "--driver", type=click.Choice(["docker", "simulated"]), default="docker", show_default=True
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: Path("~/.portside/agent").expanduser(),
    show_default="~/.portside/agent",
)
@click.option(
    "--fargate/--no-fargate", default=False, help="Also provide FARGATE capacity from this host."
)
@click.option("--metadata-port", type=int, default=51680, show_default=True)
@click.option(
    "--cleanup-wait",
    type=float,
    default=3 * 3600.0,
    show_default=True,
    help="Seconds to keep stopped containers (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION).",
)
@click.option(
    "--pull-behavior",
    envvar="ECS_IMAGE_PULL_BEHAVIOR",
    type=click.Choice(["default", "always", "once", "prefer-cached"]),
    default="prefer-cached",
    show_default=True,
)
@click.option(
    "--task-dns/--no-task-dns",
    default=True,
    show_default=True,
    help="Give awsvpc and bridge tasks Portside's DNS as their resolver: a relay on port 53 "
    "of their network's gateway on this host (needs root); off, they keep Docker's.",
)
@click.option(
    "--dns-server",
    metavar="HOST[:PORT]",
    help="The control plane's DNS server the task resolver relays to (default: the address "
    "the control plane gives, on the endpoint's host when it is a loopback one).",
)
@click.option("--log-level", default="info", show_default=True)
def agent(
    endpoint: str,
    cluster: str,
    attributes: tuple[str, ...],
    zone: str,
    instance_type: str,
    driver: str,
    state_dir: Path,
    fargate: bool,
    metadata_port: int,
    cleanup_wait: float,
    pull_behavior: str,
    task_dns: bool,
    dns_server: str | None,
    log_level: str,
) -> None:
    """Run an agent against a Portside control plane. It signs its calls with the AWS_*
    credentials in the environment, like any client."""
    from portside.agent.factory import make_driver
    from portside.agent.session import AgentConfig
    from portside.dirlock import AGENT_LOCK, DirLock
    from portside.startup import StartupError

    setup_logging(log_level)
    keys = agent_options.signing_keys()
    if dns_server:
        from portside.agent.dns_relay import upstream_for

        try:
            upstream_for(dns_server, None, endpoint)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--dns-server") from None
    try:
        lock = DirLock.acquire(state_dir, AGENT_LOCK, "agent state")
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None
    lock.record(endpoint=endpoint, metadata_port=metadata_port)
    config = AgentConfig(
        cluster=cluster,
        region=agent_options.region(),
        zone=zone,
        instance_type=instance_type,
        attributes=agent_options.attributes(attributes),
        fargate=fargate,
        metadata_port=metadata_port,
        cleanup_wait=cleanup_wait,
        task_dns=task_dns,
        dns_server=dns_server,
    )
    agent_options.run_until_signalled(
        endpoint, keys, state_dir, make_driver(driver, pull_behavior), config
    )
