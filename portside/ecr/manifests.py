"""What ECR says of an image from its manifest: size, artifact type, the manifests an index
names; pure."""

from __future__ import annotations

import re
from typing import Any

INDEX_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
DIGEST = re.compile(r"^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$")


def is_index(media_type: str, doc: dict[str, Any]) -> bool:
    return media_type in INDEX_TYPES or doc.get("mediaType") in INDEX_TYPES


def children(doc: dict[str, Any]) -> list[str]:
    """The digests of the manifests an index (a multi-platform image) names."""
    return [str(m["digest"]) for m in doc.get("manifests") or () if isinstance(m, dict)]


def layers_size(doc: dict[str, Any]) -> int:
    """An image manifest's size as ECR counts it: its layers as pushed (compressed). A
    schema 1 manifest gives no sizes: 0."""
    return sum(int(layer.get("size") or 0) for layer in doc.get("layers") or ())


def artifact_type(doc: dict[str, Any]) -> str | None:
    config = doc.get("config")
    if isinstance(config, dict) and config.get("mediaType"):
        return str(config["mediaType"])
    return None


def media_type_of(body: dict[str, Any], given: str | None) -> str | None:
    """PutImage's media type: the one given, else the manifest's own `mediaType`, else a
    schema 1 manifest's (it has `schemaVersion` 1 and no media type)."""
    if given:
        return given
    if body.get("mediaType"):
        return str(body["mediaType"])
    if body.get("schemaVersion") == 1:
        return "application/vnd.docker.distribution.manifest.v1+prettyjws"
    if body.get("manifests") is not None:
        return "application/vnd.oci.image.index.v1+json"
    if body.get("layers") is not None:
        return "application/vnd.oci.image.manifest.v1+json"
    return None
