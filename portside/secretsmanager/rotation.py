"""RotateSecret and CancelRotateSecret. Rotation runs a Lambda function, and Portside has none
to invoke: RotateSecret answers as AWS does when it cannot invoke the function it is given
(AccessDeniedException, `Secrets Manager cannot invoke the specified Lambda function...`), or
when no function is named (InvalidRequestException, `No Lambda rotation function ARN is
associated with this secret.`). Nothing about the secret changes either way."""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.secretsmanager import errors, records
from portside.secretsmanager.operations import action


def _live_secret(op: Op, secret_id: str) -> None:
    with op.store.read() as tx:
        doc = records.get(op, tx, secret_id, deleted=True)
    if "DeletedDate" in doc:
        raise errors.invalid_request(errors.CURRENTLY_DELETED)


@action("RotateSecret")
def rotate_secret(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _live_secret(op, p["SecretId"])
    if p.get("RotationLambdaARN"):
        raise NamedError(
            "AccessDeniedException",
            "Secrets Manager cannot invoke the specified Lambda function. Ensure that the "
            "function policy grants access to the principal secretsmanager.amazonaws.com.",
        )
    raise errors.invalid_request("No Lambda rotation function ARN is associated with this secret.")


@action("CancelRotateSecret")
def cancel_rotate_secret(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _live_secret(op, p["SecretId"])
    # No secret here ever has rotation configured: AWS's answer for that case.
    raise errors.invalid_request(
        "You tried to enable rotation on a secret that doesn't already have a Lambda function "
        "ARN configured and you didn't include such an ARN as a parameter in this call."
    )
