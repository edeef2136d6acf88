"""Access keys: CreateAccessKey (two per user), ListAccessKeys, UpdateAccessKey (Active or
Inactive), DeleteAccessKey, GetAccessKeyLastUsed.

The secret is shown once, in CreateAccessKey's answer, and kept to check signatures (SigV4
needs it itself; it cannot be hashed). Without a UserName a call acts on the caller's own
keys; the account root's key is the server's admin key, which IAM does not manage.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from portside.iam import entities, errors, paging, records, usage
from portside.iam.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx

KEYS_PER_USER = 2
_SECRET = string.ascii_letters + string.digits + "+/"
_SHOWN = ("UserName", "AccessKeyId", "Status", "CreateDate")


def _user_name(op: Op, p: dict[str, Any]) -> str:
    if p.get("UserName"):
        return str(p["UserName"])
    arn = op.caller.principal_arn
    if arn.endswith(":root"):
        raise errors.invalid(
            "The account root's access key is Portside's admin key: name an IAM user."
        )
    if ":user/" not in arn:
        raise errors.ValidationError("Must specify userName when calling with non-User credentials")
    return arn.rsplit("/", 1)[1]


def _key_of(tx: Tx, op: Op, user: Document, access_key: str) -> Document:
    doc = tx.get(records.ACCESS_KEYS, access_key)
    if doc is None or doc["Owner"] != records.name_key(op.account, user["UserName"]):
        raise errors.no_such(f"The Access Key with id {access_key} cannot be found.")
    return doc


@action("CreateAccessKey")
def create_access_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = _user_name(op, p)
    with op.store.transaction() as tx:
        user = entities.must(tx, op.account, "user", name)
        owner = records.name_key(op.account, user["UserName"])
        if tx.count(records.ACCESS_KEYS, where={"owner": owner}) >= KEYS_PER_USER:
            raise errors.limit(f"Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}")
        doc = {
            "UserName": user["UserName"],
            "AccessKeyId": records.new_id(op, "key"),
            "Status": "Active",
            # Secret material: from the OS, never from the world's (seedable) random source.
            "SecretAccessKey": "".join(secrets.choice(_SECRET) for _ in range(40)),
            "CreateDate": op.now(),
            "Owner": owner,
            "Account": op.account,
        }
        tx.put(records.ACCESS_KEYS, doc["AccessKeyId"], doc)
    return {"AccessKey": {k: doc[k] for k in (*_SHOWN, "SecretAccessKey")}}


@action("ListAccessKeys")
def list_access_keys(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if not p.get("UserName") and op.caller.principal_arn.endswith(":root"):
        return {"AccessKeyMetadata": [], "IsTruncated": False}
    name = _user_name(op, p)
    with op.store.read() as tx:
        user = entities.must(tx, op.account, "user", name)
        owner = records.name_key(op.account, user["UserName"])
        rows = [doc for _, doc in tx.scan(records.ACCESS_KEYS, where={"owner": owner})]
    shown = [{k: d[k] for k in _SHOWN} for d in rows]
    return paging.page(p, shown, lambda d: d["AccessKeyId"], "AccessKeyMetadata")


@action("UpdateAccessKey")
def update_access_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = _user_name(op, p)
    with op.store.transaction() as tx:
        user = entities.must(tx, op.account, "user", name)
        doc = _key_of(tx, op, user, p["AccessKeyId"])
        doc["Status"] = p["Status"]
        tx.put(records.ACCESS_KEYS, doc["AccessKeyId"], doc)
    return {}


@action("DeleteAccessKey")
def delete_access_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = _user_name(op, p)
    with op.store.transaction() as tx:
        user = entities.must(tx, op.account, "user", name)
        doc = _key_of(tx, op, user, p["AccessKeyId"])
        tx.delete(records.ACCESS_KEYS, doc["AccessKeyId"])
        tx.delete(records.USAGE, doc["AccessKeyId"])
    return {}


@action("GetAccessKeyLastUsed")
def get_access_key_last_used(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    access_key = p["AccessKeyId"]
    with op.store.read() as tx:
        doc = tx.get(records.ACCESS_KEYS, access_key)
        if doc is None or doc["Account"] != op.account:
            raise errors.no_such(f"The Access Key with id {access_key} cannot be found.")
        return {
            "UserName": doc["UserName"],
            "AccessKeyLastUsed": usage.key_last_used(tx, access_key),
        }
