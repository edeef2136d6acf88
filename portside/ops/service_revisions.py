"""Service revisions: DescribeServiceRevisions, the configuration each deployment ran.

A service revision is our Deployment seen as what it ran (service_deployments.py maps the
ARNs): its task definition, launch type or capacity provider strategy, platform version,
network and Service Connect configuration are the deployment's own; load balancers and
service registries are kept on the service alone, so a revision shows the service's. The
containers' images are the task definition's (a digest only where the image names one).
Rollback deployments are revisions too: a rolled-back service deployment points at one.
ECS deletes a deleted service's revisions with it (developer guide), so an INACTIVE service
has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portside.model import arn as arns
from portside.model.service import INACTIVE, Deployment, Service
from portside.model.task_definition import TaskDefinition
from portside.ops.context import Op
from portside.ops.describing import Failure, RefLimits, found_or_missing
from portside.ops.service_deployments import service_revision_arn
from portside.ops.services import load
from portside.ops.task_definitions import find as find_task_definition
from portside.store.base import Tx

MAX_DESCRIBE_REVISIONS = 20
DESCRIBE_LIMITS = RefLimits(  # wording: ours
    MAX_DESCRIBE_REVISIONS,
    "serviceRevisionArns cannot be empty.",
    f"At most {MAX_DESCRIBE_REVISIONS} service revisions can be described at a time; "
    "{given} were given.",
)


@dataclass(frozen=True, slots=True)
class ContainerImage:
    container: str
    image: str
    digest: str | None


@dataclass(frozen=True, slots=True)
class ServiceRevisionView:
    service: Service
    deployment: Deployment
    images: tuple[ContainerImage, ...]

    @property
    def arn(self) -> str:
        return service_revision_arn(self.service, self.deployment.id)


def images_of(td: TaskDefinition | None) -> tuple[ContainerImage, ...]:
    if td is None:
        return ()
    found = []
    for c in td.spec.get("containerDefinitions") or []:
        image = str(c.get("image") or "")
        _, at, digest = image.partition("@")
        found.append(ContainerImage(str(c.get("name") or ""), image, digest if at else None))
    return tuple(found)


def describe_service_revisions(
    op: Op, refs: Sequence[str]
) -> tuple[list[ServiceRevisionView], list[Failure]]:
    DESCRIBE_LIMITS.check(refs)
    with op.store.read() as tx:
        return found_or_missing(refs, lambda ref: (ref, _lookup(op, tx, ref)), lambda v: v)


def _lookup(op: Op, tx: Tx, ref: str) -> ServiceRevisionView | None:
    parsed = arns.parse(ref)
    if (
        parsed is None
        or parsed.kind != "service-revision"
        or (parsed.region, parsed.account) != (op.region, op.account)
    ):
        return None
    parts = parsed.path.split("/")
    if len(parts) != 3:
        return None
    cluster_name, name, digits = parts
    service = load(tx, arns.ecs(op.region, op.account, f"service/{cluster_name}/{name}"))
    if service is None or service.status == INACTIVE:
        return None
    deployment = next(
        (d for d in service.deployments if d.id.removeprefix("ecs-svc/") == digits), None
    )
    if deployment is None:
        return None
    td = find_task_definition(op, tx, deployment.task_definition)
    return ServiceRevisionView(service, deployment, images_of(td))
