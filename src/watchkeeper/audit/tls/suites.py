"""The cipher classes the audit tries under TLS <= 1.2, each as an OpenSSL cipher string
(what the local OpenSSL can offer) and the IANA code points OpenSSL may lack (Debian's
OpenSSL 3 has no RC4, 3DES, single DES, IDEA, SEED, EXPORT or static-DH suites at all),
which a hand-made ClientHello offers instead (``hello``).

A class is *accepted* when the server completes a handshake, or answers a ClientHello with a
ServerHello, choosing one of its suites. The classes follow the categories testssl.sh and
SSL Labs use, so the results can be compared: NULL and anonymous suites include every key
exchange; EXPORT, RC4, DES, 3DES/IDEA and CBC leave the anonymous ones out (they are already
``anonymous``); forward secrecy counts only suites that are not NULL, RC4 or 3DES.
"""

from __future__ import annotations

import functools
import ssl
import warnings
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CipherClass:
    name: str
    """Short key in the report's JSON: ``rc4``, ``3des``, ``no_forward_secrecy``..."""
    title: str
    openssl: str
    """An OpenSSL cipher string for the class (without ``@SECLEVEL``)."""
    extra: tuple[int, ...] = ()
    """IANA code points of the class that OpenSSL builds commonly lack."""
    weak: bool = True
    """Accepting it is a problem (False: a class a good server offers: AEAD, FS)."""


_RC4 = (0x0004, 0x0005, 0x0066, 0x008A, 0x008E, 0x0092, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC033)
_DES = (0x0009, 0x000C, 0x000F, 0x0012, 0x0015, 0x001E, 0x0022, 0xFEFE, 0xFFE1)
_3DES_IDEA = (
    *(0x000A, 0x000D, 0x0010, 0x0013, 0x0016, 0x001F, 0x0023, 0x008B, 0x008F, 0x0093),
    *(0xC003, 0xC008, 0xC00D, 0xC012, 0xC01A, 0xC01B, 0xC01C, 0xC034, 0xFEFF, 0xFFE0),
    *(0x0007, 0x0021, 0x0025),  # IDEA: a 64-bit block too
)
_EXPORT = (
    *(0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014),
    *(0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B),
    *(0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065),
)
_ANON_LEGACY = (0x0017, 0x0018, 0x0019, 0x001A, 0x001B, 0xC016, 0xC017, 0x009B)
_SEED = (0x0096, 0x0097, 0x0098, 0x0099, 0x009A)
_STATIC_DH_CBC = (
    *(0x0030, 0x0031, 0x0036, 0x0037, 0x003E, 0x003F, 0x0068, 0x0069),
    *(0xC004, 0xC005, 0xC00E, 0xC00F, 0xC025, 0xC026, 0xC029, 0xC02A),
)
_STATIC_DH_GCM = (0x00A0, 0x00A1, 0x00A4, 0x00A5, 0xC02D, 0xC02E, 0xC031, 0xC032)

CLASSES: tuple[CipherClass, ...] = (
    CipherClass("null", "NULL ciphers (no encryption)", "eNULL"),
    CipherClass("anonymous", "anonymous ciphers (no authentication)", "aNULL", _ANON_LEGACY),
    CipherClass("export", "EXPORT ciphers (40/56-bit)", "EXPORT:!aNULL:!eNULL", _EXPORT),
    CipherClass("rc4", "RC4 ciphers", "RC4:!aNULL:!EXPORT", _RC4),
    CipherClass("des", "single DES ciphers (56-bit)", "DES:!3DES:!aNULL:!EXPORT", _DES),
    CipherClass(
        "3des", "3DES and IDEA ciphers (64-bit block, Sweet32)", "3DES:IDEA:!aNULL", _3DES_IDEA
    ),
    CipherClass(
        "cbc",
        "CBC-mode ciphers (AES, CAMELLIA, ARIA, SEED)",
        "AES:CAMELLIA:ARIA:SEED:!AESGCM:!AESCCM:!ARIAGCM:!aNULL:!eNULL",
        (*_SEED, *_STATIC_DH_CBC),
    ),
    CipherClass(
        "no_forward_secrecy",
        "key exchange without forward secrecy (static RSA or DH)",
        "kRSA:kDHr:kDHd:kECDHr:kECDHe:!aNULL",
        (0x0004, 0x0005, 0x000A, 0x0009, 0x0007, 0x0096, *_STATIC_DH_CBC, *_STATIC_DH_GCM),
    ),
    CipherClass(
        "aead",
        "AEAD ciphers (GCM, CCM, ChaCha20-Poly1305)",
        "AESGCM:AESCCM:CHACHA20:ARIAGCM:!aNULL:!eNULL",
        _STATIC_DH_GCM,
        weak=False,
    ),
    CipherClass(
        "forward_secrecy",
        "forward secrecy (ECDHE or DHE)",
        "kECDHE:kDHE:!aNULL:!eNULL:!3DES:!RC4",
        (0x0099, 0x009A),
        weak=False,
    ),
)

BY_NAME = {cipher_class.name: cipher_class for cipher_class in CLASSES}

SSLV2_SPECS = (0x010080, 0x020080, 0x030080, 0x040080, 0x050080, 0x060040, 0x0700C0)
"""Every SSLv2 cipher kind (RC4, RC2, IDEA, DES, 3DES and their export forms)."""

SECLEVEL0 = ":@SECLEVEL=0"
"""Debian's OpenSSL 3 refuses TLS 1.0/1.1, SHA-1 signatures and small keys at its default
security level: level 0 lets the audit offer what it is testing for."""


def context(
    minimum: ssl.TLSVersion = ssl.TLSVersion.MINIMUM_SUPPORTED,
    maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str = "ALL",
    *,
    verify: bool = False,
    ca_file: str | None = None,
) -> ssl.SSLContext:
    """A client context at security level 0 for the given versions and cipher string.
    Raises ssl.SSLError (a cipher string with no match here) or ValueError (a version this
    OpenSSL was built without)."""
    if verify:
        made = ssl.create_default_context(cafile=ca_file)
        made.check_hostname = False  # the name is judged from the certificate (_certs)
    else:
        made = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        made.check_hostname = False
        made.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLSVersion.TLSv1/1.1 are deprecated: testing for them
        warnings.simplefilter("ignore", DeprecationWarning)
        made.minimum_version = minimum
        made.maximum_version = maximum
    made.set_ciphers(ciphers + SECLEVEL0)
    return made


@functools.cache
def local_suites(openssl: str) -> tuple[int, ...]:
    """IANA code points of the TLS <= 1.2 suites the local OpenSSL offers for ``openssl``
    (empty: it has none of them)."""
    try:
        made = context(maximum=ssl.TLSVersion.TLSv1_2, ciphers=openssl)
    except (ssl.SSLError, ValueError):
        return ()
    return tuple(
        entry["id"] & 0xFFFF for entry in made.get_ciphers() if entry["protocol"] != "TLSv1.3"
    )


def missing(cipher_class: CipherClass) -> tuple[int, ...]:
    """The class's code points the local OpenSSL cannot offer (for a raw ClientHello)."""
    have = set(local_suites(cipher_class.openssl))
    return tuple(code for code in cipher_class.extra if code not in have)


def raw_suites(cipher_class: CipherClass) -> tuple[int, ...]:
    """Every code point of the class: what OpenSSL knows of it and what it lacks."""
    have = local_suites(cipher_class.openssl)
    return (*have, *(code for code in cipher_class.extra if code not in set(have)))


@functools.cache
def broad_suites() -> tuple[int, ...]:
    """Every TLS <= 1.2 suite the audit knows, for a hello that must not fail on ciphers."""
    seen: dict[int, None] = dict.fromkeys(local_suites("ALL:COMPLEMENTOFALL"))
    for cipher_class in CLASSES:
        seen.update(dict.fromkeys(cipher_class.extra))
    return tuple(seen)
