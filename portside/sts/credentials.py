"""STS's temporary credentials: issued (AssumeRole, GetSessionToken, a task's role), kept in
`sts_credentials` by access key id, and found again by the edge's key ring.

A temporary key is `ASIA` and 16 more characters (IAM's long-term keys are `AKIA`), with a
secret and a session token the request must carry (`X-Amz-Security-Token`): the key ring
hands the edge a `SigningKey` holding both, and the edge refuses the key without its token
(InvalidClientTokenId) and after its expiry (ExpiredToken). An expired key is kept an hour
more, so it is answered as expired rather than unknown; each issue removes a few older
ones, so the table holds what was issued in the last hours and no more.

A session keeps what the enforcement needs besides the principal: its role, session policy
(inline and managed ARNs), session tags and which of them are transitive (`session_of`).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from portside.api.auth import KeyRing, SigningKey
from portside.store.base import Store, Tx

TABLE = "sts_credentials"
KEY_PREFIX = "ASIA"
KEEP_EXPIRED = 3600.0  # seconds an expired key is still known (answered ExpiredToken)
_SWEEP = 20  # expired keys an issue removes at most
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True, slots=True)
class Session:
    """Who a set of temporary credentials speaks for, and what narrows it."""

    principal_arn: str  # the role session's (assumed-role) or the user's ARN
    account: str
    user_id: str  # GetCallerIdentity's UserId: ROLE_ID:SESSION, or the user's id
    source: str  # AssumeRole | GetSessionToken
    role_arn: str | None = None
    session_name: str | None = None
    policy: str | None = None  # the inline session policy, as sent
    policy_arns: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "PrincipalArn": self.principal_arn,
            "Account": self.account,
            "UserId": self.user_id,
            "Source": self.source,
            "RoleArn": self.role_arn,
            "SessionName": self.session_name,
            "Policy": self.policy,
            "PolicyArns": list(self.policy_arns),
            "Tags": dict(self.tags),
            "TransitiveTagKeys": list(self.transitive_tag_keys),
            "SourceIdentity": self.source_identity,
        }

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> Session:
        return cls(
            principal_arn=d["PrincipalArn"],
            account=d["Account"],
            user_id=d["UserId"],
            source=d["Source"],
            role_arn=d.get("RoleArn"),
            session_name=d.get("SessionName"),
            policy=d.get("Policy"),
            policy_arns=tuple(d.get("PolicyArns") or ()),
            tags=dict(d.get("Tags") or {}),
            transitive_tag_keys=tuple(d.get("TransitiveTagKeys") or ()),
            source_identity=d.get("SourceIdentity"),
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """A key as STS hands it out (its Credentials member)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: float  # epoch seconds

    def to_wire(self) -> dict[str, Any]:
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        }


def _new_key_id() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def _new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()  # 40 characters, as AWS's


def _new_token() -> str:
    return base64.b64encode(secrets.token_bytes(192)).decode()


def issue(tx: Tx, session: Session, *, now: float, duration: float) -> Credentials:
    """New credentials for `session`, valid `duration` seconds from `now`, written in `tx`."""
    sweep(tx, now)
    creds = Credentials(_new_key_id(), _new_secret(), _new_token(), float(int(now + duration)))
    doc = session.to_doc()
    doc.update(
        SecretAccessKey=creds.secret_access_key,
        SessionToken=creds.session_token,
        Expires=int(creds.expiration),
        Issued=now,
    )
    tx.put(TABLE, creds.access_key_id, doc)
    return creds


def sweep(tx: Tx, now: float, limit: int = _SWEEP) -> int:
    """Remove up to `limit` keys expired more than KEEP_EXPIRED ago; how many went."""
    gone = 0
    for key, expires in tx.select(TABLE, order=["expires"], limit=limit):
        if expires is None or expires > now - KEEP_EXPIRED:
            break
        tx.delete(TABLE, key)
        gone += 1
    return gone


def lookup(store: Store, access_key: str) -> SigningKey | None:
    """The signing key of a temporary key, with its session token and expiry; None for a key
    STS did not issue (or forgot, an hour after it expired)."""
    if not access_key.startswith(KEY_PREFIX):
        return None  # not one STS made: spare the read
    with store.read() as tx:
        doc = tx.get(TABLE, access_key)
    if doc is None:
        return None
    return SigningKey(
        doc["SecretAccessKey"],
        doc["PrincipalArn"],
        doc["Account"],
        session_token=doc["SessionToken"],
        expires=float(doc["Expires"]),
    )


def session_of(store: Store, access_key: str) -> Session | None:
    """What a temporary key speaks for (role, session policy, tags); None for another key."""
    if not access_key.startswith(KEY_PREFIX):
        return None
    with store.read() as tx:
        doc = tx.get(TABLE, access_key)
    return None if doc is None else Session.from_doc(doc)


class StsKeyRing:
    """`first` (the server's own keys, IAM users' keys), then STS's temporary keys."""

    def __init__(self, store: Store, first: KeyRing) -> None:
        self._store = store
        self._first = first

    def lookup(self, access_key: str) -> SigningKey | None:
        return self._first.lookup(access_key) or lookup(self._store, access_key)
