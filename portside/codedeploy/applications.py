"""Applications: CreateApplication, GetApplication, ListApplications, BatchGetApplications,
DeleteApplication. Portside deploys to ECS only (computePlatform ECS)."""

from __future__ import annotations

import re
from typing import Any

from portside.codedeploy import records, tagging
from portside.codedeploy.api_base import ACTIONS
from portside.codedeploy.errors import error, no_application
from portside.ops.context import Op
from portside.store.base import Tx

_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,100}$")


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise error(
            "InvalidApplicationNameException",
            "The application name was specified in an invalid format.",
        )


def require(op: Op, tx: Tx, name: str) -> dict[str, Any]:
    check_name(name)
    doc = tx.get(records.APPLICATIONS, records.app_key(op, name))
    if doc is None:
        raise no_application(name)
    return doc


@ACTIONS.action("CreateApplication")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["applicationName"]
    check_name(name)
    platform = p.get("computePlatform") or "Server"
    if platform != "ECS":
        raise error(
            "InvalidComputePlatformException",
            "Portside's CodeDeploy deploys to the ECS compute platform only.",
        )  # wording: ours
    with op.store.transaction() as tx:
        key = records.app_key(op, name)
        if tx.get(records.APPLICATIONS, key) is not None:
            raise error(
                "ApplicationAlreadyExistsException",
                f"The application {name} already exists with the IAM user or AWS account.",
            )
        doc = {
            "applicationId": records.new_uuid(op),
            "applicationName": name,
            "createTime": op.now(),
            "linkedToGitHub": False,
            "computePlatform": platform,
            tagging.HIDDEN: tagging.given(p.get("tags")),
        }
        tx.put(records.APPLICATIONS, key, doc)
    return {"applicationId": doc["applicationId"]}


@ACTIONS.action("GetApplication")
def get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"application": tagging.shown(require(op, tx, p["applicationName"]))}


@ACTIONS.action("BatchGetApplications")
def batch_get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        names = p.get("applicationNames") or ()
        return {"applicationsInfo": [tagging.shown(require(op, tx, n)) for n in names]}


@ACTIONS.action("ListApplications")
def list_all(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        names = [
            doc["applicationName"]
            for _, doc in tx.scan(records.APPLICATIONS, prefix=f"{records.scope(op)}|")
        ]
    return {"applications": sorted(names)}


@ACTIONS.action("DeleteApplication")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    """Its deployment groups go with it (CodeDeploy's behaviour); deployments stay readable."""
    name = p["applicationName"]
    check_name(name)
    with op.store.transaction() as tx:
        for group in records.groups_of(tx, op, name):
            tx.delete(records.GROUPS, records.group_key(op, name, group["deploymentGroupName"]))
        tx.delete(records.APPLICATIONS, records.app_key(op, name))
    return {}
