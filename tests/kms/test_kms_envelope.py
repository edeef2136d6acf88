"""The envelope other services call (portside/kms/envelope.py), on a store without a server:
seal under a managed default or a named key, unseal without naming the key, the context
bound, and the key's state enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from portside.errors import NamedError
from portside.kms import envelope, lookup, master, records
from portside.kms.master import MasterKey
from portside.ops.context import Op
from portside.testing.store import sqlite_store
from portside.testing.world import make_op, make_world

SECRETS = "alias/aws/secretsmanager"


@pytest.fixture
def op(tmp_path: Path) -> Op:
    world = make_world(sqlite_store(tmp_path))
    world.keys = MasterKey.generate()
    return make_op(world)


def _customer_key(op: Op) -> str:
    with op.store.transaction() as tx:
        doc = records.new_key(
            op,
            tx,
            master.of(op.world),
            description="",
            manager="CUSTOMER",
            policy="{}",
            tags=[],
        )
    return str(doc["KeyId"])


def test_seal_under_the_managed_default_makes_it_once_and_unseals(op: Op) -> None:
    with op.store.transaction() as tx:
        blob, arn = envelope.seal(op, tx, None, b"hunter2", default_alias=SECRETS)
        again, arn2 = envelope.seal(op, tx, None, b"hunter3", default_alias=SECRETS)
    assert arn == arn2 and arn.startswith("arn:aws:kms:us-east-1:000000000000:key/")
    assert b"hunter2" not in blob
    with op.store.read() as tx:
        assert envelope.unseal(op, tx, blob) == (b"hunter2", arn)
        assert envelope.unseal(op, tx, again)[0] == b"hunter3"
        key = lookup.find(op, tx, SECRETS)
    assert key["KeyManager"] == "AWS" and key["Arn"] == arn


def test_seal_under_a_named_key_by_each_of_its_names(op: Op) -> None:
    key_id = _customer_key(op)
    arn = records.key_arn(op, key_id)
    with op.store.transaction() as tx:
        for ref in (key_id, arn):
            blob, used = envelope.seal(op, tx, ref, b"v", default_alias="alias/aws/ssm")
            assert used == arn
            assert envelope.unseal(op, tx, blob) == (b"v", arn)
        assert tx.get(records.ALIASES, records.alias_arn(op, "alias/aws/ssm")) is None


def test_the_context_must_match(op: Op) -> None:
    ctx = {"SecretARN": "arn:x", "SecretVersionId": "v1"}
    with op.store.transaction() as tx:
        blob, _ = envelope.seal(op, tx, None, b"p", context=ctx, default_alias=SECRETS)
        assert envelope.unseal(op, tx, blob, context=dict(reversed(ctx.items())))[0] == b"p"
        for wrong in (None, {"SecretARN": "arn:x"}, {**ctx, "SecretVersionId": "v2"}):
            with pytest.raises(NamedError) as caught:
                envelope.unseal(op, tx, blob, context=wrong)
            assert caught.value.code == "InvalidCiphertextException"


def test_a_tampered_or_foreign_blob_is_invalid_ciphertext(op: Op) -> None:
    with op.store.transaction() as tx:
        blob, _ = envelope.seal(op, tx, None, b"p", default_alias=SECRETS)
        for bad in (blob[:-1] + bytes([blob[-1] ^ 1]), b"not a blob", b"\x01" + b"z" * 80):
            with pytest.raises(NamedError) as caught:
                envelope.unseal(op, tx, bad)
            assert caught.value.code == "InvalidCiphertextException"


def test_a_disabled_or_missing_key_refuses(op: Op) -> None:
    key_id = _customer_key(op)
    with op.store.transaction() as tx:
        blob, arn = envelope.seal(op, tx, key_id, b"p", default_alias=SECRETS)
        doc = tx.get(records.KEYS, arn)
        assert doc is not None
        tx.put(records.KEYS, arn, {**doc, "KeyState": "Disabled", "Enabled": False})
    with op.store.read() as tx:
        with pytest.raises(NamedError, match=f"^{arn} is disabled.$") as caught:
            envelope.unseal(op, tx, blob)
        assert caught.value.code == "DisabledException"
        with pytest.raises(NamedError, match="does not exist") as caught:
            envelope.seal(
                op, tx, "0" * 8 + "-0000-0000-0000-" + "0" * 12, b"p", default_alias=SECRETS
            )
        assert caught.value.code == "NotFoundException"


def test_a_world_without_a_master_key_gets_one_in_memory(tmp_path: Path) -> None:
    op = make_op(make_world(sqlite_store(tmp_path)))
    with op.store.transaction() as tx:
        blob, _ = envelope.seal(op, tx, None, b"p", default_alias="alias/aws/ssm")
        assert envelope.unseal(op, tx, blob)[0] == b"p"
    assert op.world.keys is not None
