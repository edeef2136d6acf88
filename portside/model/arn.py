"""ECS ARNs: build them, and read a resource reference that may be a name, an id or an ARN."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ARN = re.compile(r"^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|\d*):(.+)$")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str  # e.g. "cluster/demo", "task-definition/web:3"

    @property
    def kind(self) -> str:
        return self.resource.split("/", 1)[0]

    @property
    def path(self) -> str:
        return self.resource.split("/", 1)[1] if "/" in self.resource else ""

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse(text: str) -> Arn | None:
    """The parts of an ARN, or None when `text` is not one."""
    m = _ARN.match(text)
    if not m:
        return None
    return Arn(*m.groups())


def is_arn(text: str) -> bool:
    return text.startswith("arn:")


def ecs(region: str, account: str, resource: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:{resource}"


def cluster(region: str, account: str, name: str) -> str:
    return ecs(region, account, f"cluster/{name}")


def task_definition(region: str, account: str, family: str, revision: int) -> str:
    return ecs(region, account, f"task-definition/{family}:{revision}")


def in_cluster(region: str, account: str, kind: str, cluster_arn: str, ref: str) -> str:
    """The ARN a reference to one of a cluster's resources (a task, a container instance)
    names: the ARN itself, or the resource's id under the cluster's name."""
    if is_arn(ref):
        return ref
    return ecs(region, account, f"{kind}/{cluster_arn.rsplit('/', 1)[1]}/{ref}")


def prefix(region: str, account: str, kind: str) -> str:
    """The common prefix of every ARN of one kind in one region and account."""
    return ecs(region, account, f"{kind}/")
