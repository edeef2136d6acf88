"""GetKeyPolicy, PutKeyPolicy, ListKeyPolicies: one policy per key, named "default"."""

from __future__ import annotations

from typing import Any

from portside.kms import guards, lookup, paging
from portside.kms.operations import action
from portside.kms.policy import NAME, check_name, check_policy
from portside.ops.context import Op


@action("GetKeyPolicy")
def get_key_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("PolicyName") or NAME
    with op.store.read() as tx:
        doc = lookup.find(op, tx, p["KeyId"], aliases=False)
    check_name(name)
    return {"Policy": doc["Policy"], "PolicyName": name}


@action("PutKeyPolicy")
def put_key_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    check_policy(p["Policy"])
    check_name(p.get("PolicyName") or NAME)
    policy = p["Policy"]
    guards.change_key(
        op,
        p["KeyId"],
        "PutKeyPolicy",
        lambda doc: doc.update(Policy=policy),
        state=guards.any_state,
    )
    return {}


@action("ListKeyPolicies")
def list_key_policies(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        lookup.find(op, tx, p["KeyId"], aliases=False)
    return paging.page(p, [NAME], lambda name: name, "PolicyNames")
