"""`portside up`: the control plane and a local agent in one process."""

from __future__ import annotations

import logging
import threading

import click
from starlette.applications import Starlette

from portside.cli.options import serve, server_options, setup_logging
from portside.config import DEFAULT_REGION, ServerConfig

log = logging.getLogger("portside.up")


@click.command()
@server_options
@click.option(
    "--driver",
    type=click.Choice(["docker", "simulated"]),
    default="docker",
    show_default=True,
    help="How the local agent runs containers.",
)
@click.option("--no-agent", is_flag=True, help="Run the control plane only.")
@click.option(
    "--metadata-port",
    type=int,
    default=51680,
    show_default=True,
    help="Port of the task metadata endpoint (0: any free port).",
)
def up(
    config: ServerConfig,
    log_level: str,
    driver: str,
    no_agent: bool,
    metadata_port: int,
) -> None:
    """Run Portside on this machine: control plane with embedded SQLite, and a local agent
    registered to the `default` cluster that also provides FARGATE capacity."""
    from portside import credentials
    from portside.dirlock import AGENT_LOCK, DirLock

    setup_logging(log_level)
    data_dir = config.data_dir
    click.echo(
        f'Portside {config.endpoint}  —  eval "$(portside env --data-dir {data_dir})" '
        "to point the AWS CLI here",
        err=True,
    )
    done = threading.Event()
    agent_locks: list[DirLock] = []

    def lock_agent_dir(_: ServerConfig) -> None:
        # Once the port is ours (a failed start leaves no trace), before anything is read.
        if not no_agent:
            agent_locks.append(DirLock.acquire(data_dir / "agent", AGENT_LOCK, "agent state"))

    async def start_agent(_: Starlette) -> None:
        if no_agent:
            return
        from portside.agent.factory import make_agent, make_driver
        from portside.agent.runtime import run_agent
        from portside.agent.session import AgentConfig

        agent_locks[0].record(port=config.port, metadata_port=metadata_port)

        try:
            the_driver = make_driver(driver)
        except Exception as exc:
            log.error("no local agent: the %s driver is not available (%s)", driver, exc)
            return
        creds = credentials.load_or_create(data_dir)
        the_agent = make_agent(
            endpoint=config.endpoint,
            credentials=creds,
            state_dir=data_dir / "agent",
            driver=the_driver,
            config=AgentConfig(
                cluster="default", region=DEFAULT_REGION, fargate=True, metadata_port=metadata_port
            ),
        )
        threading.Thread(
            target=run_agent, args=(the_agent, done), name="agent", daemon=True
        ).start()

    async def stop_agent(_: Starlette) -> None:
        done.set()

    serve(
        config,
        log_level,
        startup_hooks=[start_agent],
        shutdown_hooks=[stop_agent],
        on_bound=[lock_agent_dir],
    )
