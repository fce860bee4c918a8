"""``wk audit`` and the ``audit`` monitor kind, end to end against real nginx sites."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.helpers.cli import Running, wk
from tests.helpers.nginx import Nginx
from tests.helpers.servers import RawServer
from tests.report.test_sarif import _validate

GOOD = """
server {{
    listen {address}:{http_port};
    return 301 https://{address}:{https_port}$request_uri;
}}
server {{
    listen {address}:{https_port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    root {root};
    add_header Content-Security-Policy "{csp}" always;
    add_header Strict-Transport-Security "max-age=63072000" always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy no-referrer always;
}}
""".replace(
    "{csp}",
    "default-src 'none'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'",
)

BARE = """
server {{
    listen {address}:{https_port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
}}
"""


def _site(tmp_path: Path, servers: str) -> Nginx:
    site = Nginx(tmp_path, servers)
    (site.root / "index.html").write_text("<!doctype html><title>shop</title><h1>shop</h1>")
    return site


async def test_a_bare_site_gets_a_low_grade_every_point_explained_and_exit_1(
    tmp_path: Path,
) -> None:
    with _site(tmp_path, BARE) as site:
        done = await wk(
            "audit",
            site.url("/", https=True),
            "--ca-file",
            str(site.ca_file),
            "--format",
            "json",
            "--only",
            "headers",
        )
    assert done.code == 1, done.stderr
    report = done.json()
    (audited,) = report["sites"]
    assert audited["grade"] in ("D", "D-", "F")
    assert audited["observatory"]["scan"]["algorithmVersion"] >= 4
    titles = [f["title"] for f in report["findings"]]
    assert any("Content Security Policy" in t or "CSP" in t for t in titles)
    assert all(f["recommendation"] for f in report["findings"] if f["severity"] != "info")


async def test_a_well_configured_site_passes_fail_under_and_writes_valid_sarif(
    tmp_path: Path,
) -> None:
    out = tmp_path / "audit.sarif"
    with _site(tmp_path, GOOD) as site:
        done = await wk(
            "audit",
            site.url("/", https=True),
            "--ca-file",
            str(site.ca_file),
            "--only",
            "headers",
            "--fail-under",
            "B",
            "--format",
            "sarif",
            "-o",
            str(out),
        )
        text = await wk(
            "audit", site.url("/", https=True), "--ca-file", str(site.ca_file), "--only", "headers"
        )
    assert done.code == 0, done.stdout + done.stderr
    log = json.loads(out.read_text())
    grade = log["runs"][0]["properties"]["sites"][0]["grade"]
    assert grade.startswith("A") or grade.startswith("B")
    problems = _validate(log, tmp_path)
    assert [p for p in problems if p.get("level", "warning") in ("error", "warning")] == []
    assert grade in text.stdout and "content-security-policy" in text.stdout


async def test_bad_input_and_dead_sites_get_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = await wk("audit", "ftp://example.test/")
    assert bad.code == 2
    assert bad.stderr.strip().count("\n") == 0 and "http" in bad.stderr

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with RawServer(silent) as hanging:  # wk's 60 s bound fails the test if it waits on
        dead = await wk(
            "audit", f"http://{hanging.address}/", "--timeout", "1s", "--only", "headers"
        )
    assert dead.code == 2, dead.stdout + dead.stderr
    assert "cannot be audited" in dead.stderr
    assert "Traceback" not in dead.stderr


async def test_an_audit_monitor_stores_its_grade_and_the_security_page_shows_it(
    tmp_path: Path,
) -> None:
    with _site(tmp_path, BARE) as site:
        config = tmp_path / "watchkeeper.yaml"
        config.write_text(
            f"storage: sqlite:///{tmp_path / 'wk.db'}\n"
            # its first run at once, not at random within the first minute (a daily
            # monitor's first check is spread over engine.startup_spread, 60 s by default)
            "engine: {startup_spread: 0s}\n"
            "monitors:\n"
            "  - name: shop-audit\n"
            f'    audit: {{url: "{site.url("/", https=True)}", min_grade: B, ca_file: '
            f'"{site.ca_file}", exposure: false, delivery: false}}\n'
        )
        running = await Running("-c", str(config)).start()
        try:
            deadline = time.monotonic() + 60
            while True:
                listing = await running.get("/api/v1/audits")
                (item,) = listing["items"]
                if item["grade"] is not None and item["state"] != "unknown":
                    break
                assert time.monotonic() < deadline, listing
                await asyncio.sleep(0.5)
            detail = await running.get("/api/v1/audits/shop-audit")
            status, page = await running.request("GET", "/security")
            status_site, site_page = await running.request("GET", "/security/shop-audit")
            metrics = await running.get("/api/v1/monitors/shop-audit/metrics?since=1h")
        finally:
            await running.stop()
    assert item["grade"] in ("D", "D-", "F")
    assert item["state"] == "degraded"  # below min_grade: degraded, not down
    assert detail["report"]["observatory"]["tests"]["content-security-policy"]["pass"] is False
    assert status == 200 and item["grade"] in page and "shop-audit" in page
    assert status_site == 200 and "content-security-policy" in site_page
    assert "audit.score" in {m["name"] for m in metrics["items"]}


async def test_the_config_names_the_sites_and_bad_options_get_one_line(tmp_path: Path) -> None:
    with _site(tmp_path, BARE) as site:
        config = tmp_path / "watchkeeper.yaml"
        config.write_text(
            "monitors:\n"
            f'  - {{name: shop, audit: {{url: "{site.url("/", https=True)}", '
            f'ca_file: "{site.ca_file}", tls: false}}}}\n'
            '  - {name: port, tcp: "127.0.0.1:9"}\n'
        )
        done = await wk("audit", "-c", str(config), "--format", "json", "--only", "headers")
    assert done.code == 1, done.stderr
    assert [s["target"] for s in done.json()["sites"]] == [site.url("/", https=True)]

    plain = tmp_path / "plain.yaml"
    plain.write_text('monitors:\n  - {name: port, tcp: "127.0.0.1:9"}\n')
    for args, message in (
        (("-c", str(plain)), "no audit monitors"),
        (("--only", "nope", "example.test"), "no part named nope"),
        (("--fail-under", "Z", "example.test"), "not a grade"),
        (("--timeout", "soon", "example.test"), "--timeout"),
        (("--hsts-preload", str(plain), "example.test"), "not JSON"),
    ):
        refused = await wk("audit", *args)
        assert refused.code == 2, (args, refused.stdout, refused.stderr)
        assert message in refused.stderr and refused.stderr.strip().count("\n") == 0, args
