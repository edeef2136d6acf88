"""What reaches the disk: no file under the data directory (databases, their write-ahead
logs, the server's log) holds a secret's value; the store holds its versions only sealed."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from typing import Any

import orjson
from harness import ServerProcess


def test_no_file_holds_a_secret_value(server: ServerProcess, sm: Any, name: str) -> None:
    text = f"plaintext-{uuid.uuid4().hex}"
    binary = f"binary-{uuid.uuid4().hex}".encode()
    json_text = orjson.dumps({"password": f"json-{uuid.uuid4().hex}"}).decode()
    sm.create_secret(Name=name, SecretString=text)
    sm.put_secret_value(SecretId=name, SecretBinary=binary)
    sm.update_secret(SecretId=name, SecretString=json_text)
    sm.create_secret(Name=f"{name}-2", SecretString=text + "-2")
    got = sm.batch_get_secret_value(SecretIdList=[name, f"{name}-2"])["SecretValues"]
    assert [v["SecretString"] for v in got] == [json_text, text + "-2"]
    needles = [text.encode(), binary, base64.b64encode(binary), json_text.encode()]
    needles.append(json_text.split('"')[3].encode())  # the password alone
    files = [p for p in server.data_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.name.startswith("portside.db") for p in files)
    for path in files:
        body = path.read_bytes()
        for needle in needles:
            assert needle not in body, f"{path} holds a secret value"
    # The scan would see the versions (three of the first secret, one of the second): they
    # are there, sealed.
    db = sqlite3.connect(f"file:{server.data_dir / 'portside.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT doc FROM sm_secret_versions WHERE key LIKE ?", (f"%:{name}-%",)
        ).fetchall()
    finally:
        db.close()
    sealed = [orjson.loads(doc)["Sealed"] for (doc,) in rows]
    assert len(sealed) == 4 and all(copies and copies[0]["Blob"] for copies in sealed)
