"""A repository as ECR shows it, from its stored document and where the registry listens."""

from __future__ import annotations

from typing import Any

from portside.ecr import runtime
from portside.store.base import Document


def registry_host(store: object, account: str, region: str) -> str:
    """Where images are pushed and pulled: the registry's loopback address (ECR's own
    `<account>.dkr.ecr.<region>.amazonaws.com` would need DNS Docker cannot be given)."""
    found = runtime.find(store)
    if found is None:
        return f"{account}.dkr.ecr.{region}.amazonaws.com"
    return found.plane.address


def repository(doc: Document, host: str) -> dict[str, Any]:
    out = {
        "repositoryArn": doc["repositoryArn"],
        "registryId": doc["registryId"],
        "repositoryName": doc["repositoryName"],
        "repositoryUri": f"{host}/{doc['repositoryName']}",
        "createdAt": doc["createdAt"],
        "imageTagMutability": doc["imageTagMutability"],
        "imageScanningConfiguration": doc["imageScanningConfiguration"],
        "encryptionConfiguration": doc["encryptionConfiguration"],
    }
    if doc.get("imageTagMutabilityExclusionFilters"):
        out["imageTagMutabilityExclusionFilters"] = doc["imageTagMutabilityExclusionFilters"]
    return out
