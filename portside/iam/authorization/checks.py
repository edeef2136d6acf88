"""What an API call asks IAM: one `Check` per action it needs (the call's own, and those ECS
checks beside it: iam:PassRole for the roles it hands over, ecs:TagResource when it tags what
it creates), each on the resources it touches with the condition keys the request carries.

A `Resolver` answers what the request alone does not say and only the store knows (a task
definition named by family, its roles, a resource's tags, a secret's ARN); without one, the
mapping does with what the request says (see each function's note).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from portside.iam.policy.context import Caller, ContextValue, Request, Target


@dataclass(frozen=True, slots=True)
class Check:
    """One authorization an API call needs: `action` on every one of `targets`, with the
    request-wide condition keys `context` (a target's own keys, its tags, ride on it).
    `dependent`: asked because of the call (iam:PassRole, ecs:TagResource), not the call's
    own action."""

    action: str
    targets: tuple[Target, ...]
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    dependent: bool = False

    def request(
        self,
        caller: Caller,
        extra: Mapping[str, ContextValue] | None = None,
        now: float | None = None,
    ) -> Request:
        """The evaluator's question for `caller`; `extra`: the edge's keys (aws:SourceIp,
        aws:SecureTransport, aws:RequestedRegion...), which the call's own keys override."""
        context = {**extra, **self.context} if extra else self.context
        return Request(self.action, caller, self.targets, context, now)


class Resolver:
    """What the store knows, for the mapping; this base knows nothing (every answer None)."""

    def task_definition_arn(self, ref: str) -> str | None:
        """The ARN of the task definition `ref` names (a family alone: its latest ACTIVE
        revision), or None when there is none."""
        return None

    def task_definition_roles(self, arn: str) -> Sequence[str]:
        """The task definition's taskRoleArn and executionRoleArn, those it has."""
        return ()

    def tags(self, arn: str) -> Mapping[str, str] | None:
        """The tags of the resource with this ARN, or None when it does not exist."""
        return None

    def arn_of(self, service: str, ref: str) -> str | None:
        """The ARN of the `service` resource `ref` names by name or id (a secret's name, a
        KMS alias or key id), or None to let the mapping build one."""
        return None


NO_RESOLVER = Resolver()


def target(
    arn: str,
    resolver: Resolver,
    keys: Mapping[str, ContextValue | None] | None = None,
    prefix: str | None = None,
) -> Target:
    """A target for `arn` carrying `keys` (those with a value) and the resource's tags as
    aws:ResourceTag/<key>, and as <prefix>:ResourceTag/<key> for a service that has its own
    (ECS: ecs:ResourceTag/<key>)."""
    context: dict[str, ContextValue] = {k: v for k, v in (keys or {}).items() if v is not None}
    tags = resolver.tags(arn) if arn != "*" else None
    if tags:
        for k, v in tags.items():
            context[f"aws:ResourceTag/{k}"] = v
            if prefix:
                context[f"{prefix}:ResourceTag/{k}"] = v
    return Target(arn, context)


def request_tags(tags: object, key: str = "key", value: str = "value") -> dict[str, ContextValue]:
    """aws:RequestTag/<key> and aws:TagKeys for a request's tags (a list of {key, value},
    ECS's form; Key/Value for the services that spell them so), none when it has none."""
    if not isinstance(tags, list) or not tags:
        return {}
    out: dict[str, ContextValue] = {}
    names: list[str] = []
    for t in tags:
        if isinstance(t, Mapping) and isinstance(t.get(key), str):
            names.append(t[key])
            out[f"aws:RequestTag/{t[key]}"] = str(t.get(value, ""))
    out["aws:TagKeys"] = names
    return out
