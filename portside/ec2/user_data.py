"""An instance's user data as the ECS agent reads it (pure).

EC2 takes `UserData` base64-encoded (at most 16 KB encoded) and hands it to the instance as
given. ECS-optimized AMIs are told their cluster in it, as lines of `/etc/ecs/ecs.config`:

    #!/bin/bash
    echo ECS_CLUSTER=web >> /etc/ecs/ecs.config
    echo 'ECS_INSTANCE_ATTRIBUTES={"stack":"prod"}' >> /etc/ecs/ecs.config

or the file's own `KEY=value` lines. Portside's hosts run no script: the settings are read from
any line that holds `ECS_CLUSTER=` or `ECS_INSTANCE_ATTRIBUTES=` (after an `echo`, quoted or
not), the last one winning as in the file. A cluster is `default` when none is named, as the
agent does.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import orjson

from portside.errors import NamedError

MAX_ENCODED = 16 * 1024
_SETTING = re.compile(r"\b(ECS_[A-Z_]+)=(.*)$")


@dataclass(frozen=True, slots=True)
class EcsSettings:
    cluster: str = "default"
    attributes: dict[str, str] = field(default_factory=dict)


def decode(encoded: str) -> str:
    """The user data's text; EC2's InvalidParameterValue when it is not base64 or too long."""
    if len(encoded) > MAX_ENCODED:
        raise NamedError("InvalidParameterValue", "User data is limited to 16384 bytes", 400)
    try:
        raw = base64.b64decode(encoded.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise NamedError(
            "InvalidUserData.Malformed", "Invalid BASE64 encoding of user data."
        ) from None
    return raw.decode("utf-8", "replace")


def _unquote(value: str) -> str:
    value = value.strip()
    for redirect in (">>", ">"):
        value = value.split(redirect, 1)[0].rstrip() if redirect in value else value
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.rstrip("'\"")


def settings(text: str) -> EcsSettings:
    """The ECS agent settings the user data sets."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        match = _SETTING.search(line)
        if match is None:
            continue
        found[match[1]] = _unquote(match[2])
    attributes: dict[str, str] = {}
    raw = found.get("ECS_INSTANCE_ATTRIBUTES")
    if raw:
        try:
            given = orjson.loads(raw)
        except orjson.JSONDecodeError:
            given = None
        if isinstance(given, dict):
            attributes = {str(k): str(v) for k, v in given.items()}
    return EcsSettings(found.get("ECS_CLUSTER") or "default", attributes)
