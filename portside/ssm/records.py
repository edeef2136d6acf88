"""Where Parameter Store keeps parameters, and how a request's name finds one.

`ssm_parameters`, one document per parameter under `ACCOUNT|REGION|NAME` (NAME without its
leading slash, so a path's parameters are a prefix scan): its name and ARN, its newest
version in full (`Current`), the oldest version still kept (`Oldest`), labels (label ->
version) and tags. `ssm_parameter_versions`, one document per version under
`PARAMETER_KEY|VERSION` (ten digits, so a scan is in version order). Versions are numbered
without gaps from `Oldest` to the current one. A SecureString version holds its value only
as KMS ciphertext (`Ciphertext`, base64), never in the clear.
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError, ValidationException
from portside.ssm import names
from portside.ssm.names import Ref
from portside.store.base import Document, Tx

PARAMETERS = "ssm_parameters"
VERSIONS = "ssm_parameter_versions"
MAX_VERSIONS = 100  # AWS keeps the newest 100 versions of a parameter
KEY_LIMIT = 500  # the store's keys are at most 512 characters (version suffix included)


def scope(account: str, region: str) -> str:
    return f"{account}|{region}|"


def key(account: str, region: str, name: str) -> str:
    return scope(account, region) + names.ident(name)


def key_of(ref: Ref) -> str:
    return key(ref.account, ref.region, ref.name)


def version_key(parameter_key: str, version: int) -> str:
    return f"{parameter_key}|{version:010d}"


def check_storable(ref: Ref) -> None:
    """A name this store can keep: AWS takes up to 1011 characters with the ARN, the store's
    keys (with the version suffix) hold somewhat fewer."""
    longest = KEY_LIMIT - len(version_key(scope(ref.account, ref.region), 0))
    if len(names.ident(ref.name)) > longest:
        raise ValidationException(f"Portside keeps parameter names of up to {longest} characters")


def not_found() -> NamedError:
    # AWS sends ParameterNotFound without a message (awslabs/aws-simple-cicd#10 on
    # GetParameter, mattclay/aws-terminator#113 on DeleteParameter).
    return NamedError("ParameterNotFound", "")


def version_not_found(version: int, name: str) -> NamedError:
    # getmoto/moto#3977 shows AWS's answer.
    return NamedError(
        "ParameterVersionNotFound",
        f"Systems Manager could not find version {version} of {name}. "
        "Verify the version and try again.",
    )


def find(tx: Tx, ref: Ref) -> Document | None:
    return tx.get(PARAMETERS, key_of(ref))


def load(tx: Tx, ref: Ref) -> Document:
    doc = find(tx, ref)
    if doc is None:
        raise not_found()
    return doc


def version(tx: Tx, doc: Document, number: int) -> Document:
    """Version `number` of the parameter; ParameterVersionNotFound when it is not kept."""
    if number == doc["Current"]["Version"]:
        return dict(doc["Current"])
    found = None
    if doc["Oldest"] <= number < doc["Current"]["Version"]:
        found = tx.get(VERSIONS, version_key(doc_key(doc), number))
    if found is None:
        raise version_not_found(number, doc["Name"])
    return found


def selected(tx: Tx, doc: Document, ref: Ref) -> Document:
    """The version the reference selects: its version, its label's, else the newest."""
    if ref.version is not None:
        return version(tx, doc, ref.version)
    if ref.label is not None:
        labelled = (doc.get("Labels") or {}).get(ref.label)
        if labelled is None:
            raise not_found()
        return version(tx, doc, labelled)
    return dict(doc["Current"])


def doc_key(doc: Document) -> str:
    return str(doc["Key"])


def labels_of(doc: Document, number: int) -> list[str]:
    return [label for label, at in (doc.get("Labels") or {}).items() if at == number]


def delete(tx: Tx, doc: Document) -> None:
    """The parameter and every version of it."""
    own = doc_key(doc)
    for number in range(doc["Oldest"], doc["Current"]["Version"] + 1):
        tx.delete(VERSIONS, version_key(own, number))
    tx.delete(PARAMETERS, own)


def new_document(ref: Ref, first: dict[str, Any], tags: list[dict[str, Any]]) -> Document:
    own = key_of(ref)
    return {
        "Key": own,
        "Name": ref.name,
        "ARN": names.arn(ref.region, ref.account, ref.name),
        "Current": first,
        "Oldest": first["Version"],
        "Labels": {},
        "Tags": tags,
    }
