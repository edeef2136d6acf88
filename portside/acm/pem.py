"""An imported certificate read (pure): what DescribeCertificate shows of it, and the check
that its private key belongs to it. ACM's words for what it refuses."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from portside.errors import NamedError


def invalid(message: str) -> NamedError:
    return NamedError("ValidationException", message)


def _curve(key: ec.EllipticCurvePublicKey) -> str:
    return {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1"}.get(
        key.curve.name, "EC_secp521r1"
    )


def read(certificate: bytes, private_key: bytes) -> dict[str, Any]:
    """The certificate's facts, as ACM describes an imported certificate."""
    try:
        cert = x509.load_pem_x509_certificate(certificate)
    except ValueError:
        raise invalid(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from None
    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError):
        raise invalid(
            "Unable to parse key; the key must be an unencrypted PEM private key."
        ) from None
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise invalid("The certificate's key algorithm is not supported.")
    mine = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if mine != theirs:
        raise invalid("The private key does not match the certificate.")
    algorithm = f"RSA_{public.key_size}" if isinstance(public, rsa.RSAPublicKey) else _curve(public)
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in sans.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    domain = str(common[0].value) if common else (names[0] if names else "")
    hash_name = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "sha256"
    kind = "RSA" if isinstance(public, rsa.RSAPublicKey) else "ECDSA"
    serial = f"{cert.serial_number:x}"
    serial = serial.zfill(len(serial) + len(serial) % 2)
    serial = ":".join(serial[i : i + 2] for i in range(0, len(serial), 2))
    return {
        "DomainName": domain,
        "SubjectAlternativeNames": names or [domain],
        "Serial": serial,
        "Subject": cert.subject.rfc4514_string(),
        "Issuer": cert.issuer.rfc4514_string(),
        "NotBefore": cert.not_valid_before_utc.timestamp(),
        "NotAfter": cert.not_valid_after_utc.timestamp(),
        "KeyAlgorithm": algorithm,
        "SignatureAlgorithm": f"{hash_name.upper()}WITH{kind}",
    }
