"""Assuming a role: the role read, its trust policy asked whether the caller (a user, a role
session, or a service such as `ecs-tasks.amazonaws.com`) may assume it, and a role session
issued (`credentials.issue`).

The caller learns nothing of a role it may not assume: a role that does not exist, an ARN
that names no role and a trust policy that does not allow the caller are all AccessDenied
with the one message AWS gives ("User: <caller> is not authorized to perform:
sts:AssumeRole on resource: <role ARN>"). The root may not assume roles at all, as on AWS.

Limits (STS API reference, AssumeRole): DurationSeconds from 900 to the role's
MaxSessionDuration (one hour at most for role chaining: a role session assuming a role);
RoleSessionName, tags and their patterns are the edge's (the model's constraints); a
session policy is read as a policy and packed into at most 2,048 characters with the tags.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.errors import NamedError
from portside.iam import principals, records, usage
from portside.iam.policy import Caller, MalformedPolicyDocument, allowed_to_assume, parse
from portside.iam.policy.context import ContextValue
from portside.store.base import Document, Store, Tx
from portside.sts import credentials
from portside.sts.credentials import Credentials, Session
from portside.sts.errors import ValidationError

ECS_TASKS = "ecs-tasks.amazonaws.com"
DEFAULT_DURATION = 3600
CHAINED_MAX = 3600  # a role session assuming a role: one hour at most
PACKED_LIMIT = 2048  # characters of session policy and tags, as STS packs them
ROLE_ID_PREFIX = "AROA"


@dataclass(frozen=True, slots=True)
class AssumeRequest:
    """One AssumeRole, in the edge's canonical form, with who asks."""

    role_arn: str
    session_name: str
    caller_arn: str  # the principal ("" for a service)
    account: str  # the caller's account
    service: str | None = None  # a service principal asking (ECS for a task role)
    duration: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    external_id: str | None = None
    source_identity: str | None = None
    caller_tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Assumed:
    credentials: Credentials
    session: Session
    role_id: str
    packed_size: int | None


def denied(caller_arn: str, role_arn: str) -> NamedError:
    who = caller_arn or "anonymous"
    return NamedError(
        "AccessDenied",
        f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )


def _validation(message: str) -> ValidationError:
    return ValidationError(message)


def role_name(role_arn: str) -> tuple[str, str] | None:
    """(account, name) of an IAM role's ARN (its path dropped), else None."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "iam"] or parts[3]:
        return None
    kind, _, rest = parts[5].partition("/")
    if kind != "role" or not rest:
        return None
    return parts[4], rest.rsplit("/", 1)[-1]


def read_role(store: Store, role_arn: str) -> Document | None:
    """The role an ARN names, when it exists with exactly that ARN (its path included)."""
    with store.read() as tx:
        return role_in(tx, role_arn)


def role_in(tx: Tx, role_arn: str) -> Document | None:
    """`read_role` inside a transaction."""
    found = role_name(role_arn)
    if found is None:
        return None
    doc = records.entity(tx, found[0], "role", found[1])
    return doc if doc is not None and doc.get("Arn") == role_arn else None


def service_may_assume(tx: Tx, role_arn: str, service: str, now: float) -> bool:
    """Whether the role exists and its trust policy lets `service` (ECS's
    `ecs-tasks.amazonaws.com`) assume it: what ECS checks of a task's roles."""
    role = role_in(tx, role_arn)
    if role is None:
        return False
    decision = allowed_to_assume(
        role["AssumeRolePolicyDocument"],
        caller=Caller(arn=service, account="", service=service),
        role_arn=role_arn,
        now=now,
    )
    return decision.allowed


def unable_to_assume(role_arn: str) -> str:
    """ECS's words for a task or execution role it cannot assume."""
    return (
        f"ECS was unable to assume the role '{role_arn}' that was provided for this task. "
        "Please verify that the role being passed has the proper trust relationship and "
        "permissions and that your IAM user has permissions to pass this role."
    )


def _check_duration(ask: AssumeRequest, role: Document) -> int:
    duration = ask.duration if ask.duration is not None else DEFAULT_DURATION
    if ask.service is not None:
        return duration  # a service's own session (ECS's task roles: hours, its choice)
    if ":assumed-role/" in ask.caller_arn and duration > CHAINED_MAX:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    if duration > int(role.get("MaxSessionDuration") or DEFAULT_DURATION):
        raise _validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return duration


def _check_session(ask: AssumeRequest) -> int | None:
    """The session policy and tags checked; their packed size in percent (None: neither)."""
    keys = [k.lower() for k, _ in ask.tags]
    if len(set(keys)) != len(keys):
        raise _validation(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    if any(k.lower() not in keys for k in ask.transitive_tag_keys):
        raise _validation(
            "The specified transitive tag key must be included in the requested tags."
        )
    if ask.policy is not None:
        try:
            parse(ask.policy, "identity")
        except MalformedPolicyDocument as exc:
            raise NamedError("MalformedPolicyDocument", exc.message, 400) from None
    if ask.policy is None and not ask.tags and not ask.policy_arns:
        return None
    packed = len(json.dumps(json.loads(ask.policy), separators=(",", ":"))) if ask.policy else 0
    packed += sum(len(k) + len(v) for k, v in ask.tags) + 64 * len(ask.policy_arns)
    size = -(-100 * packed // PACKED_LIMIT)
    if size > 100:
        raise NamedError(
            "PackedPolicyTooLarge",
            f"Packed policy consumes {size}% of allotted space, please use smaller policy.",
            400,
        )
    return size


def _context(ask: AssumeRequest) -> dict[str, ContextValue]:
    ctx: dict[str, ContextValue] = {"sts:RoleSessionName": ask.session_name}
    if ask.external_id is not None:
        ctx["sts:ExternalId"] = ask.external_id
    if ask.source_identity is not None:
        ctx["sts:SourceIdentity"] = ask.source_identity
    if ask.tags:
        ctx["aws:TagKeys"] = [k for k, _ in ask.tags]
        for k, v in ask.tags:
            ctx[f"aws:RequestTag/{k}"] = v
    if ask.transitive_tag_keys:
        ctx["sts:TransitiveTagKeys"] = list(ask.transitive_tag_keys)
    return ctx


def _caller(store: Store, ask: AssumeRequest) -> Caller:
    if ask.service is not None:
        return Caller(arn=ask.service, account="", service=ask.service)
    found = principals.identity(ask.caller_arn)
    if found is not None and found[1] == "user":
        with store.read() as tx:
            user = records.entity(tx, found[0], "user", found[2])
        if user is not None:
            tags = {t["Key"]: t["Value"] for t in records.tags_of(user)}
            return Caller(
                arn=ask.caller_arn,
                account=ask.account,
                user_name=user["UserName"],
                user_id=user["UserId"],
                tags=tags,
            )
    role_arn = None
    if found is not None and found[1] == "role":
        role = _role_by_name(store, found[0], found[2])
        role_arn = role["Arn"] if role is not None else None
    return Caller(
        arn=ask.caller_arn, account=ask.account, tags=dict(ask.caller_tags), role_arn=role_arn
    )


def _role_by_name(store: Store, account: str, name: str) -> Document | None:
    with store.read() as tx:
        return records.entity(tx, account, "role", name)


def assume_role(store: Store, ask: AssumeRequest, *, now: float, region: str) -> Assumed:
    """A session of `ask.role_arn` for the caller, or the error AWS gives."""
    if ask.service is None and ask.caller_arn.endswith(":root"):
        raise NamedError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
    role = read_role(store, ask.role_arn)
    if role is None:
        raise denied(ask.caller_arn or str(ask.service), ask.role_arn)
    caller = _caller(store, ask)
    identity: Sequence[Any] = ()
    if ask.service is None:
        identity = principals.policies_of(store, ask.caller_arn)
    decision = allowed_to_assume(
        role["AssumeRolePolicyDocument"],
        caller=caller,
        role_arn=ask.role_arn,
        identity_policies=identity,
        context=_context(ask),
        now=now,
    )
    if not decision.allowed:
        raise denied(ask.caller_arn or str(ask.service), ask.role_arn)
    duration = _check_duration(ask, role)
    packed = _check_session(ask)
    account = ask.role_arn.split(":")[4]
    name = role["RoleName"]
    role_tags = {t["Key"]: t["Value"] for t in records.tags_of(role)}
    session = Session(
        principal_arn=f"arn:aws:sts::{account}:assumed-role/{name}/{ask.session_name}",
        account=account,
        user_id=f"{role['RoleId']}:{ask.session_name}",
        source="AssumeRole",
        role_arn=role["Arn"],
        session_name=ask.session_name,
        policy=ask.policy,
        policy_arns=ask.policy_arns,
        # A session's principal tags: the role's, overridden by the session's own.
        tags={**role_tags, **dict(ask.tags)},
        transitive_tag_keys=ask.transitive_tag_keys,
        source_identity=ask.source_identity,
    )
    with store.transaction() as tx:
        creds = credentials.issue(tx, session, now=now, duration=duration)
    usage.record(store, records.entity_key(account, "role", name), "sts", region, now)
    return Assumed(creds, session, role["RoleId"], packed)
