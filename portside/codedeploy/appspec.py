"""An ECS AppSpec (YAML or JSON): the TargetService's task definition, the container and
port the load balancer sends traffic to, and optionally the platform version, network
configuration and capacity provider strategy of the replacement task set. Pure.

Hooks name Lambda functions; Portside has no Lambda, so an AppSpec with hooks is refused
rather than run without them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from portside.codedeploy.errors import error


@dataclass(frozen=True, slots=True)
class AppSpec:
    task_definition: str
    container_name: str
    container_port: int
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None  # ECS's shape (camelCase)
    capacity_provider_strategy: tuple[dict[str, Any], ...] | None = None


def _invalid(message: str) -> Exception:
    return error("InvalidRevisionException", message)


def content_of(revision: Mapping[str, Any] | None) -> str:
    """The AppSpec text a revision carries (AppSpecContent, or String for older clients)."""
    revision = revision or {}
    kind = revision.get("revisionType")
    if kind == "AppSpecContent":
        return str((revision.get("appSpecContent") or {}).get("content") or "")
    if kind == "String":
        return str((revision.get("string") or {}).get("content") or "")
    raise _invalid(
        "Portside deploys ECS revisions given as AppSpecContent or String only; "
        f"revisionType {kind} is not supported."
    )  # wording: ours


def _load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    import yaml  # PyYAML (with uvicorn[standard]); JSON is YAML too, but slower

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _invalid(f"The AppSpec is not valid YAML or JSON: {exc}") from None


def _network(given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not given:
        return None
    vpc = given.get("AwsvpcConfiguration") or given.get("awsvpcConfiguration") or {}
    out: dict[str, Any] = {}
    for src, dst in (("Subnets", "subnets"), ("SecurityGroups", "securityGroups")):
        value = vpc.get(src, vpc.get(dst))
        if value is not None:
            out[dst] = list(value)
    public = vpc.get("AssignPublicIp", vpc.get("assignPublicIp"))
    if public is not None:
        out["assignPublicIp"] = public
    return {"awsvpcConfiguration": out}


def parse(text: str) -> AppSpec:
    doc = _load(text)
    if not isinstance(doc, dict):
        raise _invalid("The AppSpec must be a YAML or JSON object.")
    if doc.get("Hooks"):
        raise _invalid(
            "Portside has no Lambda: AppSpec Hooks cannot run. Remove them from the AppSpec."
        )
    for resource in doc.get("Resources") or ():
        for _, target in (resource or {}).items():
            if not isinstance(target, dict) or target.get("Type") != "AWS::ECS::Service":
                continue
            props = target.get("Properties") or {}
            lb = props.get("LoadBalancerInfo") or {}
            if not props.get("TaskDefinition") or not lb.get("ContainerName"):
                raise _invalid(
                    "The AppSpec's TargetService needs TaskDefinition and "
                    "LoadBalancerInfo.ContainerName."
                )
            try:
                port = int(lb["ContainerPort"])
            except (KeyError, TypeError, ValueError):
                raise _invalid("LoadBalancerInfo.ContainerPort must be a number.") from None
            strategy = props.get("CapacityProviderStrategy")
            return AppSpec(
                task_definition=str(props["TaskDefinition"]),
                container_name=str(lb["ContainerName"]),
                container_port=port,
                platform_version=props.get("PlatformVersion"),
                network_configuration=_network(props.get("NetworkConfiguration")),
                capacity_provider_strategy=None
                if strategy is None
                else tuple(
                    {
                        "capacityProvider": i.get("CapacityProvider"),
                        "weight": int(i.get("Weight", 0)),
                        "base": int(i.get("Base", 0)),
                    }
                    for i in strategy
                ),
            )
    raise _invalid("The AppSpec has no resource of Type AWS::ECS::Service.")
