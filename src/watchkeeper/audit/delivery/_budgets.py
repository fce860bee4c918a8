"""Page-weight budgets (transfer bytes, headers included) and thresholds, with their sources.

- **total 1,600 KiB** (warning) and **5,000 KiB** (critical): Lighthouse's
  "Avoid enormous network payloads" (``total-byte-weight``) documentation asks to keep a
  page under 1,600 KiB, roughly what a 3G connection loads in ten seconds, and Lighthouse
  itself flags pages above 5,000 KiB
  (developer.chrome.com/docs/lighthouse/performance/total-byte-weight).
- **scripts 170 KB**: web.dev's "Performance budgets 101" and Alex Russell's
  "Can You Afford It?: Real-world Web Performance Budgets" (infrequently.org, 2017): under
  170 KB of compressed critical-path resources for a page interactive in 5 s on a median
  phone over 3G; their example product page budget is 170 KB of JavaScript.
- **styles 100 KB, fonts 100 KB, images 1,000 KB**: ours. web.dev's guidance
  ("Performance budgets 101", "Incorporate performance budgets into your build process")
  sets budgets per resource type (Lighthouse's ``budget.json`` ``resourceSizes``) but
  leaves the figures to the site; these split the 1,600 KiB total so that scripts, styles,
  fonts and images fit together with room for the document. Change them per site.

Text compression follows Lighthouse's ``uses-text-compression``: a text response of at least
1,400 bytes whose gzip saving is at least 10 %. The cache lifetime threshold (30 days) is
ours: Lighthouse's ``uses-long-cache-ttl`` flags any static asset whose chance of a cache hit
on a return visit is under 92.5 %, a lifetime of months; 30 days keeps weekly and daily
lifetimes on the list without nagging about a long one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KIB = 1024


@dataclass(frozen=True, slots=True)
class Budgets:
    total: int = 1600 * KIB
    total_critical: int = 5000 * KIB
    by_kind: dict[str, int] = field(
        default_factory=lambda: {
            "script": 170_000,
            "style": 100_000,
            "font": 100_000,
            "image": 1_000_000,
        }
    )
    compress_min_bytes: int = 1400
    compress_min_saving: float = 0.10
    cache_min_seconds: int = 30 * 86400


BUDGETS = Budgets()

SOURCES = {
    "total": "Lighthouse total-byte-weight (1,600 KiB target; flags above 5,000 KiB)",
    "script": "web.dev Performance budgets 101 / Alex Russell 2017 (170 KB)",
    "style": "Watchkeeper's split of the 1,600 KiB total",
    "font": "Watchkeeper's split of the 1,600 KiB total",
    "image": "Watchkeeper's split of the 1,600 KiB total",
}
