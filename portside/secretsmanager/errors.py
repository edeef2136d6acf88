"""Secrets Manager's errors, in its words where they are known.

Seen from the service: `Secrets Manager can't find the specified secret.`, `The operation
failed because the secret NAME already exists.`, `You can't create this secret because a
secret with this name is already scheduled for deletion.`, `You can't perform this operation on
the secret because it was marked for deletion.`, `You can't modify an existing version, you can
only create a new version.`, `The RecoveryWindowInDays value must be between 7 and 30 days
(inclusive).`, `You can't use ForceDeleteWithoutRecovery in conjunction with
RecoveryWindowInDays.`, `Invalid name. Must be a valid name containing alphanumeric characters,
or any of the following: -/_+=.@!` (ValidationException), the RemoveFromVersionId rule of
UpdateSecretVersionStage (terraform-provider-aws's changelog quotes it), `No Lambda rotation
function ARN is associated with this secret.`, `Secrets Manager cannot invoke the specified
Lambda function. ...` (AccessDeniedException), `Access to KMS is not allowed`, and KMS's own
message carried by DecryptionFailure (`arn:aws:kms:...:key/... is pending deletion`).
Chosen without a sample, in the same style: the messages of GetRandomPassword, the resource
policy checks and BatchGetSecretValue's parameter rule.
"""

from __future__ import annotations

from portside.errors import NamedError, ValidationException

MARKED_FOR_DELETION = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
CURRENTLY_DELETED = (
    "You tried to perform the operation on a secret that's currently marked deleted."
)


def not_found() -> NamedError:
    return NamedError(
        "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
    )


def value_not_found(version_id: str | None, stage: str | None) -> NamedError:
    what = f"VersionId: {version_id}" if version_id else f"staging label: {stage}"
    return NamedError(
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for {what}",
    )


def invalid_parameter(message: str) -> NamedError:
    return NamedError("InvalidParameterException", message)


def invalid_request(message: str) -> NamedError:
    return NamedError("InvalidRequestException", message)


def exists(message: str) -> NamedError:
    return NamedError("ResourceExistsException", message)


def version_exists() -> NamedError:
    return exists("You can't modify an existing version, you can only create a new version.")


def invalid_name() -> ValidationException:
    return ValidationException(
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
        "following: -/_+=.@!"
    )
