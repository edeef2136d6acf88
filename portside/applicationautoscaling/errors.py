"""Application Auto Scaling's errors, by the model's error shapes (ValidationException is the
shared tree's). Messages follow AWS's where a sample was seen (ObjectNotFoundException's "No
scalable target registered for ..."); the others are worded in the same style."""

from __future__ import annotations

from portside.errors import NamedError


def no_target(namespace: str, resource_id: str, dimension: str) -> NamedError:
    return NamedError(
        "ObjectNotFoundException",
        f"No scalable target registered for service namespace: {namespace}, resource ID: "
        f"{resource_id}, scalable dimension: {dimension}",
    )


def no_policy(name: str, namespace: str, resource_id: str, dimension: str) -> NamedError:
    return NamedError(
        "ObjectNotFoundException",
        f"No scaling policy found for service namespace: {namespace}, resource ID: "
        f"{resource_id}, scalable dimension: {dimension}, policy name: {name}",
    )


def no_scheduled_action(name: str, namespace: str, resource_id: str, dimension: str) -> NamedError:
    return NamedError(
        "ObjectNotFoundException",
        f"No scheduled action found for service namespace: {namespace}, resource ID: "
        f"{resource_id}, scalable dimension: {dimension}, scheduled action name: {name}",
    )


def no_resource(arn: str) -> NamedError:
    return NamedError("ResourceNotFoundException", f"Resource not found: {arn}")


def bad_token() -> NamedError:
    return NamedError("InvalidNextTokenException", "Invalid token")


def too_many_tags() -> NamedError:
    return NamedError("TooManyTagsException", "The number of tags exceeds the limit of 50.")


def limit(message: str) -> NamedError:
    return NamedError("LimitExceededException", message)
