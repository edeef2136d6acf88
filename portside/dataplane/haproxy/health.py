"""A server's health in ELB's words, from what the runtime API shows. Pure.

HAProxy's last check status names what failed: a wrong HTTP status (L7STS) is ELB's
`Target.ResponseCodeMismatch`, a timeout at any layer `Target.Timeout`, anything else
(refused connection L4CON, a broken response L7RSP, a socket error) `Target.FailedHealthChecks`.
A server that is down without a failed check has not yet passed `rise` checks: initial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from portside.dataplane.haproxy.parsing import OP_STOPPED, ServerState, StatRow

HealthStateName = Literal["healthy", "unhealthy", "unknown"]

_PASSED = {"", "INI", "UNK", "L4OK", "L6OK", "L7OK", "L7OKC"}
_TIMEOUTS = {"L4TOUT", "L6TOUT", "L7TOUT"}


@dataclass(frozen=True)
class TargetHealth:
    state: HealthStateName
    reason: str | None = None  # ELB's reason code
    description: str = ""


REGISTERING = TargetHealth(
    "unknown", "Elb.RegistrationInProgress", "Target registration is in progress"
)
INITIAL = TargetHealth(
    "unknown", "Elb.InitialHealthChecking", "Initial health checking in progress"
)
UNAVAILABLE = TargetHealth("unknown", "Elb.InternalError", "The load balancer is not running")
UNCHECKED = TargetHealth("healthy", None, "Health checks are disabled")


def failure(stat: StatRow) -> TargetHealth:
    """The unhealthy verdict for the failed check `stat` last reported."""
    status = stat.check_status
    if status == "L7STS":
        code = stat.check_code if stat.check_code is not None else "?"
        return TargetHealth(
            "unhealthy",
            "Target.ResponseCodeMismatch",
            f"Health checks failed with these codes: [{code}]",
        )
    if status in _TIMEOUTS:
        return TargetHealth("unhealthy", "Target.Timeout", "Request timed out")
    detail = f" ({stat.check_desc})" if stat.check_desc else ""
    return TargetHealth("unhealthy", "Target.FailedHealthChecks", f"Health checks failed{detail}")


def target_health(
    state: ServerState | None, stat: StatRow | None, checks_enabled: bool
) -> TargetHealth:
    """The health of one server; `state` and `stat` are None when HAProxy lacks it."""
    if state is None or stat is None or state.in_maintenance:
        return REGISTERING
    if not checks_enabled:
        return UNCHECKED
    if state.op_state != OP_STOPPED:
        # HAProxy starts a server it has no saved state for as up, before any check: not
        # healthy until a check says so (ELB's initial).
        return INITIAL if stat.check_status == "INI" else TargetHealth("healthy")
    if stat.check_status in _PASSED:
        return INITIAL
    return failure(stat)
