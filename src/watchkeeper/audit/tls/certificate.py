"""The certificate side of a TLS scan: the whole chain the server sends and the OCSP
response it staples (pyOpenSSL: the stdlib shows neither), whether the chain is trusted (a
verifying handshake by the stdlib, so the answer is OpenSSL's own), and the facts an audit
judges: key type and size, signature algorithm, names, dates, order of the chain.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from watchkeeper.audit.tls import suites
from watchkeeper.audit.tls.model import Certificate, ChainEntry, Stapling
from watchkeeper.audit.tls.probes import Target, handshake
from watchkeeper.checks._certs import certificate_problems
from watchkeeper.checks._net import hostname_matches, name_text, sans

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509 import ocsp

_SKEW = timedelta(minutes=5)
"""Clock difference allowed when judging an OCSP response's dates."""


@dataclass(frozen=True, slots=True)
class Served:
    """What the server sent in a handshake that verified nothing."""

    chain: tuple[bytes, ...]
    """DER of each certificate, in the order sent."""
    staple: bytes | None
    """The stapled OCSP response (None: none was sent)."""
    version: str | None
    cipher: str | None


async def served(target: Target) -> Served:
    """The chain and the OCSP staple, read with pyOpenSSL in a thread; raises OSError,
    TimeoutError or OpenSSL.SSL.Error."""
    async with target.slot():
        deadline = time.monotonic() + target.timeout
        return await asyncio.to_thread(
            _served, target.address, target.port, target.server_name, deadline
        )


def _served(address: str, port: int, server_name: str | None, deadline: float) -> Served:
    from cryptography.hazmat.primitives.serialization import Encoding
    from OpenSSL import SSL

    staples: list[bytes] = []

    def on_staple(_connection: SSL.Connection, data: bytes, _extra: object) -> bool:
        staples.append(data)
        return True  # judged later; the handshake goes on either way

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    context.set_cipher_list(b"ALL:COMPLEMENTOFALL" + suites.SECLEVEL0.encode())
    context.set_min_proto_version(0)  # whatever the server has: this reads, it does not judge
    context.set_ocsp_client_callback(on_staple)
    sock = socket.create_connection((address, port), timeout=max(0.01, deadline - time.monotonic()))
    try:
        sock.setblocking(False)
        connection = SSL.Connection(context, sock)
        if server_name:
            connection.set_tlsext_host_name(server_name.rstrip(".").encode("idna"))
        connection.request_ocsp()
        connection.set_connect_state()
        while True:
            try:
                connection.do_handshake()
                break
            except SSL.WantReadError:
                _wait(sock, deadline, write=False)
            except SSL.WantWriteError:
                _wait(sock, deadline, write=True)
        chain = connection.get_peer_cert_chain(as_cryptography=True) or []
        staple = staples[0] if staples and staples[0] else None
        return Served(
            tuple(cert.public_bytes(Encoding.DER) for cert in chain),
            staple,
            connection.get_protocol_version_name(),
            connection.get_cipher_name(),
        )
    finally:
        sock.close()


def _wait(sock: socket.socket, deadline: float, *, write: bool) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    ready = select.select([], [sock], [], left) if write else select.select([sock], [], [], left)
    if not any(ready):
        raise TimeoutError


async def verification(target: Target, ca_file: str | None) -> ssl.SSLCertVerificationError | None:
    """None when the chain verifies against the system's CAs (or ``ca_file``), else OpenSSL's
    verification error. Raises other failures (OSError, TimeoutError, ssl.SSLError)."""
    # loading the system's CAs reads files: not on the event loop
    context = await asyncio.to_thread(suites.context, ciphers="ALL", verify=True, ca_file=ca_file)
    try:
        async with target.slot():
            await handshake(target, context)
    except ssl.SSLCertVerificationError as exc:
        return exc
    return None


def describe(
    chain: tuple[bytes, ...],
    error: ssl.SSLCertVerificationError | None,
    name: str,
    now: float | None = None,
    *,
    judged: bool = True,
) -> Certificate:
    """The facts of the leaf and the chain as sent, with every problem found. ``judged``
    False: the verifying handshake failed for another reason, so trust is unknown (None)."""
    from cryptography import x509

    now = time.time() if now is None else now
    certificates = [x509.load_der_x509_certificate(der) for der in chain]
    leaf = certificates[0]
    key_type, bits, curve = key_facts(leaf)
    hash_algorithm = leaf.signature_hash_algorithm
    not_after = leaf.not_valid_after_utc.timestamp()
    not_before = leaf.not_valid_before_utc.timestamp()
    return Certificate(
        subject=name_text(leaf.subject),
        issuer=name_text(leaf.issuer),
        names=tuple(sans(leaf)),
        key_type=key_type,
        key_bits=bits,
        curve=curve,
        signature=signature_name(leaf),
        signature_hash=hash_algorithm.name if hash_algorithm is not None else None,
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=leaf.not_valid_after_utc.isoformat(),
        days_left=(not_after - now) / 86400,
        lifetime_days=(not_after - not_before) / 86400,
        hostname_match=hostname_matches(chain[0], name),
        chain=tuple(_entry(cert) for cert in certificates),
        trusted=(error is None) if judged else None,
        problems=tuple(certificate_problems(error, chain[0], name, now)),
        chain_order_ok=all(
            certificates[i].issuer == certificates[i + 1].subject
            for i in range(len(certificates) - 1)
        ),
        ocsp_url=_ocsp_url(leaf),
        must_staple=_must_staple(leaf),
    )


def key_facts(cert: x509.Certificate) -> tuple[str, int, str | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, 0, None


def signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def _entry(cert: x509.Certificate) -> ChainEntry:
    key_type, bits, curve = key_facts(cert)
    return ChainEntry(
        subject=name_text(cert.subject),
        issuer=name_text(cert.issuer),
        not_after=cert.not_valid_after_utc.isoformat(),
        key=f"{key_type} {curve or bits}",
        signature=signature_name(cert),
        self_issued=cert.issuer == cert.subject,
    )


def _ocsp_url(cert: x509.Certificate) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for description in access.value:
        if description.access_method == AuthorityInformationAccessOID.OCSP:
            return str(description.access_location.value)
    return None


def _must_staple(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        feature = cert.extensions.get_extension_for_class(x509.TLSFeature)
    except x509.ExtensionNotFound:
        return False
    return x509.TLSFeatureType.status_request in feature.value


def judge_staple(
    data: bytes | None, chain: tuple[bytes, ...], now: datetime | None = None
) -> Stapling:
    """Is the stapled OCSP response one a browser would accept for this leaf?"""
    from cryptography import x509
    from cryptography.x509 import ocsp

    if not data:
        return Stapling(present=False)
    now = datetime.now(UTC) if now is None else now
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError:
        return Stapling(present=True, problem="the stapled response is not OCSP")
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        status = response.response_status.name.lower()
        return Stapling(present=True, problem=f"the responder answered '{status}'")
    leaf = x509.load_der_x509_certificate(chain[0])
    issuer = _issuer(leaf, chain)
    status = response.certificate_status.name.lower()
    this_update = response.this_update_utc
    next_update = response.next_update_utc
    dates = {
        "status": status,
        "this_update": this_update.isoformat(),
        "next_update": next_update.isoformat() if next_update else None,
    }
    problem = None
    if response.serial_number != leaf.serial_number:
        problem = "the response is for another certificate (serial number differs)"
    elif issuer is None:
        problem = "the issuer was not sent, so the response's signature cannot be checked"
    elif (why := _signature_problem(response, issuer)) is not None:
        problem = why
    elif this_update - _SKEW > now:
        problem = "the response is dated in the future"
    elif next_update is not None and next_update + _SKEW < now:
        problem = f"the response expired at {next_update.isoformat()}"
    elif response.certificate_status is not ocsp.OCSPCertStatus.GOOD:
        problem = f"the certificate's status is '{status}'"
    return Stapling(present=True, valid=problem is None, problem=problem, **dates)


def _issuer(leaf: x509.Certificate, chain: tuple[bytes, ...]) -> x509.Certificate | None:
    from cryptography import x509

    for der in chain[1:]:
        candidate = x509.load_der_x509_certificate(der)
        if candidate.subject == leaf.issuer:
            return candidate
    return None


def _signature_problem(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> str | None:
    """None when the issuer signed the response, or a responder it delegated to did."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import ExtendedKeyUsageOID

    signer = issuer
    if response.responder_name is not None and response.responder_name != issuer.subject:
        delegates = [c for c in response.certificates if c.subject == response.responder_name]
        if not delegates:
            return "signed by a responder that is neither the issuer nor a delegate it sent"
        signer = delegates[0]
    elif response.responder_key_hash is not None and not _key_hash_matches(
        response.responder_key_hash, issuer
    ):
        delegates = [
            c for c in response.certificates if _key_hash_matches(response.responder_key_hash, c)
        ]
        if not delegates:
            return "signed by a responder that is neither the issuer nor a delegate it sent"
        signer = delegates[0]
    if signer is not issuer:
        try:
            signer.verify_directly_issued_by(issuer)
            usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
            return "the delegated responder's certificate is not the issuer's OCSP signer"
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            return "the delegated responder's certificate is not the issuer's OCSP signer"
    if not _signed_by(response, signer):
        return "the response's signature does not verify"
    return None


def _key_hash_matches(digest: bytes, cert: x509.Certificate) -> bool:
    """OCSP's responder key hash: SHA-1 of the subjectPublicKey bits, the same digest as
    RFC 5280's first key identifier method."""
    from cryptography import x509

    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest == digest


def _signed_by(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(response.signature, response.tbs_response_bytes)
        else:
            return False
    except InvalidSignature:
        return False
    return True
