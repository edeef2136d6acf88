"""The admin access key: created on first start in the data directory, or preset by env."""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

import orjson

FILE = "credentials.json"
_KEY_CHARS = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def _new() -> Credentials:
    key = "PSAK" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16))
    return Credentials(key, secrets.token_urlsafe(30)[:40])


def load_or_create(data_dir: Path) -> Credentials:
    """The admin key: PORTSIDE_ACCESS_KEY_ID/PORTSIDE_SECRET_ACCESS_KEY when set (and then
    saved), else the saved one, else a new one written with mode 0600."""
    path = data_dir / FILE
    preset_id = os.environ.get("PORTSIDE_ACCESS_KEY_ID")
    preset_secret = os.environ.get("PORTSIDE_SECRET_ACCESS_KEY")
    if preset_id and preset_secret:
        creds = Credentials(preset_id, preset_secret)
    elif path.exists():
        doc = orjson.loads(path.read_bytes())
        return Credentials(doc["accessKeyId"], doc["secretAccessKey"])
    else:
        creds = _new()
    save(path, creds)
    return creds


def load(data_dir: Path) -> Credentials | None:
    path = data_dir / FILE
    if not path.exists():
        return None
    doc = orjson.loads(path.read_bytes())
    return Credentials(doc["accessKeyId"], doc["secretAccessKey"])


def save(path: Path, creds: Credentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            orjson.dumps(
                {"accessKeyId": creds.access_key_id, "secretAccessKey": creds.secret_access_key}
            )
        )
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
