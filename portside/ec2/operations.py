"""The EC2 operations by name: each module of the package registers its own here with
`@action(name)`, which also answers DryRun as EC2 does and makes the caller's default VPC
before the first call that could see it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from portside.api.registry import Handler, Operations
from portside.ec2 import defaults
from portside.ec2.errors import dry_run
from portside.ops.context import Op

ACTIONS = Operations("EC2")


def action(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        @wraps(fn)
        def run(op: Op, p: dict[str, Any]) -> dict[str, Any]:
            if p.get("DryRun"):
                raise dry_run()
            defaults.ensure(op)
            return fn(op, p)

        ACTIONS.action(name)(run)
        return fn

    return register
