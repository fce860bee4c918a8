"""Well-known leaks on one site: files and pages a web server should never hand out.

The probes (``PROBES``), one GET each on the site's own origin, no redirect followed:

    /.git/HEAD, /.git/config      the repository, hence the source and its history
    /.env                         the application's secrets
    /server-status                Apache mod_status: every client and URL being served
    /nginx_status, /stub_status   nginx stub_status: connection counts
    /backup.zip, /backup.tar.gz,  the usual names of a site or database backup left in the
    /db.sql, /dump.sql            document root
    /index.php~, /index.php.bak,  an editor's or a careful admin's copy of a PHP file, served
    /wp-config.php.bak            as source (database password included)
    /, /uploads/, /static/,       directory listings (autoindex)
    /backup/

and two error probes: a path that cannot exist (a 404) and the site's page with a query
built to upset a parser (a 500, with luck), read for stack traces and debug pages
(``_traces``).

A probe is a finding only when the body is what the name promises: ``.git/HEAD`` must read
``ref: refs/...`` (or be a commit id), ``.env`` must be mostly ``KEY=VALUE`` lines, a zip must
start with a zip's magic bytes, a listing must be titled "Index of /" or "Directory listing
for /". A site that answers every path with its home page (a ``try_files`` catch-all, a
single-page app) gives none: besides the content check, a body identical to the one the
impossible path got is dismissed. Only status 200 counts.

Bounded: ``len(PROBES) + 2`` requests, at most ``CONCURRENCY`` at a time, each body read up to
``PROBE_BODY`` bytes (``ERROR_BODY`` for the error probes), all on the host given.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from yarl import URL

from watchkeeper.audit._http import Fetcher, FetchError, Response
from watchkeeper.audit.exposure._found import SOURCE
from watchkeeper.audit.exposure._traces import find_trace
from watchkeeper.findings import Finding, Severity

CONCURRENCY = 4
PROBE_BODY = 64 * 1024
ERROR_BODY = 256 * 1024
BAD_QUERY = "id=%27%22%3E%3C%00&page%5B%5D=-1"
"""A quote, a double quote, angle brackets, a NUL byte and an array where a number is due."""

Check = Callable[[Response], str | None]
"""What the body shows (a short evidence text) when it is the leak, else None."""


@dataclass(frozen=True, slots=True)
class Probe:
    path: str
    rule: str
    severity: Severity
    what: str
    check: Check
    fix: str


def _head(response: Response, size: int = 4096) -> str:
    return response.body[:size].decode("utf-8", errors="replace")


def _looks_like_html(text: str) -> bool:
    start = text.lstrip()[:512].lower()
    return start.startswith(("<!doctype", "<html", "<head", "<body", "<?xml")) or ("<html" in start)


def git_head(response: Response) -> str | None:
    lines = _head(response, 512).strip().splitlines()
    if len(lines) != 1:
        return None
    line = lines[0].strip()
    if line.startswith("ref: refs/") and " " not in line[5:] and len(line) < 256:
        return line
    if len(line) in (40, 64) and all(c in "0123456789abcdef" for c in line):
        return "detached HEAD " + line[:12]
    return None


def git_config(response: Response) -> str | None:
    text = _head(response)
    if "[core]" in text and "repositoryformatversion" in text:
        return "[core] repositoryformatversion ..."
    return None


def env_file(response: Response) -> str | None:
    text = _head(response, PROBE_BODY)
    if _looks_like_html(text):
        return None
    keys: list[str] = []
    other = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        name, equals, _ = line.partition("=")
        name = name.strip()
        if equals and name and _is_variable(name):
            keys.append(name)
        else:
            other += 1
    if len(keys) >= 2 and len(keys) >= 4 * other:
        shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
        return f"{len(keys)} variables ({shown}); values not shown"
    return None


def _is_variable(name: str) -> bool:
    return (
        len(name) <= 128
        and (name[0].isascii() and (name[0].isalpha() or name[0] == "_"))
        and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
    )


def apache_status(response: Response) -> str | None:
    text = _head(response, 16384)
    if "Apache Server Status for" in text or (
        "Server uptime:" in text and "requests currently being processed" in text
    ):
        return "Apache server-status page"
    return None


def nginx_status(response: Response) -> str | None:
    text = _head(response, 1024)
    if text.startswith("Active connections:") and "server accepts handled requests" in text:
        return " ".join(text.split())[:80]
    return None


def zip_file(response: Response) -> str | None:
    return "zip archive" if response.body.startswith(b"PK\x03\x04") else None


def gzip_file(response: Response) -> str | None:
    return "gzip archive" if response.body.startswith(b"\x1f\x8b") else None


def sql_dump(response: Response) -> str | None:
    text = _head(response, 16384)
    if _looks_like_html(text):
        return None
    upper = text.upper()
    for marker in ("-- MYSQL DUMP", "POSTGRESQL DATABASE DUMP", "CREATE TABLE", "INSERT INTO"):
        if marker in upper:
            return f"SQL ({marker.lower()})"
    return None


def php_source(response: Response) -> str | None:
    text = _head(response, 16384)
    return "PHP source" if "<?php" in text else None


def listing(response: Response) -> str | None:
    text = _head(response, 8192)
    lower = text.lower()
    for marker in ("<title>index of /", "<h1>index of /", "<title>directory listing for /"):
        if marker in lower:
            return " ".join(text[lower.find(marker) :][:120].split())
    return None


_GIT_FIX = (
    "nginx: location ~ /\\.git {{ deny all; }}  Caddy: respond /.git/* 404  "
    "(better: deploy a build, not a checkout)"
)
_BACKUP_FIX = (
    "Move {path} out of the document root and delete it there; nginx: "
    "location ~* \\.(bak|sql|zip|tar\\.gz)$|~$ {{ deny all; }}"
)


def _listing_probe(path: str) -> Probe:
    return Probe(
        path,
        "directory-listing",
        Severity.warning,
        "a directory listing",
        listing,
        "nginx: autoindex off;  Apache: Options -Indexes  Caddy: file_server without browse",
    )


PROBES: tuple[Probe, ...] = (
    Probe("/.git/HEAD", "git-exposed", Severity.critical, "the Git repository", git_head, _GIT_FIX),
    Probe(
        "/.git/config",
        "git-exposed",
        Severity.critical,
        "the Git repository",
        git_config,
        _GIT_FIX,
    ),
    Probe(
        "/.env",
        "env-exposed",
        Severity.critical,
        "the .env file (application secrets)",
        env_file,
        "Move .env out of the document root and rotate every secret in it; nginx: "
        "location ~ /\\.env {{ deny all; }}  Caddy: respond /.env 404",
    ),
    Probe(
        "/server-status",
        "server-status-exposed",
        Severity.warning,
        "Apache's server-status page",
        apache_status,
        "Apache: <Location /server-status> Require local </Location>",
    ),
    *(
        Probe(
            path,
            "stub-status-exposed",
            Severity.warning,
            "nginx's stub_status page",
            nginx_status,
            f"nginx: location = {path} {{{{ stub_status; allow 127.0.0.1; deny all; }}}}",
        )
        for path in ("/nginx_status", "/stub_status")
    ),
    Probe("/backup.zip", "backup-exposed", Severity.critical, "a backup", zip_file, _BACKUP_FIX),
    Probe(
        "/backup.tar.gz", "backup-exposed", Severity.critical, "a backup", gzip_file, _BACKUP_FIX
    ),
    *(
        Probe(path, "backup-exposed", Severity.critical, "a database dump", sql_dump, _BACKUP_FIX)
        for path in ("/db.sql", "/dump.sql")
    ),
    *(
        Probe(path, "source-exposed", Severity.critical, "PHP source", php_source, _BACKUP_FIX)
        for path in ("/index.php~", "/index.php.bak", "/wp-config.php.bak")
    ),
    *(_listing_probe(path) for path in ("/uploads/", "/static/", "/backup/")),
)


async def site_leaks(url: str, *, fetch: Fetcher) -> list[Finding]:
    """The leak and error-page findings of the site at ``url``. The first request (``url``
    itself, redirects followed while they stay on hosts the fetcher allows) raises
    FetchError when it gets no answer; later probes that fail are counted, not raised."""
    chain = await fetch.follow(url, max_body=ERROR_BODY)
    page = chain.final
    page_url = URL(page.url).with_query(None).with_fragment(None)
    origin = page_url.origin()
    gate = asyncio.Semaphore(CONCURRENCY)
    failures: list[str] = []

    async def get(target: URL, cap: int) -> Response | None:
        async with gate:
            try:
                return await fetch.get(str(target), max_body=cap)
            except FetchError as exc:
                failures.append(exc.reason)
                return None

    probes = list(PROBES)
    directory = page_url.path[: page_url.path.rfind("/") + 1] or "/"
    if directory != page_url.path and directory not in {probe.path for probe in probes}:
        probes.insert(0, _listing_probe(directory))
    baseline, errored, *probed = await asyncio.gather(
        get(origin.with_path(f"/watchkeeper-{secrets.token_hex(6)}-missing"), ERROR_BODY),
        get(URL(str(page_url) + "?" + BAD_QUERY, encoded=True), ERROR_BODY),
        *(get(origin.with_path(probe.path), PROBE_BODY) for probe in probes),
    )
    findings: list[Finding] = []
    seen: set[str] = set()
    for probe, response in [*zip(probes, probed, strict=True), (_listing_probe("/"), page)]:
        if response is None or response.status != 200 or not response.body:
            continue
        if response is not page and _same_as(response, baseline):
            continue  # the catch-all page, whatever was asked
        shown = probe.check(response)
        if shown is None or probe.rule in seen:
            continue
        seen.add(probe.rule)  # .git/HEAD and .git/config, two listings: one finding each
        findings.append(_leak(probe, response, shown))
    findings.extend(
        _traces(
            str(origin),
            (("a bad query", errored), ("a missing page", baseline), ("the page", page)),
        )
    )
    if failures and len(failures) == len(probes) + 2:
        findings.append(
            Finding(
                source=SOURCE,
                severity=Severity.info,
                title=f"No leak probe got an answer from {origin}",
                subject=str(origin),
                evidence={"probes": len(failures), "reason": failures[0]},
                recommendation="The page answered but every probe failed: a rate limit or a "
                "firewall rule may be dropping them; the exposure checks are incomplete.",
                rule="probes-failed",
            )
        )
    return findings


def _same_as(response: Response, baseline: Response | None) -> bool:
    return baseline is not None and baseline.status == 200 and response.body == baseline.body


def _leak(probe: Probe, response: Response, shown: str) -> Finding:
    return Finding(
        source=SOURCE,
        severity=probe.severity,
        title=f"{probe.what[0].upper()}{probe.what[1:]} is served at {URL(response.url).path}",
        subject=response.url,
        evidence={
            "status": response.status,
            "bytes": len(response.body),
            "content_type": response.header("content-type") or "",
            "shows": shown,
        },
        recommendation=probe.fix.format(path=probe.path),
        impact=3.0 if probe.severity == Severity.critical else 2.0,
        rule=probe.rule,
    )


def _traces(origin: str, answers: tuple[tuple[str, Response | None], ...]) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for asked, response in answers:
        if response is None:
            continue
        trace = find_trace(response.body)
        if trace is None or trace.signature.framework in seen:
            continue
        seen.add(trace.signature.framework)
        critical = trace.signature.severity == Severity.critical
        findings.append(
            Finding(
                source=SOURCE,
                severity=trace.signature.severity,
                title=f"{trace.signature.framework} shown to visitors "
                f"(HTTP {response.status} to {asked})",
                subject=origin,
                evidence={
                    "url": response.url,
                    "status": response.status,
                    "framework": trace.signature.framework,
                    "excerpt": trace.excerpt,
                },
                recommendation=trace.signature.fix,
                impact=3.0 if critical else 2.0,
                rule="debugger-exposed" if critical else "stack-trace",
            )
        )
    return findings
