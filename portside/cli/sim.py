"""`portside sim`: a simulated fleet — N container instances in one agent session, running
their tasks with the simulated driver (real state reports, optional delays and failures)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from portside.cli import agent_options
from portside.cli.options import setup_logging


@click.command()
@agent_options.control_plane
@click.option("--instances", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option("--cpu", type=int, default=4096, show_default=True, help="CPU units per instance.")
@click.option("--memory", type=int, default=16384, show_default=True, help="MiB per instance.")
@click.option(
    "--zones",
    default="a,b,c",
    show_default=True,
    help="Availability zones, comma-separated; suffixes of the region (a -> us-east-1a) "
    "or full names.",
)
@click.option("--attribute", "attributes", multiple=True, metavar="NAME=VALUE")
@click.option("--instance-type", default="sim.large", show_default=True)
@click.option(
    "--start-delay-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="How long each container takes to start.",
)
@click.option(
    "--stop-delay-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="How long each container takes to stop.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of container starts that fail.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the fleet's identity here to come back as the same instances.",
)
@click.option("--log-level", default="info", show_default=True)
def sim(
    endpoint: str,
    cluster: str,
    instances: int,
    cpu: int,
    memory: int,
    zones: str,
    attributes: tuple[str, ...],
    instance_type: str,
    start_delay_ms: float,
    stop_delay_ms: float,
    fail_rate: float,
    state_dir: Path | None,
    log_level: str,
) -> None:
    """Register a simulated fleet and run its tasks until interrupted."""
    from portside.agent.session import AgentConfig
    from portside.agent.simulated import SimulatedDriver

    setup_logging(log_level)
    keys = agent_options.signing_keys()
    region_name = agent_options.region()
    zone_names = [z if "-" in z else f"{region_name}{z}" for z in zones.split(",") if z]
    driver = SimulatedDriver(
        cpu=cpu,
        memory=memory,
        start_delay=start_delay_ms / 1000,
        stop_delay=stop_delay_ms / 1000,
        fail_rate=fail_rate,
    )
    config = AgentConfig(
        cluster=cluster,
        region=region_name,
        zone=zone_names[0],
        zones=zone_names,
        instance_type=instance_type,
        attributes=agent_options.attributes(attributes),
        instances=instances,
        metadata_port=0,
        threads=16,
        cleanup_wait=60.0,
    )
    state = state_dir or Path(tempfile.mkdtemp(prefix="portside-sim-"))
    agent_options.run_until_signalled(endpoint, keys, state, driver, config)
