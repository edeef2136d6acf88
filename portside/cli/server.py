"""`portside server`: the control plane alone."""

from __future__ import annotations

import click

from portside.cli.options import serve, server_options, setup_logging
from portside.config import ServerConfig


@click.command()
@click.option(
    "--replica",
    is_flag=True,
    envvar="PORTSIDE_REPLICA",
    help="Run as one of several server replicas over one SQLite data directory (each on "
    "its own port; one leads the background loops). Without it a server locks its data "
    "directory for itself.",
)
@server_options
def server(config: ServerConfig, log_level: str) -> None:
    """Run the control plane (the ECS API) without a local agent."""
    setup_logging(log_level)
    serve(config, log_level)
