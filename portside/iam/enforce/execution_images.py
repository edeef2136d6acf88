"""A task's images from Portside's ECR, pulled as its execution role: the ECS agent asks ECR
for registry auth with the role's session, then Docker pulls the manifest and the layers:

    ecr:GetAuthorizationToken       on *                  ResourceInitializationError ...
                                                          unable to retrieve ecr registry auth
    ecr:BatchGetImage               on the repository     CannotPullContainerError ... 403
    ecr:GetDownloadUrlForLayer      on the repository     CannotPullContainerError ... 403

in the agent's and Docker's words. An image of any other registry is not ECR's business:
the host's Docker configuration or the container's repositoryCredentials apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from portside.ecr.shapes import registry_host
from portside.iam.enforce.identities import Identity, denied
from portside.ops.context import Op

AUTH_FAILED = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 "
    "time(s): AccessDeniedException: "
)


def images_refusal(op: Op, identity: Identity, definition: Mapping[str, Any]) -> str | None:
    """The stopped reason when the execution role may not pull one of the definition's
    images from Portside's ECR; None when it may pull them all."""
    ecr = list(_ecr_images(op, definition))
    if not ecr:
        return None
    message = denied(identity, "ecr:GetAuthorizationToken", "*")
    if message is not None:
        return f"{AUTH_FAILED}{message} status code: 400, request id: {uuid.uuid4()}"
    for image, host, repository, reference in ecr:
        arn = f"arn:aws:ecr:{op.region}:{op.account}:repository/{repository}"
        for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
            if denied(identity, action, arn) is not None:
                return (
                    "CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                    f"failed to resolve ref {image}: pulling from host {host} failed with "
                    f"status code [manifests {reference}]: 403 Forbidden"
                )
    return None


def _ecr_images(op: Op, definition: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(image, registry host, repository, tag or digest) of each container whose image is in
    this account's ECR: on the registry's address, or named by ECR's own host name."""
    hosts = {
        registry_host(op.store, op.account, op.region).lower(),
        f"{op.account}.dkr.ecr.{op.region}.amazonaws.com",
    }
    for container in definition.get("containerDefinitions") or ():
        image = str(container.get("image") or "")
        host, sep, path = image.partition("/")
        if not sep or host.lower() not in hosts:
            continue
        repository, at, digest = path.partition("@")
        reference = digest if at else "latest"
        if not at:
            last = repository.rsplit("/", 1)[-1]
            if ":" in last:
                repository, _, reference = repository.rpartition(":")
        yield image, host, repository, reference
