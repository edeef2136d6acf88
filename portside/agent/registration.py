"""Registering this host: RegisterContainerInstance through the ECS API (as the ECS agent
does), the hidden FARGATE instance through the gateway, and a simulated fleet's other
instances. The ARNs are kept in the state directory, so a restarted agent registers as the
same instances."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from portside import __version__
from portside.agent.attributes import default_attributes, with_private_ip
from portside.agent.client import ApiError, ControlPlaneClient
from portside.agent.driver import Driver
from portside.agent.state import AgentState
from portside.gateway import protocol
from portside.gateway.protocol import FargateRegistered, FargateRegistration

log = logging.getLogger("portside.agent")

RESERVED_PORTS = [22, 2375, 2376, 51678, 51679]


@dataclass(slots=True)
class AgentConfig:
    cluster: str = "default"
    region: str = "us-east-1"
    zone: str = "local-1a"
    instance_type: str = "portside.local"
    attributes: dict[str, str] = field(default_factory=dict)
    fargate: bool = False  # also provide FARGATE capacity (portside up does)
    metadata_port: int = 51680
    cleanup_wait: float = 3 * 3600.0
    poll_wait: float = 20.0
    # A simulated fleet: this many instances in one session, zones taken in turn.
    instances: int = 1
    zones: list[str] = field(default_factory=list)
    threads: int = 8
    # Task containers resolve through the agent's relay to the control plane's DNS
    # (agent/dns_relay.py); `dns_server` ("HOST[:PORT]") overrides the address the session
    # gives.
    task_dns: bool = True
    dns_server: str | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    instance_arn: str
    fargate_arn: str = ""  # the hidden FARGATE instance, when the agent provides one
    more_arns: tuple[str, ...] = ()  # a simulated fleet's instances 2..N


def resources(driver: Driver, config: AgentConfig) -> list[dict[str, Any]]:
    cpu, memory = driver.host_resources()
    ports = sorted({*RESERVED_PORTS, config.metadata_port})
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": [str(p) for p in ports]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ]


def register(
    client: ControlPlaneClient, driver: Driver, state: AgentState, cfg: AgentConfig
) -> Registered:
    saved = state.instance()
    zone = (cfg.zones or [cfg.zone])[0]
    if cfg.cluster == "default":
        client.ecs("CreateCluster", clusterName="default")
    version = {
        "agentVersion": __version__,
        "agentHash": "portside",
        "dockerVersion": driver.name,
    }
    identity = {
        "instanceId": saved.get("ec2InstanceId") or "i-" + secrets.token_hex(9)[:17],
        "availabilityZone": zone,
        "instanceType": cfg.instance_type,
        "region": cfg.region,
    }
    params: dict[str, Any] = {
        "cluster": cfg.cluster,
        "totalResources": resources(driver, cfg),
        "versionInfo": version,
        "attributes": default_attributes(
            zone, cfg.instance_type, with_private_ip(cfg.attributes, client.endpoint)
        ),
        "instanceIdentityDocument": _json(identity),
    }
    if saved.get("cluster") == cfg.cluster and saved.get("containerInstanceArn"):
        params["containerInstanceArn"] = saved["containerInstanceArn"]
    try:
        out = client.ecs("RegisterContainerInstance", **params)
    except ApiError as exc:
        if "containerInstanceArn" not in params:
            raise
        log.warning(
            "could not re-register %s (%s); registering anew",
            params["containerInstanceArn"],
            exc.message,
        )
        del params["containerInstanceArn"]
        out = client.ecs("RegisterContainerInstance", **params)
    instance_arn = str(out["containerInstance"]["containerInstanceArn"])
    saved.update(
        cluster=cfg.cluster,
        containerInstanceArn=instance_arn,
        ec2InstanceId=identity["instanceId"],
    )
    fargate_arn = ""
    if cfg.fargate:
        ask = FargateRegistration(
            total_resources=tuple(resources(driver, cfg)),
            version_info=version,
            attributes=tuple(default_attributes(cfg.zone, "fargate")),
            container_instance_arn=saved.get("fargateArn"),
        )
        fargate_arn = FargateRegistered.from_wire(
            client.send(protocol.FARGATE, ask)
        ).container_instance_arn
        saved["fargateArn"] = fargate_arn
    more: list[str] = []
    if cfg.instances > 1:
        known = saved.get("more")
        more = _register_more(client, cfg, params, known if isinstance(known, list) else [])
        saved["more"] = more
    state.save_instance(saved)
    log.info(
        "registered %s in cluster %s%s",
        instance_arn,
        cfg.cluster,
        f" (and {cfg.instances - 1} more)" if cfg.instances > 1 else "",
    )
    return Registered(instance_arn, fargate_arn, tuple(more))


def _register_more(
    client: ControlPlaneClient, cfg: AgentConfig, first: dict[str, Any], known: list[str]
) -> list[str]:
    """Instances 2..N of a simulated fleet, registered from a few threads at once."""
    zones = cfg.zones or [cfg.zone]

    def one(n: int) -> str:
        zone = zones[n % len(zones)]
        params = dict(first)
        params.pop("containerInstanceArn", None)
        params["attributes"] = default_attributes(zone, cfg.instance_type, cfg.attributes)
        params["instanceIdentityDocument"] = _json(
            {
                "instanceId": "i-" + secrets.token_hex(9)[:17],
                "availabilityZone": zone,
                "instanceType": cfg.instance_type,
                "region": cfg.region,
            }
        )
        if n - 1 < len(known):
            params["containerInstanceArn"] = known[n - 1]
        out = client.ecs("RegisterContainerInstance", **params)
        return str(out["containerInstance"]["containerInstanceArn"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(1, cfg.instances)))


def _json(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()
