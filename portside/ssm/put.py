"""PutParameter: a new parameter, or (Overwrite) a new version of one.

Every overwrite makes a version, numbered on from the last; it may change the type
(Terraform updates String to SecureString in place: CMSgov/qpp-conversion-tool#1204). AWS
keeps 100 versions: the 101st deletes the oldest, unless a label is on it
(ParameterMaxVersionLimitExceeded, in the words the model documents). Tags come only with a
new parameter and never with Overwrite, even when the parameter does not exist yet
(hashicorp/terraform-provider-aws#18550).
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError, ValidationException
from portside.ops.context import Op
from portside.ssm import names, records, rules, secure, tagging
from portside.ssm.operations import action
from portside.store.base import Document, Tx

NO_POLICIES = (
    "Portside does not apply parameter policies (Expiration, ExpirationNotification, "
    "NoChangeNotification): put the parameter without Policies."
)


@action("PutParameter")
def put_parameter(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("Overwrite") and p.get("Tags"):
        raise ValidationException(rules.TAGS_AND_OVERWRITE)
    ref = names.parse(p["Name"], op.account, op.region, arns=False, selectors=False)
    names.check_writable(ref)
    records.check_storable(ref)
    if p.get("Policies"):
        raise ValidationException(NO_POLICIES)
    tags = tagging.checked(p.get("Tags") or [])
    arn = names.arn(ref.region, ref.account, ref.name)
    with op.store.transaction() as tx:
        doc = records.find(tx, ref)
        if doc is not None and not p.get("Overwrite"):
            raise NamedError("ParameterAlreadyExists", rules.ALREADY_EXISTS)
        settings = rules.merge(p, doc["Current"] if doc else None)
        number = doc["Current"]["Version"] + 1 if doc else 1
        if doc is not None:
            _make_room(tx, doc)
        version = _version(op, tx, settings, p["Value"], number, arn)
        if doc is None:
            doc = records.new_document(ref, version, tags)
        else:
            tx.put(
                records.VERSIONS,
                records.version_key(records.doc_key(doc), doc["Current"]["Version"]),
                doc["Current"],
            )
            doc["Current"] = version
        tx.put(records.PARAMETERS, records.doc_key(doc), doc)
    return {"Version": number, "Tier": settings.tier}


def _make_room(tx: Tx, doc: Document) -> None:
    """Forget the oldest version when the new one would be the 101st."""
    oldest = doc["Oldest"]
    if doc["Current"]["Version"] - oldest + 1 < records.MAX_VERSIONS:
        return
    if records.labels_of(doc, oldest):
        raise NamedError(
            "ParameterMaxVersionLimitExceeded",
            f"You attempted to create a new version of {doc['Name']} by calling the "
            f"PutParameter API with the overwrite flag. Version {oldest}, the oldest version, "
            "can't be deleted because it has a label associated with it. Move the label to "
            "another version of the parameter, and try again.",
        )
    tx.delete(records.VERSIONS, records.version_key(records.doc_key(doc), oldest))
    doc["Oldest"] = oldest + 1


def _version(
    op: Op, tx: Tx, settings: rules.Settings, value: str, number: int, arn: str
) -> dict[str, Any]:
    version: dict[str, Any] = {"Version": number, "Type": settings.type}
    if settings.type == "SecureString":
        version["KeyId"] = settings.key_id or secure.DEFAULT_KEY
        version["Ciphertext"] = secure.seal(op, tx, settings.key_id, arn, value)
    else:
        version["Value"] = value
    if settings.description is not None:
        version["Description"] = settings.description
    if settings.allowed_pattern is not None:
        version["AllowedPattern"] = settings.allowed_pattern
    version.update(
        Tier=settings.tier,
        DataType=settings.data_type,
        LastModifiedDate=op.now(),
        LastModifiedUser=op.caller.principal_arn,
    )
    return version
