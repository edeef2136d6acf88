"""What a request brings to the evaluation: who calls (`Caller`), what it does (`action`), to
which resources (`Target`, each with its own keys: its tags), and the request's condition
keys. Keys are looked up without regard to case (IAM User Guide: "Condition key names are
not case-sensitive"); values are kept as text, a multivalued key (aws:TagKeys) as several.

The caller's own keys come from the caller: aws:username (IAM users only), aws:userid,
aws:PrincipalArn (an assumed role's session is its role's ARN), aws:PrincipalAccount,
aws:PrincipalType and aws:PrincipalTag/<key>; aws:CurrentTime and aws:EpochTime from the
request's `now` (the evaluator reads no clock).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

# What a caller may give as a key's value: text, a flag, a number, a time, or several texts.
ContextValue = str | bool | int | float | datetime | bytes | Sequence[str]
Values = tuple[str, ...]


def to_values(value: ContextValue | None) -> Values | None:
    """A context value as the evaluator holds it: a tuple of texts (None: absent)."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, int | float):
        return (str(value),)
    if isinstance(value, datetime):
        return (_iso(value),)
    if isinstance(value, bytes):
        return (base64.b64encode(value).decode(),)
    return tuple(str(v) for v in value)


def _iso(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise(context: Mapping[str, ContextValue] | None) -> dict[str, Values]:
    """A context with its keys lower-cased and its values as tuples of text."""
    out: dict[str, Values] = {}
    if context:
        for k, v in context.items():
            if type(v) is str:
                out[k.lower()] = (v,)
            else:
                values = to_values(v)
                if values is not None:
                    out[k.lower()] = values
    return out


@dataclass(slots=True)
class Caller:
    """The principal a request is signed by.

    `arn`: the user's, the role session's (`arn:aws:sts::<acct>:assumed-role/<role>/<name>`)
    or the root's (`arn:aws:iam::<acct>:root`); `role_arn`: for a role session, its role (a
    Principal element naming the role matches its sessions); `service`: a service principal
    (`ecs-tasks.amazonaws.com`) when a service asks, as in a trust policy."""

    arn: str
    account: str
    user_name: str | None = None
    user_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    service: str | None = None
    _keys: dict[str, Values] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def principal_type(self) -> str:
        if self.service:
            return "Service"
        if self.arn.endswith(":root"):
            return "Account"
        if self.role_arn or ":assumed-role/" in self.arn:
            return "AssumedRole"
        return "User"

    def keys(self) -> dict[str, Values]:
        """The caller's global condition keys, lower-cased, built once."""
        if self._keys is None:
            keys: dict[str, Values] = {
                "aws:principalarn": (self.role_arn or self.arn,),
                "aws:principalaccount": (self.account,),
                "aws:principaltype": (self.principal_type,),
            }
            if self.user_name is not None and self.principal_type == "User":
                keys["aws:username"] = (self.user_name,)
            if self.user_id is not None:
                keys["aws:userid"] = (self.user_id,)
            if self.service:
                keys["aws:principalservicename"] = (self.service,)
            for k, v in self.tags.items():
                keys[f"aws:principaltag/{k.lower()}"] = (v,)
            self._keys = keys
        return self._keys


@dataclass(frozen=True, slots=True)
class Target:
    """One resource a request acts on (an ARN, or "*" when the action has none) and the
    keys that hold for it alone: its tags (aws:ResourceTag/..., ecs:ResourceTag/...), the
    cluster it is in (ecs:cluster)..."""

    arn: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


ANY = Target("*")


@dataclass(frozen=True, slots=True)
class Request:
    """One authorization question: may `caller` do `action` on every one of `targets`?"""

    action: str
    caller: Caller
    targets: tuple[Target, ...] = (ANY,)
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    now: float | None = None  # epoch seconds: aws:CurrentTime, aws:EpochTime

    @staticmethod
    def of(
        action: str,
        caller: Caller,
        resources: Iterable[str | Target] = ("*",),
        context: Mapping[str, ContextValue] | None = None,
        now: float | None = None,
    ) -> Request:
        targets = tuple(r if isinstance(r, Target) else Target(r) for r in resources)
        return Request(action, caller, targets or (ANY,), context or {}, now)


class Context:
    """The keys one evaluation sees: a target's over the request's over the caller's."""

    __slots__ = ("caller", "local", "request")

    def __init__(
        self,
        caller: dict[str, Values],
        request: dict[str, Values] | None = None,
        local: dict[str, Values] | None = None,
    ) -> None:
        self.caller = caller
        self.request = request
        self.local = local

    def get(self, key: str) -> Values | None:
        """The values of the lower-cased `key`, or None when the request does not have it."""
        if self.local:
            v = self.local.get(key)
            if v is not None:
                return v
        if self.request:
            v = self.request.get(key)
            if v is not None:
                return v
        return self.caller.get(key)

    def single(self, key: str) -> str | None:
        """A key's value as a policy variable takes it: one value, else nothing."""
        v = self.get(key)
        if v is None or len(v) != 1:
            return None
        return v[0]


def request_keys(request: Request) -> dict[str, Values]:
    """The request's own keys (they win over the caller's), with the time when given."""
    keys = normalise(request.context) if request.context else {}
    if request.now is not None:
        keys["aws:currenttime"] = (_iso(datetime.fromtimestamp(request.now, UTC)),)
        keys["aws:epochtime"] = (str(int(request.now)),)
    return keys


def context_of(request: Request, target: Target | None = None) -> Context:
    """The keys an evaluation of `request` for `target` sees."""
    local = normalise(target.context) if target is not None and target.context else None
    return Context(request.caller.keys(), request_keys(request), local)
