"""How long one full TLS scan of a local nginx takes (every protocol, every cipher class,
chain, trust, stapling and HSTS: about twenty handshakes, at most eight at once), against
one plain handshake to the same server measured in the same rounds (the ratio is the
figure; absolute times depend on the machine and its load). testssl.sh's time for its
protocol and cipher sections on the same server is printed once, for scale.

    python bench/tls_scan.py [--rounds 10] [--testssl]

Runs from the repository root (it uses the tests' nginx helper).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.nginx import Nginx

from watchkeeper.audit.tls import (
    scan,
    suites,
)
from watchkeeper.audit.tls.probes import Target, handshake

CONFIG = """
server {{
    listen {address}:{https_port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_ciphers ALL:COMPLEMENTOFALL:@SECLEVEL=0;
    add_header Strict-Transport-Security "max-age=63072000" always;
    root {root};
}}
"""


async def rounds(
    address: str, port: int, ca_file: str, count: int
) -> tuple[list[float], list[float], int]:
    scans, singles, handshakes = [], [], 0
    for _ in range(count):
        started = time.perf_counter()
        report = await scan(address, port, ca_file=ca_file, timeout=10)
        scans.append(time.perf_counter() - started)
        handshakes = report.handshakes
        assert report.error is None, report.error
        target = Target(address, port, None, 10)
        started = time.perf_counter()
        async with target.slot():
            await handshake(target, suites.context())
        singles.append(time.perf_counter() - started)
    return scans, singles, handshakes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--testssl", action="store_true")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as directory,
        Nginx(Path(directory), CONFIG, rsa_bits=2048) as site,
    ):
        scans, singles, handshakes = asyncio.run(
            rounds(site.address, site.https_port, str(site.ca_file), args.rounds)
        )
        full, one = statistics.median(scans), statistics.median(singles)
        print(
            f"full scan      median {full * 1000:7.1f} ms  (min {min(scans) * 1000:.1f}, "
            f"max {max(scans) * 1000:.1f}, n={len(scans)}, {handshakes} handshakes)"
        )
        print(f"one handshake  median {one * 1000:7.1f} ms")
        print(f"ratio          {full / one:7.1f}x one handshake")
        if args.testssl:
            out = Path(directory) / "testssl.json"
            started = time.perf_counter()
            subprocess.run(
                [
                    "testssl",
                    "--quiet",
                    "--color",
                    "0",
                    "--warnings",
                    "off",
                    "--jsonfile",
                    str(out),
                    "-p",
                    "-s",
                    "-f",
                    "-e",
                    f"{site.address}:{site.https_port}",
                ],
                capture_output=True,
                check=False,
            )
            print(f"testssl -p -s -f -e  {time.perf_counter() - started:7.1f} s")


if __name__ == "__main__":
    main()
