"""Account settings: per principal, an account default, and AWS's own default beneath both."""

from __future__ import annotations

from dataclasses import dataclass

from portside.errors import InvalidParameterException
from portside.ops.context import Op, root_principal
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.store.base import Tx

_ON_OFF = ("enabled", "disabled")

# name -> (allowed values, AWS default). Only names in botocore's SettingName enum: a name the
# SDKs do not know (such as dualStackIPv6) could never be set and would break their responses.
SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "serviceLongArnFormat": (_ON_OFF, "enabled"),
    "taskLongArnFormat": (_ON_OFF, "enabled"),
    "containerInstanceLongArnFormat": (_ON_OFF, "enabled"),
    "awsvpcTrunking": (_ON_OFF, "disabled"),
    "containerInsights": (("enabled", "disabled", "enhanced"), "disabled"),
    "fargateFIPSMode": (_ON_OFF, "disabled"),
    "tagResourceAuthorization": (("on", "off"), "on"),
    "fargateTaskRetirementWaitPeriod": (("0", "7", "14"), "7"),
    "guardDutyActivate": (("on", "off"), "off"),
    "defaultLogDriverMode": (("blocking", "non-blocking"), "non-blocking"),
    "fargateEventWindows": (_ON_OFF, "disabled"),
}
# Settings ECS lets only the account default change.
_DEFAULT_ONLY = {"fargateFIPSMode", "fargateTaskRetirementWaitPeriod"}
_READ_ONLY = {"guardDutyActivate"}


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    value: str
    principal_arn: str
    type: str  # "user" | "aws_managed"


def _key(op: Op, principal: str, name: str) -> str:
    return f"{op.region}|{principal}|{name}"


def _check(name: str, value: str) -> None:
    if name not in SETTINGS:
        raise InvalidParameterException(f"Unknown account setting name: {name}")
    allowed, _ = SETTINGS[name]
    if value not in allowed:
        raise InvalidParameterException(
            f"The value '{value}' is not valid for {name}. Valid values are: {', '.join(allowed)}."
        )
    if name in _READ_ONLY:
        raise InvalidParameterException(f"The account setting {name} cannot be changed.")


def _get(op: Op, tx: Tx, principal: str, name: str) -> Setting | None:
    doc = tx.get("account_settings", _key(op, principal, name))
    return Setting(doc["name"], doc["value"], doc["principalArn"], "user") if doc else None


def effective(op: Op, tx: Tx, name: str, principal: str | None = None) -> Setting:
    principal = principal or op.caller.principal_arn
    root = root_principal(op.account)
    found = _get(op, tx, principal, name) or _get(op, tx, root, name)
    if found is not None:
        return found
    return Setting(name, SETTINGS[name][1], root, "aws_managed")


def effective_value(op: Op, tx: Tx, name: str) -> str | None:
    return effective(op, tx, name).value


def put(op: Op, name: str, value: str, principal: str | None = None) -> Setting:
    _check(name, value)
    if name in _DEFAULT_ONLY:
        raise InvalidParameterException(
            f"The account setting {name} can only be changed with PutAccountSettingDefault."
        )
    principal = principal or op.caller.principal_arn
    return _store(op, name, value, principal)


def put_default(op: Op, name: str, value: str) -> Setting:
    _check(name, value)
    return _store(op, name, value, root_principal(op.account))


def _store(op: Op, name: str, value: str, principal: str) -> Setting:
    with op.store.transaction() as tx:
        tx.put(
            "account_settings",
            _key(op, principal, name),
            {"name": name, "value": value, "principalArn": principal},
        )
    return Setting(name, value, principal, "user")


def delete(op: Op, name: str, principal: str | None = None) -> Setting:
    if name not in SETTINGS:
        raise InvalidParameterException(f"Unknown account setting name: {name}")
    principal = principal or op.caller.principal_arn
    with op.store.transaction() as tx:
        found = _get(op, tx, principal, name)
        if found is None:
            raise InvalidParameterException(
                f"The account setting {name} is not set for principal {principal}."
            )
        tx.delete("account_settings", _key(op, principal, name))
    return found


def list_settings(
    op: Op,
    *,
    name: str | None = None,
    value: str | None = None,
    principal: str | None = None,
    effective_settings: bool = False,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[Setting], str | None]:
    limit = check_max_results(max_results, default=10, cap=10)
    after = decode_token(next_token)
    if value is not None and name is None:
        raise InvalidParameterException("value can only be given together with name.")
    principal = principal or op.caller.principal_arn
    names = [name] if name else sorted(SETTINGS)
    if name and name not in SETTINGS:
        raise InvalidParameterException(f"Unknown account setting name: {name}")
    with op.store.read() as tx:
        if effective_settings:
            found = [effective(op, tx, n, principal) for n in names]
        else:
            found = [s for n in names if (s := _get(op, tx, principal, n)) is not None]
    if value is not None:
        found = [s for s in found if s.value == value]
    found = [s for s in found if s.name > after]
    page = found[:limit]
    token = encode_token(page[-1].name) if len(found) > limit else None
    return page, token
