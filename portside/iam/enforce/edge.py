"""The edge's authorization: every call of every service, decoded and validated, is asked of
the evaluator before it runs (api/app.py calls `authorize`), and a refusal answers in the
call's protocol (refusal.py) without running anything.

- The account's root (the admin key made at first start, and temporary keys it got from
  GetSessionToken) is not evaluated: a root may do everything in its account.
- sts:GetCallerIdentity needs no permission (AWS: "No permissions are required to perform
  this operation"), so even a principal denied everything learns who it is.
- sts:AssumeRole is authorized on the role it names, with the role's trust policy as the
  resource-based policy: a trust policy naming the caller allows on its own; one naming
  only the account needs the caller's own Allow (IAM User Guide, same-account evaluation).
- Every other call: the checks `portside.iam.authorization` maps it to (its own action, and
  iam:PassRole or ecs:TagResource beside it), each evaluated with the caller's policies,
  permissions boundary and session policies; the first refused is the answer.

The edge's own keys ride on every check where a policy of the caller names them:
aws:SourceIp (when the caller passes the peer's address: api/app.py has none to pass yet,
so a policy's IpAddress fails and NotIpAddress holds), aws:RequestedRegion (the signature's
region), aws:SecureTransport (false: the API is plain HTTP), aws:CurrentTime and
aws:EpochTime (the world's clock).

Decisions are pure functions of the request and the policies, so a principal's are kept
with its identity (identities.py) by request: the same call again (action, resources with
their keys, request keys) costs the mapping and a dictionary lookup, not an evaluation.
Requests that depend on the time, and AssumeRole (its trust policy read just now), are
evaluated each time.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Mapping
from typing import Any

from portside.iam import principals, records
from portside.iam.authorization import Check, checks, iam_action
from portside.iam.enforce.identities import Identities, Identity
from portside.iam.enforce.refusal import refusal
from portside.iam.enforce.resolver import StoreResolver
from portside.iam.policy import (
    CompiledPolicy,
    ContextValue,
    Decision,
    MalformedPolicyDocument,
    Target,
    compile_policy,
    evaluate,
)
from portside.ops.context import Op
from portside.store.base import Store

# Calls no policy governs.
UNCHECKED = frozenset({("sts", "GetCallerIdentity")})


def is_root(principal_arn: str) -> bool:
    return not principal_arn or principal_arn.endswith(":root")


class Enforcer:
    """The decisions for one store's principals (their identities kept: identities.py)."""

    def __init__(self, store: Store) -> None:
        self.identities = Identities(store)

    def identity(self, op: Op) -> Identity:
        c = op.caller
        return self.identities.get(c.principal_arn, c.account, c.access_key)

    def decide(
        self,
        op: Op,
        signing_name: str,
        operation: str,
        params: Mapping[str, Any],
        source_ip: str | None = None,
    ) -> tuple[Decision, Check] | None:
        """The first refused check of the call and its decision, or None when every check
        is allowed."""
        if (signing_name, operation) in UNCHECKED:
            return None
        identity = self.identity(op)
        caller = op.caller
        resolver = StoreResolver(op, tags=identity.tags_matter(iam_action(signing_name, operation)))
        found = checks(
            signing_name,
            operation,
            params,
            account=caller.account,
            region=caller.region,
            resolver=resolver,
        )
        trust: CompiledPolicy | None = None
        if signing_name == "sts" and operation == "AssumeRole":
            found, trust = _assume_role(op, params, found)
        extra = edge_keys(identity, caller.region, source_ip)
        frozen = _frozen(extra)
        now = op.now() if identity.uses_time else None
        for check in found:
            resource = trust if check.action == "sts:AssumeRole" else None
            # A decision is a pure function of the request and the policies: the same
            # request (action, resources with their keys, keys) gets the one it got before,
            # unless it depends on the time or a trust policy read just now.
            key = _key(check, frozen) if now is None and resource is None else None
            decision = identity.decisions.get(key) if key is not None else None
            if decision is None:
                request = check.request(identity.caller, extra, now)
                if identity.plain and resource is None:
                    decision = evaluate(request, identity.policies)
                else:
                    decision = evaluate(
                        request, identity.policies, resource, identity.boundary, identity.session
                    )
                if key is not None:
                    identity.remember(key, decision)
            if not decision.allowed:
                return decision, check
        return None

    def authorize(
        self,
        op: Op,
        signing_name: str,
        protocol: str,
        operation: str,
        params: Mapping[str, Any],
        source_ip: str | None = None,
    ) -> None:
        refused = self.decide(op, signing_name, operation, params, source_ip)
        if refused is not None:
            decision, check = refused
            identity = self.identity(op)
            request = check.request(
                identity.caller, edge_keys(identity, op.caller.region, source_ip), None
            )
            raise refusal(
                protocol, decision, world=op.world, request=request, signing_name=signing_name
            )


def _frozen(keys: Mapping[str, ContextValue]) -> tuple[tuple[str, Hashable], ...]:
    """Keys as part of a cache key, in the order given: the mapping builds a request's keys
    in one order, so the same request gives the same key (another order only misses)."""
    if not keys:
        return ()
    return tuple((k, tuple(v) if type(v) is list else v) for k, v in keys.items())


def _key(check: Check, extra: tuple[tuple[str, Hashable], ...]) -> Hashable:
    targets = tuple((t.arn, _frozen(t.context)) for t in check.targets)
    return (check.action, targets, _frozen(check.context), extra)


def edge_keys(identity: Identity, region: str, source_ip: str | None) -> dict[str, ContextValue]:
    """The edge's keys that some policy of `identity` names."""
    out: dict[str, ContextValue] = {}
    if source_ip and identity.uses_source_ip:
        out["aws:SourceIp"] = source_ip
    if identity.uses_region:
        out["aws:RequestedRegion"] = region
    if identity.uses_transport:
        out["aws:SecureTransport"] = False
    return out


def _assume_role(
    op: Op, params: Mapping[str, Any], found: list[Check]
) -> tuple[list[Check], CompiledPolicy | None]:
    """sts:AssumeRole on the role, with its trust policy (None when there is no such role:
    the caller's own policies decide, and STS answers for the role)."""
    role_arn = str(params.get("RoleArn") or "*")
    trust: CompiledPolicy | None = None
    named = principals.identity(role_arn)
    if named is not None and named[1] == "role":
        with op.store.read() as tx:
            doc = records.entity(tx, named[0], "role", named[2])
        if doc is not None and doc.get("AssumeRolePolicyDocument"):
            held = doc["AssumeRolePolicyDocument"]
            try:
                trust = compile_policy(held, "resource", name="trust policy")
            except MalformedPolicyDocument:
                trust = None
    own = Check("sts:AssumeRole", (Target(role_arn),), found[0].context if found else {})
    return [own, *found[1:]], trust


_enforcers: weakref.WeakKeyDictionary[Store, Enforcer] = weakref.WeakKeyDictionary()


def enforcer(store: Store) -> Enforcer:
    """The enforcer of `store` (one per store, made on first use)."""
    found = _enforcers.get(store)
    if found is None:
        found = _enforcers[store] = Enforcer(store)
    return found


def authorize(
    op: Op,
    signing_name: str,
    protocol: str,
    operation: str,
    params: Mapping[str, Any],
    source_ip: str | None = None,
) -> None:
    """Nothing when `op`'s caller may make this call (`params` decoded and validated);
    else raise the refusal in `protocol`'s words. The account's root is never refused."""
    if is_root(op.caller.principal_arn):
        return
    enforcer(op.store).authorize(op, signing_name, protocol, operation, params, source_ip)
