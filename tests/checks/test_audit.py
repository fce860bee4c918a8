"""The ``audit`` kind against real nginx sites: facts for expectations and series, and the
monitor degraded (not down) when the grade drops or a critical finding appears."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.nginx import Nginx

from watchkeeper.checks import Resources
from watchkeeper.checks.audit import CHECK, AuditSettings
from watchkeeper.checks.base import Attempt

HEADERS = """
    add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;
    add_header Strict-Transport-Security "max-age=63072000" always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy no-referrer always;
"""


def _server(headers: str) -> str:
    return (
        "server {{ listen {address}:{https_port} ssl; ssl_certificate {cert}; "
        "ssl_certificate_key {key}; root {root}; "
        + headers.replace("{", "{{").replace("}", "}}")
        + " }}"
    )


async def _run(site: Nginx, monitor: str = "shop") -> Attempt:
    settings = AuditSettings(
        url=site.url("/", https=True), ca_file=str(site.ca_file), delivery=False, tls=False
    )
    attempt = Attempt(resources=Resources(), timeout=60, monitor=monitor)
    await CHECK.probe(settings, attempt)
    return attempt


async def test_a_grade_drop_and_a_new_critical_finding_degrade_the_monitor(
    tmp_path: Path,
) -> None:
    with Nginx(tmp_path, _server(HEADERS)) as good, Nginx(tmp_path, _server("")) as bare:
        (good.root / "index.html").write_text("<h1>shop</h1>")
        (bare.root / "index.html").write_text("<h1>shop</h1>")
        (bare.root / ".git").mkdir()
        (bare.root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        first = await _run(good, "drop-test")
        second = await _run(bare, "drop-test")  # a deploy dropped the headers, shipped .git
        third = await _run(bare, "drop-test")  # unchanged since: nothing new to say
    facts = first.observation.facts
    assert first.observation.error is None and first.observation.warnings == []
    assert facts["audit.grade"].startswith("A") and facts["audit.score"] >= 90
    assert facts["observatory.content-security-policy"] >= 0
    assert first.observation.detail is not None and first.observation.detail["grade"]

    warned = second.observation.warnings
    assert any(w.startswith(f"grade dropped from {facts['audit.grade']} to ") for w in warned)
    assert any("new critical finding" in w and ".git" in w for w in warned), warned
    assert second.observation.facts["audit.critical"] >= 1
    assert third.observation.warnings == []


async def test_an_unreachable_site_fails_the_check(tmp_path: Path) -> None:
    settings = AuditSettings(url="https://127.0.0.1:9/")
    attempt = Attempt(resources=Resources(), timeout=20, monitor="gone")
    await CHECK.probe(settings, attempt)
    assert attempt.observation.error is not None
    assert "\n" not in attempt.observation.error
