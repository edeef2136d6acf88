"""`portside status`: is the server up, and how are its background loops doing; with several
server replicas, which leads and how each replica's loops are doing (portside/cluster).

A signed `GET /_portside/health` (any service name signs it; the admin key by default, as
for the other client commands). Exits 0 when every loop is healthy, 1 when one keeps failing
or is stalled (the server is degraded), 2 when the server cannot be reached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console, Group
from rich.table import Table

from portside.cli import connection
from portside.cli.events import signed_get
from portside.cli.options import data_dir_option
from portside.config import DEFAULT_REGION

PATH = "/_portside/health"


def _ago(when: float | None, now: float) -> str:
    return "never" if when is None else f"{max(0.0, now - when):.0f} s ago"


def render(report: dict[str, Any], now: float) -> Table:
    """The loops as a table. Pure."""
    table = Table(title=f"Portside {report.get('version', '')}: {report['status']}")
    for column in ("loop", "last success", "passes", "errors (in a row / all)", "last error"):
        table.add_column(column)
    stalled = set(report.get("stalled", []))
    for loop in report.get("loops", []):
        table.add_row(
            loop["name"]
            + (" (stalled)" if loop["name"] in stalled else "")
            + (" (standby: not the leader)" if loop.get("standby") else ""),
            _ago(loop["last_success"], now),
            str(loop["passes"]),
            f"{loop['consecutive_errors']} / {loop['total_errors']}",
            loop["last_error"] or "",
        )
    return table


def render_cluster(cluster: dict[str, Any], now: float) -> Table:
    """The replicas, the leader and each replica's loops, as a table. Pure."""
    leader = cluster.get("leader")
    lead = f"leader {leader['replica']} (epoch {leader['epoch']})" if leader else "no leader"
    table = Table(title=f"Replicas: {lead}")
    for column in ("replica", "endpoint", "host", "role", "last seen", "loops"):
        table.add_column(column)
    for replica in cluster.get("replicas", []):
        me = " (this one)" if replica["id"] == cluster.get("replica") else ""
        leads = leader is not None and leader["replica"] == replica["id"]
        role = "leader" if leads else "follower"
        role += " (gone)" if replica.get("gone") else ""
        running = [loop for loop in replica.get("loops", []) if not loop.get("standby")]
        failing = [loop["name"] for loop in running if loop.get("consecutive_errors")]
        loops = f"{len(running)} of {len(replica.get('loops', []))} running"
        loops += f", failing: {', '.join(failing)}" if failing else ""
        table.add_row(
            replica["id"] + me,
            replica.get("endpoint", ""),
            f"{replica.get('host', '')} pid {replica.get('pid', '')}",
            role,
            _ago(replica.get("seen"), now),
            loops,
        )
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the health report as JSON.")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default=None)
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], default=DEFAULT_REGION)
@data_dir_option
def status(as_json: bool, endpoint_url: str | None, region: str, data_dir: Path) -> None:
    """Show the server's health and each background loop's last success and errors."""
    url = connection.endpoint(endpoint_url, data_dir) + PATH
    try:
        reply = httpx.get(url, headers=signed_get(url, connection.keys(data_dir), region))
    except httpx.HTTPError as exc:
        click.echo(f"portside status: cannot reach {url}: {exc}", err=True)
        raise SystemExit(2) from None
    report = reply.json()
    if "error" in report:
        click.echo(f"portside status: {report['error']['message']}", err=True)
        raise SystemExit(2)
    if as_json:
        click.echo(reply.text)
    else:
        now = time.time()
        cluster = report.get("cluster")
        shown = render(report, now)
        Console().print(Group(shown, render_cluster(cluster, now)) if cluster else shown)
    raise SystemExit(0 if report["status"] == "ok" else 1)
