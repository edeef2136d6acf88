"""CodeDeploy on the edge (json 1.1, target prefix CodeDeploy_20141006, signing name
`codedeploy`): the operations its modules register."""

from __future__ import annotations

from portside.api.registry import ServiceSpec
from portside.api.validation import CoralDialect
from portside.codedeploy import (  # noqa: F401  (imported to register their actions)
    applications,
    configs,
    deployments,
    groups,
    tagging,
)
from portside.codedeploy.api_base import ACTIONS

SERVICE = ServiceSpec(
    "codedeploy",
    ACTIONS,
    signing_name="codedeploy",
    dialect=CoralDialect(),
    body_limit=1 << 20,
)

__all__ = ["ACTIONS", "SERVICE"]
