"""`portside`: one command, one module per noun."""

from __future__ import annotations

import click

from portside import __version__
from portside.cli import agent, env, server, sim, up
from portside.cli import dns as dns_cli
from portside.cli import events as events_cli
from portside.cli import exec as exec_cli
from portside.cli import logs as logs_cli
from portside.cli import migrate as migrate_cli
from portside.cli import schedule as schedule_cli
from portside.cli import status as status_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Portside: run Amazon ECS workloads on your own machines."""


@cli.command()
def version() -> None:
    """Print Portside's version."""
    click.echo(f"portside {__version__}")


cli.add_command(server.server)
cli.add_command(up.up)
cli.add_command(env.env)
cli.add_command(agent.agent)
cli.add_command(sim.sim)
cli.add_command(schedule_cli.schedule)
cli.add_command(exec_cli.exec_)
cli.add_command(logs_cli.logs)
cli.add_command(events_cli.events)
cli.add_command(status_cli.status)
cli.add_command(dns_cli.dns_)
cli.add_command(migrate_cli.migrate_command)


def main() -> None:
    cli(prog_name="portside")
