"""ACM's operations (json protocol, target prefix CertificateManager): ImportCertificate
(new or re-import over an ARN), Describe/Get/List/DeleteCertificate and tags. A certificate
an HTTPS listener names cannot be deleted (ResourceInUseException, as ACM answers).

The private key is kept in the store with the certificate, for the data plane to serve.
"""

from __future__ import annotations

import re
from typing import Any

from portside.acm import pem
from portside.acm.records import CERTIFICATES
from portside.api.registry import Operations, ServiceSpec
from portside.api.validation import CoralDialect
from portside.errors import NamedError, ValidationException
from portside.ops import paging
from portside.ops.context import Op
from portside.store.base import Document, Tx

ACTIONS = Operations("ACM")
action = ACTIONS.action
_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/[0-9a-f-]+$")
_PRIVATE = ("PrivateKey", "CertificatePem", "ChainPem", "Tags")
LISTENERS = "elb_listeners"  # ELB's table: which listeners name a certificate
MAX_TAGS = 50


def _check_arn(arn: str) -> None:
    if not _ARN.match(arn):
        raise NamedError("InvalidArnException", f"String '{arn}' is not a valid ARN.")


def _load(tx: Tx, arn: str) -> Document:
    _check_arn(arn)
    doc = tx.get(CERTIFICATES, arn)
    if doc is None:
        raise NamedError("ResourceNotFoundException", f"Could not find certificate {arn}.")
    return doc


def _in_use_by(tx: Tx, arn: str) -> list[str]:
    region, account = arn.split(":")[3:5]
    prefix = f"arn:aws:elasticloadbalancing:{region}:{account}:listener/"
    users = set()
    for _, listener in tx.scan(LISTENERS, prefix=prefix):
        held = (listener.get("Certificates") or []) + (listener.get("ExtraCertificates") or [])
        if any(c.get("CertificateArn") == arn for c in held):
            users.add(listener["LoadBalancerArn"])
    return sorted(users)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tags(given: list[dict[str, Any]], held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {t["Key"]: t for t in held}
    merged.update({t["Key"]: t for t in given})
    if len(merged) > MAX_TAGS:
        raise NamedError("TooManyTagsException", "the TagSet contains too many Tags")
    return list(merged.values())


@action("ImportCertificate")
def import_certificate(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    certificate, key = bytes(p["Certificate"]), bytes(p["PrivateKey"])
    facts = pem.read(certificate, key)
    with op.store.transaction() as tx:
        arn = p.get("CertificateArn")
        if arn:
            held = _load(tx, arn)
            if p.get("Tags"):
                raise ValidationException(
                    "Tags cannot be specified when reimporting a certificate."
                )
            tag_list = held.get("Tags") or []
        else:
            arn = f"arn:aws:acm:{op.region}:{op.account}:certificate/{_uuid(op.world.new_id())}"
            tag_list = _tags(p.get("Tags") or [], [])
        doc = {
            "CertificateArn": arn,
            **facts,
            "ImportedAt": op.now(),
            "Status": "ISSUED",
            "Type": "IMPORTED",
            "RenewalEligibility": "INELIGIBLE",
            "CertificatePem": _text(certificate),
            "PrivateKey": _text(key),
            "ChainPem": _text(p["CertificateChain"]) if p.get("CertificateChain") else None,
            "Tags": tag_list,
        }
        tx.put(CERTIFICATES, arn, doc)
    return {"CertificateArn": arn}


def _uuid(hex32: str) -> str:
    h = hex32.ljust(32, "0")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@action("DescribeCertificate")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = _load(tx, p["CertificateArn"])
        users = _in_use_by(tx, doc["CertificateArn"])
    shown = {k: v for k, v in doc.items() if k not in _PRIVATE}
    return {"Certificate": {**shown, "InUseBy": users}}


@action("GetCertificate")
def get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = _load(tx, p["CertificateArn"])
    out = {"Certificate": doc["CertificatePem"]}
    if doc.get("ChainPem"):
        out["CertificateChain"] = doc["ChainPem"]
    return out


@action("ListCertificates")
def list_certificates(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    statuses = set(p.get("CertificateStatuses") or [])
    size = p.get("MaxItems") or 1000
    after = paging.decode_token(
        p.get("NextToken"), lambda t: NamedError("InvalidArgsException", "Invalid NextToken")
    )
    prefix = f"arn:aws:acm:{op.region}:{op.account}:certificate/"
    out: list[dict[str, Any]] = []
    token = None
    with op.store.read() as tx:
        for key, doc in tx.scan(CERTIFICATES, prefix=prefix, after=after):
            if statuses and doc["Status"] not in statuses:
                continue
            if len(out) == size:
                token = paging.encode_token(out[-1]["CertificateArn"])
                break
            out.append(_summary(doc, bool(_in_use_by(tx, key))))
    reply: dict[str, Any] = {"CertificateSummaryList": out}
    if token:
        reply["NextToken"] = token
    return reply


def _summary(doc: Document, in_use: bool) -> dict[str, Any]:
    keep = ("CertificateArn", "DomainName", "Status", "Type", "KeyAlgorithm", "RenewalEligibility")
    out = {k: doc[k] for k in keep}
    out["SubjectAlternativeNameSummaries"] = doc["SubjectAlternativeNames"]
    out["HasAdditionalSubjectAlternativeNames"] = False
    out["InUse"] = in_use
    for k in ("NotBefore", "NotAfter", "ImportedAt"):
        out[k] = doc[k]
    return out


@action("DeleteCertificate")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = _load(tx, p["CertificateArn"])
        users = _in_use_by(tx, doc["CertificateArn"])
        if users:
            raise NamedError(
                "ResourceInUseException",
                f"Certificate {doc['CertificateArn']} in use by {', '.join(users)}",
            )
        tx.delete(CERTIFICATES, doc["CertificateArn"])
    return {}


@action("AddTagsToCertificate")
def add_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = _load(tx, p["CertificateArn"])
        doc["Tags"] = _tags(p["Tags"], doc.get("Tags") or [])
        tx.put(CERTIFICATES, doc["CertificateArn"], doc)
    return {}


@action("RemoveTagsFromCertificate")
def remove_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    # A tag given with a value is removed only when the value matches, as ACM does.
    with op.store.transaction() as tx:
        doc = _load(tx, p["CertificateArn"])
        doc["Tags"] = [t for t in doc.get("Tags") or [] if not _matches(t, p["Tags"])]
        tx.put(CERTIFICATES, doc["CertificateArn"], doc)
    return {}


def _matches(tag: dict[str, Any], removing: list[dict[str, Any]]) -> bool:
    return any(
        r["Key"] == tag["Key"] and ("Value" not in r or r["Value"] == tag.get("Value"))
        for r in removing
    )


@action("ListTagsForCertificate")
def list_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"Tags": _load(tx, p["CertificateArn"]).get("Tags") or []}


SERVICE = ServiceSpec("acm", ACTIONS, signing_name="acm", dialect=CoralDialect(ValidationException))
