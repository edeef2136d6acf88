"""A registry client written from the token and registry specifications, for tests that
need images without a Docker Engine: it logs in with ECR's password through the token
server, uploads blobs and puts manifests as `docker push` does."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Pushed:
    digest: str
    manifest: bytes
    layers_size: int


class Pusher:
    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url
        self.user = user
        self.password = password
        self.http = httpx.Client(base_url=url, timeout=30)

    @classmethod
    def login(cls, ecr: Any) -> Pusher:
        data = ecr.get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        pusher = cls(data["proxyEndpoint"], user, password)
        pusher.wait_ready()
        return pusher

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.http.get("/v2/").status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the registry at {self.url} did not answer"
            time.sleep(0.05)

    def challenge(self) -> dict[str, str]:
        header = self.http.get("/v2/").headers["www-authenticate"]
        assert header.startswith("Bearer ")
        return dict(re.findall(r'(\w+)="([^"]*)"', header))

    def token_reply(self, scope: str | None, password: str | None = None) -> httpx.Response:
        found = self.challenge()
        params = {"service": found["service"], **({"scope": scope} if scope else {})}
        return httpx.get(
            found["realm"], params=params, auth=(self.user, password or self.password), timeout=10
        )

    def token(self, repository: str, actions: str = "pull,push") -> str:
        reply = self.token_reply(f"repository:{repository}:{actions}")
        assert reply.status_code == 200, reply.text
        return str(reply.json()["token"])

    def token_granted(self, repository: str, actions: str = "pull,push") -> list[Any]:
        """What the token server grants on `repository` to this login."""
        reply = self.token_reply(f"repository:{repository}:{actions}")
        assert reply.status_code == 200, reply.text
        return self.granted_by(reply)

    @staticmethod
    def granted_by(reply: httpx.Response) -> list[Any]:
        claims = str(reply.json()["token"]).split(".")[1]
        decoded = base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))
        return list(orjson.loads(decoded)["access"])

    def push(self, repository: str, tag: str | None = None, layers: int = 1) -> Pushed:
        """A fresh image of `layers` random layers, under `tag` (or by digest alone)."""
        token = self.token(repository)
        blobs = [os.urandom(2048 + 512 * i) for i in range(layers)]
        config = orjson.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [digest(b) for b in blobs]},
            }
        )
        for blob in (*blobs, config):
            self.upload(repository, blob, token)
        manifest = orjson.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": {"mediaType": CONFIG, "size": len(config), "digest": digest(config)},
                "layers": [
                    {"mediaType": LAYER, "size": len(b), "digest": digest(b)} for b in blobs
                ],
            }
        )
        self.put_manifest(repository, tag or digest(manifest), manifest, token)
        return Pushed(digest(manifest), manifest, sum(len(b) for b in blobs))

    def upload(self, repository: str, blob: bytes, token: str) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        start = self.http.post(f"/v2/{repository}/blobs/uploads/", headers=auth)
        assert start.status_code == 202, start.text
        location = start.headers["location"]
        sep = "&" if "?" in location else "?"
        done = self.http.put(
            f"{location}{sep}digest={digest(blob)}",
            headers={**auth, "Content-Type": "application/octet-stream"},
            content=blob,
        )
        assert done.status_code == 201, done.text

    def put_manifest(
        self, repository: str, reference: str, manifest: bytes, token: str
    ) -> httpx.Response:
        reply = self.http.put(
            f"/v2/{repository}/manifests/{reference}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": MANIFEST},
            content=manifest,
        )
        assert reply.status_code == 201, reply.text
        return reply

    def pull_manifest(self, repository: str, reference: str) -> httpx.Response:
        token = self.token(repository, "pull")
        return self.http.get(
            f"/v2/{repository}/manifests/{reference}",
            headers={"Authorization": f"Bearer {token}", "Accept": MANIFEST},
        )
