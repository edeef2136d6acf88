"""`portside server`: the control plane alone."""

from __future__ import annotations

from pathlib import Path

import click

from portside.cli.options import server_options, setup_logging
from portside.config import ServerConfig


@click.command()
@server_options
def server(
    host: str,
    port: int,
    account_id: str,
    lost_instance_grace: float,
    allow_link_local_destinations: bool,
    load_balancer_host: str,
    log_level: str,
    data_dir: Path,
) -> None:
    """Run the control plane (the ECS API) without a local agent."""
    from portside import server as runner
    from portside.startup import StartupError

    setup_logging(log_level)
    config = ServerConfig(
        host=host,
        port=port,
        data_dir=data_dir,
        account=account_id,
        lost_instance_grace=lost_instance_grace,
        allow_link_local_destinations=allow_link_local_destinations,
        load_balancer_host=load_balancer_host,
    )
    try:
        runner.run(config, log_level=log_level)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None
