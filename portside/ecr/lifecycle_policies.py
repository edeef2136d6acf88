"""Lifecycle policies and their previews: Put/Get/DeleteLifecyclePolicy,
Start/GetLifecyclePolicyPreview. The policy is kept in the repository's document; ECR's
background pass (background.py) applies it. A preview is computed when asked for, against
the images the registry holds then, so it is always COMPLETE."""

from __future__ import annotations

from typing import Any

from portside.ecr import images, lifecycle, records, runtime
from portside.ecr.operations import action
from portside.errors import InvalidParameterException, NamedError
from portside.ops import paging
from portside.ops.context import Op
from portside.store.base import Document
from portside.wire.replies import drop_none, page


def _no_policy(name: str, account: str) -> NamedError:
    return NamedError(
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{account}'",
    )


def _named(p: dict[str, Any], op: Op) -> tuple[str, str]:
    return p["repositoryName"], records.registry_id(p, op.account)


@action("PutLifecyclePolicy")
def put_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = _named(p, op)
    text = p["lifecyclePolicyText"]
    lifecycle.parse(text)
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        doc["lifecyclePolicy"] = {"text": text, "lastEvaluatedAt": None}
        records.save(tx, doc)
    found = runtime.find(op.store)
    if found is not None:
        found.wake.set()
    return {"registryId": account, "repositoryName": name, "lifecyclePolicyText": text}


def _policy(doc: Document) -> dict[str, Any]:
    policy = doc.get("lifecyclePolicy")
    if not policy:
        raise _no_policy(doc["repositoryName"], doc["registryId"])
    return drop_none(
        {
            "registryId": doc["registryId"],
            "repositoryName": doc["repositoryName"],
            "lifecyclePolicyText": policy["text"],
            "lastEvaluatedAt": policy.get("lastEvaluatedAt"),
        }
    )


@action("GetLifecyclePolicy")
def get_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = _named(p, op)
    with op.store.read() as tx:
        return _policy(records.load(tx, account, op.region, name))


@action("DeleteLifecyclePolicy")
def delete_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = _named(p, op)
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        shown = _policy(doc)
        doc["lifecyclePolicy"] = None
        records.save(tx, doc)
    return shown


@action("StartLifecyclePolicyPreview")
def start_preview(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = _named(p, op)
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        text = p.get("lifecyclePolicyText") or (doc.get("lifecyclePolicy") or {}).get("text")
        if not text:
            raise _no_policy(name, account)
        lifecycle.parse(text)
        doc["lifecyclePreview"] = {"text": text}
        records.save(tx, doc)
    return {
        "registryId": account,
        "repositoryName": name,
        "lifecyclePolicyText": text,
        "status": "IN_PROGRESS",
    }


@action("GetLifecyclePolicyPreview")
def get_preview(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    t = images.target(op, p, running=False)
    preview = t.doc.get("lifecyclePreview")
    if not preview:
        raise NamedError(
            "LifecyclePolicyPreviewNotFoundException",
            f"There is no lifecycle policy preview for the repository with name '{t.name}' "
            f"in the registry with id '{t.account}'",
        )
    held = [lifecycle.Image(i.digest, i.tags, i.pushed_at) for i in t.images.values()]
    expiries = lifecycle.evaluate(lifecycle.parse(preview["text"]), held, op.now())
    if p.get("imageIds"):
        wanted = {images.resolve(i, t) for i in p["imageIds"]}
        expiries = [e for e in expiries if e.image.digest in wanted]
    status = (p.get("filter") or {}).get("tagStatus") or "ANY"
    if status != "ANY":
        expiries = [e for e in expiries if (status == "TAGGED") == bool(e.image.tags)]
    after = paging.decode_token(
        p.get("nextToken"), lambda _: InvalidParameterException("Invalid nextToken")
    )
    ordered = sorted((e for e in expiries if e.image.digest > after), key=lambda e: e.image.digest)
    size = p.get("maxResults") or 100
    token = paging.encode_token(ordered[size - 1].image.digest) if len(ordered) > size else None
    results = [
        {
            "imageTags": list(e.image.tags),
            "imageDigest": e.image.digest,
            "imagePushedAt": e.image.pushed_at,
            "action": {"type": "EXPIRE"},
            "appliedRulePriority": e.priority,
        }
        for e in ordered[:size]
    ]
    return {
        "registryId": t.account,
        "repositoryName": t.name,
        "lifecyclePolicyText": preview["text"],
        "status": "COMPLETE",
        **page("previewResults", results, token),
        "summary": {"expiringImageTotalCount": len(expiries)},
    }
