"""A task definition revision.

The definition itself (`spec`) is kept in ECS's own document shape: containerDefinitions,
volumes, cpu, memory... It is a document that users write and the agent reads field by field,
and ECS's schema is its model; translating its hundred-odd members into Python names would add
a second vocabulary and nothing else. The revision's own bookkeeping is typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.model.doc import Stored

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


@dataclass(slots=True)
class TaskDefinition(Stored):
    arn: str = field(metadata={"key": "taskDefinitionArn"})
    family: str
    revision: int
    status: str = ACTIVE
    registered_at: float = 0.0
    registered_by: str = ""
    deregistered_at: float | None = None
    delete_requested_at: float | None = None
    spec: dict[str, Any] = field(default_factory=dict)
