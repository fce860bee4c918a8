"""Debian's testssl.sh as an oracle: run it against one endpoint, read its JSON.

testssl asks with its own hand-made ClientHellos ("sockets"), so what it can test does not
depend on the local OpenSSL; it takes tens of seconds per endpoint, so tests run it on a
few servers only and ask for just the sections they compare (``-p`` protocols, ``-s``
cipher categories, ``-e`` every cipher). Forward secrecy is read from ``-e``'s suites by
testssl's own rule (``with_forward_secrecy``) rather than asked again with ``-f``: ``-f``
repeats the ECDHE/DHE handshakes ``-e`` already made and adds a curve and group census
nothing compares, a fifth of testssl's time per server.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

TESTSSL = shutil.which("testssl") or "/usr/bin/testssl"
FLAGS = ("-p", "-s", "-e")


async def run_testssl(
    address: str, port: int, directory: Path, flags: tuple[str, ...] = FLAGS
) -> dict[str, str]:
    """testssl's findings for ``address:port``: ``{"TLS1": "offered (deprecated)",
    "cipherlist_NULL": "not offered", "cipher_xc030": "xc030 ECDHE-RSA-AES256-GCM-SHA384
    ... TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", ...}``."""
    out = directory / f"testssl-{address}-{port}.json"
    process = await asyncio.create_subprocess_exec(
        TESTSSL,
        "--quiet",
        "--color",
        "0",
        "--warnings",
        "off",
        "--nodns",  # the targets are addresses: no lookups (a fifth of its time, same findings)
        "none",
        "--jsonfile",
        str(out),
        *flags,
        f"{address}:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 300)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if not out.exists():
        raise RuntimeError(f"testssl wrote no JSON: {output.decode(errors='replace')[-2000:]}")
    return {entry["id"]: entry["finding"] for entry in json.loads(out.read_text())}


def offered(finding: str) -> bool:
    """testssl's "offered", "offered (deprecated)", "offered with final"... vs "not offered"."""
    return finding.startswith("offered")


def _suites(results: dict[str, str]) -> list[tuple[str, str]]:
    """The suites ``-e`` found: (hex code as testssl writes it, e.g. ``xc030`` or ``x1302``;
    IANA name)."""
    return [
        (key.removeprefix("cipher_"), finding.split()[-1])
        for key, finding in results.items()
        if key.startswith("cipher_x")
    ]


def with_forward_secrecy(results: dict[str, str]) -> list[str]:
    """The suites ``-e`` found that testssl's ``-f`` counts as forward secret: its own rule
    (run_pfs in testssl 3.0), ephemeral ECDHE or DHE or any TLS 1.3 suite, leaving out
    NULL, DES/3DES, RC4 and PSK ones (anonymous suites are TLS_DH_anon_/TLS_ECDH_anon_, so
    they are not counted either)."""
    return [
        name
        for code, name in _suites(results)
        if (
            name.startswith(("TLS_DHE_", "TLS_ECDHE_"))
            or (len(code) == 5 and code.startswith("x13"))
        )
        and not any(part in name for part in ("NULL", "DES", "RC4", "PSK"))
    ]


def without_forward_secrecy(results: dict[str, str]) -> list[str]:
    """The suites ``-e`` found whose key exchange has no forward secrecy (static RSA, DH,
    ECDH or PSK), by their IANA names."""
    static = (
        "TLS_RSA_",
        "TLS_DH_DSS_",
        "TLS_DH_RSA_",
        "TLS_ECDH_ECDSA_",
        "TLS_ECDH_RSA_",
        "TLS_PSK_",
        "TLS_RSA_PSK_",
    )
    return [name for _, name in _suites(results) if name.startswith(static)]
