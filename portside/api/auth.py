"""AWS Signature Version 4, checked on every request: in the Authorization header, or in the
query string of a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`, ... `X-Amz-Signature`).

Who a key belongs to is the key ring's business (`KeyRing.lookup`): the admin key today,
IAM users' keys and STS's temporary credentials later. A temporary key must come with its
session token (`X-Amz-Security-Token`, header or query) and a long-term key without one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol, cast
from urllib.parse import quote, unquote

from portside.errors import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    NamedError,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
# ECS's window, each way: "(20191210T034404Z - 5 min.)" (fabfuel/ecs-deploy#126, and the ECS
# agent's own calls in aws/amazon-ecs-agent#1513). Some AWS services allow 15.
# SigV4's documented window (ECS itself has been seen answering with 5 minutes; the project
# chose the general 15, so a laptop whose clock drifts a little is not refused).
MAX_SKEW = timedelta(minutes=15)
_SKEW_TEXT = f"{int(MAX_SKEW.total_seconds() // 60)} min."
# What an ARN can hold (model/arn.py); anything else would make resources no call can name.
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class HeaderSource(Protocol):
    def get(self, key: str, /) -> str | None: ...


# Not frozen, as WireRequest (api/protocols/base.py): built on every API call.
@dataclass(slots=True)
class Principal:
    """Who signed a request, for which region and service (the credential scope)."""

    access_key: str
    region: str
    service: str
    principal_arn: str = ""
    account: str = ""
    session_token: str | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key the server knows: its secret and whose it is. A temporary key (STS) carries the
    session token the request must present and when it expires (epoch seconds)."""

    secret: str
    principal_arn: str
    account: str
    session_token: str | None = None
    expires: float | None = None


class KeyRing(Protocol):
    def lookup(self, access_key: str) -> SigningKey | None:
        """The key with this id, or None when the server does not know it."""
        ...


class StaticKeyRing:
    """Keys fixed at start (the admin key): every one is the account's root."""

    def __init__(self, secrets: dict[str, str], account: str) -> None:
        root = f"arn:aws:iam::{account}:root"
        self._keys = {k: SigningKey(v, root, account) for k, v in secrets.items()}

    def lookup(self, access_key: str) -> SigningKey | None:
        return self._keys.get(access_key)


def _parse_basic(text: str) -> datetime:
    """ISO-8601 basic format, 20261121T103000Z (strptime costs ~10 µs a request)."""
    if len(text) != 16 or text[8] != "T" or text[15] != "Z":
        raise ValueError(text)
    digits = text[:8] + text[9:15]
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(text)
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[9:11]),
        int(text[11:13]),
        int(text[13:15]),
        tzinfo=UTC,
    )


@lru_cache(maxsize=64)
def _epoch(text: str) -> float:
    """The instant an X-Amz-Date names, in epoch seconds (most requests share a second)."""
    return _parse_basic(text).timestamp()


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class _HmacSha256:
    """HMAC-SHA256 under one key, its padded key states hashed once: a signature costs two
    hash copies. (Cheaper than `hmac.digest`, which re-keys per call and, in OpenSSL 3,
    looks the digest up under a lock that the server's threads contend for.)"""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # longer than SHA-256's block: HMAC hashes it first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@lru_cache(maxsize=256)
def _signer(key: bytes) -> _HmacSha256:
    return _HmacSha256(key)


def _parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{algorithm}'. Use {ALGORITHM}."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name] = val
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if n not in fields]
    if missing:
        raise IncompleteSignatureException(
            " ".join(f"Authorization header requires '{n}' parameter." for n in missing)
            + f" Authorization={value}"
        )
    return fields


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        name, _, val = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(val), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class _CallableKeyRing:
    """A plain `access key -> secret` lookup as a key ring (every key the account root)."""

    def __init__(self, secret_for: Callable[[str], str | None], account: str) -> None:
        self._secret_for = secret_for
        self._root = f"arn:aws:iam::{account}:root"
        self._account = account

    def lookup(self, access_key: str) -> SigningKey | None:
        secret = self._secret_for(access_key)
        return None if secret is None else SigningKey(secret, self._root, self._account)


_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")


def _query_params(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name:
            out.setdefault(unquote(name.replace("+", " ")), unquote(value.replace("+", " ")))
    return out


# Not frozen, as WireRequest (api/protocols/base.py): built on every API call.
@dataclass(slots=True)
class _Signed:
    """The parts of a signature, wherever the request carried them."""

    algorithm: str
    credential: str
    signed_headers: str
    signature: str
    amz_date: str
    token: str | None
    canonical_query: str
    expires: int | None  # presigned URLs only: seconds the URL is valid for


class SigV4Verifier:
    """Checks signatures against the known access keys."""

    def __init__(
        self,
        keys: KeyRing | Callable[[str], str | None],
        clock: Callable[[], float],
        account: str = "000000000000",
    ) -> None:
        self._keys: KeyRing = (
            cast(KeyRing, keys) if hasattr(keys, "lookup") else _CallableKeyRing(keys, account)
        )
        self._clock = clock

    def verify(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: HeaderSource,
        multi_headers: Callable[[str], Sequence[str]],
        body: bytes,
    ) -> Principal:
        """Return who signed the request, or raise the error AWS gives."""
        signed = self._signed_parts(query, headers)
        scope = signed.credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise IncompleteSignatureException(
                f"Credential should be scoped to a valid region, not '{signed.credential}'."
            )
        access_key, date, region, service, _ = scope
        if not _REGION.match(region):
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region, not '{region}'. "
            )
        amz_date = signed.amz_date
        if not amz_date:
            raise IncompleteSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header."
            )
        self._check_time(amz_date, date, signed.expires)
        names = signed.signed_headers.split(";")
        if "host" not in names:
            raise IncompleteSignatureException(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        key = self._keys.lookup(access_key)
        if key is None or key.session_token != signed.token:
            raise UnrecognizedClientException(
                "The security token included in the request is invalid."
            )
        if key.expires is not None and key.expires <= self._clock():
            raise ExpiredTokenException("The security token included in the request is expired")
        # Each value trimmed, runs of whitespace made one space (SigV4's "trimall"; botocore
        # signs `' '.join(value.split())`).
        canonical_headers = "".join(
            f"{name}:{','.join(' '.join(v.split()) for v in multi_headers(name))}\n"
            for name in names
        )
        # The body itself, never a hash the request claims for it (X-Amz-Content-SHA256 is S3's
        # and may say UNSIGNED-PAYLOAD): a signature must cover the bytes that are acted on.
        payload_hash = hashlib.sha256(body).hexdigest()
        canonical = "\n".join(
            [
                method,
                quote(path or "/", safe="/~%"),
                signed.canonical_query,
                canonical_headers,
                signed.signed_headers,
                payload_hash,
            ]
        )
        to_sign = "\n".join(
            [
                ALGORITHM,
                amz_date,
                f"{date}/{region}/{service}/aws4_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        expected = _signer(_signing_key(key.secret, date, region, service)).hexdigest(
            to_sign.encode()
        )
        # As bytes: compare_digest refuses str with non-ASCII characters.
        if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
            raise InvalidSignatureException(_MISMATCH)
        return Principal(
            access_key=access_key,
            region=region,
            service=service,
            principal_arn=key.principal_arn,
            account=key.account,
            session_token=signed.token,
        )

    @staticmethod
    def _signed_parts(query: str, headers: HeaderSource) -> _Signed:
        authorization = headers.get("authorization")
        if authorization:
            fields = _parse_authorization(authorization)
            return _Signed(
                ALGORITHM,
                fields["Credential"],
                fields["SignedHeaders"],
                fields["Signature"],
                headers.get("x-amz-date") or "",
                headers.get("x-amz-security-token"),
                _canonical_query(query),
                None,
            )
        if "X-Amz-" not in query:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        params = _query_params(query)
        if not any(p in params for p in _PRESIGN_PARAMS):
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        missing = [
            p for p in (*_PRESIGN_PARAMS, "X-Amz-SignedHeaders", "X-Amz-Date") if p not in params
        ]
        if missing:
            raise IncompleteSignatureException(
                " ".join(f"AWS query-string parameters must include '{p}'." for p in missing)
                + " Re-examine the query-string parameters."
            )
        if params["X-Amz-Algorithm"] != ALGORITHM:
            raise IncompleteSignatureException(
                f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'. Use {ALGORITHM}."
            )
        expires_text = params.get("X-Amz-Expires", "")
        if expires_text and not expires_text.isdigit():
            raise IncompleteSignatureException(
                f"X-Amz-Expires must be a number of seconds, not '{expires_text}'."
            )
        # The canonical query covers every parameter but the signature itself.
        unsigned = "&".join(
            part for part in query.split("&") if not part.startswith("X-Amz-Signature=")
        )
        return _Signed(
            params["X-Amz-Algorithm"],
            params["X-Amz-Credential"],
            params["X-Amz-SignedHeaders"],
            params["X-Amz-Signature"],
            params["X-Amz-Date"],
            params.get("X-Amz-Security-Token"),
            _canonical_query(unsigned),
            int(expires_text) if expires_text else None,
        )

    def _check_time(self, amz_date: str, scope_date: str, expires: int | None) -> None:
        try:
            stamp = _epoch(amz_date)
        except ValueError:
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            ) from None
        if amz_date[:8] != scope_date:
            raise InvalidSignatureException(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        clock = self._clock()
        skew = MAX_SKEW.total_seconds()
        if expires is not None:
            # A presigned URL is good from its date (give or take the clock skew) for as long
            # as it says (SigV4 caps that at seven days).
            if expires > 604_800:
                raise IncompleteSignatureException(
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800"
                )
            if stamp - skew <= clock <= stamp + expires:
                return
            if clock > stamp + expires:
                raise NamedError("AccessDeniedException", "Request has expired", 403)
        if clock - skew <= stamp <= clock + skew:
            return
        when = _parse_basic(amz_date)
        now = datetime.fromtimestamp(clock, UTC)
        fmt = "%Y%m%dT%H%M%SZ"
        if when < now - MAX_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - MAX_SKEW).strftime(fmt)} ({now.strftime(fmt)} - {_SKEW_TEXT})"
            )
        if when > now + MAX_SKEW:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than "
                f"{(now + MAX_SKEW).strftime(fmt)} ({now.strftime(fmt)} + {_SKEW_TEXT})"
            )
