"""EC2 Auto Scaling's errors, written by the query codec as `<ErrorResponse>`: a request it
cannot accept is ValidationError (every malformed request, and most missing objects: a group
name not found is a ValidationError, not a fault of its own); the model's faults are
`NamedError`s with their query codes (AlreadyExists, ResourceInUse, LimitExceeded,
ScalingActivityInProgress).

Wording follows Auto Scaling's answers where they are known (`AutoScalingGroup name not
found - ...`, `Max bound, 1, must be greater than or equal to min bound, 2`, `New
SetDesiredCapacity value 10 is above max value 3 for the AutoScalingGroup.`); chosen without
a sample where none was found, in the same style.
"""

from __future__ import annotations

from portside.errors import NamedError, RequestError


class ValidationError(RequestError):
    """Auto Scaling's code for a request it cannot accept as written."""


def group_not_found(name: str) -> ValidationError:
    return ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")


def already_exists(name: str) -> NamedError:
    return NamedError(
        "AlreadyExists",
        f"AutoScalingGroup by this name already exists - A group with the name {name} already "
        "exists",
    )


def in_use(message: str) -> NamedError:
    return NamedError("ResourceInUse", message)


def activity_in_progress(message: str) -> NamedError:
    return NamedError("ScalingActivityInProgress", message)
