"""`portside sim`: a simulated fleet — N container instances in one agent session, running
their tasks with the simulated driver (real state reports, optional delays and failures)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from pathlib import Path

import click

from portside.cli.agent import _attributes
from portside.cli.options import setup_logging
from portside.config import DEFAULT_REGION


@click.command()
@click.option(
    "--endpoint",
    envvar="AWS_ENDPOINT_URL",
    required=True,
    help="The control plane's URL (default: $AWS_ENDPOINT_URL).",
)
@click.option("--cluster", default="default", show_default=True)
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
    from portside.agent.factory import make_agent
    from portside.agent.runtime import run_agent
    from portside.agent.session import AgentConfig
    from portside.agent.simulated import SimulatedDriver

    setup_logging(log_level)
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise click.UsageError("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (portside env)")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    zone_names = [z if "-" in z else f"{region}{z}" for z in zones.split(",") if z]
    driver = SimulatedDriver(
        cpu=cpu,
        memory=memory,
        start_delay=start_delay_ms / 1000,
        stop_delay=stop_delay_ms / 1000,
        fail_rate=fail_rate,
    )
    config = AgentConfig(
        cluster=cluster,
        region=region,
        zone=zone_names[0],
        zones=zone_names,
        instance_type=instance_type,
        attributes=_attributes(attributes),
        instances=instances,
        metadata_port=0,
        threads=16,
        cleanup_wait=60.0,
    )
    state = state_dir or Path(tempfile.mkdtemp(prefix="portside-sim-"))
    agent = make_agent(
        endpoint=endpoint,
        access_key=key,
        secret_key=secret,
        state_dir=state,
        driver=driver,
        config=config,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    run_agent(agent, done)
