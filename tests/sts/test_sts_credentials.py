"""Temporary credentials on a store and a fake clock: a key signs with its session token
until its Expiration, is answered ExpiredToken after it (for an hour, then forgotten), and
the key ring asks the server's own keys first."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from portside.api.auth import SigV4Verifier, StaticKeyRing
from portside.errors import ExpiredTokenException, NamedError, UnrecognizedClientException
from portside.ops.context import World
from portside.sts import credentials, messages
from portside.sts.credentials import KEEP_EXPIRED, Session, StsKeyRing
from portside.testing.clock import T0, FakeClock
from portside.testing.store import sqlite_store

ACCOUNT = "000000000000"
SESSION = Session(
    principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1",
    account=ACCOUNT,
    user_id="AROAEXAMPLE:s1",
    source="AssumeRole",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/app",
    session_name="s1",
    tags={"team": "blue"},
    transitive_tag_keys=("team",),
)


class _At(SigV4Auth):
    def __init__(self, creds: BotoCredentials, when: float) -> None:
        super().__init__(creds, "sts", "us-east-1")
        self._when = datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y%m%dT%H%M%SZ")

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


def _verify(verifier: SigV4Verifier, key: str, secret: str, token: str | None, at: float) -> str:
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest("POST", "http://localhost/", data=body, headers={"Host": "localhost"})
    _At(BotoCredentials(key, secret, token), at).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    principal = verifier.verify(
        method="POST",
        path="/",
        query="",
        headers=headers,
        multi_headers=lambda name: [headers[name]] if name in headers else [],
        body=body,
    )
    return principal.principal_arn


def test_a_key_signs_until_it_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    store = sqlite_store(tmp_path, clock=clock)
    ring = StsKeyRing(store, StaticKeyRing({"AKIDADMIN": "s" * 40}, ACCOUNT))
    verifier = SigV4Verifier(ring, clock)
    with store.transaction() as tx:
        creds = credentials.issue(tx, SESSION, now=clock(), duration=900)
    assert creds.access_key_id.startswith("ASIA") and len(creds.access_key_id) == 20
    assert creds.expiration == T0 + 900
    key, secret, token = creds.access_key_id, creds.secret_access_key, creds.session_token

    assert _verify(verifier, key, secret, token, clock()) == SESSION.principal_arn
    clock.advance(899)
    assert _verify(verifier, key, secret, token, clock()) == SESSION.principal_arn
    with pytest.raises(UnrecognizedClientException):
        _verify(verifier, key, secret, None, clock())  # the token must come along
    clock.advance(1)
    with pytest.raises(ExpiredTokenException) as exc:
        _verify(verifier, key, secret, token, clock())
    assert exc.value.code == "ExpiredTokenException" and exc.value.status == 403
    assert exc.value.message == "The security token included in the request is expired"

    # An hour after its expiry, the next issue forgets it: unknown from then on.
    clock.advance(KEEP_EXPIRED + 1)
    with store.transaction() as tx:
        credentials.issue(tx, SESSION, now=clock(), duration=900)
    assert credentials.lookup(store, key) is None
    with pytest.raises(UnrecognizedClientException):
        _verify(verifier, key, secret, token, clock())


def test_session_of_keeps_what_enforcement_needs(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    with store.transaction() as tx:
        creds = credentials.issue(tx, SESSION, now=T0, duration=3600)
    assert credentials.session_of(store, creds.access_key_id) == SESSION
    assert credentials.session_of(store, "AKIAEXAMPLE") is None
    assert credentials.lookup(store, "ASIAUNKNOWN") is None


def test_the_server_keys_come_first(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    ring = StsKeyRing(store, StaticKeyRing({"AKIDADMIN": "s" * 40}, ACCOUNT))
    admin = ring.lookup("AKIDADMIN")
    assert admin is not None and admin.principal_arn == f"arn:aws:iam::{ACCOUNT}:root"


def test_authorization_messages_round_trip(tmp_path: Path) -> None:
    world = World(store=sqlite_store(tmp_path))
    context = {"allowed": False, "explicitDeny": False, "context": {"action": "ec2:RunInstances"}}
    encoded = messages.encode(world, ACCOUNT, context)
    assert "RunInstances" not in encoded
    assert json.loads(messages.decode(world, ACCOUNT, encoded)) == context
    for account, text in ((ACCOUNT, encoded[:-3] + "AAA"), ("111111111111", encoded)):
        with pytest.raises(NamedError) as exc:
            messages.decode(world, account, text)
        assert exc.value.code == "InvalidAuthorizationMessageException"


def test_query_services_answer_an_expired_key_expired_token() -> None:
    """STS's model has an ExpiredTokenException shape (web identity tokens); an expired
    session key is still the common error, ExpiredToken (403), in every query service."""
    import botocore.session

    from portside.api.protocols.error_shapes import ErrorShapes
    from portside.api.protocols.query import QUERY_AUTH_CODES

    model = botocore.session.get_session().get_service_model("sts")
    shape, status = ErrorShapes(model, QUERY_AUTH_CODES).answer(ExpiredTokenException("x"))
    assert (shape.query_code, status) == ("ExpiredToken", 403)
