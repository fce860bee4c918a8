"""``wk evidence``: what a compliance review asks for, for one period, in one zip file.

``collect`` reads the store (uptime and SLOs, incidents with their timelines, the security
audits' grades, restore drills, backup monitors, who may get in, the activity log) into
files; ``bundle`` adds ``index.html`` (self-contained: no external asset), ``index.md`` and
``manifest.json`` (each file's SHA-256, size and what it holds, and the period) and writes
the zip atomically (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

from watchkeeper.evidence.bundle import Bundle, write_zip
from watchkeeper.evidence.collect import collect

__all__ = ["Bundle", "collect", "write_zip"]
