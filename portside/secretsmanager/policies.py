"""A secret's resource policy: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy and
ValidateResourcePolicy. The policy is checked and stored; Portside does not enforce it yet.

The checks (pure) are the structural ones a policy must pass to be one: JSON, a Statement of
statements each with an Effect of Allow or Deny, an Action (or NotAction) and a Principal (or
NotPrincipal, a resource policy names who it is for). A policy is public when an Allow
statement without a Condition is for every principal ("*" or {"AWS": "*"}); with
BlockPublicPolicy such a policy is refused."""

from __future__ import annotations

from typing import Any

import orjson

from portside.errors import NamedError
from portside.ops.context import Op
from portside.secretsmanager import records
from portside.secretsmanager.operations import action


def _statements(policy: Any) -> list[Any]:
    held = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(held, dict):
        return [held]
    return held if isinstance(held, list) else []


def problems(text: str) -> list[dict[str, str]]:
    """What keeps `text` from being a resource policy, as ValidationErrors entries."""
    try:
        policy = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [{"CheckName": "SYNTAX_ERROR", "ErrorMessage": "The policy is not valid JSON."}]
    if not isinstance(policy, dict) or "Statement" not in policy:
        return [{"CheckName": "SYNTAX_ERROR", "ErrorMessage": "The policy has no Statement."}]
    found = []
    for n, statement in enumerate(_statements(policy), 1):
        if not isinstance(statement, dict):
            found.append(f"Statement {n} is not an object.")
            continue
        if statement.get("Effect") not in ("Allow", "Deny"):
            found.append(f"Statement {n} must have an Effect of Allow or Deny.")
        if "Action" not in statement and "NotAction" not in statement:
            found.append(f"Statement {n} must have an Action or a NotAction.")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            found.append(f"Statement {n} must have a Principal or a NotPrincipal.")
    if not _statements(policy):
        found.append("The policy's Statement holds no statement.")
    return [{"CheckName": "SYNTAX_ERROR", "ErrorMessage": m} for m in found]


def public(text: str) -> bool:
    for statement in _statements(orjson.loads(text)):
        principal = statement.get("Principal")
        who = principal.get("AWS") if isinstance(principal, dict) else principal
        everyone = who == "*" or (isinstance(who, list) and "*" in who)
        if statement.get("Effect") == "Allow" and everyone and not statement.get("Condition"):
            return True
    return False


@action("PutResourcePolicy")
def put_resource_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    text = p["ResourcePolicy"]
    found = problems(text)
    if found:
        raise NamedError("MalformedPolicyDocumentException", found[0]["ErrorMessage"])
    if p.get("BlockPublicPolicy") and public(text):
        raise NamedError(
            "PublicPolicyException",
            "The resource policy grants broad access to the secret (a principal of *), and "
            "BlockPublicPolicy is set.",
        )
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        doc["ResourcePolicy"] = text
        records.save(op, tx, doc)
    return {"ARN": doc["ARN"], "Name": doc["Name"]}


@action("GetResourcePolicy")
def get_resource_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = records.get(op, tx, p["SecretId"], deleted=True)
    out = {"ARN": doc["ARN"], "Name": doc["Name"]}
    if doc.get("ResourcePolicy"):
        out["ResourcePolicy"] = doc["ResourcePolicy"]
    return out


@action("DeleteResourcePolicy")
def delete_resource_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        if doc.pop("ResourcePolicy", None) is not None:
            records.save(op, tx, doc)
    return {"ARN": doc["ARN"], "Name": doc["Name"]}


@action("ValidateResourcePolicy")
def validate_resource_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("SecretId"):
        with op.store.read() as tx:
            records.get(op, tx, p["SecretId"], deleted=True)
    found = problems(p["ResourcePolicy"])
    return {"PolicyValidationPassed": not found, "ValidationErrors": found}
