"""Certificates for TLS tests, made with ``cryptography``: a test CA and leaves it signed.

    certificates = make_certificates(tmp_path)
    certificates.valid.server_context()      # localhost + 127.0.0.1, signed by the CA
    certificates.ca_file                     # the CA's PEM, for ca_file: settings

Keys are EC P-256 so a whole set is made in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Watchkeeper Test CA"
LOCAL_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its key as PEM files, ready for a server."""

    name: str
    cert_file: Path
    key_file: Path
    not_after: dt.datetime

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(frozen=True)
class CertificateSet:
    """Everything a TLS test needs: the CA to trust and one leaf per situation."""

    ca_file: Path
    valid: IssuedCertificate  # localhost + 127.0.0.1, signed by the CA, valid 90 days
    expired: IssuedCertificate  # signed by the CA, expired yesterday
    wrong_host: IssuedCertificate  # signed by the CA, for wrong.example.test only
    self_signed: IssuedCertificate  # localhost + 127.0.0.1, its own issuer
    expiring_soon: IssuedCertificate  # signed by the CA, expires in 5 days (and 30 minutes)
    not_renewed: IssuedCertificate  # signed by the CA, 90-day life with 20 days left
    expired_self_signed: IssuedCertificate  # localhost + 127.0.0.1, its own issuer, expired
    expired_wrong_host: IssuedCertificate  # signed by the CA, wrong.example.test, expired
    all_wrong: IssuedCertificate  # its own issuer, expired, for wrong.example.test only
    not_yet_valid: IssuedCertificate  # signed by the CA, valid from tomorrow


def make_certificates(directory: Path) -> CertificateSet:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, now)
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def signed(
        name: str, hosts: tuple[str, ...], start: dt.datetime, end: dt.datetime
    ) -> IssuedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _leaf_builder(key, hosts, start, end).issuer_name(ca_cert.subject)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        return _write(directory, name, builder.sign(ca_key, hashes.SHA256()), key)

    def self_signed(
        name: str, hosts: tuple[str, ...], start: dt.datetime, end: dt.datetime
    ) -> IssuedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _leaf_builder(key, hosts, start, end).issuer_name(_name(hosts[0]))
        return _write(directory, name, builder.sign(key, hashes.SHA256()), key)

    expired = (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
    return CertificateSet(
        ca_file=ca_file,
        valid=signed(
            "valid", LOCAL_NAMES, now - dt.timedelta(hours=1), now + dt.timedelta(days=90)
        ),
        expired=signed(
            "expired", LOCAL_NAMES, now - dt.timedelta(days=30), now - dt.timedelta(days=1)
        ),
        wrong_host=signed(
            "wrong-host",
            ("wrong.example.test",),
            now - dt.timedelta(hours=1),
            now + dt.timedelta(days=90),
        ),
        self_signed=self_signed(
            "self-signed", LOCAL_NAMES, now - dt.timedelta(hours=1), now + dt.timedelta(days=90)
        ),
        expiring_soon=signed(
            "expiring-soon",
            LOCAL_NAMES,
            now - dt.timedelta(days=80),
            # the set is made once per test session: 30 minutes keep it "5 days" for a whole
            # run on a loaded machine (a minute did not: "4d23h" after 12 minutes)
            now + dt.timedelta(days=5, minutes=30),
        ),
        not_renewed=signed(
            "not-renewed",
            LOCAL_NAMES,
            now - dt.timedelta(days=70),
            now + dt.timedelta(days=20),
        ),
        expired_self_signed=self_signed("expired-self-signed", LOCAL_NAMES, *expired),
        expired_wrong_host=signed("expired-wrong-host", ("wrong.example.test",), *expired),
        all_wrong=self_signed("all-wrong", ("wrong.example.test",), *expired),
        not_yet_valid=signed(
            "not-yet-valid", LOCAL_NAMES, now + dt.timedelta(days=1), now + dt.timedelta(days=91)
        ),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Watchkeeper tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_builder(
    key: ec.EllipticCurvePrivateKey, hosts: tuple[str, ...], start: dt.datetime, end: dt.datetime
) -> x509.CertificateBuilder:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> IssuedCertificate:
    cert_file = directory / f"{name}.pem"
    key_file = directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return IssuedCertificate(name, cert_file, key_file, cert.not_valid_after_utc)
