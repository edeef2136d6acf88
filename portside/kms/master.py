"""The server's master key: it wraps every KMS key's material before the material reaches the
store, so the database alone never holds a usable key.

`PORTSIDE_MASTER_KEY` (base64 of 32 bytes) when set, else `master.key` in the data directory,
created with mode 0600 on first start, as `credentials.py` keeps the admin key.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portside.errors import ServerException
from portside.startup import StartupError

if TYPE_CHECKING:
    from portside.ops.context import World

FILE = "master.key"
ENV = "PORTSIDE_MASTER_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKeyError(StartupError):
    """The configured master key is unusable: the server must not start."""


class MasterKey:
    """AES-256-GCM over 32 secret bytes: `wrap` and `unwrap` key material bound to `aad`
    (its key's ARN, so wrapped material cannot be moved to another key)."""

    __slots__ = ("_aead",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes, not {len(secret)}")
        self._aead = AESGCM(secret)

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh key held in memory only (worlds without a data directory: tests)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    def wrap(self, plain: bytes, aad: bytes) -> bytes:
        """nonce || ciphertext || tag."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise ServerException(
                "KMS key material does not open with this server's master key (was the data "
                f"directory written under another {ENV} or {FILE}?)"
            ) from None


def _decode(text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where} is not base64") from None
    if len(secret) != KEY_BYTES:
        raise MasterKeyError(f"{where} must be the base64 of {KEY_BYTES} bytes, not {len(secret)}")
    return secret


def load_or_create(data_dir: Path) -> MasterKey:
    """PORTSIDE_MASTER_KEY when set, else the saved `master.key`, else a new one written
    with mode 0600 (never replacing one that appeared meanwhile)."""
    preset = os.environ.get(ENV)
    if preset:
        return MasterKey(_decode(preset, ENV))
    path = data_dir / FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(fresh) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(path, 0o600)
            return MasterKey(fresh)
    return MasterKey(_decode(path.read_text(), str(path)))


def of(world: World) -> MasterKey:
    """The world's master key; a world built without one (tests: `portside.testing`) gets a
    key held in memory, so its blobs open for as long as that world lives."""
    if world.keys is None:
        world.keys = MasterKey.generate()
    return world.keys
