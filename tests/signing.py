"""Raw AWS JSON 1.1 calls to a Portside server, SigV4-signed by botocore's own signer.

boto3 validates parameters before it sends and signs whatever it sends correctly; these tests
need the opposite: any body, any header, any date, a signature that is wrong on purpose. So
`Wire.prepare` builds the headers and signs them, a test may tamper with the result, and
`Wire.send` puts the bytes on the wire unchanged.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import ACCESS_KEY, REGION, SECRET_KEY

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"
JSON_11 = "application/x-amz-json-1.1"


class _SigV4At(SigV4Auth):
    """botocore's SigV4 signer with the request time chosen by the caller."""

    def __init__(self, credentials: Credentials, service: str, region: str, when: str) -> None:
        super().__init__(credentials, service, region)
        self._when = when

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


def amz_date(when: datetime.datetime | None = None) -> str:
    return (when or datetime.datetime.now(datetime.UTC)).strftime(SIGV4_TIMESTAMP)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    raw: bytes
    headers: httpx.Headers

    @property
    def body(self) -> Any:
        """The parsed JSON body; AssertionError if it is not JSON."""
        try:
            return orjson.loads(self.raw)
        except orjson.JSONDecodeError:
            raise AssertionError(f"HTTP {self.status}, not JSON: {self.raw[:200]!r}") from None

    @property
    def error(self) -> str | None:
        body = self.body
        return body.get("__type") if self.status >= 300 and isinstance(body, dict) else None

    @property
    def message(self) -> str:
        return str(self.body.get("message") or "")


class Wire:
    """Signed or unsigned raw requests to one endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str = REGION,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        timeout: float = 30,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def prepare(
        self,
        action: str | None,
        body: bytes = b"{}",
        *,
        content_type: str | None = JSON_11,
        target: str | None = None,
        region: str | None = None,
        service: str = "ecs",
        access_key: str | None = None,
        secret_key: str | None = None,
        when: str | None = None,
        sign: bool = True,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The headers of a request, signed unless `sign` is false. `target` overrides the
        ECS target built from `action`; `extra` headers are added before signing."""
        headers: dict[str, str] = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if target is None and action is not None:
            target = f"{ECS_PREFIX}.{action}"
        if target is not None:
            headers["X-Amz-Target"] = target
        headers.update(extra or {})
        if not sign:
            return headers
        request = AWSRequest(method="POST", url=self.endpoint + "/", data=body, headers=headers)
        credentials = Credentials(
            self.access_key if access_key is None else access_key,
            self.secret_key if secret_key is None else secret_key,
        )
        region = self.region if region is None else region
        signer = _SigV4At(credentials, service, region, when or amz_date())
        signer.add_auth(request)
        return dict(request.headers.items())

    def send(self, headers: Mapping[str, str | bytes], body: bytes = b"{}") -> Reply:
        raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
        response = self.http.post(self.endpoint + "/", content=body, headers=raw)
        return Reply(response.status_code, response.content, response.headers)

    def call(self, action: str | None, params: object = None, **options: Any) -> Reply:
        """Sign and send `params` (serialised as JSON; {} when None) to `action`."""
        body = orjson.dumps({} if params is None else params)
        return self.send(self.prepare(action, body, **options), body)

    def raw(self, action: str | None, body: bytes, **options: Any) -> Reply:
        """Sign and send `body` exactly as given."""
        return self.send(self.prepare(action, body, **options), body)
