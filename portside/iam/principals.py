"""The identity-based policies of a principal, for enforcement and simulation: a user's
inline and attached managed policies and those of its groups; a role's (or a session of
an assumed role's) inline and attached ones. Each is the parsed document; a managed policy
counts with its default version.

The root and principals IAM does not know (another account's, a service's) have none here:
what the root may do is the caller's rule, not a policy.
"""

from __future__ import annotations

import json
from typing import Any

from portside.iam import records
from portside.iam.policies import resolve
from portside.iam.records import Kind
from portside.iam.versions import text_of
from portside.store.base import Store, Tx

Document = dict[str, Any]


def identity(principal_arn: str) -> tuple[str, Kind, str] | None:
    """(account, "user" | "role", name) of a user's, a role's or a role session's ARN."""
    parts = principal_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] not in ("iam", "sts"):
        return None
    account, resource = parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if parts[2] == "iam" and kind in ("user", "role") and rest:
        return account, kind, rest.rsplit("/", 1)[-1]  # type: ignore[return-value]
    if parts[2] == "sts" and kind == "assumed-role" and "/" in rest:
        return account, "role", rest.split("/", 1)[0]
    return None


def policies_of(store: Store, principal_arn: str) -> list[Document]:
    """Every identity-based policy document that applies to `principal_arn`."""
    found = identity(principal_arn)
    if found is None:
        return []
    account, kind, name = found
    with store.read() as tx:
        if records.entity(tx, account, kind, name) is None:
            return []
        out = _of_entity(tx, account, kind, name)
        if kind == "user":
            member = records.name_key(account, name)
            for _, row in tx.scan(records.MEMBERSHIPS, where={"member": member}):
                out += _of_entity(tx, account, "group", row["GroupName"])
    return out


def _of_entity(tx: Tx, account: str, kind: Kind, name: str) -> list[Document]:
    held = records.entity_key(account, kind, name)
    out = [
        json.loads(row["PolicyDocument"]) for _, row in tx.scan(records.INLINE, prefix=held + "|")
    ]
    for _, row in tx.scan(records.ATTACHMENTS, where={"entity": held}):
        policy = resolve(tx, account, row["PolicyArn"])
        if policy is None:
            continue
        if policy.aws is not None:
            out.append(policy.aws.document)
            continue
        text = text_of(tx, account, policy, policy.default_version)
        if text is not None:
            out.append(json.loads(text))
    return out
