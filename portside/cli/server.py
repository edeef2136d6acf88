"""`portside server`: the control plane alone."""

from __future__ import annotations

import click

from portside.cli.options import serve, server_options, setup_logging
from portside.config import ServerConfig


@click.command()
@server_options
def server(config: ServerConfig, log_level: str) -> None:
    """Run the control plane (the ECS API) without a local agent."""
    setup_logging(log_level)
    serve(config, log_level)
