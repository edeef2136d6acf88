"""A service's deploymentConfiguration as values: how far a rolling deployment may go below and
above the desired count, and when it fails (the circuit breaker, alarms).

The edge parses the request's (api/ecs/requests_services.py); ops/service_validation.py merges
it over the service's, member by member, and checks it; the service controller reads the
percentages and the breaker. A None member was not given: `to_doc` leaves it out, so the
stored document, which DescribeServices shows, holds the members as they were given or
defaulted, in the order they came. Members Portside refuses unless empty (lifecycle hooks,
linear and canary configurations) or does not act on (alarms, earlySuccessCriteria) are kept
as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from portside.model.doc import GivenMembers

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ThresholdConfiguration(GivenMembers):
    type: str | None = None  # COUNT | BOUNDED_PERCENT | UNBOUNDED_PERCENT
    value: int | None = None


@dataclass(frozen=True, slots=True)
class CircuitBreaker(GivenMembers):
    """deploymentCircuitBreaker."""

    enable: bool | None = None
    rollback: bool | None = None
    reset_on_healthy_task: bool | None = None  # True unless given
    threshold_configuration: ThresholdConfiguration | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.enable)

    @property
    def rolls_back(self) -> bool:
        return bool(self.rollback)

    @property
    def resets_on_healthy_task(self) -> bool:
        return self.reset_on_healthy_task is not False


@dataclass(frozen=True, slots=True)
class DeploymentAlarms(GivenMembers):
    alarm_names: tuple[str, ...] | None = None
    rollback: bool | None = None
    enable: bool | None = None


@dataclass(frozen=True, slots=True)
class DeploymentConfiguration(GivenMembers):
    deployment_circuit_breaker: CircuitBreaker | None = None
    maximum_percent: int | None = None
    minimum_healthy_percent: int | None = None
    alarms: DeploymentAlarms | None = None
    strategy: str | None = None  # ROLLING (the only one Portside runs)
    bake_time_in_minutes: int | None = None  # blue/green only: never stored
    lifecycle_hooks: tuple[Document, ...] | None = None
    linear_configuration: Document | None = None
    canary_configuration: Document | None = None
    early_success_criteria: Document | None = None

    @property
    def circuit_breaker(self) -> CircuitBreaker:
        """The breaker (off when not configured)."""
        return self.deployment_circuit_breaker or NO_BREAKER

    def over(self, base: DeploymentConfiguration) -> DeploymentConfiguration:
        """This configuration's members where given, `base`'s elsewhere (member by member, as
        UpdateService changes a service's); listed as base's, then the new ones."""
        kept = {
            f.name: getattr(base, f.name) for f in fields(self) if getattr(self, f.name) is None
        }
        order = base.given_keys()
        order += [key for key in self.given_keys() if key not in order]
        return replace(self, **kept, member_order=tuple(order))


NO_BREAKER = CircuitBreaker()
