"""Images: what the registry holds, as ECR shows and changes it.

Nothing about an image is kept in the store. Which manifests a repository holds, their tags
and push times are read from the registry's storage (its API lists tags only, and ECR shows
untagged images too); manifests (sizes, media types, BatchGetImage) come from its HTTP API;
every change (PutImage, BatchDeleteImage, lifecycle expiry) goes through its API, except
removing one tag of an image that keeps others, which distribution 2.8's API cannot do
(registry/storage.py `untag`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from portside.ecr import immutability, manifests, records, runtime
from portside.ecr.operations import action
from portside.errors import InvalidParameterException, NamedError
from portside.ops import paging
from portside.ops.context import Op
from portside.registry.client import RegistryError, digest_of
from portside.registry.plane import RegistryPlane
from portside.registry.storage import StoredImage
from portside.store.base import Document, Store
from portside.wire.replies import page

DEFAULT_PAGE = 100
Failure = tuple[str, str]  # (failureCode, failureReason)

MISSING = ("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null")
BAD_DIGEST = (
    "InvalidImageDigest",
    "Invalid request parameters: image digest should satisfy the regex "
    "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
)
MISMATCH = (
    "ImageTagDoesNotMatchDigest",
    "Invalid request parameters: given tag does not map to the given digest",
)
NOT_FOUND = ("ImageNotFound", "Requested image not found")


@dataclass(slots=True)
class Target:
    """A call's repository: its document, and the registry's view of its images."""

    doc: Document
    plane: RegistryPlane
    images: dict[str, StoredImage]
    tags: dict[str, str]

    @property
    def name(self) -> str:
        return str(self.doc["repositoryName"])

    @property
    def account(self) -> str:
        return str(self.doc["registryId"])

    def refresh(self) -> None:
        self.images = self.plane.storage.images(self.name)
        self.tags = {t: d for d, i in self.images.items() for t in i.tags}


def target(op: Op, p: dict[str, Any], *, running: bool = True) -> Target:
    """The repository `p` names and its images (`running`: the registry's API is needed)."""
    account = records.registry_id(p, op.account)
    with op.store.read() as tx:
        doc = records.load(tx, account, op.region, p["repositoryName"])
    ecr = runtime.of(op)
    plane = ecr.registry() if running else ecr.plane
    found = Target(doc, plane, {}, {})
    found.refresh()
    return found


def resolve(image_id: dict[str, Any], t: Target) -> str | Failure:
    """The digest an imageId names in the repository, or why it names none."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if not digest and not tag:
        return MISSING
    if digest and not manifests.DIGEST.match(digest):
        return BAD_DIGEST
    if tag:
        tagged = t.tags.get(tag)
        if tagged is None:
            return NOT_FOUND
        if digest and digest != tagged:
            return MISMATCH
        digest = tagged
    return digest if digest in t.images else NOT_FOUND


def _shown_id(image_id: dict[str, Any]) -> str:
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    return f"{{imageDigest:'{digest or 'null'}', imageTag:'{tag or 'null'}'}}"


# -- reads ---------------------------------------------------------------------------------


@action("DescribeImages")
def describe_images(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    t = target(op, p)
    token = None
    if p.get("imageIds"):
        if p.get("nextToken") or p.get("maxResults") or p.get("filter"):
            raise InvalidParameterException(
                "Invalid parameter: nextToken, maxResults and filter cannot be used with imageIds"
            )
        chosen: dict[str, StoredImage] = {}
        for image_id in p["imageIds"]:
            found = resolve(image_id, t)
            if found == NOT_FOUND:
                raise NamedError(
                    "ImageNotFoundException",
                    f"The image with imageId {_shown_id(image_id)} does not exist within the "
                    f"repository with name '{t.name}' in the registry with id '{t.account}'",
                )
            if isinstance(found, tuple):
                raise InvalidParameterException(found[1])
            chosen[found] = t.images[found]
        shown = list(chosen.values())
    else:
        status = (p.get("filter") or {}).get("tagStatus") or "ANY"
        after = paging.decode_token(p.get("nextToken"), _bad_token)
        ordered = sorted(d for d, i in t.images.items() if _status_is(i, status) and d > after)
        size = p.get("maxResults") or DEFAULT_PAGE
        if len(ordered) > size:
            token = paging.encode_token(ordered[size - 1])
        shown = [t.images[d] for d in ordered[:size]]
    details = (_detail(t, image) for image in shown)
    return page("imageDetails", [d for d in details if d is not None], token)


def _status_is(image: StoredImage, status: str) -> bool:
    return status == "ANY" or (status == "TAGGED") == bool(image.tags)


def _bad_token(token: str) -> InvalidParameterException:
    return InvalidParameterException("Invalid parameter at 'nextToken': the token is not valid")


def _detail(t: Target, image: StoredImage) -> dict[str, Any] | None:
    manifest = t.plane.client.manifest(t.name, image.digest)
    if manifest is None:  # deleted since the listing
        return None
    doc = manifest.parsed()
    out: dict[str, Any] = {
        "registryId": t.account,
        "repositoryName": t.name,
        "imageDigest": image.digest,
    }
    if image.tags:
        out["imageTags"] = list(image.tags)
    out["imageSizeInBytes"] = _size(t, manifest.media_type, doc)
    out["imagePushedAt"] = image.pushed_at
    out["imageManifestMediaType"] = manifest.media_type
    artifact = manifests.artifact_type(doc)
    if artifact:
        out["artifactMediaType"] = artifact
    return out


def _size(t: Target, media_type: str, doc: dict[str, Any]) -> int:
    """An image's layers; for an index (a multi-platform image), its largest platform's,
    as ECR counts it."""
    if not manifests.is_index(media_type, doc):
        return manifests.layers_size(doc)
    sizes = [0]
    for child in manifests.children(doc):
        held = t.plane.client.manifest(t.name, child) if child in t.images else None
        if held is not None:
            sizes.append(manifests.layers_size(held.parsed()))
    return max(sizes)


@action("ListImages")
def list_images(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    t = target(op, p, running=False)
    status = (p.get("filter") or {}).get("tagStatus") or "ANY"
    entries = sorted(
        (d, tag)
        for d, image in t.images.items()
        if _status_is(image, status)
        for tag in (image.tags or ("",))
    )
    after = paging.decode_token(p.get("nextToken"), _bad_token)
    if after:
        entries = [e for e in entries if f"{e[0]} {e[1]}" > after]
    size = p.get("maxResults") or DEFAULT_PAGE
    token = paging.encode_token(" ".join(entries[size - 1])) if len(entries) > size else None
    ids = [{"imageDigest": d, **({"imageTag": tag} if tag else {})} for d, tag in entries[:size]]
    return page("imageIds", ids, token)


@action("BatchGetImage")
def batch_get_image(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    t = target(op, p)
    accepted = set(p.get("acceptedMediaTypes") or ())
    images, failures = [], []
    for image_id in p["imageIds"]:
        found = resolve(image_id, t)
        manifest = None if isinstance(found, tuple) else t.plane.client.manifest(t.name, found)
        if isinstance(found, tuple) or manifest is None:
            failures.append(_failure(image_id, found if isinstance(found, tuple) else NOT_FOUND))
            continue
        if accepted and manifest.media_type not in accepted:
            reason = f"The image is stored as {manifest.media_type}, not an accepted media type"
            failures.append(_failure(image_id, ("ImageNotFound", reason)))
            continue
        shown_id = {"imageDigest": found}
        if image_id.get("imageTag"):
            shown_id["imageTag"] = image_id["imageTag"]
        images.append(
            {
                "registryId": t.account,
                "repositoryName": t.name,
                "imageId": shown_id,
                "imageManifest": manifest.body.decode(),
                "imageManifestMediaType": manifest.media_type,
            }
        )
    return {"images": images, "failures": failures}


def _failure(image_id: dict[str, Any], failure: Failure) -> dict[str, Any]:
    return {"imageId": image_id, "failureCode": failure[0], "failureReason": failure[1]}


# -- writes --------------------------------------------------------------------------------


@action("BatchDeleteImage")
def batch_delete_image(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    t = target(op, p)
    deleted: list[dict[str, Any]] = []
    failures = []
    for image_id in p["imageIds"]:
        found = resolve(image_id, t)
        if isinstance(found, tuple):
            failures.append(_failure(image_id, found))
            continue
        tag = image_id.get("imageTag")
        image = t.images[found]
        if tag and len(image.tags) > 1:
            t.plane.storage.untag(t.name, tag)  # the image keeps its other tags
            with op.store.transaction() as tx:
                immutability.unpin(tx, t.name, [tag])
            gone = [tag]
        else:
            delete_image(op.store, t.plane, t.name, image)
            gone = list(image.tags)
        deleted.extend({"imageDigest": found, "imageTag": g} for g in gone)
        if not gone:
            deleted.append({"imageDigest": found})
        t.refresh()
    return {"imageIds": deleted, "failures": failures}


def delete_image(store: Store, plane: RegistryPlane, name: str, image: StoredImage) -> None:
    """Delete a manifest and its tags through the registry's API; its tags' pins go."""
    plane.client.delete_manifest(name, image.digest)
    if image.tags:
        with store.transaction() as tx:
            immutability.unpin(tx, name, image.tags)


@action("PutImage")
def put_image(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    t = target(op, p)
    text: str = p["imageManifest"]
    body = text.encode()
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidParameterException(
            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: "
            "'Invalid JSON syntax'"
        )
    media_type = manifests.media_type_of(parsed, p.get("imageManifestMediaType"))
    if media_type is None:
        raise InvalidParameterException(
            "Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: "
            "'Invalid manifest media type'"
        )
    digest = digest_of(body)
    if p.get("imageDigest") and p["imageDigest"] != digest:
        raise NamedError(
            "ImageDigestDoesNotMatchException",
            f"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The digest "
            f"{p['imageDigest']} does not match the digest {digest} of the manifest'",
        )
    tag = p.get("imageTag")
    _check_new(t, digest, tag)
    try:
        t.plane.client.put_manifest(t.name, tag or digest, body, media_type)
    except RegistryError as exc:
        raise _refused(t, parsed, media_type, exc) from None
    if digest in t.images:  # a new tag on an image held: no new push
        t.plane.storage.keep_pushed_at(t.name, digest, t.images[digest].pushed_at)
    if tag and immutability.is_immutable(t.doc, tag):
        immutability.hold(op.store, t.plane, t.doc, {tag})
    image_id = {"imageDigest": digest, **({"imageTag": tag} if tag else {})}
    return {
        "image": {
            "registryId": t.account,
            "repositoryName": t.name,
            "imageId": image_id,
            "imageManifest": text,
            "imageManifestMediaType": media_type,
        }
    }


def _check_new(t: Target, digest: str, tag: str | None) -> None:
    current = t.tags.get(tag) if tag else None
    if (tag and current == digest) or (not tag and digest in t.images):
        shown = f" and tag '{tag}'" if tag else ""
        raise NamedError(
            "ImageAlreadyExistsException",
            f"Image with digest '{digest}'{shown} already exists in the repository with name "
            f"'{t.name}' in registry with id '{t.account}'",
        )
    if tag and current is not None and immutability.is_immutable(t.doc, tag):
        raise NamedError(
            "ImageTagAlreadyExistsException",
            f"The image tag '{tag}' already exists in the '{t.name}' repository and cannot be "
            "overwritten because the repository is immutable.",
        )


def _refused(
    t: Target, parsed: dict[str, Any], media_type: str, exc: RegistryError
) -> NamedError | InvalidParameterException:
    if exc.registry_code in ("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_UNKNOWN"):
        if manifests.is_index(media_type, parsed):
            missing = [c for c in manifests.children(parsed) if c not in t.images]
            return NamedError(
                "ReferencedImagesNotFoundException",
                f"Manifests with digests {_listed(missing)} required for pushing image into "
                f"repository with name '{t.name}' in the registry with id '{t.account}' do "
                "not exist",
            )
        blobs = [str(layer.get("digest")) for layer in parsed.get("layers") or ()]
        config = parsed.get("config") or {}
        if config.get("digest"):
            blobs.append(str(config["digest"]))
        missing = [b for b in blobs if not t.plane.client.blob_exists(t.name, b)]
        return NamedError(
            "LayersNotFoundException",
            f"Layers with digests {_listed(missing)} required for pushing image into "
            f"repository with name '{t.name}' in the registry with id '{t.account}' do not "
            "exist",
        )
    return InvalidParameterException(
        f"Invalid parameter at 'ImageManifest' failed to satisfy constraint: '{exc}'"
    )


def _listed(digests: Iterable[str]) -> str:
    return "[" + ", ".join(digests) + "]"
