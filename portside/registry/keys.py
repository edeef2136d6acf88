"""The key Portside signs registry tokens with, and the certificate the registry trusts.

An ECDSA P-256 key (`token.key`, mode 0600) and a self-signed certificate for it
(`token.crt`, the registry configuration's `rootcertbundle`) in the registry's directory,
made on first start. Tokens are compact JWS (ES256) whose `kid` is the key's libtrust
fingerprint, which is how distribution 2.8 looks up a trusted key from that bundle.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

KEY_FILE = "token.key"
CERT_FILE = "token.crt"
_COORDINATE = 32  # bytes of r and of s in an ES256 signature
_CERT_YEARS = 20


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def libtrust_key_id(public: ec.EllipticCurvePublicKey) -> str:
    """libtrust's fingerprint: SHA-256 of the DER SubjectPublicKeyInfo cut to 240 bits,
    base32, in twelve groups of four joined by colons."""
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i : i + 4] for i in range(0, len(text), 4))


class SigningKey:
    """Signs and verifies ES256 tokens with one key."""

    def __init__(self, private: ec.EllipticCurvePrivateKey, cert_pem: bytes) -> None:
        self._private = private
        self._public = private.public_key()
        self.cert_pem = cert_pem
        self.key_id = libtrust_key_id(self._public)

    @classmethod
    def generate(cls) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        return cls(private, _self_signed(private))

    @classmethod
    def load_or_create(cls, directory: Path) -> SigningKey:
        """The saved key and certificate, or new ones written (the key with mode 0600)."""
        key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
        if key_path.exists() and cert_path.exists():
            private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path} is not an ECDSA key")
            return cls(private, cert_path.read_bytes())
        made = cls.generate()
        directory.mkdir(parents=True, exist_ok=True)
        pem = made._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(key_path, pem, 0o600)
        _write(cert_path, made.cert_pem, 0o644)
        return made

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "kid": self.key_id}
        signing_input = b64url(orjson.dumps(header)) + "." + b64url(orjson.dumps(claims))
        der = self._private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")
        return signing_input + "." + b64url(raw)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed, or None (malformed, another key, forged).
        Expiry is the caller's to check."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(b64url_decode(parts[0]))
            raw = b64url_decode(parts[2])
            if header.get("alg") != "ES256" or len(raw) != 2 * _COORDINATE:
                return None
            der = encode_dss_signature(
                int.from_bytes(raw[:_COORDINATE], "big"), int.from_bytes(raw[_COORDINATE:], "big")
            )
            self._public.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(b64url_decode(parts[1]))
        except (ValueError, InvalidSignature, orjson.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None


def _self_signed(private: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portside registry token issuer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * _CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)
