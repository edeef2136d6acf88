"""A target's health as DescribeTargetHealth shows it (pure).

It follows from four things only: the target's registration (when it was registered, and
its draining deadline once deregistered), whether its target group receives traffic from a
load balancer (a listener's or a rule's action forwards to it), whether the group checks
health at all, and the data plane's last observation of it (`elb_target_health`: healthy or
unhealthy, with ELB's reason code, and when). The states and reason codes are ELB's
(TargetHealth in the API reference).
"""

from __future__ import annotations

from dataclasses import dataclass

# Right after registration ELB says the registration is in progress; after this long, that
# its first health checks are.
REGISTRATION_SECONDS = 10.0

INITIAL, HEALTHY, UNHEALTHY = "initial", "healthy", "unhealthy"
UNUSED, DRAINING, UNAVAILABLE = "unused", "draining", "unavailable"

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Elb.InternalError": "Health checks failed due to an internal error",
    "Target.ResponseCodeMismatch": "Health checks failed",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.HealthCheckDisabled": "Health checks are disabled",
}
UNHEALTHY_REASONS = frozenset(
    {
        "Target.ResponseCodeMismatch",
        "Target.Timeout",
        "Target.FailedHealthChecks",
        "Target.InvalidState",
        "Elb.InternalError",
    }
)


@dataclass(frozen=True, slots=True)
class Registration:
    registered_at: float
    draining_until: float | None = None  # set once deregistered


@dataclass(frozen=True, slots=True)
class Observation:
    """The data plane's last health check result of a target."""

    state: str  # healthy | unhealthy
    at: float
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Health:
    state: str
    reason: str | None = None
    description: str | None = None


def _because(state: str, reason: str, description: str | None = None) -> Health:
    return Health(state, reason, description or DESCRIPTIONS.get(reason))


def target_health(
    registration: Registration | None,
    in_use: bool,
    observed: Observation | None,
    now: float,
    checks_enabled: bool = True,
) -> Health:
    if registration is None:
        return _because(UNUSED, "Target.NotRegistered")
    if registration.draining_until is not None:
        return _because(DRAINING, "Target.DeregistrationInProgress")
    if not in_use:
        return _because(UNUSED, "Target.NotInUse")
    if not checks_enabled:
        return _because(UNAVAILABLE, "Target.HealthCheckDisabled")
    if observed is None or observed.at < registration.registered_at:
        # An observation from before this registration (the target was registered again)
        # says nothing of this one.
        if now - registration.registered_at < REGISTRATION_SECONDS:
            return _because(INITIAL, "Elb.RegistrationInProgress")
        return _because(INITIAL, "Elb.InitialHealthChecking")
    if observed.state == HEALTHY:
        return Health(HEALTHY)
    reason = (
        observed.reason if observed.reason in UNHEALTHY_REASONS else "Target.FailedHealthChecks"
    )
    return _because(UNHEALTHY, reason, observed.description)


def gone(registration: Registration, now: float) -> bool:
    """A deregistered target is gone once its deregistration delay has passed."""
    return registration.draining_until is not None and now >= registration.draining_until
