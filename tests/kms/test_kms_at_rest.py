"""What reaches the disk: the master key file (mode 0600, kept across restarts, or taken from
PORTSIDE_MASTER_KEY), and a store that holds key material only wrapped and never a value
KMS encrypted."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from harness import ServerProcess

from portside.errors import ServerException
from portside.kms import envelope, master
from portside.kms.master import MasterKey, MasterKeyError
from portside.testing.store import sqlite_store
from portside.testing.world import make_op, make_world


def _files(data_dir: Path) -> dict[Path, bytes]:
    return {
        p: p.read_bytes()
        for p in data_dir.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != master.FILE
    }


def _stored_key(data_dir: Path, arn: str) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{data_dir / 'portside.db'}?mode=ro", uri=True)
    try:
        (doc,) = db.execute("SELECT doc FROM kms_keys WHERE key = ?", (arn,)).fetchone()
    finally:
        db.close()
    return dict(orjson.loads(doc))


def test_master_key_file_is_private(server: ServerProcess) -> None:
    path = server.data_dir / master.FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(path.read_text())) == 32


def test_the_store_holds_no_key_material_nor_plaintext(
    server: ServerProcess, kms: Any, key: dict[str, Any]
) -> None:
    secret = f"plaintext-{uuid.uuid4().hex}".encode()
    kms.encrypt(KeyId=key["KeyId"], Plaintext=secret)
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    doc = _stored_key(server.data_dir, key["Arn"])
    secret_key = MasterKey(base64.b64decode((server.data_dir / master.FILE).read_text()))
    material = secret_key.unwrap(base64.b64decode(doc["Material"]), key["Arn"].encode())
    assert len(material) == 32
    files = _files(server.data_dir)
    # The scan sees what the store wrote: the wrapped material is there...
    assert any(doc["Material"].encode() in body for body in files.values())
    # ...and nothing that opens anything.
    for needle in (secret, data_key, material, base64.b64encode(material)):
        assert [p for p, body in files.items() if needle in body] == []


def test_master_key_from_the_environment_or_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset = MasterKey.generate()
    raw = bytes(range(32))
    monkeypatch.setenv(master.ENV, base64.b64encode(raw).decode())
    from_env = master.load_or_create(tmp_path / "env")
    assert not (tmp_path / "env" / master.FILE).exists()
    assert MasterKey(raw).unwrap(from_env.wrap(b"m", b"a"), b"a") == b"m"
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        monkeypatch.setenv(master.ENV, bad)
        with pytest.raises(MasterKeyError, match=master.ENV):
            master.load_or_create(tmp_path / "env")
    monkeypatch.delenv(master.ENV)
    made = master.load_or_create(tmp_path / "dir")
    path = tmp_path / "dir" / master.FILE
    assert path.stat().st_mode & 0o777 == 0o600
    again = master.load_or_create(tmp_path / "dir")
    assert again.unwrap(made.wrap(b"m", b"arn"), b"arn") == b"m"
    with pytest.raises(ServerException):
        preset.unwrap(made.wrap(b"m", b"arn"), b"arn")
    with pytest.raises(ServerException):
        made.unwrap(made.wrap(b"m", b"arn"), b"another arn")


def test_keys_open_after_a_restart(tmp_path: Path) -> None:
    """A store reopened with the master key reloaded from its data directory, as a restarted
    server does (server.py), opens what it sealed before."""
    blobs = []
    for run in range(2):
        store = sqlite_store(tmp_path)
        world = make_world(store)
        world.keys = master.load_or_create(tmp_path)
        op = make_op(world)
        try:
            if run == 0:
                with store.transaction() as tx:
                    blobs.append(envelope.seal(op, tx, None, b"v", default_alias="alias/aws/ssm"))
            else:
                with store.read() as tx:
                    assert envelope.unseal(op, tx, blobs[0][0]) == (b"v", blobs[0][1])
        finally:
            store.close()
