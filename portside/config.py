"""Where things live and what they default to (DESIGN.md, Defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4810
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"


def default_data_dir() -> Path:
    return Path(os.environ.get("PORTSIDE_DATA_DIR", "~/.portside")).expanduser()


def default_account() -> str:
    return os.environ.get("PORTSIDE_ACCOUNT_ID", DEFAULT_ACCOUNT)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path("~/.portside")
    account: str = DEFAULT_ACCOUNT
    synchronous: str = "FULL"
    # Seconds an instance's agent may be silent before its service tasks are replaced.
    lost_instance_grace: float = 300.0
    # EventBridge API destinations may call link-local addresses (the instance metadata
    # service among them): off unless asked for (events/egress.py).
    allow_link_local_destinations: bool = False
    # Where load balancer listeners bind on this host (each on its own port).
    load_balancer_host: str = "127.0.0.1"
    # ECR's registry's loopback port (0: the one kept in the data directory, else the port
    # after `port` when free, else any free one; portside/registry/plane.py).
    registry_port: int = 0
    # Where the DNS server answers, UDP and TCP (port 0: the one kept in the data directory,
    # else 4853 when free, else any free one; portside/dns/plane.py).
    dns_host: str = "127.0.0.1"
    dns_port: int = 0
    # Seconds between ECS's own CloudWatch datapoints (AWS/ECS, ECS/ContainerInsights) and the
    # period of target tracking's alarms: AWS's is 60; shorter is for tests and demos
    # (1, 5, 10 or 30 publish high-resolution metrics). $PORTSIDE_METRIC_PERIOD.
    metric_period: int = 60
    # The store's database: "" for SQLite in the data directory, else a PostgreSQL URL
    # (postgresql://...) shared by several replicas. $PORTSIDE_DATABASE_URL.
    database: str = ""
    # One of several server replicas over one store (portside/cluster): leadership through
    # the lease, and a SQLite data directory locked shared rather than for this server alone.
    replica: bool = False
    # The URL others reach this server at (agents' exec stream URLs, the replicas' records);
    # "" for http://HOST:PORT (127.0.0.1 for a server listening on every address).
    advertise_url: str = ""

    @property
    def endpoint(self) -> str:
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"
