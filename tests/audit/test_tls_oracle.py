"""The TLS scan against testssl.sh, on real nginx servers configured from weak to strong:
both must agree on every protocol version and every cipher class.

How testssl's sections map to the scan's results:

    SSLv2 SSLv3 TLS1 TLS1_1 TLS1_2 TLS1_3     protocols of the same names
    cipherlist_NULL / aNULL / EXPORT          null / anonymous / export
    cipherlist_LOW (DES, RC2, RC4)            rc4 or des
    cipherlist_3DES_IDEA                      3des
    cipherlist_AVERAGE (CBC)                  cbc
    cipherlist_STRONG (AEAD, TLS 1.3 too)     aead, or TLS 1.3 offered
    -e: ECDHE/DHE/TLS 1.3 suites, by -f's     forward_secrecy, or TLS 1.3 offered
        rule (with_forward_secrecy)
    -e: suites with static RSA/DH key ex.     no_forward_secrecy

The local OpenSSL (Debian's 3.0) has no SSLv2/SSLv3, RC4, DES, 3DES, IDEA or EXPORT suites;
testssl asks for those with its own ClientHellos, and so does the scan (``hello``), so there
is no "not testable here" left to explain: the test asserts that none of the results is.
nginx runs on the same OpenSSL, so no server here can offer those suites: their agreement
on "not offered" is real, and the hand-made hello's "offered" is checked separately against
classes nginx does offer (test_tls_scan).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.nginx import Nginx
from tests.helpers.testssl import (
    offered,
    run_testssl,
    with_forward_secrecy,
    without_forward_secrecy,
)

from watchkeeper.audit.tls import Support, TlsReport, findings, scan

SERVERS = {
    # everything this OpenSSL can serve: TLS 1.0-1.3, NULL, anonymous, CBC, static RSA
    "weak": (
        "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; ssl_ciphers ALL:COMPLEMENTOFALL:@SECLEVEL=0;",
        2048,
    ),
    # Mozilla's modern-ish profile: TLS 1.2+1.3, ECDHE with AEAD only, an EC key
    "strong": (
        "ssl_protocols TLSv1.2 TLSv1.3; "
        "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305; "
        'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;',
        None,
    ),
    # an old appliance: TLS 1.0/1.1 only, CBC with static RSA only
    "legacy": (
        "ssl_protocols TLSv1 TLSv1.1; ssl_ciphers AES128-SHA:AES256-SHA:@SECLEVEL=0;",
        2048,
    ),
    # TLS 1.2 only, a mix: ECDHE CBC, static-RSA GCM, anonymous ECDH
    "mixed": (
        "ssl_protocols TLSv1.2; "
        "ssl_ciphers ECDHE-RSA-AES128-SHA256:AES128-GCM-SHA256:AECDH-AES128-SHA:@SECLEVEL=0;",
        2048,
    ),
}

CONFIG = """
server {{
    listen {address}:{https_port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    %s
    root {root};
}}
"""


def comparison(report: TlsReport, oracle: dict[str, str]) -> dict[str, tuple[bool, bool]]:
    """Each compared item: (testssl says offered, the scan says offered)."""
    tls13 = report.offers("TLSv1.3")
    pairs = {
        name: (offered(oracle[key]), report.offers(name))
        for key, name in (
            ("SSLv2", "SSLv2"),
            ("SSLv3", "SSLv3"),
            ("TLS1", "TLSv1"),
            ("TLS1_1", "TLSv1.1"),
            ("TLS1_2", "TLSv1.2"),
            ("TLS1_3", "TLSv1.3"),
            ("cipherlist_NULL", "null"),
            ("cipherlist_aNULL", "anonymous"),
            ("cipherlist_EXPORT", "export"),
            ("cipherlist_3DES_IDEA", "3des"),
            ("cipherlist_AVERAGE", "cbc"),
        )
    }
    pairs["low (rc4, des)"] = (
        offered(oracle["cipherlist_LOW"]),
        report.offers("rc4") or report.offers("des"),
    )
    pairs["strong (aead, TLS 1.3)"] = (
        offered(oracle["cipherlist_STRONG"]),
        report.offers("aead") or tls13,
    )
    pairs["forward secrecy"] = (
        bool(with_forward_secrecy(oracle)),
        report.offers("forward_secrecy") or tls13,
    )
    pairs["no forward secrecy"] = (
        bool(without_forward_secrecy(oracle)),
        report.offers("no_forward_secrecy"),
    )
    return pairs


@pytest.mark.timeout(400)
@pytest.mark.parametrize("kind", sorted(SERVERS))
async def test_the_scan_agrees_with_testssl(kind: str, tmp_path: Path) -> None:
    settings, rsa_bits = SERVERS[kind]
    with Nginx(tmp_path, CONFIG % settings, rsa_bits=rsa_bits) as site:
        report = await scan(site.address, site.https_port, ca_file=str(site.ca_file), timeout=10)
        oracle = await run_testssl(site.address, site.https_port, tmp_path)
    assert report.error is None, report.error
    untestable = [
        item.name
        for item in (*report.protocols, *report.cipher_classes)
        if item.support in (Support.untestable, Support.unknown)
    ]
    assert untestable == []
    pairs = comparison(report, oracle)
    disagreements = {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}
    assert disagreements == {}, f"testssl vs scan on {kind}: {disagreements}"
    # and the servers are what they were meant to be: the comparison compared something
    offered_here = {name for name, (theirs, _) in pairs.items() if theirs}
    expected = {
        "weak": {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "null", "anonymous", "cbc"},
        "strong": {"TLSv1.2", "TLSv1.3", "strong (aead, TLS 1.3)", "forward secrecy"},
        "legacy": {"TLSv1", "TLSv1.1", "cbc", "no forward secrecy"},
        "mixed": {"TLSv1.2", "anonymous", "cbc", "no forward secrecy", "forward secrecy"},
    }[kind]
    assert expected <= offered_here
    assert "TLSv1.3" not in offered_here or kind in ("weak", "strong")
    titles = " | ".join(f.title for f in findings(report, site.url("/", https=True)))
    if kind == "strong":
        assert not any(f.severity != "info" for f in findings(report, "strong")), titles
    if kind in ("weak", "legacy"):
        assert "TLS 1.0 and TLS 1.1 offered" in titles
    if kind == "legacy":
        assert "Only CBC suites" in titles and "No forward secrecy" in titles
