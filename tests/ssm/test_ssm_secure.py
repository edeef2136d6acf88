"""SecureString through KMS's envelope: the value is kept only encrypted (no file of the
server's data directory holds it), read back in the clear only WithDecryption, under the
default key or one the caller names; KMS's faults come back as SSM's InvalidKeyId."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from harness import ServerProcess
from ssm_faults import fault


def _files_holding(server: ServerProcess, needle: bytes) -> list[str]:
    found = []
    for path in server.data_dir.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            found.append(str(path))
    return found


def test_no_plaintext_at_rest(server: ServerProcess, ssm: Any, name: str) -> None:
    secret = f"plain-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=f"/{name}/pw", Value=secret, Type="SecureString")
    ssm.put_parameter(Name=f"/{name}/pw", Value=secret + "-2", Overwrite=True)
    ssm.put_parameter(Name=f"/{name}/pw", Value=secret + "-3", Overwrite=True)
    plain = ssm.get_parameter(Name=f"/{name}/pw", WithDecryption=True)["Parameter"]
    assert plain["Value"] == secret + "-3"
    old = ssm.get_parameter_history(Name=f"/{name}/pw", WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in old] == [secret, secret + "-2", secret + "-3"]
    assert {h["KeyId"] for h in old} == {"alias/aws/ssm"}

    stored = ssm.get_parameter(Name=f"/{name}/pw")["Parameter"]["Value"]
    assert secret not in stored
    assert base64.b64decode(stored, validate=True)  # the ciphertext blob, as AWS sends it
    # The SQLite files (WAL included) and everything else the server wrote: a String's
    # value is found there, a SecureString's is not.
    control = f"plain-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=f"/{name}/open", Value=control, Type="String")
    assert _files_holding(server, control.encode()) != []
    assert _files_holding(server, secret.encode()) == []


def test_customer_key_and_its_faults(server: ServerProcess, ssm: Any, name: str) -> None:
    kms = server.client("kms")
    key = kms.create_key(Description=name)["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key["KeyId"])
    ssm.put_parameter(Name=name, Value="s3cret", Type="SecureString", KeyId=f"alias/{name}")
    (meta,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert meta["KeyId"] == f"alias/{name}"
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    # The blob is sealed under the parameter's ARN: KMS alone does not open it.
    blob = base64.b64decode(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    arn = f"arn:aws:ssm:us-east-1:000000000000:parameter/{name}"
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn})
    assert opened["Plaintext"] == b"s3cret" and opened["KeyId"] == key["Arn"]

    code, message = fault(
        ssm.put_parameter, Name=f"{name}-x", Value="v", Type="SecureString", KeyId="alias/none"
    )
    assert code == "InvalidKeyId"
    assert message.startswith("Alias arn:aws:kms:us-east-1:000000000000:alias/none is not found.")
    assert "(Service: AWSKMS; Status Code: 400; Error Code: NotFoundException;" in message

    kms.disable_key(KeyId=key["KeyId"])
    code, message = fault(ssm.get_parameter, Name=name, WithDecryption=True)
    assert code == "InvalidKeyId"
    assert message.startswith(f"{key['Arn']} is disabled. (Service: AWSKMS; Status Code: 400; ")
    assert "Error Code: DisabledException;" in message
    # Without decryption KMS is not asked; a write under the key is refused whole.
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1
    code, _ = fault(ssm.put_parameter, Name=name, Value="new", Overwrite=True)
    assert code == "InvalidKeyId"
    kms.enable_key(KeyId=key["KeyId"])
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "s3cret"


def test_key_id_belongs_to_secure_strings(ssm: Any, name: str) -> None:
    ssm.put_parameter(Name=name, Value="v", Type="String", KeyId="alias/aws/ssm")
    (meta,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert "KeyId" not in meta
    # String -> SecureString on overwrite: the new version is sealed.
    ssm.put_parameter(Name=name, Value="now secret", Type="SecureString", Overwrite=True)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != "now secret"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(h["Type"], h["Value"] == "v") for h in history] == [
        ("String", True),
        ("SecureString", False),
    ]
