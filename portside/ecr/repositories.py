"""Repositories: Create, Describe, Delete, and their settings (tag mutability, scanning).

A repository exists in ECR before anything is pushed to it (the token server refuses a push
to a name no repository holds); its images are the registry's.
"""

from __future__ import annotations

import contextlib
from typing import Any

from portside.ecr import immutability, records, runtime, shapes, tagging
from portside.ecr.operations import action
from portside.ecr.records import REPOSITORIES
from portside.errors import InvalidParameterException, NamedError
from portside.ops import paging
from portside.ops.context import Op
from portside.registry.process import RegistryUnavailable
from portside.store.base import Document
from portside.wire.replies import page

MUTABILITIES_WITH_FILTERS = ("IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")


def _mutability(p: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    mutability = p.get("imageTagMutability") or "MUTABLE"
    filters = p.get("imageTagMutabilityExclusionFilters") or []
    if mutability in MUTABILITIES_WITH_FILTERS and not filters:
        raise InvalidParameterException(
            f"Invalid parameter: imageTagMutabilityExclusionFilters must be specified when "
            f"imageTagMutability is {mutability}"
        )
    if filters and mutability not in MUTABILITIES_WITH_FILTERS:
        raise InvalidParameterException(
            f"Invalid parameter: imageTagMutabilityExclusionFilters cannot be specified when "
            f"imageTagMutability is {mutability}"
        )
    return mutability, [{"filterType": f["filterType"], "filter": f["filter"]} for f in filters]


def _encryption(p: dict[str, Any]) -> dict[str, Any]:
    given = p.get("encryptionConfiguration") or {"encryptionType": "AES256"}
    kind = given["encryptionType"]
    if kind == "AES256" and given.get("kmsKey"):
        raise InvalidParameterException(
            "Invalid parameter: kmsKey can only be specified when encryptionType is KMS"
        )
    out = {"encryptionType": kind}
    if given.get("kmsKey"):
        out["kmsKey"] = given["kmsKey"]
    return out


@action("CreateRepository")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["repositoryName"]
    account = records.registry_id(p, op.account)
    mutability, filters = _mutability(p)
    doc: Document = {
        "repositoryArn": records.arn(account, op.region, name),
        "registryId": account,
        "repositoryName": name,
        "region": op.region,
        "createdAt": op.now(),
        "imageTagMutability": mutability,
        "imageTagMutabilityExclusionFilters": filters,
        "imageScanningConfiguration": {
            "scanOnPush": bool((p.get("imageScanningConfiguration") or {}).get("scanOnPush"))
        },
        "encryptionConfiguration": _encryption(p),
        "tags": tagging.merged([], p.get("tags") or []),
    }
    with op.store.transaction() as tx:
        held = records.holder(tx, name)
        if held is not None:
            where = ""
            if (held["registryId"], held["region"]) != (account, op.region):
                where = (
                    f" (this server's registry has one namespace: it is held in "
                    f"{held['region']} of {held['registryId']})"
                )
            raise NamedError(
                "RepositoryAlreadyExistsException",
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{account}'{where}",
            )
        records.save(tx, doc)
        immutability.clear(tx, name)  # pins a deleted namesake may have left
    found = runtime.find(op.store)
    if found is not None:
        # So a push can follow at once; a registry that cannot run here leaves the
        # repository made (the background pass says why, and pushes are refused).
        with contextlib.suppress(RegistryUnavailable):
            found.plane.start()
    return {"repository": shapes.repository(doc, _host(op, account))}


def _host(op: Op, account: str) -> str:
    return shapes.registry_host(op.store, account, op.region)


@action("DescribeRepositories")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    account = records.registry_id(p, op.account)
    host = _host(op, account)
    names = p.get("repositoryNames")
    with op.store.read() as tx:
        if names:
            if p.get("nextToken") or p.get("maxResults"):
                raise InvalidParameterException(
                    "Invalid parameter: nextToken and maxResults cannot be used with "
                    "repositoryNames"
                )
            docs = [records.load(tx, account, op.region, n) for n in dict.fromkeys(names)]
            return {"repositories": [shapes.repository(d, host) for d in docs]}
        size = p.get("maxResults") or 100
        after = paging.decode_token(p.get("nextToken"), _bad_token)
        prefix = records.scope(account, op.region)
        rows = list(tx.scan(REPOSITORIES, prefix=prefix, after=after, limit=size + 1))
    token = paging.encode_token(rows[size - 1][0]) if len(rows) > size else None
    shown = [shapes.repository(d, host) for _, d in rows[:size]]
    return page("repositories", shown, token)


def _bad_token(token: str) -> InvalidParameterException:
    return InvalidParameterException("Invalid parameter at 'nextToken': the token is not valid")


@action("DeleteRepository")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["repositoryName"]
    account = records.registry_id(p, op.account)
    with op.store.read() as tx:
        doc = records.load(tx, account, op.region, name)
    found = runtime.find(op.store)
    held = found.plane.storage.images(name) if found is not None else {}
    if held and not p.get("force"):
        raise NamedError(
            "RepositoryNotEmptyException",
            f"The repository with name '{name}' in registry with id '{account}' cannot be "
            "deleted because it still contains images",
        )
    if held and found is not None:
        plane = found.registry()
        for digest in held:
            plane.client.delete_manifest(name, digest)
    with op.store.transaction() as tx:
        records.load(tx, account, op.region, name)
        tx.delete(REPOSITORIES, records.key(account, op.region, name))
        immutability.clear(tx, name)
    return {"repository": shapes.repository(doc, _host(op, account))}


@action("PutImageTagMutability")
def put_tag_mutability(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["repositoryName"]
    account = records.registry_id(p, op.account)
    mutability, filters = _mutability(p)
    found = runtime.find(op.store)
    current = found.plane.storage.tags(name) if found is not None else {}
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        doc["imageTagMutability"] = mutability
        doc["imageTagMutabilityExclusionFilters"] = filters
        records.save(tx, doc)
        immutability.repin(tx, doc, current)
    out = {
        "registryId": account,
        "repositoryName": name,
        "imageTagMutability": mutability,
    }
    if filters:
        out["imageTagMutabilityExclusionFilters"] = filters
    return out


@action("PutImageScanningConfiguration")
def put_scanning(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["repositoryName"]
    account = records.registry_id(p, op.account)
    config = {"scanOnPush": bool(p["imageScanningConfiguration"].get("scanOnPush"))}
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        doc["imageScanningConfiguration"] = config
        records.save(tx, doc)
    return {"registryId": account, "repositoryName": name, "imageScanningConfiguration": config}
