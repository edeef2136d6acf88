"""`docker login` for ECR: GetAuthorizationToken's password, and who the token server lets
pull and push what.

The password is a token Portside signs (the registry's signing key, but no registry token:
it names no audience or access the registry would take) holding the account, region and
principal it was issued to, valid 12 hours as ECR's are. The authorization token is the
base64 of `AWS:<password>`, as ECR's is, so `aws ecr get-login-password` prints the
password. The token server grants `pull` and `push` on a repository that exists in ECR in
the password's account, nothing else: a push to a name no repository holds is refused,
as ECR refuses it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

from portside.ecr import records, runtime
from portside.ecr.operations import action
from portside.ops.context import Op
from portside.registry.keys import SigningKey
from portside.registry.tokens import Access
from portside.store.base import Store

LIFETIME = 12 * 3600
USER = "AWS"
KIND = "ecr-login"
ACTIONS = ("pull", "push")


def password(key: SigningKey, account: str, region: str, principal: str, now: float) -> str:
    return key.sign(
        {
            "typ": KIND,
            "acct": account,
            "region": region,
            "sub": principal,
            "iat": int(now),
            "exp": int(now + LIFETIME),
        }
    )


@action("GetAuthorizationToken")
def get_authorization_token(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    plane = runtime.of(op).registry(wait=False)  # docker login follows
    now = op.now()
    secret = password(plane.key, op.account, op.region, op.caller.principal_arn, now)
    token = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    data = {"authorizationToken": token, "expiresAt": now + LIFETIME, "proxyEndpoint": plane.url}
    return {"authorizationData": [data for _ in p.get("registryIds") or [op.account]]}


class EcrAccess:
    """The token server's `Authorizer` for ECR's repositories."""

    def __init__(self, store: Store, key: SigningKey, clock: Callable[[], float]) -> None:
        self.store = store
        self.key = key
        self.clock = clock

    def authorize(
        self, username: str, password: str, requested: Sequence[Access]
    ) -> tuple[str, list[Access]] | None:
        claims = self.key.verify(password) if username == USER else None
        if claims is None or claims.get("typ") != KIND:
            return None
        if not isinstance(claims.get("exp"), int) or claims["exp"] < self.clock():
            return None
        grants = []
        with self.store.read() as tx:
            for access in requested:
                if access.kind != "repository":
                    continue  # the catalog: ECR has none to give
                doc = records.holder(tx, access.name)
                if doc is None or doc["registryId"] != claims.get("acct"):
                    continue
                allowed = tuple(a for a in access.actions if a in ACTIONS)
                if allowed:
                    grants.append(Access("repository", access.name, allowed))
        return str(claims.get("sub") or USER), grants
