"""Where a principal's policies come from, each with its name: a user's inline and attached
policies and its groups', a group's, a role's, and a permissions boundary. Enforcement and
the simulator read them here, so they decide alike.

The same rows `portside.iam.principals.policies_of` reads (inline policies under
`ACCOUNT|kind|entity|`, attachments by entity, memberships by user), kept with their names:
a Decision says which policy decided, and SimulatePrincipalPolicy's MatchedStatements name
it (SourcePolicyId, SourcePolicyType).
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.iam import records
from portside.iam.policies import resolve
from portside.iam.policy import CompiledPolicy, MalformedPolicyDocument, compile_policy
from portside.iam.records import Kind
from portside.iam.versions import text_of
from portside.store.base import Tx


@dataclass(frozen=True, slots=True)
class Source:
    """One policy of a principal: SimulatePrincipalPolicy's SourcePolicyId and
    SourcePolicyType (user, group, role: inline; aws-managed, user-managed: attached)."""

    policy_id: str
    policy_type: str
    text: str
    arn: str | None = None

    def compiled(self) -> CompiledPolicy | None:
        """The policy ready to evaluate (None for a document that no longer reads: IAM
        checked it when it was stored, so this is a stored row gone bad)."""
        try:
            return compile_policy(self.text, "identity", name=self.policy_id, arn=self.arn)
        except MalformedPolicyDocument:
            return None


def of_entity(tx: Tx, account: str, kind: Kind, name: str) -> list[Source]:
    """The inline and attached policies of one user, group or role (a user's groups apart:
    see `of_principal`)."""
    held = records.entity_key(account, kind, name)
    out = [
        Source(str(row["PolicyName"]), kind, str(row["PolicyDocument"]))
        for _, row in tx.scan(records.INLINE, prefix=held + "|")
    ]
    for _, row in tx.scan(records.ATTACHMENTS, where={"entity": held}):
        found = managed(tx, account, str(row["PolicyArn"]))
        if found is not None:
            out.append(found)
    return out


def of_principal(tx: Tx, account: str, kind: Kind, name: str) -> list[Source]:
    """Every identity-based policy of a user (its groups' included) or a role."""
    out = of_entity(tx, account, kind, name)
    if kind == "user":
        member = records.name_key(account, name)
        for _, row in tx.scan(records.MEMBERSHIPS, where={"member": member}):
            out += of_entity(tx, account, "group", str(row["GroupName"]))
    return out


def managed(tx: Tx, account: str, arn: str) -> Source | None:
    """A managed policy's default version, or None when `arn` names none."""
    policy = resolve(tx, account, arn)
    if policy is None:
        return None
    text = text_of(tx, account, policy, policy.default_version)
    if text is None:
        return None
    kind = "aws-managed" if policy.aws is not None else "user-managed"
    return Source(policy.name, kind, text, arn)


def boundary(tx: Tx, account: str, doc: dict[str, object]) -> Source | None:
    """The permissions boundary a user's or role's document names, if any."""
    held = doc.get("PermissionsBoundary")
    if not isinstance(held, dict) or not held.get("PermissionsBoundaryArn"):
        return None
    return managed(tx, account, str(held["PermissionsBoundaryArn"]))
