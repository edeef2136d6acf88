"""Where ECR keeps what is ECR's alone, and how a request finds a repository.

Images and tags are the registry's (read from it every time: see images.py); the store holds
only what ECR adds around them:

- `ecr_repositories`, one document per repository under `ACCOUNT|REGION|NAME`, with its name
  indexed: settings (tag mutability, scanning, encryption), tags, lifecycle policy and its
  preview, repository policy. The registry has one namespace per control plane, so a name is
  unique across this server's accounts and regions (the index finds its holder).
- `ecr_tag_pins`, under `NAME|TAG`: the digest an immutable tag was first pushed with, which
  a push over it is turned back to (immutability.py).
"""

from __future__ import annotations

import re
from typing import Any

from portside.errors import InvalidParameterException, NamedError
from portside.store.base import Document, Tx

REPOSITORIES = "ecr_repositories"
PINS = "ecr_tag_pins"

_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:([a-z0-9-]+):(\d{12}):repository/(.+)$")


def scope(account: str, region: str) -> str:
    return f"{account}|{region}|"


def key(account: str, region: str, name: str) -> str:
    return scope(account, region) + name


def arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def pin_key(name: str, tag: str) -> str:
    return f"{name}|{tag}"


def not_found(name: str, registry_id: str) -> NamedError:
    return NamedError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
    )


def load(tx: Tx, account: str, region: str, name: str) -> Document:
    doc = tx.get(REPOSITORIES, key(account, region, name))
    if doc is None:
        raise not_found(name, account)
    return doc


def save(tx: Tx, doc: Document) -> None:
    tx.put(REPOSITORIES, key(doc["registryId"], doc["region"], doc["repositoryName"]), doc)


def holder(tx: Tx, name: str) -> Document | None:
    """The repository of this name in any account or region (the registry's namespace)."""
    for _, doc in tx.scan(REPOSITORIES, where={"name": name}):
        return doc
    return None


def parse_arn(value: str) -> tuple[str, str, str]:
    """(account, region, name) of a repository ARN."""
    found = _ARN.match(value)
    if not found:
        raise InvalidParameterException(
            f"Invalid parameter at 'resourceArn' failed to satisfy constraint: "
            f"'Invalid ARN {value}'"
        )
    region, account, name = found.groups()
    return account, region, name


def registry_id(p: dict[str, Any], account: str) -> str:
    """The registry a request names (its account): the caller's unless it says another."""
    return str(p.get("registryId") or account)
