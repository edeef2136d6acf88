"""CodeDeploy's tables: applications, deployment groups and custom deployment configurations
by "ACCOUNT|REGION|NAME" (a group under its application's key), deployments by
"ACCOUNT|REGION|ID". Documents are kept in CodeDeploy's own shape; a deployment also keeps
`engine`, the blue/green engine's state (never shown)."""

from __future__ import annotations

from typing import Any

from portside.ops.context import Op
from portside.store.base import Tx

APPLICATIONS = "cd_applications"
GROUPS = "cd_deployment_groups"
CONFIGS = "cd_deployment_configs"
DEPLOYMENTS = "cd_deployments"


def scope(op: Op) -> str:
    return f"{op.account}|{op.region}"


def app_key(op: Op, name: str) -> str:
    return f"{scope(op)}|{name}"


def group_key(op: Op, app: str, group: str) -> str:
    return f"{scope(op)}|{app}|{group}"


def config_key(op: Op, name: str) -> str:
    return f"{scope(op)}|{name}"


def deployment_key(op: Op, ident: str) -> str:
    return f"{scope(op)}|{ident}"


def deployment_key_of(doc: dict[str, Any]) -> str:
    return f"{doc['engine']['scope']}|{doc['deploymentId']}"


def groups_of(tx: Tx, op: Op, app: str) -> list[dict[str, Any]]:
    return [doc for _, doc in tx.scan(GROUPS, prefix=f"{scope(op)}|{app}|")]


def new_uuid(op: Op) -> str:
    raw = op.world.new_id()
    return "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))


def new_deployment_id(op: Op) -> str:
    """d- and nine upper-case letters and digits, as CodeDeploy's ids look."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    n = int(op.world.new_id()[:16], 16)
    out = []
    for _ in range(9):
        n, i = divmod(n, len(alphabet))
        out.append(alphabet[i])
    return "d-" + "".join(out)
