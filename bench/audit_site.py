"""How long the exposure and delivery audits, and a full audit (headers, TLS, exposure,
delivery), of one local site take (no port scan), against
one plain GET of the same page measured in the same rounds (the ratio is the figure; the
absolute times depend on the machine and its load). The issue's target is under 2 s for a
full audit of a local site.

    python bench/audit_site.py [--rounds 10]

The site is a private nginx (Debian's) over TLS with HTTP/2 and gzip: a 20 KB page with a
stylesheet, a script, three images and a font named in the stylesheet, an `.env` left in
the document root (one leak to find) and a catch-all for everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.nginx import Nginx

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.delivery import delivery
from watchkeeper.audit.exposure import exposure
from watchkeeper.audit.run import Options, audit
from watchkeeper.audit.target import Target

SERVER = """
server {{
    listen {address}:{https_port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    root {root};
    gzip on;
    gzip_types text/css application/javascript image/svg+xml;
    location /static/ {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    location / {{ try_files $uri /index.html; }}
}}
"""


def _fill(root: Path) -> None:
    static = root / "static"
    static.mkdir()
    (static / "site.css").write_text(
        "".join(f".c{i} {{ margin: {i}px; }}\n" for i in range(800))
        + "@font-face { font-family: S; src: url(s.woff2); }"
    )
    (static / "app.js").write_text(
        "".join(f"function f{i}() {{ return {i}; }}\n" for i in range(900))
    )
    for i in range(3):
        (static / f"p{i}.jpg").write_bytes(os.urandom(40_000))
    (static / "s.woff2").write_bytes(os.urandom(20_000))
    (root / ".env").write_text("A=1\nB=2\n")
    body = "".join(f"<p>Item {i}</p>" for i in range(1000))
    images = "".join(f'<img src="/static/p{i}.jpg">' for i in range(3))
    (root / "index.html").write_text(
        f'<!doctype html><link rel=stylesheet href="/static/site.css">'
        f'<script src="/static/app.js" defer></script>{images}{body}'
    )


async def _round(
    url: str, context: ssl.SSLContext, host: str, ca_file: str
) -> tuple[float, float, float, int]:
    loop = asyncio.get_running_loop()
    async with Fetcher(timeout=5, tls=context, allowed_hosts=frozenset({host})) as fetch:
        started = loop.time()
        await fetch.get(url)
        plain = loop.time() - started
    async with Fetcher(timeout=5, tls=context, allowed_hosts=frozenset({host})) as fetch:
        started = loop.time()
        found = await asyncio.gather(exposure(url, fetch=fetch), delivery(url, fetch=fetch))
        parts = loop.time() - started
    started = loop.time()
    report = await audit(Target.parse(url), Options(timeout=5, ca_file=ca_file))
    full = loop.time() - started
    assert not report.errors, report.errors
    return plain, parts, full, sum(len(f) for f in found)


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        site = Nginx(Path(scratch), SERVER)
        _fill(site.root)
        with site:
            url = site.url("/", https=True)
            context = ssl.create_default_context(cafile=str(site.ca_file))
            ca = str(site.ca_file)
            await _round(url, context, site.address, ca)  # warm up (imports, handshakes)
            plains, audits, fulls = [], [], []
            for _ in range(rounds):
                plain, parts, full, findings = await _round(url, context, site.address, ca)
                plains.append(plain * 1000)
                audits.append(parts * 1000)
                fulls.append(full * 1000)
    plain_ms, audit_ms = statistics.median(plains), statistics.median(audits)
    print(f"one GET of the page:        median {plain_ms:7.1f} ms")
    print(
        f"exposure + delivery:        median {audit_ms:7.1f} ms  (min {min(audits):.1f}, "
        f"max {max(audits):.1f}, n={rounds}, {findings} findings)"
    )
    full_ms = statistics.median(fulls)
    print(
        f"full audit (all 4 parts):   median {full_ms:7.1f} ms  (min {min(fulls):.1f}, "
        f"max {max(fulls):.1f}; headers graded, TLS scanned, no port scan)"
    )
    print(f"ratio exposure+delivery / GET: {audit_ms / plain_ms:7.1f}")
    print(f"ratio full audit / GET:        {full_ms / plain_ms:7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    started = time.perf_counter()
    asyncio.run(main(parser.parse_args().rounds))
    print(f"(bench wall {time.perf_counter() - started:.1f} s)")
