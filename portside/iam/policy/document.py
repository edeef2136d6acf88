"""A policy document read into values: the grammar of IAM's JSON policy language, checked.

`parse(text_or_dict, kind)` gives a `Policy` or raises `MalformedPolicyDocument` with IAM's
words (the texts IAM answers CreatePolicy/PutRolePolicy/UpdateAssumeRolePolicy with, as seen
in public reports: `Syntax errors in policy.`, `Policy statement must contain actions.`,
`Policy statement must contain resources.`, `Policy document should not specify a
principal.`, `Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.`,
`Actions/Condition can contain only one colon.`, `Resource X must be in ARN format or "*".`,
`Statement IDs (SID) in a single policy must be unique.`, `Has prohibited field Resource`).
An unknown condition operator is `Syntax errors in policy.`: IAM gives no operator-specific
text (a condition block IAM cannot read, like an operator-less one, is a syntax error).

Kinds: `identity` (user, group, role, boundary and session policies: no Principal, a
Resource needed), `resource` (a Principal needed) and `trust` (a role's AssumeRolePolicy:
a Principal needed, no Resource, STS actions only). Version may be 2012-10-17, 2008-10-17
or absent (then policy variables are plain text, as AWS reads an old document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from portside.iam.policy.errors import SYNTAX, MalformedPolicyDocument

Kind = Literal["identity", "resource", "trust"]
CURRENT = "2012-10-17"
VERSIONS = frozenset({"2012-10-17", "2008-10-17"})

# The operators IAM knows (IAM User Guide, "IAM JSON policy elements: Condition operators").
OPERATORS = frozenset(
    {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike",
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals",
        "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
        "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
    }
)  # fmt: skip
SET_OPERATORS = ("ForAnyValue", "ForAllValues")
_TOP = frozenset({"Version", "Id", "Statement"})
_MEMBERS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
     "NotPrincipal", "Condition"}
)  # fmt: skip
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "*"})


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A Principal or NotPrincipal element: `everyone` for "*", else the named principals by
    type (AWS accounts and ARNs, service principals, federated providers)."""

    everyone: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """One key under one operator: `ForAnyValue:StringLikeIfExists` is `set_op`
    "ForAnyValue", `operator` "StringLike", `if_exists` True. Values as text, as given."""

    set_op: str | None
    operator: str
    if_exists: bool
    key: str
    values: tuple[str, ...]

    @property
    def negated(self) -> bool:
        return "Not" in self.operator


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    sid: str | None
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    conditions: tuple[ConditionSpec, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    kind: Kind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]

    @property
    def variables(self) -> bool:
        """Whether `${...}` is a policy variable here (2012-10-17) or plain text."""
        return self.version == CURRENT


def _fail(message: str = SYNTAX) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(message)


def _load(document: str | bytes | Mapping[str, Any]) -> Any:
    if isinstance(document, Mapping):
        return document
    try:
        return orjson.loads(document)
    except orjson.JSONDecodeError:
        raise _fail() from None


def parse(document: str | bytes | Mapping[str, Any], kind: Kind = "identity") -> Policy:
    """The policy `document` (JSON text or its dict) as a `Policy` of `kind`; raises
    `MalformedPolicyDocument` with IAM's text when IAM would refuse it."""
    doc = _load(document)
    if not isinstance(doc, Mapping) or not set(doc) <= _TOP:
        raise _fail()
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise _fail("Policy document must be version 2012-10-17 or greater.")
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise _fail()
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise _fail()
    statements = tuple(_statement(i, s, kind) for i, s in enumerate(raw))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise _fail("Statement IDs (SID) in a single policy must be unique.")
    return Policy(kind, version, pid, statements)


def _strings(value: Any, *, empty: str = SYNTAX) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        if not value:
            raise _fail(empty)
        if all(isinstance(v, str) for v in value):
            return tuple(value)
    raise _fail()


def _one_of(s: Mapping[str, Any], a: str, b: str) -> str | None:
    if a in s and b in s:
        raise _fail()
    return a if a in s else b if b in s else None


def _statement(index: int, s: Any, kind: Kind) -> Statement:
    if not isinstance(s, Mapping) or not set(s) <= _MEMBERS:
        raise _fail()
    sid = s.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _fail()
    effect = s.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _fail()
    action_member = _one_of(s, "Action", "NotAction")
    if action_member is None:
        raise _fail("Policy statement must contain actions.")
    actions = _strings(s[action_member], empty="Policy statement must contain actions.")
    for action in actions:
        _check_action(action, kind, action_member)
    resource_member = _one_of(s, "Resource", "NotResource")
    resources: tuple[str, ...] | None = None
    if kind == "trust" and resource_member is not None:
        raise _fail(f"Has prohibited field {resource_member}")
    if resource_member is None and kind == "identity":
        raise _fail("Policy statement must contain resources.")
    if resource_member is not None:
        resources = _strings(s[resource_member], empty="Policy statement must contain resources.")
        for resource in resources:
            _check_resource(resource)
    principal_member = _one_of(s, "Principal", "NotPrincipal")
    if kind == "identity" and principal_member is not None:
        raise _fail("Policy document should not specify a principal.")
    if kind != "identity" and principal_member is None:
        raise _fail("Missing required field Principal")
    principal = _principal(s[principal_member]) if principal_member else None
    conditions = _conditions(s["Condition"]) if "Condition" in s else ()
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=actions if action_member == "Action" else None,
        not_actions=actions if action_member == "NotAction" else None,
        resources=resources if resource_member == "Resource" else None,
        not_resources=resources if resource_member == "NotResource" else None,
        principal=principal if principal_member == "Principal" else None,
        not_principal=principal if principal_member == "NotPrincipal" else None,
        conditions=conditions,
    )


def _check_action(action: str, kind: Kind, member: str) -> None:
    if action == "*":
        return
    parts = action.split(":")
    if len(parts) == 1:
        raise _fail(_VENDOR)
    if len(parts) > 2:
        raise _fail("Actions/Condition can contain only one colon.")
    vendor = parts[0]
    if not vendor or not all(c.isalnum() or c in "-." for c in vendor):
        raise _fail(f"Vendor {vendor} is not valid")
    if kind == "trust" and member == "Action" and vendor.lower() != "sts":
        raise _fail("AssumeRole policy may only specify STS AssumeRole actions.")


def _check_resource(resource: str) -> None:
    if resource == "*":
        return
    parts = resource.split(":", 5)
    # Fewer than six parts pass when the last one is a wildcard (`arn:aws:ecs:*`), which can
    # stand for the rest: it matches past the colons.
    if parts[0] != "arn" or len(parts) < 3 or (len(parts) < 6 and "*" not in parts[-1]):
        raise _fail(f'Resource {resource} must be in ARN format or "*".')
    if parts[1] not in _PARTITIONS and "${" not in parts[1]:
        raise _fail(f'Partition "{parts[1]}" is not valid for resource "{resource}".')


def _principal(value: Any) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(everyone=True)
    if not isinstance(value, Mapping) or not value or not set(value) <= _PRINCIPAL_TYPES:
        raise _fail(f"Invalid principal in policy: {orjson.dumps(value).decode()}")
    named = {k: _strings(v) for k, v in value.items()}
    aws = named.get("AWS", ())
    return PrincipalSpec(
        # {"AWS": "*"} is "*" (IAM User Guide, "Principal": anonymous users).
        everyone="*" in aws,
        aws=aws,
        service=named.get("Service", ()),
        federated=named.get("Federated", ()),
        canonical_user=named.get("CanonicalUser", ()),
    )


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise _fail()


def _conditions(block: Any) -> tuple[ConditionSpec, ...]:
    if not isinstance(block, Mapping):
        raise _fail()
    out: list[ConditionSpec] = []
    for name, keys in block.items():
        set_op: str | None = None
        operator = name
        if ":" in name:
            set_op, operator = name.split(":", 1)
            if set_op not in SET_OPERATORS:
                raise _fail()
        if_exists = operator.endswith("IfExists")
        if if_exists:
            operator = operator[: -len("IfExists")]
        if operator not in OPERATORS or (if_exists and operator == "Null"):
            raise _fail()
        if not isinstance(keys, Mapping) or not keys:
            raise _fail()
        for key, values in keys.items():
            if ":" not in key:
                raise _fail(_VENDOR)
            items = values if isinstance(values, list) else [values]
            if not items:
                raise _fail()
            out.append(ConditionSpec(set_op, operator, if_exists, key, tuple(map(_scalar, items))))
    return tuple(out)
