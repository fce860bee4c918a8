"""Mozilla's HTTP Observatory scanner (the npm package, pinned in tests/oracles/observatory) run
as an oracle: each scan gets a private copy of the scanner's sources with the HSTS preload list
the test chooses (the scanner reads it from beside its sources), and runs ``src/scan.js HOST``
directly under Node with ``NODE_EXTRA_CA_CERTS`` naming the test's CA (the package's
``bin/wrapper.js`` would replace it with Mozilla's bundle).

The scanner only looks at ``http://HOST/`` and ``https://HOST/``, so sites it scans listen on
ports 80 and 443 of their own loopback address (``Nginx(..., standard_ports=True)``).

Missing Node or packages fail the test with what to run; nothing here skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ORACLE = Path(__file__).resolve().parents[1] / "oracles" / "observatory"
PACKAGE = ORACLE / "node_modules" / "@mdn" / "mdn-http-observatory"
VERSION = "1.4.8"


def preload_entry(*, include_subdomains: bool = False) -> dict[str, Any]:
    """One host's entry in the scanner's hsts-preload.json."""
    return {
        "includeSubDomains": include_subdomains,
        "includeSubDomainsForPinning": include_subdomains,
        "mode": "force-https",
        "pinned": False,
    }


class Scanner:
    """Runs the real scanner; one per test (its preload list is the test's)."""

    def __init__(self, directory: Path) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail(
                "Node.js is not installed: the Observatory oracle needs it "
                "(apt-get install nodejs npm; .ci/run does this)"
            )
        manifest = PACKAGE / "package.json"
        if not manifest.is_file():
            pytest.fail(
                f"the Observatory scanner is not installed in {ORACLE}: run "
                f"`npm ci --ignore-scripts --prefix {ORACLE}` (.ci/run does this)"
            )
        version = json.loads(manifest.read_text())["version"]
        if version != VERSION:
            pytest.fail(f"the oracle is scanner {version}, these tests expect {VERSION}")
        self.node = node
        self.root = directory / "observatory"
        package = self.root / "package"
        shutil.copytree(PACKAGE / "src", package / "src")
        shutil.copy(manifest, package / "package.json")
        (package / "conf").mkdir()
        # modules resolve from here up: the copy finds the oracle's installed dependencies
        (self.root / "node_modules").symlink_to(ORACLE / "node_modules")
        self.preload_file = package / "conf" / "hsts-preload.json"
        self.script = package / "src" / "scan.js"
        self.preload({})

    def preload(self, entries: dict[str, Any]) -> None:
        self.preload_file.write_text(json.dumps(entries))

    def scan(self, host: str, *, ca_file: Path | None) -> dict[str, Any]:
        """The scanner's JSON for ``host`` (``{"error": ...}`` when it would not grade).
        ``ca_file`` is the trust it gets on top of Node's own (None: none)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("NODE_")}
        if ca_file is not None:
            env["NODE_EXTRA_CA_CERTS"] = str(ca_file)
        done = subprocess.run(
            [self.node, str(self.script), host],
            capture_output=True,
            text=True,
            env=env,
            timeout=90,
            check=False,
        )
        try:
            result: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            pytest.fail(
                f"the scanner did not print JSON (exit {done.returncode}): "
                f"{done.stdout[-500:]} {done.stderr[-1500:]}"
            )
        return result


def run_module(scanner: Scanner, script: str, payload: Any) -> Any:
    """Run ``script`` (an ES module; ``PKG`` stands for the scanner's sources' URL) with
    ``payload`` as JSON on standard input; its JSON output. For testing the scanner's parts
    (its CSP parser, its cookie library) against ours on many inputs in one process."""
    source = script.replace("PKG", (scanner.root / "package" / "src").as_uri())
    done = subprocess.run(
        [scanner.node, "--input-type=module", "-e", source],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=scanner.root,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"the scanner's module failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


READ_STDIN = """
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
"""
"""Module prologue: ``input`` is the payload."""


SERVE = """
import tls from "node:tls";
import readline from "node:readline";

// NODE_EXTRA_CA_CERTS, per scan: the CAs a request names are added to the default trust of
// every TLS context made while it is scanned (as Node adds the variable's at start-up)
let extra = [];
const original = tls.createSecureContext;
tls.createSecureContext = function (options) {
  const context = original.call(this, options);
  for (const pem of extra) context.context.addCACert(pem);
  return context;
};
const { scan } = await import("PKG/scanner/index.js");
const { hsts } = await import("PKG/analyzer/hsts.js");
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  const ask = JSON.parse(line);
  extra = ask.cas;
  const preload = hsts();
  preload.clear();
  for (const [host, entry] of Object.entries(ask.preload)) preload.set(host, entry);
  let answer;
  try {
    const result = await scan(ask.host);
    const tests = Object.fromEntries(
      Object.entries(result.tests).map(([key, test]) => {
        const { scoreDescription, ...rest } = test;
        return [key, rest];
      })
    );
    answer = { scan: result.scan, tests };
  } catch (e) {
    answer = { error: e instanceof Error ? e.message : String(e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\\n");
}
"""
"""A scanner kept running: the scanner's ``scan`` as ``src/scan.js`` calls it (the same JSON,
``scoreDescription`` left out), one host per line of standard input, with that request's CAs
and HSTS preload list. Loading the scanner took most of a scan's time."""


class ScanServer:
    """One Node process scanning host after host (one per xdist worker: ``scan_server``)."""

    def __init__(self, directory: Path) -> None:
        self.scanner = Scanner(directory)
        source = SERVE.replace("PKG", (self.scanner.root / "package" / "src").as_uri())
        env = {key: value for key, value in os.environ.items() if not key.startswith("NODE_")}
        self.process = subprocess.Popen(
            [self.scanner.node, "--input-type=module", "-e", source],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.scanner.root,
            env=env,
        )

    def scan(
        self, host: str, *, ca_file: Path | None, preload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """As ``Scanner.scan``, in the running process."""
        assert self.process.stdin is not None and self.process.stdout is not None
        ask = {
            "host": host,
            "cas": [] if ca_file is None else _pems(ca_file.read_text()),
            "preload": preload or {},
        }
        self.process.stdin.write(json.dumps(ask) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            err = self.process.stderr.read() if self.process.stderr else ""
            pytest.fail(f"the scanner stopped (exit {self.process.poll()}): {err[-1500:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _pems(text: str) -> list[str]:
    """Each certificate of a PEM bundle."""
    end = "-----END CERTIFICATE-----"
    return [part.strip() + "\n" + end + "\n" for part in text.split(end) if part.strip()]
