"""Where IAM keeps its entities, and the names, ids and ARNs they carry.

Every table's key starts with the account, so one server holds many accounts apart. IAM
names are unique in an account whatever their case (`Alice` and `alice` are one user), so a
key holds the name lower-cased and the document the name as created:

    iam_users, iam_groups, iam_roles,
    iam_instance_profiles, iam_policies    "ACCOUNT|name"            (customer managed only)
    iam_policy_versions                    "ACCOUNT|policy|vN"
    iam_inline_policies                    "ACCOUNT|kind|entity|PolicyName"
    iam_attachments                        "ACCOUNT|policy ARN|kind|entity", by entity
    iam_memberships                        "ACCOUNT|group|user", by user
    iam_access_keys                        AccessKeyId, by owner ("ACCOUNT|user")
    iam_usage                              AccessKeyId or role key: when it was last used

An instance profile's roles (one at most) are names in its document. AWS managed policies
are not stored: they are the same in every account (managed.py).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from portside.ops.context import Op
from portside.store.base import Document, Tx

USERS = "iam_users"
GROUPS = "iam_groups"
ROLES = "iam_roles"
PROFILES = "iam_instance_profiles"
POLICIES = "iam_policies"
VERSIONS = "iam_policy_versions"
INLINE = "iam_inline_policies"
ATTACHMENTS = "iam_attachments"
MEMBERSHIPS = "iam_memberships"
ACCESS_KEYS = "iam_access_keys"
USAGE = "iam_usage"
TABLES = (
    USERS,
    GROUPS,
    ROLES,
    PROFILES,
    POLICIES,
    VERSIONS,
    INLINE,
    ATTACHMENTS,
    MEMBERSHIPS,
    ACCESS_KEYS,
    USAGE,
)
"""Every table IAM writes: what a cache of principals' policies watches."""

Kind = Literal["user", "group", "role"]
ENTITY_TABLES: dict[Kind, str] = {"user": USERS, "group": GROUPS, "role": ROLES}
NAME_MEMBER: dict[Kind, str] = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
ID_MEMBER: dict[Kind, str] = {"user": "UserId", "group": "GroupId", "role": "RoleId"}

# Unique ids: four letters saying what the id names, then 17 characters (AIDA... a user,
# AROA... a role); access key ids are AKIA and 16 more (IAM's "unique identifiers").
PREFIXES = {
    "user": "AIDA",
    "group": "AGPA",
    "role": "AROA",
    "policy": "ANPA",
    "profile": "AIPA",
    "key": "AKIA",
}
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def key(account: str, *parts: str) -> str:
    return "|".join((account, *parts))


def name_key(account: str, name: str) -> str:
    return key(account, name.lower())


def new_id(op: Op, what: str) -> str:
    """A fresh unique id for `what` (see PREFIXES), from the world's id source."""
    digest = hashlib.sha256(op.world.new_id().encode()).digest()
    length = 16 if what == "key" else 17
    return PREFIXES[what] + "".join(_ALPHABET[b % 32] for b in digest[:length])


def arn(account: str, kind: str, path: str, name: str) -> str:
    """arn:aws:iam::ACCOUNT:KIND/PATH/NAME (a path of "/" adds nothing)."""
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def entity(tx: Tx, account: str, kind: Kind, name: str) -> Document | None:
    return tx.get(ENTITY_TABLES[kind], name_key(account, name))


def entity_key(account: str, kind: Kind, name: str) -> str:
    """How attachments and inline policies name their entity."""
    return key(account, kind, name.lower())


def tags_of(doc: Document) -> list[dict[str, str]]:
    return list(doc.get("Tags") or [])


def view(doc: Document, hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A stored entity as IAM shows it: its members, none of those kept for itself."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and k not in hidden}
