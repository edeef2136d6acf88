"""ELB's quotas as Portside keeps them (DescribeAccountLimits shows them)."""

from __future__ import annotations

from typing import Any

from portside.elb.operations import action
from portside.ops.context import Op

LISTENERS_PER_LB = 50
RULES_PER_LISTENER = 100
TARGETS_PER_GROUP = 1000
TAGS_PER_RESOURCE = 50
CONDITION_VALUES_PER_RULE = 5
TARGET_GROUPS_PER_ACTION = 5

_SHOWN = {
    "listeners-per-application-load-balancer": LISTENERS_PER_LB,
    "listeners-per-network-load-balancer": LISTENERS_PER_LB,
    "rules-per-application-load-balancer": RULES_PER_LISTENER,
    "targets-per-application-load-balancer": TARGETS_PER_GROUP,
    "target-groups-per-action-on-application-load-balancer": TARGET_GROUPS_PER_ACTION,
}


@action("DescribeAccountLimits")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"Limits": [{"Name": k, "Max": str(v)} for k, v in _SHOWN.items()]}
