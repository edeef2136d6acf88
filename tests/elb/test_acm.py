"""ACM's imported certificates through boto3 (json protocol, held to the model's contract)."""

from __future__ import annotations

from typing import Any

import pytest
from certificates import self_signed


def test_import_describe_list_get_delete(acm: Any, name: str) -> None:
    domain = f"{name}.example.test"
    cert, key = self_signed(domain)
    arn = acm.import_certificate(
        Certificate=cert, PrivateKey=key, Tags=[{"Key": "team", "Value": "web"}]
    )["CertificateArn"]
    assert arn.startswith("arn:aws:acm:us-east-1:000000000000:certificate/")
    found = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert found["DomainName"] == domain
    assert found["SubjectAlternativeNames"] == [domain]
    assert found["Type"] == "IMPORTED" and found["Status"] == "ISSUED"
    assert found["KeyAlgorithm"] == "EC_prime256v1"
    assert found["SignatureAlgorithm"] == "SHA256WITHECDSA"
    assert found["InUseBy"] == []
    assert found["NotAfter"] > found["NotBefore"]
    listed = acm.list_certificates()["CertificateSummaryList"]
    assert arn in {c["CertificateArn"] for c in listed}
    assert acm.get_certificate(CertificateArn=arn)["Certificate"] == cert.decode()
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]
    acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    acm.remove_tags_from_certificate(CertificateArn=arn, Tags=[{"Key": "team"}])
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    # Re-import over the same ARN.
    cert2, key2 = self_signed("other." + domain)
    again = acm.import_certificate(CertificateArn=arn, Certificate=cert2, PrivateKey=key2)
    assert again["CertificateArn"] == arn
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainName"] == (
        "other." + domain
    )
    acm.delete_certificate(CertificateArn=arn)
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.describe_certificate(CertificateArn=arn)


def test_errors(acm: Any) -> None:
    cert, _ = self_signed()
    _, other_key = self_signed()
    with pytest.raises(acm.exceptions.ValidationException) as mismatch:
        acm.import_certificate(Certificate=cert, PrivateKey=other_key)
    assert "does not match" in mismatch.value.response["Error"]["Message"]
    with pytest.raises(acm.exceptions.ValidationException):
        acm.import_certificate(Certificate=b"not a certificate", PrivateKey=other_key)
    with pytest.raises(acm.exceptions.ValidationException):
        acm.describe_certificate(CertificateArn="arn:nope:certificate")
    missing = "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000"
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.get_certificate(CertificateArn=missing)
