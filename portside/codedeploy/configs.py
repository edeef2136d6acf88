"""Deployment configurations: CodeDeploy's predefined ECS ones and custom ones
(CreateDeploymentConfig, GetDeploymentConfig, ListDeploymentConfigs,
DeleteDeploymentConfig). For ECS only `trafficRoutingConfig` matters: how production traffic
moves to the green task set (controllers/blue_green/shift.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from portside.codedeploy import records
from portside.codedeploy.api_base import ACTIONS
from portside.codedeploy.errors import error, no_config
from portside.ops.context import Op
from portside.wire.replies import drop_none

_CREATED = 1_577_836_800.0  # when the predefined ones "were made": 2020-01-01


def _canary(percent: int, minutes: int) -> dict[str, Any]:
    return {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes},
    }


def _linear(percent: int, minutes: int) -> dict[str, Any]:
    return {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes},
    }


# The ECS configurations CodeDeploy predefines (CodeDeploy user guide, "Deployment
# configurations on an Amazon ECS compute platform").
PREDEFINED: dict[str, dict[str, Any]] = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": _linear(10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": _linear(10, 3),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": _canary(10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": _canary(10, 15),
}
DEFAULT_ECS = "CodeDeployDefault.ECSAllAtOnce"


def _predefined(name: str) -> dict[str, Any]:
    ident = hashlib.sha256(name.encode()).hexdigest()
    return {
        "deploymentConfigId": "-".join(
            (ident[:8], ident[8:12], ident[12:16], ident[16:20], ident[20:32])
        ),
        "deploymentConfigName": name,
        "createTime": _CREATED,
        "computePlatform": "ECS",
        "trafficRoutingConfig": PREDEFINED[name],
    }


def find(op: Op, name: str) -> dict[str, Any]:
    """The configuration named `name` (predefined or the account's), or CodeDeploy's error."""
    if name in PREDEFINED:
        return _predefined(name)
    with op.store.read() as tx:
        doc = tx.get(records.CONFIGS, records.config_key(op, name))
    if doc is None:
        raise no_config(name)
    return doc


def _check_routing(config: dict[str, Any] | None) -> dict[str, Any]:
    if not config:
        raise error(
            "InvalidTrafficRoutingConfigurationException",
            "A traffic routing configuration is required for the ECS compute platform.",
        )  # wording: ours
    kind = config.get("type")
    inner = {"TimeBasedCanary": "timeBasedCanary", "TimeBasedLinear": "timeBasedLinear"}
    if kind == "AllAtOnce":
        return {"type": kind}
    member = inner.get(str(kind))
    values = config.get(member or "") or {}
    percent = values.get("canaryPercentage", values.get("linearPercentage"))
    minutes = values.get("canaryInterval", values.get("linearInterval"))
    if member is None or percent is None or minutes is None or not 0 < percent < 100:
        raise error(
            "InvalidTrafficRoutingConfigurationException",
            "The traffic routing configuration is invalid: a canary or linear configuration "
            "takes a percentage between 1 and 99 and an interval in minutes.",
        )  # wording: ours
    return {"type": kind, member: dict(values)}


@ACTIONS.action("CreateDeploymentConfig")
def create_config(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["deploymentConfigName"]
    if name.startswith("CodeDeployDefault."):
        raise error(
            "InvalidDeploymentConfigNameException",
            "The deployment configuration name cannot start with CodeDeployDefault.",
        )  # wording: ours
    platform = p.get("computePlatform") or "Server"
    if platform != "ECS":
        raise error(
            "InvalidComputePlatformException",
            "Portside's CodeDeploy runs deployment configurations of the ECS compute "
            "platform only.",
        )
    routing = _check_routing(p.get("trafficRoutingConfig"))
    with op.store.transaction() as tx:
        key = records.config_key(op, name)
        if tx.get(records.CONFIGS, key) is not None:
            raise error(
                "DeploymentConfigAlreadyExistsException",
                f"A deployment configuration with the name {name} already exists.",
            )  # wording: ours
        doc = {
            "deploymentConfigId": records.new_uuid(op),
            "deploymentConfigName": name,
            "createTime": op.now(),
            "computePlatform": platform,
            "trafficRoutingConfig": routing,
        }
        tx.put(records.CONFIGS, key, doc)
    return {"deploymentConfigId": doc["deploymentConfigId"]}


@ACTIONS.action("GetDeploymentConfig")
def get_config(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"deploymentConfigInfo": drop_none(find(op, p["deploymentConfigName"]))}


@ACTIONS.action("ListDeploymentConfigs")
def list_configs(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        own = [
            doc["deploymentConfigName"]
            for _, doc in tx.scan(records.CONFIGS, prefix=f"{records.scope(op)}|")
        ]
    return {"deploymentConfigsList": sorted(PREDEFINED) + sorted(own)}


@ACTIONS.action("DeleteDeploymentConfig")
def delete_config(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["deploymentConfigName"]
    if name in PREDEFINED:
        raise error(
            "InvalidOperationException", "A predefined deployment configuration cannot be deleted."
        )
    with op.store.transaction() as tx:
        key = records.config_key(op, name)
        if tx.get(records.CONFIGS, key) is not None:
            tx.delete(records.CONFIGS, key)
    return {}
