"""A task's credentials id: the `<id>` of `/v2/credentials/<id>`.

Anyone on the host's networks who knows an id can read its credentials, as with the ECS
agent, so it must not be guessable; and a container keeps the id it was started with, so it
must survive an agent restart. It is therefore an HMAC of the task ARN under a key kept in
the agent's state directory (`credentials.key`, mode 0600, made on first use), shaped as the
ECS agent's UUIDs are.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "credentials.key"


def load_key(state_dir: Path) -> bytes:
    """The state directory's key, made on first use."""
    path = state_dir / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key


def credentials_id(key: bytes, task_arn: str) -> str:
    """The task's id, a UUID-shaped hex string."""
    h = hmac.new(key, task_arn.encode(), hashlib.sha256).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
