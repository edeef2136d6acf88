"""Portside's own calls to the registry's HTTP API (distribution's /v2/), each with a token
it signs itself for just the repository it touches."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from portside.errors import ServerException

# Every manifest form a push can store; asked for all at once so the registry answers each
# as it was pushed (without the list, it would rewrite a schema 2 manifest as schema 1).
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
TOKEN_LIFETIME = 300.0  # seconds a token Portside signs for itself is valid
_REUSE_FOR = TOKEN_LIFETIME - 60.0

# (type, name, actions) -> a bearer token for that access
TokenSigner = Callable[[str, str, tuple[str, ...]], str]


class RegistryError(ServerException):
    """The registry refused or failed a call Portside made (answered, if it reaches the
    caller, as ServerException with what the registry said)."""

    def __init__(self, message: str, http_status: int = 0, registry_code: str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.registry_code = registry_code


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    def parsed(self) -> dict[str, Any]:
        try:
            doc = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return {}
        return doc if isinstance(doc, dict) else {}


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class RegistryClient:
    def __init__(self, url: str, sign: TokenSigner, *, timeout: float = 30.0) -> None:
        self.url = url
        self._sign = sign
        self._http = httpx.Client(base_url=url, timeout=timeout)
        self._tokens: dict[tuple[str, str, tuple[str, ...]], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag or digest names, as it was pushed; None when there is none."""
        reply = self._call(
            "GET", repository, f"/v2/{repository}/manifests/{reference}", {"Accept": ACCEPT}
        )
        if reply.status_code == 404:
            return None
        self._check(reply, f"reading {repository}:{reference}")
        media_type = reply.headers.get("content-type", "").split(";")[0].strip()
        digest = reply.headers.get("docker-content-digest") or digest_of(reply.content)
        return Manifest(digest, media_type, reply.content)

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store `body` under a tag (or its digest); the registry's digest of it."""
        reply = self._call(
            "PUT",
            repository,
            f"/v2/{repository}/manifests/{reference}",
            {"Content-Type": media_type},
            body,
            push=True,
        )
        self._check(reply, f"storing {repository}:{reference}")
        return reply.headers.get("docker-content-digest") or digest_of(body)

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest and every tag on it; False when it was not there."""
        reply = self._call(
            "DELETE", repository, f"/v2/{repository}/manifests/{digest}", {}, delete=True
        )
        if reply.status_code == 404:
            return False
        self._check(reply, f"deleting {repository}@{digest}")
        return True

    def tags(self, repository: str) -> list[str]:
        reply = self._call("GET", repository, f"/v2/{repository}/tags/list", {})
        if reply.status_code == 404:
            return []
        self._check(reply, f"listing the tags of {repository}")
        return list(orjson.loads(reply.content).get("tags") or [])

    def blob_exists(self, repository: str, digest: str) -> bool:
        reply = self._call("HEAD", repository, f"/v2/{repository}/blobs/{digest}", {})
        if reply.status_code == 404:
            return False
        self._check(reply, f"looking for {repository}@{digest}")
        return True

    # -- plumbing ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        repository: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
        *,
        push: bool = False,
        delete: bool = False,
    ) -> httpx.Response:
        actions = ("pull", *(("push",) if push else ()), *(("delete",) if delete else ()))
        token = self._token("repository", repository, actions)
        try:
            return self._http.request(
                method,
                path,
                headers={**headers, "Authorization": f"Bearer {token}"},
                content=body,
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"the registry at {self.url} did not answer: {exc}") from exc

    def _token(self, kind: str, name: str, actions: tuple[str, ...]) -> str:
        key = (kind, name, actions)
        now = time.monotonic()
        with self._lock:
            held = self._tokens.get(key)
            if held is not None and held[0] > now:
                return held[1]
            if len(self._tokens) > 1000:
                self._tokens = {k: v for k, v in self._tokens.items() if v[0] > now}
        token = self._sign(kind, name, actions)
        with self._lock:
            self._tokens[key] = (now + _REUSE_FOR, token)
        return token

    @staticmethod
    def _check(reply: httpx.Response, doing: str) -> None:
        if reply.status_code < 300:
            return
        code, message = "", reply.text[:300]
        try:
            first = (orjson.loads(reply.content).get("errors") or [{}])[0]
            code, message = str(first.get("code", "")), str(first.get("message", message))
        except (orjson.JSONDecodeError, AttributeError, IndexError):
            pass
        raise RegistryError(
            f"{doing}: the registry answered {reply.status_code} {code} {message}".strip(),
            reply.status_code,
            code,
        )
