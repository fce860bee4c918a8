"""TLS audit of one endpoint: protocol versions, weak cipher classes, the TLS 1.3 suite, the
certificate and its chain, OCSP stapling and HSTS (``scan``), judged into Findings with the
exact fix (``findings``).

    report = await scan("example.com", 443)
    for finding in findings(report, "https://example.com/"):
        ...

Modules: ``suites`` (cipher classes), ``hello`` (hand-made ClientHellos for what the local
OpenSSL cannot offer), ``probes`` (one handshake per question), ``certificate`` (chain,
trust, stapling), ``hsts``, ``scan`` (the whole scan), ``advice`` (findings) with ``fixes``
(the nginx and Caddy lines they recommend), ``model``.
"""

from __future__ import annotations

from watchkeeper.audit.tls.advice import findings
from watchkeeper.audit.tls.hsts import parse as parse_hsts
from watchkeeper.audit.tls.model import Support, TlsReport
from watchkeeper.audit.tls.scan import scan

__all__ = ["Support", "TlsReport", "findings", "parse_hsts", "scan"]
