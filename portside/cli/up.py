"""`portside up`: the control plane and a local agent in one process."""

from __future__ import annotations

from pathlib import Path

import click

from portside.cli.options import server_options, setup_logging
from portside.config import ServerConfig


@click.command()
@server_options
def up(host: str, port: int, account_id: str, log_level: str, data_dir: Path) -> None:
    """Run Portside on this machine: control plane with embedded SQLite (and the local agent)."""
    from portside import server as runner

    setup_logging(log_level)
    config = ServerConfig(host=host, port=port, data_dir=data_dir, account=account_id)
    click.echo(
        f'Portside {config.endpoint}  —  eval "$(portside env --data-dir {data_dir})" '
        "to point the AWS CLI here",
        err=True,
    )
    runner.run(config, log_level=log_level)
