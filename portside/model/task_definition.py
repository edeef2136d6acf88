"""A task definition revision.

The definition itself (`spec`) is kept in ECS's own document shape: containerDefinitions,
volumes, cpu, memory... It is a document that users write and the agent reads field by field,
and ECS's schema is its model; translating its hundred-odd members into Python names would add
a second vocabulary and nothing else. The revision's own bookkeeping is typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


@dataclass(slots=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int
    status: str = ACTIVE
    registered_at: float = 0.0
    registered_by: str = ""
    deregistered_at: float | None = None
    delete_requested_at: float | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {
            "taskDefinitionArn": self.arn,
            "family": self.family,
            "revision": self.revision,
            "status": self.status,
            "registeredAt": self.registered_at,
            "registeredBy": self.registered_by,
            "deregisteredAt": self.deregistered_at,
            "deleteRequestedAt": self.delete_requested_at,
            "spec": self.spec,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TaskDefinition:
        return cls(
            arn=doc["taskDefinitionArn"],
            family=doc["family"],
            revision=doc["revision"],
            status=doc["status"],
            registered_at=doc["registeredAt"],
            registered_by=doc["registeredBy"],
            deregistered_at=doc.get("deregisteredAt"),
            delete_requested_at=doc.get("deleteRequestedAt"),
            spec=doc["spec"],
        )
