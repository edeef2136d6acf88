"""sts:AssumeRole against a role's trust policy (its AssumeRolePolicyDocument).

The trust policy must allow the caller: a statement naming it (its ARN, its role's ARN for a
session, "*", or the service, `ecs-tasks.amazonaws.com` for a task role) is enough; one
naming only its account (`"AWS": "123456789012"` or `arn:aws:iam::123456789012:root`) needs
the caller's identity-based policies to allow sts:AssumeRole on the role too (IAM User
Guide, "Granting a user permissions to switch roles"). A Deny in either refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portside.iam.policy.compiled import ACCOUNT, NO, PolicyLike, compile_policy
from portside.iam.policy.context import Caller, ContextValue, Request, Target, context_of
from portside.iam.policy.evaluate import IDENTITY, RESOURCE, Decision, evaluate, scan

ASSUME_ROLE = "sts:AssumeRole"


def _account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else arn if arn.isdigit() else ""


def allowed_to_assume(
    trust_policy: PolicyLike,
    principal_arn: str | None = None,
    service: str | None = None,
    context: Mapping[str, ContextValue] | None = None,
    *,
    caller: Caller | None = None,
    role_arn: str = "*",
    identity_policies: Sequence[PolicyLike] = (),
    action: str = ASSUME_ROLE,
    now: float | None = None,
) -> Decision:
    """May `caller` (or the principal `principal_arn`, or the service `service`) assume the
    role whose trust policy is `trust_policy`? `identity_policies` are the caller's own,
    consulted for a Deny and when the trust policy names only the caller's account."""
    if caller is None:
        arn = principal_arn or (service or "")
        caller = Caller(arn=arn, account=_account_of(arn), service=service)
    trust = compile_policy(trust_policy, "trust")
    request = Request(action, caller, (Target(role_arn),), context or {}, now)
    ctx = context_of(request)
    deny, allow, level = scan([trust], action, role_arn, ctx, caller)
    if deny is not None:
        return Decision(False, True, RESOURCE, action, role_arn, caller.arn, deny)
    if caller.service is None and identity_policies:
        by_identity = evaluate(request, identity_policies)
        if by_identity.explicit_deny:
            return by_identity
    else:
        by_identity = None
    if allow is None or level == NO:
        return Decision(False, False, RESOURCE, action, role_arn, caller.arn)
    if level == ACCOUNT and (by_identity is None or not by_identity.allowed):
        return Decision(False, False, IDENTITY, action, role_arn, caller.arn)
    return Decision(True, False, RESOURCE, action, role_arn, caller.arn, allow)
