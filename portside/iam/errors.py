"""IAM's errors, as the query protocol names them (the model's `awsQueryError` codes:
`NoSuchEntity` 404, `EntityAlreadyExists` 409, `DeleteConflict` 409, `LimitExceeded` 409,
`MalformedPolicyDocument` 400, `InvalidInput` 400). A constraint fault of the model is
`ValidationError`, the code IAM gives a request that breaks a member's length or pattern.

Wording follows IAM's answers where they are known (`The user with name alice cannot be
found.`, `User with name alice already exists.`, `Cannot delete entity, must delete access
keys first.`, `Cannot exceed quota for AccessKeysPerUser: 2`, `A managed policy can have up
to 5 versions...`); chosen in the same style where no sample was found.
"""

from __future__ import annotations

from portside.errors import NamedError, RequestError


class ValidationError(RequestError):
    """IAM's code for a request that breaks the model's constraints."""


def no_such(message: str) -> NamedError:
    return NamedError("NoSuchEntity", message, 404)


def exists(message: str) -> NamedError:
    return NamedError("EntityAlreadyExists", message, 409)


def conflict(message: str) -> NamedError:
    return NamedError("DeleteConflict", message, 409)


def limit(message: str) -> NamedError:
    return NamedError("LimitExceeded", message, 409)


def invalid(message: str) -> NamedError:
    return NamedError("InvalidInput", message)


def malformed(message: str) -> NamedError:
    return NamedError("MalformedPolicyDocument", message)


def not_attachable(message: str) -> NamedError:
    return NamedError("PolicyNotAttachable", message)
