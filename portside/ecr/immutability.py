"""Immutable tags, held after the push.

A registry token grants push on a whole repository, never on one tag, so the registry
itself cannot refuse a push over an existing tag. Portside checks right after: the first
digest an immutable tag is seen with is pinned (`ecr_tag_pins`); the registry's notification
of each manifest push (and, as a backstop for a lost notification, ECR's background pass)
compares the tag with its pin, and a tag found on another digest is put back on the pinned
manifest through the registry's API, the pushed manifest deleted when no tag holds it, and a
warning logged. The client's push itself succeeds; pulls between the push and the check
(milliseconds) can see the new image. PutImage, which Portside serves itself, refuses the
overwrite outright (ImageTagAlreadyExistsException), as ECR does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from portside.ecr import records
from portside.ecr.lifecycle import wildcard
from portside.registry.client import RegistryError
from portside.registry.events import Push
from portside.registry.plane import RegistryPlane
from portside.store.base import Document, Store, Tx

log = logging.getLogger("portside.ecr")


def is_immutable(doc: Document, tag: str) -> bool:
    """Whether the repository's settings make `tag` immutable (exclusion filters: `*`
    wildcards, which exempt a tag from the repository's mutability)."""
    mutability = doc.get("imageTagMutability") or "MUTABLE"
    if mutability in ("MUTABLE", "IMMUTABLE"):
        return mutability == "IMMUTABLE"
    filters = doc.get("imageTagMutabilityExclusionFilters") or []
    excluded = any(wildcard(f["filter"]).match(tag) for f in filters)
    return excluded if mutability == "MUTABLE_WITH_EXCLUSION" else not excluded


def clear(tx: Tx, name: str) -> None:
    for key, _ in list(tx.scan(records.PINS, prefix=f"{name}|")):
        tx.delete(records.PINS, key)


def unpin(tx: Tx, name: str, tags: Sequence[str]) -> None:
    for tag in tags:
        tx.delete(records.PINS, records.pin_key(name, tag))


def repin(tx: Tx, doc: Document, tags: Mapping[str, str]) -> None:
    """The pins after the repository's mutability changed: its immutable tags where they
    stand now."""
    name = doc["repositoryName"]
    clear(tx, name)
    for tag, digest in tags.items():
        if is_immutable(doc, tag):
            tx.put(records.PINS, records.pin_key(name, tag), {"digest": digest})


def on_pushes(store: Store, plane: RegistryPlane, pushes: Sequence[Push]) -> None:
    """The registry's notification: check the tags just pushed."""
    by_repository: dict[str, set[str]] = {}
    for push in pushes:
        if push.tag:
            by_repository.setdefault(push.repository, set()).add(push.tag)
    for name, tags in by_repository.items():
        with store.read() as tx:
            doc = records.holder(tx, name)
        if doc is not None:
            hold(store, plane, doc, tags)


def hold(store: Store, plane: RegistryPlane, doc: Document, only: set[str] | None = None) -> None:
    """Pin the repository's unpinned immutable tags; put back those moved off their pin."""
    name = doc["repositoryName"]
    current = plane.storage.tags(name)
    tags = [t for t in current if (only is None or t in only) and is_immutable(doc, t)]
    if not tags:
        return
    with store.read() as tx:
        pins = {t: tx.get(records.PINS, records.pin_key(name, t)) for t in tags}
    unpinned = [t for t in tags if pins[t] is None]
    if unpinned:
        with store.transaction() as tx:
            for tag in unpinned:
                if tx.get(records.PINS, records.pin_key(name, tag)) is None:
                    tx.put(records.PINS, records.pin_key(name, tag), {"digest": current[tag]})
    for tag in tags:
        pin = pins[tag]
        if pin is not None and pin["digest"] != current[tag]:
            _restore(store, plane, name, tag, pin["digest"], current[tag])


def _restore(
    store: Store, plane: RegistryPlane, name: str, tag: str, pinned: str, pushed: str
) -> None:
    try:
        manifest = plane.client.manifest(name, pinned)
    except RegistryError as exc:
        log.warning("ecr: %s:%s was pushed over; could not read %s: %s", name, tag, pinned, exc)
        return
    if manifest is None:  # the pinned image is gone: the tag starts afresh where it is
        with store.transaction() as tx:
            tx.put(records.PINS, records.pin_key(name, tag), {"digest": pushed})
        return
    held = plane.storage.images(name).get(pinned)
    plane.client.put_manifest(name, tag, manifest.body, manifest.media_type)
    if held is not None:
        plane.storage.keep_pushed_at(name, pinned, held.pushed_at)
    if pushed not in plane.storage.tags(name).values():
        plane.client.delete_manifest(name, pushed)
    log.warning(
        "ecr: a push of %s:%s (%s) was refused: the tag is immutable; it names %s again",
        name,
        tag,
        pushed,
        pinned,
    )
