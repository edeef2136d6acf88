"""RunTask's and StartTask's `overrides` (ECS's TaskOverride) as values.

The edge parses them (wire/task_requests.py); ops/ checks them against the task definition,
counts them in the task's reservation and stores them as ECS echoes them (`echoed`: an entry
per container). A None member was not given; `to_doc` leaves it out, so the stored document
holds what was given, in the order it came, and nothing more.

The agent applies overrides from the stored task through gateway/protocol's own
`TaskOverrides`, the subset an agent acts on in the protocol's form. That one could be built on
this value (gateway/protocol may import model/, never the reverse); it has not been yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from portside.model.doc import GivenMembers

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class KeyValue(GivenMembers):
    """An environment variable (ECS's KeyValuePair: both members optional)."""

    name: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class EnvironmentFile(GivenMembers):
    value: str | None = None  # an S3 object ARN
    type: str | None = None  # s3


@dataclass(frozen=True, slots=True)
class ResourceRequirement(GivenMembers):
    type: str | None = None  # GPU | InferenceAccelerator
    value: str | None = None
    sharing_strategy: Document | None = None  # kept as given: Portside does not act on it


@dataclass(frozen=True, slots=True)
class InferenceAcceleratorOverride(GivenMembers):
    device_name: str | None = None
    device_type: str | None = None


@dataclass(frozen=True, slots=True)
class EphemeralStorage(GivenMembers):
    size_in_gib: int | None = field(default=None, metadata={"key": "sizeInGiB"})


@dataclass(frozen=True, slots=True)
class ContainerOverride(GivenMembers):
    """One containerOverrides entry: what replaces the named container's definition."""

    name: str | None = None
    command: tuple[str, ...] | None = None
    environment: tuple[KeyValue, ...] | None = None
    environment_files: tuple[EnvironmentFile, ...] | None = None
    cpu: int | None = None
    memory: int | None = None
    memory_reservation: int | None = None
    resource_requirements: tuple[ResourceRequirement, ...] | None = None

    def resources_of(self, definition: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        """(cpu, memory, memoryReservation) of the container with this override: each member
        given replaces the definition's."""
        return (
            definition.get("cpu", 0) if self.cpu is None else self.cpu,
            definition.get("memory") if self.memory is None else self.memory,
            definition.get("memoryReservation")
            if self.memory_reservation is None
            else self.memory_reservation,
        )


@dataclass(frozen=True, slots=True)
class TaskOverrides(GivenMembers):
    container_overrides: tuple[ContainerOverride, ...] | None = None
    cpu: str | None = None
    inference_accelerator_overrides: tuple[InferenceAcceleratorOverride, ...] | None = None
    execution_role_arn: str | None = None
    memory: str | None = None
    task_role_arn: str | None = None
    ephemeral_storage: EphemeralStorage | None = None

    def for_container(self, name: str) -> ContainerOverride:
        """The override of the named container (the last given for it), or an empty one."""
        found = ContainerOverride(name=name)
        for o in self.container_overrides or ():
            if o.name == name:
                found = o
        return found

    def echoed(self, names: Iterable[str]) -> TaskOverrides:
        """As ECS stores and shows them: an entry per container of the definition (only its
        name where none was given) and inferenceAcceleratorOverrides always present."""
        order = self.given_keys()
        order += [
            k for k in ("containerOverrides", "inferenceAcceleratorOverrides") if k not in order
        ]
        return replace(
            self,
            container_overrides=tuple(self.for_container(n) for n in names),
            inference_accelerator_overrides=self.inference_accelerator_overrides or (),
            member_order=tuple(order),
        )


NO_OVERRIDES = TaskOverrides()
