"""The Describe* action of a cluster's own resources (tasks, container instances, services):
the references under the resource's member, each described (with its tags when `include`
asks for TAGS) or among the failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from portside.api.ecs.registry import action
from portside.ops.context import Op
from portside.ops.describing import Failure
from portside.wire.replies import drop_none

View = TypeVar("View")
Json = dict[str, Any]


def failures_shown(items: list[Failure]) -> list[Json]:
    """Failures as ECS shows them: arn, reason and detail, those there are."""
    return [
        drop_none({"arn": f.get("arn"), "reason": f["reason"], "detail": f.get("detail")})
        for f in items
    ]


def describe_members(
    name: str,
    member: str,
    describe: Callable[[Op, str | None, Sequence[str]], tuple[list[View], list[Failure]]],
    shape: Callable[[View, bool], Json],
) -> None:
    """Register the action `name`: `describe` the cluster's resources `member` names, and
    answer them under `member` too."""

    @action(name)
    def handler(op: Op, p: Json) -> Json:
        found, failures = describe(op, p.get("cluster"), p[member])
        include_tags = "TAGS" in (p.get("include") or ())
        return {
            member: [shape(v, include_tags) for v in found],
            "failures": failures_shown(failures),
        }
