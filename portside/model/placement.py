"""Placement rules as values: ECS's PlacementConstraint (`{type, expression}`) and
PlacementStrategy (`{type, field}`).

The edges parse a request's (wire/task_requests.py for RunTask, StartTask and the schedules'
targets, api/ecs/requests_services.py for services); scheduler/constraints and
scheduler/strategies turn them into filters and rankers and word ECS's refusals. A task
definition's own placementConstraints stay in its `spec` (model/task_definition.py) and are
read as these values where they join the call's (ops/placement.py). A service stores them and
DescribeServices shows them back as given (`to_doc`: the members given, in the order sent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portside.model.doc import GivenMembers


@dataclass(frozen=True, slots=True)
class PlacementConstraint(GivenMembers):
    type: str | None = None  # memberOf | distinctInstance
    expression: str | None = None  # the cluster query language (memberOf only)


@dataclass(frozen=True, slots=True)
class PlacementStrategy(GivenMembers):
    type: str | None = None  # random | spread | binpack
    field: str | None = None  # binpack: cpu | memory; spread: instanceId | host | attribute:NAME


def constraints_of(items: Iterable[Mapping[str, Any]] | None) -> tuple[PlacementConstraint, ...]:
    """A placementConstraints list (a request's, or a task definition's) as values."""
    return tuple(PlacementConstraint.from_doc(i) for i in items or ())


def strategies_of(items: Iterable[Mapping[str, Any]] | None) -> tuple[PlacementStrategy, ...]:
    """A placementStrategy list as values."""
    return tuple(PlacementStrategy.from_doc(i) for i in items or ())
