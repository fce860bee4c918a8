"""A TLS report judged: each problem a Finding (source ``tls``) with its evidence and the
exact fix for nginx and Caddy. Thresholds and their sources:

- Protocols: SSLv2/SSLv3 broken (RFC 6176, RFC 7568); TLS 1.0/1.1 deprecated (RFC 8996),
  refused by current browsers; TLS 1.3 recommended (Mozilla's "intermediate" profile).
- Suites: NULL, anonymous, EXPORT, RC4 (RFC 7465) and DES are broken; 3DES and IDEA have a
  64-bit block (Sweet32, CVE-2016-2183); CBC suites are outside Mozilla's intermediate
  profile (Lucky13 and padding oracles) and a server with nothing better is a problem;
  static RSA/DH key exchange has no forward secrecy.
- Certificate: RSA below 2048 bits or EC below 256 are refused by the CA/Browser Forum
  Baseline Requirements (and OpenSSL's default security level); SHA-1 and MD5 signatures
  by browsers; a publicly trusted certificate may live at most 398 days.
- Expiry: 7 days left is an emergency; under a third of its lifetime left means the ACME
  renewal (certbot: 30 of 90 days) did not run.
- HSTS: max-age of at least six months (Mozilla's Observatory), a year with
  includeSubDomains and preload for the preload list (hstspreload.org).

Past 400 lines only in its texts: one small function per area (protocols, suites,
certificate, stapling, HSTS); the fixes themselves are in ``fixes``.
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.audit.tls.fixes import (
    CHAIN_FIX,
    CIPHERS_FIX,
    HSTS_FIX,
    KEY_FIX,
    PROTOCOLS_FIX,
    PUBLIC_CA_FIX,
    RENEW_FIX,
    STAPLING_FIX,
    TLS13_FIX,
)
from watchkeeper.audit.tls.model import CipherClassResult, ProtocolResult, Support, TlsReport
from watchkeeper.findings import Evidence, Finding, Severity

SOURCE = "tls"
Make = Callable[..., Finding]
"""``finding(severity, title, recommendation, evidence=None, impact=0.0)`` for one subject."""
_DAY = 86400

_BROKEN_PROTOCOLS = {"SSLv2": "RFC 6176", "SSLv3": "RFC 7568, POODLE"}
_OLD_PROTOCOLS = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1"}
_CRITICAL_CLASSES = {
    "null": "traffic is sent unencrypted",
    "anonymous": "no server authentication, anyone in the path can impersonate the server",
    "export": "40/56-bit keys, broken in minutes (FREAK, Logjam)",
    "rc4": "RC4 is prohibited (RFC 7465): its biases leak plaintext",
    "des": "56-bit DES is brute-forced in hours",
}


def findings(report: TlsReport, subject: str) -> list[Finding]:
    """Every problem in ``report`` as a Finding about ``subject`` (a URL or host:port)."""

    def finding(
        severity: Severity,
        title: str,
        recommendation: str,
        evidence: Evidence | None = None,
        impact: float = 0.0,
    ) -> Finding:
        return Finding(
            SOURCE, severity, title, subject, evidence or {}, recommendation, impact=impact
        )

    where = f"{report.host}:{report.port}"
    if report.error is not None:
        return [
            finding(
                Severity.critical,
                f"TLS scan of {where} failed: {report.error}",
                "Check that the server listens with TLS on this port and answers within the "
                "timeout (nginx: `listen 443 ssl;` with `ssl_certificate` and "
                "`ssl_certificate_key`; Caddy serves TLS on 443 by default).",
                {"host": report.host, "port": report.port},
            )
        ]
    found = _protocol_findings(report, finding)
    found += _cipher_findings(report, finding)
    found += _certificate_findings(report, finding)
    found += _stapling_findings(report, finding)
    found += _hsts_findings(report, finding)
    items: list[ProtocolResult | CipherClassResult] = [*report.protocols, *report.cipher_classes]
    untested = [
        f"{item.name} ({item.support.value}: {item.detail})"
        for item in items
        if item.support in (Support.untestable, Support.unknown)
    ]
    if untested:
        found.append(
            finding(
                Severity.info,
                f"{len(untested)} TLS check(s) gave no answer: {', '.join(untested)}"[:300],
                "Not a verdict on the server: these could not be tested from here "
                f"({report.openssl}) or the server gave no usable answer; run the scan again "
                "or from a machine whose OpenSSL offers them.",
                {"untested": len(untested)},
            )
        )
    return found


def _protocol_findings(report: TlsReport, finding: Make) -> list[Finding]:
    found = []
    for name, why in _BROKEN_PROTOCOLS.items():
        if report.offers(name):
            found.append(
                finding(
                    Severity.critical,
                    f"{name} is offered: it is broken ({why})",
                    PROTOCOLS_FIX,
                    {"protocol": name},
                    impact=10,
                )
            )
    old = [name for name in _OLD_PROTOCOLS if report.offers(name)]
    if old:
        found.append(
            finding(
                Severity.warning,
                f"{' and '.join(_OLD_PROTOCOLS[name] for name in old)} offered: deprecated "
                "(RFC 8996), refused by current browsers",
                PROTOCOLS_FIX,
                {"protocols": ", ".join(old)},
                impact=5,
            )
        )
    tls13 = report.protocol("TLSv1.3")
    if tls13 is not None and tls13.support is Support.not_offered:
        found.append(
            finding(
                Severity.info,
                "TLS 1.3 is not offered (faster handshakes, only strong suites)",
                TLS13_FIX,
                {"protocol": "TLSv1.3"},
            )
        )
    return found


def _cipher_findings(report: TlsReport, finding: Make) -> list[Finding]:
    found = []
    for name, why in _CRITICAL_CLASSES.items():
        result = report.cipher_class(name)
        if result is not None and result.support is Support.offered:
            found.append(
                finding(
                    Severity.critical,
                    f"{result.title[0].upper()}{result.title[1:]} accepted: {why}",
                    CIPHERS_FIX,
                    {"class": name, "cipher": result.cipher},
                    impact=8,
                )
            )
    triple = report.cipher_class("3des")
    if triple is not None and triple.support is Support.offered:
        found.append(
            finding(
                Severity.warning,
                "3DES/IDEA suites accepted: a 64-bit block cipher (Sweet32, CVE-2016-2183)",
                CIPHERS_FIX,
                {"class": "3des", "cipher": triple.cipher},
                impact=4,
            )
        )
    modern = report.offers("aead") or report.offers("TLSv1.3")
    cbc = report.cipher_class("cbc")
    if cbc is not None and cbc.support is Support.offered:
        if modern:
            found.append(
                finding(
                    Severity.info,
                    "CBC suites still accepted under TLS 1.2 (outside Mozilla's intermediate "
                    "profile)",
                    CIPHERS_FIX,
                    {"class": "cbc", "cipher": cbc.cipher},
                )
            )
        else:
            found.append(
                finding(
                    Severity.warning,
                    "Only CBC suites: no AEAD cipher (GCM, ChaCha20) and no TLS 1.3",
                    CIPHERS_FIX + " " + TLS13_FIX,
                    {"class": "cbc", "cipher": cbc.cipher},
                    impact=4,
                )
            )
    static = report.cipher_class("no_forward_secrecy")
    if static is not None and static.support is Support.offered:
        found.append(
            finding(
                Severity.warning,
                "Key exchange without forward secrecy accepted (static RSA): a stolen key "
                "decrypts recorded traffic",
                CIPHERS_FIX,
                {"class": "no_forward_secrecy", "cipher": static.cipher},
                impact=3,
            )
        )
    secrecy = report.cipher_class("forward_secrecy")
    if (
        secrecy is not None
        and secrecy.support is Support.not_offered
        and not report.offers("TLSv1.3")
    ):
        found.append(
            finding(
                Severity.warning,
                "No forward secrecy: neither ECDHE/DHE suites nor TLS 1.3",
                CIPHERS_FIX + " " + TLS13_FIX,
                {"class": "forward_secrecy"},
                impact=4,
            )
        )
    return found


def _certificate_findings(report: TlsReport, finding: Make) -> list[Finding]:
    cert = report.certificate
    if cert is None:
        if report.certificate_error:
            return [
                finding(
                    Severity.warning,
                    f"Certificate not read: {report.certificate_error}",
                    "Check the server's certificate configuration (nginx: `ssl_certificate`).",
                )
            ]
        return []
    name = report.server_name or report.host
    found = []
    evidence: Evidence = {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "days_left": round(cert.days_left, 1),
        "not_after": cert.not_after,
    }
    chain_problems = [
        p
        for p in cert.problems
        if not p.startswith(("certificate expired", "hostname mismatch"))
        and not p.startswith("certificate not yet valid")
    ]
    for problem in chain_problems:
        fix = PUBLIC_CA_FIX if "self-signed" in problem else CHAIN_FIX
        if "expired" in problem or "not yet valid" in problem:
            fix = RENEW_FIX + " " + CHAIN_FIX
        found.append(
            finding(
                Severity.critical,
                f"Certificate not trusted: {problem}",
                fix.replace("NAME", name),
                evidence,
                impact=9,
            )
        )
    if cert.days_left < 0:
        found.append(
            finding(
                Severity.critical,
                f"Certificate expired {-cert.days_left:.0f} day(s) ago",
                RENEW_FIX.replace("NAME", name),
                evidence,
                impact=10,
            )
        )
    elif any(p.startswith("certificate not yet valid") for p in cert.problems):
        found.append(
            finding(
                Severity.critical,
                f"Certificate not valid before {cert.not_before}",
                "Check the server's clock (`timedatectl`), or install the previous "
                "certificate until this one is valid.",
                evidence,
                impact=9,
            )
        )
    elif cert.days_left < 7:
        found.append(
            finding(
                Severity.critical,
                f"Certificate expires in {cert.days_left:.1f} days",
                RENEW_FIX.replace("NAME", name),
                evidence,
                impact=9,
            )
        )
    elif cert.days_left < cert.lifetime_days / 3 or cert.days_left < 14:
        found.append(
            finding(
                Severity.warning,
                f"Certificate not renewed: {cert.days_left:.0f} of its "
                f"{cert.lifetime_days:.0f} days left",
                RENEW_FIX.replace("NAME", name),
                evidence,
                impact=5,
            )
        )
    if not cert.hostname_match:
        names = ", ".join(cert.names) or cert.subject
        found.append(
            finding(
                Severity.critical,
                f"Certificate is not valid for {name} (it names {names})",
                f"Issue a certificate that names {name}: `certbot --nginx -d {name}`; "
                f"Caddy: put {name} in the site address.",
                {**evidence, "names": names},
                impact=9,
            )
        )
    weak_key = (
        (cert.key_type == "RSA" and cert.key_bits < 2048)
        or (cert.key_type == "EC" and cert.key_bits < 256)
        or cert.key_type == "DSA"
    )
    if weak_key:
        found.append(
            finding(
                Severity.critical,
                f"Weak certificate key: {cert.key_type} {cert.key_bits} bits",
                KEY_FIX.replace("NAME", name),
                {"key_type": cert.key_type, "key_bits": cert.key_bits},
                impact=8,
            )
        )
    weak_signatures = [
        entry.subject
        for entry in cert.chain
        if not entry.self_issued and any(w in entry.signature.lower() for w in ("sha1", "md5"))
    ]
    if weak_signatures:
        found.append(
            finding(
                Severity.critical,
                f"SHA-1/MD5 signature in the chain: {', '.join(weak_signatures)}",
                "Reissue the certificate (any current CA signs with SHA-256 or better). "
                + RENEW_FIX.replace("NAME", name),
                {"signature": cert.signature},
                impact=8,
            )
        )
    if cert.trusted and cert.lifetime_days > 398:
        found.append(
            finding(
                Severity.info,
                f"Certificate lifetime {cert.lifetime_days:.0f} days: browsers refuse "
                "publicly trusted certificates valid over 398 days",
                "Fine for a private CA; for a public name use an ACME CA (90-day "
                "certificates, renewed automatically).",
                {"lifetime_days": round(cert.lifetime_days)},
            )
        )
    if not cert.chain_order_ok:
        found.append(
            finding(
                Severity.warning,
                "Certificate chain sent out of order",
                CHAIN_FIX.replace("NAME", name),
                {"chain": " > ".join(entry.subject for entry in cert.chain)},
                impact=3,
            )
        )
    roots = [entry.subject for entry in cert.chain[1:] if entry.self_issued]
    if roots:
        found.append(
            finding(
                Severity.info,
                f"The chain includes its root ({roots[0]}): clients never use it",
                "Leave the root out of the file `ssl_certificate` names (extra bytes in "
                "every handshake).",
                {"chain_length": len(cert.chain)},
            )
        )
    return found


def _stapling_findings(report: TlsReport, finding: Make) -> list[Finding]:
    cert, stapling = report.certificate, report.stapling
    if cert is None or stapling is None:
        return []
    name = report.server_name or report.host
    if not stapling.present:
        if cert.must_staple:
            return [
                finding(
                    Severity.critical,
                    "Certificate requires OCSP stapling (must-staple) but none is stapled: "
                    "browsers that honour it refuse the site",
                    STAPLING_FIX.replace("NAME", name),
                    {"ocsp_url": cert.ocsp_url},
                    impact=9,
                )
            ]
        if cert.ocsp_url:
            return [
                finding(
                    Severity.info,
                    "No OCSP response stapled: clients ask the CA themselves (slower, leaks "
                    "visits)",
                    STAPLING_FIX.replace("NAME", name),
                    {"ocsp_url": cert.ocsp_url},
                )
            ]
        return []
    if stapling.valid:
        return []
    revoked = stapling.status == "revoked"
    return [
        finding(
            Severity.critical if revoked else Severity.warning,
            "Certificate revoked (per its stapled OCSP response)"
            if revoked
            else f"Stapled OCSP response is not valid: {stapling.problem}",
            RENEW_FIX.replace("NAME", name)
            if revoked
            else "nginx: turn on `ssl_stapling_verify on;` and remove a stale "
            "`ssl_stapling_file`; " + STAPLING_FIX.replace("NAME", name),
            {"status": stapling.status, "next_update": stapling.next_update},
            impact=9 if revoked else 3,
        )
    ]


def _hsts_findings(report: TlsReport, finding: Make) -> list[Finding]:
    hsts = report.hsts
    if hsts is None:
        return []
    if not hsts.present:
        if hsts.header is None and hsts.problem is not None:
            return [
                finding(
                    Severity.info,
                    f"HSTS not checked: {hsts.problem}",
                    "Make `GET /` over https answer, or check the header with the headers audit.",
                )
            ]
        title = "No HSTS header: browsers may be sent to http first"
        if hsts.problem is not None:
            title = f"HSTS header ignored by browsers: {hsts.problem}"
        return [finding(Severity.warning, title, HSTS_FIX, {"header": hsts.header}, impact=4)]
    found = []
    max_age = hsts.max_age or 0
    if max_age < 15768000:
        found.append(
            finding(
                Severity.warning,
                f"HSTS max-age is {max_age} s ({max_age / _DAY:.0f} days): under six months",
                HSTS_FIX,
                {"max_age": max_age},
                impact=2,
            )
        )
    if not hsts.include_subdomains:
        found.append(
            finding(
                Severity.info,
                "HSTS without includeSubDomains: subdomains can still be reached over http",
                HSTS_FIX,
                {"header": hsts.header},
            )
        )
    if hsts.preload and (max_age < 31536000 or not hsts.include_subdomains):
        found.append(
            finding(
                Severity.warning,
                "HSTS asks for preload but does not qualify (hstspreload.org needs max-age "
                "of a year or more and includeSubDomains)",
                HSTS_FIX,
                {"header": hsts.header},
                impact=1,
            )
        )
    return found
