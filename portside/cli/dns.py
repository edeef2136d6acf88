"""`portside dns`: how to point this host's resolver at Portside's DNS server.

The address is the one the server in the data directory wrote to `server.json` when it
started (`--dns-host`, `--dns-port`). Only Portside's own domains are routed to it: it answers
those alone and forwards nothing of them, so the host's resolver and Portside never send a
query round in a circle.
"""

from __future__ import annotations

from pathlib import Path

import click
import dns.exception
import dns.message
import dns.query
import orjson

from portside.cli.options import data_dir_option
from portside.dns.records import LOAD_BALANCER_TTL, TASK_TTL
from portside.elb.names import DNS_SUFFIX

STATE_FILE = "server.json"
DOMAINS = ("ec2.internal", "compute.internal", DNS_SUFFIX)
DROP_IN = "/etc/systemd/resolved.conf.d/portside.conf"


def address(data_dir: Path) -> tuple[str, int] | None:
    """(host, port) of the DNS server the data directory's server last started, or None."""
    try:
        found = orjson.loads((data_dir / STATE_FILE).read_bytes()).get("dns")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(found, str) or ":" not in found:
        return None
    host, _, port = found.rpartition(":")
    return (host.strip("[]"), int(port)) if port.isdigit() else None


def resolved_drop_in(host: str, port: int) -> str:
    """systemd-resolved's configuration: Portside's domains (only those) to its server."""
    server = f"[{host}]" if ":" in host else host
    domains = " ".join(f"~{d}" for d in DOMAINS)
    return f"[Resolve]\nDNS={server}:{port}\nDomains={domains}\n"


def instructions(host: str, port: int) -> str:
    """What `portside dns` prints. Pure."""
    dig = f"dig @{host}" + ("" if port == 53 else f" -p {port}")
    if port == 53:
        resolv = (
            f"Without systemd-resolved: `nameserver {host}` as the first line of "
            "/etc/resolv.conf (it then answers every name: others are forwarded to the "
            "resolvers listed after it when the server started)."
        )
    else:
        resolv = (
            "Without systemd-resolved: resolv.conf cannot name a port, so start the server "
            f"with `--dns-port 53` (as root), then put `nameserver {host}` first in "
            "/etc/resolv.conf."
        )
    return (
        f"Portside's DNS answers on {host}:{port} (UDP and TCP):\n"
        f"  ip-A-B-C-D.ec2.internal (us-east-1), ip-A-B-C-D.REGION.compute.internal\n"
        f"      awsvpc tasks while they run, TTL {TASK_TTL} s; the reverse (PTR) names too\n"
        f"  NAME-ID.REGION.{DNS_SUFFIX}\n"
        f"      load balancers, TTL {LOAD_BALANCER_TTL} s\n"
        "  any other name: forwarded to this host's resolvers\n"
        "\n"
        f"With systemd-resolved, write {DROP_IN}:\n"
        "\n"
        f"{resolved_drop_in(host, port)}"
        "\n"
        "then `systemctl restart systemd-resolved` (or `portside dns --drop-in | sudo tee "
        f"{DROP_IN}`). Then `curl http://<privateDnsName>:PORT` works from this host.\n"
        "\n"
        f"{resolv}\n"
        "\n"
        f"Check: {dig} <privateDnsName>   ({dig} -x <address> for the reverse)\n"
    )


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a DNS server answers there (the load balancers' zone's SOA)."""
    query = dns.message.make_query(f"{DNS_SUFFIX}.", "SOA")
    try:
        dns.query.udp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return False
    return True


@click.command("dns")
@click.option(
    "--drop-in", "drop_in_only", is_flag=True, help="Print only systemd-resolved's drop-in file."
)
@data_dir_option
def dns_(drop_in_only: bool, data_dir: Path) -> None:
    """Show how to point this host's resolver at Portside's DNS server."""
    found = address(data_dir)
    if found is None:
        raise click.ClickException(
            f"no DNS address in {data_dir / STATE_FILE}: start the server first "
            "(`portside server` or `portside up`)."
        )
    host, port = found
    if drop_in_only:
        click.echo(resolved_drop_in(host, port), nl=False)
        return
    click.echo(instructions(host, port), nl=False)
    if not answers(host, port):
        click.echo(f"\nWarning: nothing answers on {host}:{port} now; is the server running?")
