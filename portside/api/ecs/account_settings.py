"""ECS account setting actions."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.ops import settings
from portside.ops.context import Op
from portside.wire.replies import page


def shape(s: settings.Setting) -> dict[str, Any]:
    return {"name": s.name, "value": s.value, "principalArn": s.principal_arn, "type": s.type}


@action("PutAccountSetting")
def put_account_setting(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"setting": shape(settings.put(op, p["name"], p["value"], p.get("principalArn")))}


@action("PutAccountSettingDefault")
def put_account_setting_default(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"setting": shape(settings.put_default(op, p["name"], p["value"]))}


@action("DeleteAccountSetting")
def delete_account_setting(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"setting": shape(settings.delete(op, p["name"], p.get("principalArn")))}


@action("ListAccountSettings")
def list_account_settings(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    found, token = settings.list_settings(
        op,
        name=p.get("name"),
        value=p.get("value"),
        principal=p.get("principalArn"),
        effective_settings=bool(p.get("effectiveSettings")),
        max_results=p.get("maxResults"),
        next_token=p.get("nextToken"),
    )
    return page("settings", [shape(s) for s in found], token)
