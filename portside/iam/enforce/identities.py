"""Who a signed request speaks for, as the evaluator needs it: the principal (`Caller`: its
ARN, user name and id, principal tags, role), its identity-based policies compiled, its
permissions boundary and, for a role session, the session's policies.

Read from IAM's tables (and STS's session, for temporary keys) once per principal and kept
(`Identities`), until IAM's tables change: every call checks the store's newest commit, and
only when it moved asks whether one of IAM's tables did (`Store.wait` with a zero timeout,
no database read); then every principal is read again on its next call. A commit's
notification runs before the call that made it answers, so a policy change applies from the
next call on. (Commits of other server processes sharing a PostgreSQL database are seen only
as far as the store's change notification carries them.)
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from portside.iam import principals, records
from portside.iam.enforce import sources
from portside.iam.policy import Caller, CompiledPolicy, Decision, Request, Target, evaluate
from portside.iam.policy.compiled import CompiledStatement
from portside.store.base import Store
from portside.sts import credentials

# Global keys a caller's policies may name; the edge adds each only when some policy does.
TIME_KEYS = ("aws:currenttime", "aws:epochtime")
RESOURCE_TAGS = "resourcetag/"
_CACHED = 1024  # principals kept at most
_DECISIONS = 256  # decisions kept per principal


@dataclass(slots=True)
class Identity:
    """A principal and its policies, compiled, and which of the edge's keys they name."""

    caller: Caller
    policies: tuple[CompiledPolicy, ...] = ()
    boundary: CompiledPolicy | None = None
    session: tuple[CompiledPolicy, ...] | None = None  # None: the session has no policy
    known: bool = False  # IAM holds the user or role
    # Lower-cased text of every policy: which keys the edge must supply.
    text: str = field(default="", repr=False)
    uses_time: bool = field(default=False, init=False)
    uses_source_ip: bool = field(default=False, init=False)
    uses_region: bool = field(default=False, init=False)
    uses_transport: bool = field(default=False, init=False)
    _tagged: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    # Decisions already made, by request (edge.py): valid as long as the identity is.
    decisions: dict[Hashable, Decision] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.uses_time = any(k in self.text for k in TIME_KEYS)
        self.uses_source_ip = "aws:sourceip" in self.text
        self.uses_region = "aws:requestedregion" in self.text
        self.uses_transport = "aws:securetransport" in self.text

    @property
    def plain(self) -> bool:
        return self.boundary is None and self.session is None

    def names(self, key: str) -> bool:
        """Whether some policy names `key` (lower-case) anywhere."""
        return key in self.text

    def remember(self, key: Hashable, decision: Decision) -> None:
        if len(self.decisions) >= _DECISIONS:
            self.decisions.clear()
        self.decisions[key] = decision

    def tags_matter(self, action: str) -> bool:
        """Whether a statement that names `action` tests a resource's tags (reading them
        costs a store read per resource; a decision no statement bases on them is the same
        without)."""
        found = self._tagged.get(action)
        if found is None:
            if RESOURCE_TAGS not in self.text:
                found = False
            else:
                every = [*self.policies, *(self.session or ())]
                every += [self.boundary] if self.boundary is not None else []
                found = any(_tests_tags(s) for p in every for s in p.for_action(action))
            if len(self._tagged) >= _CACHED:
                self._tagged.clear()
            self._tagged[action] = found
        return found


def _tests_tags(s: CompiledStatement) -> bool:
    st = s.statement
    named = (*(st.resources or ()), *(st.not_resources or ()), *(c.key for c in st.conditions))
    return any(RESOURCE_TAGS in text.lower() for text in named)


def load(store: Store, principal_arn: str, account: str, access_key: str = "") -> Identity:
    """The identity `principal_arn` has now (with the STS session of `access_key`, a
    temporary key's). A principal IAM does not hold (deleted since its key was issued, or
    never an IAM one) has no policy: everything is refused."""
    session = credentials.session_of(store, access_key) if access_key else None
    found = principals.identity(principal_arn)
    if found is None:
        return Identity(Caller(principal_arn, account))
    owner, kind, name = found
    with store.read() as tx:
        doc = records.entity(tx, owner, kind, name)
        if doc is None:
            return Identity(Caller(principal_arn, owner, user_name=_user(kind, name)))
        policies = sources.of_principal(tx, owner, kind, name)
        bound = sources.boundary(tx, owner, doc)
        session_sources: list[sources.Source] | None = None
        if session is not None and (session.policy or session.policy_arns):
            session_sources = []
            if session.policy:
                session_sources.append(sources.Source("session", "session", session.policy))
            for arn in session.policy_arns:
                held = sources.managed(tx, owner, arn)
                if held is not None:
                    session_sources.append(held)
    tags = {str(t["Key"]): str(t["Value"]) for t in records.tags_of(doc)}
    if session is not None:
        tags.update(session.tags)  # session tags win over the role's own (IAM User Guide)
    caller = Caller(
        principal_arn,
        owner,
        user_name=_user(kind, name),
        user_id=session.user_id if session is not None else str(doc[records.ID_MEMBER[kind]]),
        tags=tags,
        role_arn=str(doc["Arn"]) if kind == "role" else None,
    )
    texts = [s.text for s in policies]
    texts += [bound.text] if bound is not None else []
    texts += [s.text for s in session_sources or ()]
    return Identity(
        caller,
        _compiled(policies),
        bound.compiled() if bound is not None else None,
        _compiled(session_sources) if session_sources is not None else None,
        known=True,
        text="\n".join(texts).lower(),
    )


def _user(kind: str, name: str) -> str | None:
    return name if kind == "user" else None


def _compiled(found: list[sources.Source]) -> tuple[CompiledPolicy, ...]:
    return tuple(c for c in (s.compiled() for s in found) if c is not None)


class Identities:
    """Identities by (principal ARN, temporary key), kept until IAM's tables change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen = store.last_seq()
        self._kept: dict[tuple[str, str], Identity] = {}

    def get(self, principal_arn: str, account: str, access_key: str) -> Identity:
        self.refresh()
        temporary = access_key if access_key.startswith(credentials.KEY_PREFIX) else ""
        key = (principal_arn, temporary)
        found = self._kept.get(key)
        if found is None:
            found = load(self.store, principal_arn, account, temporary)
            if len(self._kept) >= _CACHED:
                self._kept.clear()
            self._kept[key] = found
        return found

    def refresh(self) -> None:
        """Forget every identity when one of IAM's tables changed since the last look."""
        last = self.store.last_seq()
        if last == self._seen:
            return
        if self.store.wait(self._seen, 0, tables=records.TABLES):
            self._kept.clear()
        self._seen = last


def denied(identity: Identity, action: str, resource: str) -> str | None:
    """IAM's message when `identity` may not do `action` on `resource` (no request
    context: what a service's own call for a principal is checked with), else None."""
    request = Request(action, identity.caller, (Target(resource),))
    decision = evaluate(request, identity.policies, None, identity.boundary, identity.session)
    return None if decision.allowed else decision.message()
