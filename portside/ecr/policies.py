"""Repository and registry policies, and the registry's settings, as far as clients (the
Terraform provider among them) read them. Repository policies are kept and shown back, not
enforced: every principal of an account may use its repositories. Registries have no
policy, replication or enhanced scanning here."""

from __future__ import annotations

from typing import Any

import orjson

from portside.ecr import records
from portside.ecr.operations import action
from portside.errors import InvalidParameterException, NamedError
from portside.ops.context import Op


def _no_repository_policy(name: str, account: str) -> NamedError:
    return NamedError(
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{account}'",
    )


@action("SetRepositoryPolicy")
def set_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = p["repositoryName"], records.registry_id(p, op.account)
    text = p["policyText"]
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Statement"), list | dict):
        raise InvalidParameterException(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid "
            "repository policy provided'"
        )
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        doc["repositoryPolicy"] = text
        records.save(tx, doc)
    return {"registryId": account, "repositoryName": name, "policyText": text}


@action("GetRepositoryPolicy")
def get_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = p["repositoryName"], records.registry_id(p, op.account)
    with op.store.read() as tx:
        doc = records.load(tx, account, op.region, name)
    if not doc.get("repositoryPolicy"):
        raise _no_repository_policy(name, account)
    return {"registryId": account, "repositoryName": name, "policyText": doc["repositoryPolicy"]}


@action("DeleteRepositoryPolicy")
def delete_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, account = p["repositoryName"], records.registry_id(p, op.account)
    with op.store.transaction() as tx:
        doc = records.load(tx, account, op.region, name)
        text = doc.get("repositoryPolicy")
        if not text:
            raise _no_repository_policy(name, account)
        doc["repositoryPolicy"] = None
        records.save(tx, doc)
    return {"registryId": account, "repositoryName": name, "policyText": text}


@action("DescribeRegistry")
def describe_registry(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"registryId": op.account, "replicationConfiguration": {"rules": []}}


@action("GetRegistryPolicy")
def get_registry_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    raise NamedError(
        "RegistryPolicyNotFoundException",
        f"Registry policy does not exist in the registry with id '{op.account}'",
    )


@action("GetRegistryScanningConfiguration")
def get_scanning(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"registryId": op.account, "scanningConfiguration": {"scanType": "BASIC", "rules": []}}
