"""Delivery findings from what was fetched: pure functions, no I/O.

Each finding is about the page (``subject`` is the page's URL as asked, so runs compare) and
carries ``saving_bytes`` where bytes can be saved: compression (gzip level 6 on each body),
caching (the bytes a repeat visit downloads again), redirects (the redirect answers'
bytes), page weight (bytes over the budget).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable

from yarl import URL

from watchkeeper.audit._http import Chain, Response
from watchkeeper.audit.delivery._budgets import SOURCES, Budgets
from watchkeeper.audit.delivery._page import PASSIVE, Asset
from watchkeeper.audit.delivery._resources import (
    Loaded,
    compressible,
    encoding,
    gzip_saving,
    header_bytes,
    transfer_bytes,
)
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_size, plural

SOURCE = "delivery"
_STATIC = frozenset({"script", "style", "image", "font", "media"})
_WEIGHT_KINDS = ("document", "script", "style", "image", "font", "media", "other")


def _examples(urls: Iterable[str], limit: int = 3) -> str:
    shown = list(urls)
    text = ", ".join(shown[:limit])
    return text + (f" (+{len(shown) - limit} more)" if len(shown) > limit else "")


def compression(subject: str, loaded: list[Loaded], budgets: Budgets) -> Finding | None:
    """Text responses sent without a content coding that gzip would shrink (Lighthouse's
    thresholds: 1,400 bytes and 10 %)."""
    misses: list[tuple[str, int, int]] = []
    for item in loaded:
        response = item.response
        if response is None or not item.fetched or encoding(response) is not None:
            continue
        if not compressible(response) or len(response.body) < budgets.compress_min_bytes:
            continue
        saving = gzip_saving(response)
        if saving >= budgets.compress_min_saving * len(response.body):
            misses.append((item.url, len(response.body), saving))
    if not misses:
        return None
    saving = sum(s for _, _, s in misses)
    size = sum(b for _, b, _ in misses)
    misses.sort(key=lambda m: -m[2])
    return Finding(
        source=SOURCE,
        severity=Severity.warning,
        title=f"{plural(len(misses), 'text response')} sent uncompressed "
        f"({format_size(saving)} to save)",
        subject=subject,
        evidence={
            "responses": len(misses),
            "bytes": size,
            "saving_bytes": saving,
            "examples": _examples(u for u, _, _ in misses),
        },
        recommendation="nginx: gzip on; gzip_types text/css application/javascript "
        "application/json image/svg+xml text/plain application/xml; gzip_min_length 1024;  "
        "Caddy: encode zstd gzip",
        impact=float(saving),
        rule="compression-missing",
    )


def lifetime(response: Response) -> int | None:
    """Seconds a browser may reuse the response without asking (0: never), or None when
    the server said nothing (a heuristic lifetime at best)."""
    control = (response.joined("cache-control") or "").lower()
    directives = {}
    for part in control.split(","):
        name, _, value = part.strip().partition("=")
        directives[name.strip()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0
    if "max-age" in directives:
        try:
            return max(0, int(directives["max-age"]))
        except ValueError:
            return 0
    expires = response.header("expires")
    if expires is not None:
        try:
            until = email.utils.parsedate_to_datetime(expires).timestamp()
            date = response.header("date")
            now = email.utils.parsedate_to_datetime(date).timestamp() if date else time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0  # an invalid Expires means "already expired" (RFC 9111 §5.3)
        return max(0, int(until - now))
    return None


def caching(subject: str, loaded: list[Loaded], budgets: Budgets) -> Finding | None:
    """Static assets a browser keeps for less than ``cache_min_seconds``."""
    short: list[tuple[str, int | None, int, bool]] = []
    for item in loaded:
        response = item.response
        if response is None or item.kind not in _STATIC or response.status != 200:
            continue
        ttl = lifetime(response)
        if ttl is not None and ttl >= budgets.cache_min_seconds:
            continue
        validator = bool(response.header("etag") or response.header("last-modified"))
        short.append((item.url, ttl, transfer_bytes(response)[0], validator))
    if not short:
        return None
    saving = sum(size for _, _, size, _ in short)
    none = sum(1 for _, ttl, _, _ in short if ttl is None)
    without_validator = sum(1 for *_, validator in short if not validator)
    return Finding(
        source=SOURCE,
        severity=Severity.warning,
        title=f"{plural(len(short), 'static asset')} cached for less than "
        f"{budgets.cache_min_seconds // 86400} days ({format_size(saving)} downloaded again "
        "on a repeat visit)",
        subject=subject,
        evidence={
            "assets": len(short),
            "without_cache_control": none,
            "without_validator": without_validator,
            "shortest_seconds": min((t for _, t, _, _ in short if t is not None), default=None),
            "saving_bytes": saving,
            "examples": _examples(u for u, *_ in short),
        },
        recommendation="For file names that change with their content: nginx: location ~* "
        '\\.(?:js|css|png|jpe?g|gif|webp|avif|svg|woff2?)$ { add_header Cache-Control "public, '
        'max-age=31536000, immutable"; }  Caddy: header /static/* Cache-Control "public, '
        'max-age=31536000, immutable"  (for fixed names: max-age=2592000, and keep etag on)',
        impact=float(saving),
        rule="cache-lifetime-short",
    )


def redirects(subject: str, chain: Chain) -> Finding | None:
    """More than one redirect before the page, or a chain that never ends."""
    hops = chain.responses[:-1] if chain.stopped is None else chain.responses
    urls = " -> ".join(chain.urls)
    if chain.stopped is not None and "not one this audit was given" not in chain.stopped:
        return Finding(
            source=SOURCE,
            severity=Severity.critical,
            title=f"The page never arrives: {chain.stopped}",
            subject=subject,
            evidence={"hops": len(chain.responses), "chain": urls[:500]},
            recommendation="Make each redirect point at the final URL: nginx: return 301 "
            "https://<final host>$request_uri; (and check that the target does not redirect "
            "back, e.g. an app that wants http behind a TLS proxy: proxy_set_header "
            "X-Forwarded-Proto $scheme;)",
            impact=1e9,
            rule="redirect-loop",
        )
    if len(hops) <= 1:
        return None
    saving = sum(header_bytes(r) + len(r.body) for r in hops[:-1])
    waited = sum(r.elapsed for r in hops)
    return Finding(
        source=SOURCE,
        severity=Severity.warning,
        title=f"{len(hops)} redirects before the page ({waited * 1000:.0f} ms)",
        subject=subject,
        evidence={
            "hops": len(hops),
            "redirect_ms": round(waited * 1000, 1),
            "saving_bytes": saving,
            "chain": urls[:500],
        },
        recommendation=f"Redirect straight to {chain.final.url} from the first answer: nginx: "
        f"return 301 {URL(chain.final.url).origin()}$request_uri;  Caddy: redir "
        f"{URL(chain.final.url).origin()}{{uri}} permanent  (and link to the final URL)",
        impact=float(saving),
        rule="redirect-chain",
    )


def mixed_content(subject: str, page_url: str, assets: list[Asset]) -> list[Finding]:
    """http:// subresources of an https page: blocked ("blockable": scripts, styles,
    frames, fonts) or upgraded/shown with a warning ("upgradeable": images, media)."""
    if URL(page_url).scheme != "https":
        return []
    insecure = [a for a in assets if URL(a.url).scheme == "http"]
    findings = []
    for passive, rule in ((False, "mixed-content-active"), (True, "mixed-content-passive")):
        group = [a for a in insecure if (a.kind in PASSIVE) == passive]
        if not group:
            continue
        findings.append(
            Finding(
                source=SOURCE,
                severity=Severity.warning if passive else Severity.critical,
                title=f"{plural(len(group), 'http:// subresource')} on an https page "
                + ("(upgraded or shown with a warning)" if passive else "(blocked by browsers)"),
                subject=subject,
                evidence={
                    "resources": len(group),
                    "kinds": ", ".join(sorted({a.kind for a in group})),
                    "examples": _examples(a.url for a in group),
                },
                recommendation="Link them as https:// (or protocol-relative //); until then "
                'nginx: add_header Content-Security-Policy "upgrade-insecure-requests" always;  '
                'Caddy: header Content-Security-Policy "upgrade-insecure-requests"',
                impact=float(len(group)),
                rule=rule,
            )
        )
    return findings


def http2(subject: str, scheme: str, protocol: str | None, requests: int) -> Finding | None:
    """No HTTP/2: each connection carries one request at a time."""
    if protocol == "h2":
        return None
    plain = scheme != "https"
    return Finding(
        source=SOURCE,
        severity=Severity.warning,
        title="No HTTP/2"
        + (" (plain HTTP: browsers speak HTTP/2 only over TLS)" if plain else "")
        + f" for {plural(requests, 'same-host request')}",
        subject=subject,
        evidence={
            "alpn": "not offered (http)" if plain else protocol or "none",
            "requests": requests,
        },
        recommendation="nginx: listen 443 ssl http2; (nginx 1.25.1 and later: http2 on;)  "
        "Caddy: on by default over https",
        impact=float(requests),
        rule="http2-missing",
    )


def weight(
    subject: str,
    page: Response,
    loaded: list[Loaded],
    elsewhere: list[Asset],
    budgets: Budgets,
) -> list[Finding]:
    """Bytes by kind against the budgets (``_budgets``), each overshoot a finding."""
    sizes = dict.fromkeys(_WEIGHT_KINDS, 0)
    uncertain = 0
    page_bytes, how = transfer_bytes(page)
    sizes["document"] = page_bytes
    uncertain += how != "exact"
    for item in loaded:
        if item.response is None or not item.fetched:
            continue
        size, how = transfer_bytes(item.response)
        kind = item.kind if item.kind in sizes else "other"
        sizes[kind] += size
        uncertain += how != "exact"
    total = sum(sizes.values())
    base: Evidence = {f"{kind}_bytes": size for kind, size in sizes.items() if size}
    base["total_bytes"] = total
    base["estimated_sizes"] = uncertain
    base["not_fetched"] = len(elsewhere)
    findings = []
    for kind, budget in budgets.by_kind.items():
        if sizes.get(kind, 0) > budget:
            findings.append(_over(subject, kind, sizes[kind], budget, base, Severity.warning))
    if total > budgets.total:
        critical = total > budgets.total_critical
        findings.append(
            _over(
                subject,
                "total",
                total,
                budgets.total,
                base,
                Severity.critical if critical else Severity.warning,
            )
        )
    return findings


_ADVICE = {
    "script": "Ship less JavaScript: split bundles by route, drop unused code and "
    "libraries, load the rest with defer/async.",
    "style": "Remove unused CSS, split per page, minify.",
    "font": "Serve WOFF2 only, subset to the characters used, fewer weights (font-display: swap).",
    "image": "Serve WebP/AVIF at the displayed size (srcset/sizes), compress (quality ~75-85), "
    'load below-the-fold images with loading="lazy".',
    "total": "Start with the largest kind above; compression and caching findings cut "
    "repeat bytes too.",
}


def _over(
    subject: str, kind: str, size: int, budget: int, base: Evidence, severity: Severity
) -> Finding:
    label = {
        "script": "Scripts",
        "style": "Styles",
        "font": "Fonts",
        "image": "Images",
        "total": "The page",
    }[kind]
    return Finding(
        source=SOURCE,
        severity=severity,
        title=f"{label} weigh {format_size(size)}, over the {format_size(budget)} budget",
        subject=subject,
        evidence={
            **base,
            "kind": kind,
            "budget_bytes": budget,
            "saving_bytes": size - budget,
            "budget_source": SOURCES[kind],
        },
        recommendation=_ADVICE[kind],
        impact=float(size - budget),
        rule=f"weight-{kind}",
    )


def not_html(subject: str, page: Response) -> Finding:
    kind = (page.header("content-type") or "none").split(";")[0].strip()
    return Finding(
        source=SOURCE,
        severity=Severity.info,
        title=f"Not an HTML page ({kind}, HTTP {page.status}): no assets to check",
        subject=subject,
        evidence={"status": page.status, "content_type": kind, "bytes": len(page.body)},
        recommendation="Audit the URL of an HTML page (the site's home page) for its assets; "
        "compression, HTTP/2 and redirects were checked on this answer.",
        rule="not-html",
    )
