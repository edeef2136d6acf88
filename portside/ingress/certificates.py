"""The certificate ECS-managed load balancers serve: one per account and region for
`*.ecs.<region>.on.aws`, the names their services get (AWS's are issued by ACM; Portside makes
a self-signed one and imports it into its ACM, where DescribeCertificate shows it). Clients
trust it as they would any self-signed certificate (`curl -k`, or its PEM from ACM's
GetCertificate)."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portside.acm import api as acm
from portside.ops.context import Op

YEARS = 10


def zone(region: str) -> str:
    """The DNS zone of the service names ECS-managed load balancers route."""
    return f"ecs.{region}.on.aws"


def ensure(op: Op) -> str:
    """The ARN of the wildcard certificate of this account and region, imported once."""
    domain = f"*.{zone(op.region)}"
    listed = acm.list_certificates(op, {})
    for summary in listed.get("CertificateSummaryList") or []:
        if summary.get("DomainName") == domain and summary.get("Status", "ISSUED") == "ISSUED":
            return str(summary["CertificateArn"])
    certificate, key = _self_signed(domain)
    made = acm.import_certificate(
        op,
        {
            "Certificate": certificate,
            "PrivateKey": key,
            "Tags": [{"Key": "AmazonECSManaged", "Value": "true"}],
        },
    )
    return str(made["CertificateArn"])


def _self_signed(domain: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * YEARS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key
