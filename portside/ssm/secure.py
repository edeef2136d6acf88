"""SecureString values through KMS's envelope (portside/kms/envelope.py).

A value is sealed under the parameter's key (`alias/aws/ssm`, made on first use, unless the
request names one) with the encryption context Parameter Store uses, `PARAMETER_ARN`, and
kept as the base64 of the blob: what GetParameter answers without WithDecryption.

KMS's faults reach the caller as SSM's InvalidKeyId carrying KMS's message in the AWS SDK
for Java's form, as Parameter Store forwards them: `Key 'arn:...' does not exist (Service:
AWSKMS; Status Code: 400; Error Code: NotFoundException; Request ID: ...; Proxy: null)`
(binxio/aws-ssm-copy#10), `Alias arn:... is not found. (...)` (cloudposse/docs#152), `...
is pending deletion. (... Error Code: KMSInvalidStateException ...)` (segmentio/chamber#355).
"""

from __future__ import annotations

import base64

from portside.errors import NamedError
from portside.kms import envelope
from portside.ops.context import Op
from portside.store.base import Tx

DEFAULT_KEY = "alias/aws/ssm"
CONTEXT_KEY = "PARAMETER_ARN"


def _invalid_key_id(op: Op, fault: NamedError) -> NamedError:
    h = op.world.new_id().ljust(32, "0")
    request_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return NamedError(
        "InvalidKeyId",
        f"{fault.message} (Service: AWSKMS; Status Code: {fault.status}; Error Code: "
        f"{fault.code}; Request ID: {request_id}; Proxy: null)",
    )


def seal(op: Op, tx: Tx, key_id: str | None, arn: str, value: str) -> str:
    """The stored form of `value` (base64 of the KMS blob) for the parameter `arn`."""
    try:
        blob, _ = envelope.seal(
            op,
            tx,
            key_id,
            value.encode(),
            context={CONTEXT_KEY: arn},
            default_alias=DEFAULT_KEY,
        )
    except NamedError as fault:
        raise _invalid_key_id(op, fault) from None
    return base64.b64encode(blob).decode()


def unseal(op: Op, tx: Tx, arn: str, ciphertext: str) -> str:
    """The value `seal` stored, in the clear."""
    try:
        plain, _ = envelope.unseal(op, tx, base64.b64decode(ciphertext), context={CONTEXT_KEY: arn})
    except NamedError as fault:
        raise _invalid_key_id(op, fault) from None
    return plain.decode()
