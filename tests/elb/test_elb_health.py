"""Target health as a pure function, and when a draining target is gone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portside.elb.health import (
    REGISTRATION_SECONDS,
    Health,
    Observation,
    Registration,
    gone,
    target_health,
)

T0 = 1_000_000.0
REGISTERED = Registration(T0)


def test_not_registered() -> None:
    found = target_health(None, True, None, T0)
    assert found == Health(
        "unused", "Target.NotRegistered", "Target is not registered to the target group"
    )


def test_draining_wins_over_everything_but_registration() -> None:
    draining = Registration(T0, draining_until=T0 + 300)
    observed = Observation("healthy", T0 + 1)
    assert target_health(draining, True, observed, T0 + 2).state == "draining"
    assert target_health(draining, False, None, T0 + 2).reason == "Target.DeregistrationInProgress"


def test_unused_group() -> None:
    found = target_health(REGISTERED, False, Observation("healthy", T0 + 1), T0 + 5)
    assert (found.state, found.reason) == ("unused", "Target.NotInUse")


def test_initial_then_checking() -> None:
    assert target_health(REGISTERED, True, None, T0 + 1).reason == "Elb.RegistrationInProgress"
    later = target_health(REGISTERED, True, None, T0 + REGISTRATION_SECONDS)
    assert (later.state, later.reason) == ("initial", "Elb.InitialHealthChecking")


def test_an_observation_before_this_registration_is_ignored() -> None:
    stale = Observation("unhealthy", T0 - 1, "Target.Timeout")
    assert target_health(REGISTERED, True, stale, T0 + 1).state == "initial"


def test_observed() -> None:
    assert target_health(REGISTERED, True, Observation("healthy", T0 + 3), T0 + 4) == Health(
        "healthy"
    )
    mismatch = Observation(
        "unhealthy",
        T0 + 3,
        "Target.ResponseCodeMismatch",
        "Health checks failed with these codes: [502]",
    )
    assert target_health(REGISTERED, True, mismatch, T0 + 4) == Health(
        "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [502]"
    )
    timeout = target_health(
        REGISTERED, True, Observation("unhealthy", T0 + 3, "Target.Timeout"), T0 + 4
    )
    assert (timeout.reason, timeout.description) == ("Target.Timeout", "Request timed out")
    odd = target_health(REGISTERED, True, Observation("unhealthy", T0 + 3, "made-up"), T0 + 4)
    assert odd.reason == "Target.FailedHealthChecks"


def test_checks_disabled() -> None:
    found = target_health(REGISTERED, True, None, T0 + 1, checks_enabled=False)
    assert (found.state, found.reason) == ("unavailable", "Target.HealthCheckDisabled")


@given(
    registered=st.floats(0, 1e9),
    delay=st.floats(0, 3600),
    after=st.floats(0, 7200),
)
def test_gone_exactly_when_the_delay_has_passed(
    registered: float, delay: float, after: float
) -> None:
    draining = Registration(registered, draining_until=registered + delay)
    now = registered + after
    assert gone(draining, now) == (now >= registered + delay)
    assert not gone(Registration(registered), now)
    if not gone(draining, now):
        assert target_health(draining, True, None, now).state == "draining"


@given(
    in_use=st.booleans(),
    state=st.sampled_from(["healthy", "unhealthy"]),
    at=st.floats(-100, 100),
    now=st.floats(0, 100),
)
def test_states_are_elbs(in_use: bool, state: str, at: float, now: float) -> None:
    found = target_health(Registration(0.0), in_use, Observation(state, at, "Target.Timeout"), now)
    assert found.state in {"initial", "healthy", "unhealthy", "unused", "draining", "unavailable"}
    assert (found.reason is None) == (found.state == "healthy")
