"""The TLS scan against real servers: nginx with chosen certificates, keys, suites and
stapled OCSP responses; raw TCP servers that hang or speak something else; and a hand-made
legacy server that offers only what the local OpenSSL cannot (RC4 under TLS 1.0)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests.helpers.certs import CertificateSet
from tests.helpers.nginx import Nginx
from tests.helpers.servers import RawServer, RefusingPort

from watchkeeper.audit.tls import Support, findings, parse_hsts, scan, suites
from watchkeeper.audit.tls import probes as tls_probes
from watchkeeper.audit.tls.certificate import judge_staple
from watchkeeper.findings import Severity

SITE = """
server {{
    listen {address}:{https_port} ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    %s
    root {root};
}}
"""


def site(
    tmp_path: Path,
    extra: str = "",
    *,
    cert: str = "{cert}",
    key: str = "{key}",
    rsa_bits: int | None = None,
) -> Nginx:
    return Nginx(tmp_path, SITE % (cert, key, extra), rsa_bits=rsa_bits)


def titles(report: object, severity: Severity | None = None) -> list[str]:
    return [
        f.title
        for f in findings(report, "site")  # type: ignore[arg-type]
        if severity is None or f.severity == severity
    ]


# ---- servers that cannot be scanned: one line, after one handshake ----------------------


async def test_a_port_that_never_answers_gives_one_line_after_one_handshake() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads the ClientHello and everything after; never answers

    async with RawServer(silent) as server:
        report = await scan("127.0.0.1", server.port, timeout=0.5)
    assert report.error is not None
    assert "no TLS handshake within 0.5s" in report.error
    assert report.handshakes == 1  # the other questions were never asked
    assert "\n" not in report.error
    [finding] = findings(report, "hang")
    assert finding.severity == Severity.critical


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", b"SSH-2.0-OpenSSH_9.2\r\n"],
)
async def test_a_port_that_speaks_something_else_is_not_tls(answer: bytes) -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(answer)
        await writer.drain()
        await reader.read()

    async with RawServer(plain) as server:
        report = await scan("127.0.0.1", server.port, timeout=5)
    assert report.error is not None and "not a TLS server" in report.error
    assert report.handshakes == 1


async def test_a_refused_port_and_an_unreadable_ca_file_are_one_line() -> None:
    with RefusingPort() as port:
        refused = await scan("127.0.0.1", int(port.address.rsplit(":", 1)[1]), timeout=2)
    assert refused.error is not None and refused.error.endswith("connection refused")
    missing = await scan("127.0.0.1", 443, ca_file="/nonexistent/ca.pem")
    assert missing.error is not None and "cannot be read" in missing.error


# ---- certificates -------------------------------------------------------------------------


async def test_a_valid_certificate_is_described_and_trusted(
    tmp_path: Path, certificates: CertificateSet
) -> None:
    valid = certificates.valid
    with site(tmp_path, cert=str(valid.cert_file), key=str(valid.key_file)) as server:
        report = await scan(
            server.address,
            server.https_port,
            server_name="localhost",
            ca_file=str(certificates.ca_file),
            hsts=False,
        )
    cert = report.certificate
    assert cert is not None
    assert cert.trusted is True and cert.hostname_match and cert.problems == ()
    assert cert.key_type == "EC" and cert.key_bits == 256 and cert.curve == "secp256r1"
    assert cert.signature == "ecdsa-with-SHA256" and cert.signature_hash == "sha256"
    assert set(cert.names) == {"localhost", "127.0.0.1"}
    assert 89 < cert.days_left < 90.1 and 90 < cert.lifetime_days < 90.1
    assert len(cert.chain) == 1 and cert.chain[0].key == "EC secp256r1"
    assert titles(report, Severity.critical) == []
    json.dumps(report.as_json())  # serialisable as it is


async def test_the_same_certificate_without_its_ca_is_untrusted(
    tmp_path: Path, certificates: CertificateSet
) -> None:
    valid = certificates.valid
    with site(tmp_path, cert=str(valid.cert_file), key=str(valid.key_file)) as server:
        report = await scan(server.address, server.https_port, server_name="localhost", hsts=False)
    assert report.certificate is not None and report.certificate.trusted is False
    assert any("untrusted issuer" in t for t in titles(report, Severity.critical))


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("expired", ["Certificate expired 1 day(s) ago"]),
        ("self_signed", ["Certificate not trusted: self-signed certificate"]),
        ("wrong_host", ["Certificate is not valid for localhost"]),
        ("all_wrong", ["self-signed", "Certificate expired", "not valid for localhost"]),
        ("expiring_soon", ["Certificate expires in 5.0 days"]),
        ("not_renewed", []),
    ],
)
async def test_each_certificate_problem_is_a_critical_finding(
    tmp_path: Path, certificates: CertificateSet, which: str, expected: list[str]
) -> None:
    issued = getattr(certificates, which)
    with site(tmp_path, cert=str(issued.cert_file), key=str(issued.key_file)) as server:
        report = await scan(
            server.address,
            server.https_port,
            server_name="localhost",
            ca_file=str(certificates.ca_file),
            hsts=False,
        )
    critical = " | ".join(titles(report, Severity.critical))
    for words in expected:
        assert words in critical
    if which == "not_renewed":  # 20 of 90 days left: renewal did not run, not yet critical
        assert critical == ""
        assert "Certificate not renewed: 20 of its 90 days left" in titles(report, Severity.warning)
    if which == "wrong_host":
        assert report.certificate is not None and not report.certificate.hostname_match


@pytest.mark.parametrize("bits", [1024, 2048])
async def test_an_rsa_key_under_2048_bits_is_critical(tmp_path: Path, bits: int) -> None:
    with site(tmp_path, "ssl_ciphers DEFAULT:@SECLEVEL=0;", rsa_bits=bits) as server:
        report = await scan(server.address, server.https_port, ca_file=str(server.ca_file))
    cert = report.certificate
    assert cert is not None and (cert.key_type, cert.key_bits) == ("RSA", bits)
    assert cert.trusted is True  # the audit verifies at security level 0: size is its own finding
    weak = [t for t in titles(report, Severity.critical) if t.startswith("Weak certificate key")]
    assert weak == (["Weak certificate key: RSA 1024 bits"] if bits == 1024 else [])


# ---- OCSP stapling --------------------------------------------------------------------------


def _ocsp_response(
    server: Nginx, status: ocsp.OCSPCertStatus, next_update: dt.timedelta = dt.timedelta(days=3)
) -> bytes:
    leaf = x509.load_pem_x509_certificates(server.cert_file.read_bytes())[0]
    ca = x509.load_pem_x509_certificate(server.ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(server.ca_key_file.read_bytes(), None)
    now = dt.datetime.now(dt.UTC)
    revoked = status == ocsp.OCSPCertStatus.REVOKED
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf,
        issuer=ca,
        algorithm=hashes.SHA1(),
        cert_status=status,
        this_update=now - dt.timedelta(hours=1),
        next_update=now + next_update,
        revocation_time=now - dt.timedelta(hours=2) if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "next_update", "valid", "severity"),
    [
        (ocsp.OCSPCertStatus.GOOD, dt.timedelta(days=3), True, None),
        (ocsp.OCSPCertStatus.REVOKED, dt.timedelta(days=3), False, Severity.critical),
        (ocsp.OCSPCertStatus.GOOD, dt.timedelta(days=-1), False, Severity.warning),
    ],
    ids=["good", "revoked", "stale"],
)
async def test_a_stapled_ocsp_response_is_read_and_judged(
    tmp_path: Path,
    status: ocsp.OCSPCertStatus,
    next_update: dt.timedelta,
    valid: bool,
    severity: Severity | None,
) -> None:
    staple = tmp_path / "ocsp.der"
    server = site(tmp_path, f"ssl_stapling on; ssl_stapling_file {staple};")
    staple.write_bytes(_ocsp_response(server, status, next_update))
    with server:
        report = await scan(
            server.address, server.https_port, ca_file=str(server.ca_file), hsts=False
        )
    stapling = report.stapling
    assert stapling is not None and stapling.present  # nginx stapled it
    assert stapling.valid is valid
    assert stapling.status == status.name.lower()
    stapled = [f for f in findings(report, "site") if "OCSP" in f.title or "revoked" in f.title]
    assert [f.severity for f in stapled] == ([] if severity is None else [severity])


async def test_no_staple_without_stapling(tmp_path: Path) -> None:
    with site(tmp_path) as server:
        report = await scan(server.address, server.https_port, ca_file=str(server.ca_file))
    assert report.stapling is not None and not report.stapling.present


# ---- protocols and suites -----------------------------------------------------------------


async def test_the_negotiated_tls13_suite_is_the_servers_choice(tmp_path: Path) -> None:
    extra = "ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;"
    with site(tmp_path, extra) as server:
        report = await scan(server.address, server.https_port, ca_file=str(server.ca_file))
    assert report.tls13_suite == "TLS_CHACHA20_POLY1305_SHA256"
    assert [p.name for p in report.protocols if p.support is Support.offered] == ["TLSv1.3"]
    assert not any(c.support is Support.offered for c in report.cipher_classes)
    assert report.certificate is not None and report.certificate.trusted


async def test_the_hand_made_hello_agrees_with_openssl_on_every_class_nginx_serves(
    tmp_path: Path,
) -> None:
    extra = (
        "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; "
        "ssl_ciphers ECDHE-RSA-AES128-SHA:AES128-SHA:AECDH-AES128-SHA:NULL-SHA:@SECLEVEL=0;"
    )
    answers = {}
    with site(tmp_path, extra, rsa_bits=2048) as server:
        target = tls_probes.Target(server.address, server.https_port, None, 5)
        for cipher_class in suites.CLASSES:
            if not suites.local_suites(cipher_class.openssl):
                continue
            by_openssl = await tls_probes.cipher_class(target, cipher_class)
            by_hand = await tls_probes.cipher_class(target, cipher_class, by_hand=True)
            assert by_openssl.method != "hello" and by_hand.method == "hello"
            answers[cipher_class.name] = (by_openssl.support, by_hand.support)
        for name, wire in (("TLSv1", 0x0301), ("TLSv1.1", 0x0302), ("TLSv1.2", 0x0303)):
            by_openssl_protocol = await tls_probes.protocol(target, name)
            by_hand_protocol = await tls_probes._protocol_by_hello(target, name, wire)
            answers[name] = (by_openssl_protocol.support, by_hand_protocol.support)
    assert {name for name, (ours, _) in answers.items() if ours is Support.offered} == {
        *("TLSv1", "TLSv1.1", "TLSv1.2"),
        *("null", "anonymous", "cbc", "no_forward_secrecy", "forward_secrecy"),
    }
    assert {name for name, (a, b) in answers.items() if a != b} == set()
    assert answers["aead"] == (Support.not_offered, Support.not_offered)


async def test_what_nothing_here_can_offer_is_not_testable_never_not_offered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an OpenSSL built without TLS 1.3 (no hand-made hello covers 1.3), and a class of suites
    # that neither it nor the hello knows
    monkeypatch.setattr(tls_probes, "can_offer", lambda name: name != "TLSv1.3")
    unknown_class = suites.CipherClass("imaginary", "imaginary suites", "NO-SUCH-CIPHER")
    with site(tmp_path) as server:
        report = await scan(server.address, server.https_port, ca_file=str(server.ca_file))
        target = tls_probes.Target(server.address, server.https_port, None, 5)
        imaginary = await tls_probes.cipher_class(target, unknown_class)
    tls13 = report.protocol("TLSv1.3")
    assert tls13 is not None and tls13.support is Support.untestable
    assert "cannot offer it" in tls13.detail
    assert imaginary.support is Support.untestable
    assert report.tls13_suite is None and not report.offers("TLSv1.3")
    info = [t for t in titles(report, Severity.info) if "gave no answer" in t]
    assert len(info) == 1 and "TLSv1.3 (not testable here" in info[0]
    assert not any("TLS 1.3 is not offered" in t for t in titles(report))


async def _legacy_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server of 2010: TLS 1.0 and SSLv3 with RC4-SHA only. It answers a ClientHello with a
    ServerHello and stops there (enough for a hello's verdict; OpenSSL gets an alert)."""
    header = await reader.readexactly(5)
    if header[0] != 22:
        return
    body = await reader.readexactly(int.from_bytes(header[3:5], "big"))
    version = int.from_bytes(body[4:6], "big")
    at = 38
    at += 1 + body[at]
    count = int.from_bytes(body[at : at + 2], "big")
    offered = {int.from_bytes(body[i : i + 2], "big") for i in range(at + 2, at + 2 + count, 2)}
    if 0x0005 not in offered or version < 0x0300:
        writer.write(b"\x15\x03\x01\x00\x02\x02\x28")  # fatal handshake_failure
    else:
        chosen = min(version, 0x0301).to_bytes(2, "big")
        hello = chosen + bytes(32) + b"\x00" + b"\x00\x05" + b"\x00"
        message = b"\x02" + len(hello).to_bytes(3, "big") + hello
        writer.write(b"\x16" + chosen + len(message).to_bytes(2, "big") + message)
    await writer.drain()


async def test_suites_and_versions_the_local_openssl_lacks_are_still_answered() -> None:
    async with RawServer(_legacy_server) as server:
        report = await scan("127.0.0.1", server.port, timeout=5)
    assert report.error is None
    offered = {p.name: p for p in report.protocols if p.support is Support.offered}
    assert set(offered) == {"SSLv3", "TLSv1"}
    assert all(p.method == "hello" and p.cipher == "0x0005" for p in offered.values())
    rc4 = report.cipher_class("rc4")
    assert rc4 is not None and rc4.support is Support.offered and rc4.cipher == "0x0005"
    assert report.offers("no_forward_secrecy")  # RC4-SHA is static RSA too
    assert not report.offers("3des") and not report.offers("export")
    critical = titles(report, Severity.critical)
    assert any(t.startswith("SSLv3 is offered") for t in critical)
    assert any(t.startswith("RC4 ciphers accepted") for t in critical)
    assert report.certificate is None and report.certificate_error


# ---- HSTS -----------------------------------------------------------------------------------


async def test_hsts_is_read_from_the_same_endpoint(tmp_path: Path) -> None:
    extra = 'add_header Strict-Transport-Security "max-age=300" always;'
    with site(tmp_path, extra) as server:
        report = await scan(server.address, server.https_port, ca_file=str(server.ca_file))
    assert report.hsts is not None and report.hsts.present and report.hsts.max_age == 300
    warnings = titles(report, Severity.warning)
    assert "HSTS max-age is 300 s (0 days): under six months" in warnings


@pytest.mark.parametrize(
    ("value", "present", "max_age", "subdomains", "preload"),
    [
        ("max-age=63072000; includeSubDomains; preload", True, 63072000, True, True),
        ('MAX-AGE="31536000"', True, 31536000, False, False),
        ("includeSubDomains", False, None, False, False),
        ("max-age=1; max-age=2", False, None, False, False),
        ("max-age=abc", False, None, False, False),
        (None, False, None, False, False),
    ],
)
def test_hsts_values_are_parsed_as_rfc_6797_says(
    value: str | None, present: bool, max_age: int | None, subdomains: bool, preload: bool
) -> None:
    hsts = parse_hsts(value)
    assert (hsts.present, hsts.max_age, hsts.include_subdomains, hsts.preload) == (
        present,
        max_age,
        subdomains,
        preload,
    )


# ---- OCSP responses judged on their own (no server needed) --------------------------------


def _authority(
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    *,
    ca: bool = True,
    usage: x509.ObjectIdentifier | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _response(
    leaf: x509.Certificate,
    ca: x509.Certificate,
    signer: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    *,
    attach: bool = False,
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=ca,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(hours=1),
            next_update=now + dt.timedelta(days=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, signer)
    )
    if attach:
        builder = builder.certificates([signer])
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_an_ocsp_response_must_be_for_this_certificate_and_signed_by_its_issuer() -> None:
    ca = _authority("CA")
    leaf = _authority("leaf", ca, ca=False)[0]
    other = _authority("other leaf", ca, ca=False)[0]
    stranger = _authority("stranger")
    delegate = _authority("OCSP signer", ca, ca=False, usage=ExtendedKeyUsageOID.OCSP_SIGNING)
    not_a_delegate = _authority("not an OCSP signer", ca, ca=False)
    chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in (leaf, ca[0]))

    def judged(data: bytes) -> str | None:
        stapling = judge_staple(data, chain)
        assert stapling.present and stapling.valid is (stapling.problem is None)
        return stapling.problem

    assert judged(_response(leaf, ca[0], *ca)) is None
    assert judged(_response(leaf, ca[0], *delegate, attach=True)) is None
    assert "another certificate" in (judged(_response(other, ca[0], *ca)) or "")
    assert "neither the issuer nor a delegate" in (judged(_response(leaf, ca[0], *stranger)) or "")
    assert "not the issuer's OCSP signer" in (
        judged(_response(leaf, ca[0], *not_a_delegate, attach=True)) or ""
    )
    genuine = _response(leaf, ca[0], *ca)
    forged = genuine[:-1] + bytes([genuine[-1] ^ 1])  # the signature's last byte
    assert judged(forged) == "the response's signature does not verify"
    assert judged(b"not OCSP") == "the stapled response is not OCSP"
    assert judge_staple(None, chain).present is False
