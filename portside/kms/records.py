"""Where KMS keeps its keys and aliases, and the key document's rules.

`kms_keys`: one document per key ARN; its metadata members as DescribeKey shows them, plus
what is never shown (`_PRIVATE`): the key material wrapped by the master key, the policy,
tags and the rotation flag. `kms_aliases`: one document per alias ARN, with its target's key
id indexed (a key's aliases are one lookup).

A key scheduled for deletion is gone once its DeletionDate passes: every lookup treats it,
and the aliases that name it, as absent (`live`), so no loop is needed to honour the date.
Its document stays behind, its material still wrapped; nothing can reach it again.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from portside.errors import NamedError
from portside.kms.master import MasterKey
from portside.ops.context import Op
from portside.store.base import Document, Tx

KEYS = "kms_keys"
ALIASES = "kms_aliases"
_PRIVATE = frozenset({"Material", "Policy", "Tags", "Rotation", "PendingWindowInDays"})
KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Multi-Region key ids (mrk-...) are kept apart by AWS; Portside makes none.
_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)$")


def key_prefix(region: str, account: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/"


def alias_prefix(region: str, account: str) -> str:
    return f"arn:aws:kms:{region}:{account}:alias/"


def key_arn(op: Op, key_id: str) -> str:
    return key_prefix(op.region, op.account) + key_id


def alias_arn(op: Op, name: str) -> str:
    """The ARN of alias `name` ("alias/..." as given)."""
    return alias_prefix(op.region, op.account) + name.removeprefix("alias/")


def parse_arn(arn: str) -> tuple[str, str, str, str] | None:
    """(region, account, "key" | "alias", rest) of a KMS ARN, or None."""
    m = _ARN.match(arn)
    return (m[1], m[2], m[3], m[4]) if m else None


def live(doc: Document | None, now: float) -> Document | None:
    """The key unless its deletion date has passed (then it no longer exists)."""
    if doc is None:
        return None
    due = doc.get("DeletionDate")
    return None if due is not None and due <= now else doc


def metadata(doc: Document) -> dict[str, Any]:
    """KeyMetadata as DescribeKey shows it."""
    return {k: v for k, v in doc.items() if k not in _PRIVATE}


def not_found_key(arn: str) -> NamedError:
    return NamedError("NotFoundException", f"Key '{arn}' does not exist")


def check_usable(doc: Document) -> None:
    """A key encrypts and decrypts only when Enabled."""
    state = doc["KeyState"]
    if state == "Enabled":
        return
    if state == "Disabled":
        raise NamedError("DisabledException", f"{doc['Arn']} is disabled.")
    raise invalid_state(doc)


def invalid_state(doc: Document) -> NamedError:
    words = {"PendingDeletion": "pending deletion", "PendingImport": "pending import"}
    state = words.get(doc["KeyState"], doc["KeyState"])
    return NamedError("KMSInvalidStateException", f"{doc['Arn']} is {state}.")


def new_key(
    op: Op,
    tx: Tx,
    master: MasterKey,
    *,
    description: str,
    manager: str,
    policy: str,
    tags: list[dict[str, str]],
) -> Document:
    """A new symmetric key with fresh material, saved."""
    key_id = uuid_of(op.world.new_id())
    arn = key_arn(op, key_id)
    # Material is secret: drawn from the OS, never from the world's (seedable) random source.
    material = secrets.token_bytes(32)
    doc: Document = {
        "AWSAccountId": op.account,
        "KeyId": key_id,
        "Arn": arn,
        "CreationDate": op.now(),
        "Enabled": True,
        "Description": description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": manager,
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
        "Material": base64.b64encode(master.wrap(material, arn.encode())).decode(),
        "Policy": policy,
        "Tags": tags,
        # AWS managed keys rotate every year and say so; a customer's key starts off.
        "Rotation": {"Enabled": manager == "AWS", "PeriodInDays": 365},
    }
    tx.put(KEYS, arn, doc)
    return doc


def material(doc: Document, master: MasterKey) -> bytes:
    return master.unwrap(base64.b64decode(doc["Material"]), doc["Arn"].encode())


def uuid_of(hex32: str) -> str:
    h = hex32.ljust(32, "0")[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
