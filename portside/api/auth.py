"""AWS Signature Version 4, checked on every request (the Authorization header form)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote, unquote

from portside.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
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


@dataclass(frozen=True, slots=True)
class Principal:
    access_key: str
    region: str
    service: str


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


class SigV4Verifier:
    """Checks signatures against the known access keys (key id -> secret)."""

    def __init__(
        self,
        keys: Callable[[str], str | None],
        clock: Callable[[], float],
    ) -> None:
        self._secret_for = keys
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
        authorization = headers.get("authorization")
        if not authorization:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        fields = _parse_authorization(authorization)
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise IncompleteSignatureException(
                f"Credential should be scoped to a valid region, not '{fields['Credential']}'."
            )
        access_key, date, region, service, _ = scope
        if not _REGION.match(region):
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region, not '{region}'. "
            )
        amz_date = headers.get("x-amz-date") or ""
        if not amz_date:
            raise IncompleteSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header."
            )
        self._check_time(amz_date, date)
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise IncompleteSignatureException(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        secret = self._secret_for(access_key)
        if secret is None:
            raise UnrecognizedClientException(
                "The security token included in the request is invalid."
            )
        # Each value trimmed, runs of whitespace made one space (SigV4's "trimall"; botocore
        # signs `' '.join(value.split())`).
        canonical_headers = "".join(
            f"{name}:{','.join(' '.join(v.split()) for v in multi_headers(name))}\n"
            for name in signed
        )
        # The body itself, never a hash the request claims for it (X-Amz-Content-SHA256 is S3's
        # and may say UNSIGNED-PAYLOAD): a signature must cover the bytes that are acted on.
        payload_hash = hashlib.sha256(body).hexdigest()
        canonical = "\n".join(
            [
                method,
                quote(path or "/", safe="/~%"),
                _canonical_query(query),
                canonical_headers,
                fields["SignedHeaders"],
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
        expected = _signer(_signing_key(secret, date, region, service)).hexdigest(to_sign.encode())
        # As bytes: compare_digest refuses str with non-ASCII characters.
        if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):
            raise InvalidSignatureException(_MISMATCH)
        return Principal(access_key=access_key, region=region, service=service)

    def _check_time(self, amz_date: str, scope_date: str) -> None:
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
