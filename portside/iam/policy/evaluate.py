"""The decision: may this caller do this action on these resources, given its policies?

AWS's evaluation logic for a request within one account (IAM User Guide, "Policy evaluation
logic" and "Determining whether a request is allowed or denied within an account"):

1. An explicit Deny in any policy that applies (identity-based, resource-based, permissions
   boundary, session) refuses the request.
2. A resource-based policy's Allow that names the caller (its ARN, its role's ARN, "*") is
   enough on its own; one that names only the caller's account needs the account's own
   (identity-based) Allow as well.
3. Otherwise an identity-based policy must allow; and then the permissions boundary, when
   the caller has one, and the session policies, when the session has some.
4. Nothing allows: refused (the implicit deny).

A request for several resources (DescribeTasks' tasks) is allowed only when every resource
is; the refusal names the resource refused (an explicit deny before an implicit one).
Statement order never matters. Service control policies and other accounts are not modelled.
"""

from __future__ import annotations

from collections.abc import Sequence

from portside.iam.policy.compiled import (
    NAMED,
    NO,
    CompiledPolicy,
    CompiledStatement,
    Matched,
    PolicyLike,
    compile_policy,
)
from portside.iam.policy.context import Caller, Context, Request, normalise, request_keys

IDENTITY = "identity-based policy"
RESOURCE = "resource-based policy"
BOUNDARY = "permissions boundary"
SESSION = "session policy"

Hit = tuple[CompiledPolicy, CompiledStatement]


class Decision:
    """The answer, and enough to word a refusal the AWS way (`message()`).

    `statement`: the Allow (or the Deny) decided on, None for an implicit deny;
    `policy_type`: IDENTITY, RESOURCE, BOUNDARY or SESSION, the kind that decided."""

    __slots__ = ("_hit", "action", "allowed", "explicit_deny", "policy_type", "principal_arn",
                 "resource")  # fmt: skip

    def __init__(
        self,
        allowed: bool,
        explicit_deny: bool,
        policy_type: str,
        action: str,
        resource: str,
        principal_arn: str,
        hit: Hit | None = None,
    ) -> None:
        self.allowed = allowed
        self.explicit_deny = explicit_deny
        self.policy_type = policy_type
        self.action = action
        self.resource = resource
        self.principal_arn = principal_arn
        self._hit = hit

    @property
    def statement(self) -> Matched | None:
        return Matched.of(*self._hit) if self._hit is not None else None

    @property
    def reason(self) -> str:
        """Why, in the words AWS ends a refusal with (or what allowed)."""
        if self.allowed:
            return f"allowed by {_article(self.policy_type)} {self.policy_type}"
        if self.explicit_deny:
            return f"with an explicit deny in {_article(self.policy_type)} {self.policy_type}"
        return f"because no {self.policy_type} allows the {self.action} action"

    def message(self, *, with_policy_arn: bool = False) -> str:
        """AWS's refusal text: `User: <arn> is not authorized to perform: <action> on resource:
        <arn> because no identity-based policy allows the <action> action`, or `... with an
        explicit deny in an identity-based policy`. `with_policy_arn` adds the denying
        policy's ARN after a colon, as AWS has done since 2026 for same-account denials."""
        text = (
            f"User: {self.principal_arn} is not authorized to perform: {self.action} "
            f"on resource: {self.resource} {self.reason}"
        )
        matched = self.statement
        if with_policy_arn and self.explicit_deny and matched and matched.policy_arn:
            text += f": {matched.policy_arn}"
        return text

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed}, explicit_deny={self.explicit_deny}, "
            f"policy_type={self.policy_type!r}, action={self.action!r}, "
            f"resource={self.resource!r}, statement={self.statement!r})"
        )


def _article(policy_type: str) -> str:
    return "an" if policy_type == IDENTITY else "a"


def scan(
    policies: Sequence[CompiledPolicy], action: str, resource: str, ctx: Context, caller: Caller
) -> tuple[Hit | None, Hit | None, int]:
    """The first Deny that applies, the Allow that names the caller best, and how it names
    it (NAMED for identity policies, which are the caller's own)."""
    allow: Hit | None = None
    level = NO
    for p in policies:
        for s in p.for_action(action):
            lv = s.level(caller)
            if lv == NO or (level >= lv and not s.deny) or not s.applies(resource, ctx):
                continue
            if s.deny:
                return (p, s), allow, level
            allow, level = (p, s), lv
    return None, allow, level


def _compiled(policies: Sequence[PolicyLike], kind: str) -> list[CompiledPolicy]:
    return [
        p if type(p) is CompiledPolicy else compile_policy(p, kind)  # type: ignore[arg-type]
        for p in policies
    ]


def evaluate(
    request: Request,
    identity_policies: Sequence[PolicyLike] = (),
    resource_policy: PolicyLike | None = None,
    boundary: PolicyLike | None = None,
    session_policies: Sequence[PolicyLike] | None = None,
) -> Decision:
    """Whether `request` is allowed by the caller's identity-based policies (its own, its
    groups', its role's), the resource's policy, the caller's permissions boundary and the
    session's policies (None: the session has none; an empty list: it has, and allows
    nothing). Policies may be given compiled, parsed or as text (compiled once, cached)."""
    identity = _compiled(identity_policies, "identity")
    resource = _compiled([resource_policy], "resource") if resource_policy is not None else []
    bounds = _compiled([boundary], "identity") if boundary is not None else []
    session = _compiled(session_policies, "identity") if session_policies is not None else None
    plain = not resource and not bounds and session is None
    caller_keys = request.caller.keys()
    keys = request_keys(request) if request.context or request.now is not None else None
    refused: Decision | None = None
    allowed: Decision | None = None
    for target in request.targets:
        local = normalise(target.context) if target.context else None
        ctx = Context(caller_keys, keys, local)
        if plain:
            d = _identity_only(request, target.arn, ctx, identity)
        else:
            d = _decide(request, target.arn, ctx, identity, resource, bounds, session)
        if d.allowed:
            allowed = d
        elif d.explicit_deny:
            return d
        elif refused is None:
            refused = d
    result = refused or allowed
    assert result is not None
    return result


def _identity_only(
    request: Request, resource: str, ctx: Context, identity: list[CompiledPolicy]
) -> Decision:
    action, caller = request.action, request.caller
    allow: Hit | None = None
    for p in identity:
        for s in p.for_action(action):
            if (allow is None or s.deny) and s.applies(resource, ctx):
                if s.deny:
                    return Decision(False, True, IDENTITY, action, resource, caller.arn, (p, s))
                allow = (p, s)
    if allow is None:
        return Decision(False, False, IDENTITY, action, resource, caller.arn)
    return Decision(True, False, IDENTITY, action, resource, caller.arn, allow)


def _decide(
    request: Request,
    resource: str,
    ctx: Context,
    identity: list[CompiledPolicy],
    resource_policies: list[CompiledPolicy],
    bounds: list[CompiledPolicy],
    session: list[CompiledPolicy] | None,
) -> Decision:
    action, caller = request.action, request.caller

    def decision(allowed: bool, deny: bool, hit: Hit | None, kind: str) -> Decision:
        return Decision(allowed, deny, kind, action, resource, caller.arn, hit)

    groups: list[tuple[str, list[CompiledPolicy]]] = [
        (IDENTITY, identity),
        (RESOURCE, resource_policies),
        (BOUNDARY, bounds),
        (SESSION, session or []),
    ]
    allows: dict[str, tuple[Hit | None, int]] = {}
    for kind, policies in groups:
        if not policies:
            continue
        deny, allow, level = scan(policies, action, resource, ctx, caller)
        if deny is not None:
            return decision(False, True, deny, kind)
        allows[kind] = (allow, level)
    by_resource, level = allows.get(RESOURCE, (None, NO))
    if by_resource is not None and level == NAMED:
        return decision(True, False, by_resource, RESOURCE)
    by_identity, _ = allows.get(IDENTITY, (None, NO))
    if by_identity is None:
        return decision(False, False, None, IDENTITY)
    if bounds and allows[BOUNDARY][0] is None:
        return decision(False, False, None, BOUNDARY)
    if session is not None and allows.get(SESSION, (None, NO))[0] is None:
        return decision(False, False, None, SESSION)
    return decision(True, False, by_identity, IDENTITY)
