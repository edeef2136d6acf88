"""A policy compiled for evaluation: per statement, its actions as one matcher, its resources
as another, its principal and its conditions; per policy, the statements that name an action,
found once per action and kept. `compile_policy` keeps compiled policies by their text, so a
document attached to many principals, or read on every call, is compiled once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from portside.iam.policy.conditions import Condition
from portside.iam.policy.context import Caller, Context
from portside.iam.policy.document import Kind, Policy, PrincipalSpec, Statement, parse
from portside.iam.policy.patterns import PatternSet

# How a Principal element names a caller: not at all, through its account (the account's
# identity policies must allow too), or by name (enough on its own).
NO, ACCOUNT, NAMED = 0, 1, 2
_ACTION_CACHE = 4096


def principal_level(spec: PrincipalSpec, caller: Caller) -> int:
    """How `spec` names `caller`: NO, ACCOUNT or NAMED (IAM User Guide, "Principal": an
    account id or its root ARN stands for every principal of the account, whose own policies
    then decide; a role's ARN stands for its sessions)."""
    if spec.everyone:
        return NAMED
    if caller.service is not None:
        return NAMED if caller.service in spec.service else NO
    level = NO
    for p in spec.aws:
        if p == caller.arn or (caller.role_arn is not None and p == caller.role_arn):
            return NAMED
        if p == caller.account or (p.startswith("arn:") and p.endswith(f"::{caller.account}:root")):
            level = ACCOUNT
    return level


class CompiledStatement:
    __slots__ = ("actions", "conditions", "deny", "not_action", "not_principal", "not_resource",
                 "principal", "resources", "statement")  # fmt: skip

    def __init__(self, s: Statement, variables: bool) -> None:
        self.statement = s
        self.deny = s.effect == "Deny"
        self.not_action = s.not_actions is not None
        self.actions = PatternSet(
            s.actions or s.not_actions or (), variables=False, ignore_case=True
        )
        self.not_resource = s.not_resources is not None
        sources = s.resources if s.resources is not None else s.not_resources
        self.resources = (
            PatternSet(sources, variables=variables, ignore_case=False) if sources else None
        )
        self.principal = s.principal
        self.not_principal = s.not_principal
        self.conditions = tuple(Condition(c, variables) for c in s.conditions)

    def names(self, action: str) -> bool:
        return self.actions.matches(action) != self.not_action

    def applies(self, resource: str, ctx: Context) -> bool:
        """Whether the statement covers `resource` and its conditions hold (action and
        principal are checked apart)."""
        r = self.resources
        if r is not None:
            if self.not_resource:
                if r.templates and r.unresolved(ctx.single):
                    return False
                if r.matches(resource, ctx.single):
                    return False
            elif not r.matches(resource, ctx.single):
                return False
        for c in self.conditions:  # noqa: SIM110  (a loop: no generator on the hot path)
            if not c.test(ctx):
                return False
        return True

    def level(self, caller: Caller) -> int:
        """How the statement's Principal/NotPrincipal names `caller` (identity policies:
        NAMED, the policy is the caller's own)."""
        if self.principal is not None:
            return principal_level(self.principal, caller)
        if self.not_principal is not None:
            return NO if principal_level(self.not_principal, caller) else NAMED
        return NAMED


class CompiledPolicy:
    """A policy ready to evaluate; `name`/`arn` say which policy it is in a Decision."""

    __slots__ = ("_by_action", "arn", "name", "policy", "statements")

    def __init__(self, policy: Policy, name: str | None = None, arn: str | None = None) -> None:
        self.policy = policy
        self.name = name
        self.arn = arn
        self.statements = tuple(CompiledStatement(s, policy.variables) for s in policy.statements)
        self._by_action: dict[str, tuple[CompiledStatement, ...]] = {}

    @property
    def kind(self) -> Kind:
        return self.policy.kind

    def for_action(self, action: str) -> tuple[CompiledStatement, ...]:
        """The statements whose Action/NotAction covers `action`, in document order."""
        key = action.lower()
        found = self._by_action.get(key)
        if found is None:
            found = tuple(s for s in self.statements if s.names(key))
            if len(self._by_action) >= _ACTION_CACHE:
                self._by_action.clear()
            self._by_action[key] = found
        return found


@lru_cache(maxsize=4096)
def _compile_text(
    text: str | bytes, kind: Kind, name: str | None, arn: str | None
) -> CompiledPolicy:
    return CompiledPolicy(parse(text, kind), name, arn)


@lru_cache(maxsize=1024)
def _compile_policy(policy: Policy, name: str | None, arn: str | None) -> CompiledPolicy:
    return CompiledPolicy(policy, name, arn)


PolicyLike = CompiledPolicy | Policy | str | bytes | Mapping[str, Any]


def compile_policy(
    document: PolicyLike,
    kind: Kind = "identity",
    *,
    name: str | None = None,
    arn: str | None = None,
) -> CompiledPolicy:
    """`document` (JSON text, its dict, a parsed `Policy`) compiled, from the cache when the
    same text (and name/ARN) was compiled before; a `CompiledPolicy` is given back as is.
    Raises `MalformedPolicyDocument` as `parse` does."""
    if isinstance(document, CompiledPolicy):
        return document
    if isinstance(document, Policy):
        return _compile_policy(document, name, arn)
    if isinstance(document, Mapping):
        document = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return _compile_text(document, kind, name, arn)


@dataclass(frozen=True, slots=True)
class Matched:
    """The statement a decision rests on, and the policy holding it."""

    policy_name: str | None
    policy_arn: str | None
    sid: str | None
    index: int
    effect: str

    @staticmethod
    def of(policy: CompiledPolicy, s: CompiledStatement) -> Matched:
        st = s.statement
        return Matched(policy.name, policy.arn, st.sid, st.index, st.effect)
