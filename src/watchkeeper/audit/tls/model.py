"""What a TLS scan saw, as plain data: protocols, cipher classes, the certificate and its
chain, OCSP stapling and HSTS. Judging it (severity, fixes) is ``advice``'s job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Support(StrEnum):
    offered = "offered"
    not_offered = "not offered"
    untestable = "not testable here"
    """The local OpenSSL cannot even try it (and no hand-made hello covers it)."""
    unknown = "unknown"
    """Tried, but the server gave no usable answer (a timeout, a reset): see ``detail``."""


class Method(StrEnum):
    openssl = "openssl"
    """A full handshake by the local OpenSSL (the stdlib's ssl)."""
    hello = "hello"
    """A hand-made ClientHello, judged on the ServerHello (``hello``)."""
    both = "openssl+hello"
    """OpenSSL for the suites it has, a hand-made hello for the rest."""
    none = "none"


@dataclass(frozen=True, slots=True)
class ProtocolResult:
    name: str
    """``SSLv2``, ``SSLv3``, ``TLSv1``, ``TLSv1.1``, ``TLSv1.2``, ``TLSv1.3``."""
    support: Support
    method: Method
    cipher: str | None = None
    """The suite negotiated when offered."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CipherClassResult:
    name: str
    title: str
    support: Support
    method: Method
    weak: bool
    cipher: str | None = None
    """A suite of the class the server chose (an OpenSSL name, or ``0x000a`` from a hello)."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ChainEntry:
    subject: str
    issuer: str
    not_after: str
    key: str
    """``RSA 2048``, ``EC secp256r1``, ``Ed25519``..."""
    signature: str
    """``sha256WithRSAEncryption``, ``ecdsa-with-SHA256``..."""
    self_issued: bool


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    issuer: str
    names: tuple[str, ...]
    """The SANs (DNS names and IP addresses)."""
    key_type: str
    """``RSA``, ``EC``, ``Ed25519``, ``Ed448``, ``DSA``."""
    key_bits: int
    curve: str | None
    signature: str
    signature_hash: str | None
    """``sha256``, ``sha1``..., None for Ed25519/Ed448."""
    not_before: str
    not_after: str
    days_left: float
    lifetime_days: float
    hostname_match: bool
    chain: tuple[ChainEntry, ...]
    """Every certificate the server sent, in the order sent (the leaf first)."""
    trusted: bool | None
    """The chain verifies against the system's CAs (or ``ca_file``); None: not known (the
    verifying handshake failed for another reason)."""
    problems: tuple[str, ...] = ()
    """Each problem with chain, dates and name (``checks._certs``), in that order."""
    chain_order_ok: bool = True
    """Each certificate sent was issued by the one sent after it."""
    ocsp_url: str | None = None
    must_staple: bool = False


@dataclass(frozen=True, slots=True)
class Stapling:
    present: bool
    """The server sent an OCSP response with its certificate."""
    valid: bool = False
    """It is for this certificate, signed by its issuer (or a delegate), current, and good."""
    status: str | None = None
    """``good``, ``revoked``, ``unknown`` (the responder's word), None when absent."""
    this_update: str | None = None
    next_update: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Hsts:
    present: bool
    max_age: int | None = None
    include_subdomains: bool = False
    preload: bool = False
    header: str | None = None
    problem: str | None = None
    """Why the header could not be read or parsed (the fetch failed, max-age missing)."""


@dataclass(frozen=True, slots=True)
class TlsReport:
    host: str
    port: int
    server_name: str | None
    error: str | None = None
    """One line when the scan could not proceed (unreachable, not TLS, no answer)."""
    protocols: tuple[ProtocolResult, ...] = ()
    cipher_classes: tuple[CipherClassResult, ...] = ()
    tls13_suite: str | None = None
    """The TLS 1.3 suite negotiated with OpenSSL's default offer."""
    certificate: Certificate | None = None
    certificate_error: str | None = None
    stapling: Stapling | None = None
    hsts: Hsts | None = None
    elapsed: float = 0.0
    openssl: str = ""
    """The local OpenSSL, which bounds what could be tested."""
    handshakes: int = 0

    def protocol(self, name: str) -> ProtocolResult | None:
        return next((p for p in self.protocols if p.name == name), None)

    def cipher_class(self, name: str) -> CipherClassResult | None:
        return next((c for c in self.cipher_classes if c.name == name), None)

    def offers(self, name: str) -> bool:
        """A protocol or cipher class is offered."""
        found = self.protocol(name) or self.cipher_class(name)
        return found is not None and found.support is Support.offered

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for entry in (*data["protocols"], *data["cipher_classes"]):
            entry["support"] = str(entry["support"])
            entry["method"] = str(entry["method"])
        data["elapsed"] = round(self.elapsed, 3)
        if self.certificate is not None:
            data["certificate"]["days_left"] = round(self.certificate.days_left, 2)
            data["certificate"]["lifetime_days"] = round(self.certificate.lifetime_days, 2)
        return data
